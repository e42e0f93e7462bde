//! `medimint release`: an issuer releases DICOM files to a patient.

use std::path::PathBuf;
use std::sync::Arc;

use medimint_ingest::retry::{process_upload_with_retries, RetryPolicy};
use medimint_ingest::{LocalUpload, Outcome, ReleaseRef};
use medimint_stack::platform::{PatientSpec, ReleaseSpec};

use super::common::{open, output, runtime, Global};

/// Release DICOM files (or directories of them) to a patient: check the headers against the
/// patient, encrypt, store and propose the token on chain. The files are read where they
/// are (no copy into the inbox first).
#[derive(clap::Args)]
pub struct Args {
    /// Files or directories.
    #[arg(required = true)]
    paths: Vec<PathBuf>,
    /// The patient's email (their account; made if new).
    #[arg(long)]
    patient_email: String,
    /// The patient's name as in the DICOM headers: FAMILY^GIVEN (e.g. DOE^JANE).
    #[arg(long)]
    patient_name: String,
    /// Birth date, YYYY-MM-DD.
    #[arg(long)]
    birth_date: String,
    /// Patient id / MRN as in the headers.
    #[arg(long)]
    patient_id: String,
    /// The issuer's address (default: the only registered issuer).
    #[arg(long)]
    issuer: Option<String>,
    /// Release id (default: a random one, printed); repeat a release with the same id to
    /// retry it. An id already used for another release (another patient or other files)
    /// is refused.
    #[arg(long)]
    release_id: Option<String>,
    /// The StudyInstanceUID every file must carry.
    #[arg(long)]
    study_uid: Option<String>,
    #[command(flatten)]
    global: Global,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let mut name = args.patient_name.splitn(2, '^');
    let family_name = name.next().unwrap_or_default().to_owned();
    let given_names = name.next().unwrap_or_default().replace('^', " ");
    if family_name.is_empty() || given_names.is_empty() {
        anyhow::bail!(
            "--patient-name {:?}: give FAMILY^GIVEN as in the DICOM header, e.g. DOE^JANE",
            args.patient_name
        );
    }
    runtime()?.block_on(async {
        let platform = open(&args.global, false).await?;
        let issuer = match args.issuer {
            Some(i) => i,
            None => {
                let issuers = platform.issuers().await?;
                match issuers.as_slice() {
                    [one] => one.address.clone(),
                    [] => anyhow::bail!("no issuer is registered; run `medimint issuer add` first"),
                    _ => anyhow::bail!("{} issuers are registered; say which with --issuer", issuers.len()),
                }
            }
        };
        let spec = ReleaseSpec {
            issuer,
            release_id: args.release_id.unwrap_or_else(default_release_id),
            patient: PatientSpec {
                email: args.patient_email,
                family_name,
                given_names,
                birth_date: args.birth_date,
                patient_id: args.patient_id,
            },
            study_instance_uid: args.study_uid,
            paths: args.paths,
        };
        let resume = |e: &dyn std::fmt::Display| {
            anyhow::anyhow!(
                "{e}\n  (to resume this release, repeat the command with --release-id {})",
                spec.release_id
            )
        };
        // The pipeline reads each file in place: once to check it, once to seal it. The
        // inbox is for exports a PACS drops there; a release from here never passes through
        // it, so the inbox watcher of `medimint up` never sees it, and this command alone
        // owns it and prints its outcome.
        let (upload, _) = local_upload(&spec).map_err(|e| resume(&e))?;
        let release = ReleaseRef {
            issuer: spec.issuer.clone(),
            release_id: spec.release_id.clone(),
        };
        let ingest = platform.ingest().map_err(|e| resume(&e))?;
        let outcome =
            process_upload_with_retries(&ingest, &release, Arc::new(upload), &RetryPolicy::default())
                .await
                .map_err(|e| resume(&e))?;
        match outcome {
            Outcome::Released {
                token_id,
                study_id,
                checksum_root,
            } => output(
                &args.global,
                &serde_json::json!({
                    "outcome": "released", "token_id": token_id, "study_id": study_id,
                    "checksum_root": checksum_root, "release_id": spec.release_id,
                }),
                |_| {
                    format!(
                        "released as token {token_id} (pending the patient's consent)\n  checksum root {checksum_root}\n  next: medimint consent approve --token {token_id} --as {}",
                        spec.patient.email
                    )
                },
            ),
            Outcome::Rejected { report, report_key } => {
                output(
                    &args.global,
                    &serde_json::json!({ "outcome": "rejected", "report_key": report_key, "report": report }),
                    |_| format!("refused; nothing was minted. Report at {report_key}:\n{}", report.to_text()),
                )?;
                std::process::exit(2)
            }
        }
    })
}

/// The files of `spec` read in place, with the manifest a PACS export would write for them
/// (the same the inbox gets: the retry of a release builds the same one); and its file count.
fn local_upload(spec: &ReleaseSpec) -> Result<(LocalUpload, usize), String> {
    let files = LocalUpload::collect(&spec.paths)?;
    let mut listed = Vec::with_capacity(files.len());
    for (name, path) in &files {
        let size = std::fs::metadata(path)
            .map_err(|e| format!("cannot read {}: {e}", path.display()))?
            .len();
        listed.push(serde_json::json!({"path": name, "size": size}));
    }
    let mut manifest = serde_json::json!({
        "version": 1,
        "patient": spec.patient,
        "files": listed,
    });
    if let Some(uid) = &spec.study_instance_uid {
        manifest["study_instance_uid"] = serde_json::Value::String(uid.clone());
    }
    let manifest = serde_json::to_vec(&manifest).map_err(|e| e.to_string())?;
    let n = files.len();
    Ok((LocalUpload::new(files, manifest), n))
}

/// A release id no other release will have: `cli-` and 128 random bits in hex. (The Unix
/// second it used to be gave two releases started in the same second one id, and the
/// second release the first one's outcome.)
fn default_release_id() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 16];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("cli-{hex}")
}

#[cfg(test)]
mod tests {
    use super::default_release_id;

    #[test]
    fn default_release_ids_are_random_and_valid_folder_names() {
        let a = default_release_id();
        let b = default_release_id();
        assert_ne!(a, b);
        assert_eq!(a.len(), 4 + 32);
        assert!(a.starts_with("cli-"));
        assert!(a[4..].chars().all(|c| c.is_ascii_hexdigit()));
        // The inbox accepts it as a release folder.
        let key = format!(
            "inbox/GCEZWKCA5VLDNRLN3RPRJMRZOX3Z6G5CHCGSNFHEYVXM3XOJMDS674JZ/{a}/release.json"
        );
        assert_eq!(
            medimint_ingest::parse_manifest_key(&key)
                .unwrap()
                .release_id,
            a
        );
    }
}

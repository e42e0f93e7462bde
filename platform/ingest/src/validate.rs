//! Checking the files' headers against the manifest, collecting every problem.

use std::collections::{BTreeMap, HashMap};

use crate::header::{FileDigest, HeaderError, HeaderFields};
use crate::manifest::{Manifest, Patient};
use crate::report::{Problem, ProblemCode};

/// What was read of one file present in the upload.
#[derive(Debug, Clone)]
pub struct ExaminedFile {
    /// Path relative to the release folder.
    pub path: String,
    /// Digest and size as read.
    pub digest: FileDigest,
    /// The header fields, or why the header could not be read.
    pub header: Result<HeaderFields, HeaderError>,
}

/// PN components for comparison: the alphabetic group of the first value, split at `^`,
/// each trimmed, inner whitespace collapsed, lower-cased, trailing empty components dropped.
pub fn pn_components(pn: &str) -> Vec<String> {
    let first_value = pn.split('\\').next().unwrap_or("");
    let alphabetic = first_value.split('=').next().unwrap_or("");
    let mut parts: Vec<String> = alphabetic.split('^').map(normalise_component).collect();
    while parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    parts
}

fn normalise_component(s: &str) -> String {
    s.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .to_lowercase()
}

/// The manifest's name as PN components, normalised like [`pn_components`].
pub fn manifest_components(p: &Patient) -> Vec<String> {
    let opt = |o: &Option<String>| o.as_deref().map(normalise_component).unwrap_or_default();
    let mut parts = vec![
        normalise_component(&p.family_name),
        normalise_component(&p.given_names),
        opt(&p.middle_names),
        opt(&p.prefix),
        opt(&p.suffix),
    ];
    while parts.last().is_some_and(String::is_empty) {
        parts.pop();
    }
    parts
}

/// A DICOM DA as `YYYYMMDD` (accepts the legacy `YYYY.MM.DD`).
fn normalise_da(s: &str) -> String {
    s.trim().replace(['.', '-'], "")
}

/// Checks the examined files against the manifest; returns every problem.
pub fn validate(manifest: &Manifest, files: &[ExaminedFile]) -> Vec<Problem> {
    let mut problems = Vec::new();
    let present: HashMap<&str, &ExaminedFile> =
        files.iter().map(|f| (f.path.as_str(), f)).collect();

    if files.is_empty() {
        problems.push(Problem::release(
            ProblemCode::EmptyRelease,
            "the release folder holds no files besides release.json",
        ));
    }
    for listed in &manifest.files {
        match present.get(listed.path.as_str()) {
            None => problems.push(Problem::file(
                ProblemCode::FileMissing,
                &listed.path,
                None,
                "listed in release.json but not uploaded",
            )),
            Some(f) if f.digest.size != listed.size => problems.push(Problem::file(
                ProblemCode::SizeMismatch,
                &listed.path,
                None,
                format!(
                    "is {} bytes; release.json lists {} bytes",
                    f.digest.size, listed.size
                ),
            )),
            Some(_) => {}
        }
    }
    let listed: std::collections::HashSet<&str> =
        manifest.files.iter().map(|f| f.path.as_str()).collect();
    for f in files {
        if !listed.contains(f.path.as_str()) {
            problems.push(Problem::file(
                ProblemCode::FileUnlisted,
                &f.path,
                None,
                "uploaded but not listed in release.json",
            ));
        }
    }

    let want_name = manifest_components(&manifest.patient);
    let want_dob = manifest.patient.birth_date_da();
    let want_id = manifest.patient.patient_id.trim();
    // Study UID -> files carrying it; SOP Instance UID -> first file carrying it.
    let mut studies: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    let mut sops: HashMap<&str, &str> = HashMap::new();
    for f in files {
        let h = match &f.header {
            Ok(h) => h,
            Err(e) => {
                problems.push(Problem::file(header_code(e), &f.path, None, e.to_string()));
                continue;
            }
        };
        let missing = |problems: &mut Vec<Problem>, attr: &str| {
            problems.push(Problem::file(
                ProblemCode::MissingAttribute,
                &f.path,
                Some(attr),
                format!("has no {attr}"),
            ))
        };
        match &h.patient_name {
            None => missing(&mut problems, "PatientName (0010,0010)"),
            Some(pn) if pn_components(pn) != want_name => problems.push(Problem::file(
                ProblemCode::PatientNameMismatch,
                &f.path,
                Some("PatientName (0010,0010)"),
                "the patient's name differs from release.json",
            )),
            Some(_) => {}
        }
        match &h.patient_birth_date {
            None => missing(&mut problems, "PatientBirthDate (0010,0030)"),
            Some(da) if normalise_da(da) != want_dob => problems.push(Problem::file(
                ProblemCode::BirthDateMismatch,
                &f.path,
                Some("PatientBirthDate (0010,0030)"),
                "the birth date differs from release.json",
            )),
            Some(_) => {}
        }
        match &h.patient_id {
            None => missing(&mut problems, "PatientID (0010,0020)"),
            Some(id) if id.trim() != want_id => problems.push(Problem::file(
                ProblemCode::PatientIdMismatch,
                &f.path,
                Some("PatientID (0010,0020)"),
                "the patient id differs from release.json",
            )),
            Some(_) => {}
        }
        match &h.study_instance_uid {
            None => missing(&mut problems, "StudyInstanceUID (0020,000D)"),
            Some(uid) => {
                studies.entry(uid.as_str()).or_default().push(&f.path);
                if let Some(expected) = &manifest.study_instance_uid {
                    if uid != expected {
                        problems.push(Problem::file(
                            ProblemCode::StudyUidMismatch,
                            &f.path,
                            Some("StudyInstanceUID (0020,000D)"),
                            format!("is study {uid}, not the study_instance_uid of release.json"),
                        ));
                    }
                }
            }
        }
        match &h.sop_instance_uid {
            None => missing(&mut problems, "SOPInstanceUID (0008,0018)"),
            Some(uid) => {
                if let Some(first) = sops.get(uid.as_str()) {
                    problems.push(Problem::file(
                        ProblemCode::DuplicateSopInstance,
                        &f.path,
                        Some("SOPInstanceUID (0008,0018)"),
                        format!("has the same SOP Instance UID as {first}"),
                    ));
                } else {
                    sops.insert(uid.as_str(), &f.path);
                }
            }
        }
    }
    if studies.len() > 1 {
        let detail: Vec<String> = studies
            .iter()
            .map(|(uid, fs)| format!("{uid} ({} file(s))", fs.len()))
            .collect();
        problems.push(Problem::release(
            ProblemCode::MultipleStudies,
            format!(
                "the files belong to {} studies: {}",
                studies.len(),
                detail.join(", ")
            ),
        ));
    }
    problems
}

fn header_code(e: &HeaderError) -> ProblemCode {
    match e {
        HeaderError::NotPart10 => ProblemCode::NotDicom,
        HeaderError::Truncated { .. } => ProblemCode::Truncated,
        HeaderError::LengthBeyondEnd { .. } => ProblemCode::LengthBeyondEnd,
        HeaderError::HeaderTooLarge { .. }
        | HeaderError::UnsupportedTransferSyntax(_)
        | HeaderError::Malformed(_) => ProblemCode::MalformedDicom,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pn_rules() {
        assert_eq!(pn_components("Doe^Jane"), ["doe", "jane"]);
        assert_eq!(pn_components(" DOE ^ jane ^^^"), ["doe", "jane"]);
        assert_eq!(
            pn_components("Doe^Jane  Q^^Dr"),
            ["doe", "jane q", "", "dr"]
        );
        assert_eq!(pn_components("Yamada^Tarou=山田^太郎"), ["yamada", "tarou"]);
        assert_eq!(pn_components("Doe^Jane\\Other^Name"), ["doe", "jane"]);
        assert_ne!(pn_components("Jane^Doe"), pn_components("Doe^Jane"));
    }
}

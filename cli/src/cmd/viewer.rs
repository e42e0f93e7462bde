//! `medimint download`, `verify` and `history`: reading a study and its audit trail.

use std::path::PathBuf;

use super::common::{open, output, progress, runtime, Global};

/// Download a token's files: the access is recorded on chain, each file is decrypted and the
/// checksums are verified.
#[derive(clap::Args)]
pub struct DownloadArgs {
    /// The token id.
    #[arg(long)]
    token: String,
    /// Directory to write the files into.
    #[arg(long)]
    out: PathBuf,
    /// Your email (owner or grantee).
    #[arg(long = "as")]
    as_email: String,
    #[command(flatten)]
    global: Global,
}

pub fn download(args: DownloadArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let platform = open(&args.global, false).await?;
        let report = platform
            .download(
                &args.as_email,
                &args.token,
                &args.out,
                progress(&args.global, "decrypting"),
            )
            .await?;
        output(&args.global, &report, |r| {
            format!(
                "{} files ({} bytes) written to {}; checksum root verified",
                r.files,
                r.bytes,
                r.out_dir.display()
            )
        })
    })
}

/// Check files against a token's checksum root (e.g. after restoring a backup).
#[derive(clap::Args)]
pub struct VerifyArgs {
    /// The token id.
    #[arg(long)]
    token: String,
    /// The files (or directories) to check.
    #[arg(required = true)]
    files: Vec<PathBuf>,
    /// An email holding a key to the token: then each file that differs, is missing or is
    /// extra is named (from the encrypted file list); otherwise only the root is compared.
    #[arg(long = "as")]
    as_email: Option<String>,
    #[command(flatten)]
    global: Global,
}

pub fn verify(args: VerifyArgs) -> anyhow::Result<()> {
    let intact = runtime()?.block_on(async {
        let platform = open(&args.global, false).await?;
        let v = platform
            .verify(&args.token, &args.files, args.as_email.as_deref())
            .await?;
        let intact = if args.as_email.is_some() {
            v.is_intact()
        } else {
            v.root_matches
        };
        output(&args.global, &v, |v| {
            let mut out = if intact {
                format!(
                    "intact: the files match token {}'s checksum root",
                    args.token
                )
            } else {
                format!(
                    "NOT intact: computed root {} differs from token {}'s",
                    v.computed_root, args.token
                )
            };
            for (label, names) in [
                ("differs", &v.differs),
                ("missing", &v.missing),
                ("extra", &v.extra),
            ] {
                for n in names {
                    out.push_str(&format!("\n  {label}: {n}"));
                }
            }
            out
        })?;
        anyhow::Ok(intact)
    })?;
    if !intact {
        std::process::exit(1);
    }
    Ok(())
}

/// The audit trail from chain events, for a token or an address.
#[derive(clap::Args)]
pub struct HistoryArgs {
    /// Only events of this token.
    #[arg(long)]
    token: Option<String>,
    /// Only events naming this address.
    #[arg(long)]
    address: Option<String>,
    #[command(flatten)]
    global: Global,
}

pub fn history(args: HistoryArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let platform = open(&args.global, false).await?;
        let trail = platform
            .history(args.token.as_deref(), args.address.as_deref())
            .await?;
        output(&args.global, &trail, |t| {
            if t.is_empty() {
                return "no events".into();
            }
            t.iter()
                .map(|e| {
                    let token = e
                        .token_id
                        .map(|i| format!(" token {i}"))
                        .unwrap_or_default();
                    format!(
                        "ledger {:>6}  {:16}{token}  {}",
                        e.ledger,
                        e.kind,
                        e.parties.join(" ")
                    )
                })
                .collect::<Vec<_>>()
                .join("\n")
        })
    })
}

//! `medimint consent`, `share`, `revoke`, `rekey`, `erase` and `access`: what a patient (or
//! a sharer) does.
//! The acting user is named by `--as EMAIL` (a custodial account of this platform).

use medimint_chain::clients::Role;
use medimint_stack::platform::{AccessReport, ErasureReport, RekeyReport, Target};

use super::common::{open, output, parse_until, runtime, Global};

/// Approve or reject a release pending your consent.
#[derive(clap::Args)]
pub struct ConsentArgs {
    #[command(subcommand)]
    decision: Decision,
    #[command(flatten)]
    global: Global,
}

#[derive(clap::Subcommand)]
enum Decision {
    /// The token becomes active; the issuer keeps view access.
    Approve(Who),
    /// The token is rejected; nothing can be shared from it.
    Reject(Who),
}

#[derive(clap::Args)]
struct Who {
    /// The token id.
    #[arg(long)]
    token: String,
    /// The patient's email.
    #[arg(long = "as")]
    as_email: String,
}

pub fn consent(args: ConsentArgs) -> anyhow::Result<()> {
    let (who, approve) = match args.decision {
        Decision::Approve(w) => (w, true),
        Decision::Reject(w) => (w, false),
    };
    runtime()?.block_on(async {
        let platform = open(&args.global, false).await?;
        platform.consent(&who.as_email, &who.token, approve).await?;
        let status = if approve { "approved" } else { "rejected" };
        output(
            &args.global,
            &serde_json::json!({"token": who.token, "consent": status}),
            |_| format!("token {} {status}", who.token),
        )
    })
}

/// Share a token with someone (by email or G-address), optionally until a date.
#[derive(clap::Args)]
pub struct ShareArgs {
    /// The token id.
    #[arg(long)]
    token: String,
    /// Email or G-address of the grantee.
    #[arg(long)]
    to: String,
    /// viewer (view and download) or sharer (view, download and share as viewer).
    #[arg(long, default_value = "viewer", value_parser = parse_role)]
    role: Role,
    /// Last day of access (YYYY-MM-DD, end of day UTC) or Unix seconds.
    #[arg(long)]
    until: Option<String>,
    /// Your email (the owner, or a sharer).
    #[arg(long = "as")]
    as_email: String,
    #[command(flatten)]
    global: Global,
}

fn parse_role(s: &str) -> Result<Role, String> {
    match s.to_ascii_lowercase().as_str() {
        "viewer" => Ok(Role::Viewer),
        "sharer" => Ok(Role::Sharer),
        _ => Err(format!("{s:?}: use viewer or sharer")),
    }
}

pub fn share(args: ShareArgs) -> anyhow::Result<()> {
    let until = args.until.as_deref().map(parse_until).transpose()?;
    runtime()?.block_on(async {
        let platform = open(&args.global, false).await?;
        let to = Target::parse(&args.to)?;
        let grantee = platform
            .share(&args.as_email, &args.token, &to, args.role, until)
            .await?;
        output(
            &args.global,
            &serde_json::json!({"token": args.token, "grantee": grantee, "role": format!("{:?}", args.role).to_lowercase(), "expires_at": until}),
            |_| {
                let until = until.map(|u| format!(" until {u} (Unix seconds)")).unwrap_or_default();
                format!("token {} shared with {grantee} as {:?}{until}", args.token, args.role)
            },
        )
    })
}

/// Revoke someone's access to a token (and remove their copy of the key).
#[derive(clap::Args)]
pub struct RevokeArgs {
    /// The token id.
    #[arg(long)]
    token: String,
    /// Email or G-address whose grant ends.
    #[arg(long)]
    from: String,
    /// Your email (the owner, or the sharer who granted it).
    #[arg(long = "as")]
    as_email: String,
    /// The stronger revoke (owner only): a new study key, every file re-encrypted, the key
    /// wrapped again for those who remain, the pointer moved on chain. Run the same command
    /// again to continue an interrupted one (docs/re-key.md).
    #[arg(long)]
    rekey: bool,
    #[command(flatten)]
    global: Global,
}

pub fn revoke(args: RevokeArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let platform = open(&args.global, false).await?;
        let from = Target::parse(&args.from)?;
        if args.rekey {
            let (grantee, report) = platform
                .revoke_and_rekey(&args.as_email, &args.token, &from)
                .await?;
            return output(
                &args.global,
                &serde_json::json!({"token": args.token, "revoked": grantee, "rekey": report}),
                |_| {
                    format!(
                        "token {}: access of {grantee} revoked\n{}",
                        args.token,
                        rekey_text(&report)
                    )
                },
            );
        }
        let grantee = platform.revoke(&args.as_email, &args.token, &from).await?;
        output(
            &args.global,
            &serde_json::json!({"token": args.token, "revoked": grantee}),
            |_| format!("token {}: access of {grantee} revoked", args.token),
        )
    })
}

/// Re-key a study you own without revoking anyone (or continue an interrupted re-key).
#[derive(clap::Args)]
pub struct RekeyArgs {
    /// The token id.
    #[arg(long)]
    token: String,
    /// Your email (the owner).
    #[arg(long = "as")]
    as_email: String,
    #[command(flatten)]
    global: Global,
}

pub fn rekey(args: RekeyArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let platform = open(&args.global, false).await?;
        let report = platform
            .rekey_study(&args.as_email, &args.token, &[])
            .await?;
        output(&args.global, &report, rekey_text)
    })
}

fn rekey_text(r: &RekeyReport) -> String {
    format!(
        "token {} re-keyed{}: {} files ({} re-encrypted now, {} bytes), metadata {}, key held by {}",
        r.token_id,
        if r.resumed { " (continued)" } else { "" },
        r.files,
        r.files_reencrypted,
        r.bytes_reencrypted,
        r.metadata_cid,
        r.key_holders.join(", ")
    )
}

/// Erase a study you own for good: every encrypted file and wrapped key deleted (every
/// version), the token erased on chain; its non-PHI history stays (docs/erasure.md).
#[derive(clap::Args)]
pub struct EraseArgs {
    /// The token id.
    #[arg(long)]
    token: String,
    /// Your email (the owner).
    #[arg(long = "as")]
    as_email: String,
    /// Confirm: the study cannot be restored afterwards.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    global: Global,
}

pub fn erase(args: EraseArgs) -> anyhow::Result<()> {
    if !args.yes {
        anyhow::bail!(
            "erasing token {} deletes its files and keys for good and cannot be undone; run \
             again with --yes to confirm",
            args.token
        );
    }
    runtime()?.block_on(async {
        let platform = open(&args.global, false).await?;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or_default();
        let report = platform
            .erase_study(&args.as_email, &args.token, now)
            .await?;
        output(&args.global, &report, erase_text)
    })
}

fn erase_text(r: &ErasureReport) -> String {
    if r.already_erased && r.files_deleted + r.keys_deleted + r.metadata_blocks_deleted == 0 {
        return format!("token {} was already erased", r.token_id);
    }
    format!(
        "token {} erased: {} files, {} metadata blocks and {} wrapped keys deleted (every \
         version), {} share links ended; its non-PHI history stays on chain",
        r.token_id, r.files_deleted, r.metadata_blocks_deleted, r.keys_deleted, r.links_ended
    )
}

/// Who may see a token: owner, issuer and every grant.
#[derive(clap::Args)]
pub struct AccessArgs {
    /// The token id.
    #[arg(long)]
    token: String,
    #[command(flatten)]
    global: Global,
}

pub fn access(args: AccessArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let platform = open(&args.global, false).await?;
        let report = platform.access(&args.token).await?;
        output(&args.global, &report, text)
    })
}

fn text(r: &AccessReport) -> String {
    let mut out = format!(
        "token {} ({}, {} files)\n  owner   {}\n  issuer  {}",
        r.token_id, r.status, r.file_count, r.owner, r.issuer
    );
    if r.grants.is_empty() {
        out.push_str("\n  no grants");
    }
    for g in &r.grants {
        let until = g
            .expires_at
            .map(|u| format!(" until {u}"))
            .unwrap_or_default();
        out.push_str(&format!(
            "\n  {:6}  {}{until} (granted by {})",
            g.role, g.grantee, g.granter
        ));
    }
    out
}

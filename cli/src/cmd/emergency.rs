//! `medimint emergency`: break-glass access for a trusted issuer (open), the review list for
//! the patient and the admin (list), and ending one early (end). See
//! docs/emergency-access.md. The patient is notified by the API when it opens one; this
//! command prints what to tell them.

use medimint_stack::platform::{parse_reason, EmergencyRecord, EMERGENCY_REASONS};

use super::common::{open, output, runtime, Global};

/// Emergency access (break-glass): open, list, end.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    action: Action,
    #[command(flatten)]
    global: Global,
}

#[derive(clap::Subcommand)]
enum Action {
    /// A trusted issuer opens a study without the patient's consent, for a bounded time.
    Open(OpenArgs),
    /// Every break-glass (admin), or those on a patient's studies (`--patient G…`).
    List(ListArgs),
    /// End an emergency access early: the patient (`--as EMAIL`) or the admin (no `--as`).
    End(EndArgs),
}

#[derive(clap::Args)]
struct OpenArgs {
    /// The token id.
    #[arg(long)]
    token: String,
    /// unconscious, life_threatening, patient_unreachable or other (recorded on chain).
    #[arg(long)]
    reason: String,
    /// Why, in your words (kept off chain; shown to the patient and the admin).
    #[arg(long)]
    note: String,
    /// How long, in hours (default 24; at most 72 and the admin's bound).
    #[arg(long)]
    hours: Option<u32>,
    /// The issuer's email (an issuer whose key the platform holds).
    #[arg(long = "as")]
    as_email: String,
}

#[derive(clap::Args)]
struct ListArgs {
    /// Only those on this patient's studies (their G-address).
    #[arg(long)]
    patient: Option<String>,
}

#[derive(clap::Args)]
struct EndArgs {
    /// The token id.
    #[arg(long)]
    token: String,
    /// The issuer's G-address.
    #[arg(long)]
    issuer: String,
    /// The patient's email; omit to end it with the suite's admin key.
    #[arg(long = "as")]
    as_email: Option<String>,
}

fn line(r: &EmergencyRecord) -> String {
    format!(
        "token {} by {} ({}) until {} [{}]: {}",
        r.token_id, r.issuer, r.reason, r.expires_at, r.state, r.note
    )
}

pub fn run(args: Args) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let platform = open(&args.global, false).await?;
        match args.action {
            Action::Open(a) => {
                if a.note.trim().is_empty() {
                    anyhow::bail!("--note: say why the study is needed now");
                }
                let reason = parse_reason(&a.reason).map_err(|_| {
                    anyhow::anyhow!(
                        "--reason {:?}: use one of {}",
                        a.reason,
                        EMERGENCY_REASONS.join(", ")
                    )
                })?;
                let record = platform
                    .emergency_access(&a.as_email, &a.token, reason, &a.note, a.hours)
                    .await?;
                output(&args.global, &record, |r| {
                    format!(
                        "emergency access to token {} until {} (Unix); the patient {} must be \
                         told now",
                        r.token_id, r.expires_at, r.patient
                    )
                })
            }
            Action::List(a) => {
                let list = platform.emergencies(a.patient.as_deref()).await?;
                output(&args.global, &list, |l| {
                    if l.is_empty() {
                        "no emergency access".to_owned()
                    } else {
                        l.iter().map(line).collect::<Vec<_>>().join("\n")
                    }
                })
            }
            Action::End(a) => {
                platform
                    .revoke_emergency(a.as_email.as_deref(), &a.token, &a.issuer)
                    .await?;
                output(
                    &args.global,
                    &serde_json::json!({"token": a.token, "issuer": a.issuer, "ended": true}),
                    |_| {
                        format!(
                            "emergency access of {} to token {} ended",
                            a.issuer, a.token
                        )
                    },
                )
            }
        }
    })
}

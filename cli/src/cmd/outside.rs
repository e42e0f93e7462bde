//! `medimint link` and `medimint request`: people outside MediMint (issue 17).
//!
//! - `link create|list|revoke` (a patient, `--as EMAIL`) and `link open` (anyone with the
//!   link; the passcode is read from standard input, never from the command line, so it
//!   stays out of shell history and process lists): opening downloads and verifies the
//!   study like `medimint download`, and is recorded on chain.
//! - `request create|list|show` (an issuer, `--as EMAIL`) and `request upload` (the
//!   institution: the link, the access code on standard input, and the files).

use std::io::BufRead;
use std::path::PathBuf;

use medimint_stack::platform::{PatientSpec, RecordsRequestSpec, ShareLinkSpec};

use super::common::{open, output, parse_until, progress, runtime, Global};

/// Share links: a study shown to someone without an account, with a passcode.
#[derive(clap::Args)]
pub struct LinkArgs {
    #[command(subcommand)]
    command: LinkCommand,
    #[command(flatten)]
    global: Global,
}

#[derive(clap::Subcommand)]
enum LinkCommand {
    /// Make a link to a study you own (prints the link and its passcode once).
    Create {
        /// The token id.
        #[arg(long)]
        token: String,
        /// Last day (YYYY-MM-DD, end of day UTC) or Unix seconds; at most 90 days ahead.
        #[arg(long)]
        until: String,
        /// How many openings it allows (1 to 100).
        #[arg(long, default_value_t = 1)]
        uses: u32,
        /// Read the passcode from standard input instead of generating one.
        #[arg(long)]
        passcode_stdin: bool,
        /// The API's public URL (the link points at it).
        #[arg(
            long,
            env = "MEDIMINT_API_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        api_url: String,
        /// Your email (the owner).
        #[arg(long = "as")]
        as_email: String,
    },
    /// A study's links with their openings.
    List {
        /// The token id.
        #[arg(long)]
        token: String,
        /// Your email (the owner).
        #[arg(long = "as")]
        as_email: String,
    },
    /// Revoke a link (its grant on chain).
    Revoke {
        /// The token id.
        #[arg(long)]
        token: String,
        /// The link's id.
        #[arg(long)]
        id: String,
        /// Your email (the owner).
        #[arg(long = "as")]
        as_email: String,
    },
    /// Open a link (passcode on standard input) and download the study into `--out`.
    Open {
        /// The link (`shlink:/…` or the viewer URL).
        link: String,
        /// Where to write the files.
        #[arg(long)]
        out: PathBuf,
    },
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

fn read_secret(what: &str) -> anyhow::Result<String> {
    let mut line = String::new();
    std::io::stdin().lock().read_line(&mut line)?;
    let line = line.trim_end_matches(['\n', '\r']).to_string();
    if line.is_empty() {
        anyhow::bail!(
            "no {what} on standard input; pipe it in (e.g. `read -s P; echo \"$P\" | medimint …`)"
        );
    }
    Ok(line)
}

fn api_problem(e: medimint_api::error::ApiError) -> anyhow::Error {
    anyhow::anyhow!("{e}")
}

pub fn link(args: LinkArgs) -> anyhow::Result<()> {
    let global = args.global;
    runtime()?.block_on(async {
        let platform = open(&global, false).await?;
        match args.command {
            LinkCommand::Create { token, until, uses, passcode_stdin, api_url, as_email } => {
                let passcode = if passcode_stdin { Some(read_secret("passcode")?) } else { None };
                let made = platform
                    .create_share_link(
                        &as_email,
                        &token,
                        &ShareLinkSpec { expires_at: parse_until(&until)?, max_uses: uses, passcode },
                        now(),
                    )
                    .await?;
                let shlink = medimint_api::routes::links::shlink(&api_url, &made.link.id, &made.secret, made.link.expires_at)
                    .map_err(api_problem)?;
                let viewer_url = format!("{}/#{shlink}", api_url.trim_end_matches('/'));
                output(
                    &global,
                    &serde_json::json!({"link": made.link, "shlink": shlink, "viewer_url": viewer_url, "passcode": made.passcode}),
                    |_| format!(
                        "link {} on token {token} (until {}, {} opening(s))\n  {viewer_url}\npasscode (give it separately): {}",
                        made.link.id, made.link.expires_at, made.link.max_uses, made.passcode
                    ),
                )
            }
            LinkCommand::List { token, as_email } => {
                let links = platform.share_links(&as_email, &token, now()).await?;
                output(&global, &links, |links| {
                    if links.is_empty() {
                        return format!("token {token} has no share links");
                    }
                    links
                        .iter()
                        .map(|l| format!("{}  {:<8} {}/{} openings, until {}", l.id, l.status, l.uses, l.max_uses, l.expires_at))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            }
            LinkCommand::Revoke { token, id, as_email } => {
                let view = platform.revoke_share_link(&as_email, &token, &id, now()).await?;
                output(&global, &view, |v| format!("link {} on token {token} revoked (grant of {} removed)", v.id, v.grantee))
            }
            LinkCommand::Open { link, out } => {
                let passcode = read_secret("passcode")?;
                let (id, secret) = medimint_api::routes::links::parse_link(&link).map_err(api_problem)?;
                let opened = platform.open_share_link(&id, &secret, &passcode, now()).await?;
                let email = format!("shlink-{id}@{}", medimint_stack::platform::LINK_EMAIL_DOMAIN);
                let report = platform
                    .download(&email, &opened.token_id.to_string(), &out, progress(&global, "download"))
                    .await?;
                output(&global, &report, |r| {
                    format!("token {}: {} files, {} bytes written to {} and verified", opened.token_id, r.files, r.bytes, r.out_dir.display())
                })
            }
        }
    })
}

/// Records requests: an issuer asks an institution without an account for records.
#[derive(clap::Args)]
pub struct RequestArgs {
    #[command(subcommand)]
    command: RequestCommand,
    #[command(flatten)]
    global: Global,
}

#[derive(clap::Subcommand)]
enum RequestCommand {
    /// Ask for a patient's records (prints the upload link and the access code once).
    Create {
        /// The patient's email.
        #[arg(long)]
        patient_email: String,
        /// Family name, as in the DICOM headers.
        #[arg(long)]
        family_name: String,
        /// Given names.
        #[arg(long)]
        given_names: String,
        /// Birth date, YYYY-MM-DD.
        #[arg(long)]
        birth_date: String,
        /// Patient id / MRN.
        #[arg(long)]
        patient_id: String,
        /// What is requested, in words.
        #[arg(long)]
        requested: String,
        /// The institution asked.
        #[arg(long)]
        institution: String,
        /// Deadline: YYYY-MM-DD (end of day UTC) or Unix seconds.
        #[arg(long)]
        deadline: String,
        /// The API's public URL (the upload page is served there).
        #[arg(
            long,
            env = "MEDIMINT_API_URL",
            default_value = "http://127.0.0.1:8080"
        )]
        api_url: String,
        /// Your email (an issuer's account).
        #[arg(long = "as")]
        as_email: String,
    },
    /// Your requests, newest first.
    List {
        /// Your email (an issuer's account).
        #[arg(long = "as")]
        as_email: String,
    },
    /// One request and, once uploaded, its release (released as a token, or refused).
    Show {
        /// The request id (`rr-…`).
        #[arg(long)]
        id: String,
        /// Your email (an issuer's account).
        #[arg(long = "as")]
        as_email: String,
    },
}

pub fn request(args: RequestArgs) -> anyhow::Result<()> {
    let global = args.global;
    runtime()?.block_on(async {
        let platform = open(&global, false).await?;
        match args.command {
            RequestCommand::Create {
                patient_email, family_name, given_names, birth_date, patient_id, requested,
                institution, deadline, api_url, as_email,
            } => {
                let issuer = platform.keypair_of(&as_email).await?.address();
                let made = platform
                    .create_records_request(
                        &issuer,
                        &RecordsRequestSpec {
                            patient: PatientSpec { email: patient_email, family_name, given_names, birth_date, patient_id },
                            requested,
                            institution,
                            deadline: parse_until(&deadline)?,
                        },
                        now(),
                    )
                    .await?;
                let url = format!("{}/#/request/{}/{}", api_url.trim_end_matches('/'), made.request.id, made.secret);
                output(
                    &global,
                    &serde_json::json!({"request": made.request, "upload_url": url, "code": made.code}),
                    |_| format!(
                        "records request {} (until {})\n  upload link: {url}\naccess code (send it separately): {}",
                        made.request.id, made.request.deadline, made.code
                    ),
                )
            }
            RequestCommand::List { as_email } => {
                let issuer = platform.keypair_of(&as_email).await?.address();
                let items = platform.records_requests(&issuer, now(), 100).await?;
                output(&global, &items, |items| {
                    if items.is_empty() {
                        return "no records requests".into();
                    }
                    items
                        .iter()
                        .map(|r| format!("{}  {:<21} until {}", r.id, r.status, r.deadline))
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            }
            RequestCommand::Show { id, as_email } => {
                let issuer = platform.keypair_of(&as_email).await?.address();
                let (request, release) = platform.records_request(&issuer, &id, now()).await?;
                output(
                    &global,
                    &serde_json::json!({"request": request, "release": release}),
                    |_| {
                        let release = release.as_ref().map_or_else(
                            || "no upload yet".to_string(),
                            |r| match (&r.token_id, &r.refusal) {
                                (Some(t), _) => format!("released as token {t} ({})", r.status),
                                (_, Some(f)) => format!("refused:\n{}", f.text),
                                _ => r.status.clone(),
                            },
                        );
                        format!("{id}: {} ({release})", request.status)
                    },
                )
            }
        }
    })
}

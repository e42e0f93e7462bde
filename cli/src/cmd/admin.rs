//! `medimint deploy` and `medimint issuer …`: what the platform admin does.

use medimint_chain::clients::{IssuerKind, IssuerProfile};
use medimint_stack::platform::IssuerSpec;
use serde::Serialize;

use super::common::{open, output, runtime, Global};

/// Deploy the contract suite (issuer registry, study token, registry) to the configured
/// network and write the deployment file the other commands read.
#[derive(clap::Args)]
pub struct DeployArgs {
    #[command(flatten)]
    global: Global,
}

pub fn deploy(args: DeployArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let platform = open(&args.global, true).await?;
        let d = platform.deploy().await?;
        output(&args.global, &d, |d| {
            format!(
                "deployed on {:?}\n  issuer-registry {}\n  study-token     {}\n  registry        {}\n  admin           {}\n  written to      {}",
                d.network_passphrase,
                d.issuer_registry.id,
                d.study_token.id,
                d.registry.id,
                d.admin,
                platform.config().deployment_path().display()
            )
        })
    })
}

/// Manage trusted issuers (admin).
#[derive(clap::Args)]
pub struct IssuerArgs {
    #[command(subcommand)]
    action: IssuerAction,
    #[command(flatten)]
    global: Global,
}

#[derive(clap::Subcommand)]
enum IssuerAction {
    /// Whitelist an issuer (a custodial key unless --address is given).
    Add {
        /// Contact email of the issuer (its account).
        #[arg(long)]
        email: String,
        /// Display name.
        #[arg(long)]
        name: String,
        /// hospital, imaging-centre, physician or laboratory.
        #[arg(long, value_parser = parse_kind)]
        kind: IssuerKind,
        /// Jurisdiction code, e.g. US-CA.
        #[arg(long)]
        jurisdiction: String,
        /// The off-chain verification evidence (e.g. the NPI record); only a keyed hash
        /// goes on chain.
        #[arg(long)]
        evidence: String,
        /// The issuer's own G-address, if it holds its key.
        #[arg(long)]
        address: Option<String>,
    },
    /// Suspend an issuer: it can release nothing until reinstated.
    Suspend { address: String },
    /// Reinstate a suspended issuer.
    Reinstate { address: String },
    /// Remove an issuer (tokens it released stay valid).
    Remove { address: String },
    /// List registered issuers.
    List,
}

fn parse_kind(s: &str) -> Result<IssuerKind, String> {
    match s.to_ascii_lowercase().replace('_', "-").as_str() {
        "hospital" => Ok(IssuerKind::Hospital),
        "imaging-centre" | "imaging-center" => Ok(IssuerKind::ImagingCentre),
        "physician" => Ok(IssuerKind::Physician),
        "laboratory" | "lab" => Ok(IssuerKind::Laboratory),
        _ => Err(format!(
            "{s:?}: use hospital, imaging-centre, physician or laboratory"
        )),
    }
}

#[derive(Serialize)]
struct IssuerRow {
    address: String,
    status: String,
    name: String,
    kind: String,
    jurisdiction: String,
    added_ledger: u32,
}

pub fn issuer(args: IssuerArgs) -> anyhow::Result<()> {
    runtime()?.block_on(async {
        let platform = open(&args.global, false).await?;
        match args.action {
            IssuerAction::Add {
                email,
                name,
                kind,
                jurisdiction,
                evidence,
                address,
            } => {
                let spec = IssuerSpec {
                    email,
                    address,
                    profile: IssuerProfile {
                        name,
                        kind,
                        jurisdiction,
                        evidence: platform.evidence_commitment(&evidence)?,
                    },
                };
                let address = platform.add_issuer(&spec).await?;
                output(
                    &args.global,
                    &serde_json::json!({ "issuer": address }),
                    |_| format!("issuer {address} is trusted"),
                )
            }
            IssuerAction::Suspend { address } => {
                set(&platform, &args.global, &address, "suspend").await
            }
            IssuerAction::Reinstate { address } => {
                set(&platform, &args.global, &address, "reinstate").await
            }
            IssuerAction::Remove { address } => {
                set(&platform, &args.global, &address, "remove").await
            }
            IssuerAction::List => {
                let rows: Vec<IssuerRow> = platform
                    .issuers()
                    .await?
                    .into_iter()
                    .map(|r| IssuerRow {
                        address: r.address,
                        status: r.status,
                        name: r.name,
                        kind: format!("{:?}", r.kind),
                        jurisdiction: r.jurisdiction,
                        added_ledger: r.added_ledger,
                    })
                    .collect();
                output(&args.global, &rows, |rows| {
                    if rows.is_empty() {
                        return "no issuers; add one with `medimint issuer add`".into();
                    }
                    rows.iter()
                        .map(|r| {
                            format!(
                                "{}  {:9}  {:13}  {:6}  {}",
                                r.address, r.status, r.kind, r.jurisdiction, r.name
                            )
                        })
                        .collect::<Vec<_>>()
                        .join("\n")
                })
            }
        }
    })
}

async fn set(
    platform: &medimint_stack::Platform,
    global: &Global,
    address: &str,
    action: &str,
) -> anyhow::Result<()> {
    platform.set_issuer(address, action).await?;
    output(
        global,
        &serde_json::json!({ "issuer": address, "action": action }),
        |_| format!("issuer {address}: {action} done"),
    )
}

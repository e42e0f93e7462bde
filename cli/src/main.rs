//! `medimint`: one binary for admins, issuers, patients and developers.
//!
//! Each subcommand lives in its own module under `cmd/` with an `Args` type and a `run`
//! function, so the dispatch here stays a table.

use clap::{Parser, Subcommand};

mod cmd;
mod web;

#[derive(Parser)]
#[command(
    name = "medimint",
    version,
    about = "MediMint: patient-owned medical imaging on Stellar"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// HD wallets: mnemonics and SEP-0005 account keys.
    Keys(cmd::keys::Args),
    /// Encrypt a file to Stellar addresses and open it with a secret key.
    Crypt(cmd::crypt::Args),
    /// Run a local Stellar network that speaks the Stellar RPC API.
    Devnet(cmd::devnet::Args),
    /// The whole mission on one machine: release, consent, share, download, revoke, audit.
    Demo(cmd::demo::Args),
    /// The local stack: devnet, deployed suite, storage, database, watched inbox.
    Up(cmd::up::Args),
    /// Deploy the contract suite and write the deployment file.
    Deploy(cmd::admin::DeployArgs),
    /// Trusted issuers: add, suspend, reinstate, remove, list (admin).
    Issuer(cmd::admin::IssuerArgs),
    /// Release DICOM files to a patient (token pending their consent).
    Release(cmd::release::Args),
    /// Approve or reject a pending release (patient).
    Consent(cmd::sharing::ConsentArgs),
    /// Share a token with a viewer or sharer, optionally until a date.
    Share(cmd::sharing::ShareArgs),
    /// Revoke a grant.
    Revoke(cmd::sharing::RevokeArgs),
    /// Re-key a study you own (or continue an interrupted re-key).
    Rekey(cmd::sharing::RekeyArgs),
    /// Erase a study you own for good (GDPR Art. 17); needs --yes.
    Erase(cmd::sharing::EraseArgs),
    /// Who may see a token.
    Access(cmd::sharing::AccessArgs),
    /// Share links: a study shown to someone without an account, with a passcode.
    Link(cmd::outside::LinkArgs),
    /// Records requests: ask an institution without an account for a patient's records.
    Request(cmd::outside::RequestArgs),
    /// Download, decrypt and verify a token's files.
    Download(cmd::viewer::DownloadArgs),
    /// Check files against a token's checksum root.
    Verify(cmd::viewer::VerifyArgs),
    /// The audit trail of a token or an address, from chain events.
    History(cmd::viewer::HistoryArgs),
    /// Emergency access (break-glass): open, review, end.
    Emergency(cmd::emergency::Args),
    /// Health: RPC, sponsor balance, index lag, queue and dead letters (exit 1 if unhealthy).
    Status(cmd::status::Args),
}

fn main() -> std::process::ExitCode {
    medimint_sdk::allocator::tune();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keys(args) => cmd::keys::run(args),
        Command::Crypt(args) => cmd::crypt::run(args),
        Command::Devnet(args) => cmd::devnet::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Up(args) => cmd::up::run(args),
        Command::Deploy(args) => cmd::admin::deploy(args),
        Command::Issuer(args) => cmd::admin::issuer(args),
        Command::Release(args) => cmd::release::run(args),
        Command::Consent(args) => cmd::sharing::consent(args),
        Command::Share(args) => cmd::sharing::share(args),
        Command::Revoke(args) => cmd::sharing::revoke(args),
        Command::Rekey(args) => cmd::sharing::rekey(args),
        Command::Erase(args) => cmd::sharing::erase(args),
        Command::Access(args) => cmd::sharing::access(args),
        Command::Link(args) => cmd::outside::link(args),
        Command::Request(args) => cmd::outside::request(args),
        Command::Download(args) => cmd::viewer::download(args),
        Command::Verify(args) => cmd::viewer::verify(args),
        Command::History(args) => cmd::viewer::history(args),
        Command::Emergency(args) => cmd::emergency::run(args),
        Command::Status(args) => return cmd::status::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

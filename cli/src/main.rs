//! `medimint`: one binary for admins, issuers, patients and developers.
//!
//! Each subcommand lives in its own module under `cmd/` with an `Args` type and a `run`
//! function, so the dispatch here stays a table.

use clap::{Parser, Subcommand};

mod cmd;

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
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Keys(args) => cmd::keys::run(args),
        Command::Crypt(args) => cmd::crypt::run(args),
        Command::Devnet(args) => cmd::devnet::run(args),
        Command::Demo(args) => cmd::demo::run(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

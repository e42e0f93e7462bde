//! `medimint devnet`: runs a local Stellar network speaking the Stellar RPC API.

use std::path::PathBuf;

/// Run a local Stellar network (Stellar RPC JSON-RPC API at `/`, friendbot at `/friendbot`).
#[derive(clap::Args)]
pub struct Args {
    /// TCP port on 127.0.0.1 (0 picks a free one).
    #[arg(long, default_value_t = 8000)]
    port: u16,
    /// Directory keeping the ledger across restarts.
    #[arg(long, default_value = ".medimint/devnet")]
    data_dir: PathBuf,
    /// Milliseconds between ledger closes; 0 closes a ledger on each submission.
    #[arg(long, default_value_t = 1000)]
    ledger_ms: u64,
    /// Network passphrase.
    #[arg(long, default_value = medimint_devnet::STANDALONE_PASSPHRASE)]
    passphrase: String,
}

/// Starts the devnet and serves until the process is stopped (the state is saved after
/// every ledger that applied transactions).
pub fn run(args: Args) -> anyhow::Result<()> {
    let net = medimint_devnet::Devnet::start(medimint_devnet::Config {
        port: args.port,
        data_dir: Some(args.data_dir.clone()),
        ledger_ms: args.ledger_ms,
        passphrase: args.passphrase.clone(),
        ..Default::default()
    })?;
    println!("devnet listening");
    println!("  rpc url:      {}", net.rpc_url());
    println!("  friendbot:    {}?addr=G...", net.friendbot_url());
    println!("  passphrase:   {}", args.passphrase);
    println!(
        "  root account: {} (seed = sha256(passphrase), see docs/devnet.md)",
        net.root_keypair().address()
    );
    println!("  data dir:     {}", args.data_dir.display());
    println!("  ledger:       {}", net.latest_ledger());
    loop {
        std::thread::park();
    }
}

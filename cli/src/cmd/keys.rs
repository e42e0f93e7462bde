//! `medimint keys`: BIP-39 mnemonics and SEP-0005 account keys.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Subcommand;
use medimint_sdk::keys::{derive_keypair, Mnemonic};
use zeroize::Zeroizing;

/// Arguments of `medimint keys`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: KeysCommand,
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print the SEP-0005 account `m/44'/148'/N'` of a mnemonic as `<G-address> <S-secret>`.
    Derive {
        /// File holding the BIP-39 mnemonic.
        #[arg(long)]
        mnemonic_file: PathBuf,
        /// BIP-39 passphrase (or set MEDIMINT_PASSPHRASE, which other users cannot see in ps).
        #[arg(long, env = "MEDIMINT_PASSPHRASE", hide_env_values = true)]
        passphrase: Option<String>,
        /// Account index N (below 2^31).
        #[arg(long)]
        index: u32,
    },
    /// Write a fresh 24-word mnemonic to a new file, readable by its owner only (mode 0600).
    New {
        /// The file to create; an existing file is never overwritten.
        #[arg(long)]
        out: PathBuf,
    },
}

/// Runs `medimint keys`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        KeysCommand::Derive {
            mnemonic_file,
            passphrase,
            index,
        } => {
            let passphrase = Zeroizing::new(passphrase.unwrap_or_default());
            let phrase = Zeroizing::new(
                std::fs::read_to_string(&mnemonic_file)
                    .with_context(|| format!("cannot read {}", mnemonic_file.display()))?,
            );
            let mnemonic = Mnemonic::parse(&phrase).with_context(|| {
                format!("{} does not hold a valid mnemonic", mnemonic_file.display())
            })?;
            let keypair = derive_keypair(&mnemonic.to_seed(&passphrase), index)?;
            let line = Zeroizing::new(format!(
                "{} {}\n",
                keypair.address(),
                keypair.secret().as_str()
            ));
            std::io::stdout().write_all(line.as_bytes())?;
            Ok(())
        }
        KeysCommand::New { out } => {
            let mnemonic = Mnemonic::generate();
            let mut file = create_private(&out)?;
            let text = Zeroizing::new(format!("{}\n", mnemonic.phrase().as_str()));
            file.write_all(text.as_bytes())
                .and_then(|()| file.sync_all())
                .with_context(|| format!("cannot write {}", out.display()))?;
            eprintln!(
                "wrote a new 24-word mnemonic to {} (mode 0600)",
                out.display()
            );
            Ok(())
        }
    }
}

/// Creates `path` for writing, failing if it exists, with mode 0600 from the start (never
/// briefly world-readable).
fn create_private(path: &std::path::Path) -> anyhow::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(file) => Ok(file),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            bail!(
                "{} already exists; refusing to overwrite it",
                path.display()
            )
        }
        Err(e) => Err(e).with_context(|| format!("cannot create {}", path.display())),
    }
}

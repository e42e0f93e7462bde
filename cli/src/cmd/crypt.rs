//! `medimint crypt`: encrypt a file to Stellar addresses, open it with a secret key.
//!
//! Output goes to a temporary file beside `<out>` that is renamed over it only on success, so
//! a damaged input or the wrong key never leaves partial plaintext at `<out>`.

use std::fs::File;
use std::io::{BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::Context;
use clap::Subcommand;
use medimint_sdk::crypto::{open_envelope, seal_envelope};
use medimint_sdk::keys::Keypair;
use zeroize::Zeroizing;

/// Arguments of `medimint crypt`.
#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    command: CryptCommand,
}

#[derive(Subcommand)]
enum CryptCommand {
    /// Encrypt <IN> to one or more Stellar addresses, writing <OUT>.
    Seal {
        /// Recipient G-address (repeat for several).
        #[arg(long = "to", required = true, value_name = "G-ADDRESS")]
        to: Vec<String>,
        /// Plaintext file.
        input: PathBuf,
        /// Encrypted file to write.
        output: PathBuf,
    },
    /// Decrypt <IN> with the S-secret in --secret-file, writing <OUT>.
    Open {
        /// File holding the recipient's S-secret.
        #[arg(long)]
        secret_file: PathBuf,
        /// Encrypted file.
        input: PathBuf,
        /// Plaintext file to write.
        output: PathBuf,
    },
}

/// Runs `medimint crypt`.
pub fn run(args: Args) -> anyhow::Result<()> {
    match args.command {
        CryptCommand::Seal { to, input, output } => {
            let reader = open_input(&input)?;
            write_atomically(&output, |w| {
                seal_envelope(&to, reader, w)
                    .with_context(|| format!("cannot encrypt {}", input.display()))
            })
        }
        CryptCommand::Open {
            secret_file,
            input,
            output,
        } => {
            let secret = Zeroizing::new(
                std::fs::read_to_string(&secret_file)
                    .with_context(|| format!("cannot read {}", secret_file.display()))?,
            );
            let keypair = Keypair::from_secret(&secret).with_context(|| {
                format!("{} does not hold an S... secret", secret_file.display())
            })?;
            let reader = open_input(&input)?;
            write_atomically(&output, |w| {
                open_envelope(&keypair, reader, w)
                    .with_context(|| format!("cannot decrypt {}", input.display()))
            })
        }
    }
}

fn open_input(path: &Path) -> anyhow::Result<BufReader<File>> {
    let file = File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    Ok(BufReader::with_capacity(256 * 1024, file))
}

/// Runs `produce` into a temporary file in `target`'s directory and renames it to `target`
/// only if `produce` succeeds; otherwise the temporary file is removed.
fn write_atomically(
    target: &Path,
    produce: impl FnOnce(&mut BufWriter<&mut File>) -> anyhow::Result<u64>,
) -> anyhow::Result<()> {
    let dir = match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let mut tmp = tempfile::Builder::new()
        .prefix(".medimint-partial-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temporary file in {}", dir.display()))?;
    {
        let mut writer = BufWriter::with_capacity(256 * 1024, tmp.as_file_mut());
        produce(&mut writer)?;
        writer
            .flush()
            .with_context(|| format!("cannot write {}", target.display()))?;
    }
    tmp.as_file()
        .sync_all()
        .with_context(|| format!("cannot write {}", target.display()))?;
    tmp.persist(target)
        .with_context(|| format!("cannot move the result to {}", target.display()))?;
    Ok(())
}

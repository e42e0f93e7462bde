//! Putting the contracts' WASM on a devnet through a relayer, as the devnet tests need it.

use std::path::PathBuf;

use medimint_chain::relayer::Relayer;
use medimint_chain::tx;
use medimint_chain::Signer;
use stellar_xdr::ScVal;

/// The optimized WASM of `package` from `$MEDIMINT_WASM_DIR` or `target/contracts`.
pub fn wasm(package: &str) -> Vec<u8> {
    let dir = std::env::var("MEDIMINT_WASM_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/contracts")
        });
    let path = dir.join(format!("{package}.wasm"));
    std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e}; build it with scripts/build-contracts {package}",
            path.display()
        )
    })
}

/// Uploads `package`'s WASM and creates a contract from it with `args` for its constructor,
/// deployed by `admin` with a salt from `label`; returns the WASM hash.
pub async fn deploy(
    relayer: &Relayer,
    admin: &dyn Signer,
    package: &str,
    label: &str,
    args: Vec<ScVal>,
) -> [u8; 32] {
    let code = wasm(package);
    relayer
        .submit(
            &format!("upload-{package}"),
            &admin.address(),
            tx::upload_wasm(&code).unwrap(),
            &[],
        )
        .await
        .unwrap();
    let hash = tx::wasm_hash(&code);
    let create =
        tx::create_contract(&admin.address(), hash, tx::salt(label.as_bytes()), args).unwrap();
    relayer
        .submit(
            &format!("create-{package}"),
            &admin.address(),
            create,
            &[admin],
        )
        .await
        .unwrap();
    hash
}

/// A devnet's RPC and network with a sponsor and one channel account funded from its root.
pub struct Operators {
    pub rpc: std::sync::Arc<medimint_chain::rpc::StellarRpc>,
    pub network: medimint_chain::Network,
    pub sponsor: std::sync::Arc<ed25519_dalek::SigningKey>,
    pub channel: std::sync::Arc<ed25519_dalek::SigningKey>,
}

/// Funds a sponsor and a channel (keys from the seed bytes `sponsor` and `channel`) on
/// `devnet` with 1 000 XLM each.
pub async fn funded_operators(
    devnet: &medimint_devnet::Devnet,
    sponsor: u8,
    channel: u8,
    backoff: medimint_chain::Backoff,
) -> Operators {
    use medimint_chain::rpc::Rpc;
    let rpc = std::sync::Arc::new(
        medimint_chain::rpc::StellarRpc::new(&devnet.rpc_url(), std::time::Duration::from_secs(10))
            .unwrap(),
    );
    let network = medimint_chain::Network::new(rpc.network_passphrase().await.unwrap());
    let root = super::secret_key(&devnet.root_keypair().secret());
    let sponsor = std::sync::Arc::new(ed25519_dalek::SigningKey::from_bytes(&[sponsor; 32]));
    let channel = std::sync::Arc::new(ed25519_dalek::SigningKey::from_bytes(&[channel; 32]));
    medimint_chain::accounts::ensure_funded_accounts(
        rpc.as_ref(),
        &network,
        &root,
        &[sponsor.address(), channel.address()],
        1_000 * 10_000_000,
        backoff,
    )
    .await
    .unwrap();
    Operators {
        rpc,
        network,
        sponsor,
        channel,
    }
}

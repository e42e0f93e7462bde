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

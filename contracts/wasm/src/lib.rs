//! The contract suite's optimized WASM, as built by `scripts/build-contracts --update`.
//!
//! The files are checked in so that `cargo run -p medimint-cli -- demo` and `medimint deploy`
//! work on a machine without the `wasm32v1-none` target or `wasm-opt`. CI rebuilds them from
//! source and fails if the bytes differ (`scripts/build-contracts --check`), so they cannot
//! drift from the contracts' code.

/// `contracts/issuer-registry`.
pub const ISSUER_REGISTRY: &[u8] = include_bytes!("../medimint-issuer-registry.wasm");
/// `contracts/study-token`.
pub const STUDY_TOKEN: &[u8] = include_bytes!("../medimint-study-token.wasm");
/// `contracts/registry`.
pub const REGISTRY: &[u8] = include_bytes!("../medimint-registry.wasm");

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_is_wasm_under_the_size_limit() {
        for (name, wasm) in [
            ("issuer-registry", ISSUER_REGISTRY),
            ("study-token", STUDY_TOKEN),
            ("registry", REGISTRY),
        ] {
            assert_eq!(&wasm[..4], b"\0asm", "{name} is not a WASM module");
            assert!(wasm.len() <= 64 * 1024, "{name} is {} bytes", wasm.len());
        }
    }
}

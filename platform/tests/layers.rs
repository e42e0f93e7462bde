//! The layering rule: a Lambda must not link a Stellar node. Neither the platform nor any
//! crate under `lambdas/` may reach `medimint-devnet` through its normal, build or dev
//! dependencies (the devnet is for `stack`, the CLI and the end-to-end tests in `tests/`).

use std::path::Path;
use std::process::Command;

fn tree_of(package: &str) -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Command::new(env!("CARGO"))
        .current_dir(&root)
        .args([
            "tree",
            "--offline",
            "--locked",
            "-e",
            "normal,build,dev",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree -p {package} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The package name in a crate's Cargo.toml.
fn package_name(manifest: &Path) -> String {
    let text = std::fs::read_to_string(manifest).unwrap();
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("name"))
        .unwrap_or_else(|| panic!("{} names no package", manifest.display()));
    line.split('"').nth(1).unwrap().to_owned()
}

#[test]
fn neither_the_platform_nor_any_lambda_links_the_devnet() {
    let lambdas = Path::new(env!("CARGO_MANIFEST_DIR")).join("../lambdas");
    let mut packages = vec!["medimint-platform".to_owned(), "medimint-ingest".to_owned()];
    for entry in std::fs::read_dir(&lambdas).unwrap() {
        let manifest = entry.unwrap().path().join("Cargo.toml");
        if manifest.exists() {
            packages.push(package_name(&manifest));
        }
    }
    assert!(
        packages.iter().any(|p| p == "medimint-ingest-lambda"),
        "{packages:?}"
    );
    for package in &packages {
        let tree = tree_of(package);
        assert!(tree.contains(package.as_str()), "{package}: {tree}");
        assert!(
            !tree.lines().any(|l| l.starts_with("medimint-devnet ")),
            "{package} links medimint-devnet:\n{tree}"
        );
        assert!(
            !tree.lines().any(|l| l.starts_with("medimint-stack ")),
            "{package} links medimint-stack:\n{tree}"
        );
    }
}

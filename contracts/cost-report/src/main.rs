//! Cost report of the MediMint contracts, measured on the optimized WASM with the SDK's
//! cost estimate (mainnet limits and fee snapshot of soroban-sdk 29.0.1).
//!
//! Run `scripts/contract-costs` (builds the WASM, then runs this binary). Prints a Markdown
//! table for `docs/costs.md` and exits non-zero when a target is missed: every operation
//! under 5% of the mainnet per-transaction instruction limit, and the one-transaction mint
//! within 1.5x the non-rent fee of OpenZeppelin stellar-tokens' `Base::mint` (and of our
//! own SEP-0050 baseline), both with mocked authorization and with real ed25519 signatures
//! on both sides.

mod measure;

use measure::{measure_all, Row};

/// Mainnet per-transaction instruction limit (soroban-sdk's `InvocationResourceLimits::mainnet`).
const MAINNET_TX_INSTRUCTIONS: i64 = 400_000_000;

fn main() {
    let wasm_dir = measure::wasm_dir();
    let rows = match measure_all(&wasm_dir) {
        Ok(rows) => rows,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    print_table(&rows);
    println!();
    let failures = check_targets(&rows);
    for f in &failures {
        eprintln!("target missed: {f}");
    }
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

fn print_table(rows: &[Row]) {
    println!(
        "| operation | CPU instructions | % of tx limit | mem bytes | read entries | write entries | read bytes | write bytes | event bytes | non-rent fee (stroops) | rent (stroops) | total fee (stroops) |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        println!(
            "| {} | {} | {:.2}% | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            r.name,
            r.resources.instructions,
            100.0 * r.resources.instructions as f64 / MAINNET_TX_INSTRUCTIONS as f64,
            r.resources.mem_bytes,
            r.resources.disk_read_entries + r.resources.memory_read_entries,
            r.resources.write_entries,
            r.resources.disk_read_bytes,
            r.resources.write_bytes,
            r.resources.contract_events_size_bytes,
            r.non_rent_fee(),
            r.rent_fee(),
            r.fee.total,
        );
    }
}

fn check_targets(rows: &[Row]) -> Vec<String> {
    let mut failures = Vec::new();
    for r in rows {
        if r.resources.instructions * 20 >= MAINNET_TX_INSTRUCTIONS {
            failures.push(format!(
                "{} uses {} instructions (>= 5%)",
                r.name, r.resources.instructions
            ));
        }
    }
    let fee = |name: &str| rows.iter().find(|r| r.name == name).map(Row::non_rent_fee);
    for (what, mint, base) in [
        ("OpenZeppelin, mocked auth", measure::MINT, measure::OZ_MINT),
        (
            "OpenZeppelin, real signatures",
            measure::SIGNED_MINT,
            measure::SIGNED_OZ_MINT,
        ),
        (
            "own baseline, mocked auth",
            measure::MINT,
            measure::BASELINE_MINT,
        ),
        (
            "own baseline, real signatures",
            measure::SIGNED_MINT,
            measure::SIGNED_BASELINE_MINT,
        ),
    ] {
        if let (Some(mint), Some(base)) = (fee(mint), fee(base)) {
            let ratio = mint as f64 / base as f64;
            println!(
                "mint / reference mint non-rent fee ({what}): {mint} / {base} = {ratio:.2}x (target <= 1.5x)"
            );
            if ratio > 1.5 {
                failures.push(format!(
                    "mint non-rent fee is {ratio:.2}x the reference ({what})"
                ));
            }
        }
    }
    failures
}

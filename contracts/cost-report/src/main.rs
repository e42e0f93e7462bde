//! Cost report of the MediMint contracts, measured on the optimized WASM with real ed25519
//! signatures under two fee models: soroban-sdk's mainnet snapshot and the devnet's
//! `ConfigSetting` values (the public network's published values, TTL bounds included).
//!
//! Run `scripts/contract-costs` (builds the WASM, then runs this binary). Prints Markdown
//! for `docs/costs.md` — per operation its resources, fees and the entries it wrote; a
//! study's lifecycle in XLM; the monthly cost at 1,000 and 100,000 studies; the restore of
//! a token untouched for a year — and exits non-zero when a target of issue 19 is missed
//! under either model:
//! - a study's release to active (propose + approve, and the one-transaction mint), total
//!   fee including rent, at most 1.5x OpenZeppelin stellar-tokens' `Base::mint`;
//! - grant and revoke, each, at most 1.0x; record_access at most 0.5x;
//! - every operation's CPU instructions at most 1% of the mainnet transaction limit.

mod measure;

use measure::{Model, Report, Row, Wasm, APPROVE, GRANT, MINT, OZ_MINT, PROPOSE, RECORD, REVOKE};

/// Mainnet per-transaction instruction limit (soroban-sdk 29.0.1's
/// `InvocationResourceLimits::mainnet`, snapshot of 2026-07-10).
const MAINNET_TX_INSTRUCTIONS: i64 = 400_000_000;
const STROOPS_PER_XLM: f64 = 10_000_000.0;

/// The PCIM paper's Ethereum gas for the same lifecycle: create_contract (release),
/// approve_IRs (consent), 3 × requesting_access (shares), 10 × trace_authorization
/// (accesses), remove_IRs (revoke).
const PCIM_LIFECYCLE_GAS: i64 = 67_394 + 170_412 + 3 * 246_908 + 10 * 34_266 + 59_358;
/// Prices for the comparison, with their dates: XLM near $0.30 in early November 2025
/// (bitcoinethereumnews.com, "Stellar (XLM) price outlook for November 2025"), ETH near
/// $3,000 on 14 November 2025 (Binance Square market note); gas at 1.1 gwei (the 2025 level
/// after Dencun that gate.com's gas guide quotes) and at 20 gwei (a busy day).
const XLM_USD: f64 = 0.30;
const ETH_USD: f64 = 3_000.0;
const GAS_GWEI: [f64; 2] = [1.1, 20.0];

fn main() {
    let wasm = match Wasm::read(&measure::wasm_dir()) {
        Ok(w) => w,
        Err(e) => {
            eprintln!("error: {e}");
            std::process::exit(2);
        }
    };
    let mut failures = Vec::new();
    for model in [Model::sdk(), Model::devnet()] {
        let report = measure::measure(&model, &wasm);
        print_report(&model, &report);
        failures.extend(check_targets(&model, &report));
    }
    for f in &failures {
        eprintln!("target missed: {f}");
    }
    if !failures.is_empty() {
        std::process::exit(1);
    }
}

fn xlm(stroops: i64) -> String {
    format!("{:.4}", stroops as f64 / STROOPS_PER_XLM)
}

fn print_report(model: &Model, report: &Report) {
    let oz = report.row(OZ_MINT).map_or(1, |r| r.fee.total);
    println!("## Fee model: {}\n", model.name);
    println!("{}.\n", model.source);
    println!("| operation | CPU instructions | % of 400 M | read entries | write entries | write bytes | event bytes | non-rent fee | rent | total fee (stroops) | × OZ mint |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in &report.rows {
        println!(
            "| {} | {} | {:.2}% | {} | {} | {} | {} | {} | {} | {} | {:.2} |",
            r.name,
            r.resources.instructions,
            100.0 * r.resources.instructions as f64 / MAINNET_TX_INSTRUCTIONS as f64,
            r.resources.disk_read_entries + r.resources.memory_read_entries,
            r.resources.write_entries,
            r.resources.write_bytes,
            r.resources.contract_events_size_bytes,
            r.non_rent_fee(),
            r.rent_fee(),
            r.fee.total,
            r.fee.total as f64 / oz as f64,
        );
    }
    println!("\n### What each operation writes ({})\n", model.name);
    println!("| operation | entry | durability | change | bytes | TTL after (days) |");
    println!("|---|---|---|---|---:|---:|");
    for r in &report.rows {
        for w in &r.writes {
            println!(
                "| {} | `{}` | {} | {} | {} | {} |",
                r.name,
                w.entry,
                w.durability,
                w.change.as_str(),
                w.bytes,
                w.ttl.map_or("—".into(), |t| format!(
                    "{:.1}",
                    f64::from(t) / f64::from(measure::DAY)
                )),
            );
        }
    }
    print_lifecycle(model, report);
    print_restore(model, report);
}

fn sum(rows: &[Row]) -> (i64, i64, i64) {
    rows.iter().fold((0, 0, 0), |(n, r, t), row| {
        (
            n + row.non_rent_fee(),
            r + row.rent_fee(),
            t + row.fee.total,
        )
    })
}

fn print_lifecycle(model: &Model, report: &Report) {
    println!(
        "\n### A study's lifecycle ({}): release, consent, 3 shares, 10 accesses, 1 revoke (fresh patient and viewers)\n",
        model.name
    );
    println!("| step | calls | non-rent fee | rent | total (stroops) | total (XLM) |");
    println!("|---|---:|---:|---:|---:|---:|");
    // Each step's calls are named after its first word ("share 2", "access 7").
    let groups = [
        ("release (propose_release)", "release"),
        ("consent (approve_release)", "consent"),
        ("3 shares (grant)", "share"),
        ("10 accesses (record_access)", "access"),
        ("1 revoke", "revoke"),
    ];
    for (label, prefix) in groups {
        let rows: Vec<&Row> = report
            .lifecycle
            .iter()
            .filter(|r| r.name.starts_with(prefix))
            .collect();
        let (n, r, t) = rows.iter().fold((0, 0, 0), |(n, r, t), row| {
            (
                n + row.non_rent_fee(),
                r + row.rent_fee(),
                t + row.fee.total,
            )
        });
        println!(
            "| {label} | {} | {n} | {r} | {t} | {} |",
            rows.len(),
            xlm(t)
        );
    }
    let (n, r, t) = sum(&report.lifecycle);
    println!(
        "| **per study** | {} | {n} | {r} | **{t}** | **{}** |",
        report.lifecycle.len(),
        xlm(t)
    );
    let fixed: i64 = report.keep_alive.iter().map(|(_, rent, _)| rent).sum();
    println!();
    for (name, rent, bytes) in &report.keep_alive {
        println!(
            "- keeping the {name}'s instance and code live (size for rent {bytes} bytes, the code's in-memory cost included): {} XLM per 30 days, whatever the volume",
            xlm(*rent)
        );
    }
    let usd = t as f64 / STROOPS_PER_XLM * XLM_USD;
    print!(
        "- beside the PCIM paper's Ethereum contracts: the same lifecycle is {PCIM_LIFECYCLE_GAS} gas"
    );
    for gwei in GAS_GWEI {
        let eth = PCIM_LIFECYCLE_GAS as f64 * gwei * 1e-9;
        print!("; at {gwei} gwei {eth:.6} ETH = ${:.2}", eth * ETH_USD);
    }
    println!(
        " (ETH ${ETH_USD}, November 2025); MediMint's {} XLM = ${usd:.2} (XLM ${XLM_USD}, November 2025)",
        xlm(t)
    );
    for studies in [1_000i64, 100_000] {
        println!(
            "- {studies} studies a month, each through this lifecycle: {} XLM + {} XLM fixed = {} XLM a month ({} XLM per study)",
            xlm(t * studies),
            xlm(fixed),
            xlm(t * studies + fixed),
            xlm((t * studies + fixed) / studies),
        );
    }
}

fn print_restore(model: &Model, report: &Report) {
    let (saved, bytes) = report.restore_rent_saved;
    if let (Some(cold), Some(warm)) = (
        report.row(measure::RESTORE),
        report.row(measure::RESTORE_REFERENCE),
    ) {
        println!(
            "\n### Archival and automatic restore ({})\n\n- a token untouched for a year: its viewer's `record_access` restores {} bytes of archived entries and costs {} stroops ({} XLM), against {} for the same call on a token in use: the restore adds {} stroops ({} XLM);\n- keeping those entries live for the year instead would have cost {} stroops ({} XLM) of rent beyond what their creation prepaid.",
            model.name,
            bytes,
            cold.fee.total,
            xlm(cold.fee.total),
            warm.fee.total,
            cold.fee.total - warm.fee.total,
            xlm(cold.fee.total - warm.fee.total),
            saved,
            xlm(saved),
        );
    }
}

fn check_targets(model: &Model, report: &Report) -> Vec<String> {
    let mut failures = Vec::new();
    println!("\n### Targets ({})\n", model.name);
    for r in &report.rows {
        if r.resources.instructions * 100 > MAINNET_TX_INSTRUCTIONS {
            failures.push(format!(
                "{}: {} uses {} instructions (> 1% of {MAINNET_TX_INSTRUCTIONS})",
                model.name, r.name, r.resources.instructions
            ));
        }
    }
    let max = report
        .rows
        .iter()
        .map(|r| r.resources.instructions)
        .max()
        .unwrap_or(0);
    println!(
        "- largest CPU: {max} instructions = {:.2}% of {MAINNET_TX_INSTRUCTIONS} (target <= 1%; {:.2}% of this model's per-transaction limit, {})",
        100.0 * max as f64 / MAINNET_TX_INSTRUCTIONS as f64,
        100.0 * max as f64 / model.tx_instructions as f64,
        model.tx_instructions,
    );
    let total = |name: &str| report.row(name).map(|r| r.fee.total);
    let Some(oz) = total(OZ_MINT) else {
        failures.push(format!("{}: no reference mint measured", model.name));
        return failures;
    };
    let two_step = total(PROPOSE).zip(total(APPROVE)).map(|(a, b)| a + b);
    for (what, fee, target) in [
        ("release to active, propose + approve", two_step, 1.5),
        ("release to active, one-transaction mint", total(MINT), 1.5),
        ("grant", total(GRANT), 1.0),
        ("revoke", total(REVOKE), 1.0),
        ("record_access", total(RECORD), 0.5),
    ] {
        let Some(fee) = fee else {
            failures.push(format!("{}: {what} not measured", model.name));
            continue;
        };
        let ratio = fee as f64 / oz as f64;
        let verdict = if ratio <= target { "met" } else { "missed" };
        println!(
            "- {what}: {fee} / {oz} stroops = {ratio:.2}x OpenZeppelin `Base::mint` (target <= {target}x): {verdict}"
        );
        if ratio > target {
            failures.push(format!(
                "{}: {what} is {ratio:.2}x OpenZeppelin's Base::mint total fee (target <= {target}x)",
                model.name
            ));
        }
    }
    println!();
    failures
}

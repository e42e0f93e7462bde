//! `medimint demo`: the whole mission on the embedded default, from nothing (see docs/demo.md).

use std::path::PathBuf;

use medimint_stack::demo::{run_demo, DemoOptions};

/// Run the whole flow on an in-process devnet: deploy, register an issuer, release a generated
/// study to a new patient, consent, share, download and verify, revoke, read the audit trail.
#[derive(clap::Args)]
pub struct Args {
    /// Keep objects, the database and the deployment file here (default: a temporary
    /// directory removed afterwards).
    #[arg(long)]
    data_dir: Option<PathBuf>,
    /// Series in the generated study.
    #[arg(long, default_value_t = 2)]
    series: u32,
    /// Instances per series.
    #[arg(long, default_value_t = 2)]
    per_series: u32,
    /// How many days the doctor's Viewer role lasts.
    #[arg(long, default_value_t = 30)]
    share_days: u32,
    /// Print the report as JSON instead of text (progress lines are not printed).
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let base = if args.json {
        DemoOptions::default()
    } else {
        DemoOptions::printing()
    };
    let opts = DemoOptions {
        data_dir: args.data_dir,
        series: args.series,
        per_series: args.per_series,
        share_days: args.share_days,
        ..base
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let report = runtime.block_on(run_demo(opts))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("{report}");
    }
    Ok(())
}

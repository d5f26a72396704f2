//! `walletwatch report`: the HTML report, summary and ratings of the store.

use std::path::PathBuf;

use clap::Args as ClapArgs;

use super::Context;
use crate::store::Store;

/// Options of `report`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Examples:\n  walletwatch report --out reports/2026-11\n\nWrites a self-contained index.html (no external requests; every text from the\ndata escaped), summary.md and ratings.csv. Run classify (and detect, for the\ncampaign, spike and term sections) first."
)]
pub struct Args {
    /// Folder to write the report into.
    #[arg(long, default_value = "reports/latest", value_name = "DIR")]
    pub out: PathBuf,
    /// Rating settings (default: data/rating.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Writes the report of `store` into `out`; returns the index path.
pub fn write(
    ctx: &Context,
    store: &Store,
    out: &std::path::Path,
    config: Option<&std::path::Path>,
) -> anyhow::Result<PathBuf> {
    let ratings = super::score::ratings(ctx, store, config)?;
    let csv = super::score::to_csv(&ratings)?;
    crate::report::write_report(store, &ratings, &csv, out)
}

/// Runs `report`.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let store = Store::open(&ctx.store)?;
    let index = write(ctx, &store, &args.out, args.config.as_deref())?;
    println!("report: {}", index.display());
    Ok(())
}

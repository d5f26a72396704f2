//! `walletwatch normalise`: rebuild the complaint table from the raw layer.

use clap::Args as ClapArgs;

use super::{Context, PartsArgs};
use crate::normalise::rebuild;
use crate::store::Store;

/// Options of `normalise`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Example:\n  walletwatch --store data/store normalise\n\nRe-reads every file kept in <store>/raw/ (no source files needed) and rebuilds\n<store>/complaints/ with the current alias table and rules; the old table is\nreplaced only when the rebuild is complete. Classifications of the old table are dropped:\nrun `classify` again."
)]
pub struct Args {
    #[command(flatten)]
    pub parts: PartsArgs,
}

/// Runs `normalise`.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let store = Store::open_existing(&ctx.store)?;
    let results = rebuild(&store, &ctx.providers, !ctx.quiet, args.parts.compression)?;
    for (origin, counts) in &results {
        outln!("{origin}: {counts}")?;
    }
    if results.is_empty() {
        ctx.note("the raw layer is empty: ingest something first");
    }
    Ok(())
}

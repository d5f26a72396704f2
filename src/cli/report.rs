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
    #[arg(short, long, default_value = "reports/latest", value_name = "DIR")]
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
    use crate::report::charts::{ChartData, draw_all, register_font};
    let cases = crate::score::read_cases(store)?;
    let ratings = super::score::ratings(ctx, &cases, config)?;
    let csv = super::score::to_csv(&ratings)?;
    let names: std::collections::HashMap<String, String> = ctx
        .providers
        .entries()
        .iter()
        .map(|e| (e.id.clone(), e.name.clone()))
        .collect();
    let spikes = read_spikes(store);
    let data = ChartData::new(&cases, &names, &ratings, &spikes, 36, 6);
    let models = super::models_dir();
    let charts = draw_all(&data, &models, &out.join("charts"))?;
    let font = register_font(&models)?;
    crate::report::write_report(store, &ratings, &csv, &charts, Some(font), out)
}

/// (provider, category, week) of each spike `detect` found, strongest first.
fn read_spikes(store: &Store) -> Vec<(String, String, chrono::NaiveDate)> {
    let (header, rows) = crate::report::detect_table(store, "spikes");
    let at = |name: &str| header.iter().position(|h| h == name);
    let (Some(prov), Some(cat), Some(week), Some(p)) = (
        at("provider"),
        at("category"),
        at("week_start"),
        at("p_value"),
    ) else {
        return Vec::new();
    };
    let mut rows: Vec<(f64, String, String, chrono::NaiveDate)> = rows
        .iter()
        .filter_map(|r| {
            Some((
                r.get(p)?.parse().ok()?,
                r.get(prov)?.clone(),
                r.get(cat)?.clone(),
                r.get(week)?.parse().ok()?,
            ))
        })
        .collect();
    rows.sort_by(|a, b| a.0.total_cmp(&b.0));
    rows.into_iter().map(|(_, p, c, w)| (p, c, w)).collect()
}

/// Runs `report`.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let store = Store::open_existing(&ctx.store)?;
    let index = write(ctx, &store, &args.out, args.config.as_deref())?;
    outln!("report: {}", index.display())?;
    Ok(())
}

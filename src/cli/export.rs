//! `walletwatch export`: complaints out as CSV, Parquet or NDJSON.

use std::collections::HashSet;
use std::path::PathBuf;

use anyhow::bail;
use chrono::NaiveDate;
use clap::Args as ClapArgs;
use polars::prelude::{UniqueKeepStrategy, col};

use super::Context;
use crate::export::{ExportOptions, Format, export};
use crate::store::Store;

/// Options of `export`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Examples:\n  walletwatch export --format csv --provider cash_app --excel -o cash_app.csv\n  walletwatch export --format parquet --since 2024-01-01 -o 2024.parquet\n  walletwatch export --format ndjson --lang zh | head\n  walletwatch classify && walletwatch export --category fraud --category 账户被盗 -o fraud.csv\n\nEvery column is documented in docs/data-dictionary.md. Text is always the masked text."
)]
pub struct Args {
    /// Output format.
    #[arg(long, value_enum, default_value = "csv")]
    pub format: Format,
    /// Keep only this provider (id or any alias: cash_app, "Cash App", 支付宝); repeatable.
    #[arg(long, value_name = "P")]
    pub provider: Vec<String>,
    /// Keep only this source (cfpb, heimao…); repeatable.
    #[arg(long, value_name = "S")]
    pub source: Vec<String>,
    /// Keep only complaints with this category (fraud, fund_security, 诈骗…); repeatable.
    /// Needs `walletwatch classify` first.
    #[arg(long, value_name = "C", value_parser = parse_category)]
    pub category: Vec<crate::classify::Category>,
    /// Keep only this language (zh, en, other); repeatable.
    #[arg(long, value_name = "L", value_parser = ["zh", "en", "other"])]
    pub lang: Vec<String>,
    /// First day to keep, YYYY-MM-DD (inclusive).
    #[arg(long, value_name = "DATE")]
    pub since: Option<NaiveDate>,
    /// Last day to keep, YYYY-MM-DD (inclusive).
    #[arg(long, value_name = "DATE")]
    pub until: Option<NaiveDate>,
    /// Write the UTF-8 byte-order mark Excel needs to show Chinese (CSV only).
    #[arg(long)]
    pub excel: bool,
    /// Output file (standard output when absent; required for Parquet).
    #[arg(short, long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

fn parse_category(s: &str) -> Result<crate::classify::Category, String> {
    crate::classify::Category::parse(s).ok_or_else(|| {
        format!(
            "unknown category {s:?}; use one of {}, other",
            crate::classify::Category::LABELS.map(|c| c.id()).join(", ")
        )
    })
}

/// Every provider id of the stored complaints.
fn stored_providers(store: &Store) -> anyhow::Result<HashSet<String>> {
    if store.complaint_files()?.is_empty() {
        return Ok(HashSet::new());
    }
    let df = store
        .scan()?
        .select([col("provider")])
        .unique(None, UniqueKeepStrategy::Any)
        .collect()?;
    Ok(df
        .column("provider")?
        .str()?
        .iter()
        .flatten()
        .map(str::to_string)
        .collect())
}

/// Runs `export`.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    if args.excel && args.format != Format::Csv {
        bail!("--excel applies to CSV only");
    }
    if let (Some(since), Some(until)) = (args.since, args.until)
        && since > until
    {
        bail!("--since {since} is after --until {until}: no day is in between");
    }
    let store = Store::open_existing(&ctx.store)?;
    if !args.source.is_empty() {
        let files = store.complaint_files()?;
        let sources: std::collections::BTreeSet<String> =
            files.iter().map(|f| crate::store::source_of(f)).collect();
        if let Some(s) = args.source.iter().find(|s| !sources.contains(*s)) {
            let known: Vec<&str> = sources.iter().map(String::as_str).collect();
            bail!(
                "no stored complaint has source {s:?}; the store holds: {}",
                known.join(", ")
            );
        }
    }
    let mut stored: Option<HashSet<String>> = None;
    let mut providers = Vec::with_capacity(args.provider.len());
    for name in &args.provider {
        if ctx.providers.find(name).is_none() && stored.is_none() {
            stored = Some(stored_providers(&store)?);
        }
        let stored = stored.as_ref();
        providers.push(ctx.provider_id(name, |id| stored.is_some_and(|s| s.contains(id)))?);
    }
    let opts = ExportOptions {
        format: args.format,
        providers,
        sources: args.source,
        langs: args.lang,
        categories: args.category,
        since: args.since,
        until: args.until,
        excel: args.excel,
        output: args.output.clone(),
    };
    let rows = export(&store, &opts)?;
    if let Some(out) = &args.output {
        ctx.note(format!("exported {rows} complaint(s) to {}", out.display()));
    }
    Ok(())
}

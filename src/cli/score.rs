//! `walletwatch score`: provider ratings.

use std::fmt::Write as _;
use std::path::PathBuf;

use clap::Args as ClapArgs;

use super::{Context, data_dir};
use crate::score::{Case, Rating, RatingConfig, rate, read_cases};
use crate::store::Store;

/// Output formats of `score`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// Aligned text for a terminal.
    Table,
    /// JSON array.
    Json,
    /// CSV for spreadsheets.
    Csv,
}

/// Options of `score`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Examples:\n  walletwatch score\n  walletwatch score \"Cash App\"\n  walletwatch score 支付宝 --format json\n  walletwatch score --format csv > ratings.csv\n\nScores 0–100 (higher is better) with a 90% interval, n, a grade A–F (NR below the\nminimum sample) and the drivers. Method: docs/rating-method.md; settings: data/rating.toml."
)]
pub struct Args {
    /// Only this provider (id, name or any alias: "Cash App", 支付宝, Block Inc).
    pub provider: Option<String>,
    /// Output format.
    #[arg(long, value_enum, default_value = "table")]
    pub format: Format,
    /// Rating settings (default: data/rating.toml).
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// Ratings of every provider among `cases` (see [`read_cases`]), with the rating settings
/// of `config` (default data/rating.toml).
pub fn ratings(
    ctx: &Context,
    cases: &[Case],
    config: Option<&std::path::Path>,
) -> anyhow::Result<Vec<Rating>> {
    let path = config.map_or_else(
        || data_dir().join("rating.toml"),
        std::path::Path::to_path_buf,
    );
    let cfg = RatingConfig::load(&path)?;
    Ok(rate(cases, &ctx.providers, &cfg))
}

/// The ratings as CSV.
pub fn to_csv(ratings: &[Rating]) -> anyhow::Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "provider",
        "name",
        "grade",
        "score",
        "low",
        "high",
        "n",
        "weighted_complaints",
        "rate_per_million_users",
        "users_millions",
        "timely_share",
        "relief_share",
        "resolved_share",
        "drivers",
    ])?;
    let f = |x: f64| {
        if x.is_nan() {
            String::new()
        } else {
            format!("{x:.3}")
        }
    };
    for r in ratings {
        w.write_record(
            [
                r.provider.clone(),
                r.name.clone(),
                r.grade.clone(),
                format!("{:.1}", r.score),
                format!("{:.1}", r.low),
                format!("{:.1}", r.high),
                r.n.to_string(),
                format!("{:.1}", r.weighted_complaints),
                r.rate_per_million
                    .map(|x| format!("{x:.3}"))
                    .unwrap_or_default(),
                r.users_millions.map(|x| x.to_string()).unwrap_or_default(),
                f(r.timely.raw),
                f(r.relief.raw),
                f(r.resolved.raw),
                r.drivers.join("; "),
            ]
            .iter()
            .map(|c| crate::export::neutralise(c).into_owned()),
        )?;
    }
    Ok(String::from_utf8(w.into_inner()?)?)
}

/// The ratings as an aligned text table.
pub fn to_table(ratings: &[Rating]) -> String {
    let mut s = format!(
        "{:<34} {:>5} {:>6} {:>13} {:>6}  drivers\n",
        "provider", "grade", "score", "90% interval", "n"
    );
    for r in ratings {
        let name: String = r.provider.chars().take(34).collect();
        let _ = writeln!(
            s,
            "{name:<34} {:>5} {:>6.1} {:>13} {:>6}  {}",
            r.grade,
            r.score,
            format!("{:.1}–{:.1}", r.low, r.high),
            r.n,
            r.drivers.join("; ")
        );
    }
    s
}

/// Runs `score`.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let store = Store::open_existing(&ctx.store)?;
    let mut all = ratings(ctx, &read_cases(&store)?, args.config.as_deref())?;
    if all.is_empty() {
        anyhow::bail!(
            "{}: no classified complaints with a provider and a date: ingest and classify first",
            ctx.store.display()
        );
    }
    if let Some(name) = &args.provider {
        let id = ctx.provider_id(name, |id| all.iter().any(|r| r.provider == id))?;
        all.retain(|r| r.provider == id);
        if all.is_empty() {
            anyhow::bail!("{name:?} ({id}) has no complaints in the store's rating window");
        }
    }
    match args.format {
        Format::Table => out!("{}", to_table(&all))?,
        Format::Json => outln!("{}", serde_json::to_string_pretty(&all)?)?,
        Format::Csv => out!("{}", to_csv(&all)?)?,
    }
    Ok(())
}

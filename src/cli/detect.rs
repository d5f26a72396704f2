//! `walletwatch detect`: scam indicators, campaigns, spikes and emerging terms.

use std::path::PathBuf;

use clap::Args as ClapArgs;

use super::{Context, data_dir, models_dir};
use crate::detect::{self, DetectOptions, Detection};
use crate::store::Store;

/// Options of `detect`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Examples:\n  walletwatch detect\n  walletwatch detect --out reports/detect --scam-list ../shared/data/scam-lists/scam_domains_light.txt\n\nReads the classified store (run `walletwatch classify` first) and writes\nindicators, campaigns, campaign_members, spikes and emerging_terms as Parquet and CSV\ninto <store>/detect/, and as CSV into --out. The method: docs/detect.md."
)]
pub struct Args {
    /// Also write the CSV files into this folder.
    #[arg(short, long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// A scam/phishing domain list (one domain a line, or eth-phishing-detect JSON);
    /// repeatable. The lists in data/scam-lists/ are always read.
    #[arg(long = "scam-list", value_name = "FILE")]
    pub scam_lists: Vec<PathBuf>,
    /// Smallest campaign reported.
    #[arg(long, default_value_t = 3, value_name = "N")]
    pub min_size: usize,
    /// Smallest estimated Jaccard similarity for two texts to be near-duplicates.
    #[arg(long, default_value_t = 0.5, value_name = "J")]
    pub similarity: f64,
    /// An indicator shared by more complaints than this does not link them (default:
    /// max(200, 0.2% of the complaints)); scam-listed domains always link.
    #[arg(long, value_name = "N")]
    pub cap: Option<usize>,
    /// Significance level of the spike test.
    #[arg(long, default_value_t = 1e-4, value_name = "P")]
    pub alpha: f64,
    /// Weeks in the recent period of the emerging terms.
    #[arg(long, default_value_t = 4, value_name = "WEEKS")]
    pub recent_weeks: i64,
    /// Folder of models (default: models/ of the repository).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
}

/// The options a `detect` run uses, from its arguments.
pub fn options(args: &Args) -> DetectOptions {
    let models = args.models.clone().unwrap_or_else(models_dir);
    let mut opts = DetectOptions::new(&models, &data_dir());
    opts.scam_lists.extend(args.scam_lists.iter().cloned());
    opts.min_size = args.min_size;
    opts.similarity = args.similarity;
    opts.cap = args.cap;
    opts.spikes.alpha = args.alpha;
    opts.terms.recent_weeks = args.recent_weeks;
    opts
}

/// Runs detection on the store and writes the results; returns them.
pub fn detect_store(
    ctx: &Context,
    store: &Store,
    opts: &DetectOptions,
    out: Option<&std::path::Path>,
) -> anyhow::Result<Detection> {
    let total = store.complaint_files()?.len() as u64;
    let bar = crate::progress::counter(total, !ctx.quiet, "detect", "part files");
    let det = detect::detect(store, &ctx.providers, opts, &|_| bar.inc(1))?;
    bar.finish_and_clear();
    detect::write(store, &det, out)?;
    Ok(det)
}

/// One line per result table, for people.
pub fn summary(det: &Detection) -> String {
    let rows = |n: &str| det.table(n).map_or(0, |t| t.height());
    format!(
        "{} complaints: {} indicators ({} on scam lists, {} too common to link), {} near-duplicate links; {} campaigns, {} spikes, {} emerging terms",
        det.complaints,
        det.indicators,
        det.listed,
        det.capped,
        det.near_duplicate_pairs,
        rows("campaigns"),
        rows("spikes"),
        rows("emerging_terms")
    )
}

/// Runs `detect`.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let opts = options(&args);
    let store = Store::open_existing(&ctx.store)?;
    let det = detect_store(ctx, &store, &opts, args.out.as_deref())?;
    outln!("{}", summary(&det))?;
    let times: Vec<String> = det
        .timings
        .iter()
        .map(|(name, d)| format!("{name} {:.2} s", d.as_secs_f64()))
        .collect();
    ctx.note(format!("time: {}", times.join(", ")));
    let dir = detect::detect_dir(&store);
    ctx.note(format!(
        "results: {}{}",
        dir.display(),
        args.out
            .as_ref()
            .map(|o| format!(" and {}", o.display()))
            .unwrap_or_default()
    ));
    Ok(())
}

//! `walletwatch demo`: the whole pipeline (as far as it exists) on the sample in `data/`.

use std::fmt::Write as _;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args as ClapArgs;
use polars::prelude::*;

use super::{Context, data_dir};
use crate::export::{ExportOptions, Format, export};
use crate::ingest::{self, IngestSpec, Reconciliation, RunOptions, SourceKind, export::Mapping};
use crate::store::Store;

/// Options of `demo`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Example:\n  walletwatch demo\n\nIngests data/sample/ (300 real CFPB complaints and 20 Chinese complaints written\nfor the demo) into reports/demo/store, classifies them with the rules, finds fraud patterns\n(reports/demo/detect/), rates the providers, then writes the report (reports/demo/index.html,\nratings.csv), reports/demo/summary.md and reports/demo/complaints.csv. Works offline."
)]
pub struct Args {
    /// Output folder.
    #[arg(short, long, default_value = "reports/demo", value_name = "DIR")]
    pub out: PathBuf,
}

/// Runs the demo.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let data = data_dir();
    let store_dir = args.out.join("store");
    if store_dir.exists() {
        std::fs::remove_dir_all(&store_dir)
            .with_context(|| format!("{}: cannot clear the demo store", store_dir.display()))?;
    }
    let store = Store::open(&store_dir)?;
    let rules = super::rules_classifier()?;
    let opts = RunOptions {
        progress: !ctx.quiet,
        classifier: Some(rules.clone()),
        ..Default::default()
    };
    let sample = data.join("sample");
    let jobs = [
        (sample.join("cfpb_sample.csv"), SourceKind::Cfpb),
        (
            sample.join("zh_complaints.ndjson"),
            SourceKind::Export(Mapping::load(&sample.join("zh_complaints.toml"))?),
        ),
    ];
    let mut lines = Vec::new();
    let mut total = Reconciliation::default();
    for (path, kind) in jobs {
        let spec = IngestSpec {
            path: path.clone(),
            kind,
            encoding: None,
            origin: None,
            fingerprint: None,
            products: Default::default(),
        };
        let counts = ingest::ingest(&store, &ctx.providers, &spec, &opts)?;
        outln!("ingest {}: {counts}", path.display())?;
        lines.push(format!(
            "| `{}` | {} | {} | {} | {} |",
            path.display(),
            counts.read,
            counts.stored,
            counts.duplicates,
            counts.quarantined
        ));
        total += counts;
    }
    let classified = crate::classify::table::classify_store(&store, &*rules, &|_| {})?;
    outln!("classify: {classified} ({})", rules.name())?;
    let detect_opts = crate::detect::DetectOptions::new(&super::models_dir(), &data);
    let det =
        super::detect::detect_store(ctx, &store, &detect_opts, Some(&args.out.join("detect")))?;
    outln!("detect: {}", super::detect::summary(&det))?;
    let csv_path = args.out.join("complaints.csv");
    let rows = export(
        &store,
        &ExportOptions {
            format: Format::Csv,
            providers: vec![],
            sources: vec![],
            langs: vec![],
            categories: vec![],
            since: None,
            until: None,
            excel: true,
            output: Some(csv_path.clone()),
        },
    )?;
    let mut summary = summary(&store, &lines, total, &category_counts(&store)?)?;
    summary.push_str(&campaign_summary(&det));
    let index = super::report::write(ctx, &store, &args.out, None)?;
    outln!("report: {}", index.display())?;
    let summary_path = args.out.join("summary.md");
    crate::store::write_atomic(&summary_path, summary.as_bytes())?;
    outln!("exported {rows} complaints to {}", csv_path.display())?;
    outln!("summary: {}", summary_path.display())?;
    ctx.note(format!(
        "store: {} (query it with DuckDB, see README)",
        store_dir.display()
    ));
    Ok(())
}

/// The largest campaigns and the spike count, for summary.md.
fn campaign_summary(det: &crate::detect::Detection) -> String {
    use crate::detect::output::Col;
    let mut s = format!(
        "\n## Fraud patterns\n\n{}. Tables: `detect/*.csv`; method: docs/detect.md.\n\n| campaign | size | providers | linked by | top indicators |\n|---|---|---|---|---|\n",
        super::detect::summary(det)
    );
    let Some(t) = det.table("campaigns") else {
        return s;
    };
    let cell = |name: &str, row: usize| -> String {
        match t.columns.iter().find(|(n, _)| *n == name).map(|(_, c)| c) {
            Some(Col::Str(v)) => v[row].clone().unwrap_or_default(),
            Some(Col::Int(v)) => v[row].to_string(),
            _ => String::new(),
        }
    };
    for row in 0..t.height().min(5) {
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} | {} |",
            cell("campaign_id", row),
            cell("size", row),
            cell("providers", row).replace('|', "\\|"),
            cell("linked_by", row),
            cell("top_indicators", row).replace('|', "\\|")
        );
    }
    s
}

fn counts_table(df: &DataFrame, key: &str) -> anyhow::Result<String> {
    let mut out = format!("| {key} | complaints |\n|---|---|\n");
    let keys = df.column(key)?;
    let n = df.column("complaints")?;
    for i in 0..df.height() {
        let k = keys.get(i)?;
        let k = match k {
            AnyValue::Null => "(none)".to_string(),
            AnyValue::String(s) => s.to_string(),
            other => other.to_string(),
        };
        writeln!(out, "| {} | {} |", k.replace('|', "\\|"), n.get(i)?)?;
    }
    Ok(out)
}

/// Complaints per category (a complaint with two labels counts for both), from the
/// classification table.
fn category_counts(store: &Store) -> anyhow::Result<Vec<(crate::classify::Category, usize)>> {
    use crate::classify::Category;
    let mut counts = std::collections::BTreeMap::<Category, usize>::new();
    for part in store.complaint_files()? {
        let Some(file) = crate::classify::table::classification_of(store, &part)? else {
            continue;
        };
        let p = file.display().to_string();
        let df = LazyFrame::scan_parquet(PlRefPath::new(p.as_str()), ScanArgsParquet::default())?
            .select([col("categories")])
            .collect()?;
        for row in df.column("categories")?.list()?.amortized_iter().flatten() {
            for c in row.as_ref().str()?.iter().flatten() {
                if let Some(cat) = Category::parse(c) {
                    *counts.entry(cat).or_default() += 1;
                }
            }
        }
    }
    let mut v: Vec<_> = counts.into_iter().collect();
    v.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    Ok(v)
}

fn summary(
    store: &Store,
    lines: &[String],
    total: Reconciliation,
    categories: &[(crate::classify::Category, usize)],
) -> anyhow::Result<String> {
    let by = |key: &str| -> anyhow::Result<String> {
        let df = store
            .scan()?
            .group_by([col(key)])
            .agg([len().alias("complaints")])
            .sort_by_exprs(
                [col("complaints"), col(key)],
                SortMultipleOptions::default().with_order_descending_multi([true, false]),
            )
            .collect()?;
        counts_table(&df, key)
    };
    let mut s = String::from(
        "# walletwatch demo\n\nThe pipeline so far (ingest → normalise → store → classify → detect → export) on the bundled sample.\n\n",
    );
    s.push_str(
        "## Ingest\n\n| file | read | stored | duplicates | quarantined |\n|---|---|---|---|---|\n",
    );
    for l in lines {
        s.push_str(l);
        s.push('\n');
    }
    writeln!(s, "\nTotal: `{total}`\n")?;
    s.push_str(
        "## By category (rules classifier; multi-label)\n\n| category | complaints |\n|---|---|\n",
    );
    for (c, n) in categories {
        writeln!(s, "| {} {} | {n} |", c.id(), c.zh())?;
    }
    s.push_str("\n## Complaints by provider\n\n");
    s.push_str(&by("provider")?);
    s.push_str("\n## By source\n\n");
    s.push_str(&by("source")?);
    s.push_str("\n## By language\n\n");
    s.push_str(&by("lang")?);
    s.push_str("\n## By year\n\n");
    s.push_str(&by("year")?);
    Ok(s)
}

//! `walletwatch eval`: score a classifier against labelled data.

use std::path::PathBuf;

use clap::Args as ClapArgs;

use super::{Context, models_dir};
use crate::classify::eval::{bootstrap, evaluate};
use crate::classify::labels::{LabelledDoc, read_labelled};
use crate::classify::predictions::read_predictions;
use crate::classify::{ClassifierKind, Doc, build_classifier};

/// Options of `eval`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Examples:\n  walletwatch eval --input ../shared/data/cfpb/wallet_dev.csv\n  walletwatch eval --input data/labels/written_zh.ndjson --classifier auto --json\n  walletwatch classify --input docs.ndjson --classifier auto > answers.ndjson\n  walletwatch eval --input labelled.ndjson --predictions answers.ndjson\n\nReads CFPB's CSV or JSON API records (.jsonl, gzipped or not; the Issue mapped to a\ncategory by DESIGN.md's table, unmapped issues left out and counted) or NDJSON with a\n`labels` array.\nPrints per-category precision, recall, F1 and support, macro- and micro-F1 with\n95% bootstrap intervals (--bootstrap), and a confusion table."
)]
pub struct Args {
    /// Labelled file: CFPB CSV or JSON API records (gzipped or not), or NDJSON with `labels`.
    #[arg(long, value_name = "FILE")]
    pub input: PathBuf,
    /// Which classifier to score.
    #[arg(
        long,
        value_enum,
        default_value = "rules",
        conflicts_with = "predictions"
    )]
    pub classifier: crate::classify::ClassifierKind,
    /// Folder of models and rules (default: models/ of the repository).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// The model of `bert` and `auto`: a config of models/bert/ (minilm, e5); default:
    /// models/bert/models.toml (`auto` then picks the model per language).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Score answers given elsewhere instead of running a classifier: NDJSON with `id`,
    /// `categories` (main first) and optional `primary_category` and `classifier`, as
    /// `classify --input` writes them; matched to the labelled documents by id, and every
    /// labelled document needs one.
    #[arg(long, value_name = "FILE", conflicts_with = "model")]
    pub predictions: Option<PathBuf>,
    /// Print the report as JSON instead of Markdown tables.
    #[arg(long)]
    pub json: bool,
    /// Resamples for the 95% bootstrap intervals of macro-F1, micro-F1 and accuracy
    /// (documents drawn with replacement, fixed seed); 0 leaves the intervals out.
    #[arg(long, value_name = "N", default_value_t = 1000)]
    pub bootstrap: usize,
    /// Also print each misclassified document (id, gold, predicted, evidence).
    #[arg(long)]
    pub errors: bool,
}

/// Runs `eval`.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let set = read_labelled(&args.input)?;
    if set.docs.is_empty() {
        anyhow::bail!("{}: no labelled document with text", args.input.display());
    }
    ctx.note(format!(
        "{}: {} labelled documents ({} left out: label not mapped; {} without text)",
        args.input.display(),
        set.docs.len(),
        set.unmapped,
        set.empty
    ));
    let (preds, name) = match &args.predictions {
        Some(path) => {
            let p = read_predictions(path, &set.docs)?;
            if p.extra > 0 {
                ctx.note(format!(
                    "{}: {} answers for documents not scored here (not in {}, or left out above) left out",
                    path.display(),
                    p.extra,
                    args.input.display()
                ));
            }
            (p.preds, p.classifier)
        }
        None => {
            let models = args.models.clone().unwrap_or_else(models_dir);
            let kind: ClassifierKind = args.classifier;
            let classifier = build_classifier(kind, &models, args.model.as_deref())?;
            let docs: Vec<Doc<'_>> = set.docs.iter().map(LabelledDoc::doc).collect();
            let preds = classifier.classify_batch(&docs)?;
            (preds, classifier.name().to_string())
        }
    };
    let mut report = evaluate(&set.docs, &preds, &name);
    if args.bootstrap > 0 {
        report.intervals = Some(bootstrap(&set.docs, &preds, args.bootstrap, 0.95));
    }
    if args.json {
        outln!("{}", serde_json::to_string_pretty(&report)?)?;
    } else {
        out!("{}", report.to_markdown())?;
    }
    if args.errors {
        for (d, p) in set.docs.iter().zip(&preds) {
            if !d.labels.contains(&p.primary_category) {
                outln!(
                    "{}\tgold={}\tpredicted={}\t{}\t{}",
                    d.id,
                    d.labels
                        .iter()
                        .map(|c| c.id())
                        .collect::<Vec<_>>()
                        .join(","),
                    p.categories
                        .iter()
                        .map(|c| c.id())
                        .collect::<Vec<_>>()
                        .join(","),
                    serde_json::to_string(&p.evidence)?,
                    d.text
                        .chars()
                        .take(160)
                        .collect::<String>()
                        .replace('\n', " ")
                )?;
            }
        }
    }
    Ok(())
}

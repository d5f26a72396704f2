//! `walletwatch train`: train the head of the model classifier on labelled data.

use std::path::PathBuf;

use clap::Args as ClapArgs;

use super::{Context, models_dir};

/// Options of `train`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Example:\n  walletwatch train --input ../shared/data/cfpb/wallet_dev.csv --input data/labels/written_en.ndjson \\\n      --input ../shared/data/cfpb/complaints_sample_3000.csv --issue-map data/labels/cfpb_other_products.toml\n\nEmbeds every labelled document in a language the model is trusted for (see\nmodels/bert/minilm.toml, or e5.toml with --model e5), reports k-fold\ncross-validated scores per input file, then fits the head on everything and writes\nit (with the data it was trained on, the date and those scores) to the head file\nthe config names (models/head/minilm-head.json, e5-head.json). Needs the `bert` build.\nRefuses the CFPB test split: never train or tune on it."
)]
pub struct Args {
    /// Labelled file (CFPB CSV or JSON API records, gzipped or not, or NDJSON with
    /// `labels`); repeatable.
    #[arg(long, value_name = "FILE", required = true)]
    pub input: Vec<PathBuf>,
    /// Folder of models and rules (default: models/ of the repository).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// The model whose head to train: a config of models/bert/ (minilm, e5); default:
    /// models/bert/models.toml's `default`.
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
    /// Cross-validation folds for the reported scores.
    #[arg(long, default_value_t = 5)]
    pub folds: usize,
    /// L2 penalty of the logistic regression [default: the model config's `head_l2`, else
    /// 0.001].
    #[arg(long)]
    pub l2: Option<f32>,
    /// Gradient-descent epochs [default: the model config's `head_epochs`, else 400].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Labels for CFPB rows of other products, by (Issue, Sub-issue)
    /// (data/labels/cfpb_other_products.toml): more training data.
    #[arg(long, value_name = "MAP.toml")]
    pub issue_map: Option<PathBuf>,
    /// A held-out split whose complaint ids are never trained on, in whatever input they
    /// appear (repeatable; default: ../shared/data/cfpb/wallet_test.csv when present).
    #[arg(long, value_name = "FILE")]
    pub holdout: Vec<PathBuf>,
    /// Train the head on the embedding alone, without the rules' six scores after it.
    #[arg(long)]
    pub no_rules_features: bool,
    /// Also write the cross-validated answers, one `classify --input` line per labelled
    /// document, to FILE: score them with `eval --predictions` (add `--errors` to read the
    /// misses).
    #[arg(long, value_name = "FILE")]
    pub cv_predictions: Option<PathBuf>,
}

/// Runs `train`.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    for p in &args.input {
        if p.file_name()
            .is_some_and(|n| n.to_string_lossy().contains("wallet_test"))
        {
            anyhow::bail!(
                "{}: this is the held-out test split; train on wallet_dev.csv and evaluate on the test split with `walletwatch eval`",
                p.display()
            );
        }
    }
    let models = args.models.clone().unwrap_or_else(models_dir);
    train(ctx, &args, &models)
}

#[cfg(feature = "bert")]
fn train(ctx: &Context, args: &Args, models: &std::path::Path) -> anyhow::Result<()> {
    let mut extra = crate::classify::train::TrainData {
        issue_map: args
            .issue_map
            .as_deref()
            .map(crate::classify::labels::IssueMap::load)
            .transpose()?,
        rules_features: !args.no_rules_features,
        model: args.model.clone(),
        l2: args.l2,
        epochs: args.epochs,
        cv_predictions: args.cv_predictions.clone(),
        ..Default::default()
    };
    /// The held-out test split, when it sits beside the checkout.
    const DEFAULT_HOLDOUT: &str = "../shared/data/cfpb/wallet_test.csv";
    let mut holdout = args.holdout.clone();
    if holdout.is_empty() && std::path::Path::new(DEFAULT_HOLDOUT).exists() {
        holdout.push(DEFAULT_HOLDOUT.into());
    }
    for h in &holdout {
        extra.holdout.extend(crate::classify::labels::ids_of(h)?);
    }
    ctx.note(format!(
        "{} held-out complaint id(s) are never trained on",
        extra.holdout.len()
    ));
    let out =
        crate::classify::train::train(&args.input, models, args.folds, &extra, &|m| ctx.note(m))?;
    outln!("{out}")?;
    Ok(())
}

#[cfg(not(feature = "bert"))]
fn train(_ctx: &Context, _args: &Args, _models: &std::path::Path) -> anyhow::Result<()> {
    Err(crate::classify::no_bert())
}

//! `walletwatch ingest cfpb|export`: files into the store, every row accounted for.

use std::path::PathBuf;

use anyhow::Context as _;
use clap::{Args as ClapArgs, Subcommand};

use super::Context;
use crate::ingest::{
    self, IngestSpec, Reconciliation, RunOptions, SourceKind, export::Mapping, input,
};
use crate::store::Store;

/// Options every ingester shares.
#[derive(Debug, ClapArgs)]
pub struct Common {
    /// Text encoding of the input (utf-8, gbk, gb18030, big5…); detected when not given.
    #[arg(long, value_name = "NAME")]
    pub encoding: Option<String>,
    /// Records per batch: memory use is a few batches.
    #[arg(long, default_value_t = 50_000, hide = true)]
    pub batch_rows: usize,
}

/// Ingest sources.
#[derive(Debug, Subcommand)]
pub enum IngestCommand {
    /// The CFPB Consumer Complaint Database: any CSV form (16, 18 columns, with Event tag)
    /// or the JSON API form, plain or gzipped.
    #[command(
        after_help = "Example:\n  walletwatch --store data/store ingest cfpb complaints.csv complaints_api.jsonl.gz\n\nPrints one line a file: read N = stored A + duplicates D + quarantined Q.\nQuarantined rows are in <store>/quarantine/ with their line number and reason."
    )]
    Cfpb {
        /// Files to ingest.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        #[command(flatten)]
        common: Common,
    },
    /// Any CSV, JSON-array or NDJSON export, described by a mapping file.
    #[command(
        after_help = "Example:\n  walletwatch ingest export complaints.ndjson --mapping data/mappings/heimao_ndjson.toml\n\nThe mapping format is described in docs/mapping-files.md."
    )]
    Export {
        /// Files to ingest.
        #[arg(required = true, value_name = "FILE")]
        files: Vec<PathBuf>,
        /// Mapping file (TOML) naming which field is the text, title, date, provider…
        #[arg(long, short, value_name = "MAP.toml")]
        mapping: PathBuf,
        #[command(flatten)]
        common: Common,
    },
}

/// Runs an ingest command.
pub fn run(ctx: &Context, cmd: IngestCommand) -> anyhow::Result<()> {
    let (files, kind, common) = match cmd {
        IngestCommand::Cfpb { files, common } => (files, SourceKind::Cfpb, common),
        IngestCommand::Export {
            files,
            mapping,
            common,
        } => (files, SourceKind::Export(Mapping::load(&mapping)?), common),
    };
    let forced = match (&common.encoding, &kind) {
        (Some(label), _) => Some(input::encoding_by_label(label).with_context(|| {
            format!("unknown encoding {label:?} (try utf-8, gbk, gb18030, big5)")
        })?),
        (None, SourceKind::Export(m)) => m.encoding.as_deref().and_then(input::encoding_by_label),
        (None, SourceKind::Cfpb) => None,
    };
    let store = Store::open(&ctx.store)?;
    let opts = RunOptions {
        batch_rows: common.batch_rows,
        progress: !ctx.quiet,
    };
    let mut total = Reconciliation::default();
    for path in &files {
        let spec = IngestSpec {
            path: path.clone(),
            kind: kind.clone(),
            encoding: forced,
            origin: None,
            fingerprint: None,
        };
        let counts = ingest::ingest(&store, &ctx.providers, &spec, &opts)?;
        println!("{}: {counts}", path.display());
        if counts.quarantined > 0 {
            ctx.note(format!(
                "  {} row(s) quarantined with their line and reason in {}",
                counts.quarantined,
                ctx.store.join("quarantine").display()
            ));
        }
        total += counts;
    }
    if files.len() > 1 {
        println!("total: {total}");
    }
    Ok(())
}

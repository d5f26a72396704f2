//! `walletwatch classify`: classify the store, or NDJSON lines from a file.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args as ClapArgs;

use super::{Context, models_dir};
use crate::classify::table::classify_store;
use crate::classify::{Classifier, ClassifierKind, Doc, build_classifier, input};
use crate::store::Store;

/// Options of `classify`.
#[derive(Debug, ClapArgs)]
#[command(
    after_help = "Examples:\n  walletwatch classify\n  walletwatch classify --input complaints.ndjson > labels.ndjson\n  echo '{\"id\":1,\"text\":\"客服说不是诈骗，让我点钓鱼链接\"}' | walletwatch classify --input -\n\nWithout --input, classifies every stored complaint not yet classified by this\nclassifier version into <store>/classifications/. With --input, reads lines with\n`id`, `text` and optional `title`, and writes one line per input with `id`,\n`categories`, `primary_category`, `scores`, `evidence`, `classifier`. A malformed\nline is reported on stderr with its number (exit code 1); the rest still classify."
)]
pub struct Args {
    /// Which classifier: rules (default, needs nothing), bert (needs the `bert` build), auto.
    #[arg(long, value_enum, default_value = "rules")]
    pub classifier: ClassifierKind,
    /// UTF-8 NDJSON input (`-` for standard input) instead of the store: one object a line with `id`, `text` and an optional `title`.
    #[arg(long, value_name = "FILE")]
    pub input: Option<PathBuf>,
    /// Output file for --input (standard output when absent).
    #[arg(short, long, value_name = "FILE", requires = "input")]
    pub output: Option<PathBuf>,
    /// Folder of models and rules (default: models/ of the repository).
    #[arg(long, value_name = "DIR")]
    pub models: Option<PathBuf>,
    /// The model of `bert` and `auto`: a config of models/bert/ (minilm, e5); default:
    /// models/bert/models.toml (`auto` then picks the model per language).
    #[arg(long, value_name = "NAME")]
    pub model: Option<String>,
}

/// Lines of `--input` classified at a time by the rules, and by a model (smaller, so that
/// the progress bar moves every few seconds; still eight of its batches to sort by length).
const CHUNK: usize = 4096;
const MODEL_CHUNK: usize = 256;
/// Bytes of `--input` read at a time (a few thousand complaints of a file).
const READ_BYTES: usize = 4 << 20;

/// Runs `classify`.
pub fn run(ctx: &Context, args: Args) -> anyhow::Result<()> {
    let models = args.models.clone().unwrap_or_else(models_dir);
    let classifier = build_classifier(args.classifier, &models, args.model.as_deref())?;
    match &args.input {
        Some(path) => {
            let chunk = match args.classifier {
                ClassifierKind::Rules => CHUNK,
                ClassifierKind::Bert | ClassifierKind::Auto => MODEL_CHUNK,
            };
            classify_file(ctx, &*classifier, path, args.output.as_ref(), chunk)
        }
        None => {
            let store = Store::open_existing(&ctx.store)?;
            let total = store.complaint_files()?.len() as u64;
            let bar = crate::progress::counter(total, !ctx.quiet, "classify", "part files");
            let counts = classify_store(&store, &*classifier, &|_| bar.inc(1))?;
            bar.finish_and_clear();
            outln!("{counts} ({})", classifier.name())?;
            Ok(())
        }
    }
}

/// Malformed lines of a `--input` file listed one by one; the rest are counted (a CSV
/// given by mistake would otherwise list every one of its lines).
const LISTED_MALFORMED: usize = 100;

fn classify_file(
    ctx: &Context,
    classifier: &dyn Classifier,
    path: &PathBuf,
    output: Option<&PathBuf>,
    chunk_len: usize,
) -> anyhow::Result<()> {
    let name = path.display().to_string();
    // A file's bytes read show on a terminal; standard input has no length to show.
    let (source, bar): (Box<dyn std::io::Read>, _) = if name == "-" {
        (Box::new(std::io::stdin()), indicatif::ProgressBar::hidden())
    } else {
        let file = std::fs::File::open(path).with_context(|| format!("{name}: cannot open"))?;
        let len = file.metadata().map(|m| m.len()).unwrap_or(0);
        let bar = crate::progress::bar(len, !ctx.quiet, "classify");
        (Box::new(bar.wrap_read(file)), bar)
    };
    let sink: Box<dyn Write> = match output {
        Some(o) => Box::new(
            std::fs::File::create(o).with_context(|| format!("{}: cannot create", o.display()))?,
        ),
        None => Box::new(std::io::stdout().lock()),
    };
    let mut sink = std::io::BufWriter::new(sink);
    // Streamed a chunk at a time, so that memory stays flat however long the input and
    // the answers of a chunk are out before the next is read. A chunk also ends where the
    // lines read so far run out: a pipe fed a complaint at a time gets each answer before
    // it sends the next.
    let mut docs = input::Docs::new(source, READ_BYTES);
    let (mut classified, mut malformed) = (0usize, 0usize);
    loop {
        let mut chunk = Vec::with_capacity(chunk_len);
        let mut end = true;
        while let Some(doc) = docs.next() {
            match doc.with_context(|| format!("{name}: cannot read"))? {
                Ok(d) => chunk.push(d),
                Err(e) => {
                    malformed += 1;
                    if malformed <= LISTED_MALFORMED {
                        bar.suspend(|| eprintln!("error: {name}: {e}"));
                    } else if malformed == LISTED_MALFORMED + 1 {
                        bar.suspend(|| {
                            eprintln!(
                                "error: {name}: more malformed lines follow; they are counted, not listed"
                            );
                        });
                    }
                }
            }
            if chunk.len() == chunk_len || (!chunk.is_empty() && docs.drained()) {
                end = false;
                break;
            }
        }
        if chunk.is_empty() {
            break; // only at the end: a chunk cut short holds a document
        }
        let batch: Vec<Doc<'_>> = chunk.iter().map(input::InputDoc::doc).collect();
        let results = classifier.classify_batch(&batch)?;
        for (d, r) in chunk.iter().zip(results) {
            serde_json::to_writer(&mut sink, &r.to_json(&d.id))?;
            sink.write_all(b"\n")?;
        }
        sink.flush()?;
        classified += chunk.len();
        if end {
            break;
        }
    }
    bar.finish_and_clear();
    ctx.note(format!(
        "classified {classified} line(s), {malformed} malformed ({})",
        classifier.name()
    ));
    // Every line of several malformed: not NDJSON at all (one bad line is just that).
    if malformed > 1 && classified == 0 {
        anyhow::bail!(
            "{name}: none of its {malformed} line(s) is a JSON object with `id` and `text`: \
             `classify --input` reads NDJSON; a CSV or JSON export is \
             classified by ingesting it (`walletwatch ingest cfpb FILE`, or `ingest export FILE \
             --mapping MAP.toml`), then `walletwatch classify`"
        );
    }
    if malformed > 0 {
        anyhow::bail!(
            "{name}: {malformed} malformed line(s) were not classified ({} listed above)",
            if malformed > LISTED_MALFORMED {
                format!("the first {LISTED_MALFORMED}")
            } else {
                "all".to_string()
            }
        );
    }
    Ok(())
}

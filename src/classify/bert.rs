//! The model classifier (cargo feature `bert`): sentence embeddings from a transformer run
//! by rust-bert on the CPU, and the trained [`Head`] over them. [`Auto`] combines it with
//! the rules: the model for the languages it is trusted for, the rules otherwise, and
//! confident rules labels added to the model's.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rust_bert::pipelines::common::{ModelType, TokenizerOption};
use rust_bert::pipelines::sentence_embeddings::{
    SentenceEmbeddingsConfig, SentenceEmbeddingsModel,
};
use rust_bert::resources::LocalResource;
use serde::Deserialize;

use super::head::Head;
use super::rules::Rules;
use super::{Category, Classification, Classifier, Doc, Evidence};

/// `models/bert/<model>.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ModelConfig {
    /// Model name (stored with results and heads).
    pub name: String,
    /// Environment variable naming the weights folder.
    pub weights_env: String,
    /// Weights folder relative to the config file, when the variable is not set.
    pub weights_dir: String,
    /// Sentence-transformers config with `max_seq_length`, relative to the config file.
    pub sentence_bert_config: String,
    /// Texts per forward pass.
    pub batch_size: usize,
    /// Languages the model is trusted for.
    pub languages: Vec<String>,
    /// Under `auto`, rules labels at or above this score are added.
    pub auto_rules_confident: f32,
    /// The head file, relative to the config file.
    pub head: String,
    /// A second head, over the embedding alone, used where the rules give a complaint no
    /// category (the stacked head, whose rules inputs are then all but zero, leans to what
    /// such complaints mostly were in training); `train` fits both. Relative to the config.
    #[serde(default)]
    pub plain_head: Option<String>,
    /// The tokenizer: `wordpiece` (BERT's `vocab.txt`, the default) or `xlm-roberta`
    /// (a SentencePiece `sentencepiece.bpe.model`).
    #[serde(default)]
    pub tokenizer: TokenizerKind,
    /// Put before every text (multilingual-e5 expects `query: `).
    #[serde(default)]
    pub prefix: String,
    /// L2 penalty `train` fits the head with (chosen on the dev split's cross-validated
    /// scores); `train --l2` overrides it.
    #[serde(default)]
    pub head_l2: Option<f32>,
    /// Gradient-descent epochs `train` fits the head with; `train --epochs` overrides it.
    #[serde(default)]
    pub head_epochs: Option<usize>,
}

/// How a model cuts text into tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum TokenizerKind {
    /// BERT's WordPiece, from `vocab.txt`.
    #[default]
    Wordpiece,
    /// XLM-RoBERTa's SentencePiece unigram model, from `sentencepiece.bpe.model`.
    XlmRoberta,
}

impl TokenizerKind {
    fn vocab_file(self) -> &'static str {
        match self {
            TokenizerKind::Wordpiece => "vocab.txt",
            TokenizerKind::XlmRoberta => "sentencepiece.bpe.model",
        }
    }
}

/// `models/bert/models.toml`: the default model, and which model `auto` trusts per
/// language.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Models {
    /// The model of `--classifier bert` and `train` when `--model` is not given.
    pub default: String,
    /// Language (`en`, `zh`) → model name; `auto` uses the rules for other languages.
    pub auto: std::collections::BTreeMap<String, String>,
    /// Language → model that `auto` asks when the rules, deciding that language, give a
    /// complaint no category (they would answer `other`); loaded at its first such complaint.
    #[serde(default)]
    pub auto_fallback: std::collections::BTreeMap<String, String>,
}

impl Models {
    /// Reads `<models>/bert/models.toml`.
    pub fn load(models: &Path) -> anyhow::Result<Models> {
        let path = models.join("bert/models.toml");
        let text = std::fs::read_to_string(&path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))
    }
}

/// Longest text handed to the tokenizer, in bytes (the model sees 128 tokens anyway).
const MAX_TEXT_BYTES: usize = 2000;

/// Sentence embeddings.
pub struct Embedder {
    model: Mutex<SentenceEmbeddingsModel>,
    /// Model name.
    pub name: String,
    batch_size: usize,
    prefix: String,
}

impl ModelConfig {
    /// Reads `models/bert/minilm.toml` (or another model file).
    pub fn load(path: &Path) -> anyhow::Result<(ModelConfig, PathBuf)> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let c: ModelConfig =
            toml::from_str(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        Ok((c, path.parent().unwrap_or(Path::new(".")).to_path_buf()))
    }
}

fn truncate(s: &str) -> &str {
    &s[..s.floor_char_boundary(MAX_TEXT_BYTES)]
}

/// The folder of a model's weights (the config's environment variable, else its folder
/// beside the config), checked to hold every file the model needs.
fn weights_dir(config: &ModelConfig, base: &Path) -> anyhow::Result<PathBuf> {
    let dir = std::env::var_os(&config.weights_env)
        .map(PathBuf::from)
        .unwrap_or_else(|| base.join(&config.weights_dir));
    let vocab = config.tokenizer.vocab_file();
    for f in [
        "config.json",
        vocab,
        "model.safetensors",
        "1_Pooling/config.json",
        "modules.json",
    ] {
        if !dir.join(f).exists() {
            anyhow::bail!(
                "{}: no {f}: the {} weights are not installed; run `eval \"$(scripts/setup-model.sh)\"` (sets {}) or put them in {}",
                dir.display(),
                config.name,
                config.weights_env,
                base.join(&config.weights_dir).display()
            );
        }
    }
    Ok(dir)
}

impl Embedder {
    /// Loads the model named by a config file; weights from the config's environment
    /// variable or folder, never from the network.
    pub fn load(config: &ModelConfig, base: &Path) -> anyhow::Result<Embedder> {
        let dir = weights_dir(config, base)?;
        let vocab = config.tokenizer.vocab_file();
        let local = |p: PathBuf| -> Box<dyn rust_bert::resources::ResourceProvider + Send> {
            Box::new(LocalResource::from(p))
        };
        let cfg = SentenceEmbeddingsConfig {
            modules_config_resource: local(dir.join("modules.json")),
            transformer_type: ModelType::Bert,
            transformer_config_resource: local(dir.join("config.json")),
            transformer_weights_resource: local(dir.join("model.safetensors")),
            pooling_config_resource: local(dir.join("1_Pooling/config.json")),
            dense_config_resource: None,
            dense_weights_resource: None,
            sentence_bert_config_resource: local(base.join(&config.sentence_bert_config)),
            tokenizer_config_resource: local(dir.join("tokenizer_config.json")),
            tokenizer_vocab_resource: local(dir.join(vocab)),
            tokenizer_merges_resource: None,
            device: tch::Device::Cpu,
            kind: None,
        };
        let cannot = |e| anyhow::anyhow!("{}: cannot load {}: {e}", dir.display(), config.name);
        let model = match config.tokenizer {
            TokenizerKind::Wordpiece => SentenceEmbeddingsModel::new(cfg).map_err(cannot)?,
            TokenizerKind::XlmRoberta => {
                // A BERT encoder under XLM-RoBERTa's tokenizer (multilingual-e5): the
                // pipeline would pick the tokenizer by the encoder's type, so it is given.
                let path = dir.join(vocab);
                let tokenizer = TokenizerOption::from_file(
                    ModelType::XLMRoberta,
                    &path.to_string_lossy(),
                    None,
                    false,
                    None,
                    None,
                )
                .map_err(cannot)?;
                SentenceEmbeddingsModel::new_with_tokenizer(cfg, tokenizer).map_err(cannot)?
            }
        };
        Ok(Embedder {
            model: Mutex::new(model),
            name: config.name.clone(),
            batch_size: config.batch_size.max(1),
            prefix: config.prefix.clone(),
        })
    }

    /// Embeds texts (L2-normalised), batching by length to keep padding small.
    pub fn embed(&self, texts: &[&str]) -> anyhow::Result<Vec<Vec<f32>>> {
        let mut order: Vec<usize> = (0..texts.len()).collect();
        order.sort_by_key(|&i| texts[i].len());
        let mut out = vec![Vec::new(); texts.len()];
        let model = self
            .model
            .lock()
            .map_err(|_| anyhow::anyhow!("model lock poisoned"))?;
        let _guard = tch::no_grad_guard();
        for chunk in order.chunks(self.batch_size) {
            let batch: Vec<String> = chunk
                .iter()
                .map(|&i| format!("{}{}", self.prefix, truncate(texts[i])))
                .collect();
            let embs = model
                .encode(&batch)
                .map_err(|e| anyhow::anyhow!("embedding failed: {e}"))?;
            for (&i, e) in chunk.iter().zip(embs) {
                out[i] = e;
            }
        }
        Ok(out)
    }
}

fn doc_text(d: &Doc<'_>) -> String {
    match d.title {
        Some(t) if !t.is_empty() => format!("{t}. {}", d.text),
        _ => d.text.to_string(),
    }
}

/// The model classifier: embeddings + head (+ the rules' scores, for a stacked head).
pub struct Bert {
    embedder: Embedder,
    head: Head,
    /// The embedding-only head for complaints the rules give no category (`plain_head`).
    plain: Option<Head>,
    name: String,
    /// The rules whose scores the head takes after the embedding, if it does.
    rules: Option<Rules>,
    /// What decided, as the evidence names it (`all-MiniLM-L6-v2`, `…+rules` when stacked).
    model: String,
}

/// The name (and version) of a model with its head, as stored with every result:
/// `bert:<model>[+rules]+head[+plain]@<trained at>` (`+plain`: with the embedding-only
/// head for complaints the rules give no category; `train` writes both heads together).
fn bert_name(config: &ModelConfig, head: &Head) -> String {
    let stacked = if head.rules_features.is_some() {
        "+rules"
    } else {
        ""
    };
    let plain = if head.rules_features.is_some() && config.plain_head.is_some() {
        "+plain"
    } else {
        ""
    };
    format!(
        "bert:{}{stacked}+head{plain}@{}",
        config.name, head.provenance.trained_at
    )
}

/// A model's heads, checked against its config: the head (`head`) and, when the config
/// names one, the embedding-only head (`plain_head`).
fn load_heads(config: &ModelConfig, base: &Path) -> anyhow::Result<(Head, Option<Head>)> {
    let head = Head::load(&base.join(&config.head))?;
    if head.embedding != config.name {
        anyhow::bail!(
            "{}: trained on {} embeddings, but the model is {}; run `walletwatch train` again",
            base.join(&config.head).display(),
            head.embedding,
            config.name
        );
    }
    let plain = match &config.plain_head {
        None => None,
        Some(file) => {
            let plain = Head::load(&base.join(file))?;
            if plain.embedding != config.name || plain.rules_features.is_some() {
                anyhow::bail!(
                    "{}: not an embedding-only head of {}; run `walletwatch train` again",
                    base.join(file).display(),
                    config.name
                );
            }
            Some(plain)
        }
    };
    Ok((head, plain))
}

/// `auto`'s model for a language the rules decide: one of its own models when it has
/// loaded that one for another language (one copy of the weights), else loaded lazily.
enum Fallback {
    /// An index into `Auto::models`.
    Loaded(usize),
    Lazy(Box<LazyBert>),
}

/// A model that `auto` loads only when a complaint first needs it (a fallback: e5 is 470 MB
/// of weights that an English-only batch never uses). Its head and weights are checked
/// when it is named, so a missing file is reported at start, not mid-run.
struct LazyBert {
    config: ModelConfig,
    base: PathBuf,
    models: PathBuf,
    name: String,
    loaded: std::sync::OnceLock<Result<Bert, String>>,
}

impl LazyBert {
    fn new(config: ModelConfig, base: PathBuf, models: &Path) -> anyhow::Result<LazyBert> {
        let (head, _) = load_heads(&config, &base)?;
        weights_dir(&config, &base)?;
        Ok(LazyBert {
            name: bert_name(&config, &head),
            config,
            base,
            models: models.to_path_buf(),
            loaded: std::sync::OnceLock::new(),
        })
    }

    fn get(&self) -> anyhow::Result<&Bert> {
        self.loaded
            .get_or_init(|| {
                Bert::load(&self.config, &self.base, &self.models).map_err(|e| format!("{e:#}"))
            })
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e}"))
    }
}

/// A head's input: the embedding, then the six rules scores when the head stacks them.
pub fn head_input(mut embedding: Vec<f32>, rules: Option<&Classification>) -> Vec<f32> {
    if let Some(r) = rules {
        embedding.extend_from_slice(&r.scores);
    }
    embedding
}

impl Bert {
    /// Loads the model and its head; `models` is the models folder (for a stacked head's
    /// rules, `models/rules`).
    pub fn load(config: &ModelConfig, base: &Path, models: &Path) -> anyhow::Result<Bert> {
        let (head, plain) = load_heads(config, base)?;
        let rules = match &head.rules_features {
            None => None,
            Some(trained_with) => {
                let rules = Rules::load(&models.join("rules"))?;
                if rules.name() != trained_with {
                    tracing::warn!(head = %base.join(&config.head).display(), trained_with = %trained_with, now = %rules.name(),
                        "the head was trained with other rules; run `walletwatch train` again for the best scores");
                }
                Some(rules)
            }
        };
        let embedder = Embedder::load(config, base)?;
        let name = bert_name(config, &head);
        let stacked = if rules.is_some() { "+rules" } else { "" };
        let model = format!("{}{stacked}", embedder.name);
        Ok(Bert {
            embedder,
            head,
            plain,
            name,
            rules,
            model,
        })
    }

    /// The head that answers complaints the rules give no category: the embedding-only
    /// one when there is one, else the stacked head.
    fn silent_head(&self) -> &Head {
        self.plain.as_ref().unwrap_or(&self.head)
    }

    /// What answers complaints the rules give no category, as the evidence names it:
    /// `<model> (embedding only)` with an embedding-only head, else the stacked model.
    fn silent_decider(&self) -> String {
        match self.plain {
            Some(_) => format!("{} (embedding only)", self.embedder.name),
            None => self.model.clone(),
        }
    }

    fn to_classification(&self, p: [f32; 6]) -> Classification {
        self.head.classification(p, &self.model, self.name.clone())
    }
}

impl Classifier for Bert {
    fn name(&self) -> &str {
        &self.name
    }

    fn parts_in_hand(&self) -> usize {
        1 // the embedding is the bottleneck (measured: 2 parts, 2,000 complaints, 0.6 → 0.87 GiB, no faster)
    }

    fn classify_batch(&self, docs: &[Doc<'_>]) -> anyhow::Result<Vec<Classification>> {
        let texts: Vec<String> = docs.iter().map(doc_text).collect();
        let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
        let embs = self.embedder.embed(&refs)?;
        let plain_model = format!(
            "{} (embedding only: the rules gave no category)",
            self.embedder.name
        );
        Ok(embs
            .into_iter()
            .zip(docs)
            .map(|(e, d)| {
                let rules = self.rules.as_ref().map(|r| r.classify(*d));
                if let (Some(plain), Some(r)) = (&self.plain, &rules)
                    && r.categories == [Category::Other]
                {
                    // The rules gave no category: the embedding-only head decides.
                    return plain.classification(
                        plain.predict(&e),
                        &plain_model,
                        self.name.clone(),
                    );
                }
                let x = head_input(e, rules.as_ref());
                self.to_classification(self.head.predict(&x))
            })
            .collect())
    }
}

/// `auto`: per language, the model `models/bert/models.toml` trusts for it, the rules for
/// every other language; confident rules labels are added to the model's. Where the rules
/// decide and give no category, a language's fallback model (if one is set) decides instead.
pub struct Auto {
    /// The models, each with its config's confidence bar for rules labels.
    models: Vec<(Bert, f32)>,
    /// Language → index into `models`.
    by_lang: Vec<(String, usize)>,
    /// Language → the model asked when the rules give no category.
    fallback: Vec<(String, Fallback)>,
    rules: Rules,
    name: String,
}

impl Auto {
    /// Combines loaded models (each with its config) and the rules; `routes` gives each
    /// language's model as an index into `models`.
    pub fn new(
        models: Vec<(Bert, &ModelConfig)>,
        routes: Vec<(String, usize)>,
        rules: Rules,
    ) -> anyhow::Result<Auto> {
        for (lang, i) in &routes {
            trusts(models[*i].1, lang)?;
        }
        let mut auto = Auto {
            models: models
                .into_iter()
                .map(|(b, c)| (b, c.auto_rules_confident))
                .collect(),
            by_lang: routes,
            fallback: Vec::new(),
            rules,
            name: String::new(),
        };
        auto.name = auto.compose_name();
        Ok(auto)
    }

    /// `auto(en: <model> | <rules> | zh when the rules give no category: <model>)`: stored with
    /// every result, so it names everything that could have decided.
    fn compose_name(&self) -> String {
        let models: Vec<String> = self
            .by_lang
            .iter()
            .map(|(lang, i)| format!("{lang}: {}", self.models[*i].0.name()))
            .collect();
        let fallbacks: String = self
            .fallback
            .iter()
            .map(|(lang, f)| {
                let name = match f {
                    Fallback::Loaded(i) => self.models[*i].0.name(),
                    Fallback::Lazy(m) => &m.name,
                };
                format!(" | {lang} when the rules give no category: {name}")
            })
            .collect();
        format!(
            "auto({} | {}{fallbacks})",
            models.join(", "),
            self.rules.name()
        )
    }

    /// Sets the model asked for complaints in `lang` when the rules give no category in them.
    fn with_fallback(
        mut self,
        lang: &str,
        config: &ModelConfig,
        model: Fallback,
    ) -> anyhow::Result<Auto> {
        trusts(config, lang)?;
        if self.model_for(lang).is_some() {
            anyhow::bail!(
                "auto: language {lang} has a model and a fallback; a fallback is for a language the rules decide"
            );
        }
        self.fallback.push((lang.to_string(), model));
        self.name = self.compose_name();
        Ok(self)
    }

    fn model_for(&self, lang: &str) -> Option<usize> {
        self.by_lang.iter().find(|(l, _)| l == lang).map(|r| r.1)
    }

    /// The rules' answers where they decide; where they give no category and the language has
    /// a fallback model, that model's answer, batched per model.
    fn rules_decide(&self, docs: &[(Doc<'_>, &str)]) -> anyhow::Result<Vec<Classification>> {
        let trusted: Vec<&str> = self.by_lang.iter().map(|(l, _)| l.as_str()).collect();
        let mut out: Vec<Classification> = Vec::with_capacity(docs.len());
        let mut asks: Vec<Vec<usize>> = vec![Vec::new(); self.fallback.len()];
        for (i, (d, lang)) in docs.iter().enumerate() {
            let mut c = self.rules.classify(*d);
            let fallback = self.fallback.iter().position(|(l, _)| l == lang);
            let why = format!(
                "auto: rules decided (language {lang}; a model is trusted for {})",
                trusted.join(", ")
            );
            if c.categories == [Category::Other] {
                // No category (nothing matched, or only negated phrases).
                if let Some(f) = fallback {
                    asks[f].push(i);
                }
            }
            if c.evidence.is_empty() {
                // Nothing matched: say so, or the answer `other` would not say who gave it.
                c.evidence.push(Evidence {
                    category: c.primary_category,
                    by: "rules",
                    detail: vec![why],
                });
            } else {
                for e in &mut c.evidence {
                    e.detail.insert(0, why.clone());
                }
            }
            c.classifier = self.name.clone();
            out.push(c);
        }
        for (f, idx) in asks.iter().enumerate() {
            if idx.is_empty() {
                continue;
            }
            let (lang, model) = &self.fallback[f];
            let bert = match model {
                Fallback::Loaded(i) => &self.models[*i].0,
                Fallback::Lazy(m) => m.get()?,
            };
            let mine: Vec<Doc<'_>> = idx.iter().map(|&i| docs[i].0).collect();
            // Only a label the model is sure of (at the threshold of the head that answers
            // these complaints) replaces `other`; a guess below it would read as an answer
            // where neither the rules nor the model has one.
            let bar = bert.silent_head().threshold;
            let decider = bert.silent_decider();
            for (&i, mut c) in idx.iter().zip(bert.classify_batch(&mine)?) {
                let best = c.scores.iter().copied().fold(0.0f32, f32::max);
                if best < bar {
                    let why = format!(
                        "auto: the rules gave no category (language {lang}) and {decider} was not sure either (best p={best:.3} < {bar}): left as other"
                    );
                    out[i].evidence.push(Evidence {
                        category: Category::Other,
                        by: "bert",
                        detail: vec![why],
                    });
                    continue;
                }
                let why = format!(
                    "auto: the rules gave no category (language {lang}); {decider} decided"
                );
                for e in &mut c.evidence {
                    e.detail.insert(0, why.clone());
                }
                c.classifier = self.name.clone();
                out[i] = c;
            }
        }
        Ok(out)
    }
}

/// Fails unless a model's config trusts it for `lang`.
fn trusts(config: &ModelConfig, lang: &str) -> anyhow::Result<()> {
    if config.languages.iter().any(|l| l == lang) {
        Ok(())
    } else {
        anyhow::bail!(
            "auto: {} is set for language {lang}, but its config trusts it for {} only",
            config.name,
            config.languages.join(", ")
        )
    }
}

impl Classifier for Auto {
    fn name(&self) -> &str {
        &self.name
    }

    fn parts_in_hand(&self) -> usize {
        1 // as each model
    }

    fn classify_batch(&self, docs: &[Doc<'_>]) -> anyhow::Result<Vec<Classification>> {
        let route: Vec<(&str, Option<usize>)> = docs
            .iter()
            .map(|d| {
                let lang = crate::normalise::text::detect_lang(&doc_text(d));
                (lang, self.model_for(lang))
            })
            .collect();
        // Each model classifies its languages' documents in one batch.
        let mut model_out: Vec<std::vec::IntoIter<Classification>> = Vec::new();
        for (m, (bert, _)) in self.models.iter().enumerate() {
            let mine: Vec<Doc<'_>> = docs
                .iter()
                .zip(&route)
                .filter(|(_, r)| r.1 == Some(m))
                .map(|(d, _)| *d)
                .collect();
            model_out.push(bert.classify_batch(&mine)?.into_iter());
        }
        // The documents the rules decide, with the fallback where they give no category.
        let ruled: Vec<(Doc<'_>, &str)> = docs
            .iter()
            .zip(&route)
            .filter(|(_, r)| r.1.is_none())
            .map(|(d, r)| (*d, r.0))
            .collect();
        let mut ruled_out = self.rules_decide(&ruled)?.into_iter();
        let mut out = Vec::with_capacity(docs.len());
        for (d, (_, m)) in docs.iter().zip(&route) {
            let Some(m) = *m else {
                out.push(ruled_out.next().expect("one result per ruled document"));
                continue;
            };
            let rules = self.rules.classify(*d);
            let confident = self.models[m].1;
            let mut c = model_out[m]
                .next()
                .expect("one model result per model document");
            for (k, cat) in Category::LABELS.into_iter().enumerate() {
                if rules.scores[k] >= confident && !c.categories.contains(&cat) {
                    if c.categories == [Category::Other] {
                        c.categories.clear();
                        c.primary_category = cat;
                    }
                    c.categories.push(cat);
                    c.scores[k] = c.scores[k].max(rules.scores[k]);
                    let mut detail = vec![format!(
                        "auto: added by rules (score {:.3} >= {confident})",
                        rules.scores[k]
                    )];
                    if let Some(e) = rules.evidence.iter().find(|e| e.category == cat) {
                        detail.extend(e.detail.iter().cloned());
                    }
                    c.evidence.push(Evidence {
                        category: cat,
                        by: "rules",
                        detail,
                    });
                }
            }
            c.classifier = self.name.clone();
            out.push(c);
        }
        Ok(out)
    }
}

/// Loads a model's config, `models/bert/<name>.toml`; without a name, the default model
/// of `models/bert/models.toml`.
pub fn model_config(models: &Path, name: Option<&str>) -> anyhow::Result<(ModelConfig, PathBuf)> {
    let name = match name {
        Some(n) => n.to_string(),
        None => Models::load(models)?.default,
    };
    let path = models.join("bert").join(format!("{name}.toml"));
    if !path.exists() {
        let mut known: Vec<String> = std::fs::read_dir(models.join("bert"))
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let p = e.path();
                let stem = p.file_stem()?.to_string_lossy().to_string();
                (p.extension()? == "toml" && stem != "models").then_some(stem)
            })
            .collect();
        known.sort();
        anyhow::bail!(
            "{}: no such model config; known models: {}",
            path.display(),
            known.join(", ")
        );
    }
    ModelConfig::load(&path)
}

/// Language → model name pairs.
type LangModels = Vec<(String, String)>;

/// `auto`: every model `models/bert/models.toml` names per language, with the rules and
/// the fallbacks it names (or only `model`, for the languages its config trusts it for,
/// and the rules for the rest, with no fallback).
pub fn load_auto(models: &Path, model: Option<&str>) -> anyhow::Result<Auto> {
    let (by_lang, fallback): (LangModels, LangModels) = match model {
        Some(m) => {
            let (config, _) = model_config(models, Some(m))?;
            let by_lang = config
                .languages
                .iter()
                .map(|l| (l.clone(), m.to_string()))
                .collect();
            (by_lang, Vec::new())
        }
        None => {
            let set = Models::load(models)?;
            (
                set.auto.into_iter().collect(),
                set.auto_fallback.into_iter().collect(),
            )
        }
    };
    // Each model named once, loaded once; languages point at it by index.
    let mut names: Vec<&str> = by_lang.iter().map(|(_, m)| m.as_str()).collect();
    names.sort_unstable();
    names.dedup();
    let routes: Vec<(String, usize)> = by_lang
        .iter()
        .map(|(lang, m)| {
            (
                lang.clone(),
                names.binary_search(&m.as_str()).expect("named above"),
            )
        })
        .collect();
    let mut configs = Vec::new();
    for n in &names {
        configs.push(model_config(models, Some(n))?);
    }
    let mut loaded = Vec::new();
    for (config, base) in &configs {
        loaded.push((Bert::load(config, base, models)?, config));
    }
    let rules = Rules::load(&models.join("rules"))?;
    let mut auto = Auto::new(loaded, routes, rules)?;
    for (lang, name) in fallback {
        let (config, base) = model_config(models, Some(&name))?;
        let model = match names.binary_search(&name.as_str()) {
            Ok(i) => Fallback::Loaded(i),
            Err(_) => Fallback::Lazy(Box::new(LazyBert::new(config.clone(), base, models)?)),
        };
        auto = auto.with_fallback(&lang, &config, model)?;
    }
    Ok(auto)
}

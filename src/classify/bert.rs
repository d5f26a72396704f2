//! The model classifier (cargo feature `bert`): sentence embeddings from a transformer run
//! by rust-bert on the CPU, and the trained [`Head`] over them. [`Auto`] combines it with
//! the rules: the model for the languages it is trusted for, the rules otherwise, and
//! confident rules labels added to the model's.

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rust_bert::pipelines::common::ModelType;
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
}

/// Longest text handed to the tokenizer, in bytes (the model sees 128 tokens anyway).
const MAX_TEXT_BYTES: usize = 2000;

/// Sentence embeddings.
pub struct Embedder {
    model: Mutex<SentenceEmbeddingsModel>,
    /// Model name.
    pub name: String,
    batch_size: usize,
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

impl Embedder {
    /// Loads the model named by a config file; weights from the config's environment
    /// variable or folder, never from the network.
    pub fn load(config: &ModelConfig, base: &Path) -> anyhow::Result<Embedder> {
        let dir = std::env::var_os(&config.weights_env)
            .map(PathBuf::from)
            .unwrap_or_else(|| base.join(&config.weights_dir));
        for f in [
            "config.json",
            "vocab.txt",
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
            tokenizer_vocab_resource: local(dir.join("vocab.txt")),
            tokenizer_merges_resource: None,
            device: tch::Device::Cpu,
            kind: None,
        };
        let model = SentenceEmbeddingsModel::new(cfg)
            .map_err(|e| anyhow::anyhow!("{}: cannot load {}: {e}", dir.display(), config.name))?;
        Ok(Embedder {
            model: Mutex::new(model),
            name: config.name.clone(),
            batch_size: config.batch_size.max(1),
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
            let batch: Vec<&str> = chunk.iter().map(|&i| truncate(texts[i])).collect();
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
    name: String,
    /// The rules whose scores the head takes after the embedding, if it does.
    rules: Option<Rules>,
    /// What decided, as the evidence names it (`all-MiniLM-L6-v2`, `…+rules` when stacked).
    model: String,
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
        let head = Head::load(&base.join(&config.head))?;
        if head.embedding != config.name {
            anyhow::bail!(
                "{}: trained on {} embeddings, but the model is {}; run `walletwatch train` again",
                base.join(&config.head).display(),
                head.embedding,
                config.name
            );
        }
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
        let stacked = if rules.is_some() { "+rules" } else { "" };
        let name = format!(
            "bert:{}{stacked}+head@{}",
            config.name, head.provenance.trained_at
        );
        let model = format!("{}{stacked}", embedder.name);
        Ok(Bert {
            embedder,
            head,
            name,
            rules,
            model,
        })
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
        Ok(embs
            .into_iter()
            .zip(docs)
            .map(|(e, d)| {
                let rules = self.rules.as_ref().map(|r| r.classify(*d));
                let x = head_input(e, rules.as_ref());
                self.to_classification(self.head.predict(&x))
            })
            .collect())
    }
}

/// `auto`: the model where it is trusted for the language, the rules otherwise; confident
/// rules labels are added to the model's.
pub struct Auto {
    bert: Bert,
    rules: Rules,
    languages: Vec<String>,
    confident: f32,
    name: String,
}

impl Auto {
    /// Combines a loaded model and rules.
    pub fn new(bert: Bert, rules: Rules, config: &ModelConfig) -> Auto {
        let name = format!("auto({} | {})", bert.name(), rules.name());
        Auto {
            bert,
            rules,
            languages: config.languages.clone(),
            confident: config.auto_rules_confident,
            name,
        }
    }
}

impl Classifier for Auto {
    fn name(&self) -> &str {
        &self.name
    }

    fn parts_in_hand(&self) -> usize {
        self.bert.parts_in_hand()
    }

    fn classify_batch(&self, docs: &[Doc<'_>]) -> anyhow::Result<Vec<Classification>> {
        let langs: Vec<&str> = docs
            .iter()
            .map(|d| crate::normalise::text::detect_lang(&doc_text(d)))
            .collect();
        let model_docs: Vec<Doc<'_>> = docs
            .iter()
            .zip(&langs)
            .filter(|(_, l)| self.languages.iter().any(|x| x == *l))
            .map(|(d, _)| *d)
            .collect();
        let mut model_out = self.bert.classify_batch(&model_docs)?.into_iter();
        let mut out = Vec::with_capacity(docs.len());
        for (d, lang) in docs.iter().zip(&langs) {
            let rules = self.rules.classify(*d);
            if !self.languages.iter().any(|x| x == lang) {
                let mut c = rules;
                for e in &mut c.evidence {
                    e.detail.insert(
                        0,
                        format!(
                            "auto: rules decided (language {lang}; the model is trusted for {})",
                            self.languages.join(", ")
                        ),
                    );
                }
                c.classifier = self.name.clone();
                out.push(c);
                continue;
            }
            let mut c = model_out
                .next()
                .expect("one model result per model document");
            for (k, cat) in Category::LABELS.into_iter().enumerate() {
                if rules.scores[k] >= self.confident && !c.categories.contains(&cat) {
                    if c.categories == [Category::Other] {
                        c.categories.clear();
                        c.primary_category = cat;
                    }
                    c.categories.push(cat);
                    c.scores[k] = c.scores[k].max(rules.scores[k]);
                    let mut detail = vec![format!(
                        "auto: added by rules (score {:.3} >= {})",
                        rules.scores[k], self.confident
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

/// Loads the model config of the models folder.
pub fn model_config(models: &Path) -> anyhow::Result<(ModelConfig, PathBuf)> {
    ModelConfig::load(&models.join("bert/minilm.toml"))
}

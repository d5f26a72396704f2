//! The trained head of the model classifier: one-vs-rest logistic regression over sentence
//! embeddings, one output per category, trained with full-batch gradient descent, L2
//! penalty and balanced class weights (few positives for the rare categories). Saved as
//! a small JSON file with the data it was trained on, its date and its scores.

use serde::{Deserialize, Serialize};

use super::{Category, Classification, Evidence};

/// A trained head.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Head {
    /// Embedding model it was trained on (must match at load).
    pub embedding: String,
    /// Embedding dimension.
    pub dim: usize,
    /// Category ids, in output order.
    pub labels: Vec<String>,
    /// Weights, one row per label.
    pub weights: Vec<Vec<f32>>,
    /// Bias per label.
    pub bias: Vec<f32>,
    /// Probability at which a label is assigned.
    pub threshold: f32,
    /// When and on what it was trained, and how it scored.
    pub provenance: Provenance,
    /// The rules classifier whose six category scores follow the embedding in the input
    /// (stacking: the head weighs the rules' evidence with the model's); `None` for a head
    /// over the embedding alone. Inputs are `dim` long either way.
    #[serde(default)]
    pub rules_features: Option<String>,
}

/// Where a head came from.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Provenance {
    /// UTC time of training.
    pub trained_at: String,
    /// walletwatch version that trained it.
    pub walletwatch: String,
    /// Training files with their document counts.
    pub data: Vec<(String, usize)>,
    /// Training settings.
    pub l2: f32,
    /// Gradient-descent epochs.
    pub epochs: usize,
    /// k-fold cross-validated scores on the training data (the dev split), by name.
    pub dev_scores: serde_json::Value,
}

/// Training settings.
#[derive(Debug, Clone, Copy)]
pub struct TrainOptions {
    /// L2 penalty.
    pub l2: f32,
    /// Epochs of full-batch gradient descent.
    pub epochs: usize,
    /// Learning rate.
    pub rate: f32,
}

impl Default for TrainOptions {
    fn default() -> Self {
        Self {
            l2: 1e-3,
            epochs: 400,
            rate: 2.0,
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Fits weights and biases: `x` rows are embeddings, `y[i]` the labels of row `i`.
pub fn fit(x: &[Vec<f32>], y: &[Vec<Category>], opts: TrainOptions) -> (Vec<Vec<f32>>, Vec<f32>) {
    let dim = x.first().map_or(0, Vec::len);
    let n = x.len() as f32;
    let mut weights = vec![vec![0f32; dim]; 6];
    let mut bias = vec![0f32; 6];
    for (k, cat) in Category::LABELS.into_iter().enumerate() {
        let target: Vec<f32> = y
            .iter()
            .map(|l| f32::from(u8::from(l.contains(&cat))))
            .collect();
        let pos = target.iter().sum::<f32>();
        if pos == 0.0 {
            bias[k] = -10.0; // never seen: never predicted
            continue;
        }
        // Balanced weights: positives and negatives count half each.
        let wp = n / (2.0 * pos);
        let wn = n / (2.0 * (n - pos).max(1.0));
        let w = &mut weights[k];
        let mut b = 0f32;
        let mut grad = vec![0f32; dim];
        for _ in 0..opts.epochs {
            grad.iter_mut().for_each(|g| *g = 0.0);
            let mut gb = 0f32;
            for (xi, &t) in x.iter().zip(&target) {
                let z: f32 = xi.iter().zip(w.iter()).map(|(a, b)| a * b).sum::<f32>() + b;
                let err = (sigmoid(z) - t) * if t > 0.5 { wp } else { wn };
                for (g, a) in grad.iter_mut().zip(xi) {
                    *g += err * a;
                }
                gb += err;
            }
            for (wj, g) in w.iter_mut().zip(&grad) {
                *wj -= opts.rate * (g / n + opts.l2 * *wj);
            }
            b -= opts.rate * gb / n;
        }
        bias[k] = b;
    }
    (weights, bias)
}

impl Head {
    /// A head over `dim`-dimensional embeddings of model `embedding`, one output per
    /// category in [`Category::LABELS`] order.
    pub fn new(
        embedding: &str,
        dim: usize,
        (weights, bias): (Vec<Vec<f32>>, Vec<f32>),
        threshold: f32,
        provenance: Provenance,
    ) -> Head {
        Head {
            embedding: embedding.to_string(),
            dim,
            labels: Category::LABELS
                .iter()
                .map(|c| c.id().to_string())
                .collect(),
            weights,
            bias,
            threshold,
            provenance,
            rules_features: None,
        }
    }

    /// The classification of one embedding's probabilities `p` (from [`Head::predict`]):
    /// every label at or above the threshold; when none is, the most likely label if it
    /// reaches half the threshold (single-label data needs a primary), else `other`.
    /// Evidence names `model` and each probability.
    pub fn classification(&self, p: [f32; 6], model: &str, classifier: String) -> Classification {
        let evidence = Category::LABELS
            .into_iter()
            .zip(p)
            .filter(|(_, pk)| *pk >= self.threshold)
            .map(|(category, pk)| Evidence {
                category,
                by: "bert",
                detail: vec![format!("{model} p={pk:.3}")],
            })
            .collect();
        let mut c = Classification::from_scores(p, self.threshold, evidence, classifier);
        if c.categories == [Category::Other] {
            let (k, best) = p
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.total_cmp(b.1))
                .expect("six scores");
            if *best >= self.threshold * 0.5 {
                let cat = Category::LABELS[k];
                c.primary_category = cat;
                c.categories = vec![cat];
                c.evidence.push(Evidence {
                    category: cat,
                    by: "bert",
                    detail: vec![format!(
                        "{model} p={best:.3} (most likely; below {})",
                        self.threshold
                    )],
                });
            }
        }
        c
    }

    /// Probability per category (in [`Category::LABELS`] order) for one embedding.
    pub fn predict(&self, e: &[f32]) -> [f32; 6] {
        let mut out = [0f32; 6];
        for (k, cat) in Category::LABELS.into_iter().enumerate() {
            if let Some(j) = self.labels.iter().position(|l| l == cat.id()) {
                let z: f32 = self.weights[j]
                    .iter()
                    .zip(e)
                    .map(|(a, b)| a * b)
                    .sum::<f32>()
                    + self.bias[j];
                out[k] = sigmoid(z);
            }
        }
        out
    }

    /// Reads a head file.
    pub fn load(path: &std::path::Path) -> anyhow::Result<Head> {
        let bytes = std::fs::read(path).map_err(|e| {
            anyhow::anyhow!(
                "{}: {e} (train one with `walletwatch train`, see README)",
                path.display()
            )
        })?;
        let h: Head = serde_json::from_slice(&bytes)
            .map_err(|e| anyhow::anyhow!("{}: not a walletwatch head file: {e}", path.display()))?;
        if h.weights.len() != h.labels.len()
            || h.bias.len() != h.labels.len()
            || h.weights.iter().any(|w| w.len() != h.dim)
        {
            anyhow::bail!("{}: weights do not match labels and dim", path.display());
        }
        Ok(h)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fits_a_separable_problem() {
        // Two clusters in 4 dimensions: fraud around +x, service around -x.
        let mut x = Vec::new();
        let mut y = Vec::new();
        for i in 0..40 {
            let j = i as f32 / 40.0;
            x.push(vec![1.0, j, 0.1, -j]);
            y.push(vec![Category::Fraud]);
            x.push(vec![-1.0, j, -0.1, j]);
            y.push(vec![Category::Service]);
        }
        let head = Head::new(
            "t",
            4,
            fit(&x, &y, TrainOptions::default()),
            0.5,
            Provenance::default(),
        );
        let p = head.predict(&[0.9, 0.5, 0.0, 0.0]);
        assert!(p[4] > 0.8 && p[5] < 0.2, "{p:?}");
        let p = head.predict(&[-0.9, 0.5, 0.0, 0.0]);
        assert!(p[5] > 0.8 && p[4] < 0.2, "{p:?}");
        assert!(p[0] < 0.01, "unseen labels stay off: {p:?}");
    }
}

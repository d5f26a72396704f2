//! Answers given elsewhere, for `eval --predictions`: another tool's output, a saved run of
//! `classify --input`, or a person's labels. One JSON object a line with `id` (string or
//! number), `categories` (category ids, main one first) and optionally `primary_category`
//! (default: the first of `categories`) and `classifier` (a name for the report).
//!
//! They are matched to the labelled documents by id. A labelled document without an answer
//! is an error (a score over the answered ones only would look better than it is); answers
//! for documents that are not in the labelled set (or were left out of it, such as CFPB
//! complaints whose Issue maps to nothing) are counted and left out.

use std::collections::HashMap;
use std::io::BufRead;
use std::path::Path;

use super::input::{id_key, json_id, parse_json};
use super::labels::LabelledDoc;
use super::{Category, Classification};

/// Answers in labelled-document order.
#[derive(Debug, Clone)]
pub struct Predictions {
    /// One answer per labelled document, in the documents' order.
    pub preds: Vec<Classification>,
    /// Answers whose id is not among the labelled documents (left out).
    pub extra: usize,
    /// The name the report gives them: the file's `classifier` if every line names the same
    /// one, else `predictions from FILE`.
    pub classifier: String,
}

/// One parsed line.
struct Answer {
    line: usize,
    id: String,
    categories: Vec<Category>,
    primary: Category,
    classifier: Option<String>,
}

fn parse_answer(line: usize, s: &str) -> Result<Answer, String> {
    let v = parse_json(line as u64, s).map_err(|e| e.message)?;
    let obj = v.as_object().ok_or("not a JSON object")?;
    let id = id_key(json_id(obj)?);
    let category = |v: &serde_json::Value| -> Result<Category, String> {
        let s = v.as_str().ok_or("categories are strings")?;
        Category::parse(s).ok_or_else(|| {
            format!(
                "unknown category {s:?}; use {}",
                Category::ALL.map(Category::id).join(", ")
            )
        })
    };
    let categories = match obj.get("categories") {
        Some(serde_json::Value::Array(a)) if !a.is_empty() => {
            a.iter().map(category).collect::<Result<Vec<_>, _>>()?
        }
        Some(serde_json::Value::Array(_)) => {
            return Err("`categories` is empty (write [\"other\"] when nothing fits)".into());
        }
        Some(_) => return Err("`categories` must be an array of category ids".into()),
        None => return Err("no `categories`".into()),
    };
    let primary = match obj.get("primary_category") {
        Some(v) => category(v)?,
        None => categories[0],
    };
    if !categories.contains(&primary) {
        return Err(format!(
            "`primary_category` {} is not among `categories`",
            primary.id()
        ));
    }
    let classifier = match obj.get("classifier") {
        Some(serde_json::Value::String(s)) => Some(s.clone()),
        Some(serde_json::Value::Null) | None => None,
        Some(_) => return Err("`classifier` must be a string".into()),
    };
    Ok(Answer {
        line,
        id,
        categories,
        primary,
        classifier,
    })
}

fn classification(a: Answer, classifier: &str) -> Classification {
    let mut scores = [0.0f32; 6];
    for c in &a.categories {
        if let Some(i) = c.index() {
            scores[i] = 1.0;
        }
    }
    Classification {
        categories: a.categories,
        primary_category: a.primary,
        scores,
        evidence: Vec::new(),
        classifier: classifier.to_string(),
    }
}

/// Reads the answers of `path` and puts them in the order of `docs`. Errors name the file
/// and line (a bad line, an id answered twice) or the labelled documents left unanswered.
pub fn read_predictions(path: &Path, docs: &[LabelledDoc]) -> anyhow::Result<Predictions> {
    let name = path.display();
    let file = std::fs::File::open(path).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
    read_from(std::io::BufReader::new(file), &name.to_string(), docs)
}

fn read_from(r: impl BufRead, name: &str, docs: &[LabelledDoc]) -> anyhow::Result<Predictions> {
    let mut answers: HashMap<String, Answer> = HashMap::new();
    for line in super::input::Lines::new(r) {
        let (n, line) = line
            .map_err(|e| anyhow::anyhow!("{name}: {e}"))?
            .map_err(|e| anyhow::anyhow!("{name}:{}: {}", e.line, e.message))?;
        if line.trim().is_empty() {
            continue;
        }
        let a = parse_answer(n as usize, &line).map_err(|e| anyhow::anyhow!("{name}:{n}: {e}"))?;
        if let Some(first) = answers.get(&a.id) {
            anyhow::bail!(
                "{name}:{}: id {:?} is answered twice (first on line {})",
                a.line,
                a.id,
                first.line
            );
        }
        answers.insert(a.id.clone(), a);
    }
    let names: std::collections::BTreeSet<&str> = answers
        .values()
        .filter_map(|a| a.classifier.as_deref())
        .collect();
    let classifier = match (names.len(), names.iter().next()) {
        (1, Some(n)) if answers.values().all(|a| a.classifier.is_some()) => n.to_string(),
        _ => format!("predictions from {name}"),
    };
    let missing: Vec<&str> = docs
        .iter()
        .filter(|d| !answers.contains_key(&d.id))
        .map(|d| d.id.as_str())
        .collect();
    if !missing.is_empty() {
        anyhow::bail!(
            "{name}: {} of the {} labelled documents have no answer (ids {}{}); answer every one, with [\"other\"] where nothing fits",
            missing.len(),
            docs.len(),
            missing[..missing.len().min(5)].join(", "),
            if missing.len() > 5 { ", …" } else { "" }
        );
    }
    let preds = docs
        .iter()
        .map(|d| {
            let a = answers.remove(&d.id).expect("checked above");
            classification(a, &classifier)
        })
        .collect();
    Ok(Predictions {
        preds,
        extra: answers.len(),
        classifier,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(id: &str, labels: &[Category]) -> LabelledDoc {
        LabelledDoc {
            id: id.into(),
            title: None,
            text: "x".into(),
            labels: labels.to_vec(),
        }
    }

    #[test]
    fn answers_follow_the_documents_order_and_extras_are_counted() {
        let docs = [doc("7", &[Category::Fraud]), doc("a", &[Category::Service])];
        let input = "{\"id\": \"a\", \"categories\": [\"service\", \"fraud\"], \"classifier\": \"reader\"}\n\n{\"id\": 7, \"categories\": [\"资金安全\", \"fraud\"], \"primary_category\": \"fraud\", \"classifier\": \"reader\"}\n{\"id\": \"zz\", \"categories\": [\"other\"], \"classifier\": \"reader\"}\n";
        let p = read_from(input.as_bytes(), "p.ndjson", &docs).unwrap();
        assert_eq!(p.classifier, "reader");
        assert_eq!(p.extra, 1);
        assert_eq!(p.preds[0].primary_category, Category::Fraud);
        assert_eq!(
            p.preds[0].categories,
            vec![Category::FundSecurity, Category::Fraud]
        );
        assert_eq!(p.preds[1].primary_category, Category::Service);
        assert_eq!(p.preds[1].scores[Category::Fraud.index().unwrap()], 1.0);
    }

    #[test]
    fn bad_lines_duplicates_and_unanswered_documents_are_errors_naming_them() {
        let docs = [doc("1", &[Category::Fraud]), doc("2", &[Category::Fraud])];
        let err = |input: &str| {
            read_from(input.as_bytes(), "p.ndjson", &docs)
                .unwrap_err()
                .to_string()
        };
        let e = err(
            "{\"id\": 1, \"categories\": [\"fraud\"]}\n{\"id\": 2, \"categories\": [\"scam\"]}\n",
        );
        assert!(
            e.starts_with("p.ndjson:2: unknown category \"scam\""),
            "{e}"
        );
        let e = err(
            "{\"id\": 1, \"categories\": [\"fraud\"]}\n{\"id\": \"1\", \"categories\": [\"fraud\"]}\n",
        );
        assert_eq!(
            e,
            "p.ndjson:2: id \"1\" is answered twice (first on line 1)"
        );
        let e = err("{\"id\": 1, \"categories\": []}\n");
        assert!(e.starts_with("p.ndjson:1: `categories` is empty"), "{e}");
        let e =
            err("{\"id\": 1, \"categories\": [\"fraud\"], \"primary_category\": \"service\"}\n");
        assert!(e.contains("not among `categories`"), "{e}");
        let e = err("{\"id\": 1, \"categories\": [\"fraud\"]}\n");
        assert!(
            e.starts_with("p.ndjson: 1 of the 2 labelled documents have no answer (ids 2)"),
            "{e}"
        );
        let names = read_from(
            "{\"id\": 1, \"categories\": [\"fraud\"], \"classifier\": \"a\"}\n{\"id\": 2, \"categories\": [\"fraud\"]}\n"
                .as_bytes(),
            "p.ndjson",
            &docs,
        )
        .unwrap();
        assert_eq!(names.classifier, "predictions from p.ndjson");
    }
}

//! `classify --input FILE.ndjson`: one JSON object a line with `id`, `text` and an optional
//! `title`; a line that is not such an object is reported with its line number and the
//! rest still classify.

use std::io::BufRead;

/// One input document.
#[derive(Debug, Clone, PartialEq)]
pub struct InputDoc {
    /// Line number (1-based).
    pub line: u64,
    /// The `id` value, echoed as given (string or number).
    pub id: serde_json::Value,
    /// Optional title.
    pub title: Option<String>,
    /// Text.
    pub text: String,
}

impl InputDoc {
    /// The document to classify.
    pub fn doc(&self) -> super::Doc<'_> {
        super::Doc {
            title: self.title.as_deref(),
            text: &self.text,
        }
    }
}

/// A line that cannot be used.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct LineError {
    /// Line number (1-based).
    pub line: u64,
    /// What is wrong.
    pub message: String,
}

/// Parses one line (`None` for blank lines).
pub fn parse_line(line: u64, s: &str) -> Option<Result<InputDoc, LineError>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    let bad = |message: String| Some(Err(LineError { line, message }));
    let v: serde_json::Value = match serde_json::from_str(s) {
        Ok(v) => v,
        Err(e) => return bad(format!("not JSON: {e}")),
    };
    let Some(obj) = v.as_object() else {
        return bad("not a JSON object".into());
    };
    let id = match obj.get("id") {
        Some(v @ (serde_json::Value::String(_) | serde_json::Value::Number(_))) => v.clone(),
        Some(_) => return bad("`id` must be a string or a number".into()),
        None => return bad("no `id`".into()),
    };
    let text = match obj.get("text") {
        Some(serde_json::Value::String(t)) => t.clone(),
        Some(serde_json::Value::Null) | None => {
            if obj.get("title").is_some_and(|t| t.is_string()) {
                String::new()
            } else {
                return bad("no `text` (nor `title`)".into());
            }
        }
        Some(_) => return bad("`text` must be a string".into()),
    };
    let title = match obj.get("title") {
        Some(serde_json::Value::String(t)) => Some(t.clone()),
        Some(serde_json::Value::Null) | None => None,
        Some(_) => return bad("`title` must be a string".into()),
    };
    Some(Ok(InputDoc {
        line,
        id,
        title,
        text,
    }))
}

/// Reads every line; I/O errors stop, bad lines are returned beside the good ones.
pub fn read_all(r: impl BufRead) -> std::io::Result<(Vec<InputDoc>, Vec<LineError>)> {
    let mut docs = Vec::new();
    let mut errors = Vec::new();
    for (i, line) in r.lines().enumerate() {
        let line = line?;
        match parse_line(i as u64 + 1, &line) {
            Some(Ok(d)) => docs.push(d),
            Some(Err(e)) => errors.push(e),
            None => {}
        }
    }
    Ok((docs, errors))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_and_bad_lines() {
        let input = "{\"id\": 1, \"text\": \"a\"}\n\n{\"id\": \"x\"\n[1]\n{\"text\": \"b\"}\n{\"id\": \"t\", \"title\": \"标题\"}\n";
        let (docs, errors) = read_all(input.as_bytes()).unwrap();
        assert_eq!(docs.len(), 2);
        assert_eq!(docs[1].title.as_deref(), Some("标题"));
        assert_eq!(
            errors.iter().map(|e| e.line).collect::<Vec<_>>(),
            vec![3, 4, 5]
        );
    }
}

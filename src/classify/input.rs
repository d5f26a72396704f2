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

/// The `id` of a line's object, which must be a string or a number (else what is wrong):
/// the one check of `classify --input`, labelled files and `eval --predictions`.
pub fn json_id(
    obj: &serde_json::Map<String, serde_json::Value>,
) -> Result<&serde_json::Value, &'static str> {
    match obj.get("id") {
        Some(v @ (serde_json::Value::String(_) | serde_json::Value::Number(_))) => Ok(v),
        Some(_) => Err("`id` must be a string or a number"),
        None => Err("no `id`"),
    }
}

/// The text an `id` is matched by: a string as it is, a number as written (`7` and `"7"`
/// are the same document), so labels and answers key their documents alike.
pub fn id_key(id: &serde_json::Value) -> String {
    id.as_str().map_or_else(|| id.to_string(), str::to_string)
}

/// Parses one line (`None` for blank lines).
pub fn parse_line(line: u64, s: &str) -> Option<Result<InputDoc, LineError>> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    Some(parse_json(line, s).and_then(|v| doc_from_value(line, v).map(|(doc, _)| doc)))
}

/// One line's JSON value, or what is wrong with it.
pub fn parse_json(line: u64, s: &str) -> Result<serde_json::Value, LineError> {
    serde_json::from_str(s).map_err(|e| LineError {
        line,
        message: format!("not JSON: {e}"),
    })
}

/// The document of a parsed line (`id`, `text`, optional `title`), with the value back for
/// callers that read more of it (a labelled file's `labels`).
pub fn doc_from_value(
    line: u64,
    v: serde_json::Value,
) -> Result<(InputDoc, serde_json::Value), LineError> {
    let bad = |message: String| Err(LineError { line, message });
    let Some(obj) = v.as_object() else {
        return bad("not a JSON object".into());
    };
    let id = match json_id(obj) {
        Ok(v) => v.clone(),
        Err(e) => return bad(e.into()),
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
    let doc = InputDoc {
        line,
        id,
        title,
        text,
    };
    Ok((doc, v))
}

/// The lines of an NDJSON stream, numbered from 1, with their `\n` or `\r\n` ends (and a
/// byte-order mark before the first) removed. A line that is not UTF-8 comes as a
/// [`LineError`] naming it, so that the lines after it can still be read; only I/O errors
/// stop the iterator.
pub struct Lines<R> {
    r: R,
    n: u64,
    buf: Vec<u8>,
}

impl<R: BufRead> Lines<R> {
    /// Lines of `r`.
    pub fn new(r: R) -> Self {
        Self {
            r,
            n: 0,
            buf: Vec::new(),
        }
    }
}

impl<R: BufRead> Iterator for Lines<R> {
    type Item = std::io::Result<Result<(u64, String), LineError>>;

    fn next(&mut self) -> Option<Self::Item> {
        self.buf.clear();
        match self.r.read_until(b'\n', &mut self.buf) {
            Ok(0) => return None,
            Ok(_) => {}
            Err(e) => return Some(Err(e)),
        }
        self.n += 1;
        let line = self.n;
        let mut bytes = self.buf.as_slice();
        bytes = bytes.strip_suffix(b"\n").unwrap_or(bytes);
        bytes = bytes.strip_suffix(b"\r").unwrap_or(bytes);
        if line == 1 {
            bytes = bytes.strip_prefix("\u{feff}".as_bytes()).unwrap_or(bytes);
        }
        Some(Ok(match std::str::from_utf8(bytes) {
            Ok(s) => Ok((line, s.to_string())),
            Err(e) => {
                let at = e.valid_up_to();
                Err(LineError {
                    line,
                    message: format!(
                        "not UTF-8 (byte {} of the line is 0x{:02X}); NDJSON must be UTF-8: convert the file first (GBK, for one: `iconv -f GBK -t UTF-8`)",
                        at + 1,
                        bytes[at]
                    ),
                })
            }
        }))
    }
}

/// The documents of an NDJSON stream, read as they are asked for: each good line as an
/// [`InputDoc`], each bad one as the [`LineError`] naming it; blank lines are skipped and
/// only I/O errors stop.
pub struct Docs<R> {
    lines: Lines<std::io::BufReader<R>>,
}

impl<R: std::io::Read> Docs<R> {
    /// Documents of `r`, read `capacity` bytes at most at a time.
    pub fn new(r: R, capacity: usize) -> Self {
        Self {
            lines: Lines::new(std::io::BufReader::with_capacity(capacity, r)),
        }
    }

    /// Whether every byte read from the source so far has been handed out, so that the
    /// next document waits on the source (a pipe that has nothing more yet, say).
    pub fn drained(&self) -> bool {
        self.lines.r.buffer().is_empty()
    }
}

impl<R: std::io::Read> Iterator for Docs<R> {
    type Item = std::io::Result<Result<InputDoc, LineError>>;

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            match self.lines.next()? {
                Err(e) => return Some(Err(e)),
                Ok(Err(e)) => return Some(Ok(Err(e))),
                Ok(Ok((n, s))) => {
                    if let Some(doc) = parse_line(n, &s) {
                        return Some(Ok(doc));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_all(r: &[u8]) -> std::io::Result<(Vec<InputDoc>, Vec<LineError>)> {
        let (mut good, mut errors) = (Vec::new(), Vec::new());
        // A small buffer, so that lines cross its refills.
        for doc in Docs::new(r, 7) {
            match doc? {
                Ok(d) => good.push(d),
                Err(e) => errors.push(e),
            }
        }
        Ok((good, errors))
    }

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

    #[test]
    fn a_line_that_is_not_utf8_is_named_and_the_rest_still_read() {
        // A Windows export: a byte-order mark, CRLF ends, and one line in GBK (账户被盗 is
        // D5 CB BB A7 B1 BB B5 C1 there).
        let mut input = "\u{feff}{\"id\": 1, \"text\": \"账户被盗\"}\r\n"
            .as_bytes()
            .to_vec();
        input.extend_from_slice(b"{\"id\": 2, \"text\": \"\xd5\xcb\xbb\xa7\xb1\xbb\xb5\xc1\"}\r\n");
        input.extend_from_slice("{\"id\": 3, \"text\": \"钓鱼链接\"}".as_bytes());
        let (docs, errors) = read_all(input.as_slice()).unwrap();
        assert_eq!(
            docs.iter()
                .map(|d| (d.line, d.text.as_str()))
                .collect::<Vec<_>>(),
            vec![(1, "账户被盗"), (3, "钓鱼链接")]
        );
        assert_eq!(errors.len(), 1);
        assert_eq!(errors[0].line, 2);
        assert!(
            errors[0]
                .to_string()
                .starts_with("line 2: not UTF-8 (byte 20 of the line is 0xD5)"),
            "{}",
            errors[0]
        );
    }
}

//! NDJSON and JSON-array readers: one object per complaint, mapped by key.
//!
//! NDJSON is read line by line, so a broken line is quarantined alone. A JSON array is
//! split into its elements by a small streaming scanner (strings and nesting tracked), so
//! a multi-gigabyte array is never held in memory whole.

use std::io::{BufRead, BufReader, Read};

use serde_json::{Map, Value};

use super::IngestError;
use super::fields::FieldMap;
use crate::schema::{RawRecord, Reject};

/// Shape of a JSON export.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum JsonShape {
    /// One object a line.
    Lines,
    /// One array of objects.
    Array,
}

/// Streaming reader of JSON complaint objects.
pub struct JsonRows<R: Read> {
    input: BufReader<R>,
    origin: String,
    shape: JsonShape,
    map: FieldMap,
    line: u64,
    element: u64,
    started: bool,
    finished: bool,
    buf: Vec<u8>,
}

fn value_to_string(v: &Value) -> Option<String> {
    match v {
        Value::Null => None,
        Value::String(s) => Some(s.clone()),
        Value::Bool(b) => Some(b.to_string()),
        Value::Number(n) => Some(n.to_string()),
        other => Some(other.to_string()),
    }
}

impl<R: Read> JsonRows<R> {
    /// A reader over `input` of the given shape.
    pub fn new(input: R, origin: &str, shape: JsonShape, map: FieldMap) -> Self {
        Self {
            input: BufReader::with_capacity(1 << 20, input),
            origin: origin.to_string(),
            shape,
            map,
            line: 0,
            element: 0,
            started: false,
            finished: false,
            buf: Vec::new(),
        }
    }

    /// Maps one parsed object (CFPB's `_source` wrapper unwrapped).
    fn map_object(&self, obj: &Map<String, Value>, line: u64) -> Result<RawRecord, Reject> {
        let obj = match obj.get("_source") {
            Some(Value::Object(inner)) => inner,
            _ => obj,
        };
        let mut r = RawRecord {
            line,
            ..Default::default()
        };
        for (canon, key) in &self.map.fields {
            if let Some(v) = obj
                .get(key)
                .and_then(value_to_string)
                .filter(|v| !v.is_empty())
            {
                canon.set(&mut r, self.map.clean(v));
            }
        }
        self.map.check(&r).map_err(|reason| {
            Reject::new(
                line,
                reason,
                &serde_json::to_string(obj).unwrap_or_default(),
            )
        })?;
        Ok(r)
    }

    fn parse(&self, bytes: &[u8], line: u64) -> Result<RawRecord, Reject> {
        let raw = || String::from_utf8_lossy(bytes).into_owned();
        match serde_json::from_slice::<Value>(bytes) {
            Ok(Value::Object(obj)) => self.map_object(&obj, line),
            Ok(_) => Err(Reject::new(line, "not a JSON object", &raw())),
            Err(e) => Err(Reject::new(line, format!("invalid JSON: {e}"), &raw())),
        }
    }

    fn read_err(&self, e: std::io::Error) -> IngestError {
        IngestError::read(&self.origin, e)
    }

    /// The next record, a reject, or `None` at the end.
    pub fn next_item(&mut self) -> Result<Option<Result<RawRecord, Reject>>, IngestError> {
        match self.shape {
            JsonShape::Lines => loop {
                self.buf.clear();
                let n = self
                    .input
                    .read_until(b'\n', &mut self.buf)
                    .map_err(|e| self.read_err(e))?;
                if n == 0 {
                    return Ok(None);
                }
                self.line += 1;
                let trimmed = self.buf.trim_ascii();
                if trimmed.is_empty() {
                    continue;
                }
                let trimmed = trimmed
                    .strip_prefix("\u{feff}".as_bytes())
                    .unwrap_or(trimmed);
                return Ok(Some(self.parse(trimmed, self.line)));
            },
            JsonShape::Array => self.next_element(),
        }
    }

    fn peek_byte(&mut self) -> Result<Option<u8>, IngestError> {
        let buf = self
            .input
            .fill_buf()
            .map_err(|e| IngestError::read(&self.origin, e))?;
        Ok(buf.first().copied())
    }

    fn next_byte(&mut self) -> Result<Option<u8>, IngestError> {
        let Some(b) = self.peek_byte()? else {
            return Ok(None);
        };
        self.input.consume(1);
        if b == b'\n' {
            self.line += 1;
        }
        Ok(Some(b))
    }

    /// Reads an object, array or string that starts with `first` (already in `buf`) to its
    /// closing byte, into `buf`.
    fn read_nested(&mut self, first: u8) -> Result<(), IngestError> {
        let (mut depth, mut in_str, mut escaped) = (0i64, false, false);
        let mut b = first;
        loop {
            if in_str {
                if escaped {
                    escaped = false;
                } else if b == b'\\' {
                    escaped = true;
                } else if b == b'"' {
                    in_str = false;
                }
            } else {
                match b {
                    b'"' => in_str = true,
                    b'{' | b'[' => depth += 1,
                    b'}' | b']' => depth -= 1,
                    _ => {}
                }
            }
            if depth == 0 && !in_str {
                break;
            }
            match self.next_byte()? {
                Some(nb) => {
                    b = nb;
                    self.buf.push(b);
                }
                None => {
                    return Err(IngestError::Truncated {
                        path: self.origin.clone(),
                        after: self.element,
                    });
                }
            }
        }
        Ok(())
    }

    fn next_element(&mut self) -> Result<Option<Result<RawRecord, Reject>>, IngestError> {
        if self.finished {
            return Ok(None);
        }
        if !self.started {
            self.line = 1;
            loop {
                match self.next_byte()? {
                    Some(b'[') => break,
                    Some(b) if b.is_ascii_whitespace() => {}
                    Some(0xEF | 0xBB | 0xBF) => {} // BOM
                    _ => {
                        return Err(IngestError::Columns {
                            path: self.origin.clone(),
                            message:
                                "a JSON export must be an array of objects or one object a line"
                                    .into(),
                        });
                    }
                }
            }
            self.started = true;
        }
        // Skip separators up to the next element or the closing bracket.
        let first = loop {
            match self.next_byte()? {
                None => {
                    return Err(IngestError::Truncated {
                        path: self.origin.clone(),
                        after: self.element,
                    });
                }
                Some(b) if b.is_ascii_whitespace() || b == b',' => {}
                Some(b']') => {
                    self.finished = true;
                    return Ok(None);
                }
                Some(b) => break b,
            }
        };
        let line = self.line;
        self.buf.clear();
        self.buf.push(first);
        if matches!(first, b'{' | b'[' | b'"') {
            self.read_nested(first)?;
        } else {
            // A number, true, false or null: one element up to the next separator (it was
            // split into one reject per byte before 2026-12-03).
            while let Some(b) = self.peek_byte()? {
                if b == b',' || b == b']' || b.is_ascii_whitespace() {
                    break;
                }
                self.input.consume(1);
                self.buf.push(b);
            }
        }
        self.element += 1;
        let bytes = std::mem::take(&mut self.buf);
        let item = self.parse(&bytes, line);
        self.buf = bytes;
        Ok(Some(item))
    }
}

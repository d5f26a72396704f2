//! A CSV reader that survives broken rows.
//!
//! Real exports contain rows with an unclosed quote: a strict parser then swallows every
//! following row into one field, or shifts every later row by a column. This reader parses
//! record by record with `csv-core` over its own buffer, so when a record is broken (wrong
//! number of fields, or a field that fails its check) it can quarantine just the first
//! physical line of it and start again on the next line. Memory stays bounded: a record
//! may not grow past [`MAX_RECORD_BYTES`].

use std::io::Read;

use csv_core::{ReadRecordResult, Reader, ReaderBuilder};

use super::IngestError;
use super::fields::{Canon, FieldMap};
use crate::schema::{RawRecord, Reject};

/// A record longer than this is taken to be an unclosed quote swallowing the file.
pub const MAX_RECORD_BYTES: usize = 2 << 20;
const BLOCK: usize = 1 << 20;

enum Next {
    Record { start: usize, end: usize, line: u64 },
    TooLong { start: usize, line: u64 },
    End,
}

/// Streaming CSV reader yielding mapped records or rejects.
pub struct CsvRows<R: Read> {
    input: R,
    origin: String,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
    line: u64,
    core: Reader,
    out: Vec<u8>,
    ends: Vec<usize>,
    nfields: usize,
    header: Vec<String>,
    columns: Vec<(Canon, usize)>,
    map: FieldMap,
}

impl<R: Read> CsvRows<R> {
    /// Reads the header and resolves the mapping against it. `choose` receives the header
    /// and returns the field map (or an error naming what is missing). `delimiter` is the
    /// field separator; when `None`, a comma, unless the first line holds no comma but tabs
    /// or semicolons (a TSV, or a CSV saved by a spreadsheet in a decimal-comma locale).
    pub fn new(
        input: R,
        origin: &str,
        delimiter: Option<u8>,
        choose: impl FnOnce(&[String]) -> Result<FieldMap, IngestError>,
    ) -> Result<Self, IngestError> {
        let mut rows = Self {
            input,
            origin: origin.to_string(),
            buf: Vec::with_capacity(BLOCK * 2),
            pos: 0,
            eof: false,
            line: 1,
            core: ReaderBuilder::new().build(),
            out: vec![0; 64 * 1024],
            ends: vec![0; 64],
            nfields: 0,
            header: Vec::new(),
            columns: Vec::new(),
            map: FieldMap::default(),
        };
        let delimiter = match delimiter {
            Some(d) => d,
            None => {
                rows.fill()?;
                let first =
                    memchr::memchr(b'\n', &rows.buf).map_or(&rows.buf[..], |i| &rows.buf[..i]);
                [b',', b'\t', b';']
                    .into_iter()
                    .find(|&d| memchr::memchr(d, first).is_some())
                    .unwrap_or(b',')
            }
        };
        rows.core = ReaderBuilder::new().delimiter(delimiter).build();
        loop {
            match rows.next_record()? {
                Next::End => {
                    return Err(IngestError::Empty {
                        path: origin.to_string(),
                    });
                }
                Next::TooLong { .. } => {
                    return Err(IngestError::Columns {
                        path: origin.to_string(),
                        message: "the header row is not CSV".into(),
                    });
                }
                Next::Record { start, end, .. }
                    if rows.buf[start..end].iter().all(u8::is_ascii_whitespace) =>
                {
                    continue;
                }
                Next::Record { .. } => break,
            }
        }
        let header: Vec<String> = rows
            .fields()
            .map(|f| {
                String::from_utf8_lossy(f)
                    .trim_start_matches('\u{feff}')
                    .trim()
                    .to_string()
            })
            .collect();
        rows.map = choose(&header)?;
        let mut columns = Vec::new();
        for (canon, name) in &rows.map.fields {
            let idx =
                header
                    .iter()
                    .position(|h| h == name)
                    .ok_or_else(|| IngestError::Columns {
                        path: origin.to_string(),
                        message: format!(
                            "column {name:?} is not in the header ({})",
                            header.join(", ")
                        ),
                    })?;
            columns.push((*canon, idx));
        }
        rows.columns = columns;
        rows.header = header;
        Ok(rows)
    }

    /// Bytes of field `idx` of the current record (`idx < nfields`).
    fn field(&self, idx: usize) -> &[u8] {
        let start = if idx == 0 { 0 } else { self.ends[idx - 1] };
        &self.out[start..self.ends[idx]]
    }

    fn fields(&self) -> impl Iterator<Item = &[u8]> {
        (0..self.nfields).map(|i| self.field(i))
    }

    fn fill(&mut self) -> Result<(), IngestError> {
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        let old = self.buf.len();
        self.buf.resize(old + BLOCK, 0);
        let n = loop {
            match self.input.read(&mut self.buf[old..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.buf.truncate(old);
                    return Err(IngestError::read(&self.origin, e));
                }
            }
        };
        self.buf.truncate(old + n);
        if n == 0 {
            self.eof = true;
        }
        Ok(())
    }

    /// Parses the next record into `out`/`ends`.
    fn next_record(&mut self) -> Result<Next, IngestError> {
        loop {
            // Line ends between records: csv-core ends a record at the `\r` of a `\r\n`,
            // so its `\n` (and any blank lines) would start the next record and put the
            // record's line number one short. Counted and skipped here instead.
            while let Some(&b) = self
                .buf
                .get(self.pos)
                .filter(|b| matches!(b, b'\r' | b'\n'))
            {
                self.line += u64::from(b == b'\n');
                self.pos += 1;
            }
            if self.pos == self.buf.len() && !self.eof {
                self.fill()?;
                continue;
            }
            self.core.reset();
            let start = self.pos;
            let mut p = start;
            let (mut nout, mut nend) = (0, 0);
            let complete = loop {
                let (res, nin, o, e) = self.core.read_record(
                    &self.buf[p..],
                    &mut self.out[nout..],
                    &mut self.ends[nend..],
                );
                p += nin;
                nout += o;
                nend += e;
                match res {
                    ReadRecordResult::Record => break Some(true),
                    ReadRecordResult::End => break Some(false),
                    ReadRecordResult::OutputFull => {
                        let n = self.out.len() * 2;
                        self.out.resize(n, 0);
                    }
                    ReadRecordResult::OutputEndsFull => {
                        let n = self.ends.len() * 2;
                        self.ends.resize(n, 0);
                    }
                    // At the end of the file, the next call with empty input finishes the record.
                    ReadRecordResult::InputEmpty if self.eof => {}
                    ReadRecordResult::InputEmpty => break None,
                }
            };
            match complete {
                Some(true) => {
                    self.nfields = nend;
                    let line = self.line;
                    self.line += memchr::memchr_iter(b'\n', &self.buf[start..p]).count() as u64;
                    self.pos = p;
                    return Ok(Next::Record {
                        start,
                        end: p,
                        line,
                    });
                }
                Some(false) => {
                    self.pos = p;
                    return Ok(Next::End);
                }
                None if p - start > MAX_RECORD_BYTES => {
                    return Ok(Next::TooLong {
                        start,
                        line: self.line,
                    });
                }
                None => {
                    self.pos = start;
                    self.fill()?;
                }
            }
        }
    }

    /// Quarantines the first physical line of a broken record starting at `start` and
    /// resumes parsing on the next line. A line longer than the buffer is read to its end
    /// (and dropped as it goes), so that it is one reject, not one per buffer.
    fn resync(&mut self, start: usize, line: u64, reason: String) -> Result<Reject, IngestError> {
        let newline =
            |buf: &[u8], from: usize| memchr::memchr(b'\n', &buf[from..]).map(|i| from + i + 1);
        let mut end = newline(&self.buf, start);
        // Reject keeps 4 KB of the raw text; twice that in bytes leaves room for a
        // character cut at the slice's end.
        let shown = end.unwrap_or(self.buf.len()).min(start + 8192);
        let reject = Reject::new(
            line,
            reason,
            String::from_utf8_lossy(&self.buf[start..shown]).trim_end(),
        );
        while end.is_none() && !self.eof {
            self.pos = self.buf.len();
            self.fill()?;
            end = newline(&self.buf, 0);
        }
        self.pos = end.unwrap_or(self.buf.len());
        self.line = line + 1;
        Ok(reject)
    }

    /// The next record, a reject, or `None` at the end of the input.
    pub fn next_item(&mut self) -> Result<Option<Result<RawRecord, Reject>>, IngestError> {
        loop {
            let (start, end, line) = match self.next_record()? {
                Next::End => return Ok(None),
                Next::TooLong { start, line } => {
                    let reason = format!(
                        "record longer than {} MB (an unclosed quote?): its first line is quarantined and reading resumes on the next",
                        MAX_RECORD_BYTES >> 20
                    );
                    return Ok(Some(Err(self.resync(start, line, reason)?)));
                }
                Next::Record { start, end, line } => (start, end, line),
            };
            let raw = &self.buf[start..end];
            if raw.iter().all(u8::is_ascii_whitespace) {
                continue; // blank line: not a row
            }
            let multi_line = memchr::memchr(b'\n', &raw[..raw.len().saturating_sub(1)]).is_some();
            let structural = |this: &mut Self, reason: String| {
                if multi_line {
                    this.resync(start, line, format!("{reason}; the row's first line is quarantined and reading resumes on the next"))
                } else {
                    Ok(Reject::new(
                        line,
                        reason,
                        String::from_utf8_lossy(&this.buf[start..end]).trim_end(),
                    ))
                }
            };
            if self.nfields != self.header.len() {
                let reason = format!(
                    "{} fields where the header has {} (an unclosed quote or a stray delimiter)",
                    self.nfields,
                    self.header.len()
                );
                return Ok(Some(Err(structural(self, reason)?)));
            }
            if self
                .fields()
                .zip(&self.header)
                .all(|(f, h)| f == h.as_bytes())
            {
                return Ok(Some(Err(Reject::new(
                    line,
                    "repeated header row",
                    String::from_utf8_lossy(raw).trim_end(),
                ))));
            }
            let mut record = RawRecord {
                line,
                ..Default::default()
            };
            let mut bad_utf8 = None;
            for &(canon, idx) in &self.columns {
                // The field count was checked against the header above.
                let f = self.field(idx);
                match std::str::from_utf8(f) {
                    Ok("") => {}
                    Ok(s) => canon.set(&mut record, self.map.clean(s.to_string())),
                    Err(_) => bad_utf8 = Some(idx),
                }
            }
            if let Some(idx) = bad_utf8 {
                let reason = format!(
                    "column {:?} is not valid UTF-8 (the file mixes encodings? give --encoding)",
                    self.header[idx]
                );
                return Ok(Some(Err(Reject::new(
                    line,
                    reason,
                    &String::from_utf8_lossy(raw),
                ))));
            }
            if let Err(reason) = self.map.check(&record) {
                return Ok(Some(Err(structural(self, reason)?)));
            }
            return Ok(Some(Ok(record)));
        }
    }
}

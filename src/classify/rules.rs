//! The rules classifier: bilingual lexicons and patterns kept as data under
//! `models/rules/`, compiled once into one Aho-Corasick automaton plus a regex set.
//!
//! Each category file (`fraud.toml`, …) holds groups of phrases with a weight; a phrase
//! ending in `*` also matches longer words (`scam*`: scams, scammer, scammed); English
//! phrases match whole words, Chinese ones anywhere (no spaces needed). A phrase in a
//! negatable group that follows a negation cue in the same clause (`not a scam`,
//! `不是诈骗`) counts for nothing and is shown as negated evidence. `rules.toml` holds the
//! threshold, the score scale, the title weight and the negation cues.
//!
//! A category's score is `1 - exp(-w / scale)`, where `w` sums the weights of the
//! distinct phrases and patterns found (a phrase in the title weighs `title_weight`
//! times more); a category is assigned when its score reaches `threshold`.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::phrases::{Hit, PhraseDfa};
use regex::RegexSet;
use serde::Deserialize;

use super::{Category, Classification, Classifier, Doc, Evidence};

/// A rules file that cannot be used, with the file and line (`file: message` when the
/// whole file is concerned).
#[derive(Debug, thiserror::Error)]
#[error("{file}{}: {message}", if *line == 0 { String::new() } else { format!(":{line}") })]
pub struct RulesError {
    /// The file.
    pub file: String,
    /// 1-based line (0 when the whole file is concerned).
    pub line: usize,
    /// What is wrong and how to fix it.
    pub message: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct SettingsFile {
    version: String,
    threshold: f32,
    scale: f32,
    title_weight: f32,
    negation: NegationFile,
    /// A file of this folder mapping Traditional characters to Simplified ones (OpenCC's
    /// `TSCharacters.txt` form), so that the Simplified lexicons read Traditional text.
    #[serde(default)]
    traditional: Option<String>,
    /// Characters folded otherwise than the table says: 帳 to 账 (account), where the
    /// table's 帐 (curtain) is not what a wallet complaint means.
    #[serde(default)]
    traditional_prefer: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct NegationFile {
    /// English cue words, matched as whole words among the last `window_words` words.
    cues: Vec<String>,
    /// Chinese cues, matched among the last `window_chars` characters.
    zh_cues: Vec<String>,
    window_words: usize,
    window_chars: usize,
    /// A negated phrase followed by one of these before its clause ends (the clause's own
    /// `?` included) is asked, not denied: "这不是欺诈吗", "Isn't this a scam?".
    #[serde(default)]
    question_ends: Vec<String>,
    /// … or with one of these earlier in its clause: "难道不是诈骗".
    #[serde(default)]
    question_starts: Vec<String>,
    /// Spellings that hold a Chinese cue without negating: 是不是 ("whether").
    #[serde(default)]
    question_forms: Vec<String>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CategoryFile {
    category: toml::Spanned<String>,
    #[serde(default)]
    terms: Vec<TermGroup>,
    #[serde(default)]
    patterns: Vec<PatternEntry>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TermGroup {
    weight: toml::Spanned<f32>,
    #[serde(default = "yes")]
    negatable: bool,
    phrases: Vec<toml::Spanned<String>>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct PatternEntry {
    name: String,
    weight: f32,
    regex: toml::Spanned<String>,
}

/// One use of a phrase by a category.
#[derive(Debug, Clone, Copy)]
struct Use {
    category: usize,
    weight: f32,
    negatable: bool,
}

#[derive(Debug)]
struct Phrase {
    /// Whether the phrase may run on into a longer word (`scam*`).
    wildcard: bool,
    /// Whether the phrase starts / ends with an ASCII word character (needs a boundary).
    word_start: bool,
    word_end: bool,
    uses: Vec<Use>,
}

#[derive(Debug)]
struct Pattern {
    category: usize,
    name: String,
    weight: f32,
}

/// The compiled rules.
pub struct Rules {
    name: String,
    threshold: f32,
    scale: f32,
    title_weight: f32,
    /// Every phrase, for texts with non-ASCII bytes.
    all: PhraseDfa,
    /// Only the ASCII phrases, for ASCII texts (most English complaints), where no other
    /// phrase can match, so the matches are the same. Its DFA has far fewer byte classes
    /// than one that also spells Chinese (7.65 -> 6.5 CPU-s on 1M complaints).
    ascii: PhraseDfa,
    phrases: Vec<Phrase>,
    regexes: RegexSet,
    patterns: Vec<Pattern>,
    cues: Vec<String>,
    zh_cues: Vec<String>,
    /// Every Chinese cue has a non-ASCII character, so none can stand in an ASCII clause.
    zh_cues_need_non_ascii: bool,
    window_words: usize,
    window_chars: usize,
    question_ends: Vec<String>,
    question_starts: Vec<String>,
    question_forms: Vec<String>,
    /// Traditional -> Simplified, character for character.
    fold: Fold,
}

/// Traditional Chinese characters folded to Simplified ones, one for one and only where
/// both take three bytes in UTF-8: a folded text has the same length and offsets as the
/// original, so phrases are found in the folded text and shown as the original writes them.
/// `detect` folds with the same table (see [`Fold::load`]).
#[derive(Debug, Default)]
pub struct Fold(HashMap<char, char>);

impl Fold {
    /// The fold the rules of `dir` use (`traditional` and `traditional_prefer` in its
    /// `rules.toml`); none when `rules.toml` names no table.
    pub fn load(dir: &Path) -> Result<Self, RulesError> {
        let path = dir.join("rules.toml");
        let src = read_rules_file(&path)?;
        let name = path.display().to_string();
        let s = parse_settings(&name, &src)?;
        let tables = named_tables(dir, &s)?;
        Ok(settings_fold(&s, &name, &src, &tables)?.0)
    }

    /// Parses `TRADITIONAL<TAB>SIMPLIFIED[ ALTERNATIVE…]` lines (OpenCC's TSCharacters.txt);
    /// the first Simplified form is taken. Entries that are not one three-byte character on
    /// each side (characters beyond the Basic Multilingual Plane) are skipped.
    fn parse(file: &str, src: &str) -> Result<Self, RulesError> {
        let mut map = HashMap::new();
        for (i, line) in src.lines().enumerate() {
            if line.trim().is_empty() || line.starts_with('#') {
                continue;
            }
            let bad = |message: &str| RulesError {
                file: file.to_string(),
                line: i + 1,
                message: message.to_string(),
            };
            let (from, to) = line.split_once('\t').ok_or_else(|| {
                bad("expected a Traditional character, a tab, then its Simplified form")
            })?;
            let to = to
                .split(' ')
                .next()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| bad("no Simplified form after the tab"))?;
            if let (Some(f), Some(t)) = (Fold::one(from), Fold::one(to))
                && f != t
            {
                map.insert(f, t);
            }
        }
        Ok(Self(map))
    }

    /// The one character of `s`, if it is one that takes three bytes in UTF-8.
    fn one(s: &str) -> Option<char> {
        let mut cs = s.chars();
        match (cs.next(), cs.next()) {
            (Some(c), None) if c.len_utf8() == 3 => Some(c),
            _ => None,
        }
    }

    /// The text with every mapped character folded (borrowed when nothing changes).
    pub fn apply<'a>(&self, text: &'a str) -> std::borrow::Cow<'a, str> {
        if self.0.is_empty() || text.is_ascii() {
            return std::borrow::Cow::Borrowed(text);
        }
        // Only three-byte characters are keys: ASCII (most of an English complaint with a
        // curly quote) is passed over without a lookup.
        let key = |c: &char| c.len_utf8() == 3 && self.0.contains_key(c);
        let Some(first) = text.char_indices().find(|(_, c)| key(c)) else {
            return std::borrow::Cow::Borrowed(text);
        };
        let mut out = String::with_capacity(text.len());
        out.push_str(&text[..first.0]);
        out.extend(
            text[first.0..]
                .chars()
                .map(|c| *self.0.get(&c).unwrap_or(&c)),
        );
        debug_assert_eq!(out.len(), text.len(), "folding keeps every offset");
        std::borrow::Cow::Owned(out)
    }
}

impl fmt::Debug for Rules {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Rules")
            .field("name", &self.name)
            .field("phrases", &self.phrases.len())
            .field("patterns", &self.patterns.len())
            .finish()
    }
}

/// An error about the whole of `file` (no line).
fn whole_file(file: impl fmt::Display, message: String) -> RulesError {
    RulesError {
        file: file.to_string(),
        line: 0,
        message,
    }
}

fn toml_error(file: &str, src: &str, e: toml::de::Error) -> RulesError {
    RulesError {
        file: file.to_string(),
        line: e.span().map_or(0, |s| line_of(src, s.start)),
        message: e.message().trim().to_string(),
    }
}

fn read_rules_file(p: &Path) -> Result<String, RulesError> {
    std::fs::read_to_string(p).map_err(|e| whole_file(p.display(), format!("cannot read: {e}")))
}

/// `rules.toml` parsed and its numbers checked.
fn parse_settings(sname: &str, ssrc: &str) -> Result<SettingsFile, RulesError> {
    let s: SettingsFile = toml::from_str(ssrc).map_err(|e| toml_error(sname, ssrc, e))?;
    if !(s.threshold > 0.0 && s.threshold < 1.0) {
        return Err(whole_file(
            sname,
            "threshold must be between 0 and 1".into(),
        ));
    }
    if s.scale <= 0.0 || s.title_weight <= 0.0 {
        return Err(whole_file(
            sname,
            "scale and title_weight must be positive".into(),
        ));
    }
    Ok(s)
}

/// The tables a setting of `rules.toml` names (`traditional`), read from `dir`, as
/// `(name in rules.toml, path, text)`.
fn named_tables(dir: &Path, s: &SettingsFile) -> Result<Vec<(String, String, String)>, RulesError> {
    let mut tables = Vec::new();
    if let Some(name) = &s.traditional {
        let p = dir.join(name);
        tables.push((name.clone(), p.display().to_string(), read_rules_file(&p)?));
    }
    Ok(tables)
}

/// The Traditional fold the settings ask for (none without `traditional`), with the text of
/// the table it was built from (part of the rules' version).
fn settings_fold<'t>(
    s: &SettingsFile,
    sname: &str,
    ssrc: &str,
    tables: &'t [(String, String, String)],
) -> Result<(Fold, Option<&'t str>), RulesError> {
    let err = |offset: usize, message: String| RulesError {
        file: sname.to_string(),
        line: line_of(ssrc, offset),
        message,
    };
    let Some(name) = &s.traditional else {
        return Ok((Fold::default(), None));
    };
    let (_, path, src) = tables.iter().find(|(n, _, _)| n == name).ok_or_else(|| {
        err(
            ssrc.find("traditional").unwrap_or(0),
            format!("traditional = {name:?}: no such file beside rules.toml"),
        )
    })?;
    let mut fold = Fold::parse(path, src)?;
    for (from, to) in &s.traditional_prefer {
        let (Some(f), Some(t)) = (Fold::one(from), Fold::one(to)) else {
            return Err(err(
                ssrc.find(from.as_str()).unwrap_or(0),
                format!(
                    "traditional_prefer: {from:?} = {to:?} must map one Chinese character to one"
                ),
            ));
        };
        fold.0.insert(f, t);
    }
    Ok((fold, Some(src)))
}

fn line_of(src: &str, offset: usize) -> usize {
    src[..offset.min(src.len())].matches('\n').count() + 1
}

fn is_word(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

/// How far back (in characters) a negation's clause may start.
const CLAUSE_CHARS: usize = 80;

/// Characters that end a clause: a negation does not reach past them.
fn is_clause_break(c: char) -> bool {
    matches!(
        c,
        '.' | ',' | ';' | ':' | '!' | '?' | '\n' | '，' | '。' | '；' | '：' | '！' | '？' | '、'
    )
}

impl Rules {
    /// Loads `rules.toml` and every other `*.toml` of `dir` (one file per category).
    pub fn load(dir: &Path) -> Result<Self, RulesError> {
        let settings_path = dir.join("rules.toml");
        let settings_src = read_rules_file(&settings_path)?;
        let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
            .map_err(|e| whole_file(dir.display(), format!("cannot list the rules folder: {e}")))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension().is_some_and(|x| x == "toml")
                    && p.file_name().is_some_and(|n| n != "rules.toml")
            })
            .collect();
        files.sort();
        let mut sources = Vec::new();
        for f in &files {
            sources.push((f.display().to_string(), read_rules_file(f)?));
        }
        let sname = settings_path.display().to_string();
        let s = parse_settings(&sname, &settings_src)?;
        let tables = named_tables(dir, &s)?;
        Self::compile(s, (&sname, &settings_src), &sources, &tables)
    }

    /// Compiles rules from file contents: `(name, text)` of `rules.toml`, then of each
    /// category file, then `(name in rules.toml, path, text)` of the tables it names.
    pub fn from_sources(
        settings: (&str, &str),
        category_files: &[(String, String)],
        tables: &[(String, String, String)],
    ) -> Result<Self, RulesError> {
        let s = parse_settings(settings.0, settings.1)?;
        Self::compile(s, settings, category_files, tables)
    }

    fn compile(
        s: SettingsFile,
        settings: (&str, &str),
        category_files: &[(String, String)],
        tables: &[(String, String, String)],
    ) -> Result<Self, RulesError> {
        let err = |file: &str, src: &str, offset: usize, message: String| RulesError {
            file: file.to_string(),
            line: line_of(src, offset),
            message,
        };
        let (sname, ssrc) = settings;
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        hasher.update(ssrc.as_bytes());
        let (fold, table) = settings_fold(&s, sname, ssrc, tables)?;
        if let Some(table) = table {
            hasher.update(table.as_bytes());
        }
        let mut index: HashMap<String, usize> = HashMap::new();
        let mut texts: Vec<String> = Vec::new();
        let mut phrases: Vec<Phrase> = Vec::new();
        let mut regexes: Vec<String> = Vec::new();
        let mut patterns: Vec<Pattern> = Vec::new();
        let mut seen_categories: HashMap<Category, String> = HashMap::new();
        for (file, src) in category_files {
            hasher.update(file.rsplit('/').next().unwrap_or(file).as_bytes());
            hasher.update(src.as_bytes());
            let cf: CategoryFile = toml::from_str(src).map_err(|e| toml_error(file, src, e))?;
            let cat = Category::parse(cf.category.get_ref())
                .and_then(|c| c.index().map(|i| (c, i)))
                .ok_or_else(|| {
                    err(
                        file,
                        src,
                        cf.category.span().start,
                        format!(
                            "unknown category {:?}; use one of {}",
                            cf.category.get_ref(),
                            Category::LABELS.map(|c| c.id()).join(", ")
                        ),
                    )
                })?;
            if let Some(other) = seen_categories.insert(cat.0, file.clone()) {
                return Err(err(
                    file,
                    src,
                    cf.category.span().start,
                    format!("category {} is already defined in {other}", cat.0),
                ));
            }
            for group in &cf.terms {
                let w = *group.weight.get_ref();
                if !w.is_finite() || w == 0.0 {
                    return Err(err(
                        file,
                        src,
                        group.weight.span().start,
                        "weight must be a non-zero number".into(),
                    ));
                }
                for p in &group.phrases {
                    let raw = p.get_ref().trim();
                    let wildcard = raw.ends_with('*');
                    // Folded as texts are: a Traditional spelling finds the same phrase.
                    let text = fold
                        .apply(&raw.trim_end_matches('*').to_lowercase())
                        .into_owned();
                    if text.trim().is_empty() || text.contains('*') {
                        return Err(err(
                            file,
                            src,
                            p.span().start,
                            format!("bad phrase {raw:?}: empty, or `*` not at the end"),
                        ));
                    }
                    let use_ = Use {
                        category: cat.1,
                        weight: w,
                        negatable: group.negatable,
                    };
                    match index.get(&text) {
                        Some(&i) => {
                            if phrases[i].wildcard != wildcard {
                                return Err(err(
                                    file,
                                    src,
                                    p.span().start,
                                    format!(
                                        "phrase {raw:?} appears elsewhere with a different `*`"
                                    ),
                                ));
                            }
                            if phrases[i].uses.iter().any(|u| u.category == cat.1) {
                                return Err(err(
                                    file,
                                    src,
                                    p.span().start,
                                    format!("phrase {raw:?} is listed twice for {}", cat.0),
                                ));
                            }
                            phrases[i].uses.push(use_);
                        }
                        None => {
                            let b = text.as_bytes();
                            phrases.push(Phrase {
                                wildcard,
                                word_start: is_word(b[0]),
                                word_end: is_word(b[b.len() - 1]),
                                uses: vec![use_],
                            });
                            index.insert(text.clone(), texts.len());
                            texts.push(text);
                        }
                    }
                }
            }
            for p in &cf.patterns {
                if let Err(e) = regex::Regex::new(p.regex.get_ref()) {
                    return Err(err(
                        file,
                        src,
                        p.regex.span().start,
                        format!("bad regex in pattern {:?}: {e}", p.name),
                    ));
                }
                regexes.push(p.regex.get_ref().clone());
                patterns.push(Pattern {
                    category: cat.1,
                    name: p.name.clone(),
                    weight: p.weight,
                });
            }
        }
        let build = |ids: Vec<usize>| {
            let phrases: Vec<&str> = ids.iter().map(|&i| texts[i].as_str()).collect();
            PhraseDfa::new(&phrases, ids).map_err(|e| RulesError {
                file: "models/rules".into(),
                line: 0,
                message: format!("cannot compile the phrases: {e}"),
            })
        };
        let all = build((0..texts.len()).collect())?;
        let ascii = build((0..texts.len()).filter(|&i| texts[i].is_ascii()).collect())?;
        let regexes = RegexSet::new(&regexes).map_err(|e| RulesError {
            file: "models/rules".into(),
            line: 0,
            message: format!("cannot compile the patterns together: {e}"),
        })?;
        let hash = hasher.digest();
        let folded = |v: &[String]| -> Vec<String> {
            v.iter().map(|c| fold.apply(c).into_owned()).collect()
        };
        Ok(Self {
            name: format!("rules@{}+{:08x}", s.version, hash >> 32),
            threshold: s.threshold,
            scale: s.scale,
            title_weight: s.title_weight,
            all,
            ascii,
            phrases,
            regexes,
            patterns,
            cues: s.negation.cues.iter().map(|c| c.to_lowercase()).collect(),
            zh_cues_need_non_ascii: s.negation.zh_cues.iter().all(|c| !c.is_ascii()),
            zh_cues: folded(&s.negation.zh_cues),
            window_words: s.negation.window_words,
            window_chars: s.negation.window_chars,
            question_ends: folded(&s.negation.question_ends),
            question_starts: folded(&s.negation.question_starts),
            question_forms: folded(&s.negation.question_forms),
            fold,
        })
    }

    /// Number of phrases and patterns (for `--help`-level summaries and tests).
    pub fn size(&self) -> (usize, usize) {
        (self.phrases.len(), self.patterns.len())
    }

    /// Whether the clause before `start` in `text` holds a negation cue close enough.
    fn negated(&self, text: &str, start: usize) -> bool {
        let before = &text.as_bytes()[..start];
        // The CLAUSE_CHARS characters looked at are as many bytes when they are ASCII: the
        // common case (English complaints) is then read byte by byte, with the same answer
        // (tested).
        let window = &before[before.len().saturating_sub(CLAUSE_CHARS)..];
        if self.zh_cues_need_non_ascii && window.is_ascii() {
            let clause_start = window
                .iter()
                .rposition(|&b| is_clause_break(char::from(b)))
                .map_or(0, |i| i + 1);
            return self.ascii_cue_before(&window[clause_start..]);
        }
        self.negated_chars(text, start)
    }

    /// Whether one of the last `window_words` words of an ASCII clause is a cue word.
    fn ascii_cue_before(&self, clause: &[u8]) -> bool {
        // Words as `negated_chars` splits them: alphanumerics and apostrophes (not the
        // module's `is_word`, which is for phrase boundaries).
        let in_word = |b: u8| b.is_ascii_alphanumeric() || b == b'\'';
        let mut end = clause.len();
        for _ in 0..self.window_words {
            while end > 0 && !in_word(clause[end - 1]) {
                end -= 1;
            }
            if end == 0 {
                return false;
            }
            let mut first = end;
            while first > 0 && in_word(clause[first - 1]) {
                first -= 1;
            }
            let word = std::str::from_utf8(&clause[first..end]).expect("ASCII");
            if self.is_cue_word(word) {
                return true;
            }
            end = first;
        }
        false
    }

    /// Where the clause that `start` stands in begins (at most [`CLAUSE_CHARS`] back).
    fn clause_start(text: &str, start: usize) -> usize {
        let before = &text[..start];
        before
            .char_indices()
            .rev()
            .take(CLAUSE_CHARS)
            .find(|(_, c)| is_clause_break(*c))
            .map_or_else(
                || {
                    before
                        .char_indices()
                        .rev()
                        .take(CLAUSE_CHARS)
                        .last()
                        .map_or(0, |(i, _)| i)
                },
                |(i, c)| i + c.len_utf8(),
            )
    }

    /// Whether a negated phrase at `start..end` is asked rather than denied: a question
    /// end follows it in its clause ("这不是欺诈吗", "Isn't this a scam?"), or a question
    /// start precedes it there ("难道不是诈骗"). Asked only for phrases found negated.
    fn asked(&self, text: &str, start: usize, end: usize) -> bool {
        let after: String = {
            let mut out = String::new();
            for c in text[end..].chars().take(CLAUSE_CHARS) {
                out.push(c);
                if is_clause_break(c) {
                    break;
                }
            }
            out
        };
        let clause = &text[Self::clause_start(text, start)..start];
        self.question_ends
            .iter()
            .any(|q| after.contains(q.as_str()))
            || self
                .question_starts
                .iter()
                .any(|q| clause.contains(q.as_str()))
    }

    /// [`Rules::negated`] for any text, character by character.
    fn negated_chars(&self, text: &str, start: usize) -> bool {
        let clause = &text[Self::clause_start(text, start)..start];
        // Chinese: a cue among the last few characters (skipped, allocation-free, for the
        // ASCII clauses of English complaints, where no Chinese cue can stand). A question
        // form (是不是) is blanked first, keeping the count of characters, so the cue it
        // holds is not read as a negation.
        if !(self.zh_cues_need_non_ascii && clause.is_ascii()) {
            let tail: String = {
                let mut chars: String = clause.chars().filter(|c| !c.is_whitespace()).collect();
                for form in &self.question_forms {
                    let blank = "\u{1}".repeat(form.chars().count());
                    chars = chars.replace(form.as_str(), &blank);
                }
                let chars: Vec<char> = chars.chars().collect();
                chars[chars.len().saturating_sub(self.window_chars)..]
                    .iter()
                    .collect()
            };
            if self.zh_cues.iter().any(|c| tail.contains(c.as_str())) {
                return true;
            }
        }
        // English: a cue word among the last few words.
        clause
            .split(|c: char| !(c.is_alphanumeric() || c == '\'' || c == '’'))
            .filter(|w| !w.is_empty())
            .rev()
            .take(self.window_words)
            .any(|w| self.is_cue_word(w))
    }

    /// Whether `w` is a negation cue word (case-insensitive) or ends in "n't".
    fn is_cue_word(&self, w: &str) -> bool {
        if w.is_ascii() {
            // The cues are lower-case, so ASCII case folding is `to_lowercase` here,
            // without a String per word.
            let b = w.as_bytes();
            (b.len() >= 3 && b[b.len() - 3..].eq_ignore_ascii_case(b"n't"))
                || self.cues.iter().any(|c| c.eq_ignore_ascii_case(w))
        } else {
            let w = w.to_lowercase();
            w.ends_with("n't") || w.ends_with("n’t") || self.cues.contains(&w)
        }
    }

    /// The searcher for `text`.
    fn dfa_for(&self, text: &str) -> &PhraseDfa {
        if text.is_ascii() {
            &self.ascii
        } else {
            &self.all
        }
    }

    /// Weighs the phrases found in `text` (`hits`, from [`PhraseDfa`]).
    /// `text` is the folded text the phrases were found in; `shown`, the text as written
    /// (the same offsets), gives the evidence.
    fn scan(
        &self,
        text: &str,
        shown: &str,
        hits: &[Hit],
        mult: f32,
        weights: &mut [f32; 6],
        found: &mut Found,
    ) {
        let bytes = text.as_bytes();
        for m in hits {
            let id = m.phrase;
            let p = &self.phrases[id];
            if p.word_start && m.start > 0 && is_word(bytes[m.start - 1]) {
                continue;
            }
            if p.word_end && !p.wildcard && m.end < bytes.len() && is_word(bytes[m.end]) {
                continue;
            }
            let mut negated = None;
            for u in &p.uses {
                let neg = u.negatable
                    && *negated.get_or_insert_with(|| {
                        self.negated(text, m.start) && !self.asked(text, m.start, m.end)
                    });
                let key = (id, u.category);
                let surface = || {
                    // The phrase as written, widened to the whole word for `scam*`.
                    let mut end = m.end;
                    if p.wildcard {
                        while end < bytes.len() && is_word(bytes[end]) {
                            end += 1;
                        }
                    }
                    shown[m.start..end].to_string()
                };
                if neg {
                    if !found.negated.iter().any(|(k, _)| *k == key) {
                        found.negated.push((key, surface()));
                    }
                    continue;
                }
                match found.hits.iter_mut().find(|(k, _, _)| *k == key) {
                    Some(h) => {
                        // Counted once; a title occurrence upgrades the weight.
                        if mult > h.2 {
                            weights[u.category] += u.weight * (mult - h.2);
                            h.2 = mult;
                        }
                    }
                    None => {
                        weights[u.category] += u.weight * mult;
                        found.hits.push((key, surface(), mult));
                    }
                }
            }
        }
    }

    /// Classifies one text.
    pub fn classify(&self, doc: Doc<'_>) -> Classification {
        let text = self.fold.apply(doc.text);
        let mut body = Vec::new();
        self.dfa_for(&text).find_all(text.as_bytes(), &mut body);
        self.classify_found(doc, &text, &body)
    }

    /// Classifies one text whose body phrases were already found in `text`, its body
    /// folded ([`Fold`]).
    fn classify_found(&self, doc: Doc<'_>, text: &str, body: &[Hit]) -> Classification {
        let mut weights = [0f32; 6];
        let mut found = Found::default();
        let title = doc.title.map(|t| (self.fold.apply(t), t));
        if let Some((t, shown)) = &title {
            let mut hits = Vec::new();
            self.dfa_for(t).find_all(t.as_bytes(), &mut hits);
            self.scan(t, shown, &hits, self.title_weight, &mut weights, &mut found);
        }
        self.scan(text, doc.text, body, 1.0, &mut weights, &mut found);
        let mut pattern_hits: Vec<usize> = Vec::new();
        if !self.patterns.is_empty() {
            for t in title.iter().map(|(t, _)| t.as_ref()).chain([text]) {
                for i in self.regexes.matches(t).into_iter() {
                    if !pattern_hits.contains(&i) {
                        pattern_hits.push(i);
                        weights[self.patterns[i].category] += self.patterns[i].weight;
                    }
                }
            }
        }
        let mut scores = [0f32; 6];
        for (s, w) in scores.iter_mut().zip(weights) {
            *s = if w > 0.0 {
                1.0 - (-w / self.scale).exp()
            } else {
                0.0
            };
        }
        let mut evidence = Vec::new();
        // The phrases found, moved (not copied) into each category's evidence, in order.
        let mut by_category: [Vec<String>; 6] = Default::default();
        for ((_, c), s, _) in found.hits {
            by_category[c].push(s);
        }
        for ((ci, cat), mut detail) in Category::LABELS.into_iter().enumerate().zip(by_category) {
            detail.extend(
                pattern_hits
                    .iter()
                    .filter(|i| self.patterns[**i].category == ci)
                    .map(|i| format!("pattern:{}", self.patterns[*i].name)),
            );
            detail.extend(
                found
                    .negated
                    .iter()
                    .filter(|((_, c), _)| *c == ci)
                    .map(|(_, s)| format!("negated:{s}")),
            );
            if !detail.is_empty() {
                detail.truncate(12);
                evidence.push(Evidence {
                    category: cat,
                    by: "rules",
                    detail,
                });
            }
        }
        let mut c =
            Classification::from_scores(scores, self.threshold, evidence, self.name.clone());
        // Evidence of assigned labels first.
        let order = |cat: Category| c.categories.iter().position(|x| *x == cat).unwrap_or(99);
        c.evidence.sort_by_key(|e| order(e.category));
        c
    }
}

#[derive(Default)]
struct Found {
    /// ((phrase, category), surface text, multiplier counted).
    hits: Vec<((usize, usize), String, f32)>,
    negated: Vec<((usize, usize), String)>,
}

impl Classifier for Rules {
    fn name(&self) -> &str {
        &self.name
    }

    fn classify_batch(&self, docs: &[Doc<'_>]) -> anyhow::Result<Vec<Classification>> {
        // The bodies of each searcher walked several at a time (see `phrases`), folded
        // first (a borrow for every text without Traditional characters).
        let texts: Vec<std::borrow::Cow<'_, str>> =
            docs.iter().map(|d| self.fold.apply(d.text)).collect();
        let ascii: Vec<bool> = texts.iter().map(|t| t.is_ascii()).collect();
        let mut hits: Vec<Vec<Hit>> = vec![Vec::new(); docs.len()];
        for (dfa, want) in [(&self.ascii, true), (&self.all, false)] {
            let idx: Vec<usize> = (0..docs.len()).filter(|&i| ascii[i] == want).collect();
            let bytes: Vec<&[u8]> = idx.iter().map(|&i| texts[i].as_bytes()).collect();
            for (i, h) in idx.into_iter().zip(dfa.find_many(&bytes)) {
                hits[i] = h;
            }
        }
        let out: Vec<Classification> = docs
            .iter()
            .zip(&texts)
            .zip(&hits)
            .map(|((d, t), h)| self.classify_found(*d, t, h))
            .collect();
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SETTINGS: &str = r#"
version = "t"
threshold = 0.5
scale = 2.0
title_weight = 1.5
[negation]
cues = ["not", "no", "never"]
zh_cues = ["不是", "并非", "没有"]
window_words = 3
window_chars = 4
"#;

    fn rules(cat: &str) -> Result<Rules, RulesError> {
        Rules::from_sources(
            ("rules.toml", SETTINGS),
            &[("c.toml".into(), cat.into())],
            &[],
        )
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = rules(
            "category = \"fraud\"\n\n[[terms]]\nweight = 2.0\nphrases = [\"ok\", \"bad*x\"]\n",
        )
        .unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("c.toml", 5), "{e}");
        let e = rules(
            "category = \"fraud\"\n[[patterns]]\nname = \"x\"\nweight = 1.0\nregex = \"(\"\n",
        )
        .unwrap_err();
        assert_eq!(e.line, 5, "{e}");
        let e = rules("category = \"frod\"\n").unwrap_err();
        assert!(e.to_string().contains("unknown category"), "{e}");
        let e = rules("category = \"fraud\"\nterms = 3\n").unwrap_err();
        assert_eq!(e.line, 2, "{e}");
        // A setting out of range concerns the whole of rules.toml: no line is made up.
        let bad = SETTINGS.replace("threshold = 0.5", "threshold = 1.5");
        assert_ne!(bad, SETTINGS);
        let e = Rules::from_sources(("rules.toml", &bad), &[], &[]).unwrap_err();
        assert_eq!(
            e.to_string(),
            "rules.toml: threshold must be between 0 and 1"
        );
    }

    #[test]
    fn a_traditional_table_is_checked_and_folds_phrases_and_texts_alike() {
        let settings = format!(
            "traditional = \"t.txt\"\ntraditional_prefer = {{ \"帳\" = \"账\" }}\n{SETTINGS}"
        );
        let cat =
            "category = \"account_takeover\"\n[[terms]]\nweight = 3.0\nphrases = [\"账户被盗\"]\n";
        let load = |table: &str| {
            Rules::from_sources(
                ("rules.toml", &settings),
                &[("c.toml".into(), cat.into())],
                &[("t.txt".into(), "models/rules/t.txt".into(), table.into())],
            )
        };
        // A line without a tab is named with its file and line.
        let e = load("戶\t户\n盜 盗\n").unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("models/rules/t.txt", 2), "{e}");
        // A table that is not there is named from rules.toml.
        let e = Rules::from_sources(("rules.toml", &settings), &[], &[]).unwrap_err();
        assert!(e.to_string().contains("no such file"), "{e}");
        // 帳 is folded by `traditional_prefer` (the table would say 帐); an entry beyond
        // three bytes a side is skipped, not an error.
        let r = load("戶\t户\n盜\t盗\n帳\t帐\n𠀋\t𠀋\n").unwrap();
        let c = r.classify(Doc {
            title: None,
            text: "我的帳戶被盜了",
        });
        assert_eq!(c.categories, vec![Category::AccountTakeover]);
        assert_eq!(c.evidence[0].detail, vec!["帳戶被盜"], "quoted as written");
    }

    #[test]
    fn words_wildcards_chinese_and_negation() {
        let r = rules(
            "category = \"fraud\"\n[[terms]]\nweight = 3.0\nphrases = [\"scam*\", \"诈骗\", \"fake\"]\n",
        )
        .unwrap();
        let fraud = |t: &str| {
            r.classify(Doc {
                title: None,
                text: t,
            })
            .scores[4]
        };
        assert!(fraud("I was SCAMMED by a seller") > 0.5);
        assert!(fraud("这是诈骗") > 0.5);
        assert_eq!(
            fraud("the fakes were real: fakeness"),
            0.0,
            "fake needs a whole word"
        );
        assert_eq!(fraud("This is not a scam, they said"), 0.0);
        assert_eq!(fraud("客服说这不是诈骗"), 0.0);
        assert!(
            fraud("It was not my fault. It was a scam.") > 0.5,
            "negation stops at the clause end"
        );
        let c = r.classify(Doc {
            title: None,
            text: "not a scam",
        });
        assert_eq!(c.categories, vec![Category::Other]);
        assert_eq!(c.evidence[0].detail, vec!["negated:scam"]);
    }

    #[test]
    fn the_byte_negation_check_answers_as_the_character_one() {
        // The shipped cues, the bundled real complaints (English and Chinese) and made-up
        // clauses dense with cues, breaks, apostrophes and non-ASCII just out of reach:
        // every character boundary as a phrase's start.
        let r = Rules::load(std::path::Path::new("models/rules")).unwrap();
        let mut texts: Vec<String> = vec![
            "I did not, never once, authorise it. They didn't send it; no refund! It wasn't a scam: it's fraud".into(),
            "我没有授权。 Not me, I never sent it — café owner's “refund” isn't coming".into(),
            format!("{}not a scam", "x".repeat(78)),
            format!("{}é not a scam", "y".repeat(90)),
            "no\nscam, not\tscam, NOT SCAM, Never   scam, n't scam, won't scam".into(),
        ];
        let mut rdr = csv::Reader::from_path("data/sample/cfpb_sample.csv").unwrap();
        for rec in rdr.records().take(120) {
            texts.push(rec.unwrap().iter().collect::<Vec<_>>().join(" "));
        }
        for line in std::fs::read_to_string("data/sample/zh_complaints.ndjson")
            .unwrap()
            .lines()
        {
            texts.push(line.to_string());
        }
        let (mut checked, mut negated) = (0, 0);
        for t in &texts {
            for start in (0..=t.len()).filter(|&i| t.is_char_boundary(i)) {
                let want = r.negated_chars(t, start);
                assert_eq!(r.negated(t, start), want, "{:?}", &t[..start]);
                checked += 1;
                negated += usize::from(want);
            }
        }
        assert!(
            checked > 50_000 && negated > 1_000,
            "{checked} starts, {negated} negated"
        );
    }

    #[test]
    fn ascii_texts_match_as_with_every_phrase() {
        // ASCII texts are searched with the ASCII phrases only; one non-ASCII character
        // sends the same words through the automaton of every phrase. Same answer.
        let r = Rules::load(std::path::Path::new("models/rules")).unwrap();
        for text in [
            "Someone pretending to be Cash App support sent me a phishing link; my account was hacked, $900 gone and they never refunded it. Not a scam, they said.",
            "PayPal froze my account and is holding my funds. I cannot withdraw. Customer service hung up on me.",
            "I sent money with Zelle to the wrong person and the transfer failed, then the payment was pending for weeks.",
        ] {
            let ascii = r.classify(Doc {
                title: Some("Unauthorized transfer"),
                text,
            });
            let wide = format!("{text} \u{2019}");
            let other = r.classify(Doc {
                title: Some("Unauthorized transfer"),
                text: &wide,
            });
            assert!(!ascii.evidence.is_empty(), "{text}");
            assert_eq!(ascii.scores, other.scores, "{text}");
            assert_eq!(
                serde_json::to_string(&ascii.evidence).unwrap(),
                serde_json::to_string(&other.evidence).unwrap()
            );
        }
    }
}

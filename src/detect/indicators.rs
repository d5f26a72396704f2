//! Scam indicators: domains and URLs (defanged forms recognised, punycode), phone numbers
//! (keyed hashes of masked numbers, service numbers in clear), account handles, crypto
//! addresses, named apps and impersonated roles. The lexicon is data:
//! `models/detect/indicators.toml`; scam lists are files (one domain a line, or the
//! eth-phishing-detect JSON form).

use std::collections::{HashMap, HashSet};
use std::fmt;
use std::path::Path;
use std::sync::LazyLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, AhoCorasickKind, MatchKind};
use regex::Regex;
use serde::Deserialize;

/// What an indicator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// Registrable host, lower-case, punycode, `www.` stripped.
    Domain,
    /// Full URL on a link shortener (the domain alone says nothing).
    Url,
    /// Phone number: `+E164` for service numbers, `phone:<keyed hash>` for masked ones.
    Phone,
    /// $cashtag, @handle, or a payee account named after 支付宝账号/微信号.
    Handle,
    /// BTC, ETH or TRON address.
    Crypto,
    /// A named app (`remote:anydesk`).
    App,
    /// A role the scammer pretended to be (`police`).
    Role,
}

impl Kind {
    /// Name used in tables and `kind:value` strings.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Domain => "domain",
            Kind::Url => "url",
            Kind::Phone => "phone",
            Kind::Handle => "handle",
            Kind::Crypto => "crypto",
            Kind::App => "app",
            Kind::Role => "role",
        }
    }

    /// Whether sharing this indicator links two complaints into one campaign.
    pub fn links(self) -> bool {
        !matches!(self, Kind::App | Kind::Role)
    }
}

/// One indicator found in a complaint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Indicator {
    /// What it is.
    pub kind: Kind,
    /// Normalised value.
    pub value: String,
}

impl fmt::Display for Indicator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.kind.name(), self.value)
    }
}

/// Errors loading the lexicon or a scam list.
#[derive(Debug, thiserror::Error)]
pub enum IndicatorError {
    /// Unreadable file.
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    /// Malformed file.
    #[error("{path}: {message}")]
    Format { path: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LexiconFile {
    apps: HashMap<String, Vec<String>>,
    roles: HashMap<String, Vec<String>>,
    shorteners: Vec<String>,
    tlds: Vec<String>,
    payee: HashMap<String, Vec<String>>,
}

/// The compiled lexicon.
pub struct Extractor {
    /// Apps and roles: one automaton, `phrase_target[pattern]` = the indicator it yields.
    phrases: AhoCorasick,
    phrase_target: Vec<Indicator>,
    phrase_latin: Vec<bool>,
    shorteners: HashSet<String>,
    tlds: HashSet<String>,
    payee: AhoCorasick,
    payee_kind: Vec<String>,
    /// Whether a payee word is all ASCII (else an ASCII text cannot hold one).
    payee_ascii: bool,
}

static DEFANG_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)\s?[\[\(\{<](?:\.|dot|。)[\]\)\}>]\s?|\[:\]|\[://\]|h(?:xx|\*\*|XX)p")
        .expect("defang pattern is valid")
});

static CJK_DOT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([A-Za-z0-9])[。．｡]([A-Za-z0-9])").expect("dot pattern is valid")
});

// Scheme (optional), host labels (ASCII plus Latin/Greek/Cyrillic letters for homograph
// domains), TLD, optional path.
static DOMAIN_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?i)(?P<scheme>\bhttps?://)?",
        r"(?P<host>(?:[a-z0-9\p{Latin}\p{Greek}\p{Cyrillic}](?:[a-z0-9\p{Latin}\p{Greek}\p{Cyrillic}\-]{0,61}[a-z0-9\p{Latin}\p{Greek}\p{Cyrillic}])?\.)+",
        r"(?P<tld>[a-z]{2,24}|xn--[a-z0-9\-]{2,59}))\b",
        r"(?P<path>/[A-Za-z0-9\-._~%/?#=&+]*)?",
    ))
    .expect("domain pattern is valid")
});

static SERVICE_NUMBER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?:^|[^0-9])((?:400|800)[ \-]?[0-9]{3}[ \-]?[0-9]{4}|95[0-9]{3}|96110)(?:[^0-9]|$)",
    )
    .expect("service number pattern is valid")
});

static HANDLE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?:^|[^A-Za-z0-9_$@.])(?P<sigil>[$@])(?P<name>[A-Za-z][A-Za-z0-9_.\-]{1,29})")
        .expect("handle pattern is valid")
});

static PAYEE_VALUE_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^[\s：:是为]*([A-Za-z0-9][A-Za-z0-9_\-.@]{4,39})").expect("payee pattern is valid")
});

static CRYPTO_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"\b(?:(?P<eth>0x[0-9a-fA-F]{40})",
        r"|(?P<bech>(?:bc1|BC1)[02-9ac-hj-np-zAC-HJ-NP-Z]{11,71})",
        r"|(?P<b58>[13T][1-9A-HJ-NP-Za-km-z]{25,34}))\b",
    ))
    .expect("crypto pattern is valid")
});

/// Undoes the usual defanging (`hxxp`, `[.]`, `(.)`, `[dot]`, full-width dots between
/// letters) so one regex finds every form of a domain.
pub fn refang(text: &str) -> std::borrow::Cow<'_, str> {
    refang_with(text, Cues::scan(text.as_bytes()))
}

fn refang_with(text: &str, cues: Cues) -> std::borrow::Cow<'_, str> {
    let mut out = std::borrow::Cow::Borrowed(text);
    if cues.defang
        && let std::borrow::Cow::Owned(s) =
            DEFANG_RE.replace_all(&out, |c: &regex::Captures<'_>| {
                let m = c.get(0).expect("group 0").as_str().to_ascii_lowercase();
                if m.starts_with('h') {
                    "http".to_string()
                } else if m.contains("//") {
                    "://".to_string()
                } else if m.contains(':') {
                    ":".to_string()
                } else {
                    ".".to_string()
                }
            })
    {
        out = std::borrow::Cow::Owned(s);
    }
    if !cues.ascii
        && text.contains(['。', '．', '｡'])
        && let std::borrow::Cow::Owned(s) = CJK_DOT_RE.replace_all(&out, "$1.$2")
    {
        out = std::borrow::Cow::Owned(s);
    }
    out
}

// The regexes above would run on every complaint, and most complaints hold nothing they
// could match: each is asked only where a quick look at the bytes ([`Cues::scan`]) finds
// what every match of it must contain (profiled: the regexes' scans over every text were a
// third of `detect`'s first pass). The tests check each cue against its regex on real
// complaints.

/// What a quick look at a text's bytes found: for each regex, whether it could match.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Cues {
    /// [`DEFANG_RE`]: an opening bracket before `.`, `d`/`D` (of `dot`), `:` or `。` (its
    /// first byte, 0xE3), or `xxp`/`**p` in any case.
    defang: bool,
    /// [`DOMAIN_RE`]: a dot between a host character (an ASCII letter or digit, or part of a
    /// non-ASCII letter) and the start of a top-level domain (an ASCII letter, or a
    /// non-ASCII byte, which case-insensitive matching lets through: K is the Kelvin sign's
    /// lower case).
    domain: bool,
    /// [`CRYPTO_RE`]: every address is a whole run of ASCII letters and digits, 26 or more
    /// long, or 14 or more starting `bc1`/`BC1`.
    crypto: bool,
    /// [`HANDLE_RE`]: `$` or `@` before an ASCII letter.
    handle: bool,
    /// [`SERVICE_NUMBER_RE`]: `400`, `800`, `95` or `961` (of `96110`).
    service: bool,
    /// Whether every byte is ASCII.
    ascii: bool,
}

impl Cues {
    /// Each cue is looked for with `memchr` (many bytes at a time), and address runs by
    /// looking at every 14th byte: a scalar loop over every byte cost as much as the
    /// regexes it saved.
    fn scan(b: &[u8]) -> Cues {
        let next_is = |i: usize, f: fn(u8) -> bool| b.get(i + 1).is_some_and(|&n| f(n));
        let defang = memchr::memchr3_iter(b'[', b'(', b'{', b)
            .chain(memchr::memchr_iter(b'<', b))
            .any(|i| next_is(i, |n| matches!(n, b'.' | b'd' | b'D' | b':' | 0xE3)))
            || memchr::memchr2_iter(b'p', b'P', b).any(|i| {
                i >= 2
                    && matches!(
                        (b[i - 2], b[i - 1]),
                        (b'x' | b'X', b'x' | b'X') | (b'*', b'*')
                    )
            });
        let domain = memchr::memchr_iter(b'.', b).any(|i| {
            i > 0
                && (b[i - 1].is_ascii_alphanumeric() || b[i - 1] >= 0x80)
                && next_is(i, |n| n.is_ascii_alphabetic() || n >= 0x80)
        });
        let handle =
            memchr::memchr2_iter(b'$', b'@', b).any(|i| next_is(i, |n| n.is_ascii_alphabetic()));
        let service = memchr::memchr2_iter(b'4', b'8', b)
            .any(|i| b.get(i + 1..i + 3) == Some(b"00"))
            || memchr::memchr_iter(b'9', b)
                .any(|i| b.get(i + 1) == Some(&b'5') || b.get(i + 1..i + 3) == Some(b"61"));
        Cues {
            defang,
            domain,
            crypto: Self::address_run(b),
            handle,
            service,
            ascii: b.is_ascii(),
        }
    }

    /// Whether `b` has a run of ASCII letters and digits 26 or more long, or 14 or more
    /// starting `bc1`/`BC1`. Any run of 14 or more covers a multiple of 14 (less one), so
    /// only those bytes are looked at until one is a letter or digit.
    fn address_run(b: &[u8]) -> bool {
        const STEP: usize = 14;
        let mut p = STEP - 1;
        while p < b.len() {
            if !b[p].is_ascii_alphanumeric() {
                p += STEP;
                continue;
            }
            let start = b[..p]
                .iter()
                .rposition(|c| !c.is_ascii_alphanumeric())
                .map_or(0, |j| j + 1);
            let end = b[p..]
                .iter()
                .position(|c| !c.is_ascii_alphanumeric())
                .map_or(b.len(), |j| p + j);
            let run = &b[start..end];
            if run.len() >= 26
                || (run.len() >= STEP && (run.starts_with(b"bc1") || run.starts_with(b"BC1")))
            {
                return true;
            }
            // The next run starts after this one ends.
            p = (end + STEP).max(p + 1);
        }
        false
    }
}

/// Lower-cases, strips `www.` and a trailing dot, and converts an international domain
/// to punycode (`pаypal.com` with a Cyrillic а → `xn--pypal-4ve.com`). `None` when the
/// name is not a valid domain.
pub fn normalise_domain(host: &str) -> Option<String> {
    let host = host.trim_end_matches('.');
    let ascii = idna::domain_to_ascii(host).ok()?;
    let ascii = ascii.strip_prefix("www.").unwrap_or(&ascii).to_string();
    (ascii.contains('.') && !ascii.starts_with('.')).then_some(ascii)
}

/// Whether `domain` or one of its parent domains (not the bare TLD) is in `set`.
pub fn in_domain_set(set: &HashSet<String>, domain: &str) -> bool {
    let mut d = domain;
    loop {
        if set.contains(d) {
            return true;
        }
        match d.split_once('.') {
            Some((_, rest)) if rest.contains('.') => d = rest,
            _ => return false,
        }
    }
}

fn base58_decode(s: &str) -> Option<Vec<u8>> {
    const ALPHABET: &[u8] = b"123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz";
    let mut out: Vec<u8> = Vec::with_capacity(s.len());
    for c in s.bytes() {
        let mut carry = ALPHABET.iter().position(|&a| a == c)? as u32;
        for b in out.iter_mut().rev() {
            carry += u32::from(*b) * 58;
            *b = (carry & 0xff) as u8;
            carry >>= 8;
        }
        while carry > 0 {
            out.insert(0, (carry & 0xff) as u8);
            carry >>= 8;
        }
    }
    let zeros = s.bytes().take_while(|&b| b == b'1').count();
    let mut v = vec![0u8; zeros];
    v.extend(out);
    Some(v)
}

/// Base58Check: the last 4 bytes are the double-SHA-256 checksum of the rest.
fn base58check(s: &str) -> Option<Vec<u8>> {
    use sha2::{Digest, Sha256};
    let v = base58_decode(s)?;
    if v.len() < 5 {
        return None;
    }
    let (payload, check) = v.split_at(v.len() - 4);
    let digest = Sha256::digest(Sha256::digest(payload));
    (digest[..4] == *check).then(|| payload.to_vec())
}

/// Names the chain of an address the crypto pattern matched, after checking it.
fn crypto_value(caps: &regex::Captures<'_>) -> Option<String> {
    if let Some(m) = caps.name("eth") {
        return Some(format!("eth:{}", m.as_str().to_ascii_lowercase()));
    }
    if let Some(m) = caps.name("bech") {
        return Some(format!("btc:{}", m.as_str().to_ascii_lowercase()));
    }
    let s = caps.name("b58")?.as_str();
    let payload = base58check(s)?;
    match (s.as_bytes()[0], payload.len(), payload[0]) {
        (b'T', 21, 0x41) => Some(format!("tron:{s}")),
        (b'1', 21, 0x00) | (b'3', 21, 0x05) => Some(format!("btc:{s}")),
        _ => None,
    }
}

fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Extractor {
    /// Loads the lexicon.
    pub fn load(path: &Path) -> Result<Self, IndicatorError> {
        let text = std::fs::read_to_string(path).map_err(|source| IndicatorError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text, &path.display().to_string())
    }

    /// Compiles a lexicon from its TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, IndicatorError> {
        let file: LexiconFile = toml::from_str(text).map_err(|e| IndicatorError::Format {
            path: origin.to_string(),
            message: e.to_string().trim().replace('\n', " "),
        })?;
        let mut patterns = Vec::new();
        let mut phrase_target = Vec::new();
        let mut groups: Vec<(Kind, &String, &Vec<String>)> = Vec::new();
        groups.extend(file.apps.iter().map(|(k, v)| (Kind::App, k, v)));
        groups.extend(file.roles.iter().map(|(k, v)| (Kind::Role, k, v)));
        groups.sort();
        for (kind, group, phrases) in groups {
            for p in phrases {
                let value = match kind {
                    Kind::App => format!("{group}:{}", p.to_lowercase()),
                    _ => group.clone(),
                };
                patterns.push(p.clone());
                phrase_target.push(Indicator { kind, value });
            }
        }
        let phrase_latin = patterns.iter().map(|p| p.is_ascii()).collect();
        let build = |pats: &[String]| {
            AhoCorasickBuilder::new()
                .ascii_case_insensitive(true)
                .match_kind(MatchKind::LeftmostLongest)
                .kind(Some(AhoCorasickKind::DFA))
                .build(pats)
                .map_err(|e| IndicatorError::Format {
                    path: origin.to_string(),
                    message: e.to_string(),
                })
        };
        let phrases = build(&patterns)?;
        let mut payee_patterns = Vec::new();
        let mut payee_kind = Vec::new();
        let mut payee: Vec<_> = file.payee.iter().collect();
        payee.sort();
        for (kind, cues) in payee {
            for c in cues {
                payee_patterns.push(c.clone());
                payee_kind.push(kind.clone());
            }
        }
        Ok(Self {
            phrases,
            phrase_target,
            phrase_latin,
            shorteners: file.shorteners.iter().map(|s| s.to_lowercase()).collect(),
            tlds: file.tlds.iter().map(|s| s.to_lowercase()).collect(),
            payee: build(&payee_patterns)?,
            payee_ascii: payee_patterns.iter().any(|p| p.is_ascii()),
            payee_kind,
        })
    }

    /// The indicators of one complaint: its text (and title), plus the keyed hashes of the
    /// phone numbers masked out of it at ingest (`phone:<hash>`). Sorted, deduplicated.
    pub fn extract(&self, text: &str, pii_hashes: &[&str]) -> Vec<Indicator> {
        self.extract_folded(text, text, pii_hashes)
    }

    /// [`Self::extract`], with the lexicon's phrases (apps, roles, payee words) found in
    /// `folded`, the text with Traditional characters folded to Simplified ones
    /// ([`crate::classify::rules::Fold`], which keeps every offset), while domains, numbers,
    /// handles and payee accounts are read from the text as written.
    pub fn extract_folded(&self, text: &str, folded: &str, pii_hashes: &[&str]) -> Vec<Indicator> {
        debug_assert_eq!(text.len(), folded.len(), "a fold keeps every offset");
        let mut out = Vec::new();
        let cues = Cues::scan(text.as_bytes());
        let refanged = refang_with(text, cues);
        let domain_cue = match &refanged {
            std::borrow::Cow::Borrowed(_) => cues.domain,
            std::borrow::Cow::Owned(r) => Cues::scan(r.as_bytes()).domain,
        };
        if domain_cue {
            self.domains(&refanged, &mut out);
        }
        self.phones(text, cues.service, pii_hashes, &mut out);
        self.handles(text, folded, cues, &mut out);
        if cues.crypto {
            for caps in CRYPTO_RE.captures_iter(text) {
                if let Some(v) = crypto_value(&caps) {
                    out.push(Indicator {
                        kind: Kind::Crypto,
                        value: v,
                    });
                }
            }
        }
        self.phrases(folded, &mut out);
        out.sort();
        out.dedup();
        out
    }

    fn domains(&self, text: &str, out: &mut Vec<Indicator>) {
        let bytes = text.as_bytes();
        for caps in DOMAIN_RE.captures_iter(text) {
            let m = caps.get(0).expect("group 0");
            // Part of an e-mail address, a longer token, or a version number: not a domain.
            if m.start() > 0 && matches!(bytes[m.start() - 1], b'@' | b'.' | b'-' | b'_' | b'/') {
                continue;
            }
            let host = &caps["host"];
            let tld = caps["tld"].to_ascii_lowercase();
            let explicit =
                caps.name("scheme").is_some() || host.to_ascii_lowercase().starts_with("www.");
            if !(explicit || self.tlds.contains(&tld) || tld.starts_with("xn--")) {
                continue;
            }
            let Some(domain) = normalise_domain(host) else {
                continue;
            };
            if in_domain_set(&self.shorteners, &domain)
                && let Some(path) = caps
                    .name("path")
                    .map(|p| p.as_str().trim_end_matches(['.', ',']))
                && path.len() > 1
            {
                out.push(Indicator {
                    kind: Kind::Url,
                    value: format!("{domain}{path}"),
                });
            }
            out.push(Indicator {
                kind: Kind::Domain,
                value: domain,
            });
        }
    }

    fn phones(&self, text: &str, service_cue: bool, pii_hashes: &[&str], out: &mut Vec<Indicator>) {
        for h in pii_hashes {
            if h.starts_with("phone:") {
                out.push(Indicator {
                    kind: Kind::Phone,
                    value: (*h).to_string(),
                });
            }
        }
        if !service_cue {
            return;
        }
        for caps in SERVICE_NUMBER_RE.captures_iter(text) {
            let digits: String = caps[1].chars().filter(char::is_ascii_digit).collect();
            out.push(Indicator {
                kind: Kind::Phone,
                value: format!("+86{digits}"),
            });
        }
    }

    fn handles(&self, text: &str, folded: &str, cues: Cues, out: &mut Vec<Indicator>) {
        if cues.handle {
            for caps in HANDLE_RE.captures_iter(text) {
                let name = caps["name"]
                    .trim_end_matches(['.', '-'])
                    .to_ascii_lowercase();
                // CFPB redacts with XXXX; `$XXXX` is a hidden amount, not a cashtag.
                if name.len() < 2 || name.bytes().all(|b| b == b'x') {
                    continue;
                }
                let sigil = &caps["sigil"];
                out.push(Indicator {
                    kind: Kind::Handle,
                    value: format!("{sigil}{name}"),
                });
            }
        }
        // A fold keeps ASCII ASCII and the rest not.
        if !self.payee_ascii && cues.ascii {
            return;
        }
        for m in self.payee.find_iter(folded) {
            let rest = &text[m.end()..];
            if let Some(c) = PAYEE_VALUE_RE.captures(rest) {
                out.push(Indicator {
                    kind: Kind::Handle,
                    value: format!(
                        "{}:{}",
                        self.payee_kind[m.pattern().as_usize()],
                        c[1].to_ascii_lowercase()
                    ),
                });
            }
        }
    }

    fn phrases(&self, text: &str, out: &mut Vec<Indicator>) {
        let bytes = text.as_bytes();
        for m in self.phrases.find_iter(text) {
            let i = m.pattern().as_usize();
            if self.phrase_latin[i] {
                let before = m.start().checked_sub(1).map(|j| bytes[j]);
                let after = bytes.get(m.end()).copied();
                if before.is_some_and(is_word_byte) || after.is_some_and(is_word_byte) {
                    continue;
                }
            }
            out.push(self.phrase_target[i].clone());
        }
    }
}

/// Known scam and phishing domains, and domains a list declares legitimate.
#[derive(Debug, Default)]
pub struct ScamLists {
    listed: HashSet<String>,
    legitimate: HashSet<String>,
    /// `(file, domains read)` for each list loaded.
    pub sources: Vec<(String, usize)>,
}

impl ScamLists {
    /// Loads a list: eth-phishing-detect JSON (`blacklist`, `whitelist`) when the file is
    /// JSON, else one domain a line (`#`/`!` comments, hosts-file `0.0.0.0 d` and adblock
    /// `||d^` forms accepted).
    pub fn add_file(&mut self, path: &Path) -> Result<(), IndicatorError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| IndicatorError::Io {
            path: p.clone(),
            source,
        })?;
        let before = self.listed.len();
        if text.trim_start().starts_with('{') {
            #[derive(Deserialize)]
            struct EthConfig {
                #[serde(default)]
                blacklist: Vec<String>,
                #[serde(default)]
                whitelist: Vec<String>,
            }
            let cfg: EthConfig =
                serde_json::from_str(&text).map_err(|e| IndicatorError::Format {
                    path: p.clone(),
                    message: format!("not an eth-phishing-detect config: {e}"),
                })?;
            self.listed
                .extend(cfg.blacklist.iter().filter_map(|d| normalise_domain(d)));
            self.legitimate
                .extend(cfg.whitelist.iter().filter_map(|d| normalise_domain(d)));
        } else {
            for (i, line) in text.lines().enumerate() {
                let line = line.trim();
                if line.is_empty() || line.starts_with(['#', '!']) {
                    continue;
                }
                let d = line
                    .split_whitespace()
                    .last()
                    .unwrap_or(line)
                    .trim_start_matches("||")
                    .trim_end_matches('^');
                match normalise_domain(d) {
                    Some(d) => {
                        self.listed.insert(d);
                    }
                    None => {
                        return Err(IndicatorError::Format {
                            path: p,
                            message: format!("line {}: {line:?} is not a domain", i + 1),
                        });
                    }
                }
            }
        }
        self.sources.push((p, self.listed.len() - before));
        Ok(())
    }

    /// Whether the domain (or a parent domain) is on a scam list and not declared legitimate.
    pub fn is_listed(&self, domain: &str) -> bool {
        in_domain_set(&self.listed, domain) && !self.legitimate.contains(domain)
    }

    /// Domains the lists declare legitimate (used as stop-list entries).
    pub fn legitimate(&self) -> &HashSet<String> {
        &self.legitimate
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extractor() -> Extractor {
        Extractor::load(&crate::cli::models_dir().join("detect/indicators.toml"))
            .expect("lexicon loads")
    }

    fn values(text: &str, kind: Kind) -> Vec<String> {
        extractor()
            .extract(text, &[])
            .into_iter()
            .filter(|i| i.kind == kind)
            .map(|i| i.value)
            .collect()
    }

    #[test]
    fn defanged_domains_normalise_to_one_value() {
        for form in [
            "hxxps://secure-paypa1-verify[.]com/login",
            "go to secure-paypa1-verify(.)com now",
            "the site SECURE-PAYPA1-VERIFY.COM asked",
            "打开了www.secure-paypa1-verify[.]com",
            "打开了 secure-paypa1-verify。com 网站",
        ] {
            assert_eq!(
                values(form, Kind::Domain),
                vec!["secure-paypa1-verify.com"],
                "{form}"
            );
        }
    }

    #[test]
    fn homograph_domains_become_punycode_and_non_domains_are_ignored() {
        assert_eq!(
            values("visit pаypal.com today", Kind::Domain),
            vec!["xn--pypal-4ve.com"]
        );
        assert!(values("e.g. the U.S. statement.pdf, version 2.0", Kind::Domain).is_empty());
        assert!(values("write to [email] or a.b@c.com", Kind::Domain).is_empty());
    }

    #[test]
    fn handles_phones_crypto_apps_roles() {
        let text = "A man claiming to be Cash App customer service told me to send $250 to \
                    $RefundDesk99 and install AnyDesk; then pay 0.1 BTC to \
                    1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2. 客服电话 400-820-1234，支付宝账号：fk_8899zz";
        let ind = extractor().extract(text, &["phone:0123456789abcdef", "email:fedcba"]);
        let s: Vec<String> = ind.iter().map(ToString::to_string).collect();
        for want in [
            "handle:$refunddesk99",
            "handle:alipay:fk_8899zz",
            "phone:phone:0123456789abcdef",
            "phone:+864008201234",
            "crypto:btc:1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
            "app:remote:anydesk",
            "role:customer_service",
        ] {
            assert!(s.contains(&want.to_string()), "{want} missing from {s:?}");
        }
        // $250 is an amount, not a cashtag; a checksum-failing address is not an address.
        assert!(!s.iter().any(|v| v.contains("$250")));
        assert!(values("pay 1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN3 now", Kind::Crypto).is_empty());
    }

    #[test]
    fn traditional_characters_find_the_simplified_lexicon_and_values_stay_as_written() {
        // Only the lexicon's search reads the folded text; the payee account after the
        // payee word is read from the text as written.
        let fold = crate::classify::rules::Fold::load(&crate::cli::models_dir().join("rules"))
            .expect("the rules' fold loads");
        // A Hong Kong complaint: 銀行客服 (bank staff), 公安局 (police), 支付寶賬號 (payee).
        let text = "自稱銀行客服的人說我涉嫌洗錢，又轉給「公安局」的人，讓我把錢轉到\
                    支付寶賬號：Fk_8899zz，說查清後會退回。";
        let folded = fold.apply(text);
        let s: Vec<String> = extractor()
            .extract_folded(text, &folded, &[])
            .iter()
            .map(ToString::to_string)
            .collect();
        for want in ["role:bank", "role:police", "handle:alipay:fk_8899zz"] {
            assert!(s.contains(&want.to_string()), "{want} missing from {s:?}");
        }
        // Read as written, the Traditional payee word and bank role are not found.
        let unfolded: Vec<String> = extractor()
            .extract(text, &[])
            .iter()
            .map(ToString::to_string)
            .collect();
        assert!(
            !unfolded.contains(&"handle:alipay:fk_8899zz".to_string()),
            "{unfolded:?}"
        );
        assert!(!unfolded.contains(&"role:bank".to_string()), "{unfolded:?}");
    }

    /// Every text a regex matches must have its cue: a cue that missed would drop an
    /// indicator without a word. Checked on 10,000 real CFPB narratives, the 99 real
    /// 黑猫投诉 posts, the bundled Chinese complaints, and forms made to sit on each cue's
    /// edge.
    #[test]
    fn each_cue_is_found_wherever_its_regex_matches() {
        let root = crate::cli::models_dir().join("..");
        let mut texts: Vec<String> = Vec::new();
        let narratives = root.join("../shared/data/cfpb/narratives_by_product_10k.csv");
        let mut csv = csv::Reader::from_path(&narratives)
            .unwrap_or_else(|e| panic!("{}: {e}", narratives.display()));
        for r in csv.records() {
            texts.push(r.expect("a narrative")[0].to_string());
        }
        for f in [
            root.join("../shared/data/heimao/heimao_2020_99.ndjson"),
            root.join("data/sample/zh_complaints.ndjson"),
        ] {
            let all =
                std::fs::read_to_string(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
            for line in all.lines() {
                let v: serde_json::Value = serde_json::from_str(line).expect("a record");
                for field in ["投诉标题", "投诉详情"] {
                    texts.push(v[field].as_str().unwrap_or("").to_string());
                }
            }
        }
        assert!(texts.len() > 10_000, "{} texts", texts.len());
        texts.extend(
            [
                "hxxps://a[.]com",
                "HXXP://x.io",
                "h**p://x.io",
                "go to evil[dot]com",
                "go to evil(DOT)com",
                "evil[。]com",
                "https[:]//x.io",
                "https[://]x.io",
                "evil<.>com",
                "evil{.}com",
                "a.b",
                "ab.cd",
                "例子.com",
                "pаypal.com",
                "xn--pypal-4ve.com",
                "site.co\u{212A}",
                "x.\u{212A}m",
                "1.co",
                ".com",
                "$ab",
                "@zz",
                "x$a",
                "4008201234",
                "800-123-4567",
                "95588",
                "96110",
                "9 5",
                "0x52908400098527886E0F7030069857D2E4169EE7",
                "1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2",
                "bc1qar0srrr7xfkvy5l643lydnw9re59gtzzwf5mdq",
                "bc1qar0srrr7x",
                "bc1qar0srrr7xf",
                "1BvBMSEYstWetqTFn5Au4m4GFg",
                // An address right after a run the scan has just read.
                "abcdefghijklmn 1BvBMSEYstWetqTFn5Au4m4GFg",
                "abcdefghijklmn bc1qar0srrr7xf",
                "TNPeeaaFB7K9cmo4uQpcU32zGK8G1NYqeL",
                "a-1BvBMSEYstWetqTFn5Au4m4GFg7xJaNVN2-b",
                "ABCDEFGHJKLMNPQRSTUVWXYZabc",
                "ABCDEFGHJKLMNPQRSTUVWXYZab_c",
            ]
            .iter()
            // At every offset a scan could step over.
            .flat_map(|f| (0..16).map(move |k| format!("{}{f} and more", "a b".repeat(k)))),
        );
        let mut hits = [0usize; 5];
        for t in &texts {
            let c = Cues::scan(t.as_bytes());
            let r = refang(t);
            let rc = Cues::scan(r.as_bytes());
            for (i, (name, matched, cue)) in [
                ("defang", DEFANG_RE.is_match(t), c.defang),
                ("domain", DOMAIN_RE.is_match(&r), rc.domain),
                ("crypto", CRYPTO_RE.is_match(t), c.crypto),
                ("handle", HANDLE_RE.is_match(t), c.handle),
                ("service number", SERVICE_NUMBER_RE.is_match(t), c.service),
            ]
            .into_iter()
            .enumerate()
            {
                assert!(
                    !matched || cue,
                    "{name} matches but its cue was not found: {t:?}"
                );
                hits[i] += usize::from(matched);
            }
            assert_eq!(c.ascii, t.is_ascii(), "{t:?}");
        }
        // Each regex matched somewhere, so each cue was put to the test.
        assert!(hits.iter().all(|&h| h > 0), "{hits:?}");
    }

    #[test]
    fn scam_lists_match_parent_domains_and_read_both_forms() {
        let dir = tempfile::tempdir().expect("tmp");
        let txt = dir.path().join("l.txt");
        std::fs::write(
            &txt,
            "# c\nbad-wallet.com\n0.0.0.0 evil.example.net\n||phish.io^\n",
        )
        .expect("write");
        let json = dir.path().join("l.json");
        std::fs::write(
            &json,
            r#"{"blacklist":["metamask-gift.com"],"whitelist":["metamask.io"]}"#,
        )
        .expect("write");
        let mut lists = ScamLists::default();
        lists.add_file(&txt).expect("txt list");
        lists.add_file(&json).expect("json list");
        assert!(lists.is_listed("login.bad-wallet.com"));
        assert!(lists.is_listed("evil.example.net"));
        assert!(lists.is_listed("phish.io"));
        assert!(lists.is_listed("metamask-gift.com"));
        assert!(!lists.is_listed("example.net"));
        assert!(lists.legitimate().contains("metamask.io"));
        std::fs::write(&txt, "good.com\nnot a domain at all!\n").expect("write");
        let err = ScamLists::default().add_file(&txt).expect_err("bad line");
        assert!(err.to_string().contains("line 2"), "{err}");
    }
}

//! The provider alias table (`data/providers.toml`): names as written → canonical provider id.

use std::collections::HashMap;
use std::path::Path;

use aho_corasick::{AhoCorasick, MatchKind};
use serde::Deserialize;

/// Errors loading the alias table.
#[derive(Debug, thiserror::Error)]
pub enum ProviderError {
    /// The file could not be read.
    #[error("{path}: cannot read the provider alias table: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    /// The TOML is malformed or has unknown keys.
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    /// A semantic problem (duplicate id, unknown parent…).
    #[error("{path}: {message}")]
    Invalid { path: String, message: String },
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    provider: Vec<ProviderEntry>,
}

/// One provider as the alias table describes it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProviderEntry {
    /// Canonical id (`alipay`, `cash_app`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Names as written in the wild.
    pub aliases: Vec<String>,
    /// Provider whose company files this brand's complaints.
    #[serde(default)]
    pub parent: Option<String>,
    /// Published user base in millions, when known.
    #[serde(default)]
    pub users_millions: Option<f64>,
    /// Where `users_millions` comes from.
    #[serde(default)]
    pub users_source: Option<String>,
    /// The provider's own web domains (never linking evidence in fraud detection).
    #[serde(default)]
    pub domains: Vec<String>,
    /// The provider's official hotlines (never linking evidence in fraud detection).
    #[serde(default)]
    pub hotlines: Vec<String>,
}

/// The compiled alias table.
pub struct Providers {
    entries: Vec<ProviderEntry>,
    exact: HashMap<String, usize>,
    contained: AhoCorasick,
    contained_target: Vec<usize>,
    /// For each parent index: (brand index, brand-name matcher, parent-name matcher).
    brands: HashMap<usize, Vec<(usize, AhoCorasick)>>,
    parent_names: HashMap<usize, AhoCorasick>,
}

/// Lower-case, punctuation and runs of spaces collapsed: "Block, Inc." → "block inc".
pub fn alias_key(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut space = false;
    for c in name.trim().chars() {
        if c.is_alphanumeric() {
            if space && !out.is_empty() {
                out.push(' ');
            }
            space = false;
            out.extend(c.to_lowercase());
        } else {
            space = true;
        }
    }
    out
}

/// A slug for a name the table does not know: `AMERICAN EXPRESS COMPANY` → `american_express_company`.
pub fn slug(name: &str) -> String {
    alias_key(name).replace(' ', "_")
}

impl Providers {
    /// Loads and validates the table at `path`.
    pub fn load(path: &Path) -> Result<Self, ProviderError> {
        let p = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ProviderError::Read {
            path: p.clone(),
            source,
        })?;
        Self::parse(&text, &p)
    }

    /// Parses the table from TOML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self, ProviderError> {
        let file: File = toml::from_str(text).map_err(|e| ProviderError::Parse {
            path: origin.to_string(),
            message: e.to_string(),
        })?;
        let invalid = |message: String| ProviderError::Invalid {
            path: origin.to_string(),
            message,
        };
        let entries = file.provider;
        let mut index = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            if e.id.is_empty()
                || !e
                    .id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            {
                return Err(invalid(format!(
                    "provider id {:?} must be lower-case letters, digits and _",
                    e.id
                )));
            }
            if index.insert(e.id.clone(), i).is_some() {
                return Err(invalid(format!("provider id {:?} appears twice", e.id)));
            }
        }
        let mut exact: HashMap<String, usize> = HashMap::new();
        let mut patterns = Vec::new();
        let mut contained_target = Vec::new();
        for (i, e) in entries.iter().enumerate() {
            for name in e.aliases.iter().chain([&e.id, &e.name]) {
                let key = alias_key(name);
                if key.is_empty() {
                    return Err(invalid(format!("provider {:?} has an empty alias", e.id)));
                }
                if let Some(&other) = exact.get::<str>(&key)
                    && other != i
                {
                    return Err(invalid(format!(
                        "alias {name:?} names both {:?} and {:?}",
                        entries[other].id, e.id
                    )));
                }
                exact.insert(key.clone(), i);
                patterns.push(key);
                contained_target.push(i);
            }
        }
        let contained = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .build(&patterns)
            .map_err(|e| invalid(e.to_string()))?;
        let mut brands: HashMap<usize, Vec<(usize, AhoCorasick)>> = HashMap::new();
        let mut parent_names = HashMap::new();
        for (i, e) in entries.iter().enumerate() {
            let Some(parent) = &e.parent else { continue };
            let &pi = index.get(parent).ok_or_else(|| {
                invalid(format!(
                    "provider {:?} names unknown parent {parent:?}",
                    e.id
                ))
            })?;
            let matcher = |names: &[String]| {
                AhoCorasick::builder()
                    .ascii_case_insensitive(true)
                    // Run over every complaint text of a parent company: a full DFA
                    // searches fastest (perf: the default NFA was 5% of ingest).
                    .kind(Some(aho_corasick::AhoCorasickKind::DFA))
                    .build(names)
                    .map_err(|err| invalid(err.to_string()))
            };
            brands
                .entry(pi)
                .or_default()
                .push((i, matcher(&e.aliases)?));
            if let std::collections::hash_map::Entry::Vacant(v) = parent_names.entry(pi) {
                let own: Vec<String> = entries[pi]
                    .aliases
                    .iter()
                    .filter(|a| !a.contains(','))
                    .cloned()
                    .collect();
                v.insert(matcher(&own)?);
            }
        }
        Ok(Self {
            entries,
            exact,
            contained,
            contained_target,
            brands,
            parent_names,
        })
    }

    /// All providers, in file order.
    pub fn entries(&self) -> &[ProviderEntry] {
        &self.entries
    }

    /// The entry of a canonical id.
    pub fn get(&self, id: &str) -> Option<&ProviderEntry> {
        self.entries.iter().find(|e| e.id == id)
    }

    /// Index of the provider a written name refers to, if the table knows it.
    fn lookup(&self, name: &str) -> Option<usize> {
        let key = alias_key(name);
        if key.is_empty() {
            return None;
        }
        if let Some(&i) = self.exact.get(&key) {
            return Some(i);
        }
        let kb = key.as_bytes();
        for m in self.contained.find_iter(&key) {
            let pat_is_latin = kb[m.start()].is_ascii_alphanumeric();
            let bounded =
                m.start() == 0 || kb[m.start() - 1] == b' ' || !kb[m.start() - 1].is_ascii();
            let end_ok = m.end() == kb.len() || kb[m.end()] == b' ' || !kb[m.end()].is_ascii();
            if !pat_is_latin || (bounded && end_ok) {
                return Some(self.contained_target[m.pattern().as_usize()]);
            }
        }
        None
    }

    /// The provider a written name (an id, a name or any alias) refers to, if known.
    pub fn find(&self, name: &str) -> Option<&ProviderEntry> {
        self.get(name)
            .or_else(|| self.lookup(name).map(|i| &self.entries[i]))
    }

    /// Canonical id of a written name (the alias id, else a slug of the name).
    pub fn canonical_id(&self, name: &str) -> String {
        match self.lookup(name) {
            Some(i) => self.entries[i].id.clone(),
            None => slug(name),
        }
    }

    /// Canonical provider of a complaint, from the name it was filed against and its text.
    pub fn resolve(&self, provider_raw: Option<&str>, text: Option<&str>) -> Option<String> {
        let raw = provider_raw.filter(|s| !s.trim().is_empty())?;
        let Some(i) = self.lookup(raw) else {
            return Some(slug(raw));
        };
        if let (Some(brands), Some(text)) = (self.brands.get(&i), text) {
            let parent_mentions = self
                .parent_names
                .get(&i)
                .map_or(0, |m| m.find_iter(text).count());
            for (bi, matcher) in brands {
                let n = matcher.find_iter(text).count();
                if n > parent_mentions {
                    return Some(self.entries[*bi].id.clone());
                }
            }
        }
        Some(self.entries[i].id.clone())
    }

    /// Known providers closest to a name the table does not know (for "did you mean").
    pub fn suggest(&self, name: &str) -> Vec<&str> {
        let key = alias_key(name);
        let mut scored: Vec<(usize, &str)> = self
            .entries
            .iter()
            .map(|e| {
                let d = std::iter::once(&e.id)
                    .chain(e.aliases.iter())
                    .map(|a| edit_distance(&key, &alias_key(a)))
                    .min()
                    .unwrap_or(usize::MAX);
                (d, e.id.as_str())
            })
            .collect();
        scored.sort();
        scored.into_iter().take(3).map(|(_, id)| id).collect()
    }
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn table() -> Providers {
        Providers::load(Path::new(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/data/providers.toml"
        )))
        .expect("bundled table loads")
    }

    #[test]
    fn aliases_resolve() {
        let p = table();
        let r = |n: &str| p.resolve(Some(n), None).expect("name given");
        assert_eq!(r("支付宝"), "alipay");
        assert_eq!(r("Alipay"), "alipay");
        assert_eq!(r("蚂蚁金服"), "alipay");
        // Traditional spellings, as complaints from Taiwan and Hong Kong write them.
        assert_eq!(r("支付寶"), "alipay");
        assert_eq!(r("雲閃付"), "unionpay");
        assert_eq!(r("微信零錢通"), "wechat_pay");
        // Hong Kong and Taiwan wallets: the longer name wins over the mainland brand in it.
        assert_eq!(r("支付寶香港"), "alipay_hk");
        assert_eq!(r("AlipayHK"), "alipay_hk");
        assert_eq!(r("八達通"), "octopus");
        assert_eq!(r("街口支付"), "jkopay");
        assert_eq!(r("LINE Pay"), "line_pay");
        assert_eq!(r("Block, Inc."), "cash_app");
        assert_eq!(r("Square Cash"), "cash_app");
        assert_eq!(r("Early Warning Services, LLC"), "zelle");
        assert_eq!(r("Paypal Holdings, Inc"), "paypal");
        assert_eq!(r("拼多多客户服务"), "pinduoduo");
        assert_eq!(r("AMERICAN EXPRESS COMPANY"), "american_express_company");
        // Latin aliases match at word boundaries only
        assert_eq!(r("Otherwise Corp"), "otherwise_corp");
    }

    #[test]
    fn brand_named_in_text_wins_over_parent_company() {
        let p = table();
        let text = "I sent money on Venmo to a seller who never shipped. Venmo refused to help.";
        assert_eq!(
            p.resolve(Some("Paypal Holdings, Inc"), Some(text))
                .as_deref(),
            Some("venmo")
        );
        let text = "PayPal froze my PayPal balance; I also use Venmo.";
        assert_eq!(
            p.resolve(Some("Paypal Holdings, Inc"), Some(text))
                .as_deref(),
            Some("paypal")
        );
    }

    #[test]
    fn bad_tables_are_rejected_with_the_reason() {
        let e = Providers::parse(
            "[[provider]]\nid='a'\nname='A'\naliases=['x']\n[[provider]]\nid='b'\nname='B'\naliases=['X']\n",
            "t.toml",
        );
        assert!(
            e.err()
                .expect("duplicate alias")
                .to_string()
                .contains("names both")
        );
        let e = Providers::parse(
            "[[provider]]\nid='a'\nname='A'\naliases=['x']\nparent='zz'\n",
            "t.toml",
        );
        assert!(
            e.err()
                .expect("bad parent")
                .to_string()
                .contains("unknown parent")
        );
        let e = Providers::parse("[[provider]]\nid='a'\nnam='A'\n", "t.toml");
        assert!(
            e.err()
                .expect("unknown key")
                .to_string()
                .starts_with("t.toml")
        );
    }

    #[test]
    fn suggestions() {
        let p = table();
        assert_eq!(p.suggest("cashap")[0], "cash_app");
    }
}

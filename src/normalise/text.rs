//! Text kernels run on every complaint: language, money at stake, personal-data masking.
//!
//! These are plain Rust functions over `&str`, called in parallel over a batch; each
//! has a cheap pre-check so the regex engines only run on text that can match.

use std::sync::LazyLock;

use regex::Regex;

/// Language of a complaint text: `zh`, `en` or `other`, judged on its first 256 bytes.
pub fn detect_lang(text: &str) -> &'static str {
    let text = &text[..text.floor_char_boundary(256)];
    if text.is_ascii() {
        return ascii_lang(text);
    }
    let (mut han, mut kana, mut latin, mut other) = (0usize, 0usize, 0usize, 0usize);
    for c in text.chars() {
        match c {
            'a'..='z' | 'A'..='Z' => latin += 1,
            '\u{4e00}'..='\u{9fff}' | '\u{3400}'..='\u{4dbf}' | '\u{f900}'..='\u{faff}' => han += 1,
            '\u{3040}'..='\u{30ff}' | '\u{ff66}'..='\u{ff9d}' => kana += 1,
            c if c.is_alphabetic() => other += 1,
            _ => {}
        }
    }
    // Japanese writes Han characters too, between kana, which Chinese never uses (a stray
    // の in a Chinese post is one among many Han characters): not Chinese, so `auto` does
    // not hand it to its Chinese model.
    if kana > 0 && kana * 4 >= han {
        return "other";
    }
    // Chinese text often carries Latin brand names and numbers; a few Han characters per
    // Latin letter already make it Chinese (one Han character carries a word's meaning).
    if han > 0 && han * 4 >= latin {
        "zh"
    } else if latin > other * 2 && latin > 0 {
        ascii_lang(text)
    } else {
        "other"
    }
}

/// English unless the first words look like another Latin-script language (Spanish is
/// the common one in US complaints). Cheap: looks at the first 60 words of `text`, which
/// is at most 256 bytes (the window [`detect_lang`] judges).
fn ascii_lang(text: &str) -> &'static str {
    let b = text.as_bytes();
    debug_assert!(b.len() <= 256, "ascii_lang judges a 256-byte window");
    let b = &b[..b.len().min(256)];
    // Words are runs of ASCII letters; anything else (non-ASCII included) separates them.
    // A bitmap of the letters, built 16 bytes at a time, gives every word's first letter
    // at once; each word is then looked up without a branch that depends on the text (a
    // word-by-word loop with bit scans mispredicted at word lengths and cue hits: perf,
    // 5.5% of ingest). The fifth bitmap word stays 0: every run of letters ends.
    let mut letters = [0u64; 5];
    for (w, chunk) in b.chunks(64).enumerate() {
        letters[w] = letter_mask(chunk);
    }
    // The window, with room to read 4 bytes from any letter.
    let mut padded = [0u8; 260];
    padded[..b.len()].copy_from_slice(b);
    let (mut en, mut other, mut words) = (0u32, 0u32, 0u32);
    let mut carry = 0; // whether the previous bitmap word ended inside a word
    'words: for w in 0..4 {
        let mut starts = letters[w] & !((letters[w] << 1) | carry);
        carry = letters[w] >> 63;
        while starts != 0 {
            if words == 60 {
                break 'words;
            }
            words += 1;
            let i = w * 64 + starts.trailing_zeros() as usize;
            starts &= starts - 1;
            // Letters from i on (five are enough to tell a word of at most 4).
            let run =
                ((u128::from(letters[w + 1]) << 64 | u128::from(letters[w])) >> (i % 64)) as u32;
            let len = (run & 0x1F).trailing_ones() as usize;
            let four = u32::from_le_bytes([padded[i], padded[i + 1], padded[i + 2], padded[i + 3]]);
            // The word lower-cased and packed as `word_key` packs it; 0 (no cue) when longer.
            let key = (four | 0x2020_2020) & KEY_MASK[len];
            let cue = cue_of(key);
            en += u32::from(cue == Cue::En as u8);
            other += u32::from(cue == Cue::Other as u8);
        }
    }
    if words == 0 || other > en {
        "other"
    } else {
        "en"
    }
}

/// The bytes of a word of `len` letters in a packed key (`len` 5 means longer: no key).
const KEY_MASK: [u32; 6] = [0, 0xFF, 0xFFFF, 0xFF_FFFF, 0xFFFF_FFFF, 0];

/// Longest probe sequence in [`CUE_TABLE`] (linear probing from each key's slot).
const CUE_PROBES: usize = {
    let mut longest = 0;
    let mut i = 0;
    while i < CUE_WORDS.len() {
        let key = word_key(CUE_WORDS[i].0);
        let mut h = cue_slot(key);
        let mut n = 1;
        while CUE_TABLE[h].0 != key {
            h = (h + 1) & 63;
            n += 1;
        }
        if n > longest {
            longest = n;
        }
        i += 1;
    }
    longest
};

/// Which cue list a packed word is in, as `Cue as u8`, looking at every slot a key can sit
/// in, so no branch depends on the word. `key` 0 (no word) finds nothing: no cue has key 0.
#[inline(always)]
fn cue_of(key: u32) -> u8 {
    let h = cue_slot(key);
    let mut cue = 0u8;
    for p in 0..CUE_PROBES {
        let (k, c) = CUE_TABLE[(h + p) & 63];
        cue |= (c as u8) * u8::from(k == key && key != 0);
    }
    cue
}

/// Bit `j` set when `chunk[j]` (at most 64 bytes) is an ASCII letter.
fn letter_mask(chunk: &[u8]) -> u64 {
    range_mask(chunk, 0x20, b'a', 26)
}

/// Bit `j` set when `chunk[j]` (at most 64 bytes) is an ASCII digit.
fn digit_mask(chunk: &[u8]) -> u64 {
    range_mask(chunk, 0, b'0', 10)
}

/// Bit `j` set when `(chunk[j] | fold) - first < count` (unsigned), for a chunk of at most
/// 64 bytes, 16 bytes at a time.
#[inline(always)]
fn range_mask(chunk: &[u8], fold: u8, first: u8, count: u8) -> u64 {
    debug_assert!(chunk.len() <= 64 && count > 0);
    let mut m = 0u64;
    let mut j = 0;
    #[cfg(target_arch = "x86_64")]
    while j + 16 <= chunk.len() {
        use std::arch::x86_64::*;
        // SAFETY: SSE2 is part of x86_64; the 16 bytes read are inside `chunk`.
        let bits = unsafe {
            let v = _mm_loadu_si128(chunk.as_ptr().add(j).cast());
            // (c | fold) - first <= count - 1, unsigned.
            let x = _mm_sub_epi8(
                _mm_or_si128(v, _mm_set1_epi8(fold as i8)),
                _mm_set1_epi8(first as i8),
            );
            _mm_movemask_epi8(_mm_cmpeq_epi8(
                _mm_min_epu8(x, _mm_set1_epi8((count - 1) as i8)),
                x,
            ))
        };
        m |= u64::from(bits as u16) << j;
        j += 16;
    }
    while j < chunk.len() {
        m |= u64::from((chunk[j] | fold).wrapping_sub(first) < count) << j;
        j += 1;
    }
    m
}

#[derive(Clone, Copy, PartialEq)]
#[repr(u8)]
enum Cue {
    None = 0,
    En = 1,
    Other = 2,
}

/// Frequent short English words, and Spanish (and French) ones.
const CUE_WORDS: [(&[u8], Cue); 32] = [
    (b"the", Cue::En),
    (b"and", Cue::En),
    (b"to", Cue::En),
    (b"i", Cue::En),
    (b"my", Cue::En),
    (b"was", Cue::En),
    (b"of", Cue::En),
    (b"a", Cue::En),
    (b"in", Cue::En),
    (b"they", Cue::En),
    (b"that", Cue::En),
    (b"it", Cue::En),
    (b"for", Cue::En),
    (b"is", Cue::En),
    (b"not", Cue::En),
    (b"have", Cue::En),
    (b"el", Cue::Other),
    (b"la", Cue::Other),
    (b"de", Cue::Other),
    (b"que", Cue::Other),
    (b"y", Cue::Other),
    (b"los", Cue::Other),
    (b"mi", Cue::Other),
    (b"por", Cue::Other),
    (b"con", Cue::Other),
    (b"una", Cue::Other),
    (b"para", Cue::Other),
    (b"las", Cue::Other),
    (b"del", Cue::Other),
    (b"se", Cue::Other),
    (b"les", Cue::Other),
    (b"est", Cue::Other),
];

/// Open-addressing table of the cue words' keys (64 slots for 32 words), built at
/// compile time: a lookup is a multiply and [`CUE_PROBES`] compares.
const CUE_TABLE: [(u32, Cue); 64] = {
    let mut t = [(0u32, Cue::None); 64];
    let mut i = 0;
    while i < CUE_WORDS.len() {
        let (word, cue) = CUE_WORDS[i];
        let key = word_key(word);
        let mut h = cue_slot(key);
        while t[h].0 != 0 {
            h = (h + 1) & 63;
        }
        t[h] = (key, cue);
        i += 1;
    }
    t
};

const fn cue_slot(key: u32) -> usize {
    (key.wrapping_mul(0x9E37_79B1) >> 26) as usize
}

/// A word of at most 4 ASCII letters, lower-cased and packed little-endian into a `u32`
/// (letters are never 0, so words of different lengths never share a key).
const fn word_key(w: &[u8]) -> u32 {
    let mut key = 0u32;
    let mut i = 0;
    while i < w.len() {
        key |= ((w[i] | 0x20) as u32) << (8 * i);
        i += 1;
    }
    key
}

/// Money mentioned in a text: the largest amount, with its ISO currency.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Money {
    /// Amount in the currency's main unit (dollars, yuan).
    pub amount: f64,
    /// `USD`, `CNY`, `HKD` or `TWD` (one of [`CURRENCIES`]).
    pub currency: &'static str,
}

/// The currencies amounts are read in (ISO 4217).
pub const CURRENCIES: [&str; 4] = ["CNY", "USD", "HKD", "TWD"];

/// `code` as one of [`CURRENCIES`] (for mapping files' and site profiles' `default_currency`).
pub fn currency_code(code: &str) -> Option<&'static str> {
    CURRENCIES.into_iter().find(|c| *c == code)
}

/// A mapping file's or site profile's `default_currency` checked: `Err` says what is wrong.
pub fn check_default_currency(code: Option<&str>) -> Result<(), String> {
    match code {
        Some(c) if currency_code(c).is_none() => Err(format!(
            "default_currency {c:?} must be one of {}",
            CURRENCIES.join(", ")
        )),
        _ => Ok(()),
    }
}

/// The `$` forms of [`AMOUNT_RE`]: its first two branches.
macro_rules! dollar_forms {
    () => {
        concat!(
            r"(?:\{\$(?P<cfpb>[0-9][0-9,]*(?:\.[0-9]+)?)\})",
            r"|(?:HK\$\s?(?P<hkd>[0-9][0-9,]*(?:\.[0-9]+)?)(?:\s?(?P<hkdk>[kK]|million)\b)?)",
            r"|(?:NT\$\s?(?P<twd>[0-9][0-9,]*(?:\.[0-9]+)?)(?:\s?(?P<twdk>[kK]|million)\b)?)",
            r"|(?:(?:US)?\$\s?(?P<usd>[0-9][0-9,]*(?:\.[0-9]+)?)(?:\s?(?P<usdk>[kK]|million)\b)?)",
        )
    };
}

/// Only the `$` forms: every other branch of [`AMOUNT_RE`] needs a word (USD, usd,
/// dollars, RMB, rmb, CNY…) or a non-ASCII character, so on an ASCII text without those words
/// this finds exactly what [`AMOUNT_RE`] finds. Its literal prefixes (`{$`, `$`, `US$`)
/// let the regex skip to the next `$`, where the full pattern, whose `[0-9]` branches
/// start anywhere, stops at every digit (perf: 5% of ingest).
static DOLLAR_RE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(dollar_forms!()).expect("dollar pattern is valid"));

/// The words that let an ASCII text mention money without a `$` (`USD 300`, `200 RMB`,
/// `RMB 2,000`, `HKD 1,200`), searched for all at once by aho-corasick's packed (Teddy, SIMD) searcher:
/// a `memmem` search per word took a pass each, and the general automaton, stopping at
/// every frequent byte, took several times longer still (15% of ingest).
static CURRENCY_WORDS: LazyLock<aho_corasick::packed::Searcher> = LazyLock::new(|| {
    aho_corasick::packed::Searcher::new([
        "USD", "usd", "dollars", "RMB", "rmb", "CNY", "HKD", "TWD", "NTD",
    ])
    .expect("currency words build a packed searcher")
});

static AMOUNT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        dollar_forms!(),
        r"|(?:(?:USD|usd)\s?(?P<usd2>[0-9][0-9,]*(?:\.[0-9]+)?))",
        r"|(?:(?P<usd3>[0-9][0-9,]*(?:\.[0-9]+)?)\s?(?:dollars|USD)\b)",
        // Hong Kong and Taiwan dollars: the code or the Chinese name before the number,
        // or the name after it (港幣3,000元, 3萬港元, HKD 1,200, 新台幣5,000元, 2000台幣);
        // 蚊 is Cantonese for a Hong Kong dollar.
        r"|(?:(?:\bHKD|港币|港幣|港元)\s?(?P<hkd2>[0-9][0-9,]*(?:\.[0-9]+)?)\s?(?P<hkd2u>万|萬|千|亿|億)?)",
        r"|(?:(?P<hkd3>[0-9][0-9,]*(?:\.[0-9]+)?)\s?(?P<hkd3u>万|萬|千|亿|億)?\s?(?:HKD\b|港币|港幣|港元|蚊))",
        r"|(?:(?:\bTWD|\bNTD|新台币|新台幣|新臺幣|台币|台幣|臺幣)\s?(?P<twd2>[0-9][0-9,]*(?:\.[0-9]+)?)\s?(?P<twd2u>万|萬|千|亿|億)?)",
        r"|(?:(?P<twd3>[0-9][0-9,]*(?:\.[0-9]+)?)\s?(?P<twd3u>万|萬|千|亿|億)?\s?(?:TWD\b|NTD\b|新台币|新台幣|新臺幣|台币|台幣|臺幣))",
        r"|(?:[￥¥]\s?(?P<cny>[0-9][0-9,]*(?:\.[0-9]+)?)\s?(?P<cnyu>万|萬|千|亿|億)?)",
        // Yuan by code or name before the number, as exports write them (RMB 2,000,
        // CNY 500, 人民币1.5万).
        r"|(?:(?:\bRMB|\brmb|\bCNY|人民币|人民幣)\s?(?P<cny3>[0-9][0-9,]*(?:\.[0-9]+)?)\s?(?P<cny3u>万|萬|千|亿|億)?)",
        r"|(?:(?P<cny2>[0-9][0-9,]*(?:\.[0-9]+)?)\s?(?P<cny2u>万|萬|千|亿|億)?\s?(?P<cny2cur>元|块钱|块|塊錢|塊|人民币|人民幣|RMB|rmb|CNY\b))",
    ))
    .expect("amount pattern is valid")
});

/// Every amount group of [`AMOUNT_RE`] (and [`DOLLAR_RE`]), with the group of its unit
/// (万, k, million…) and its currency.
const AMOUNT_GROUPS: [(&str, Option<&str>, &str); 13] = [
    ("cfpb", None, "USD"),
    ("usd", Some("usdk"), "USD"),
    ("usd2", None, "USD"),
    ("usd3", None, "USD"),
    ("hkd", Some("hkdk"), "HKD"),
    ("hkd2", Some("hkd2u"), "HKD"),
    ("hkd3", Some("hkd3u"), "HKD"),
    ("twd", Some("twdk"), "TWD"),
    ("twd2", Some("twd2u"), "TWD"),
    ("twd3", Some("twd3u"), "TWD"),
    ("cny", Some("cnyu"), "CNY"),
    ("cny2", Some("cny2u"), "CNY"),
    ("cny3", Some("cny3u"), "CNY"),
];

/// Parses `1,200.50` into 1200.5; `None` for a malformed number.
fn parse_number(s: &str) -> Option<f64> {
    let cleaned: String = s.chars().filter(|c| *c != ',').collect();
    cleaned.parse::<f64>().ok().filter(|v| v.is_finite())
}

fn unit_factor(u: Option<regex::Match<'_>>) -> f64 {
    match u.map(|m| m.as_str()) {
        Some("万" | "萬") => 1e4,
        Some("千" | "k" | "K") => 1e3,
        Some("亿" | "億") => 1e8,
        Some("million") => 1e6,
        _ => 1.0,
    }
}

/// The largest amount of money mentioned in `text` (`{$450.00}`, `$1,200`, `3,000元`,
/// `1.2万元`, `￥68`, `HK$5,000`, `新台幣5,000元`), or `None`.
pub fn extract_money(text: &str) -> Option<Money> {
    extract_money_in(text, None)
}

/// [`extract_money`] for a source whose local currency is `local`: where that is `HKD` or
/// `TWD`, a bare 元 or 塊 (`3,000元`) is that currency, as Hong Kong and Taiwan write it;
/// otherwise, and wherever 人民币, RMB or ￥ says so, it is yuan.
pub fn extract_money_in(text: &str, local: Option<&'static str>) -> Option<Money> {
    let local = local.filter(|c| matches!(*c, "HKD" | "TWD"));
    if !text.is_ascii() {
        return money_with(&AMOUNT_RE, text, local);
    }
    let b = text.as_bytes();
    if CURRENCY_WORDS.find(b).is_some() {
        return money_with(&AMOUNT_RE, text, local);
    }
    memchr::memchr(b'$', b)?; // no `$`: none of the `$` forms can match
    money_with(&DOLLAR_RE, text, local)
}

/// The largest amount `re` (one of the amount patterns) finds in `text`; a bare 元 is
/// `local` when given.
fn money_with(re: &Regex, text: &str, local: Option<&'static str>) -> Option<Money> {
    let mut best: Option<Money> = None;
    for caps in re.captures_iter(text) {
        // A match fills exactly one amount group.
        let Some((group, unit, currency, m)) = AMOUNT_GROUPS
            .iter()
            .find_map(|&(g, u, c)| caps.name(g).map(|m| (g, u, c, m)))
        else {
            continue;
        };
        // A bare 元 or 块 is the source's own dollar; 人民币, RMB and CNY are always yuan.
        let named_yuan = caps
            .name("cny2cur")
            .is_some_and(|c| matches!(c.as_str(), "人民币" | "人民幣" | "RMB" | "rmb" | "CNY"));
        let currency = match local {
            Some(l) if group == "cny2" && !named_yuan => l,
            _ => currency,
        };
        let unit = unit_factor(unit.and_then(|u| caps.name(u)));
        let found = parse_number(m.as_str()).map(|a| (a * unit, currency));
        if let Some((amount, currency)) = found
            && best.is_none_or(|b| amount > b.amount)
        {
            best = Some(Money { amount, currency });
        }
    }
    best
}

/// A number with an optional Chinese unit after it, for an amount field naming no currency.
static BARE_AMOUNT_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?P<n>[0-9][0-9,]*(?:\.[0-9]+)?)\s?(?P<u>万|萬|千|亿|億)?")
        .expect("bare amount pattern is valid")
});

/// Parses a value from a dedicated amount field (`1000元`, `$45.10`, `12,000`, `1.5万`),
/// using `default_currency` when the value names none. Of several numbers (`1000-2000`),
/// the largest, as in a text.
pub fn parse_amount_field(value: &str, default_currency: Option<&'static str>) -> Option<Money> {
    if let Some(m) = extract_money_in(value, default_currency) {
        return Some(m);
    }
    let currency = default_currency?;
    let amount = BARE_AMOUNT_RE
        .captures_iter(value)
        .filter_map(|c| Some(parse_number(c.name("n")?.as_str())? * unit_factor(c.name("u"))))
        .reduce(f64::max)?;
    Some(Money { amount, currency })
}

/// Kinds of personal data that are masked, with the token that replaces them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PiiKind {
    /// e-mail address → `[email]`
    Email,
    /// CN or US phone number → `[phone]`
    Phone,
    /// 18-character PRC resident ID (身份证号) → `[id_number]`
    IdNumber,
    /// bank card number (Luhn-valid, 13–19 digits) → `[card]`
    Card,
}

impl PiiKind {
    /// The mask token written into the text.
    pub fn token(self) -> &'static str {
        match self {
            PiiKind::Email => "[email]",
            PiiKind::Phone => "[phone]",
            PiiKind::IdNumber => "[id_number]",
            PiiKind::Card => "[card]",
        }
    }
    /// The prefix of this kind's keyed hashes (`phone:…`).
    pub fn name(self) -> &'static str {
        match self {
            PiiKind::Email => "email",
            PiiKind::Phone => "phone",
            PiiKind::IdNumber => "id_number",
            PiiKind::Card => "card",
        }
    }
}

/// One personal value found in a text, normalised for linking (E.164 phone, lower-case e-mail).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PiiHit {
    /// What it is.
    pub kind: PiiKind,
    /// The normalised value (never stored: only its keyed hash is).
    pub value: String,
}

static EMAIL_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}")
        .expect("email pattern is valid")
});

// Numbers that may be personal data. Alternatives in priority order; each is validated
// afterwards (ID checksum, Luhn, phone shape) and left as it is when the check fails.
// Hong Kong and Taiwan IDs begin with a capital letter (HKID `A123456(3)`, Taiwan
// `A123456789`); Hong Kong numbers are masked when written with +852, Taiwan mobiles in
// their national (`0912-345-678`) or international form.
static NUMBER_RE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(concat!(
        r"(?P<id>[0-9]{17}[0-9Xx])",
        r"|(?P<twid>[A-Z][1289][0-9]{8})",
        r"|(?P<hkid>[A-Z]{1,2}[0-9]{6}(?:\([0-9A]\)|[0-9A]))",
        r"|(?P<card>[0-9]{4}(?:[ \-]?[0-9]{4}){2,3}(?:[ \-]?[0-9]{1,3})?|[0-9]{13,19})",
        r"|(?P<cn>(?:\+?86[ \-]?)?1[3-9][0-9][ \-]?[0-9]{4}[ \-]?[0-9]{4})",
        r"|(?P<hk>(?:\+852|\(\+?852\))[ \-]?[2-9][0-9]{3}[ \-]?[0-9]{4})",
        r"|(?P<tw>(?:\+886[ \-]?|\(\+?886\)[ \-]?|0)9[0-9]{2}[ \-]?[0-9]{3}[ \-]?[0-9]{3})",
        r"|(?P<us>(?:\+?1[ .\-]?)?(?:\([0-9]{3}\)|[0-9]{3})[ .\-]?[0-9]{3}[ .\-]?[0-9]{4})",
    ))
    .expect("number pattern is valid")
});

/// Masks e-mails, phone numbers, ID-card and bank-card numbers in `text`. Returns the masked
/// text (borrowed when nothing was found) and the values found.
pub fn mask_pii(text: &str) -> (std::borrow::Cow<'_, str>, Vec<PiiHit>) {
    let has_at = memchr::memchr(b'@', text.as_bytes()).is_some();
    let numbers = may_hold_numbers(text.as_bytes());
    if !has_at && !numbers {
        return (std::borrow::Cow::Borrowed(text), Vec::new());
    }
    let mut hits = Vec::new();
    let mut out = std::borrow::Cow::Borrowed(text);
    if has_at {
        let replaced = replace_matches(
            &out,
            &EMAIL_RE,
            |caps| {
                let m = caps.get(0).expect("group 0 always present");
                Some((PiiKind::Email, m.as_str().to_ascii_lowercase()))
            },
            &mut hits,
        );
        if let Some(r) = replaced {
            out = std::borrow::Cow::Owned(r);
        }
    }
    if numbers {
        let replaced = replace_matches(&out, &NUMBER_RE, classify_number, &mut hits);
        if let Some(r) = replaced {
            out = std::borrow::Cow::Owned(r);
        }
    }
    (out, hits)
}

/// Whether `NUMBER_RE` can match in `b`, in one pass over 64-byte blocks that share each
/// block's digit mask between two checks:
///
/// * some 10 digits lie within 16 bytes of each other. Every number the pattern matches
///   but the Hong Kong and Taiwan IDs has that (its shortest, a US phone `(555) 123-4567`,
///   has 10 digits within 13 bytes; ids, cards and phones are denser). 16 bytes lie within
///   two neighbouring blocks, so unless two neighbours hold 10 digits between them there is
///   no such window; when they do, [`dense_digits_walk`] answers for the whole text.
/// * a capital ASCII letter is followed by six digits, as in every Hong Kong or Taiwan ID:
///   found with the masks of this block and the one before, so a run across their border
///   is seen too.
///
/// Most complaints mention dates and amounts, not such numbers, and end here without the
/// regex.
fn may_hold_numbers(b: &[u8]) -> bool {
    let (mut prev, mut prev_d, mut prev_count) = (&b[..0], 0u64, 0u32);
    let mut walked = false;
    for block in b.chunks(64) {
        let d = digit_mask(block);
        let here = d.count_ones();
        if !walked && prev_count + here >= 10 {
            if dense_digits_walk(b) {
                return true;
            }
            walked = true;
        }
        // Bit k of the pair: byte k of the previous block, then of this one at 64 + k.
        let digits = (u128::from(d) << 64) | u128::from(prev_d);
        // Bit k: bytes k..k+6 are digits.
        let run =
            digits & (digits >> 1) & (digits >> 2) & (digits >> 3) & (digits >> 4) & (digits >> 5);
        if run != 0 {
            let upper = (u128::from(range_mask(block, 0, b'A', 26)) << 64)
                | u128::from(range_mask(prev, 0, b'A', 26));
            if (upper << 1) & run != 0 {
                return true;
            }
        }
        (prev, prev_d, prev_count) = (block, d, here);
    }
    false
}

/// The capital-letter-and-six-digits half of [`may_hold_numbers`], byte by byte.
#[cfg(test)]
fn letter_then_digits_walk(b: &[u8]) -> bool {
    b.windows(7)
        .any(|w| w[0].is_ascii_uppercase() && w[1..].iter().all(u8::is_ascii_digit))
}

/// The dense-digits half of [`may_hold_numbers`], byte by byte.
fn dense_digits_walk(b: &[u8]) -> bool {
    // Positions of the last 10 digits, in a ring.
    let mut last = [0usize; 10];
    let mut n = 0usize;
    for (i, c) in b.iter().enumerate() {
        if c.is_ascii_digit() {
            last[n % 10] = i;
            // After storing, `last[(n + 1) % 10]` is the digit 9 back: the window's first.
            if n >= 9 && i - last[(n + 1) % 10] < 16 {
                return true;
            }
            n += 1;
        }
    }
    false
}

/// Replaces each match the classifier accepts with its kind's token; `None` when nothing changed.
fn replace_matches(
    text: &str,
    re: &Regex,
    classify: impl Fn(&regex::Captures<'_>) -> Option<(PiiKind, String)>,
    hits: &mut Vec<PiiHit>,
) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out: Option<String> = None;
    let mut last = 0;
    for caps in re.captures_iter(text) {
        let m = caps.get(0).expect("group 0 always present");
        // A number glued to more digits or letters is part of something longer (an order
        // number, a reference): not a phone or a card.
        let before = m.start().checked_sub(1).map(|i| bytes[i]);
        let after = bytes.get(m.end()).copied();
        if before.is_some_and(|b| b.is_ascii_alphanumeric())
            || after.is_some_and(|b| b.is_ascii_alphanumeric())
        {
            continue;
        }
        let Some((kind, value)) = classify(&caps) else {
            continue;
        };
        let o = out.get_or_insert_with(|| String::with_capacity(text.len()));
        o.push_str(&text[last..m.start()]);
        o.push_str(kind.token());
        last = m.end();
        hits.push(PiiHit { kind, value });
    }
    let mut o = out?;
    o.push_str(&text[last..]);
    Some(o)
}

fn classify_number(caps: &regex::Captures<'_>) -> Option<(PiiKind, String)> {
    let digits = |s: &str| s.chars().filter(char::is_ascii_digit).collect::<String>();
    if let Some(m) = caps.name("id") {
        let v = m.as_str().to_ascii_uppercase();
        if valid_cn_id(&v) {
            return Some((PiiKind::IdNumber, v));
        }
        let d = digits(&v);
        return (d.len() == v.len() && luhn(&d)).then_some((PiiKind::Card, d));
    }
    if let Some(m) = caps.name("twid") {
        let v = m.as_str();
        return valid_tw_id(v).then(|| (PiiKind::IdNumber, v.to_string()));
    }
    if let Some(m) = caps.name("hkid") {
        let v: String = m
            .as_str()
            .chars()
            .filter(|c| !matches!(c, '(' | ')'))
            .collect();
        return valid_hk_id(&v).then_some((PiiKind::IdNumber, v));
    }
    if let Some(m) = caps.name("hk") {
        let d = digits(m.as_str());
        return (d.len() == 11).then(|| (PiiKind::Phone, format!("+{d}")));
    }
    if let Some(m) = caps.name("tw") {
        let d = digits(m.as_str());
        let national = d.strip_prefix("886").or_else(|| d.strip_prefix('0'))?;
        return (national.len() == 9).then(|| (PiiKind::Phone, format!("+886{national}")));
    }
    if let Some(m) = caps.name("card") {
        let d = digits(m.as_str());
        return ((13..=19).contains(&d.len()) && luhn(&d)).then_some((PiiKind::Card, d));
    }
    if let Some(m) = caps.name("cn") {
        let d = digits(m.as_str());
        let national = d.strip_prefix("86").filter(|r| r.len() == 11).unwrap_or(&d);
        return (national.len() == 11).then(|| (PiiKind::Phone, format!("+86{national}")));
    }
    if let Some(m) = caps.name("us") {
        let d = digits(m.as_str());
        let national = if d.len() == 11 {
            d.strip_prefix('1')?
        } else {
            &d
        };
        // NANP: area code and exchange never start with 0 or 1.
        let ok = national.len() == 10
            && !matches!(national.as_bytes()[0], b'0' | b'1')
            && !matches!(national.as_bytes()[3], b'0' | b'1');
        return ok.then(|| (PiiKind::Phone, format!("+1{national}")));
    }
    None
}

/// Checks the ISO 7064 MOD 11-2 check digit and the birth date of an 18-character PRC ID.
pub fn valid_cn_id(id: &str) -> bool {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECK: &[u8; 11] = b"10X98765432";
    let b = id.as_bytes();
    if b.len() != 18 || !b[..17].iter().all(u8::is_ascii_digit) {
        return false;
    }
    let sum: u32 = b[..17]
        .iter()
        .zip(W)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    let year: u32 = id[6..10].parse().unwrap_or(0);
    let month: u32 = id[10..12].parse().unwrap_or(0);
    let day: u32 = id[12..14].parse().unwrap_or(0);
    CHECK[(sum % 11) as usize] == b[17]
        && (1900..=2100).contains(&year)
        && (1..=12).contains(&month)
        && (1..=31).contains(&day)
}

/// Checks a Taiwan national ID (or resident certificate) number, `A123456789`: the
/// letter's two-digit code and the nine digits, weighted 1 9 8 7 6 5 4 3 2 1 1, sum to a
/// multiple of ten.
pub fn valid_tw_id(id: &str) -> bool {
    // Letter codes A..Z (I, O, W, X, Y, Z out of order: they were added later).
    const CODE: [u32; 26] = [
        10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, 22, 35, 23, 24, 25, 26, 27, 28, 29, 32,
        30, 31, 33,
    ];
    const W: [u32; 9] = [8, 7, 6, 5, 4, 3, 2, 1, 1];
    let b = id.as_bytes();
    if b.len() != 10
        || !b[0].is_ascii_uppercase()
        || !matches!(b[1], b'1' | b'2' | b'8' | b'9')
        || !b[1..].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let code = CODE[usize::from(b[0] - b'A')];
    let sum: u32 = code / 10
        + (code % 10) * 9
        + b[1..]
            .iter()
            .zip(W)
            .map(|(d, w)| u32::from(d - b'0') * w)
            .sum::<u32>();
    sum.is_multiple_of(10)
}

/// Checks a Hong Kong identity card number written without brackets, `A1234563` or
/// `AB9876543`: one or two letters (a missing first letter counts 36, letters 10..35) and
/// six digits weighted 9..2, plus the check digit (`A` for 10), sum to a multiple of 11.
pub fn valid_hk_id(id: &str) -> bool {
    let b = id.as_bytes();
    let letters = b.iter().take_while(|c| c.is_ascii_uppercase()).count();
    if !(1..=2).contains(&letters)
        || b.len() != letters + 7
        || !b[letters..letters + 6].iter().all(u8::is_ascii_digit)
    {
        return false;
    }
    let value = |c: u8| -> u32 {
        if c.is_ascii_digit() {
            u32::from(c - b'0')
        } else {
            u32::from(c - b'A') + 10
        }
    };
    let mut chars: Vec<u32> = Vec::with_capacity(8);
    if letters == 1 {
        chars.push(36);
    }
    chars.extend(b[..letters + 6].iter().map(|&c| value(c)));
    let sum: u32 = chars.iter().zip((2..=9).rev()).map(|(v, w)| v * w).sum();
    let check = match b[letters + 6] {
        b'A' => 10,
        c if c.is_ascii_digit() => u32::from(c - b'0'),
        _ => return false,
    };
    (sum + check).is_multiple_of(11)
}

/// Luhn check used by every card network.
pub fn luhn(digits: &str) -> bool {
    let mut sum = 0;
    for (i, c) in digits.bytes().rev().enumerate() {
        let mut d = u32::from(c - b'0');
        if i % 2 == 1 {
            d *= 2;
            if d > 9 {
                d -= 9;
            }
        }
        sum += d;
    }
    sum % 10 == 0
}

/// Repairs text that was UTF-8, decoded as Latin-1 and re-encoded (`æ\u{8b}¼å¤\u{9a}` → `拼多`).
/// Returns `None` when the text is not such mojibake (the repair must be lossless).
pub fn repair_mojibake(s: &str) -> Option<String> {
    if s.is_ascii() || !s.chars().all(|c| (c as u32) < 0x100) {
        return None;
    }
    let bytes: Vec<u8> = s.chars().map(|c| c as u8).collect();
    let fixed = String::from_utf8(bytes).ok()?;
    // Only accept a repair that produced real multi-byte characters.
    (!fixed.is_ascii()).then_some(fixed)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The byte-slice version `ascii_lang` replaced, kept to check the packed keys.
    fn ascii_lang_reference(text: &str) -> &'static str {
        let (mut en, mut other, mut words) = (0, 0, 0);
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() && words < 60 {
            if !b[i].is_ascii_alphabetic() {
                i += 1;
                continue;
            }
            let start = i;
            while i < b.len() && b[i].is_ascii_alphabetic() {
                i += 1;
            }
            words += 1;
            let w = &b[start..i];
            if w.len() > 4 {
                continue;
            }
            let mut lower = [0u8; 4];
            for (d, s) in lower.iter_mut().zip(w) {
                *d = s.to_ascii_lowercase();
            }
            match &lower[..w.len()] {
                b"the" | b"and" | b"to" | b"i" | b"my" | b"was" | b"of" | b"a" | b"in"
                | b"they" | b"that" | b"it" | b"for" | b"is" | b"not" | b"have" => en += 1,
                b"el" | b"la" | b"de" | b"que" | b"y" | b"los" | b"mi" | b"por" | b"con"
                | b"una" | b"para" | b"las" | b"del" | b"se" | b"les" | b"est" => other += 1,
                _ => {}
            }
        }
        if words == 0 || other > en {
            "other"
        } else {
            "en"
        }
    }

    #[test]
    fn packed_cue_words_decide_as_the_byte_match_did() {
        // Real complaint texts (the CFPB sample) plus word soup built from the cue words
        // in every case, including near misses ("THEY", "tha", "mis", "Para", "o'").
        let mut texts: Vec<String> = Vec::new();
        if let Ok(mut r) = csv::Reader::from_path("../shared/data/cfpb/complaints_sample_3000.csv")
        {
            for rec in r.records().flatten() {
                texts.push(rec.iter().collect::<Vec<_>>().join(" "));
            }
        }
        let soup = [
            "the", "THE", "They", "tha", "and", "AND", "el", "EL", "la", "La", "que", "QUE", "mis",
            "para", "Para", "PARA", "y", "Y", "I", "a", "A", "o'", "est", "Est", "have", "haves",
            "los", "del", "x", "se", "Se", "not", "No", "1a", "de", "De", "it's", "niño", "café",
            "—", "el’s", "[the]", "@la", "`y`", "{que}", "Zz", "zA",
        ];
        let mut seed = 7u64;
        for _ in 0..2000 {
            let mut t = String::new();
            for _ in 0..(seed % 70) {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                t.push_str(soup[(seed >> 33) as usize % soup.len()]);
                t.push(if seed & 1 == 0 { ' ' } else { ',' });
            }
            texts.push(t);
        }
        assert!(texts.len() > 2000);
        let mut seen = std::collections::HashSet::new();
        for t in &texts {
            // The 256-byte window detect_lang hands over.
            let t = &t[..t.floor_char_boundary(256)];
            let want = ascii_lang_reference(t);
            assert_eq!(ascii_lang(t), want, "{t:?}");
            seen.insert(want);
        }
        assert_eq!(seen.len(), 2, "both answers were exercised");
    }

    #[test]
    fn language() {
        assert_eq!(
            detect_lang("My Cash App account was closed and they kept my money"),
            "en"
        );
        assert_eq!(detect_lang("支付宝账户被冻结，客服不处理，要求退款"), "zh");
        assert_eq!(detect_lang("我在iPhone上用Apple Pay付款失败"), "zh");
        assert_eq!(
            detect_lang("El banco no me devolvio el dinero de la transferencia que hice"),
            "other"
        );
        assert_eq!(detect_lang(""), "other");
        // Japanese shares Han characters with Chinese, but not kana.
        assert_eq!(detect_lang("PayPalのアカウントが凍結されました"), "other");
        assert_eq!(
            detect_lang("口座から勝手にお金が引き出されていました"),
            "other"
        );
        assert_eq!(detect_lang("我の支付宝余额被冻结了，客服一直不回复"), "zh");
    }

    #[test]
    fn the_dollar_pattern_finds_what_the_full_pattern_finds() {
        // Real texts (CFPB narratives, 黑猫 complaints) and made-up ones with every form.
        let mut texts: Vec<String> = vec![
            "paid {$450.00} then $1,200 and US$ 3k".into(),
            "sent 500 RMB and 300 dollars, 20 USD, usd 15".into(),
            "$ 5 million; $.5; ${$1}; $$12; 12$".into(),
            "转账3,000元，又被骗1.2万元，￥68".into(),
            "no money here, 2021-01-01, 555-1234".into(),
        ];
        if let Ok(mut r) = csv::Reader::from_path("../shared/data/cfpb/complaints_sample_3000.csv")
        {
            texts.extend(
                r.records()
                    .flatten()
                    .map(|rec| rec.iter().collect::<Vec<_>>().join(" ")),
            );
        }
        if let Ok(t) = std::fs::read_to_string("../shared/data/heimao/heimao_2020_99.ndjson") {
            texts.extend(t.lines().map(str::to_string));
        }
        assert!(texts.len() > 1000, "the shared data is beside the checkout");
        let mut dollar_only = 0;
        for t in &texts {
            let full = money_with(&AMOUNT_RE, t, None);
            assert_eq!(extract_money(t), full, "{t:?}");
            dollar_only += usize::from(t.is_ascii() && full.is_some());
        }
        assert!(dollar_only > 100);
    }

    #[test]
    fn money_forms() {
        let m = |s| extract_money(s).map(|m| (m.amount, m.currency));
        assert_eq!(m("I was charged {$450.00} twice"), Some((450.0, "USD")));
        assert_eq!(
            m("sent $1,200 to a scammer, then $20"),
            Some((1200.0, "USD"))
        );
        assert_eq!(m("被骗3,000元"), Some((3000.0, "CNY")));
        assert_eq!(m("损失1.2万元"), Some((12000.0, "CNY")));
        assert_eq!(m("扣了￥68"), Some((68.0, "CNY")));
        assert_eq!(m("no money here, 5 days"), None);
        // An English text naming yuan by their ASCII code (was missed before 2026-12-02).
        assert_eq!(m("the seller kept 500 RMB"), Some((500.0, "CNY")));
        assert_eq!(m("I lost 300 dollars"), Some((300.0, "USD")));
        // Hong Kong and Taiwan dollars, by symbol, code or name, before or after the number.
        assert_eq!(
            m("then HK$5,000 was transferred out"),
            Some((5000.0, "HKD"))
        );
        assert_eq!(m("被騙咗 HKD 1,200"), Some((1200.0, "HKD")));
        assert_eq!(m("lost 1,200 HKD and $20"), Some((1200.0, "HKD")));
        assert_eq!(m("被人轉走港幣3,000元"), Some((3000.0, "HKD")));
        assert_eq!(m("損失咗3萬港元"), Some((30000.0, "HKD")));
        assert_eq!(m("俾人呃咗800蚊"), Some((800.0, "HKD")));
        assert_eq!(m("損失NT$2,000"), Some((2000.0, "TWD")));
        assert_eq!(m("被盜刷新台幣5,000元"), Some((5000.0, "TWD")));
        assert_eq!(m("被扣了2000台幣"), Some((2000.0, "TWD")));
        assert_eq!(m("charged TWD 350"), Some((350.0, "TWD")));
        assert_eq!(
            m("EVENTD 350 happened"),
            None,
            "a code inside a word is not one"
        );
        // A real CFPB narrative (narratives_by_product_10k.csv) that had no amount before.
        assert_eq!(
            m("Western Union processed roughly 70,000 HKD in transactions that were"),
            Some((70000.0, "HKD"))
        );
        // Traditional units and 塊 read as the Simplified ones.
        assert_eq!(m("損失1.5萬元"), Some((15000.0, "CNY")));
        assert_eq!(m("被扣了50塊錢"), Some((50.0, "CNY")));
        // A Hong Kong or Taiwan source's bare 元 is its own dollar; 人民币 stays yuan.
        let local = |s, c| extract_money_in(s, Some(c)).map(|m| (m.amount, m.currency));
        assert_eq!(local("被盜刷5,000元", "TWD"), Some((5000.0, "TWD")));
        assert_eq!(local("被呃3,000元", "HKD"), Some((3000.0, "HKD")));
        assert_eq!(local("被扣了500人民幣", "HKD"), Some((500.0, "CNY")));
        assert_eq!(
            local("被骗3,000元", "USD"),
            Some((3000.0, "CNY")),
            "only HKD and TWD"
        );
        assert_eq!(
            parse_amount_field("1000元", Some("TWD")).map(|m| m.currency),
            Some("TWD")
        );
        assert_eq!(currency_code("HKD"), Some("HKD"));
        assert_eq!(currency_code("EUR"), None);
        assert_eq!(
            parse_amount_field("1000元", Some("CNY")).map(|m| m.amount),
            Some(1000.0)
        );
        assert_eq!(
            parse_amount_field("12,000", Some("CNY")).map(|m| (m.amount, m.currency)),
            Some((12000.0, "CNY"))
        );
        // Yuan by code before the number, as exports write them, and a bare 万 (the
        // field read 1.5, and 1000-2000 as 10,002,000, before 2026-12-03).
        assert_eq!(m("RMB 2,000"), Some((2000.0, "CNY")));
        assert_eq!(m("refund of CNY 350 never came"), Some((350.0, "CNY")));
        assert_eq!(m("500 CNY"), Some((500.0, "CNY")));
        assert_eq!(m("被骗人民币1.5万"), Some((15000.0, "CNY")));
        assert_eq!(local("RMB 800", "HKD"), Some((800.0, "CNY")));
        let field = |s, c| parse_amount_field(s, c).map(|m| (m.amount, m.currency));
        assert_eq!(field("RMB 2,000", None), Some((2000.0, "CNY")));
        assert_eq!(field("1.5万", Some("CNY")), Some((15000.0, "CNY")));
        assert_eq!(field("1000-2000", Some("USD")), Some((2000.0, "USD")));
        assert_eq!(field("约 300", Some("CNY")), Some((300.0, "CNY")));
        assert_eq!(field("1.5万", None), None, "no currency named or given");
        assert_eq!(field("不详", Some("CNY")), None);
    }

    #[test]
    fn masks_personal_data() {
        let (t, hits) =
            mask_pii("call me at (415) 555-0132 or 13812345678, mail Bob.X@Example.com");
        assert_eq!(t, "call me at [phone] or [phone], mail [email]");
        let values: Vec<_> = hits.iter().map(|h| h.value.as_str()).collect();
        assert!(
            values.contains(&"+14155550132")
                && values.contains(&"+8613812345678")
                && values.contains(&"bob.x@example.com")
        );
        // a valid ID number and a Luhn-valid card
        let (t, _) = mask_pii("身份证11010519491231002X，银行卡6222 0212 3456 7890 128");
        assert!(t.contains("[id_number]"), "{t}");
        let (t, _) = mask_pii("card 4111111111111111 order 20201016123456789012345");
        assert_eq!(t, "card [card] order 20201016123456789012345");
        // amounts and dates are not phone numbers
        let (t, h) = mask_pii("On 01/02/2024 I paid {$1200.00} and {$300.00}, ref 2024");
        assert!(h.is_empty(), "{t}");
    }

    /// Random texts of every length up to 300 bytes, digits `per_mille` of the bytes (for
    /// each density given) and capital letters `letters` per mille, the rest `x` (a
    /// xorshift64 stream: the same texts on every run): `gate` must answer as `walk` on
    /// each. Returns how many texts `walk` says yes to.
    fn random_texts_agree(
        mut seed: u64,
        per_milles: &[u64],
        letters: u64,
        gate: fn(&[u8]) -> bool,
        walk: fn(&[u8]) -> bool,
    ) -> usize {
        let mut next = move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        let mut yes = 0;
        for len in 0..300usize {
            for &per_mille in per_milles {
                let text: Vec<u8> = (0..len)
                    .map(|_| match next() % 1000 {
                        r if r < per_mille => b'0' + (next() % 10) as u8,
                        r if r < per_mille + letters => b'A' + (next() % 26) as u8,
                        _ => b'x',
                    })
                    .collect();
                let want = walk(&text);
                assert_eq!(gate(&text), want, "{}", String::from_utf8_lossy(&text));
                yes += usize::from(want);
            }
        }
        yes
    }

    #[test]
    fn masks_hong_kong_and_taiwan_personal_data() {
        // Hong Kong: identity card (check digit in brackets or not, `A` for ten), +852.
        let (t, hits) = mask_pii(
            "我的身份證號碼係A123456(3)，另一張Z683365A，聯絡電話 +852 9123 4567 或 (852) 6123-4567",
        );
        assert_eq!(
            t,
            "我的身份證號碼係[id_number]，另一張[id_number]，聯絡電話 [phone] 或 [phone]"
        );
        let values: Vec<_> = hits.iter().map(|h| h.value.as_str()).collect();
        assert_eq!(
            values,
            vec!["A1234563", "Z683365A", "+85291234567", "+85261234567"]
        );
        // Taiwan: national ID, mobiles written nationally and internationally.
        let (t, hits) =
            mask_pii("身分證字號F223456786，手機0912-345-678，My number is +886 912 345 678.");
        assert_eq!(
            t,
            "身分證字號[id_number]，手機[phone]，My number is [phone]."
        );
        let values: Vec<_> = hits.iter().map(|h| h.value.as_str()).collect();
        assert_eq!(values, vec!["F223456786", "+886912345678", "+886912345678"]);
        // Failing check digits, longer codes and bare eight-digit numbers stay as written.
        for kept in [
            "ID A123456(4) was rejected",
            "身分證 A123456788 不對",
            "order B1234567 shipped",
            "reference XA1234567890 and AB1234567C",
            "單號 91234567，金額 12345678",
        ] {
            let (t, h) = mask_pii(kept);
            assert_eq!((t.as_ref(), h.len()), (kept, 0), "{kept}");
        }
        assert!(valid_hk_id("AB9876543") && valid_hk_id("K1234560"));
        assert!(valid_tw_id("A123456789") && valid_tw_id("B800000015"));
        assert!(
            !valid_tw_id("A323456789"),
            "the second character is 1, 2, 8 or 9"
        );
    }

    #[test]
    fn the_letter_and_digits_gate_answers_as_the_byte_walk() {
        // Digits at many densities, a capital letter one byte in twenty.
        let found = random_texts_agree(
            0x2545_F491_4F6C_DD1D,
            &[0, 300, 600, 900],
            50,
            may_hold_numbers,
            |b| dense_digits_walk(b) || letter_then_digits_walk(b),
        );
        // A run placed across every block border.
        for at in 0..200usize {
            let mut text = vec![b' '; 210];
            text[at] = b'K';
            text[at + 1..at + 7].copy_from_slice(b"123456");
            assert!(may_hold_numbers(&text), "at {at}");
            text[at + 6] = b' ';
            assert!(!may_hold_numbers(&text), "five digits at {at}");
        }
        assert!(found > 100, "the random texts hold such runs too ({found})");
    }

    #[test]
    fn only_texts_with_ten_close_digits_run_the_number_pattern() {
        for dense in [
            "call (555) 123-4567 now",
            "+1 555.123.4567",
            "手机13812345678",
            "+86 138 1234 5678",
            "card 4111 1111 1111 1111",
            "身份证11010519491231002X",
        ] {
            assert!(may_hold_numbers(dense.as_bytes()), "{dense}");
        }
        for sparse in [
            "On XX/XX/2024 I sent {$1200.00} and on XX/XX/2024 {$35.00}",
            "ref 12345, see also 67890",
            "",
        ] {
            assert!(!may_hold_numbers(sparse.as_bytes()), "{sparse}");
            assert_eq!(mask_pii(sparse).1, vec![], "{sparse}");
        }
    }

    #[test]
    fn the_block_count_answers_as_the_byte_walk() {
        // Texts of every length up to 300 bytes with digits scattered at many densities,
        // and runs of 10 digits in 16 bytes placed across every block boundary: the
        // 64-byte block count must never say no where the walk says yes (nor yes).
        let dense = random_texts_agree(
            0x9E37_79B9_7F4A_7C15,
            &[0, 50, 150, 300, 600],
            0,
            may_hold_numbers,
            dense_digits_walk,
        );
        for at in 0..200usize {
            let mut text = vec![b' '; 260];
            for (k, i) in [0, 1, 2, 4, 5, 6, 8, 9, 11, 15].iter().enumerate() {
                text[at + i] = b'0' + k as u8;
            }
            assert!(may_hold_numbers(&text), "10 digits in 16 bytes at {at}");
            text[at + 15] = b' ';
            assert!(!may_hold_numbers(&text), "9 digits at {at}");
        }
        assert!(
            dense > 300,
            "the random texts hold dense ones too ({dense})"
        );
    }

    #[test]
    fn mojibake() {
        assert_eq!(
            repair_mojibake("æ\u{8b}¼å¤\u{9a}å¤\u{9a}").as_deref(),
            Some("拼多多")
        );
        assert_eq!(repair_mojibake("café"), None);
        assert_eq!(repair_mojibake("拼多多"), None);
    }
}

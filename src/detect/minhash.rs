//! Near-duplicate texts: MinHash signatures over character shingles (so it works for
//! Chinese, which has no spaces), built with one-permutation hashing, and LSH banding so
//! linking is O(n log n), never a comparison of all pairs.
//!
//! * Shingles: the text's letters and digits, lower-cased, punctuation and spaces dropped;
//!   windows of 3 characters for Chinese, 7 otherwise (about a word and a half).
//! * Signature: 64 slots; each shingle hash goes to the slot named by its top 6 bits and
//!   keeps the minimum (one-permutation hashing, Li, Owen & Zhang 2012); empty slots borrow
//!   from the next filled one (rotation densification, Shrivastava & Li 2014).
//! * Banding: 16 bands of 4 slots. Two texts with Jaccard similarity J share a band with
//!   probability 1 − (1 − J⁴)¹⁶: 0.64 at J = 0.5, 0.99 at J = 0.7. Candidates are verified
//!   on the whole signature (estimated J ≥ the threshold).

use rayon::prelude::*;

/// Slots of a signature.
pub const SLOTS: usize = 64;
/// Bands of the LSH index.
pub const BANDS: usize = 16;
/// Slots per band.
pub const ROWS: usize = SLOTS / BANDS;
/// Fewest shingles a text needs to get a signature (shorter texts are too generic).
pub const MIN_SHINGLES: usize = 24;

/// A MinHash signature.
pub type Signature = [u32; SLOTS];

/// splitmix64's finaliser: every bit of `z` moves every bit of the result (also the step
/// of [`crate::classify::eval`]'s resampling generator).
#[inline]
pub(crate) fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// The signature of a text, or `None` when it has fewer than [`MIN_SHINGLES`] shingles.
pub fn signature(text: &str, chinese: bool) -> Option<Signature> {
    let mut s = Shingler::new(if chinese { 3 } else { 7 });
    if text.is_ascii() {
        // Most complaints: bytes are characters.
        for &b in text.as_bytes() {
            if b.is_ascii_alphanumeric() {
                s.push(u64::from(b.to_ascii_lowercase()));
            }
        }
    } else {
        for c in text.chars() {
            let c = if c.is_ascii() {
                if !c.is_ascii_alphanumeric() {
                    continue;
                }
                c.to_ascii_lowercase()
            } else if !c.is_alphanumeric() {
                continue;
            } else {
                c
            };
            s.push(u64::from(c as u32));
        }
    }
    s.finish()
}

/// The shingles of one text, hashed into the slots as they come.
struct Shingler {
    k: usize,
    /// B^k, to take the character leaving the window out of the hash.
    bk: u64,
    window: [u64; 8],
    /// Where the next character goes in `window` (`seen % k`).
    pos: usize,
    seen: usize,
    rolling: u64,
    slots: Signature,
    filled: u64,
}

impl Shingler {
    // Rabin-Karp rolling hash of the last k characters: h = Σ c_i·B^(k−1−i) (mod 2⁶⁴).
    const B: u64 = 0x1000_0000_01b3;

    fn new(k: usize) -> Self {
        Shingler {
            k,
            bk: (0..k).fold(1u64, |acc, _| acc.wrapping_mul(Self::B)),
            window: [0; 8],
            pos: 0,
            seen: 0,
            rolling: 0,
            slots: [u32::MAX; SLOTS],
            filled: 0,
        }
    }

    /// Adds a character (its code point; letters already lower-cased).
    #[inline]
    fn push(&mut self, c: u64) {
        let code = c + 1;
        self.rolling = self
            .rolling
            .wrapping_mul(Self::B)
            .wrapping_add(code)
            .wrapping_sub(self.window[self.pos].wrapping_mul(self.bk));
        self.window[self.pos] = code;
        self.pos += 1;
        if self.pos == self.k {
            self.pos = 0;
        }
        self.seen += 1;
        if self.seen < self.k {
            return;
        }
        let h = mix(self.rolling);
        let slot = (h >> 58) as usize;
        let v = h as u32;
        if v < self.slots[slot] {
            self.slots[slot] = v;
        }
        self.filled |= 1 << slot;
    }

    fn finish(self) -> Option<Signature> {
        let Shingler {
            k,
            seen,
            mut slots,
            filled,
            ..
        } = self;
        if seen + 1 < k + MIN_SHINGLES {
            return None;
        }
        if filled != u64::MAX {
            for i in 0..SLOTS {
                if filled & (1 << i) == 0 {
                    let mut j = (i + 1) % SLOTS;
                    let mut dist = 1u32;
                    while filled & (1 << j) == 0 {
                        j = (j + 1) % SLOTS;
                        dist += 1;
                    }
                    slots[i] = slots[j].wrapping_add(0x9e37_79b9u32.wrapping_mul(dist));
                }
            }
        }
        Some(slots)
    }
}

/// Estimated Jaccard similarity of the shingle sets behind two signatures.
pub fn similarity(a: &Signature, b: &Signature) -> f64 {
    // A sum of 0/1, which compiles to vector compares (a filtered count did not: it was
    // a tenth of `detect` on a million complaints).
    let same: u32 = a.iter().zip(b).map(|(x, y)| u32::from(x == y)).sum();
    f64::from(same) / SLOTS as f64
}

fn band_key(sig: &Signature, band: usize) -> u64 {
    let s = &sig[band * ROWS..(band + 1) * ROWS];
    let mut h = band as u64;
    for v in s {
        h = mix(h ^ u64::from(*v));
    }
    h
}

/// Pairs of documents (indexes into `sigs`) whose estimated similarity is at least
/// `threshold`, found through the LSH bands. Enough pairs to connect each group of
/// near-duplicates, not every pair: within a band bucket each member is checked against
/// the bucket's first member, then its predecessor.
pub fn near_duplicate_pairs(sigs: &[Option<Signature>], threshold: f64) -> Vec<(u32, u32)> {
    let mut all = Vec::new();
    near_duplicate_pairs_by_band(sigs, threshold, |pairs| all.extend_from_slice(pairs));
    all
}

/// [`near_duplicate_pairs`], handed to `each` one band at a time (in band order) rather
/// than collected: as many bands are worked on at once as there are threads, so only their
/// pairs are held, not all sixteen bands' (126 MB on a million generated complaints).
pub fn near_duplicate_pairs_by_band(
    sigs: &[Option<Signature>],
    threshold: f64,
    mut each: impl FnMut(&[(u32, u32)]),
) {
    let bands: Vec<usize> = (0..BANDS).collect();
    for chunk in bands.chunks(rayon::current_num_threads().max(1)) {
        let found: Vec<Vec<(u32, u32)>> = chunk
            .par_iter()
            .map(|&band| band_pairs(sigs, threshold, band))
            .collect();
        for pairs in &found {
            each(pairs);
        }
    }
}

/// One band's verified pairs.
fn band_pairs(sigs: &[Option<Signature>], threshold: f64, band: usize) -> Vec<(u32, u32)> {
    let mut keys: Vec<(u64, u32)> = sigs
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.as_ref().map(|s| (band_key(s, band), i as u32)))
        .collect();
    keys.sort_unstable();
    let mut pairs = Vec::new();
    for group in keys.chunk_by(|a, b| a.0 == b.0) {
        if group.len() < 2 {
            continue;
        }
        let sig = |i: u32| {
            sigs[i as usize]
                .as_ref()
                .expect("keys come from signatures")
        };
        let first = group[0].1;
        for w in 1..group.len() {
            let m = group[w].1;
            if similarity(sig(first), sig(m)) >= threshold {
                pairs.push((first, m));
            } else {
                let prev = group[w - 1].1;
                if prev != first && similarity(sig(prev), sig(m)) >= threshold {
                    pairs.push((prev, m));
                }
            }
        }
    }
    pairs
}

/// Disjoint sets over `0..n` (union by size, path halving).
pub struct UnionFind {
    parent: Vec<u32>,
    size: Vec<u32>,
}

impl UnionFind {
    /// `n` singletons.
    pub fn new(n: usize) -> Self {
        Self {
            parent: (0..n as u32).collect(),
            size: vec![1; n],
        }
    }

    /// The representative of `x`'s set.
    pub fn find(&mut self, mut x: u32) -> u32 {
        while self.parent[x as usize] != x {
            let p = self.parent[x as usize];
            self.parent[x as usize] = self.parent[p as usize];
            x = p;
        }
        x
    }

    /// Merges the sets of `a` and `b`; returns whether they were apart.
    pub fn union(&mut self, a: u32, b: u32) -> bool {
        let (mut a, mut b) = (self.find(a), self.find(b));
        if a == b {
            return false;
        }
        if self.size[a as usize] < self.size[b as usize] {
            std::mem::swap(&mut a, &mut b);
        }
        self.parent[b as usize] = a;
        self.size[a as usize] += self.size[b as usize];
        true
    }

    /// Size of `x`'s set.
    pub fn size_of(&mut self, x: u32) -> u32 {
        let r = self.find(x);
        self.size[r as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BASE: &str = "我在支付宝上收到一条短信，说我的花呗账户存在异常需要注销，否则会影响个人征信。\
                        对方自称支付宝客服，让我下载会议软件并开启屏幕共享，随后以验证资金为由\
                        让我把余额宝里的钱转到所谓的安全账户，前后共转了三次，损失很大。";

    #[test]
    fn small_edits_stay_similar_and_other_texts_do_not() {
        let a = signature(BASE, true).expect("long enough");
        let edited = BASE.replace("三次", "四次").replace("很大", "惨重");
        let b = signature(&edited, true).expect("long enough");
        assert!(similarity(&a, &b) >= 0.6, "{}", similarity(&a, &b));
        let other = "京东白条自动扣款失败后又重复扣款两次，联系客服一直没有人处理，要求退还多扣的钱并道歉，\
                     已经等了半个月没有结果，商家和平台互相推诿。";
        let c = signature(other, true).expect("long enough");
        assert!(similarity(&a, &c) < 0.2, "{}", similarity(&a, &c));
        assert!(signature("太短了", true).is_none());
    }

    #[test]
    fn an_english_text_gets_one_signature_whether_read_as_bytes_or_characters() {
        // A plain ASCII text is read byte by byte; the same words with a dash that is not
        // a letter (dropped, like all punctuation) take the path for any other text.
        let ascii = "Someone claiming to be Cash App support told me to send $250 to a \
                     'refund' cashtag and now my account is locked, nobody answers.";
        let dashed = ascii.replace(", nobody", " — nobody");
        assert!(ascii.is_ascii() && !dashed.is_ascii());
        let a = signature(ascii, false).expect("long enough");
        assert_eq!(Some(a), signature(&dashed, false));
        assert_eq!(
            Some(a),
            signature(&ascii.to_uppercase(), false),
            "letters are lower-cased"
        );
        assert_ne!(
            Some(a),
            signature(&ascii.replace("locked", "frozen"), false)
        );
    }

    #[test]
    fn banding_links_a_wave_without_comparing_all_pairs() {
        let mut sigs = Vec::new();
        for i in 0..25 {
            let t = BASE.replace(
                "三次",
                &format!("{}次", ["两", "三", "四", "五", "六"][i % 5]),
            ) + &"。".repeat(i % 3)
                + ["", "请平台处理", "希望追回"][i % 3];
            sigs.push(signature(&t, true));
        }
        for i in 0..200 {
            let t = format!(
                "Background complaint number {i}: my transfer of {} dollars to account {} failed twice and support never answered.",
                i * 37 % 1000,
                i * 7919
            );
            sigs.push(signature(&t, false));
        }
        let pairs = near_duplicate_pairs(&sigs, 0.5);
        let mut uf = UnionFind::new(sigs.len());
        for (a, b) in pairs {
            uf.union(a, b);
        }
        assert_eq!(uf.size_of(0), 25, "the wave is one set");
    }
}

//! The rules' phrase search: leftmost-longest matches of many phrases, found by walking an
//! Aho-Corasick DFA (the `aho-corasick` crate's) here rather than through its iterator, so
//! that several texts can be walked at once.
//!
//! Why: the walk is a chain of dependent table loads, one per byte (measured ~2.6 ns a
//! byte on the benchmark machine, half of `classify`'s CPU), so one text at a time leaves
//! the CPU waiting on memory; independent chains overlap. Two lanes did better than one,
//! three better than two (the walk's CPU -15%, classify of 1M complaints -4% over seven
//! alternating rounds), four worse than two (probably: the lanes' state no longer fits in
//! registers). The matches are exactly the crate's `find_iter` matches (tested on real
//! complaints).

use aho_corasick::automaton::Automaton;
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind, StartKind};

/// One phrase found: its index in the rules' phrase list and its byte span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hit {
    /// Index into the phrase list the searcher was built with (`ids`).
    pub phrase: usize,
    /// Byte offset of the first byte.
    pub start: usize,
    /// Byte offset past the last byte.
    pub end: usize,
}

/// A compiled set of phrases (ASCII case-insensitive, leftmost-longest).
pub struct PhraseDfa {
    dfa: DFA,
    start: aho_corasick::automaton::StateID,
    /// Phrase index of each pattern.
    ids: Vec<usize>,
}

/// One text being walked.
struct Walk<'h> {
    hay: &'h [u8],
    at: usize,
    sid: aho_corasick::automaton::StateID,
    /// The longest match seen since the last restart.
    pending: Option<Hit>,
}

impl PhraseDfa {
    /// Compiles `phrases`; `ids[i]` is what a match of `phrases[i]` reports.
    pub fn new(phrases: &[&str], ids: Vec<usize>) -> Result<PhraseDfa, String> {
        debug_assert_eq!(phrases.len(), ids.len());
        let dfa = DFA::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(true)
            .start_kind(StartKind::Unanchored)
            // No prefilter: with hundreds of phrases it would not skip, and without it the
            // start state is not special, which keeps the walk's loop small.
            .prefilter(false)
            .build(phrases)
            .map_err(|e| e.to_string())?;
        let start = dfa.start_state(Anchored::No).map_err(|e| e.to_string())?;
        Ok(PhraseDfa { dfa, start, ids })
    }

    fn walk<'h>(&self, hay: &'h [u8]) -> Walk<'h> {
        Walk {
            hay,
            at: 0,
            sid: self.start,
            pending: None,
        }
    }

    /// Advances a walk by one byte (or finishes a pending match at the end); false once
    /// the text is done.
    #[inline(always)]
    fn step(&self, w: &mut Walk<'_>, out: &mut Vec<Hit>) -> bool {
        if w.at < w.hay.len() {
            w.sid = self.dfa.next_state(Anchored::No, w.sid, w.hay[w.at]);
            w.at += 1;
            if self.dfa.is_special(w.sid) {
                if self.dfa.is_dead(w.sid) {
                    self.restart(w, out);
                } else if self.dfa.is_match(w.sid) {
                    let pid = self.dfa.match_pattern(w.sid, 0);
                    w.pending = Some(Hit {
                        phrase: self.ids[pid.as_usize()],
                        start: w.at - self.dfa.pattern_len(pid),
                        end: w.at,
                    });
                }
            }
            true
        } else if w.pending.is_some() {
            self.restart(w, out);
            true
        } else {
            false
        }
    }

    /// The leftmost-longest match is final: report it and search again from its end (as
    /// the crate's iterator does).
    #[inline(always)]
    fn restart(&self, w: &mut Walk<'_>, out: &mut Vec<Hit>) {
        if let Some(m) = w.pending.take() {
            out.push(m);
            w.at = m.end;
        }
        w.sid = self.start;
    }

    /// Every match in `hay`, in order.
    pub fn find_all(&self, hay: &[u8], out: &mut Vec<Hit>) {
        let mut w = self.walk(hay);
        while self.step(&mut w, out) {}
    }

    /// Every match in each of `texts`, walking [`LANES`] texts at a time: each lane takes
    /// the next text when its own is done, so every chain stays busy whatever the lengths.
    pub fn find_many(&self, texts: &[&[u8]]) -> Vec<Vec<Hit>> {
        self.find_lanes::<LANES>(texts)
    }

    fn find_lanes<const N: usize>(&self, texts: &[&[u8]]) -> Vec<Vec<Hit>> {
        let mut out: Vec<Vec<Hit>> = vec![Vec::new(); texts.len()];
        if texts.len() < N {
            for (t, o) in texts.iter().zip(&mut out) {
                self.find_all(t, o);
            }
            return out;
        }
        let mut ids: [usize; N] = std::array::from_fn(|k| k);
        let mut walks: [Walk<'_>; N] = std::array::from_fn(|k| self.walk(texts[k]));
        let mut hits: [Vec<Hit>; N] = std::array::from_fn(|_| Vec::new());
        let mut next = N;
        // Lanes with no text left to take once theirs was done.
        let mut idle = [false; N];
        loop {
            let mut more = [true; N];
            while !more.contains(&false) {
                for k in 0..N {
                    more[k] = self.step(&mut walks[k], &mut hits[k]);
                }
            }
            for k in (0..N).filter(|&k| !more[k]) {
                out[ids[k]] = std::mem::take(&mut hits[k]);
                if next < texts.len() {
                    ids[k] = next;
                    walks[k] = self.walk(texts[next]);
                    next += 1;
                } else {
                    idle[k] = true;
                }
            }
            if idle.contains(&true) {
                break;
            }
        }
        // The texts still being walked finish alone.
        for k in (0..N).filter(|&k| !idle[k]) {
            while self.step(&mut walks[k], &mut hits[k]) {}
            out[ids[k]] = std::mem::take(&mut hits[k]);
        }
        out
    }
}

/// Texts walked at once by [`PhraseDfa::find_many`] (see the module's comment).
const LANES: usize = 3;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_matches_as_the_crates_iterator_one_text_or_many() {
        let phrases = [
            "scam",
            "scammer",
            "scammed",
            "hack",
            "hacked",
            "account",
            "not",
            "诈骗",
            "被盗",
            "冒充客服",
            "客服",
            "cash app",
        ];
        let ids: Vec<usize> = (0..phrases.len()).map(|i| i * 10).collect();
        let ours = PhraseDfa::new(&phrases, ids.clone()).unwrap();
        let theirs = aho_corasick::AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(true)
            .build(phrases)
            .unwrap();
        let texts = [
            "I was SCAMMED by a scammer on Cash App; my account was hacked.",
            "有人冒充客服，说我的账户被盗，这是诈骗。客服不理。",
            "scam",
            "",
            "no phrase here at all",
            "accountaccount scamscammer hackhacked cash appcash app",
        ];
        let want = |t: &str| -> Vec<Hit> {
            theirs
                .find_iter(t)
                .map(|m| Hit {
                    phrase: ids[m.pattern().as_usize()],
                    start: m.start(),
                    end: m.end(),
                })
                .collect()
        };
        for a in texts {
            let mut got = Vec::new();
            ours.find_all(a.as_bytes(), &mut got);
            assert_eq!(got, want(a), "{a:?}");
        }
        // All lanes, texts of every length in every order.
        for rotate in 0..texts.len() {
            let mut order: Vec<&str> = texts.to_vec();
            order.rotate_left(rotate);
            order.extend(texts.iter().rev());
            let bytes: Vec<&[u8]> = order.iter().map(|t| t.as_bytes()).collect();
            let got = ours.find_many(&bytes);
            assert_eq!(got.len(), order.len());
            for (t, g) in order.iter().zip(&got) {
                assert_eq!(*g, want(t), "{t:?} in {order:?}");
            }
        }
        assert!(ours.find_many(&[]).is_empty());
    }

    /// Every phrase of the shipped lexicons (a wildcard's `*` dropped, as the rules do).
    fn shipped_phrases() -> Vec<String> {
        let mut out = Vec::new();
        for entry in std::fs::read_dir("models/rules").unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_none_or(|x| x != "toml") {
                continue; // the Traditional table and its licence
            }
            let table: toml::Table = std::fs::read_to_string(&path).unwrap().parse().unwrap();
            for term in table
                .get("terms")
                .and_then(|t| t.as_array())
                .into_iter()
                .flatten()
            {
                for p in term["phrases"].as_array().unwrap() {
                    out.push(p.as_str().unwrap().trim_end_matches('*').to_string());
                }
            }
        }
        out.sort();
        out.dedup();
        out
    }

    #[test]
    fn the_walk_finds_the_crates_matches_on_real_complaints() {
        // The walk, one text or several at a time, against the crate's own iterator, with the
        // shipped phrases, on the bundled real complaints (English CFPB narratives and
        // Chinese complaints), upper-cased copies included.
        let phrases = shipped_phrases();
        assert!(phrases.len() > 300, "{} phrases", phrases.len());
        let refs: Vec<&str> = phrases.iter().map(String::as_str).collect();
        let ours = PhraseDfa::new(&refs, (0..refs.len()).collect()).unwrap();
        let theirs = aho_corasick::AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(true)
            .build(&refs)
            .unwrap();
        let mut texts: Vec<String> = Vec::new();
        let mut rdr = csv::Reader::from_path("data/sample/cfpb_sample.csv").unwrap();
        let col = rdr
            .headers()
            .unwrap()
            .iter()
            .position(|h| h == "Consumer complaint narrative")
            .unwrap();
        for rec in rdr.records() {
            texts.push(rec.unwrap()[col].to_string());
        }
        for line in std::fs::read_to_string("data/sample/zh_complaints.ndjson")
            .unwrap()
            .lines()
        {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            texts.extend(
                v.as_object()
                    .unwrap()
                    .values()
                    .filter_map(|x| x.as_str())
                    .map(String::from),
            );
        }
        let upper: Vec<String> = texts.iter().map(|t| t.to_uppercase()).collect();
        texts.extend(upper);
        let mut total = 0;
        let bytes: Vec<&[u8]> = texts.iter().map(|t| t.as_bytes()).collect();
        let many = ours.find_many(&bytes);
        for (t, got_many) in texts.iter().zip(&many) {
            let want: Vec<Hit> = theirs
                .find_iter(t.as_str())
                .map(|m| Hit {
                    phrase: m.pattern().as_usize(),
                    start: m.start(),
                    end: m.end(),
                })
                .collect();
            let mut got = Vec::new();
            ours.find_all(t.as_bytes(), &mut got);
            assert_eq!(got, want, "{t}");
            assert_eq!(*got_many, want, "{t}");
            total += want.len();
        }
        assert!(
            total > 1000,
            "only {total} matches: the texts were not read"
        );
    }
}

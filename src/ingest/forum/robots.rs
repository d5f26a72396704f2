//! robots.txt (RFC 9309): the group for our product token (`walletwatch`) or else `*`,
//! `Allow`/`Disallow` with `*` and `$`, the longest match deciding (`Allow` on a tie), and
//! `Crawl-delay` (not in the RFC, but widely written; honoured when it asks for slower).

use std::time::Duration;

/// The rules of one host that apply to walletwatch.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Robots {
    /// (allow, pattern) pairs.
    rules: Vec<(bool, String)>,
    /// `Crawl-delay` of the group, when given.
    pub crawl_delay: Option<Duration>,
    /// Everything is disallowed (robots.txt could not be fetched: a 5xx or network error).
    disallow_all: bool,
}

impl Robots {
    /// Rules that allow everything (robots.txt answered 4xx: there are none).
    pub fn allow_all() -> Self {
        Self::default()
    }

    /// Rules that allow nothing (robots.txt was unreachable, RFC 9309 §2.3.1.4).
    pub fn disallow_all() -> Self {
        Self {
            disallow_all: true,
            ..Self::default()
        }
    }

    /// Parses robots.txt for the product token `agent` (lower case).
    pub fn parse(text: &str, agent: &str) -> Self {
        // Groups: consecutive user-agent lines, then their rules.
        struct Group {
            agents: Vec<String>,
            rules: Vec<(bool, String)>,
            delay: Option<Duration>,
        }
        let mut groups: Vec<Group> = Vec::new();
        let mut in_agents = false;
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("").trim();
            let Some((key, value)) = line.split_once(':') else {
                continue;
            };
            let key = key.trim().to_ascii_lowercase();
            let value = value.trim();
            match key.as_str() {
                "user-agent" => {
                    if !in_agents {
                        groups.push(Group {
                            agents: Vec::new(),
                            rules: Vec::new(),
                            delay: None,
                        });
                        in_agents = true;
                    }
                    let g = groups.last_mut().expect("a group was just pushed");
                    g.agents.push(value.to_ascii_lowercase());
                }
                "allow" | "disallow" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut()
                        && !value.is_empty()
                    {
                        g.rules.push((key == "allow", value.to_string()));
                    }
                }
                "crawl-delay" => {
                    in_agents = false;
                    if let Some(g) = groups.last_mut()
                        && let Ok(s) = value.parse::<f64>()
                        && s.is_finite()
                        && s >= 0.0
                    {
                        g.delay = Some(Duration::from_secs_f64(s.min(600.0)));
                    }
                }
                _ => {}
            }
        }
        // Our token's groups (merged, as RFC 9309 says), else the `*` groups.
        let ours: Vec<&Group> = groups
            .iter()
            .filter(|g| g.agents.iter().any(|a| a == agent))
            .collect();
        let chosen = if ours.is_empty() {
            groups
                .iter()
                .filter(|g| g.agents.iter().any(|a| a == "*"))
                .collect()
        } else {
            ours
        };
        Self {
            rules: chosen
                .iter()
                .flat_map(|g| g.rules.iter().cloned())
                .collect(),
            crawl_delay: chosen.iter().filter_map(|g| g.delay).max(),
            disallow_all: false,
        }
    }

    /// Whether `path` (the URL's path and query) may be fetched.
    pub fn allowed(&self, path: &str) -> bool {
        if self.disallow_all {
            return path == "/robots.txt";
        }
        let mut best: Option<(usize, bool)> = None;
        for (allow, pattern) in &self.rules {
            if matches(pattern, path) {
                let len = pattern.len();
                best = match best {
                    Some((l, a)) if l > len || (l == len && a) => Some((l, a)),
                    _ => Some((len, *allow)),
                };
            }
        }
        best.is_none_or(|(_, allow)| allow)
    }
}

/// Whether a robots.txt pattern (`*` any run, `$` end) matches the start of `path`.
fn matches(pattern: &str, path: &str) -> bool {
    let (pattern, anchored) = match pattern.strip_suffix('$') {
        Some(p) => (p, true),
        None => (pattern, false),
    };
    let p = pattern.as_bytes();
    let s = path.as_bytes();
    // Backtracking glob over bytes; patterns are short.
    fn go(p: &[u8], s: &[u8], anchored: bool) -> bool {
        match p.split_first() {
            None => !anchored || s.is_empty(),
            Some((b'*', rest)) => (0..=s.len()).any(|i| go(rest, &s[i..], anchored)),
            Some((c, rest)) => s.first() == Some(c) && go(rest, &s[1..], anchored),
        }
    }
    go(p, s, anchored)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn longest_match_decides_and_allow_wins_ties() {
        let r = Robots::parse(
            "User-agent: *\nDisallow: /complaint/closed/\nAllow: /complaint/closed/open-\nDisallow: /*.pdf$\n",
            "walletwatch",
        );
        assert!(r.allowed("/complaint/view/1"));
        assert!(!r.allowed("/complaint/closed/2"));
        assert!(r.allowed("/complaint/closed/open-3"));
        assert!(!r.allowed("/files/a.pdf"));
        assert!(r.allowed("/files/a.pdf?x=1"));
        let tie = Robots::parse("User-agent: *\nDisallow: /a\nAllow: /a\n", "walletwatch");
        assert!(tie.allowed("/a"));
    }

    #[test]
    fn our_group_wins_over_the_star_group() {
        let text = "User-agent: *\nDisallow: /\n\nUser-agent: WalletWatch\nUser-agent: other\nDisallow: /private\nCrawl-delay: 2\n";
        let r = Robots::parse(text, "walletwatch");
        assert!(r.allowed("/complaint/view/1"));
        assert!(!r.allowed("/private/x"));
        assert_eq!(r.crawl_delay, Some(Duration::from_secs(2)));
        let someone_else = Robots::parse(text, "scrapy");
        assert!(!someone_else.allowed("/complaint/view/1"));
    }

    #[test]
    fn empty_disallow_and_comments_allow_everything() {
        let r = Robots::parse("# hi\nUser-agent: * # all\nDisallow:\n", "walletwatch");
        assert!(r.allowed("/anything"));
        assert!(!Robots::disallow_all().allowed("/anything"));
    }
}

//! Provider ratings (DESIGN.md, docs/rating-method.md): severity- and recency-weighted
//! complaint burden per million users where the user base is known, the provider's
//! response (timely, relief, resolved), Bayesian shrinkage of small samples toward the
//! population, an interval and n beside every score, NR below a minimum, and drivers in
//! plain words. Settings are data: `data/rating.toml`.

use std::collections::{BTreeMap, HashMap};
use std::path::Path;

use chrono::NaiveDate;
use polars::prelude::*;
use serde::{Deserialize, Serialize};

use crate::classify::Category;
use crate::classify::table::join_classification;
use crate::normalise::providers::Providers;
use crate::store::{Store, StoreError};

/// `[settings]` of data/rating.toml.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Weight halves every this many days before the newest complaint.
    pub half_life_days: f64,
    /// Virtual complaints at the population's rates.
    pub prior_strength: f64,
    /// Fewer complaints: not rated.
    pub min_complaints: usize,
    /// Rating window before the newest complaint.
    pub window_days: i64,
    /// Trend period length.
    pub trend_days: i64,
    /// Weight of the burden part (where users are known).
    pub weight_burden: f64,
    /// Weight of the response part.
    pub weight_response: f64,
    /// Response: weight of the timely share.
    pub weight_timely: f64,
    /// Response: weight of the relief share.
    pub weight_relief: f64,
    /// Response: weight of the resolved share.
    pub weight_resolved: f64,
    /// Burden part = 100·exp(−rate/scale).
    pub burden_scale: f64,
    /// (grade, lower bound), best first.
    pub grades: Vec<(String, f64)>,
}

/// The whole rating file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RatingConfig {
    /// Severity weight per category id.
    pub severity: HashMap<String, f64>,
    /// Everything else.
    pub settings: Settings,
}

impl RatingConfig {
    /// Loads and checks data/rating.toml.
    pub fn load(path: &Path) -> anyhow::Result<Self> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
        let c: RatingConfig = toml::from_str(&text)
            .map_err(|e| anyhow::anyhow!("{}: {}", path.display(), e.to_string().trim()))?;
        for cat in Category::ALL {
            if !c.severity.contains_key(cat.id()) {
                anyhow::bail!(
                    "{}: [severity] has no weight for {}",
                    path.display(),
                    cat.id()
                );
            }
        }
        c.check()
            .map_err(|m| anyhow::anyhow!("{}: {m}", path.display()))?;
        Ok(c)
    }

    /// Settings a rating cannot mean anything with: what is wrong, in the file's terms.
    fn check(&self) -> Result<(), String> {
        let mut keys: Vec<&String> = self.severity.keys().collect();
        keys.sort();
        for k in keys {
            if !Category::ALL.iter().any(|c| c.id() == k) {
                return Err(format!(
                    "[severity] {k:?} is no category (use {})",
                    Category::ALL.map(|c| c.id()).join(", ")
                ));
            }
            let w = self.severity[k];
            if !(w.is_finite() && w > 0.0) {
                return Err(format!("[severity] {k} must be a positive weight, got {w}"));
            }
        }
        let s = &self.settings;
        let positive = [
            ("half_life_days", s.half_life_days),
            ("burden_scale", s.burden_scale),
        ];
        for (name, v) in positive {
            if !(v.is_finite() && v > 0.0) {
                return Err(format!("[settings] {name} must be positive, got {v}"));
            }
        }
        let weights = [
            ("prior_strength", s.prior_strength),
            ("weight_burden", s.weight_burden),
            ("weight_response", s.weight_response),
            ("weight_timely", s.weight_timely),
            ("weight_relief", s.weight_relief),
            ("weight_resolved", s.weight_resolved),
        ];
        for (name, v) in weights {
            if !(v.is_finite() && v >= 0.0) {
                return Err(format!("[settings] {name} must be 0 or more, got {v}"));
            }
        }
        if s.weight_response <= 0.0 {
            return Err("[settings] weight_response must be above 0: every provider is rated on its responses".into());
        }
        if s.weight_timely + s.weight_relief + s.weight_resolved <= 0.0 {
            return Err(
                "[settings] weight_timely, weight_relief and weight_resolved cannot all be 0"
                    .into(),
            );
        }
        if s.min_complaints < 1 || s.window_days < 1 || s.trend_days < 1 {
            return Err(format!(
                "[settings] min_complaints, window_days and trend_days must be at least 1, got {}, {} and {}",
                s.min_complaints, s.window_days, s.trend_days
            ));
        }
        if s.trend_days * 2 > s.window_days {
            return Err(format!(
                "[settings] trend_days ({}) compares two periods, which must fit in window_days ({})",
                s.trend_days, s.window_days
            ));
        }
        let bounds: Vec<f64> = s.grades.iter().map(|g| g.1).collect();
        if bounds.is_empty()
            || bounds.iter().any(|b| !(0.0..=100.0).contains(b))
            || bounds.windows(2).any(|w| w[0] <= w[1])
        {
            return Err(format!(
                "[settings] grades must list lower bounds between 0 and 100, best grade first, each below the one before: got {:?}",
                s.grades
            ));
        }
        Ok(())
    }

    fn severity_of(&self, cats: &[Category]) -> f64 {
        cats.iter()
            .filter_map(|c| self.severity.get(c.id()))
            .copied()
            .fold(f64::NAN, f64::max)
            .max(1.0)
    }
}

/// One complaint as the rating sees it.
#[derive(Debug, Clone)]
pub struct Case {
    /// Canonical provider.
    pub provider: String,
    /// Source partition (`cfpb`, `heimao`, …).
    pub source: String,
    /// Day received.
    pub received: NaiveDate,
    /// Categories.
    pub categories: Vec<Category>,
    /// Answered on time (`None`: the source does not say).
    pub timely: Option<bool>,
    /// Closed with monetary or non-monetary relief (`None`: unknown).
    pub relief: Option<bool>,
    /// Still unresolved: in progress, untimely, or a forum case not closed.
    pub unresolved: Option<bool>,
}

/// How a complaint's response fields read: (relief, unresolved).
pub fn response_outcome(
    company_response: Option<&str>,
    status: Option<&str>,
    timely: Option<bool>,
) -> (Option<bool>, Option<bool>) {
    if let Some(r) = company_response {
        let r = r.to_ascii_lowercase();
        let relief = r.contains("relief");
        let unresolved =
            r.contains("in progress") || r.contains("untimely") || timely == Some(false);
        return (Some(relief), Some(unresolved));
    }
    if let Some(s) = status {
        // 黑猫投诉 投诉进度: 已完成 / 已回复 / 处理中 / 待分配 …
        let done = s.contains("完成") || s.contains("已解决") || s.contains("已回复");
        return (None, Some(!done));
    }
    (None, None)
}

/// Reads every classified complaint with a provider and a date.
pub fn read_cases(store: &Store) -> anyhow::Result<Vec<Case>> {
    let mut out = Vec::new();
    for part in store.complaint_files()? {
        let p = part.display().to_string();
        let source = crate::store::source_of(&part);
        let lf = LazyFrame::scan_parquet(PlRefPath::new(p.as_str()), ScanArgsParquet::default())?
            .select([
                col("complaint_id"),
                col("provider"),
                col("received_at"),
                col("company_response"),
                col("timely"),
                col("status"),
            ]);
        let Some(lf) = join_classification(store, &part, lf, &["categories"])? else {
            anyhow::bail!("{p}: not classified yet: run `walletwatch classify` before `score`");
        };
        let df = lf.collect().map_err(|source| StoreError::Polars {
            path: p.clone(),
            source,
        })?;
        let prov = df.column("provider")?.str()?;
        let dates = df.column("received_at")?.date()?.physical().clone();
        let resp = df.column("company_response")?.str()?;
        let timely = df.column("timely")?.bool()?;
        let status = df.column("status")?.str()?;
        let cats = df.column("categories")?;
        for i in 0..df.height() {
            let (Some(provider), Some(d)) = (prov.get(i), dates.get(i)) else {
                continue;
            };
            let categories = match cats.get(i)? {
                AnyValue::List(s) => s
                    .str()
                    .map(|ca| ca.iter().flatten().filter_map(Category::parse).collect())
                    .unwrap_or_default(),
                _ => Vec::new(),
            };
            let t = timely.get(i);
            let (relief, unresolved) = response_outcome(resp.get(i), status.get(i), t);
            out.push(Case {
                provider: provider.to_string(),
                source: source.clone(),
                received: crate::schema::from_polars_day(d),
                categories,
                timely: t,
                relief,
                unresolved,
            });
        }
    }
    Ok(out)
}

/// A share with its shrunk estimate and interval.
#[derive(Debug, Clone, Copy, Serialize, PartialEq)]
pub struct Share {
    /// Cases where the outcome is known.
    pub n: f64,
    /// Raw share (NaN without cases).
    pub raw: f64,
    /// Shrunk toward the population: (x + k·μ)/(n + k).
    pub shrunk: f64,
    /// 90% interval of the shrunk share (normal approximation to the Beta posterior).
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

fn share(x: f64, n: f64, population: f64, k: f64) -> Share {
    let shrunk = (x + k * population) / (n + k);
    let half = 1.645 * (shrunk * (1.0 - shrunk) / (n + k + 1.0)).sqrt();
    Share {
        n,
        raw: if n > 0.0 { x / n } else { f64::NAN },
        shrunk,
        low: (shrunk - half).max(0.0),
        high: (shrunk + half).min(1.0),
    }
}

/// One provider's rating.
#[derive(Debug, Clone, Serialize)]
pub struct Rating {
    /// Canonical id.
    pub provider: String,
    /// Display name.
    pub name: String,
    /// Complaints in the window.
    pub n: usize,
    /// 0–100, higher is better.
    pub score: f64,
    /// 90% interval of the score.
    pub low: f64,
    /// Upper end.
    pub high: f64,
    /// A–F, or NR (not rated) below the minimum.
    pub grade: String,
    /// Severity- and recency-weighted complaints in the window.
    pub weighted_complaints: f64,
    /// Weighted complaints per million users per year, where users are known.
    pub rate_per_million: Option<f64>,
    /// User base (millions), when known.
    pub users_millions: Option<f64>,
    /// Timely share.
    pub timely: Share,
    /// Relief share.
    pub relief: Share,
    /// Resolved share.
    pub resolved: Share,
    /// Plain-word reasons.
    pub drivers: Vec<String>,
}

fn part_score(cfg: &Settings, timely: f64, relief: f64, resolved: f64, burden: Option<f64>) -> f64 {
    let response = 100.0
        * (cfg.weight_timely * timely
            + cfg.weight_relief * relief
            + cfg.weight_resolved * resolved)
        / (cfg.weight_timely + cfg.weight_relief + cfg.weight_resolved);
    match burden {
        Some(b) => {
            (cfg.weight_burden * b + cfg.weight_response * response)
                / (cfg.weight_burden + cfg.weight_response)
        }
        None => response,
    }
}

/// (cases where `outcome` is true, cases where it is known).
fn tally(cases: &[&Case], outcome: &dyn Fn(&Case) -> Option<bool>) -> (f64, f64) {
    let known: Vec<bool> = cases.iter().filter_map(|c| outcome(c)).collect();
    (
        known.iter().filter(|&&b| b).count() as f64,
        known.len() as f64,
    )
}

/// Rates every provider with complaints. Sorted best first (NR last), ties by id.
pub fn rate(cases: &[Case], providers: &Providers, config: &RatingConfig) -> Vec<Rating> {
    let cfg = &config.settings;
    let Some(newest) = cases.iter().map(|c| c.received).max() else {
        return Vec::new();
    };
    let from = newest - chrono::Duration::days(cfg.window_days - 1);
    let in_window: Vec<&Case> = cases.iter().filter(|c| c.received >= from).collect();
    let years = cfg.window_days as f64 / 365.25;
    // Population rates: the prior every provider is shrunk toward.
    let pop = |f: &dyn Fn(&Case) -> Option<bool>| match tally(&in_window, f) {
        (_, 0.0) => 0.5,
        (x, n) => x / n,
    };
    let pop_timely = pop(&|c| c.timely);
    let pop_relief = pop(&|c| c.relief);
    let pop_resolved = pop(&|c| c.unresolved.map(|u| !u));
    let mut by: BTreeMap<&str, Vec<&Case>> = BTreeMap::new();
    for c in &in_window {
        by.entry(c.provider.as_str()).or_default().push(c);
    }
    let k = cfg.prior_strength;
    let mut out: Vec<Rating> = by
        .into_iter()
        .map(|(id, cs)| {
            let entry = providers.get(id);
            let (tx, tn) = tally(&cs, &|c| c.timely);
            let (rx, rn) = tally(&cs, &|c| c.relief);
            let (sx, sn) = tally(&cs, &|c| c.unresolved.map(|u| !u));
            let timely = share(tx, tn, pop_timely, k);
            let relief = share(rx, rn, pop_relief, k);
            let resolved = share(sx, sn, pop_resolved, k);
            let weighted: f64 = cs
                .iter()
                .map(|c| {
                    let age = (newest - c.received).num_days() as f64;
                    config.severity_of(&c.categories) * 0.5f64.powf(age / cfg.half_life_days)
                })
                .sum();
            let users = entry.and_then(|e| e.users_millions).filter(|u| *u > 0.0);
            let rate = users.map(|u| weighted / u / years);
            let burden = rate.map(|r| 100.0 * (-r / cfg.burden_scale).exp());
            let score = part_score(cfg, timely.shrunk, relief.shrunk, resolved.shrunk, burden);
            let low = part_score(cfg, timely.low, relief.low, resolved.low, burden);
            let high = part_score(cfg, timely.high, relief.high, resolved.high, burden);
            let grade = if cs.len() < cfg.min_complaints {
                "NR".to_string()
            } else {
                cfg.grades
                    .iter()
                    .find(|(_, b)| score >= *b)
                    .map_or_else(|| "F".to_string(), |(g, _)| g.clone())
            };
            let drivers = drivers(&cs, newest, cfg, &timely, pop_timely, &relief, rate);
            Rating {
                provider: id.to_string(),
                name: entry.map_or_else(|| id.to_string(), |e| e.name.clone()),
                n: cs.len(),
                score: (score * 10.0).round() / 10.0,
                low: (low * 10.0).round() / 10.0,
                high: (high * 10.0).round() / 10.0,
                grade,
                weighted_complaints: (weighted * 10.0).round() / 10.0,
                rate_per_million: rate.map(|r| (r * 1000.0).round() / 1000.0),
                users_millions: users,
                timely,
                relief,
                resolved,
                drivers,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (a.grade == "NR")
            .cmp(&(b.grade == "NR"))
            .then(b.score.total_cmp(&a.score))
            .then_with(|| a.provider.cmp(&b.provider))
    });
    out
}

fn drivers(
    cs: &[&Case],
    newest: NaiveDate,
    cfg: &Settings,
    timely: &Share,
    pop_timely: f64,
    relief: &Share,
    rate: Option<f64>,
) -> Vec<String> {
    let mut out = Vec::new();
    // Trend: the category that moved most between the last two periods.
    let last_from = newest - chrono::Duration::days(cfg.trend_days - 1);
    let prev_from = last_from - chrono::Duration::days(cfg.trend_days);
    let mut moves: Vec<(f64, String)> = Vec::new();
    for cat in Category::LABELS {
        let n_in = |from: NaiveDate, to: NaiveDate| {
            cs.iter()
                .filter(|c| c.received >= from && c.received < to && c.categories.contains(&cat))
                .count()
        };
        let last = n_in(last_from, newest + chrono::Duration::days(1));
        let prev = n_in(prev_from, last_from);
        if last.max(prev) >= 5 && prev > 0 {
            let change = (last as f64 - prev as f64) / prev as f64;
            moves.push((
                change,
                format!(
                    "{} complaints {} {:.0}% on the previous {} days ({prev} → {last})",
                    cat.id().replace('_', " "),
                    if change >= 0.0 { "up" } else { "down" },
                    change.abs() * 100.0,
                    cfg.trend_days
                ),
            ));
        }
    }
    moves.sort_by(|a, b| b.0.abs().total_cmp(&a.0.abs()));
    if let Some((_, m)) = moves.into_iter().next() {
        out.push(m);
    }
    if timely.n > 0.0 {
        out.push(format!(
            "{:.0}% answered on time (all providers: {:.0}%)",
            timely.raw * 100.0,
            pop_timely * 100.0
        ));
    }
    if relief.n > 0.0 {
        out.push(format!("{:.0}% closed with relief", relief.raw * 100.0));
    }
    // A rate exists exactly where the user base is known.
    out.push(match rate {
        Some(r) => format!("{r:.2} weighted complaints per million users a year"),
        None => "user base unknown: volume shown, not scored".to_string(),
    });
    out.truncate(3);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cases(provider: &str, n: usize, timely_every: usize, day0: NaiveDate) -> Vec<Case> {
        (0..n)
            .map(|i| Case {
                provider: provider.to_string(),
                source: "test".to_string(),
                received: day0 + chrono::Duration::days((i * 7 % 700) as i64),
                categories: vec![if i % 3 == 0 {
                    Category::Fraud
                } else {
                    Category::Service
                }],
                timely: Some(i % timely_every != 0 || timely_every == 1),
                relief: Some(i % 4 == 0),
                unresolved: Some(false),
            })
            .collect()
    }

    fn config() -> RatingConfig {
        RatingConfig::load(&crate::cli::data_dir().join("rating.toml")).expect("rating.toml")
    }

    #[test]
    fn settings_that_cannot_mean_anything_are_refused_naming_the_setting() {
        let shipped = std::fs::read_to_string(crate::cli::data_dir().join("rating.toml"))
            .expect("rating.toml");
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("rating.toml");
        for (from, to, want) in [
            (
                "half_life_days = 365",
                "half_life_days = -5",
                "half_life_days must be positive",
            ),
            (
                "fraud = 3.0",
                "fraud = -3.0",
                "[severity] fraud must be a positive weight",
            ),
            (
                "fraud = 3.0",
                "fraud = 3.0\nfruad = 3.0",
                "[severity] \"fruad\" is no category",
            ),
            (
                "weight_relief = 0.3",
                "weight_relief = -0.3",
                "weight_relief must be 0 or more",
            ),
            (
                "window_days = 1095",
                "window_days = 0",
                "window_days and trend_days must be at least 1",
            ),
            (
                "window_days = 1095",
                "window_days = 100",
                "trend_days (91) compares two periods",
            ),
            ("[\"B\", 70.0]", "[\"B\", 95.0]", "best grade first"),
        ] {
            assert!(shipped.contains(from), "{from}");
            std::fs::write(&path, shipped.replacen(from, to, 1)).expect("write");
            let err = RatingConfig::load(&path).expect_err(to).to_string();
            assert!(
                err.contains(want) && err.contains("rating.toml"),
                "{to}: {err}"
            );
        }
        std::fs::write(&path, &shipped).expect("write");
        RatingConfig::load(&path).expect("the shipped settings pass");
    }

    fn providers(extra: &str) -> Providers {
        Providers::parse(
            &format!(
                "[[provider]]\nid = \"big\"\nname = \"Big\"\naliases = [\"Big\"]\nusers_millions = 10\n\
                 [[provider]]\nid = \"same\"\nname = \"Same\"\naliases = [\"Same\"]\n{extra}\n\
                 [[provider]]\nid = \"late\"\nname = \"Late\"\naliases = [\"Late\"]\n\
                 [[provider]]\nid = \"tiny\"\nname = \"Tiny\"\naliases = [\"Tiny\"]\n"
            ),
            "test",
        )
        .expect("providers")
    }

    #[test]
    fn small_samples_shrink_with_wide_intervals_and_are_not_rated() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
        let mut all = cases("big", 400, 5, d);
        let mut tiny = cases("tiny", 3, 1, d);
        for c in &mut tiny {
            c.timely = Some(false);
        }
        all.extend(tiny);
        let r = rate(&all, &providers(""), &config());
        let t = r.iter().find(|r| r.provider == "tiny").expect("tiny");
        let b = r.iter().find(|r| r.provider == "big").expect("big");
        assert_eq!(t.grade, "NR");
        assert_eq!(t.timely.raw, 0.0);
        assert!(
            t.timely.shrunk > 0.5,
            "3 untimely answers shrink toward the 80% population: {:?}",
            t.timely
        );
        assert!(
            t.high - t.low > 3.0 * (b.high - b.low),
            "tiny {:?} vs big {:?}",
            (t.low, t.high),
            (b.low, b.high)
        );
        assert_ne!(b.grade, "NR");
    }

    #[test]
    fn doubling_users_halves_the_rate_and_timeliness_pays() {
        let d = NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
        let mut all = cases("same", 200, 1, d);
        all.extend(cases("late", 200, 2, d));
        let r1 = rate(&all, &providers("users_millions = 20"), &config());
        let r2 = rate(&all, &providers("users_millions = 40"), &config());
        let rate_of = |r: &[Rating]| {
            r.iter()
                .find(|r| r.provider == "same")
                .and_then(|r| r.rate_per_million)
                .expect("rate")
        };
        assert!(
            (rate_of(&r1) / rate_of(&r2) - 2.0).abs() < 0.01,
            "{} vs {}",
            rate_of(&r1),
            rate_of(&r2)
        );
        let r = rate(&all, &providers(""), &config());
        let score = |id: &str| r.iter().find(|x| x.provider == id).expect("rated").score;
        assert!(
            score("same") > score("late"),
            "on time {} vs late {}",
            score("same"),
            score("late")
        );
        let again = rate(&all, &providers(""), &config());
        assert_eq!(
            r.iter().map(|x| &x.provider).collect::<Vec<_>>(),
            again.iter().map(|x| &x.provider).collect::<Vec<_>>()
        );
    }
}

//! Spikes: weekly complaint counts per provider × category, each week tested against the
//! same series' own trailing baseline with a negative-binomial upper-tail test
//! (quasi-Poisson, in the spirit of Farrington/Noufaily; the method is in docs/detect.md).
//!
//! For week t the baseline is weeks t−B−g … t−1−g (B = 12 baseline weeks, g = 1 guard week
//! so a wave that builds over two weeks does not hide in its own baseline). With baseline
//! mean μ and variance s², the dispersion is φ = max(1, s²/μ); the predictive variance
//! adds the uncertainty of μ itself: V = φ·μ·(1 + 1/B). The observed count x is a spike
//! when P(X ≥ x) < α under the negative binomial with mean μ and variance V, x ≥ 5
//! (small counts never alarm) and the baseline has at least 8 weeks.

use chrono::{Datelike, NaiveDate};

/// Settings of the spike test.
#[derive(Debug, Clone, Copy)]
pub struct SpikeOptions {
    /// Weeks in the baseline.
    pub baseline_weeks: usize,
    /// Weeks between the baseline and the tested week.
    pub guard_weeks: usize,
    /// Fewest baseline weeks (series younger than this are not tested).
    pub min_baseline_weeks: usize,
    /// Significance level of the one-sided test.
    pub alpha: f64,
    /// Fewest complaints in a week for it to be a spike.
    pub min_count: u32,
}

impl Default for SpikeOptions {
    fn default() -> Self {
        Self {
            baseline_weeks: 12,
            guard_weeks: 1,
            min_baseline_weeks: 8,
            alpha: 1e-4,
            min_count: 5,
        }
    }
}

/// One flagged week.
#[derive(Debug, Clone, PartialEq)]
pub struct Spike {
    /// Index of the series (caller's numbering).
    pub series: usize,
    /// Monday of the week.
    pub week_start: NaiveDate,
    /// Complaints that week.
    pub observed: u32,
    /// Baseline mean.
    pub expected: f64,
    /// Baseline dispersion φ.
    pub dispersion: f64,
    /// Weeks the baseline had.
    pub baseline_weeks: usize,
    /// P(X ≥ observed) under the baseline.
    pub p_value: f64,
}

/// The Monday of `d`'s ISO week.
pub fn week_of(d: NaiveDate) -> NaiveDate {
    d - chrono::Duration::days(i64::from(d.weekday().num_days_from_monday()))
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; ~15 significant digits).
pub fn ln_gamma(x: f64) -> f64 {
    const G: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = G[0];
    let t = x + 7.5;
    for (i, g) in G.iter().enumerate().skip(1) {
        a += g / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// The count distributions of the test.
enum Dist {
    /// NB(r, p): mean r(1−p)/p.
    NegBinomial { r: f64, p: f64 },
    /// Poisson(mean).
    Poisson { mean: f64 },
}

impl Dist {
    /// ln P(X = k).
    fn log_pmf(&self, k: f64) -> f64 {
        match *self {
            Dist::NegBinomial { r, p } => {
                ln_gamma(k + r) - ln_gamma(r) - ln_gamma(k + 1.0) + r * p.ln() + k * (1.0 - p).ln()
            }
            Dist::Poisson { mean } => k * mean.ln() - mean - ln_gamma(k + 1.0),
        }
    }

    /// P(X = k + 1) / P(X = k).
    fn ratio(&self, k: f64) -> f64 {
        match *self {
            Dist::NegBinomial { r, p } => (k + r) / (k + 1.0) * (1.0 - p),
            Dist::Poisson { mean } => mean / (k + 1.0),
        }
    }
}

/// P(X ≥ x) for X negative binomial with mean `mean` and variance `var` (> mean), or
/// Poisson when `var` ≤ `mean`.
pub fn upper_tail(x: u32, mean: f64, var: f64) -> f64 {
    if x == 0 {
        return 1.0;
    }
    let mean = mean.max(1e-9);
    let dist = if var > mean * (1.0 + 1e-9) {
        let r = mean * mean / (var - mean);
        Dist::NegBinomial {
            r,
            p: r / (r + mean),
        }
    } else {
        Dist::Poisson { mean }
    };
    let (log_pmf, ratio) = (|k| dist.log_pmf(k), |k| dist.ratio(k));
    let x = f64::from(x);
    if x <= mean {
        // The lower sum is well away from 1 here: 1 − CDF(x − 1) loses nothing.
        let mut term = log_pmf(0.0).exp();
        let mut cdf = 0.0;
        let mut k = 0.0;
        while k < x {
            cdf += term;
            term *= ratio(k);
            k += 1.0;
        }
        return (1.0 - cdf).clamp(0.0, 1.0);
    }
    // Above the mean the terms fall: sum the tail directly (no cancellation).
    let mut term = log_pmf(x).exp();
    let mut sum = 0.0;
    let mut k = x;
    while term > sum * 1e-15 && k < x + 1e6 {
        sum += term;
        term *= ratio(k);
        k += 1.0;
    }
    sum.min(1.0)
}

/// Tests every week of every series. `series[s]` holds weekly counts from `first_week`
/// on, one entry per week, zeros included.
pub fn detect(series: &[Vec<u32>], first_week: NaiveDate, opts: &SpikeOptions) -> Vec<Spike> {
    let mut out = Vec::new();
    for (s, counts) in series.iter().enumerate() {
        for t in 0..counts.len() {
            let observed = counts[t];
            if observed < opts.min_count {
                continue;
            }
            let end = t.saturating_sub(opts.guard_weeks);
            let start = end.saturating_sub(opts.baseline_weeks);
            let base = &counts[start..end];
            if base.len() < opts.min_baseline_weeks {
                continue;
            }
            let n = base.len() as f64;
            let mean = base.iter().map(|&c| f64::from(c)).sum::<f64>() / n;
            let var = base
                .iter()
                .map(|&c| (f64::from(c) - mean).powi(2))
                .sum::<f64>()
                / (n - 1.0);
            // An all-zero baseline still has some uncertainty: half a complaint over B weeks.
            let mu = mean.max(0.5 / n);
            let dispersion = (var / mu).max(1.0);
            let predictive = dispersion * mu * (1.0 + 1.0 / n);
            let p = upper_tail(observed, mu, predictive);
            if p < opts.alpha {
                out.push(Spike {
                    series: s,
                    week_start: first_week + chrono::Duration::weeks(t as i64),
                    observed,
                    expected: mean,
                    dispersion,
                    baseline_weeks: base.len(),
                    p_value: p,
                });
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tails_match_known_values() {
        // Poisson(10): P(X >= 20) = 0.003454.
        assert!((upper_tail(20, 10.0, 10.0) - 0.003_454_3).abs() < 1e-6);
        // NB with mean 10, var 20 (r = 10, p = 0.5): P(X >= 20) = 0.0307142 (= nbinom.sf(19, 10, .5)).
        assert!(
            (upper_tail(20, 10.0, 20.0) - 0.030_714_2).abs() < 1e-6,
            "{}",
            upper_tail(20, 10.0, 20.0)
        );
        assert!((upper_tail(3, 10.0, 10.0) - 0.997_231).abs() < 1e-5);
        assert!(upper_tail(200, 10.0, 10.0) < 1e-100);
        assert!((ln_gamma(10.0) - 362_880f64.ln()).abs() < 1e-10);
    }

    #[test]
    fn a_tripled_week_is_a_spike_and_small_counts_never_are() {
        let mut s: Vec<u32> = [9, 11, 10, 12, 8, 10, 11, 9, 10, 12, 9, 11, 10, 10, 9, 11].to_vec();
        s.push(31);
        s.extend([10, 11]);
        let week0 = NaiveDate::from_ymd_opt(2024, 1, 1).expect("date");
        let spikes = detect(&[s.clone()], week0, &SpikeOptions::default());
        assert_eq!(spikes.len(), 1, "{spikes:?}");
        assert_eq!(spikes[0].week_start, week0 + chrono::Duration::weeks(16));
        assert_eq!(spikes[0].observed, 31);
        let small: Vec<u32> = vec![0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 4, 0];
        assert!(detect(&[small], week0, &SpikeOptions::default()).is_empty());
        assert_eq!(
            week_of(NaiveDate::from_ymd_opt(2024, 1, 7).expect("date")),
            week0
        );
    }
}

//! Trend charts with plotters, each written as PNG and SVG. Text is drawn with the CJK font
//! shipped in `models/fonts/` (WenQuanYi Micro Hei, GB2312 subset), registered with
//! plotters' ab_glyph backend, so Chinese labels render as glyphs on a machine with no
//! fonts installed.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use chrono::{Datelike, NaiveDate};
use plotters::coord::Shift;
use plotters::prelude::*;

use crate::classify::Category;
use crate::score::{Case, Rating};

/// The shipped CJK font.
pub const FONT_FILE: &str = "fonts/wqy-microhei-gb2312.ttf";

static FONT: OnceLock<&'static [u8]> = OnceLock::new();

/// Registers the shipped font as plotters' `sans-serif` (once); returns its bytes.
pub fn register_font(models: &Path) -> anyhow::Result<&'static [u8]> {
    if let Some(f) = FONT.get() {
        return Ok(f);
    }
    let path = models.join(FONT_FILE);
    let bytes = std::fs::read(&path).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let bytes: &'static [u8] = Box::leak(bytes.into_boxed_slice());
    plotters::style::register_font("sans-serif", FontStyle::Normal, bytes)
        .map_err(|_| anyhow::anyhow!("{}: not a usable TrueType font", path.display()))?;
    Ok(FONT.get_or_init(|| bytes))
}

const W: u32 = 960;
const H: u32 = 540;

const PALETTE: [RGBColor; 8] = [
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0xff, 0x7f, 0x0e),
    RGBColor(0x94, 0x67, 0xbd),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x8c, 0x56, 0x4b),
    RGBColor(0x7f, 0x7f, 0x7f),
    RGBColor(0x17, 0xbe, 0xcf),
];

type DrawResult<DB> = Result<(), DrawingAreaErrorKind<<DB as DrawingBackend>::ErrorType>>;

/// A spike chart's series: its name, weekly counts, and the flagged weeks.
type SpikeSeries = (String, Vec<(NaiveDate, u32)>, Vec<NaiveDate>);

/// Everything the charts show.
pub struct ChartData {
    /// Months shown, oldest first.
    months: Vec<NaiveDate>,
    /// Complaints per month per category (multi-label).
    by_category: Vec<(Category, Vec<u32>)>,
    /// Complaints per month for the top providers (display name).
    by_provider: Vec<(String, Vec<u32>)>,
    /// Complaints per month.
    totals: Vec<u32>,
    /// Complaints per month with the fraud category.
    fraud: Vec<u32>,
    /// Weekly counts of the series with the strongest spike, and the spike weeks.
    spike_series: Option<SpikeSeries>,
    /// Rated providers: name, score, low, high.
    ratings: Vec<(String, f64, f64, f64)>,
}

fn month_of(d: NaiveDate) -> NaiveDate {
    NaiveDate::from_ymd_opt(d.year(), d.month(), 1).expect("first of month")
}

impl ChartData {
    /// Builds the series: the last `max_months` months up to the newest complaint, the
    /// `top` providers by volume, the spikes from `detect` (provider, category, week).
    pub fn new(
        cases: &[Case],
        names: &HashMap<String, String>,
        ratings: &[Rating],
        spikes: &[(String, String, NaiveDate)],
        max_months: usize,
        top: usize,
    ) -> Self {
        let newest = cases.iter().map(|c| c.received).max();
        let mut months = Vec::new();
        if let Some(n) = newest {
            let oldest = cases
                .iter()
                .map(|c| c.received)
                .min()
                .map(month_of)
                .expect("non-empty");
            let mut m = month_of(n);
            while months.len() < max_months && m >= oldest {
                months.push(m);
                m = if m.month() == 1 {
                    NaiveDate::from_ymd_opt(m.year() - 1, 12, 1)
                } else {
                    NaiveDate::from_ymd_opt(m.year(), m.month() - 1, 1)
                }
                .expect("valid month");
            }
            months.reverse();
        }
        let index: HashMap<NaiveDate, usize> =
            months.iter().enumerate().map(|(i, m)| (*m, i)).collect();
        let mut by_cat: BTreeMap<Category, Vec<u32>> = BTreeMap::new();
        let mut by_prov: HashMap<&str, Vec<u32>> = HashMap::new();
        let mut totals = vec![0; months.len()];
        let mut fraud = vec![0; months.len()];
        for c in cases {
            let Some(&i) = index.get(&month_of(c.received)) else {
                continue;
            };
            totals[i] += 1;
            for cat in &c.categories {
                by_cat.entry(*cat).or_insert_with(|| vec![0; months.len()])[i] += 1;
            }
            if c.categories.contains(&Category::Fraud) {
                fraud[i] += 1;
            }
            by_prov
                .entry(&c.provider)
                .or_insert_with(|| vec![0; months.len()])[i] += 1;
        }
        let mut provs: Vec<(&str, Vec<u32>)> = by_prov.into_iter().collect();
        provs.sort_by(|a, b| {
            b.1.iter()
                .sum::<u32>()
                .cmp(&a.1.iter().sum())
                .then(a.0.cmp(b.0))
        });
        // The top providers overall, plus the largest of each source none of them comes
        // from (so a small Chinese forum source is not hidden behind CFPB's banks).
        let mut source_of: HashMap<&str, HashMap<&str, usize>> = HashMap::new();
        for c in cases {
            *source_of
                .entry(&c.source)
                .or_default()
                .entry(&c.provider)
                .or_default() += 1;
        }
        let mut keep: Vec<usize> = (0..provs.len().min(top)).collect();
        let mut sources: Vec<&str> = source_of.keys().copied().collect();
        sources.sort_unstable();
        for src in sources {
            let members = &source_of[src];
            if keep.iter().any(|&k| members.contains_key(provs[k].0)) {
                continue;
            }
            if let Some(i) = provs.iter().position(|(p, _)| members.contains_key(p)) {
                keep.push(i);
            }
        }
        let provs: Vec<(&str, Vec<u32>)> = keep.into_iter().map(|i| provs[i].clone()).collect();
        let by_provider = provs
            .into_iter()
            .map(|(p, v)| (names.get(p).cloned().unwrap_or_else(|| p.to_string()), v))
            .collect();
        let by_category = Category::ALL
            .iter()
            .filter_map(|c| by_cat.remove(c).map(|v| (*c, v)))
            .collect();
        // The series of the first spike, weekly, around it.
        let spike_series = spikes.first().map(|(prov, cat, _)| {
            let weeks_of: Vec<NaiveDate> = spikes
                .iter()
                .filter(|(p, c, _)| p == prov && c == cat)
                .map(|(_, _, w)| *w)
                .collect();
            let mut weekly: BTreeMap<NaiveDate, u32> = BTreeMap::new();
            let category = Category::parse(cat);
            for c in cases.iter().filter(|c| {
                &c.provider == prov && category.is_some_and(|k| c.categories.contains(&k))
            }) {
                *weekly
                    .entry(crate::detect::spikes::week_of(c.received))
                    .or_default() += 1;
            }
            let first =
                weeks_of.iter().min().copied().unwrap_or_default() - chrono::Duration::weeks(26);
            let last =
                weeks_of.iter().max().copied().unwrap_or_default() + chrono::Duration::weeks(8);
            let mut series = Vec::new();
            let mut w = first;
            while w <= last {
                series.push((w, weekly.get(&w).copied().unwrap_or(0)));
                w += chrono::Duration::weeks(1);
            }
            let name = names.get(prov).cloned().unwrap_or_else(|| prov.clone());
            (format!("{name} × {cat}"), series, weeks_of)
        });
        let ratings = ratings
            .iter()
            .filter(|r| r.grade != "NR")
            .take(15)
            .map(|r| (r.name.clone(), r.score, r.low, r.high))
            .collect();
        Self {
            months,
            by_category,
            by_provider,
            totals,
            fraud,
            spike_series,
            ratings,
        }
    }

    fn month_label(&self, i: usize) -> String {
        self.months
            .get(i)
            .map(|m| format!("{}-{:02}", m.year(), m.month()))
            .unwrap_or_default()
    }
}

/// A chart builder with the look every chart shares: caption, margin, axis label areas.
fn builder<'a, 'b, DB: DrawingBackend>(
    root: &'a DrawingArea<DB, Shift>,
    caption: impl AsRef<str>,
    y_label_area: u32,
) -> ChartBuilder<'a, 'b, DB> {
    let mut b = ChartBuilder::on(root);
    b.caption(caption, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(40)
        .y_label_area_size(y_label_area);
    b
}

/// The series legend, drawn the same way on every chart.
fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> DrawResult<DB> {
    chart
        .configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font(("sans-serif", 13))
        .draw()
}

fn categories<DB: DrawingBackend>(d: &ChartData, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let n = d.months.len().max(1);
    let stacked: Vec<u32> = (0..n)
        .map(|i| {
            d.by_category
                .iter()
                .map(|(_, v)| v.get(i).copied().unwrap_or(0))
                .sum()
        })
        .collect();
    let ymax = stacked.iter().copied().max().unwrap_or(1).max(1);
    let mut chart = builder(root, "每月投诉（按类别）Monthly complaints by category", 50)
        .build_cartesian_2d(0..n, 0..ymax + ymax / 10 + 1)?;
    chart
        .configure_mesh()
        .x_labels(12.min(n))
        .x_label_formatter(&|i| d.month_label(*i))
        .y_desc("complaints")
        .label_style(("sans-serif", 13))
        .draw()?;
    let mut base = vec![0u32; n];
    for (k, (cat, v)) in d.by_category.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        let rects: Vec<Rectangle<(usize, u32)>> = (0..n)
            .map(|i| {
                let h = v.get(i).copied().unwrap_or(0);
                let r = Rectangle::new([(i, base[i]), (i + 1, base[i] + h)], color.filled());
                base[i] += h;
                r
            })
            .collect();
        chart
            .draw_series(rects)?
            .label(format!("{} {}", cat.zh(), cat.id()))
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    legend(&mut chart)?;
    root.present()
}

fn providers<DB: DrawingBackend>(d: &ChartData, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let n = d.months.len().max(1);
    let ymax = d
        .by_provider
        .iter()
        .flat_map(|(_, v)| v.iter().copied())
        .max()
        .unwrap_or(1)
        .max(1);
    let mut chart = builder(
        root,
        "每月投诉（按服务商）Monthly complaints, top providers",
        50,
    )
    .build_cartesian_2d(0..n.saturating_sub(1).max(1), 0..ymax + ymax / 10 + 1)?;
    chart
        .configure_mesh()
        .x_labels(12.min(n))
        .x_label_formatter(&|i| d.month_label(*i))
        .y_desc("complaints")
        .label_style(("sans-serif", 13))
        .draw()?;
    for (k, (name, v)) in d.by_provider.iter().enumerate() {
        let color = PALETTE[k % PALETTE.len()];
        chart
            .draw_series(LineSeries::new(
                v.iter().enumerate().map(|(i, c)| (i, *c)),
                color.stroke_width(2),
            ))?
            .label(name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 16, y)], color.stroke_width(2))
            });
    }
    legend(&mut chart)?;
    root.present()
}

fn fraud_share<DB: DrawingBackend>(d: &ChartData, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let n = d.months.len().max(1);
    let share: Vec<(usize, f64)> = d
        .totals
        .iter()
        .zip(&d.fraud)
        .enumerate()
        .filter(|(_, (t, _))| **t > 0)
        .map(|(i, (t, f))| (i, 100.0 * f64::from(*f) / f64::from(*t)))
        .collect();
    let mut chart = builder(root, "诈骗投诉占比 Share of fraud complaints (%)", 50)
        .build_cartesian_2d(0..n.saturating_sub(1).max(1), 0f64..100f64)?;
    chart
        .configure_mesh()
        .x_labels(12.min(n))
        .x_label_formatter(&|i| d.month_label(*i))
        .y_desc("% of complaints")
        .label_style(("sans-serif", 13))
        .draw()?;
    chart.draw_series(LineSeries::new(
        share.iter().copied(),
        PALETTE[1].stroke_width(3),
    ))?;
    chart.draw_series(
        share
            .iter()
            .map(|p| Circle::new(*p, 3, PALETTE[1].filled())),
    )?;
    root.present()
}

fn spikes<DB: DrawingBackend>(d: &ChartData, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let Some((name, series, weeks)) = &d.spike_series else {
        root.draw(&Text::new(
            "没有突增 No spikes found",
            (W as i32 / 2 - 120, H as i32 / 2),
            ("sans-serif", 24),
        ))?;
        return root.present();
    };
    let n = series.len().max(2);
    let ymax = series.iter().map(|s| s.1).max().unwrap_or(1).max(1);
    let mut chart = builder(
        root,
        format!("每周投诉与突增 Weekly complaints and spikes: {name}"),
        50,
    )
    .build_cartesian_2d(0..n - 1, 0..ymax + ymax / 10 + 1)?;
    chart
        .configure_mesh()
        .x_labels(10)
        .x_label_formatter(&|i| series.get(*i).map(|s| s.0.to_string()).unwrap_or_default())
        .y_desc("complaints per week")
        .label_style(("sans-serif", 13))
        .draw()?;
    chart
        .draw_series(LineSeries::new(
            series.iter().enumerate().map(|(i, s)| (i, s.1)),
            PALETTE[0].stroke_width(2),
        ))?
        .label("weekly complaints")
        .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], PALETTE[0].stroke_width(2)));
    chart
        .draw_series(
            series
                .iter()
                .enumerate()
                .filter(|(_, s)| weeks.contains(&s.0))
                .map(|(i, s)| Circle::new((i, s.1), 7, RED.filled())),
        )?
        .label("spike (p < α)")
        .legend(|(x, y)| Circle::new((x + 8, y), 5, RED.filled()));
    legend(&mut chart)?;
    root.present()
}

fn ratings<DB: DrawingBackend>(d: &ChartData, root: &DrawingArea<DB, Shift>) -> DrawResult<DB> {
    root.fill(&WHITE)?;
    let n = d.ratings.len().max(1);
    let mut chart = builder(
        root,
        "服务商评分与90%区间 Provider scores with 90% intervals",
        260,
    )
    .build_cartesian_2d(0f64..100f64, 0..n)?;
    chart
        .configure_mesh()
        .y_labels(n)
        .y_label_formatter(&|i| d.ratings.get(*i).map(|r| r.0.clone()).unwrap_or_default())
        .x_desc("score (0–100)")
        .label_style(("sans-serif", 13))
        .draw()?;
    for (i, (_, score, low, high)) in d.ratings.iter().enumerate() {
        chart.draw_series(std::iter::once(PathElement::new(
            vec![(*low, i), (*high, i)],
            PALETTE[0].stroke_width(3),
        )))?;
        chart.draw_series(std::iter::once(Circle::new(
            (*score, i),
            5,
            PALETTE[1].filled(),
        )))?;
    }
    root.present()
}

/// One chart as written: its name and SVG text (for inlining).
pub struct Written {
    /// File stem.
    pub name: &'static str,
    /// The SVG document.
    pub svg: String,
    /// The PNG file.
    pub png: PathBuf,
}

fn both(
    name: &'static str,
    dir: &Path,
    draw_svg: impl FnOnce(&DrawingArea<SVGBackend<'_>, Shift>) -> anyhow::Result<()>,
    draw_png: impl FnOnce(&DrawingArea<BitMapBackend<'_>, Shift>) -> anyhow::Result<()>,
) -> anyhow::Result<Written> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (W, H)).into_drawing_area();
        draw_svg(&root)?;
    }
    let png = dir.join(format!("{name}.png"));
    {
        let root = BitMapBackend::new(&png, (W, H)).into_drawing_area();
        draw_png(&root)?;
    }
    crate::store::write_atomic(&dir.join(format!("{name}.svg")), svg.as_bytes())?;
    Ok(Written { name, svg, png })
}

macro_rules! chart {
    ($name:literal, $f:ident, $d:expr, $dir:expr) => {
        both(
            $name,
            $dir,
            |r| $f($d, r).map_err(|e| anyhow::anyhow!("chart {}: {e:?}", $name)),
            |r| $f($d, r).map_err(|e| anyhow::anyhow!("chart {}: {e:?}", $name)),
        )?
    };
}

/// Draws every chart into `dir` as PNG and SVG.
pub fn draw_all(data: &ChartData, models: &Path, dir: &Path) -> anyhow::Result<Vec<Written>> {
    register_font(models)?;
    std::fs::create_dir_all(dir).map_err(|e| anyhow::anyhow!("{}: {e}", dir.display()))?;
    Ok(vec![
        chart!("categories_monthly", categories, data, dir),
        chart!("providers_monthly", providers, data, dir),
        chart!("fraud_share", fraud_share, data, dir),
        chart!("spikes", spikes, data, dir),
        chart!("ratings", ratings, data, dir),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_font_has_glyphs_for_provider_names_and_categories() {
        use ab_glyph::Font;
        let bytes = register_font(&crate::cli::models_dir()).expect("font");
        let font = ab_glyph::FontRef::try_from_slice(bytes).expect("parses");
        let text: String = [
            "支付宝",
            "微信支付",
            "云闪付",
            "京东支付",
            "数字人民币",
            "拼多多",
            "淘宝",
            "天猫",
            "美团",
        ]
        .concat()
            + &Category::ALL.iter().map(|c| c.zh()).collect::<String>()
            + "每月投诉按类别服务商诈骗占比评分区间突增没有";
        for c in text.chars() {
            assert_ne!(font.glyph_id(c).0, 0, "no glyph for {c}");
        }
    }
}

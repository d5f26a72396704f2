//! Dates as written in exports and posts → the UTC calendar day the complaint was made.

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone};

/// How a source writes its dates.
#[derive(Debug, Clone)]
pub struct DateRules {
    /// chrono formats tried in order after the built-in ones (`发布于 %Y年%m月%d日 %H:%M`).
    pub formats: Vec<String>,
    /// Offset of local times that carry no zone (`+08:00` for Chinese sites; UTC by default).
    pub offset: FixedOffset,
    /// Read a bare number as an Excel date serial (days since 1899-12-30, a fraction for the
    /// time of day), as a spreadsheet saves a date cell formatted "General".
    pub excel_serial: bool,
    /// Read `03/01/2024` as 3 January (the built-in slash forms day first).
    pub day_first: bool,
}

impl Default for DateRules {
    fn default() -> Self {
        Self {
            formats: Vec::new(),
            offset: FixedOffset::east_opt(0).expect("zero offset is valid"),
            excel_serial: false,
            day_first: false,
        }
    }
}

/// Why a date could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DateError {
    /// Looks like a date but names a day that does not exist (2021-02-30).
    Impossible(String),
    /// Matches no known format.
    Unrecognised(String),
}

impl std::fmt::Display for DateError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            DateError::Impossible(v) => {
                write!(f, "impossible date {v:?}")?;
                let day = v.split(' ').next().unwrap_or(v);
                if SLASHED_DATES[1]
                    .iter()
                    .any(|form| NaiveDate::parse_from_str(day, form).is_ok())
                {
                    write!(
                        f,
                        " (day first? say `day_first = true` under [dates] in the mapping)"
                    )?;
                }
                Ok(())
            }
            DateError::Unrecognised(v) => write!(f, "unrecognised date {v:?}"),
        }
    }
}

/// Built-in forms every source shares.
const DATE_FORMATS: &[&str] = &["%Y-%m-%d", "%Y/%m/%d", "%Y年%m月%d日", "%Y.%m.%d"];
const DATETIME_FORMATS: &[&str] = &[
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%d %H:%M",
    "%Y/%m/%d %H:%M:%S",
    "%Y/%m/%d %H:%M",
    "%Y年%m月%d日 %H:%M",
    "%Y年%m月%d日 %H:%M:%S",
];
/// Slashed forms, month first (`03/01/2024` is 1 March, as CFPB and US spreadsheets write
/// it) and day first (3 January, as Hong Kong and Britain do: `day_first`). A date is tried
/// with them before `%Y/%m/%d` (which would read `03/01/24` as a day of the year 3), a date
/// and time after `%Y/%m/%d %H:%M`: the order the built-in forms have always had.
const SLASHED_DATES: [&[&str]; 2] = [&["%m/%d/%y", "%m/%d/%Y"], &["%d/%m/%y", "%d/%m/%Y"]];
const SLASHED_DATETIMES: [&[&str]; 2] = [
    &["%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M"],
    &["%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M"],
];

impl DateRules {
    /// Parses `value` to the UTC day; `Ok(None)` for an empty value.
    pub fn parse(&self, value: &str) -> Result<Option<NaiveDate>, DateError> {
        let v = value.trim();
        if v.is_empty() {
            return Ok(None);
        }
        // Fast path: CFPB's ISO day.
        if v.len() == 10 && v.as_bytes()[4] == b'-' && v.as_bytes()[7] == b'-' {
            // All digits: read the fields directly (chrono parses its format string on
            // every call); anything else takes chrono's parser and its errors.
            let b = v.as_bytes();
            let num = |r: std::ops::Range<usize>| {
                b[r].iter().try_fold(0u32, |n, c| {
                    c.is_ascii_digit().then(|| n * 10 + u32::from(c - b'0'))
                })
            };
            if let (Some(y), Some(m), Some(d)) = (num(0..4), num(5..7), num(8..10)) {
                return match NaiveDate::from_ymd_opt(y as i32, m, d) {
                    Some(d) => Ok(Some(d)),
                    None => Err(self.classify_failure(v)),
                };
            }
            return match NaiveDate::parse_from_str(v, "%Y-%m-%d") {
                Ok(d) => Ok(Some(d)),
                Err(_) => Err(self.classify_failure(v)),
            };
        }
        if self.excel_serial
            && let Some((local, with_time)) = excel_serial(v)
        {
            // A day alone is that day, as a written date is; a time of day goes to UTC.
            return Ok(Some(if with_time {
                self.to_utc(local)
            } else {
                local.date()
            }));
        }
        if let Ok(dt) = DateTime::parse_from_rfc3339(v) {
            return Ok(Some(dt.naive_utc().date()));
        }
        if let Ok(dt) = DateTime::parse_from_str(v, "%Y-%m-%d %H:%M:%S %z") {
            return Ok(Some(dt.naive_utc().date()));
        }
        for f in self
            .formats
            .iter()
            .map(String::as_str)
            .chain(DATETIME_FORMATS.iter().copied())
            .chain(
                SLASHED_DATETIMES[usize::from(self.day_first)]
                    .iter()
                    .copied(),
            )
        {
            if let Ok(dt) = NaiveDateTime::parse_from_str(v, f) {
                return Ok(Some(self.to_utc(dt)));
            }
        }
        for f in self
            .formats
            .iter()
            .map(String::as_str)
            .chain(SLASHED_DATES[usize::from(self.day_first)].iter().copied())
            .chain(DATE_FORMATS.iter().copied())
        {
            if let Ok(d) = NaiveDate::parse_from_str(v, f) {
                return Ok(Some(d));
            }
        }
        Err(self.classify_failure(v))
    }

    fn to_utc(&self, local: NaiveDateTime) -> NaiveDate {
        match self.offset.from_local_datetime(&local).single() {
            Some(dt) => dt.naive_utc().date(),
            None => local.date(),
        }
    }

    /// A value with the shape of a date whose fields are out of range is "impossible";
    /// anything else is "unrecognised".
    fn classify_failure(&self, v: &str) -> DateError {
        let nums: Vec<u32> = v
            .split(|c: char| !c.is_ascii_digit())
            .filter_map(|s| s.parse().ok())
            .collect();
        if nums.len() >= 3 {
            let plausible = |y: u32, m: u32, d: u32| {
                (1..=9999).contains(&y) && NaiveDate::from_ymd_opt(y as i32, m, d).is_some()
            };
            let shaped = nums[0] > 31 || nums[2] > 31 || v.contains('/');
            let (m, d) = if self.day_first {
                (nums[1], nums[0])
            } else {
                (nums[0], nums[1])
            };
            if shaped && !plausible(nums[0], nums[1], nums[2]) && !plausible(nums[2], m, d) {
                return DateError::Impossible(v.to_string());
            }
        }
        DateError::Unrecognised(v.to_string())
    }
}

/// An Excel date serial (`45352`, `45352.5` for noon) as a local date and time: days since
/// 1899-12-30, from 61 (1900-03-01: Excel counts a 29 February 1900 that never was) to
/// 2958465 (9999-12-31), and whether it has a time; `None` for anything else.
fn excel_serial(v: &str) -> Option<(NaiveDateTime, bool)> {
    let (days, frac) = v.split_once('.').unwrap_or((v, ""));
    if days.is_empty()
        || !days.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let n: i64 = days.parse().ok()?;
    if !(61..=2_958_465).contains(&n) {
        return None;
    }
    let secs = if frac.is_empty() {
        0
    } else {
        (format!("0.{frac}").parse::<f64>().ok()? * 86_400.0).round() as i64
    };
    let base = NaiveDate::from_ymd_opt(1899, 12, 30)?.and_hms_opt(0, 0, 0)?;
    let at =
        base.checked_add_signed(chrono::Duration::days(n) + chrono::Duration::seconds(secs))?;
    Some((at, !frac.is_empty()))
}

/// Parses a `+08:00` / `-05:00` / `UTC` offset.
pub fn parse_offset(s: &str) -> Option<FixedOffset> {
    let s = s.trim();
    if s.eq_ignore_ascii_case("utc") || s == "Z" {
        return FixedOffset::east_opt(0);
    }
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = rest.split_once(':').unwrap_or((rest, "0"));
    let secs = h.parse::<i32>().ok()? * 3600 + m.parse::<i32>().ok()? * 60;
    FixedOffset::east_opt(sign * secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn day_first_sources_read_slashes_day_first() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("valid");
        let us = DateRules::default();
        let hk = DateRules {
            day_first: true,
            ..Default::default()
        };
        assert_eq!(us.parse("03/01/2024"), Ok(Some(day(2024, 3, 1))));
        assert_eq!(hk.parse("03/01/2024"), Ok(Some(day(2024, 1, 3))));
        assert_eq!(hk.parse("25/12/2023 18:30"), Ok(Some(day(2023, 12, 25))));
        assert_eq!(
            us.parse("3/1/2024 14:05"),
            Ok(Some(day(2024, 3, 1))),
            "Excel's US form"
        );
        assert_eq!(
            hk.parse("2024-03-01"),
            Ok(Some(day(2024, 3, 1))),
            "ISO stays ISO"
        );
        assert_eq!(
            hk.parse("31/02/2024"),
            Err(DateError::Impossible("31/02/2024".into()))
        );
        assert_eq!(
            us.parse("25/12/2023"),
            Err(DateError::Impossible("25/12/2023".into()))
        );
        let err = us.parse("25/12/2023").expect_err("month 25");
        assert!(err.to_string().contains("day_first = true"), "{err}");
        let err = us.parse("2021-02-30").expect_err("30 February");
        assert_eq!(err.to_string(), "impossible date \"2021-02-30\"");
    }

    #[test]
    fn excel_serials_only_where_the_mapping_says_so() {
        let day = |y, m, d| NaiveDate::from_ymd_opt(y, m, d).expect("valid");
        let excel = DateRules {
            excel_serial: true,
            offset: parse_offset("+08:00").expect("offset"),
            ..Default::default()
        };
        assert_eq!(excel.parse("45352"), Ok(Some(day(2024, 3, 1))));
        // 07:00 in Beijing is the day before in UTC.
        assert_eq!(excel.parse("45352.2916667"), Ok(Some(day(2024, 2, 29))));
        assert_eq!(
            excel.parse("2024-03-01"),
            Ok(Some(day(2024, 3, 1))),
            "other forms still read"
        );
        assert!(excel.parse("60").is_err(), "Excel's 29 February 1900");
        assert!(excel.parse("-5").is_err());
        assert_eq!(
            DateRules::default().parse("45352"),
            Err(DateError::Unrecognised("45352".into())),
            "a bare number is no date unless the mapping says so"
        );
    }

    #[test]
    fn formats() {
        let r = DateRules::default();
        let d = |s| r.parse(s).expect("parses").expect("non-empty");
        let day = NaiveDate::from_ymd_opt(2021, 1, 1).expect("valid");
        assert_eq!(d("2021-01-01"), day);
        assert_eq!(d("2021-01-01T00:26:22.000Z"), day);
        assert_eq!(d("1/1/21"), day);
        assert_eq!(d("01/01/2021"), day);
        assert_eq!(r.parse("  ").expect("empty is fine"), None);
        assert!(matches!(
            r.parse("2021-02-30"),
            Err(DateError::Impossible(_))
        ));
        assert!(matches!(
            r.parse("13/45/2021"),
            Err(DateError::Impossible(_))
        ));
        assert!(matches!(
            r.parse("yesterday"),
            Err(DateError::Unrecognised(_))
        ));
    }

    #[test]
    fn iso_days_read_directly_as_chrono_reads_them() {
        // Every day of four years (a leap year among them), impossible days and shapes
        // that are not all digits: the direct read answers exactly as chrono's parser.
        let r = DateRules::default();
        let mut values = Vec::new();
        for y in [1999, 2020, 2023, 2024] {
            for m in 0..=13 {
                for d in 0..=32 {
                    values.push(format!("{y:04}-{m:02}-{d:02}"));
                }
            }
        }
        let grid = values.len();
        values.extend(
            [
                "0000-01-01",
                "2024-1a-01",
                "2024-+1-01",
                "+024-01-01",
                "2024- 1-01",
                "９９９９-01-01",
            ]
            .map(String::from),
        );
        let mut valid = 0;
        for (i, v) in values.iter().enumerate() {
            let chrono = NaiveDate::parse_from_str(v, "%Y-%m-%d").ok();
            let ours = r.parse(v);
            assert_eq!(ours.as_ref().ok().copied().flatten(), chrono, "{v}");
            valid += usize::from(chrono.is_some() && i < grid);
            if chrono.is_none() {
                assert!(ours.is_err(), "{v}: an error, not an empty day");
            }
        }
        assert_eq!(
            valid,
            365 * 2 + 366 * 2,
            "every real day of 1999, 2020, 2023 and 2024"
        );
    }

    #[test]
    fn local_times_go_to_utc() {
        let r = DateRules {
            formats: vec!["发布于 %Y年%m月%d日 %H:%M".into()],
            offset: parse_offset("+08:00").expect("valid"),
            ..Default::default()
        };
        // 07:30 in Beijing is still the previous day in UTC
        assert_eq!(
            r.parse("发布于 2020年10月16日 07:30").expect("ok"),
            NaiveDate::from_ymd_opt(2020, 10, 15)
        );
        assert_eq!(
            r.parse("发布于 2020年10月16日 08:48").expect("ok"),
            NaiveDate::from_ymd_opt(2020, 10, 16)
        );
    }
}

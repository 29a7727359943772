//! NCRONTAB schedules, as written in a timer trigger's `function.json` and understood by the Functions host:
//! `second minute hour day month day-of-week` (a five-field form without seconds is accepted too). Each field is
//! `*` or a comma list of values, ranges `a-b` and steps (`*/n`, `a-b/n`); months and weekdays also take English
//! names (`Jan`, `Monday`). Weekdays run 0-6 from Sunday.
//!
//! Day-of-month and day-of-week must both match, as in NCrontab (the library the host uses), not either one as in
//! Vixie cron. Times are UTC, as on Linux Consumption plans.
//!
//! No crate implements these semantics: the `cron` crate uses Quartz numbering (weekday 1 = Sunday) and a year
//! field, which would silently shift every weekday schedule by one day.

use chrono::{DateTime, Datelike, Duration, NaiveDate, TimeZone, Timelike, Utc};

/// A parsed schedule: one bit per allowed value of each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Schedule {
    seconds: u64,
    minutes: u64,
    hours: u64,
    days: u64,
    months: u64,
    weekdays: u64,
}

/// Why an expression is not a schedule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Wrong number of space-separated fields.
    #[error("expected 6 fields (second minute hour day month day-of-week) or 5, found {0}")]
    FieldCount(usize),
    /// A field holds something that is not a value, range, step or name.
    #[error("{field} field: {reason}")]
    Field {
        /// Which field (`second`, `minute`, …).
        field: &'static str,
        /// What is wrong.
        reason: String,
    },
    /// Every field is valid, but no date satisfies them together (e.g. 30 February).
    #[error("the schedule never fires: no month has the given days")]
    NeverFires,
}

struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    names: &'static [&'static str],
}

const MONTH_NAMES: &[&str] = &[
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
];
const WEEKDAY_NAMES: &[&str] = &["sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday"];

const FIELDS: [FieldSpec; 6] = [
    FieldSpec { name: "second", min: 0, max: 59, names: &[] },
    FieldSpec { name: "minute", min: 0, max: 59, names: &[] },
    FieldSpec { name: "hour", min: 0, max: 23, names: &[] },
    FieldSpec { name: "day", min: 1, max: 31, names: &[] },
    FieldSpec { name: "month", min: 1, max: 12, names: MONTH_NAMES },
    FieldSpec { name: "day-of-week", min: 0, max: 6, names: WEEKDAY_NAMES },
];

/// The longest month length for each month (February counts its leap day).
const MAX_DAYS_IN_MONTH: [u32; 12] = [31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

impl Schedule {
    /// Parses an NCRONTAB expression.
    pub fn parse(expression: &str) -> Result<Self, ScheduleError> {
        let parts: Vec<&str> = expression.split_whitespace().collect();
        let parts: Vec<&str> = match parts.len() {
            6 => parts,
            5 => std::iter::once("0").chain(parts).collect(),
            n => return Err(ScheduleError::FieldCount(n)),
        };
        let mut masks = [0u64; 6];
        for ((mask, spec), text) in masks.iter_mut().zip(&FIELDS).zip(parts) {
            *mask = parse_field(text, spec).map_err(|reason| ScheduleError::Field { field: spec.name, reason })?;
        }
        let [seconds, minutes, hours, days, months, weekdays] = masks;
        let fires = (1..=12u32).any(|month| {
            months & bit(month) != 0 && (1..=MAX_DAYS_IN_MONTH[month as usize - 1]).any(|day| days & bit(day) != 0)
        });
        if !fires {
            return Err(ScheduleError::NeverFires);
        }
        Ok(Self { seconds, minutes, hours, days, months, weekdays })
    }

    /// The first occurrence strictly after `after`.
    pub fn next_after(&self, after: DateTime<Utc>) -> DateTime<Utc> {
        let mut t = after.with_nanosecond(0).unwrap_or(after) + Duration::seconds(1);
        // Each step jumps to the start of the next candidate unit, so this ends within a few thousand steps; the
        // parse-time check guarantees a matching date exists (29 February included, at most 8 years away).
        loop {
            if self.months & bit(t.month()) == 0 {
                t = start_of_next_month(t);
            } else if self.days & bit(t.day()) == 0 || self.weekdays & bit(t.weekday().num_days_from_sunday()) == 0 {
                t = start_of_day(t) + Duration::days(1);
            } else if self.hours & bit(t.hour()) == 0 {
                t = t.with_minute(0).and_then(|t| t.with_second(0)).unwrap_or(t) + Duration::hours(1);
            } else if self.minutes & bit(t.minute()) == 0 {
                t = t.with_second(0).unwrap_or(t) + Duration::minutes(1);
            } else if self.seconds & bit(t.second()) == 0 {
                t += Duration::seconds(1);
            } else {
                return t;
            }
        }
    }
}

impl std::str::FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

fn bit(value: u32) -> u64 {
    1u64 << value
}

fn start_of_day(t: DateTime<Utc>) -> DateTime<Utc> {
    Utc.from_utc_datetime(&t.date_naive().and_hms_opt(0, 0, 0).unwrap_or_default())
}

fn start_of_next_month(t: DateTime<Utc>) -> DateTime<Utc> {
    let (year, month) = if t.month() == 12 { (t.year() + 1, 1) } else { (t.year(), t.month() + 1) };
    let first = NaiveDate::from_ymd_opt(year, month, 1).unwrap_or_default();
    Utc.from_utc_datetime(&first.and_hms_opt(0, 0, 0).unwrap_or_default())
}

fn parse_field(text: &str, spec: &FieldSpec) -> Result<u64, String> {
    let mut mask = 0;
    for item in text.split(',') {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = step.parse().map_err(|_| format!("step `{step}` is not a number"))?;
                if step == 0 {
                    return Err("a step must be at least 1".into());
                }
                if range != "*" && !range.contains('-') {
                    return Err(format!("`{item}`: a step applies to `*` or a range"));
                }
                (range, step)
            }
            None => (item, 1),
        };
        let (low, high) = match range {
            "*" => (spec.min, spec.max),
            _ => match range.split_once('-') {
                Some((low, high)) => (parse_value(low, spec)?, parse_value(high, spec)?),
                None => {
                    let value = parse_value(range, spec)?;
                    (value, value)
                }
            },
        };
        if low > high {
            return Err(format!("range `{range}` runs backwards"));
        }
        mask |= (low..=high).step_by(step as usize).fold(0, |m, v| m | bit(v));
    }
    Ok(mask)
}

fn parse_value(text: &str, spec: &FieldSpec) -> Result<u32, String> {
    let value = match text.parse::<u32>() {
        Ok(value) => value,
        Err(_) => {
            let lower = text.to_ascii_lowercase();
            let position =
                spec.names.iter().position(|name| lower.len() >= 3 && name.starts_with(&lower)).ok_or_else(|| {
                    format!("`{text}` is not a number{}", if spec.names.is_empty() { "" } else { " or name" })
                })?;
            spec.min + u32::try_from(position).unwrap_or(0)
        }
    };
    if value < spec.min || value > spec.max {
        return Err(format!("{value} is outside {}-{}", spec.min, spec.max));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).expect("valid test time").with_timezone(&Utc)
    }

    fn next(expression: &str, after: &str) -> String {
        Schedule::parse(expression).expect("valid").next_after(at(after)).to_rfc3339()
    }

    #[test]
    fn documented_examples_fire_when_the_docs_say() {
        let cases = [
            ("0 */5 * * * *", "2026-11-27T10:03:12Z", "2026-11-27T10:05:00+00:00", "every five minutes"),
            ("0 0 */2 * * *", "2026-11-27T10:03:12Z", "2026-11-27T12:00:00+00:00", "every two hours"),
            ("0 30 9 * * 1-5", "2026-11-27T10:00:00Z", "2026-11-30T09:30:00+00:00", "weekdays 09:30 (Fri → Mon)"),
            ("0 30 9 * Jan Mon", "2026-11-27T10:00:00Z", "2027-01-04T09:30:00+00:00", "Mondays in January"),
            ("5 * * * * *", "2026-11-27T10:00:05Z", "2026-11-27T10:01:05+00:00", "strictly after the given time"),
            ("*/15 * * * *", "2026-11-27T10:07:00Z", "2026-11-27T10:15:00+00:00", "five fields: no seconds"),
            ("0 0 0 29 2 *", "2026-03-01T00:00:00Z", "2028-02-29T00:00:00+00:00", "the next leap day"),
            ("0 0 0 1 * *", "2026-12-31T23:59:59Z", "2027-01-01T00:00:00+00:00", "across a year boundary"),
            ("0 0 8 * * sunday", "2026-11-27T00:00:00Z", "2026-11-29T08:00:00+00:00", "full weekday names"),
            ("10,20-22/2 * * * * *", "2026-11-27T10:00:11Z", "2026-11-27T10:00:20+00:00", "lists with stepped ranges"),
            ("0 0 12 13 * 5", "2026-01-01T00:00:00Z", "2026-02-13T12:00:00+00:00", "day and weekday must both match"),
        ];
        for (expression, after, expected, why) in cases {
            assert_eq!(next(expression, after), expected, "{expression}: {why}");
        }
    }

    #[test]
    fn invalid_schedules_are_rejected_with_a_reason() {
        let cases = [
            ("* * * *", "expected 6 fields", "too few fields"),
            ("0 60 * * * *", "minute field: 60 is outside 0-59", "value out of range"),
            ("0 0 0 0 * *", "day field: 0 is outside 1-31", "days start at 1"),
            ("0 0 0 * * 7", "day-of-week field: 7 is outside 0-6", "weekdays run 0-6"),
            ("0 */0 * * * *", "minute field: a step must be at least 1", "zero step"),
            ("0 5/10 * * * *", "a step applies to `*` or a range", "step on a single value"),
            ("0 0 0 * Foo *", "month field: `Foo` is not a number or name", "unknown name"),
            ("0 30-10 * * * *", "runs backwards", "backwards range"),
            ("0 0 0 30 2 *", "never fires", "30 February"),
            ("0 0 0 ? * *", "`?` is not a number", "Quartz syntax"),
        ];
        for (expression, expected, why) in cases {
            let error = Schedule::parse(expression).expect_err(why).to_string();
            assert!(error.contains(expected), "{why}: `{expression}` gave `{error}`");
        }
    }
}

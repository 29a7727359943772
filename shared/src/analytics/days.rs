//! Local calendar days in the organization's time zone, and the inclusive date ranges queries span.

use super::*;

/// The longest range a query may span: three years, one of them leap.
pub const MAX_RANGE_DAYS: i64 = 3 * 365 + 1;

/// The organization's time zone from its stored IANA name (UTC if the name is not one, which validation prevents).
pub fn zone(name: &str) -> Tz {
    name.parse().unwrap_or(Tz::UTC)
}

/// The calendar day `at` falls on in `zone`.
pub fn local_day(at: DateTime<Utc>, zone: Tz) -> NaiveDate {
    at.with_timezone(&zone).date_naive()
}

/// The UTC instants a range's local days cover, `[start, end)`: from the first moment of `from` to the first
/// moment of the day after `to` in `zone`. A day whose midnight a daylight-saving change skips starts at the first
/// local time it has.
pub fn utc_bounds(range: DateRange, zone: Tz) -> (DateTime<Utc>, DateTime<Utc>) {
    let start_of = |day: NaiveDate| {
        use chrono::TimeZone;
        (0..24)
            .find_map(|hour| day.and_hms_opt(hour, 0, 0).and_then(|t| zone.from_local_datetime(&t).earliest()))
            .map_or_else(|| day.and_time(chrono::NaiveTime::MIN).and_utc(), |t| t.with_timezone(&Utc))
    };
    let after = range.to().succ_opt().unwrap_or(range.to());
    (start_of(range.from()), start_of(after))
}

/// The earliest day a query may name.
pub fn earliest_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(1900, 1, 1).unwrap_or(NaiveDate::MIN)
}

/// The latest day a query may name.
pub fn latest_day() -> NaiveDate {
    NaiveDate::from_ymd_opt(9999, 12, 31).unwrap_or(NaiveDate::MAX)
}

/// Reads a calendar date written exactly `YYYY-MM-DD`, between 1900-01-01 and 9999-12-31.
pub fn parse_day(text: &str) -> Result<NaiveDate, ParseError> {
    let invalid = || ParseError::new(format!("`{text}` is not a date written YYYY-MM-DD"));
    let bytes = text.as_bytes();
    let shaped = bytes.len() == 10
        && bytes.iter().enumerate().all(|(i, b)| if i == 4 || i == 7 { *b == b'-' } else { b.is_ascii_digit() });
    if !shaped {
        return Err(invalid());
    }
    let day = NaiveDate::parse_from_str(text, "%Y-%m-%d").map_err(|_| invalid())?;
    if day < earliest_day() {
        return Err(ParseError::new(format!("`{text}` is before 1900-01-01")));
    }
    Ok(day)
}

/// An inclusive range of local calendar days, `from..=to`, at most [`MAX_RANGE_DAYS`] long. Stored as
/// `{"from", "to"}` and checked again when read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "StoredRange")]
pub struct DateRange {
    from: NaiveDate,
    to: NaiveDate,
}

#[derive(serde::Deserialize)]
struct StoredRange {
    from: NaiveDate,
    to: NaiveDate,
}

impl TryFrom<StoredRange> for DateRange {
    type Error = RangeError;

    fn try_from(stored: StoredRange) -> Result<Self, RangeError> {
        Self::new(stored.from, stored.to)
    }
}

/// Why a range was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RangeError {
    /// `from` is after `to`.
    #[error("must not be after `to`")]
    Reversed,
    /// The range spans more than [`MAX_RANGE_DAYS`] days.
    #[error("the range may span at most {MAX_RANGE_DAYS} days")]
    TooLong,
    /// A bound lies outside 1900-01-01..=9999-12-31.
    #[error("must lie between 1900-01-01 and 9999-12-31")]
    OutOfBounds,
}

impl DateRange {
    /// Checks a range.
    pub fn new(from: NaiveDate, to: NaiveDate) -> Result<Self, RangeError> {
        if from < earliest_day() || to > latest_day() {
            return Err(RangeError::OutOfBounds);
        }
        if from > to {
            return Err(RangeError::Reversed);
        }
        let range = Self { from, to };
        if range.days() > MAX_RANGE_DAYS {
            return Err(RangeError::TooLong);
        }
        Ok(range)
    }

    /// The `days` days ending with `to` (1 ≤ days ≤ [`MAX_RANGE_DAYS`]).
    pub fn ending(to: NaiveDate, days: u16) -> Result<Self, RangeError> {
        let from = to.checked_sub_days(Days::new(u64::from(days.max(1)) - 1)).ok_or(RangeError::OutOfBounds)?;
        Self::new(from, to)
    }

    /// The default range when a query names neither end: the 30 days ending yesterday.
    pub fn default_ending_before(today: NaiveDate) -> Result<Self, RangeError> {
        let yesterday = today.pred_opt().ok_or(RangeError::OutOfBounds)?;
        Self::ending(yesterday, 30)
    }

    /// The first day.
    pub fn from(&self) -> NaiveDate {
        self.from
    }

    /// The last day (included).
    pub fn to(&self) -> NaiveDate {
        self.to
    }

    /// How many days it spans.
    pub fn days(&self) -> i64 {
        (self.to - self.from).num_days() + 1
    }

    /// Whether `day` lies inside.
    pub fn contains(&self, day: NaiveDate) -> bool {
        self.from <= day && day <= self.to
    }

    /// The range of the same length ending the day before this one starts (`compare=previous_period`). Its start
    /// may precede 1900-01-01 by up to [`MAX_RANGE_DAYS`] days; it is never validated again.
    pub fn previous_period(&self) -> Self {
        let length = Days::new(self.days().unsigned_abs());
        // Bounds are validated: these subtractions stay far from NaiveDate's limits.
        let to = self.from.pred_opt().unwrap_or(self.from);
        let from = self.from.checked_sub_days(length).unwrap_or(self.from);
        Self { from, to }
    }

    /// The range from the start of the previous period to the end of this one.
    pub fn with_previous_period(&self) -> Self {
        Self { from: self.previous_period().from, to: self.to }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_days_follow_the_organization_zone_across_daylight_saving_changes() {
        let cases = [
            ("2024-03-10T04:59:59Z", "2024-03-09", "23:59 EST, the evening before the spring change"),
            ("2024-03-10T05:00:00Z", "2024-03-10", "00:00 EST"),
            ("2024-03-11T03:59:59Z", "2024-03-10", "23:59 EDT: the short day ends an hour earlier in UTC"),
            ("2024-03-11T04:00:00Z", "2024-03-11", "00:00 EDT"),
            ("2024-11-03T03:59:59Z", "2024-11-02", "23:59 EDT before the autumn change"),
            ("2024-11-04T04:59:59Z", "2024-11-03", "23:59 EST: the long day ends an hour later in UTC"),
        ];
        for (utc, local, why) in cases {
            assert_eq!(local_day(at(utc), new_york()), day(local), "{why}");
        }
        assert_eq!(local_day(at("2024-03-10T04:59:59Z"), Tz::UTC), day("2024-03-10"), "UTC organizations");
        assert_eq!(zone("Not/AZone"), Tz::UTC, "an unreadable stored zone falls back to UTC");
    }

    #[test]
    fn a_range_covers_its_local_days_in_utc_across_daylight_saving_and_reads_back_checked() {
        let spring = DateRange::new(day("2024-03-10"), day("2024-03-10")).expect("valid");
        assert_eq!(utc_bounds(spring, new_york()), (at("2024-03-10T05:00:00Z"), at("2024-03-11T04:00:00Z")));
        // Havana skips midnight on 10 March 2024: that day starts at 01:00 CDT.
        let havana: Tz = "America/Havana".parse().expect("zone");
        let (start, _) = utc_bounds(spring, havana);
        assert_eq!(start, at("2024-03-10T05:00:00Z"));

        let stored = serde_json::to_string(&spring).expect("JSON");
        assert_eq!(stored, r#"{"from":"2024-03-10","to":"2024-03-10"}"#);
        assert_eq!(serde_json::from_str::<DateRange>(&stored).expect("reads back"), spring);
        assert!(serde_json::from_str::<DateRange>(r#"{"from":"2024-03-11","to":"2024-03-10"}"#).is_err(), "reversed");
    }

    #[test]
    fn ranges_are_checked_and_the_previous_period_has_the_same_length() {
        let march = DateRange::new(day("2024-03-01"), day("2024-03-31")).expect("valid");
        assert_eq!(march.days(), 31);
        let previous = march.previous_period();
        assert_eq!((previous.from(), previous.to()), (day("2024-01-30"), day("2024-02-29")));
        assert_eq!(previous.days(), 31);
        let single = DateRange::new(day("2024-03-01"), day("2024-03-01")).expect("valid").previous_period();
        assert_eq!((single.from(), single.to()), (day("2024-02-29"), day("2024-02-29")));

        assert_eq!(DateRange::new(day("2024-03-02"), day("2024-03-01")), Err(RangeError::Reversed));
        let longest = DateRange::ending(day("2024-12-31"), MAX_RANGE_DAYS as u16).expect("the longest range");
        assert_eq!(longest.days(), MAX_RANGE_DAYS);
        assert_eq!(
            DateRange::new(longest.from() - Days::new(1), longest.to()),
            Err(RangeError::TooLong),
            "one day more is refused"
        );
        let default = DateRange::default_ending_before(day("2024-03-01")).expect("valid");
        assert_eq!((default.from(), default.to()), (day("2024-01-31"), day("2024-02-29")), "30 days ending yesterday");
    }

    #[test]
    fn only_well_formed_dates_are_read() {
        assert_eq!(parse_day("2024-02-29"), Ok(NaiveDate::from_ymd_opt(2024, 2, 29).expect("date")));
        for bad in [
            "2023-02-29",
            "2024-2-29",
            "2024-02-29T00:00:00Z",
            "24-02-29",
            "+2024-02-2",
            "1899-12-31",
            "",
            "２０２４-02-29",
        ] {
            assert!(parse_day(bad).is_err(), "{bad}");
        }
    }
}

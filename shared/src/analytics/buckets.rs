//! How days group into the buckets of a series: days, ISO weeks and months, labelled by their first day.

use super::*;

/// How days group into the points of a series.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Bucket {
    /// One calendar day.
    Day,
    /// An ISO week, Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Bucket {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Day => "day",
            Self::Week => "week",
            Self::Month => "month",
        }
    }

    /// Reads a wire name.
    pub fn parse(text: &str) -> Result<Self, ParseError> {
        match text {
            "day" => Ok(Self::Day),
            "week" => Ok(Self::Week),
            "month" => Ok(Self::Month),
            _ => Err(ParseError::new(format!("`{text}` is not one of day, week, month"))),
        }
    }

    /// The first day of the bucket holding `day`.
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => day,
            Self::Week => day - Days::new(u64::from(day.weekday().num_days_from_monday())),
            Self::Month => day.with_day(1).unwrap_or(day),
        }
    }

    /// The first day of the bucket after the one starting at `start`.
    pub fn next_start(self, start: NaiveDate) -> Option<NaiveDate> {
        match self {
            Self::Day => start.checked_add_days(Days::new(1)),
            Self::Week => start.checked_add_days(Days::new(7)),
            Self::Month => start.checked_add_months(Months::new(1)),
        }
    }

    /// The starts of every bucket meeting `range`, in order.
    pub fn starts(self, range: DateRange) -> Vec<NaiveDate> {
        let mut starts = Vec::new();
        let mut start = Some(self.start_of(range.from()));
        while let Some(current) = start.filter(|s| *s <= range.to()) {
            starts.push(current);
            start = self.next_start(current);
        }
        starts
    }
}

/// One point of a series: a bucket's first calendar day and the sum of its days inside the range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BucketTotals {
    /// The bucket's first calendar day (it may precede the range's start).
    pub start: NaiveDate,
    /// The sums over the bucket's days inside the range.
    pub totals: Counters,
}

/// Groups daily rows into the buckets of `range`. Every bucket meeting the range is present (zeros when no row
/// falls in it); rows outside the range are ignored.
pub fn bucket_daily(
    range: DateRange,
    bucket: Bucket,
    days: impl IntoIterator<Item = (NaiveDate, Counters)>,
) -> Vec<BucketTotals> {
    let mut series: Vec<BucketTotals> =
        bucket.starts(range).into_iter().map(|start| BucketTotals { start, totals: Counters::default() }).collect();
    for (day, counters) in days {
        if !range.contains(day) {
            continue;
        }
        let start = bucket.start_of(day);
        if let Ok(index) = series.binary_search_by_key(&start, |point| point.start) {
            series[index].totals = series[index].totals.plus(counters);
        }
    }
    series
}

/// The sum of every point of a series.
pub fn series_total(series: &[BucketTotals]) -> Counters {
    series.iter().fold(Counters::default(), |sum, point| sum.plus(point.totals))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn weeks_start_on_monday_and_months_on_the_first() {
        let cases = [
            (Bucket::Week, "2024-03-10", "2024-03-04", "a Sunday belongs to the week before"),
            (Bucket::Week, "2024-03-11", "2024-03-11", "a Monday starts its week"),
            (Bucket::Week, "2025-01-01", "2024-12-30", "ISO week 1 of 2025 starts in 2024"),
            (Bucket::Month, "2024-02-29", "2024-02-01", "leap day"),
            (Bucket::Day, "2024-02-29", "2024-02-29", "a day is its own bucket"),
        ];
        for (bucket, date, start, why) in cases {
            assert_eq!(bucket.start_of(day(date)), day(start), "{why}");
        }
        assert_eq!(Bucket::Month.next_start(day("2024-01-01")), Some(day("2024-02-01")));
        assert_eq!(Bucket::Week.next_start(day("2024-12-30")), Some(day("2025-01-06")));
    }

    #[test]
    fn every_bucket_meeting_the_range_is_present_and_edges_count_only_days_inside() {
        let range = DateRange::new(day("2024-03-06"), day("2024-03-20")).expect("valid range");
        let sale = |revenue_minor| Counters { orders: 1, units: 2, revenue_minor, ..Counters::default() };
        let rows = [
            (day("2024-03-04"), sale(999)), // outside the range, though inside the first week
            (day("2024-03-06"), sale(100)),
            (day("2024-03-10"), sale(250)),
            (day("2024-03-20"), sale(7)),
            (day("2024-03-21"), sale(999)), // outside
        ];

        let weeks = bucket_daily(range, Bucket::Week, rows);

        let starts: Vec<_> = weeks.iter().map(|w| w.start).collect();
        assert_eq!(starts, [day("2024-03-04"), day("2024-03-11"), day("2024-03-18")]);
        let revenue: Vec<_> = weeks.iter().map(|w| w.totals.revenue_minor).collect();
        assert_eq!(revenue, [350, 0, 7], "the empty middle week is present as zero");
        assert_eq!(series_total(&weeks), Counters { orders: 3, units: 6, revenue_minor: 357, ..Counters::default() });

        let days = bucket_daily(range, Bucket::Day, rows);
        assert_eq!(days.len(), 15);
        assert_eq!(days.iter().filter(|d| d.totals.is_zero()).count(), 12);

        let months =
            bucket_daily(DateRange::new(day("2024-01-31"), day("2024-03-01")).expect("valid"), Bucket::Month, []);
        let starts: Vec<_> = months.iter().map(|m| m.start).collect();
        assert_eq!(starts, [day("2024-01-01"), day("2024-02-01"), day("2024-03-01")]);
    }
}

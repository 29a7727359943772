//! Retrying outbound HTTP requests: how long to wait before the next attempt (what the server asked for in
//! `Retry-After`, else exponential backoff with jitter) and when to stop (retries spent, or the caller's deadline).
//! The platform connectors and the Azure OpenAI client share it; each decides which answers are worth retrying.

use std::time::{Duration, SystemTime};

use rand::Rng;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// The wait a response asks for: `retry-after-ms` (milliseconds, as Azure OpenAI sends it), else `retry-after` in
/// either of its HTTP forms, delay-seconds (fractions allowed: Shopify sends `2.0`) or an HTTP date (a date already
/// past is no wait). A value no `Duration` can hold (negative, not finite, absurdly large) is ignored, never a panic;
/// whether a wait is too long to honour is the caller's judgement.
pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    let seconds = |value: f64| Duration::try_from_secs_f64(value).ok();
    if let Some(ms) = header("retry-after-ms").and_then(|v| v.parse::<f64>().ok())
        && let Some(wait) = seconds(ms / 1000.0)
    {
        return Some(wait);
    }
    let value = header("retry-after")?;
    if let Ok(value) = value.parse::<f64>() {
        return seconds(value);
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(SystemTime::now()).unwrap_or_default())
}

/// Exponential backoff with full jitter: before retry `n` (from 1), a random delay between a tenth of and the whole
/// of `base × 2^(n−1)`, capped at `max`, so clients that failed together do not retry together.
#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    /// The first retry's ceiling.
    pub base: Duration,
    /// The largest ceiling.
    pub max: Duration,
}

impl Backoff {
    /// The delay before retry `retry` (1 for the first).
    pub fn delay(&self, retry: u32) -> Duration {
        let ceiling = self.base.saturating_mul(1 << retry.saturating_sub(1).min(16)).min(self.max);
        let floor = ceiling / 10;
        floor + ceiling.saturating_sub(floor).mul_f64(rand::rng().random::<f64>())
    }
}

/// Why a request is not tried again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GiveUp {
    /// Every retry is spent.
    Exhausted {
        /// The attempts made, the first included.
        attempts: u32,
    },
    /// The next attempt could not start (or its wait would not end) before the deadline.
    OutOfTime,
}

/// The retries of one request: count the failures, answer each with a wait or a reason to stop.
#[derive(Debug)]
pub struct Retries {
    max_retries: u32,
    backoff: Backoff,
    max_server_wait: Duration,
    deadline: Instant,
    failures: u32,
}

impl Retries {
    /// At most `max_retries` retries after the first attempt, all before `deadline`; a server asking for a wait
    /// longer than `max_server_wait` is not trusted and backoff applies instead.
    pub fn new(max_retries: u32, backoff: Backoff, max_server_wait: Duration, deadline: Instant) -> Self {
        Self { max_retries, backoff, max_server_wait, deadline, failures: 0 }
    }

    /// Records a failed attempt; answers how long to wait before the next one (`server_wait` is what the answer
    /// asked for, if anything), or why there is none.
    pub fn after_failure(&mut self, server_wait: Option<Duration>) -> Result<Duration, GiveUp> {
        self.failures += 1;
        let now = Instant::now();
        if now >= self.deadline {
            return Err(GiveUp::OutOfTime);
        }
        if self.failures > self.max_retries {
            return Err(GiveUp::Exhausted { attempts: self.failures });
        }
        let wait = server_wait
            .filter(|wait| !wait.is_zero() && *wait <= self.max_server_wait)
            .unwrap_or_else(|| self.backoff.delay(self.failures));
        if now + wait >= self.deadline {
            return Err(GiveUp::OutOfTime);
        }
        Ok(wait)
    }
}

#[cfg(test)]
mod tests {
    use reqwest::header::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, HeaderValue::from_str(value).expect("header"));
        }
        headers
    }

    #[test]
    fn retry_after_reads_milliseconds_seconds_and_every_http_date_form() {
        assert_eq!(retry_after(&headers(&[("retry-after", "7")])), Some(Duration::from_secs(7)));
        assert_eq!(retry_after(&headers(&[("retry-after", " 2.0 ")])), Some(Duration::from_secs(2)));
        let both = headers(&[("retry-after", "7"), ("retry-after-ms", "250.5")]);
        assert_eq!(retry_after(&both), Some(Duration::from_micros(250_500)));
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(30));
        let wait = retry_after(&headers(&[("retry-after", &later)])).expect("an IMF-fixdate");
        assert!(wait > Duration::from_secs(25) && wait <= Duration::from_secs(30), "{wait:?}");
        // RFC 9110 §5.6.7: recipients also accept the obsolete RFC 850 and asctime forms; these dates are past.
        for past in ["Sunday, 06-Nov-94 08:49:37 GMT", "Sun Nov  6 08:49:37 1994", "Sun, 06 Nov 1994 08:49:37 GMT"] {
            assert_eq!(retry_after(&headers(&[("retry-after", past)])), Some(Duration::ZERO), "{past}");
        }
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }

    #[test]
    fn hostile_retry_after_values_are_ignored() {
        for hostile in ["-1", "NaN", "inf", "1e300", "1e400", "18446744073709551616000", "soon", ""] {
            let both = headers(&[("retry-after-ms", hostile), ("retry-after", hostile)]);
            assert_eq!(retry_after(&both), None, "{hostile}");
        }
    }

    #[test]
    fn backoff_doubles_up_to_its_cap_and_stays_jittered_within_bounds() {
        let backoff = Backoff { base: Duration::from_millis(100), max: Duration::from_secs(60) };
        for retry in 1..=6 {
            let ceiling = Duration::from_millis(100) * (1 << (retry - 1));
            for _ in 0..50 {
                let delay = backoff.delay(retry);
                assert!(delay >= ceiling / 10 && delay <= ceiling, "retry {retry}: {delay:?}");
            }
        }
        let capped = Backoff { base: Duration::from_secs(10), max: Duration::from_secs(8) };
        assert!(capped.delay(30) <= Duration::from_secs(8));
    }

    #[test]
    fn retries_honour_a_sane_server_wait_and_stop_when_spent_or_late() {
        let backoff = Backoff { base: Duration::from_millis(10), max: Duration::from_millis(10) };
        let mut retries = Retries::new(2, backoff, Duration::from_secs(60), Instant::now() + Duration::from_secs(30));
        assert_eq!(retries.after_failure(Some(Duration::from_secs(3))), Ok(Duration::from_secs(3)));
        // Longer than the server may ask for, or zero: backoff instead.
        assert!(retries.after_failure(Some(Duration::from_secs(600))).is_ok_and(|w| w <= Duration::from_millis(10)));
        assert_eq!(retries.after_failure(None), Err(GiveUp::Exhausted { attempts: 3 }));

        let mut late = Retries::new(5, backoff, Duration::from_secs(60), Instant::now() + Duration::from_secs(2));
        assert_eq!(late.after_failure(Some(Duration::from_secs(5))), Err(GiveUp::OutOfTime));
        let mut past = Retries::new(5, backoff, Duration::from_secs(60), Instant::now());
        assert_eq!(past.after_failure(None), Err(GiveUp::OutOfTime));
    }
}

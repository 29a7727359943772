//! One platform request, retried when retrying can help: a 5xx, a timeout or a dropped connection, with exponential
//! backoff and full jitter, never past the caller's deadline. Every other answer (2xx, 4xx, 429) goes back to the
//! connector, which knows what it means on its platform.

use std::time::Duration;

use rand::Rng;
use reqwest::{RequestBuilder, StatusCode, header::HeaderMap};
use tokio::time::Instant;

use super::{PlatformError, excerpt};
use crate::egress::EgressPolicy;

/// How a request is retried.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Retries after the first attempt.
    pub max_retries: u32,
    /// The first retry's delay (before jitter); each next one doubles.
    pub base: Duration,
    /// The longest one attempt may take.
    pub timeout: Duration,
}

/// A response read in full.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Vec<u8>,
}

impl Fetched {
    /// `Retry-After` in seconds (fractions allowed: Shopify sends `2.0`), when present and sane.
    pub fn retry_after(&self) -> Option<Duration> {
        let value = self.headers.get(reqwest::header::RETRY_AFTER)?.to_str().ok()?;
        let seconds: f64 = value.trim().parse().ok()?;
        (seconds.is_finite() && seconds >= 0.0).then(|| Duration::from_secs_f64(seconds.min(3600.0)))
    }
}

/// Sends the request `build` makes (called again for each attempt, so signatures and nonces are fresh) until it
/// gets an answer other than a 5xx, or retries or time run out.
pub async fn send(
    policy: RetryPolicy,
    deadline: Instant,
    build: impl Fn() -> Result<RequestBuilder, PlatformError>,
) -> Result<Fetched, PlatformError> {
    let mut retries = 0;
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(PlatformError::OutOfTime);
        }
        let failure = match build()?.timeout(policy.timeout.min(remaining)).send().await {
            Ok(response) => {
                let (status, headers) = (response.status(), response.headers().clone());
                match response.bytes().await {
                    Ok(body) if status.is_server_error() => format!("HTTP {status} ({})", excerpt(&body)),
                    Ok(body) => return Ok(Fetched { status, headers, body: body.to_vec() }),
                    Err(error) => transport_failure(&error)?,
                }
            }
            Err(error) => transport_failure(&error)?,
        };
        if Instant::now() >= deadline {
            return Err(PlatformError::OutOfTime);
        }
        retries += 1;
        if retries > policy.max_retries {
            return Err(PlatformError::Unavailable(format!("{failure}, after {retries} attempts")));
        }
        let delay = backoff(policy.base, retries);
        if Instant::now() + delay >= deadline {
            return Err(PlatformError::OutOfTime);
        }
        tracing::debug!(retries, ?delay, failure, "platform request failed; retrying");
        tokio::time::sleep(delay).await;
    }
}

/// Full jitter: a random delay up to `base * 2^(attempt-1)`, at least a tenth of it (capped at a minute).
pub fn backoff(base: Duration, attempt: u32) -> Duration {
    let ceiling = base.saturating_mul(1 << attempt.saturating_sub(1).min(16)).min(Duration::from_secs(60));
    let floor = ceiling / 10;
    floor + ceiling.saturating_sub(floor).mul_f64(rand::rng().random::<f64>())
}

/// A retryable failure's description, or the error to give up with. Messages come from `without_url`, so query
/// strings (which may carry keys) never reach a log or a job.
fn transport_failure(error: &reqwest::Error) -> Result<String, PlatformError> {
    if let Some(refused) = EgressPolicy::refusal_in(error) {
        return Err(refused.clone().into());
    }
    let kind = if error.is_timeout() {
        "timed out"
    } else if error.is_connect() {
        "could not connect"
    } else if error.is_body() || error.is_request() || error.is_decode() {
        "connection dropped"
    } else {
        return Err(PlatformError::Transport(strip_url(error)));
    };
    Ok(kind.to_owned())
}

fn strip_url(error: &reqwest::Error) -> String {
    let mut text = String::new();
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    let mut first = true;
    while let Some(cause) = source {
        let part = if first {
            // reqwest's own message names the URL; the kind is enough.
            if error.is_redirect() { "redirect".to_owned() } else { "request error".to_owned() }
        } else {
            cause.to_string()
        };
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&part);
        first = false;
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_stays_jittered_within_bounds() {
        for attempt in 1..6 {
            let ceiling = Duration::from_millis(100) * (1 << (attempt - 1));
            for _ in 0..50 {
                let delay = backoff(Duration::from_millis(100), attempt);
                assert!(delay <= ceiling && delay >= ceiling / 10, "attempt {attempt}: {delay:?}");
            }
        }
        assert!(backoff(Duration::from_secs(10), 30) <= Duration::from_secs(60));
    }
}

//! One platform request, retried when retrying can help: a 5xx, a timeout or a dropped connection, after the wait
//! the server asks for or with exponential backoff and full jitter ([`crate::retry`]), never past the caller's
//! deadline. Every other answer (2xx, 4xx, 429) goes back to the connector, which knows what it means on its platform.

use std::time::Duration;

use reqwest::{RequestBuilder, StatusCode, header::HeaderMap};
use tokio::time::Instant;

use super::{PlatformError, excerpt};
use crate::{
    egress::EgressPolicy,
    retry::{self, Backoff, GiveUp, Retries},
};

/// The longest backoff between two attempts, and the longest wait a 5xx's `Retry-After` may ask for.
const MAX_WAIT: Duration = Duration::from_secs(60);
/// The longest wait a throttling answer's `Retry-After` is taken at.
const MAX_THROTTLE_WAIT: Duration = Duration::from_secs(3600);

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
    /// The wait `Retry-After` asks for (see [`retry::retry_after`]), at most an hour.
    pub fn retry_after(&self) -> Option<Duration> {
        retry::retry_after(&self.headers).map(|wait| wait.min(MAX_THROTTLE_WAIT))
    }
}

/// Sends the request `build` makes (called again for each attempt, so signatures and nonces are fresh) until it
/// gets an answer other than a 5xx, or retries or time run out.
pub async fn send(
    policy: RetryPolicy,
    deadline: Instant,
    build: impl Fn() -> Result<RequestBuilder, PlatformError>,
) -> Result<Fetched, PlatformError> {
    let backoff = Backoff { base: policy.base, max: MAX_WAIT };
    let mut retries = Retries::new(policy.max_retries, backoff, MAX_WAIT, deadline);
    loop {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(PlatformError::OutOfTime);
        }
        let (failure, server_wait) = match build()?.timeout(policy.timeout.min(remaining)).send().await {
            Ok(response) => {
                let (status, headers) = (response.status(), response.headers().clone());
                match response.bytes().await {
                    Ok(body) if status.is_server_error() => {
                        (format!("HTTP {status} ({})", excerpt(&body)), retry::retry_after(&headers))
                    }
                    Ok(body) => return Ok(Fetched { status, headers, body: body.to_vec() }),
                    Err(error) => (transport_failure(&error)?, None),
                }
            }
            Err(error) => (transport_failure(&error)?, None),
        };
        let delay = match retries.after_failure(server_wait) {
            Ok(delay) => delay,
            Err(GiveUp::OutOfTime) => return Err(PlatformError::OutOfTime),
            Err(GiveUp::Exhausted { attempts }) => {
                return Err(PlatformError::Unavailable(format!("{failure}, after {attempts} attempts")));
            }
        };
        tracing::debug!(?delay, failure, "platform request failed; retrying");
        tokio::time::sleep(delay).await;
    }
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

//! The response envelope and its cost extension: the bucket the platform reports, and how long to wait for it.

use super::*;

/// The longest wait for the bucket that the platform's figures can ask for (a full 1,000-point bucket refills in 20
/// s at the slowest documented rate); the run's deadline cuts it shorter.
pub(super) const MAX_BUCKET_WAIT: Duration = Duration::from_secs(60);
/// `THROTTLED` answers tolerated for one query before giving up for this run.
pub(super) const MAX_THROTTLED: u32 = 20;

/// A successful response, parsed into the page's own types.
#[derive(Deserialize)]
pub(super) struct TypedEnvelope<T> {
    pub(super) data: Option<T>,
    #[serde(default)]
    pub(super) errors: Vec<GraphqlError>,
    pub(super) extensions: Option<Extensions>,
}

/// The GraphQL response envelope.
#[derive(Deserialize)]
pub(super) struct Envelope {
    pub(super) data: Option<Value>,
    #[serde(default)]
    pub(super) errors: Vec<GraphqlError>,
    pub(super) extensions: Option<Extensions>,
}

#[derive(Deserialize)]
pub(super) struct GraphqlError {
    #[serde(default)]
    pub(super) message: String,
    pub(super) extensions: Option<ErrorExtensions>,
}

#[derive(Deserialize)]
pub(super) struct ErrorExtensions {
    pub(super) code: Option<String>,
}

#[derive(Deserialize)]
pub(super) struct Extensions {
    pub(super) cost: Option<Cost>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct Cost {
    pub(super) throttle_status: Option<ThrottleStatus>,
}

#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct ThrottleStatus {
    pub(super) maximum_available: f64,
    pub(super) currently_available: f64,
    pub(super) restore_rate: f64,
}

/// What the client last learned about its bucket.
#[derive(Debug, Clone, Copy)]
pub(super) struct Bucket {
    pub(super) status: ThrottleStatus,
    pub(super) at: Instant,
}

impl Bucket {
    /// Points available now, assuming the bucket kept refilling since it was observed.
    pub(super) fn available_now(&self) -> f64 {
        let refilled = self.status.restore_rate * self.at.elapsed().as_secs_f64();
        (self.status.currently_available + refilled).min(self.status.maximum_available)
    }

    /// How long until `cost` points are available.
    pub(super) fn wait_for(&self, cost: f64) -> Duration {
        let missing = cost - self.available_now();
        if missing <= 0.0 || self.status.restore_rate <= 0.0 {
            Duration::ZERO
        } else {
            // The figures come from the platform: a near-zero restore rate must not overflow (or panic) the wait.
            Duration::try_from_secs_f64(missing / self.status.restore_rate)
                .unwrap_or(MAX_BUCKET_WAIT)
                .min(MAX_BUCKET_WAIT)
        }
    }
}

/// How throttling went, for logs and tests.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct ThrottleStats {
    /// `THROTTLED` answers received.
    pub throttled: u32,
    /// Total time spent waiting for the bucket.
    pub waited: Duration,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_the_missing_points_over_the_restore_rate() {
        let bucket = Bucket {
            status: ThrottleStatus { maximum_available: 1000.0, currently_available: 100.0, restore_rate: 50.0 },
            at: Instant::now(),
        };
        let wait = bucket.wait_for(600.0).as_secs_f64();
        assert!((9.9..=10.0).contains(&wait), "{wait}");
        assert_eq!(bucket.wait_for(50.0), Duration::ZERO);
        let hostile = Bucket {
            status: ThrottleStatus { maximum_available: 1e308, currently_available: 0.0, restore_rate: 1e-308 },
            at: Instant::now(),
        };
        assert_eq!(
            hostile.wait_for(1000.0),
            MAX_BUCKET_WAIT,
            "a near-zero restore rate neither panics nor waits forever"
        );
    }
}

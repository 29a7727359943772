//! The app's metrics, named after OpenTelemetry's semantic conventions where one exists. Instruments come from the
//! global meter on first use (after [`super::init`]); without an installed provider they record nothing.

use std::sync::LazyLock;

use opentelemetry::{
    global,
    metrics::{Counter, Gauge, Histogram},
};

/// The instruments.
pub struct Metrics {
    /// `http.server.request.duration` (s), by `http.request.method`, `http.route`, `http.response.status_code`.
    pub http_request_duration: Histogram<f64>,
    /// `faas.invocations`, by `faas.trigger` (the function) and `outcome` (`ok` or `failed`).
    pub invocations: Counter<u64>,
    /// `faas.invoke_duration` (s), by `faas.trigger`.
    pub invoke_duration: Histogram<f64>,
    /// `sync.lag` (s): how long ago each enabled store last completed a sync (since it was connected, if never), by
    /// `store.id`.
    pub sync_lag: Gauge<f64>,
    /// `sync.queue.depth` ({store}): stores queued for sync and not yet taken, after each tick.
    pub sync_queue_depth: Gauge<u64>,
    /// `video.probe.bytes_read` (By): bytes the probe read from storage.
    pub probe_bytes_read: Counter<u64>,
}

static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let meter = global::meter(super::otlp::SERVICE_NAME);
    Metrics {
        http_request_duration: meter
            .f64_histogram("http.server.request.duration")
            .with_unit("s")
            .with_description("Duration of HTTP server requests.")
            .with_boundaries(vec![0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0])
            .build(),
        invocations: meter.u64_counter("faas.invocations").with_description("Trigger invocations.").build(),
        invoke_duration: meter
            .f64_histogram("faas.invoke_duration")
            .with_unit("s")
            .with_description("Duration of trigger invocations.")
            .build(),
        sync_lag: meter
            .f64_gauge("sync.lag")
            .with_unit("s")
            .with_description("Time since each enabled store last completed a sync.")
            .build(),
        sync_queue_depth: meter
            .u64_gauge("sync.queue.depth")
            .with_unit("{store}")
            .with_description("Stores queued for sync and not yet taken by a SyncStore run.")
            .build(),
        probe_bytes_read: meter
            .u64_counter("video.probe.bytes_read")
            .with_unit("By")
            .with_description("Bytes the video probe read from storage.")
            .build(),
    }
});

/// The instruments.
pub fn metrics() -> &'static Metrics {
    &METRICS
}

//! Logging, traces and metrics. Deployed hosts ship stdout to Application Insights or CloudWatch, so they log JSON; a
//! developer reads the pretty form. The sink is a parameter so tests can keep quiet. With the standard `OTEL_*`
//! settings, spans and metrics also go to an OTLP collector ([`otlp`]); [`metrics`] holds the instruments.

use tracing_subscriber::{EnvFilter, Layer, fmt::MakeWriter, layer::SubscriberExt, util::SubscriberInitExt};

pub mod metrics;
pub mod otlp;

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for log shippers.
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

/// Installs the global subscriber, and OTLP export when the environment asks for it. `default_filter` applies when
/// `RUST_LOG` is unset (and to exported spans too). Calling it twice is harmless (the second call does nothing),
/// which keeps test harnesses simple.
pub fn init<W>(format: LogFormat, default_filter: &str, sink: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let (spans, otlp_error) = match otlp::requested().then(otlp::install) {
        None => (None, None),
        Some(Ok(tracer)) => (Some(tracing_opentelemetry::layer().with_tracer(tracer)), None),
        Some(Err(error)) => (None, Some(error)),
    };
    let logs = match format {
        LogFormat::Json => tracing_subscriber::fmt::layer()
            .json()
            .flatten_event(true)
            .with_current_span(true)
            .with_writer(sink)
            .boxed(),
        LogFormat::Pretty => tracing_subscriber::fmt::layer().compact().with_writer(sink).boxed(),
    };
    let _already_set = tracing_subscriber::registry().with(filter).with(spans).with(logs).try_init();
    if let Some(error) = otlp_error {
        tracing::warn!(%error, "telemetry export");
    }
}

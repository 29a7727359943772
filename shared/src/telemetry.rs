//! Logging setup. Deployed hosts ship stdout to Application Insights or CloudWatch, so they log JSON; a developer
//! reads the pretty form. The sink is a parameter so tests can keep quiet.

use tracing_subscriber::{EnvFilter, fmt::MakeWriter, layer::SubscriberExt, util::SubscriberInitExt};

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogFormat {
    /// One JSON object per line, for log shippers.
    Json,
    /// Human-readable lines, for a terminal.
    Pretty,
}

/// Installs the global subscriber. `default_filter` applies when `RUST_LOG` is unset. Calling it twice is harmless
/// (the second call does nothing), which keeps test harnesses simple.
pub fn init<W>(format: LogFormat, default_filter: &str, sink: W)
where
    W: for<'a> MakeWriter<'a> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(default_filter));
    let registry = tracing_subscriber::registry().with(filter);
    let _already_set = match format {
        LogFormat::Json => registry
            .with(tracing_subscriber::fmt::layer().json().flatten_event(true).with_current_span(true).with_writer(sink))
            .try_init(),
        LogFormat::Pretty => registry.with(tracing_subscriber::fmt::layer().compact().with_writer(sink)).try_init(),
    };
}

//! OpenTelemetry export over OTLP/HTTP, configured by the standard variables: on when `OTEL_EXPORTER_OTLP_ENDPOINT`
//! (or a per-signal `OTEL_EXPORTER_OTLP_{TRACES,METRICS}_ENDPOINT`) is set and `OTEL_SDK_DISABLED` is not `true`;
//! `OTEL_EXPORTER_OTLP_PROTOCOL` `http/protobuf` (the default) or `http/json`; `OTEL_SERVICE_NAME` (default
//! `retail-ai-advisor`), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_EXPORTER_OTLP_HEADERS`, `OTEL_METRIC_EXPORT_INTERVAL` and
//! the batch span processor's `OTEL_BSP_*` as the SDK reads them. Exporters run on their own threads, so a slow
//! collector never holds up a request; a collector that is down costs dropped telemetry, never an error.

use std::sync::OnceLock;

use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::{MetricExporter, Protocol, SpanExporter, WithExportConfig};
use opentelemetry_sdk::{Resource, metrics::SdkMeterProvider, trace::SdkTracer, trace::SdkTracerProvider};

/// The name spans and metrics are reported under when `OTEL_SERVICE_NAME` is unset.
pub const SERVICE_NAME: &str = "retail-ai-advisor";

/// The installed providers, kept for the flush at exit.
static PROVIDERS: OnceLock<(SdkTracerProvider, SdkMeterProvider)> = OnceLock::new();

/// Why export could not start (it stays off; the app runs on).
#[derive(Debug, thiserror::Error)]
#[error("OpenTelemetry export is off: {0}")]
pub struct OtlpError(String);

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|value| !value.trim().is_empty())
}

/// Whether the environment asks for export.
pub fn requested() -> bool {
    let endpoint =
        ["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT"]
            .iter()
            .any(|name| env(name).is_some());
    endpoint && env("OTEL_SDK_DISABLED").is_none_or(|disabled| !disabled.eq_ignore_ascii_case("true"))
}

fn protocol() -> Result<Protocol, OtlpError> {
    match env("OTEL_EXPORTER_OTLP_PROTOCOL").as_deref() {
        None | Some("http/protobuf") => Ok(Protocol::HttpBinary),
        Some("http/json") => Ok(Protocol::HttpJson),
        Some(other) => Err(OtlpError(format!(
            "OTEL_EXPORTER_OTLP_PROTOCOL `{other}` is not supported (use http/protobuf or http/json)"
        ))),
    }
}

/// Installs the global meter provider and answers the tracer for the `tracing` layer.
pub fn install() -> Result<SdkTracer, OtlpError> {
    let protocol = protocol()?;
    let mut resource = Resource::builder();
    if env("OTEL_SERVICE_NAME").is_none() {
        resource = resource.with_service_name(SERVICE_NAME);
    }
    let resource = resource.build();
    let spans = SpanExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
        .map_err(|e| OtlpError(format!("span exporter: {e}")))?;
    let metrics = MetricExporter::builder()
        .with_http()
        .with_protocol(protocol)
        .build()
        .map_err(|e| OtlpError(format!("metric exporter: {e}")))?;
    let tracer_provider =
        SdkTracerProvider::builder().with_resource(resource.clone()).with_batch_exporter(spans).build();
    let meter_provider = SdkMeterProvider::builder().with_resource(resource).with_periodic_exporter(metrics).build();
    opentelemetry::global::set_meter_provider(meter_provider.clone());
    let tracer = tracer_provider.tracer(SERVICE_NAME);
    let _already = PROVIDERS.set((tracer_provider, meter_provider));
    Ok(tracer)
}

/// Exports what is pending and stops the exporters: at the end of the process.
pub fn shutdown() {
    if let Some((tracer_provider, meter_provider)) = PROVIDERS.get() {
        let _ = tracer_provider.shutdown();
        let _ = meter_provider.shutdown();
    }
}

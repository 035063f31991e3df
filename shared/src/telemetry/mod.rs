//! Logs, traces and metrics for every binary. [`init`] installs JSON (or pretty) logs that carry
//! the trace and span ids, an OpenTelemetry tracer (exported over OTLP/gRPC when configured,
//! UPNs masked: `redact`) and
//! the W3C propagator; [`inject_trace_context`] and [`extract_trace_context`] carry
//! `traceparent`/`tracestate` through AMQP headers; [`Metrics`] counts and logs each outcome.
//!
//! Not for: deciding outcomes (`amqp`) or serving metrics over HTTP (`health`).

mod graph_observer;
mod json;
mod metrics;
mod redact;

pub use graph_observer::{GraphObserver, NoopObserver};
pub use metrics::{BrokerLink, Metrics};

use std::io::IsTerminal as _;

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use opentelemetry::propagation::{Extractor, Injector, TextMapPropagator as _};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_otlp::WithExportConfig as _;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use opentelemetry_sdk::trace::SdkTracerProvider;
use tracing::Level;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::{EnvFilter, Layer as _};

use crate::config::{LogFormat, TelemetrySettings};
use crate::error::{Classify, ErrorClass};

/// Telemetry could not be set up. Both are configuration mistakes found at start-up.
#[derive(Debug, thiserror::Error)]
pub enum TelemetryError {
    /// `telemetry.log_filter` is not a valid filter directive.
    #[error("telemetry.log_filter: {0}")]
    Filter(#[from] tracing_subscriber::filter::ParseError),
    /// The OTLP exporter for `telemetry.otlp_endpoint` could not be built.
    #[error("telemetry.otlp_endpoint: cannot build the OTLP exporter: {0}")]
    Otlp(#[from] opentelemetry_otlp::ExporterBuildError),
}

impl Classify for TelemetryError {
    fn class(&self) -> ErrorClass {
        match self {
            TelemetryError::Filter(_) => ErrorClass::Permanent,
            TelemetryError::Otlp(_) => ErrorClass::Permanent,
        }
    }
}

/// Keeps telemetry installed; on drop, flushes buffered spans and uninstalls a thread-local
/// subscriber. Hold it in `main` until the process ends.
pub struct TelemetryGuard {
    provider: SdkTracerProvider,
    // `None` when this subscriber became the global default, which cannot be uninstalled.
    _scoped: Option<tracing::subscriber::DefaultGuard>,
}

impl Drop for TelemetryGuard {
    fn drop(&mut self) {
        if let Err(e) = self.provider.shutdown() {
            // The subscriber may be gone already; stderr is all that is left.
            eprintln!("telemetry: flushing spans failed: {e}");
        }
    }
}

/// Installs logging and tracing for `service`. The first call in a process installs the global
/// default; later calls (tests) install a thread-local default instead of failing, so a test
/// can capture its own output. Call it inside the tokio runtime: the OTLP exporter needs one.
pub fn init<W>(
    service: &str,
    cfg: &TelemetrySettings,
    writer: W,
) -> Result<TelemetryGuard, TelemetryError>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let provider = tracer_provider(service, &cfg.otlp_endpoint)?;
    let tracer = provider.tracer(service.to_owned());
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    // The filter goes on the log layer only: in front of both layers it would also drop the
    // spans, and with them the trace ids and traceparent headers (stack §5).
    let filter = EnvFilter::try_new(&cfg.log_filter)?;
    let logs = match cfg.log_format {
        LogFormat::Json => json::JsonLogLayer::new(writer).with_filter(filter).boxed(),
        LogFormat::Pretty => pretty_layers(writer, filter, EnvFilter::try_new(&cfg.log_filter)?),
    };
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_opentelemetry::layer()
                .with_tracer(tracer)
                .with_filter(exported()),
        )
        .with(logs);
    let dispatch = tracing::Dispatch::new(subscriber);
    let scoped = match tracing::dispatcher::set_global_default(dispatch.clone()) {
        Ok(()) => None,
        Err(_) => Some(tracing::dispatcher::set_default(&dispatch)),
    };
    Ok(TelemetryGuard {
        provider,
        _scoped: scoped,
    })
}

/// One writer for two layers.
struct SharedWriter<W>(std::sync::Arc<W>);

impl<W> Clone for SharedWriter<W> {
    fn clone(&self) -> Self {
        SharedWriter(self.0.clone())
    }
}

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for SharedWriter<W> {
    type Writer = W::Writer;
    fn make_writer(&'a self) -> W::Writer {
        self.0.make_writer()
    }
    fn make_writer_for(&'a self, meta: &tracing::Metadata<'_>) -> W::Writer {
        self.0.make_writer_for(meta)
    }
}

/// Logs for a person at a terminal. Source locations only on WARN and ERROR, where a developer
/// may need them; an INFO line (an expected retry, a step done) reads as a sentence. Spans go to
/// both layers so both print the span context.
fn pretty_layers<S, W>(
    writer: W,
    filter: EnvFilter,
    filter_again: EnvFilter,
) -> Box<dyn tracing_subscriber::Layer<S> + Send + Sync>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    use tracing_subscriber::filter::{FilterExt as _, filter_fn};
    let writer = SharedWriter(std::sync::Arc::new(writer));
    // Colours only for a person at a terminal: a log piped to a file or captured by a test
    // must not carry escape codes. Callers write to stdout or stderr.
    let ansi = std::io::stdout().is_terminal() && std::io::stderr().is_terminal();
    let trouble = filter_fn(|m| !m.is_event() || *m.level() <= Level::WARN);
    let routine = filter_fn(|m| !m.is_event() || *m.level() > Level::WARN);
    let located = tracing_subscriber::fmt::layer()
        .pretty()
        .with_ansi(ansi)
        .with_writer(writer.clone())
        .with_filter(filter.and(trouble));
    let plain = tracing_subscriber::fmt::layer()
        .pretty()
        .with_file(false)
        .with_line_number(false)
        .with_ansi(ansi)
        .with_writer(writer)
        .with_filter(filter_again.and(routine));
    located.and_then(plain).boxed()
}

/// What reaches the collector: spans and events at INFO and above (every span of ours is INFO),
/// and nothing of the HTTP/2, gRPC and AMQP crates. They trace their internals — frames, flow
/// control, the exporter's own connection, lapin's connection-long `io_loop` — so without this
/// filter nearly every exported span was an h2 frame, many of them the export's own, and
/// Jaeger held a trace of itself. Their warnings still reach the logs.
fn exported() -> Targets {
    Targets::new().with_default(Level::INFO).with_targets(
        [
            "h2",
            "hyper",
            "hyper_util",
            "tonic",
            "tower",
            "opentelemetry",
            "lapin",
        ]
        .map(|target| (target, LevelFilter::OFF)),
    )
}

fn tracer_provider(service: &str, endpoint: &str) -> Result<SdkTracerProvider, TelemetryError> {
    let resource = opentelemetry_sdk::Resource::builder()
        .with_service_name(service.to_owned())
        .build();
    let builder = SdkTracerProvider::builder().with_resource(resource);
    // Without an exporter spans still get ids, so logs and traceparent headers stay useful.
    if endpoint.is_empty() {
        return Ok(builder.build());
    }
    let exporter = opentelemetry_otlp::SpanExporter::builder()
        .with_tonic()
        .with_endpoint(endpoint)
        .build()?;
    let batch = opentelemetry_sdk::trace::BatchSpanProcessor::builder(exporter).build();
    Ok(builder
        .with_span_processor(redact::RedactUpns(batch))
        .build())
}

// === W3C trace context in AMQP headers ===

struct HeaderInjector<'a>(&'a mut FieldTable);

impl Injector for HeaderInjector<'_> {
    fn set(&mut self, key: &str, value: String) {
        self.0.insert(
            ShortString::from(key),
            AMQPValue::LongString(LongString::from(value)),
        );
    }
}

struct HeaderExtractor<'a>(&'a FieldTable);

impl Extractor for HeaderExtractor<'_> {
    fn get(&self, key: &str) -> Option<&str> {
        match self.0.inner().get(key)? {
            AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok(),
            AMQPValue::ShortString(s) => Some(s.as_str()),
            _ => None,
        }
    }

    fn keys(&self) -> Vec<&str> {
        self.0.inner().keys().map(|k| k.as_str()).collect()
    }
}

/// Writes `traceparent` (and `tracestate`) of the current span into `headers`.
pub fn inject_trace_context(headers: &mut FieldTable) {
    let cx = tracing::Span::current().context();
    // The propagator is used directly, not the global one, so that publishing carries the trace
    // even in a process that never called `init`.
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(headers));
}

/// `traceparent` (and `tracestate`) of the current span as HTTP header pairs, for outgoing
/// requests: Graph ignores them, but a proxy or the emulator logs them with the trace.
pub fn trace_context_http_headers() -> Vec<(String, String)> {
    let cx = tracing::Span::current().context();
    let mut pairs = std::collections::HashMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut pairs);
    pairs.into_iter().collect()
}

/// Reads `traceparent`/`tracestate` from `headers`; an empty context when absent or malformed.
pub fn extract_trace_context(headers: &FieldTable) -> opentelemetry::Context {
    TraceContextPropagator::new().extract(&HeaderExtractor(headers))
}

/// Makes `span` a child of the trace context `headers` carry (nothing if they carry none).
/// Call it before the span is first entered: a started span keeps its parent.
pub fn continue_trace_from(span: &tracing::Span, headers: &FieldTable) {
    let _ = span.set_parent(extract_trace_context(headers));
}

/// The trace id of the current span as 32 hex digits, or `None` outside a recorded span.
pub fn current_trace_id() -> Option<String> {
    use opentelemetry::trace::TraceContextExt as _;
    let cx = tracing::Span::current().context();
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| sc.trace_id().to_string())
}

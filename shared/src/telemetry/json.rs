//! The JSON log line: one object per event with its fields, the fields of the spans it is in,
//! and the OpenTelemetry `trace_id`/`span_id` of its span, so a log search can jump to the
//! trace. Not for filtering (the `EnvFilter` wraps this layer) or for exporting spans.

use std::io::Write as _;
use std::sync::OnceLock;

use opentelemetry::trace::TraceContextExt as _;
use serde_json::{Map, Value};
use tracing::field::{Field, Visit};
use tracing::{Dispatch, Event, Subscriber, dispatcher::WeakDispatch, span};
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::{Context, Layer};
use tracing_subscriber::registry::LookupSpan;

/// Writes each event as one JSON line to `make_writer`.
pub(super) struct JsonLogLayer<W> {
    make_writer: W,
    // The OpenTelemetry layer's context is reachable only through the dispatch it lives in,
    // and a layer cannot call `Span::current()` from inside a callback (re-entrancy yields none).
    dispatch: OnceLock<WeakDispatch>,
}

impl<W> JsonLogLayer<W> {
    pub(super) fn new(make_writer: W) -> Self {
        JsonLogLayer {
            make_writer,
            dispatch: OnceLock::new(),
        }
    }
}

/// The recorded fields of a span, kept in its extensions.
struct SpanFields(Map<String, Value>);

struct JsonVisitor<'a>(&'a mut Map<String, Value>);

impl Visit for JsonVisitor<'_> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_i64(&mut self, field: &Field, value: i64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_u64(&mut self, field: &Field, value: u64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_bool(&mut self, field: &Field, value: bool) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_f64(&mut self, field: &Field, value: f64) {
        self.0.insert(field.name().to_owned(), Value::from(value));
    }
    fn record_error(&mut self, field: &Field, value: &(dyn std::error::Error + 'static)) {
        self.0
            .insert(field.name().to_owned(), Value::from(value.to_string()));
    }
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0
            .insert(field.name().to_owned(), Value::from(format!("{value:?}")));
    }
}

impl<S, W> Layer<S> for JsonLogLayer<W>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    W: for<'w> MakeWriter<'w> + 'static,
{
    fn on_register_dispatch(&self, subscriber: &Dispatch) {
        let _ = self.dispatch.set(subscriber.downgrade());
    }

    fn on_new_span(&self, attrs: &span::Attributes<'_>, id: &span::Id, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut fields = Map::new();
        attrs.record(&mut JsonVisitor(&mut fields));
        span.extensions_mut().insert(SpanFields(fields));
    }

    fn on_record(&self, id: &span::Id, values: &span::Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let mut extensions = span.extensions_mut();
        if let Some(SpanFields(fields)) = extensions.get_mut::<SpanFields>() {
            values.record(&mut JsonVisitor(fields));
        }
    }

    fn on_event(&self, event: &Event<'_>, ctx: Context<'_, S>) {
        let mut line = Map::new();
        let now = time::OffsetDateTime::now_utc();
        let timestamp = now
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
        line.insert("timestamp".into(), Value::from(timestamp));
        line.insert(
            "level".into(),
            Value::from(event.metadata().level().as_str()),
        );
        line.insert("target".into(), Value::from(event.metadata().target()));
        let mut fields = Map::new();
        event.record(&mut JsonVisitor(&mut fields));
        line.insert("fields".into(), Value::Object(fields));
        if let Some(span) = ctx.event_span(event) {
            // Outer spans first, so an inner span's field of the same name wins.
            let mut span_fields = Map::new();
            for s in span.scope().from_root() {
                if let Some(SpanFields(f)) = s.extensions().get::<SpanFields>() {
                    span_fields.extend(f.clone());
                }
            }
            line.insert("span".into(), Value::from(span.name()));
            line.insert("span_fields".into(), Value::Object(span_fields));
        }
        self.insert_trace_ids(event, &mut line);
        let mut text = Value::Object(line).to_string();
        text.push('\n');
        let _ = self.make_writer.make_writer().write_all(text.as_bytes());
    }
}

impl<W> JsonLogLayer<W> {
    /// The ids come from the unfiltered registry: the log filter may hide the event's span from
    /// this layer (a WARN line inside an INFO span with `log_filter = "warn"`), but the line
    /// must still name its trace.
    fn insert_trace_ids(&self, event: &Event<'_>, line: &mut Map<String, Value>) {
        let Some(dispatch) = self.dispatch.get().and_then(WeakDispatch::upgrade) else {
            return;
        };
        let span_id = if event.is_contextual() {
            dispatch.current_span().id().cloned()
        } else {
            event.parent().cloned()
        };
        let Some(cx) =
            span_id.and_then(|id| tracing_opentelemetry::get_otel_context(&id, &dispatch))
        else {
            return;
        };
        let otel_span = cx.span();
        let sc = otel_span.span_context();
        if sc.is_valid() {
            line.insert("trace_id".into(), Value::from(sc.trace_id().to_string()));
            line.insert("span_id".into(), Value::from(sc.span_id().to_string()));
        }
    }
}

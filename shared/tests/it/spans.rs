//! The spans the runtime records for one message, read back from a recording layer: names,
//! kinds and attributes in the OpenTelemetry messaging conventions (what tracing-opentelemetry
//! exports: `otel.name` becomes the span name, `otel.kind` its kind, every other field an
//! attribute), and our own attributes under `onboarding.*` only.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing_subscriber::layer::{Context, SubscriberExt as _};
use tracing_subscriber::registry::LookupSpan;

use crate::helpers::*;

/// One recorded span: its fields as text, `otel.name` and `otel.kind` included.
type Recorded = BTreeMap<String, String>;

/// Records every span's fields, as created and as later recorded.
#[derive(Clone, Default)]
struct Recorder {
    spans: Arc<Mutex<Vec<Recorded>>>,
}

struct Fields<'a>(&'a mut Recorded);

impl Visit for Fields<'_> {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().to_owned(), format!("{value:?}"));
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        self.0.insert(field.name().to_owned(), value.to_owned());
    }
}

/// Where a span's fields live in the recorder: its index, kept in the span's extensions.
struct Slot(usize);

impl<S: tracing::Subscriber + for<'a> LookupSpan<'a>> tracing_subscriber::Layer<S> for Recorder {
    fn on_new_span(&self, attrs: &Attributes<'_>, id: &Id, ctx: Context<'_, S>) {
        let mut fields = Recorded::new();
        attrs.record(&mut Fields(&mut fields));
        let mut spans = self.spans.lock().unwrap();
        spans.push(fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(Slot(spans.len() - 1));
        }
    }
    fn on_record(&self, id: &Id, values: &Record<'_>, ctx: Context<'_, S>) {
        let Some(span) = ctx.span(id) else { return };
        let Some(Slot(index)) = span.extensions().get::<Slot>().map(|s| Slot(s.0)) else {
            return;
        };
        values.record(&mut Fields(&mut self.spans.lock().unwrap()[index]));
    }
}

impl Recorder {
    fn named(&self, name: &str) -> Option<Recorded> {
        let spans = self.spans.lock().unwrap();
        spans
            .iter()
            .find(|s| s.get("otel.name").map(String::as_str) == Some(name))
            .cloned()
    }
}

fn assert_fields(span: &Recorded, expected: &[(&str, &str)]) {
    for (key, value) in expected {
        assert_eq!(
            span.get(*key).map(String::as_str),
            Some(*value),
            "{key} in {span:#?}"
        );
    }
}

/// The RabbitMQ attributes the conventions define; anything else under `messaging.rabbitmq.`
/// would be invented, and ours belong under `onboarding.`.
const RABBITMQ_DEFINED: [&str; 2] = [
    "messaging.rabbitmq.destination.routing_key",
    "messaging.rabbitmq.message.delivery_tag",
];

// The recorder is this thread's default subscriber, and the current-thread runtime of
// `#[tokio::test]` runs every task of the consumer on this thread, so it sees all their spans.
#[tokio::test]
async fn one_message_gives_process_send_and_settle_spans_in_the_messaging_conventions() {
    let recorder = Recorder::default();
    let _default =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(recorder.clone()));
    let broker = TestBroker::new("spans", &[]).await;
    let topology = broker.declare().await;
    let mut outcomes = broker.watch(USER_READY).await;
    let (handler, _calls) = Scripted::always(Script::Succeed);
    let running = Running::start(&broker, handler);

    let hire = broker.publish_hire("ada@contoso.test").await;
    outcomes.next("the user.ready outcome").await;
    let (queue, exchange) = (topology.queue.as_str(), topology.exchange.as_str());
    let ack_name = format!("ack {queue}");
    let ack = eventually("the ack span", Duration::from_secs(5), || {
        let found = recorder.named(&ack_name);
        async move { found }
    })
    .await;

    let process = recorder
        .named(&format!("process {queue}"))
        .expect("a process span");
    assert_fields(
        &process,
        &[
            ("otel.kind", "consumer"),
            ("messaging.system", "rabbitmq"),
            ("messaging.operation.type", "process"),
            ("messaging.operation.name", "process"),
            ("messaging.destination.name", exchange),
            ("messaging.destination.subscription.name", queue),
            (
                "messaging.rabbitmq.destination.routing_key",
                "hr.employee.hired",
            ),
            ("messaging.message.id", hire.id.as_str()),
            ("cloudevents.event_type", "hr.employee.hired"),
            ("onboarding.attempt", "1"),
            ("onboarding.service", "new-hire"),
        ],
    );
    assert!(
        process.contains_key("messaging.rabbitmq.message.delivery_tag"),
        "{process:#?}"
    );
    let send = recorder
        .named(&format!("publish {exchange}"))
        .expect("the outcome's send span");
    assert_fields(
        &send,
        &[
            ("otel.kind", "producer"),
            ("messaging.system", "rabbitmq"),
            ("messaging.operation.type", "send"),
            ("messaging.operation.name", "publish"),
            ("messaging.destination.name", exchange),
            ("messaging.rabbitmq.destination.routing_key", USER_READY),
            ("cloudevents.event_type", USER_READY),
        ],
    );
    assert_fields(
        &ack,
        &[
            ("messaging.system", "rabbitmq"),
            ("messaging.operation.type", "settle"),
            ("messaging.operation.name", "ack"),
        ],
    );
    for span in recorder.spans.lock().unwrap().iter() {
        for key in span.keys().filter(|k| k.starts_with("messaging.rabbitmq.")) {
            assert!(
                RABBITMQ_DEFINED.contains(&key.as_str()),
                "{key} in {span:#?}"
            );
        }
        assert_ne!(
            span.get("messaging.operation.type").map(String::as_str),
            Some("publish"),
            "the deprecated operation type: {span:#?}"
        );
    }
    running.stop().await;
    broker.cleanup().await;
}

//! The vocabulary between a service and the runtime: the [`Handler`] trait a service implements,
//! what the runtime tells it about a delivery ([`DeliveryInfo`]), which queue it consumes
//! ([`ConsumerSpec`], with the names of that queue's delay tiers and dead-letter queue), and
//! [`parse_and_handle`], the one step from a delivery's bytes to a handler's typed outcome. The
//! runtime settles with it, and `onboardctl dead replay --dry-run` plans with it, so a plan
//! cannot drift from what a replay does.
//!
//! Not for: the broker. Nothing here touches a channel; this is the bottom of the runtime, and
//! it imports no other module of `amqp`.

use std::future::Future;
use std::time::Duration;

use serde::de::DeserializeOwned;
use time::OffsetDateTime;

use crate::config::{AmqpSettings, Service};
use crate::error::Classify;
use crate::events::{Envelope, Event, InvalidEvent, parse_event};

/// What a service does with one event. Called once per delivery, possibly concurrently
/// (`amqp.concurrency`) and possibly more than once for the same event (redeliveries), so it
/// must be idempotent: read Graph, compare, write only what is missing.
pub trait Handler: Send + Sync + 'static {
    /// The event consumed; its [`Event::TYPE`] is the routing key of the work queue.
    type In: Event + DeserializeOwned;
    /// The outcome event published on success, under its own [`Event::TYPE`].
    type Out: Event;
    /// Classified, so the runtime can choose between a delay tier and the dead-letter queue.
    type Error: Classify + Send + Sync + 'static;
    /// Makes the event's effect true and says what is now true.
    fn handle(
        &self,
        event: &Envelope<Self::In>,
        delivery: &DeliveryInfo,
    ) -> impl Future<Output = Result<Self::Out, Self::Error>> + Send;
}

/// What the runtime knows about a delivery besides the event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryInfo {
    /// 1 on the first try; `x-onboarding-attempts` + 1 after a delay tier.
    pub attempt: u32,
    /// When the runtime first received this event (kept across retries).
    pub first_seen: OffsetDateTime,
    /// The AMQP `message_id`, which is the CloudEvents `id`.
    pub message_id: String,
    /// The broker delivered it before (a crash or reconnect interrupted a previous try).
    pub redelivered: bool,
}

impl DeliveryInfo {
    /// A first delivery seen now: what a dry run plans with (a replay starts afresh).
    pub fn first(message_id: &str) -> Self {
        DeliveryInfo {
            attempt: 1,
            first_seen: OffsetDateTime::now_utc(),
            message_id: message_id.to_owned(),
            redelivered: false,
        }
    }
}

/// Which queue a service consumes and which event type it expects there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSpec {
    /// The consuming service: names the connection, the outcome `source` and dead letters.
    pub service: Service,
    /// The work queue, from `[amqp.queues]`.
    pub queue: String,
    /// The key the work queue is bound with: the consumed event's type.
    pub routing_key: String,
    /// The CloudEvents `type` a delivery must have.
    pub event_type: String,
}

impl ConsumerSpec {
    /// The spec of `service` consuming with `H`: the queue from the settings, the routing key
    /// from `H::In` (`None` for the CLI, which consumes nothing).
    pub fn for_handler<H: Handler>(service: Service, amqp: &AmqpSettings) -> Option<Self> {
        Some(ConsumerSpec {
            service,
            queue: service.queue(amqp)?.to_owned(),
            routing_key: H::In::TYPE.to_owned(),
            event_type: H::In::TYPE.to_owned(),
        })
    }

    /// `<queue>.dead`: where a message given up on waits for an admin.
    pub fn dead_queue(&self) -> String {
        format!("{}.dead", self.queue)
    }

    /// `<queue>.delay.<tier>`: where a message waits `ttl` before its next attempt.
    pub fn delay_queue(&self, ttl: Duration) -> String {
        format!("{}.delay.{}", self.queue, tier_label(ttl))
    }
}

/// A tier's name part and metric label: humantime without spaces (`200ms`, `5m`, `1h30m`).
pub fn tier_label(d: Duration) -> String {
    // Whole milliseconds keep labels short; sub-millisecond tiers are refused by validation.
    let d = Duration::from_millis(u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    humantime::format_duration(d).to_string().replace(' ', "")
}

/// Why a delivery produced no outcome.
#[derive(Debug)]
pub enum Rejected<E> {
    /// It is not a valid event of the handler's input type: permanent, the handler never ran.
    Invalid(InvalidEvent),
    /// The handler ran and failed with this (classified) error.
    Failed(E),
}

/// A delivery's body as it arrived, with the limit it is checked against.
#[derive(Debug, Clone, Copy)]
pub struct Body<'a> {
    /// The AMQP `content_type`.
    pub content_type: Option<&'a str>,
    /// The message bytes.
    pub bytes: &'a [u8],
    /// `amqp.max_body_bytes`.
    pub max_bytes: usize,
}

/// Parses `body` as an event of `H::In` and runs `handler` on it. Records the event's type and
/// subject on the current span (the consume span fields `cloudevents.event_type` and
/// `cloudevents.event_subject`), so operators find an event by its subject.
pub async fn parse_and_handle<H: Handler>(
    handler: &H,
    body: Body<'_>,
    delivery: &DeliveryInfo,
) -> Result<H::Out, Rejected<H::Error>> {
    let event: Envelope<H::In> =
        parse_event(body.content_type, body.bytes, body.max_bytes).map_err(Rejected::Invalid)?;
    let span = tracing::Span::current();
    span.record("cloudevents.event_type", event.event_type.as_str());
    if let Some(subject) = &event.subject {
        span.record("cloudevents.event_subject", subject.as_str());
    }
    handler
        .handle(&event, delivery)
        .await
        .map_err(Rejected::Failed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tier_labels_have_no_spaces() {
        assert_eq!(tier_label(Duration::from_millis(200)), "200ms");
        assert_eq!(tier_label(Duration::from_secs(300)), "5m");
        assert_eq!(tier_label(Duration::from_secs(5400)), "1h30m");
    }
}

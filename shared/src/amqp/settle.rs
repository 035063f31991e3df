//! What happens to one delivery: parse it, run the handler, and make the result durable before
//! the ack. Success publishes the outcome event; a transient failure republishes to a delay
//! tier; a permanent failure or an invalid event republishes to `<queue>.dead` with the reason
//! headers. Each publish is confirmed; only then is the delivery acked. If the publish fails,
//! the delivery is nacked with requeue, so nothing is lost (the quorum `x-delivery-limit`
//! guards against a message that fails this way forever). A panicking handler is treated the
//! same way.
//!
//! Not for: choosing the tier (`retry`) or keeping the connection (`consumer`).

use std::panic::AssertUnwindSafe;
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::FutureExt as _;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicNackOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;
use tracing::Instrument as _;

use super::AmqpError;
use super::consumer::{ConsumerSpec, DeliveryInfo, Handler};
use super::headers as h;
use super::publish::{event_properties, publish_confirmed};
use super::retry::{CLASS_INVALID, Disposition, RetryPolicy, disposition, tier_label};
use super::session::Session;
use super::topology::Topology;
use crate::config::AmqpSettings;
use crate::events::{Envelope, parse_event};
use crate::telemetry::{Metrics, continue_trace_from, inject_trace_context};

/// Everything a delivery's task needs, shared by the tasks of one session.
pub(super) struct Ctx<H> {
    handler: Arc<H>,
    spec: ConsumerSpec,
    topology: Topology,
    policy: RetryPolicy,
    metrics: Metrics,
    max_body_bytes: usize,
    publish: Channel,
    /// CloudEvents `source` of our outcome events.
    source: String,
    /// Cancelled when the publish channel is found closed for good: the session must be rebuilt.
    pub(super) broken: CancellationToken,
}

impl<H> Ctx<H> {
    pub(super) fn new(
        amqp: &AmqpSettings,
        spec: &ConsumerSpec,
        session: &Session,
        handler: Arc<H>,
        metrics: Metrics,
    ) -> Self {
        Ctx {
            handler,
            spec: spec.clone(),
            topology: session.topology.clone(),
            policy: RetryPolicy::from_settings(amqp),
            metrics,
            max_body_bytes: amqp.max_body_bytes,
            publish: session.publish.clone(),
            source: format!("urn:onboarding:{}", spec.service.name()),
            broken: CancellationToken::new(),
        }
    }
}

/// The result of handling, before it is made durable.
enum Verdict {
    Succeeded(super::Outcome),
    Retry { tier: Duration, reason: String },
    DeadLetter { class: &'static str, reason: String },
}

/// The handler panicked: nothing can be made durable, so the broker gets the message back
/// (nack with requeue) and the quorum queue's `x-delivery-limit` ends a repeat offender.
struct HandlerPanicked;

/// Handles one delivery to the end: acked once its result is durable, else nacked to requeue.
pub(super) async fn settle<H: Handler>(ctx: Arc<Ctx<H>>, delivery: Delivery) {
    let headers = delivery.properties.headers().clone().unwrap_or_default();
    let info = delivery_info(&delivery, &headers);
    let span = tracing::info_span!(
        "consume",
        otel.name = %format!("process {}", ctx.spec.queue),
        otel.kind = "consumer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.destination.name = %delivery.exchange,
        messaging.rabbitmq.destination.routing_key = %delivery.routing_key,
        messaging.message.id = %info.message_id,
        cloudevents.event_type = tracing::field::Empty,
        cloudevents.event_subject = tracing::field::Empty,
        messaging.rabbitmq.delivery_count = h::number(&headers, h::DELIVERY_COUNT).unwrap_or(0),
        onboarding.queue = %ctx.spec.queue,
        onboarding.attempt = info.attempt,
        onboarding.redelivered = info.redelivered,
    );
    // Before anything logs in the span: the parent can only be set before the span starts.
    continue_trace_from(&span, &headers);
    async move {
        let Ok(verdict) = decide(&ctx, &delivery, &info).await else {
            tracing::error!(
                "Handler panicked; requeueing (the delivery limit dead-letters a repeat offender)."
            );
            return nack_requeue(&delivery).await;
        };
        match make_durable(&ctx, &delivery, &headers, &info, verdict).await {
            Ok(()) => ack(&delivery).await,
            Err(e) => {
                if dead_channel(&ctx.publish) {
                    ctx.broken.cancel();
                }
                tracing::warn!(error = %e, "Result not durable; requeueing the message.");
                nack_requeue(&delivery).await;
            }
        }
    }
    .instrument(span)
    .await;
}

fn delivery_info(delivery: &Delivery, headers: &FieldTable) -> DeliveryInfo {
    let failed = h::number(headers, h::ATTEMPTS).unwrap_or(0);
    DeliveryInfo {
        attempt: u32::try_from(failed)
            .unwrap_or(u32::MAX - 1)
            .saturating_add(1),
        first_seen: h::time(headers, h::FIRST_SEEN).unwrap_or_else(OffsetDateTime::now_utc),
        message_id: delivery
            .properties
            .message_id()
            .as_ref()
            .map(|id| id.to_string())
            .unwrap_or_default(),
        redelivered: delivery.redelivered,
    }
}

async fn decide<H: Handler>(
    ctx: &Ctx<H>,
    delivery: &Delivery,
    info: &DeliveryInfo,
) -> Result<Verdict, HandlerPanicked> {
    let content_type = delivery
        .properties
        .content_type()
        .as_ref()
        .map(|ct| ct.as_str());
    let event: Envelope<H::Data> = match parse_event(
        content_type,
        &ctx.spec.event_type,
        &delivery.data,
        ctx.max_body_bytes,
    ) {
        Ok(event) => {
            // Searchable in the trace backend: operators find an event by its subject
            // (employee id, serial number), never by personal data.
            let span = tracing::Span::current();
            span.record("cloudevents.event_type", event.event_type.as_str());
            if let Some(subject) = &event.subject {
                span.record("cloudevents.event_subject", subject.as_str());
            }
            event
        }
        Err(invalid) => {
            return Ok(Verdict::DeadLetter {
                class: CLASS_INVALID,
                reason: invalid.to_string(),
            });
        }
    };
    let started = Instant::now();
    let result = AssertUnwindSafe(ctx.handler.handle(&event, info))
        .catch_unwind()
        .await;
    ctx.metrics.handler_finished(started.elapsed());
    let verdict = match result.map_err(|_| HandlerPanicked)? {
        Ok(outcome) => Verdict::Succeeded(outcome),
        Err(err) => match disposition(&err, info.attempt, age(info.first_seen), &ctx.policy) {
            Disposition::Retry { tier } => Verdict::Retry {
                tier,
                reason: err.to_string(),
            },
            Disposition::DeadLetter { class, reason } => Verdict::DeadLetter { class, reason },
        },
    };
    Ok(verdict)
}

fn age(first_seen: OffsetDateTime) -> Duration {
    (OffsetDateTime::now_utc() - first_seen)
        .try_into()
        .unwrap_or(Duration::ZERO)
}

async fn make_durable<H>(
    ctx: &Ctx<H>,
    delivery: &Delivery,
    headers: &FieldTable,
    info: &DeliveryInfo,
    verdict: Verdict,
) -> Result<(), AmqpError> {
    match verdict {
        Verdict::Succeeded(outcome) => {
            let event_type = outcome.event_type;
            let event = Envelope::new(event_type, &ctx.source, outcome.subject, outcome.data);
            let body = serde_json::to_vec(&event)?;
            let mut out_headers = FieldTable::default();
            inject_trace_context(&mut out_headers);
            // correlation_id names the event this outcome answers, so a publisher (or a test)
            // can match outcomes to what it sent without parsing bodies.
            let props = event_properties(&event.id, out_headers)
                .with_correlation_id(info.message_id.as_str().into());
            publish_confirmed(
                &ctx.publish,
                &ctx.topology.exchange,
                event_type,
                false,
                &body,
                props,
            )
            .await?;
            ctx.metrics.succeeded(&info.message_id, event_type);
        }
        Verdict::Retry { tier, reason } => {
            let queue = ctx
                .topology
                .tier_queue(tier)
                .expect("retry tiers come from the same settings as the topology");
            let mut out = h::republishable(headers);
            stamp_failure(&mut out, info);
            h::set_text(&mut out, h::LAST_ERROR, reason.as_str());
            publish_confirmed(
                &ctx.publish,
                "",
                queue,
                true,
                &delivery.data,
                republish_properties(&delivery.properties, out),
            )
            .await?;
            ctx.metrics
                .retried(&info.message_id, &tier_label(tier), info.attempt, &reason);
        }
        Verdict::DeadLetter { class, reason } => {
            let mut out = h::republishable(headers);
            stamp_failure(&mut out, info);
            h::set_text(&mut out, h::REASON, reason.as_str());
            h::set_text(&mut out, h::ERROR_CLASS, class);
            h::set_text(&mut out, h::SERVICE, ctx.spec.service.name());
            h::set_text(&mut out, h::ORIGINAL_QUEUE, ctx.spec.queue.as_str());
            let dead = ctx.topology.dead_queue.as_str();
            publish_confirmed(
                &ctx.publish,
                "",
                dead,
                true,
                &delivery.data,
                republish_properties(&delivery.properties, out),
            )
            .await?;
            ctx.metrics
                .dead_lettered(&info.message_id, class, info.attempt, &reason);
        }
    }
    Ok(())
}

/// Attempts so far (this one included), first seen, and now as the last failure.
fn stamp_failure(headers: &mut FieldTable, info: &DeliveryInfo) {
    h::set_number(headers, h::ATTEMPTS, info.attempt);
    h::set_time(headers, h::FIRST_SEEN, info.first_seen);
    h::set_time(headers, h::LAST_FAILURE, OffsetDateTime::now_utc());
}

/// The original properties with new headers, persistent, minus what could make the broker
/// refuse or drop the copy: `user_id` (validated against *our* login: 406 closes the channel,
/// stack §7) and `expiration` (it would expire in a delay tier or the dead-letter queue).
fn republish_properties(original: &BasicProperties, headers: FieldTable) -> BasicProperties {
    let mut p = BasicProperties::default()
        .with_headers(headers)
        .with_delivery_mode(2);
    if let Some(v) = original.content_type() {
        p = p.with_content_type(v.clone());
    }
    if let Some(v) = original.content_encoding() {
        p = p.with_content_encoding(v.clone());
    }
    if let Some(v) = original.message_id() {
        p = p.with_message_id(v.clone());
    }
    if let Some(v) = original.correlation_id() {
        p = p.with_correlation_id(v.clone());
    }
    if let Some(v) = original.timestamp() {
        p = p.with_timestamp(*v);
    }
    if let Some(v) = original.kind() {
        p = p.with_type(v.clone());
    }
    if let Some(v) = original.app_id() {
        p = p.with_app_id(v.clone());
    }
    p
}

fn dead_channel(channel: &Channel) -> bool {
    let status = channel.status();
    !(status.connected() || status.reconnecting() || status.initializing())
}

async fn ack(delivery: &Delivery) {
    match delivery.acker.ack(BasicAckOptions::default()).await {
        Ok(true) => {}
        // The channel was lost (and perhaps recovered) since the delivery: the broker already
        // requeued it and will deliver it again. Its result is durable, so that is a duplicate.
        Ok(false) => tracing::warn!(
            "Ack not delivered (channel lost); the broker will redeliver this message."
        ),
        Err(e) => tracing::warn!(error = %e, "Ack failed; the broker will redeliver this message."),
    }
}

async fn nack_requeue(delivery: &Delivery) {
    let options = BasicNackOptions {
        requeue: true,
        multiple: false,
    };
    match delivery.acker.nack(options).await {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            tracing::warn!("Nack not delivered; the broker will redeliver this message.")
        }
    }
}

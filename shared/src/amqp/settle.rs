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

use super::connection::AmqpError;
use super::handler::{
    Body, ConsumerSpec, DeliveryInfo, Handler, Rejected, parse_and_handle, tier_label,
};
use super::headers as h;
use super::publish::{event_properties, publish_confirmed, send_span};
use super::retry::{CLASS_INVALID, Disposition, RetryPolicy, disposition};
use super::topology::Topology;
use crate::config::AmqpSettings;
use crate::error::Classify;
use crate::events::{Envelope, Event};
use crate::telemetry::{Metrics, continue_trace_from, inject_trace_context};

/// What settling needs of the session it runs in: where to publish, the names it declared, and
/// the token to cancel when the publish channel is found closed for good (the session then
/// rebuilds). The session makes it; settling never sees the session itself.
pub(super) struct Link {
    pub(super) publish: Channel,
    pub(super) topology: Topology,
    pub(super) broken: CancellationToken,
}

/// Everything a delivery's task needs, shared by the tasks of one session.
pub(super) struct Ctx<H> {
    handler: Arc<H>,
    spec: ConsumerSpec,
    policy: RetryPolicy,
    metrics: Metrics,
    max_body_bytes: usize,
    link: Link,
    /// CloudEvents `source` of our outcome events.
    source: String,
}

impl<H> Ctx<H> {
    pub(super) fn new(
        amqp: &AmqpSettings,
        spec: &ConsumerSpec,
        metrics: Metrics,
        handler: Arc<H>,
        link: Link,
    ) -> Self {
        Ctx {
            handler,
            spec: spec.clone(),
            policy: RetryPolicy::from_settings(amqp),
            metrics,
            max_body_bytes: amqp.max_body_bytes,
            link,
            source: format!("urn:onboarding:{}", spec.service.name()),
        }
    }
}

/// The result of handling, before it is made durable.
enum Verdict<O> {
    Succeeded(O),
    Retry {
        tier: Duration,
        reason: String,
        /// A "not there yet" the runtime waits out as planned: logged at INFO, not WARN.
        pending: bool,
    },
    DeadLetter {
        class: &'static str,
        reason: String,
    },
}

/// The handler panicked: nothing can be made durable, so the broker gets the message back
/// (nack with requeue) and the quorum queue's `x-delivery-limit` ends a repeat offender.
struct HandlerPanicked;

/// Handles one delivery to the end: acked once its result is durable, else nacked to requeue.
pub(super) async fn settle<H: Handler>(ctx: Arc<Ctx<H>>, delivery: Delivery) {
    let headers = delivery.properties.headers().clone().unwrap_or_default();
    let info = delivery_info(&delivery, &headers);
    let span = process_span(&ctx.spec, &delivery, &headers, &info);
    // Before anything logs in the span: the parent can only be set before the span starts.
    continue_trace_from(&span, &headers);
    async move {
        let Ok(verdict) = decide(&ctx, &delivery, &info).await else {
            tracing::error!(
                "Handler panicked; requeueing (the delivery limit dead-letters a repeat offender)."
            );
            return nack_requeue(&ctx.spec, &delivery).await;
        };
        match make_durable(&ctx, &delivery, &headers, &info, verdict).await {
            Ok(()) => ack(&ctx.spec, &delivery).await,
            Err(e) => {
                if dead_channel(&ctx.link.publish) {
                    ctx.link.broken.cancel();
                }
                tracing::warn!(error = %e, "Result not durable; requeueing the message.");
                nack_requeue(&ctx.spec, &delivery).await;
            }
        }
    }
    .instrument(span)
    .await;
}

/// The consumer span of one delivery, in the OpenTelemetry messaging conventions: named
/// `process <queue>`, kind consumer, operation type and name `process`; the destination is the
/// exchange the message was published to (RabbitMQ's convention), the queue is the
/// subscription. Our own attributes are under `onboarding.*`.
fn process_span(
    spec: &ConsumerSpec,
    delivery: &Delivery,
    headers: &FieldTable,
    info: &DeliveryInfo,
) -> tracing::Span {
    tracing::info_span!(
        "consume",
        otel.name = %format!("process {}", spec.queue),
        otel.kind = "consumer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "process",
        messaging.operation.name = "process",
        messaging.destination.name = %delivery.exchange,
        messaging.destination.subscription.name = %spec.queue,
        messaging.rabbitmq.destination.routing_key = %delivery.routing_key,
        messaging.rabbitmq.message.delivery_tag = delivery.delivery_tag,
        messaging.message.id = %info.message_id,
        cloudevents.event_type = tracing::field::Empty,
        cloudevents.event_subject = tracing::field::Empty,
        onboarding.service = spec.service.name(),
        onboarding.queue = %spec.queue,
        onboarding.attempt = info.attempt,
        onboarding.redelivered = info.redelivered,
        onboarding.delivery_count = h::number(headers, h::DELIVERY_COUNT).unwrap_or(0),
    )
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
) -> Result<Verdict<H::Out>, HandlerPanicked> {
    let body = Body {
        content_type: delivery
            .properties
            .content_type()
            .as_ref()
            .map(|ct| ct.as_str()),
        bytes: &delivery.data,
        max_bytes: ctx.max_body_bytes,
    };
    let started = Instant::now();
    let result = AssertUnwindSafe(parse_and_handle(ctx.handler.as_ref(), body, info))
        .catch_unwind()
        .await
        .map_err(|_| HandlerPanicked)?;
    let failure = match result {
        Ok(outcome) => {
            ctx.metrics.handler_finished(started.elapsed());
            return Ok(Verdict::Succeeded(outcome));
        }
        // The handler never ran: nothing to time.
        Err(Rejected::Invalid(invalid)) => {
            return Ok(Verdict::DeadLetter {
                class: CLASS_INVALID,
                reason: invalid.to_string(),
            });
        }
        Err(Rejected::Failed(err)) => err,
    };
    ctx.metrics.handler_finished(started.elapsed());
    let verdict = match disposition(&failure, info.attempt, age(info.first_seen), &ctx.policy) {
        Disposition::Retry { tier } => Verdict::Retry {
            tier,
            reason: failure.to_string(),
            pending: failure.is_pending(),
        },
        Disposition::DeadLetter { class, reason } => Verdict::DeadLetter { class, reason },
    };
    Ok(verdict)
}

fn age(first_seen: OffsetDateTime) -> Duration {
    (OffsetDateTime::now_utc() - first_seen)
        .try_into()
        .unwrap_or(Duration::ZERO)
}

async fn make_durable<H, O: Event>(
    ctx: &Ctx<H>,
    delivery: &Delivery,
    headers: &FieldTable,
    info: &DeliveryInfo,
    verdict: Verdict<O>,
) -> Result<(), AmqpError> {
    match verdict {
        Verdict::Succeeded(outcome) => {
            publish_outcome(ctx, info, outcome).await?;
            ctx.metrics.succeeded(&info.message_id, O::TYPE);
        }
        Verdict::Retry {
            tier,
            reason,
            pending,
        } => {
            let queue = ctx
                .link
                .topology
                .tier_queue(tier)
                .expect("retry tiers come from the same settings as the topology");
            let mut out = h::republishable(headers);
            stamp_failure(&mut out, info);
            h::set_text(&mut out, h::LAST_ERROR, reason.as_str());
            republish(ctx, delivery, queue, out).await?;
            let tier = tier_label(tier);
            ctx.metrics
                .retried(&info.message_id, &tier, info.attempt, &reason, pending);
        }
        Verdict::DeadLetter { class, reason } => {
            let mut out = h::republishable(headers);
            stamp_failure(&mut out, info);
            h::set_text(&mut out, h::REASON, reason.as_str());
            h::set_text(&mut out, h::ERROR_CLASS, class);
            h::set_text(&mut out, h::SERVICE, ctx.spec.service.name());
            h::set_text(&mut out, h::ORIGINAL_QUEUE, ctx.spec.queue.as_str());
            republish(ctx, delivery, &ctx.link.topology.dead_queue, out).await?;
            ctx.metrics
                .dead_lettered(&info.message_id, class, info.attempt, &reason);
        }
    }
    Ok(())
}

/// Publishes the outcome event under its own type and waits for the confirm. Not mandatory:
/// nobody needs to be subscribed to outcomes.
async fn publish_outcome<H, O: Event>(
    ctx: &Ctx<H>,
    info: &DeliveryInfo,
    outcome: O,
) -> Result<(), AmqpError> {
    let event = Envelope::of(&ctx.source, outcome);
    let body = serde_json::to_vec(&event)?;
    let exchange = ctx.link.topology.exchange.as_str();
    let span = send_span(exchange, O::TYPE, &event.id);
    span.record("cloudevents.event_type", O::TYPE);
    if let Some(subject) = &event.subject {
        span.record("cloudevents.event_subject", subject.as_str());
    }
    async {
        let mut out_headers = FieldTable::default();
        inject_trace_context(&mut out_headers);
        // correlation_id names the event this outcome answers, so a publisher (or a test)
        // can match outcomes to what it sent without parsing bodies.
        let props = event_properties(&event.id, out_headers)
            .with_correlation_id(info.message_id.as_str().into());
        publish_confirmed(&ctx.link.publish, exchange, O::TYPE, false, &body, props).await
    }
    .instrument(span)
    .await
}

/// Sends a copy of the delivery, with `headers`, to `queue` through the default exchange
/// (mandatory: a missing queue is an error, not a silent drop).
async fn republish<H>(
    ctx: &Ctx<H>,
    delivery: &Delivery,
    queue: &str,
    headers: FieldTable,
) -> Result<(), AmqpError> {
    let message_id = delivery
        .properties
        .message_id()
        .as_ref()
        .map(|id| id.to_string())
        .unwrap_or_default();
    let properties = republish_properties(&delivery.properties, headers);
    publish_confirmed(
        &ctx.link.publish,
        "",
        queue,
        true,
        &delivery.data,
        properties,
    )
    .instrument(send_span("", queue, &message_id))
    .await
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

/// The span of settling a delivery with the broker (`ack`, `nack`): operation type `settle`.
fn settle_span(spec: &ConsumerSpec, delivery: &Delivery, operation: &'static str) -> tracing::Span {
    tracing::info_span!(
        "settle",
        otel.name = %format!("{operation} {}", spec.queue),
        otel.kind = "client",
        messaging.system = "rabbitmq",
        messaging.operation.type = "settle",
        messaging.operation.name = operation,
        messaging.destination.name = %delivery.exchange,
        messaging.destination.subscription.name = %spec.queue,
        messaging.rabbitmq.message.delivery_tag = delivery.delivery_tag,
    )
}

async fn ack(spec: &ConsumerSpec, delivery: &Delivery) {
    let acked = delivery
        .acker
        .ack(BasicAckOptions::default())
        .instrument(settle_span(spec, delivery, "ack"))
        .await;
    match acked {
        Ok(true) => {}
        // The channel was lost (and perhaps recovered) since the delivery: the broker already
        // requeued it and will deliver it again. Its result is durable, so that is a duplicate.
        Ok(false) => tracing::warn!(
            "Ack not delivered (channel lost); the broker will redeliver this message."
        ),
        Err(e) => tracing::warn!(error = %e, "Ack failed; the broker will redeliver this message."),
    }
}

async fn nack_requeue(spec: &ConsumerSpec, delivery: &Delivery) {
    let options = BasicNackOptions {
        requeue: true,
        multiple: false,
    };
    let nacked = delivery
        .acker
        .nack(options)
        .instrument(settle_span(spec, delivery, "nack"))
        .await;
    match nacked {
        Ok(true) => {}
        Ok(false) | Err(_) => {
            tracing::warn!("Nack not delivered; the broker will redeliver this message.")
        }
    }
}

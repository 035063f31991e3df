//! The broker objects one consumer needs, declared idempotently at start (and again after a
//! rebuild): the topic exchange, the quorum work queue bound to its routing key, one quorum
//! delay queue per tier that dead-letters back to the work queue, and `<queue>.dead`.
//! Every queue argument is declared explicitly, because defaults differ between RabbitMQ 3.10
//! and 4.x (stack §7), and a redeclare with other arguments fails with 406.
//!
//! Not for: publishing or consuming.

use std::time::Duration;

use lapin::options::{ExchangeDeclareOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use lapin::{Channel, ExchangeKind};

use super::connection::AmqpError;
use super::handler::ConsumerSpec;
use crate::config::AmqpSettings;

/// One delay tier: a queue whose messages expire after `ttl` into the work queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelayTier {
    /// How long a message waits in it.
    pub ttl: Duration,
    /// `<queue>.delay.<tier>`.
    pub queue: String,
}

/// The names of everything [`declare_topology`] declared.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    /// The topic exchange every event is published to.
    pub exchange: String,
    /// The work queue.
    pub queue: String,
    /// The key the work queue is bound with.
    pub routing_key: String,
    /// `<queue>.dead`.
    pub dead_queue: String,
    /// The delay tiers, shortest first.
    pub tiers: Vec<DelayTier>,
}

impl Topology {
    /// The names, without touching the broker: `<queue>.delay.<tier>` and `<queue>.dead`.
    pub fn plan(amqp: &AmqpSettings, spec: &ConsumerSpec) -> Self {
        let tiers = amqp
            .delay_tiers
            .iter()
            .map(|ttl| DelayTier {
                ttl: *ttl,
                queue: spec.delay_queue(*ttl),
            })
            .collect();
        Topology {
            exchange: amqp.exchange.clone(),
            queue: spec.queue.clone(),
            routing_key: spec.routing_key.clone(),
            dead_queue: spec.dead_queue(),
            tiers,
        }
    }

    /// The delay queue of the tier with this TTL.
    pub fn tier_queue(&self, ttl: Duration) -> Option<&str> {
        self.tiers
            .iter()
            .find(|t| t.ttl == ttl)
            .map(|t| t.queue.as_str())
    }

    /// Work, delay and dead-letter queues: what the queue-depth gauge samples.
    pub fn queues(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.queue.as_str())
            .chain(self.tiers.iter().map(|t| t.queue.as_str()))
            .chain(std::iter::once(self.dead_queue.as_str()))
    }
}

fn text(s: &str) -> AMQPValue {
    AMQPValue::LongString(LongString::from(s))
}

fn args(pairs: Vec<(&str, AMQPValue)>) -> FieldTable {
    let mut table = FieldTable::default();
    for (k, v) in pairs {
        table.insert(ShortString::from(k), v);
    }
    table
}

/// Quorum, dead-lettering at-least-once to `dead_letter_to` through the default exchange.
/// `reject-publish` is what makes at-least-once effective: with the default `drop-head` the
/// broker silently falls back to at-most-once.
fn dead_lettering(dead_letter_to: &str) -> Vec<(&'static str, AMQPValue)> {
    vec![
        ("x-queue-type", text("quorum")),
        ("x-dead-letter-exchange", text("")),
        ("x-dead-letter-routing-key", text(dead_letter_to)),
        ("x-dead-letter-strategy", text("at-least-once")),
        ("x-overflow", text("reject-publish")),
    ]
}

/// The work queue: a message redelivered more than `delivery_limit` times (it crashed the
/// process each time) is dead-lettered by the broker itself.
pub fn work_queue_arguments(amqp: &AmqpSettings, topology: &Topology) -> FieldTable {
    let mut pairs = dead_lettering(&topology.dead_queue);
    let limit = i64::from(amqp.delivery_limit);
    pairs.push(("x-delivery-limit", AMQPValue::LongLongInt(limit)));
    args(pairs)
}

/// A delay tier: per-queue TTL (per-message TTLs expire only at the head of a queue).
pub fn delay_queue_arguments(topology: &Topology, ttl: Duration) -> FieldTable {
    let mut pairs = dead_lettering(&topology.queue);
    let ms = i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX);
    pairs.push(("x-message-ttl", AMQPValue::LongLongInt(ms)));
    args(pairs)
}

/// `x-delivery-limit` of the dead-letter queues: so high that it never ends a message.
/// `onboardctl dead list|show` read letters with `basic.get` and hand them back with a requeue,
/// and every such return counts as a failed delivery. RabbitMQ 3.x has no limit unless one is
/// set, but 4.x defaults quorum queues to 20, and `.dead` has nowhere to dead-letter to: the
/// 21st look at a dead letter would delete it. An explicit value behaves the same on both.
pub const DEAD_QUEUE_DELIVERY_LIMIT: i64 = 1_000_000;

/// The dead-letter queue: quorum, kept until an admin replays or purges it, however often it is
/// looked at.
pub fn dead_queue_arguments() -> FieldTable {
    args(vec![
        ("x-queue-type", text("quorum")),
        (
            "x-delivery-limit",
            AMQPValue::LongLongInt(DEAD_QUEUE_DELIVERY_LIMIT),
        ),
    ])
}

/// Declares the durable topic exchange.
pub async fn declare_exchange(channel: &Channel, exchange: &str) -> Result<(), AmqpError> {
    let options = ExchangeDeclareOptions {
        durable: true,
        ..ExchangeDeclareOptions::default()
    };
    channel
        .exchange_declare(
            exchange.into(),
            ExchangeKind::Topic,
            options,
            FieldTable::default(),
        )
        .await?;
    Ok(())
}

async fn declare_queue(
    channel: &Channel,
    name: &str,
    arguments: FieldTable,
) -> Result<(), AmqpError> {
    let options = QueueDeclareOptions {
        durable: true,
        ..QueueDeclareOptions::default()
    };
    channel
        .queue_declare(name.into(), options, arguments)
        .await?;
    Ok(())
}

/// Declares everything `spec` consumes through. Safe to repeat with the same settings; a
/// changed argument fails with 406 PRECONDITION_FAILED (and closes `channel`).
pub async fn declare_topology(
    channel: &Channel,
    amqp: &AmqpSettings,
    spec: &ConsumerSpec,
) -> Result<Topology, AmqpError> {
    let topology = Topology::plan(amqp, spec);
    declare_exchange(channel, &topology.exchange).await?;
    declare_queue(channel, &topology.dead_queue, dead_queue_arguments()).await?;
    declare_queue(
        channel,
        &topology.queue,
        work_queue_arguments(amqp, &topology),
    )
    .await?;
    for tier in &topology.tiers {
        declare_queue(
            channel,
            &tier.queue,
            delay_queue_arguments(&topology, tier.ttl),
        )
        .await?;
    }
    channel
        .queue_bind(
            topology.queue.as_str().into(),
            topology.exchange.as_str().into(),
            topology.routing_key.as_str().into(),
            QueueBindOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(topology)
}

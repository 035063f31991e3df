//! The consumer runtime: the [`Handler`] trait a service implements, and [`run_consumer`],
//! which keeps one session (connection, topology, consumer) alive until shutdown. lapin's
//! automatic recovery covers a dropped connection; this supervisor covers what it leaves
//! behind: a channel closed by a channel error, and a recovery that gave up. Either way the
//! session is rebuilt from scratch (connect, declare, consume) after a backoff.
//!
//! Not for: what happens to one delivery (`settle`) or the retry decision (`retry`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use lapin::options::{
    BasicCancelOptions, BasicConsumeOptions, BasicQosOptions, ConfirmSelectOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{Channel, Connection};
use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::AmqpError;
use super::settle::{Ctx, settle};
use super::topology::{Topology, declare_topology};
use crate::config::{AmqpSettings, Service};
use crate::error::Classify;
use crate::events::Envelope;
use crate::health::ReadinessFlag;
use crate::telemetry::Metrics;

/// What a service does with one event. Called once per delivery, possibly concurrently
/// (`amqp.concurrency`) and possibly more than once for the same event (redeliveries), so it
/// must be idempotent: read Graph, compare, write only what is missing.
pub trait Handler: Send + Sync + 'static {
    /// The event's `data`, validated by its serde newtypes while parsing.
    type Data: DeserializeOwned + Send + Sync + 'static;
    /// Classified, so the runtime can choose between a delay tier and the dead-letter queue.
    type Error: Classify + Send + 'static;
    fn handle(
        &self,
        event: &Envelope<Self::Data>,
        delivery: &DeliveryInfo,
    ) -> impl Future<Output = Result<Outcome, Self::Error>> + Send;
}

/// The outcome event of a successful handling. The runtime publishes it to the exchange with
/// routing key `event_type` and waits for the broker's confirm before acking the input.
/// Not mandatory: nobody needs to be subscribed to outcomes.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub event_type: &'static str,
    pub subject: Option<String>,
    pub data: serde_json::Value,
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

/// Which queue a service consumes and which event type it expects there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConsumerSpec {
    pub service: Service,
    pub queue: String,
    pub routing_key: String,
    pub event_type: String,
}

impl ConsumerSpec {
    /// The spec of a service from the settings (`None` for the CLI, which consumes nothing).
    pub fn for_service(service: Service, amqp: &AmqpSettings) -> Option<Self> {
        let event_type = service.consumed_event_type()?;
        Some(ConsumerSpec {
            service,
            queue: service.queue(amqp)?.to_owned(),
            routing_key: event_type.to_owned(),
            event_type: event_type.to_owned(),
        })
    }
}

/// Consumes `spec.queue` with `handler` until `shutdown` is cancelled, then stops consuming,
/// lets in-flight handlers finish within `amqp.shutdown_grace`, and closes cleanly; messages
/// not finished stay unacked and the broker redelivers them. `ready` (and the
/// `onboarding_broker_connected` gauge) follow the connection. Returns an error only for a
/// failure that reconnecting cannot fix (bad credentials, a queue declared with other
/// arguments); broker outages are waited out.
pub async fn run_consumer<H: Handler>(
    amqp: &AmqpSettings,
    spec: ConsumerSpec,
    handler: Arc<H>,
    metrics: Metrics,
    ready: ReadinessFlag,
    shutdown: CancellationToken,
) -> Result<(), AmqpError> {
    let mut backoff = Backoff::new();
    loop {
        if shutdown.is_cancelled() {
            return Ok(());
        }
        // Connecting may take long (lapin retries the TCP connect); shutdown must not wait for it.
        let opened = tokio::select! {
            _ = shutdown.cancelled() => return Ok(()),
            opened = open_session(amqp, &spec) => opened,
        };
        let session = match opened {
            Ok(session) => session,
            Err(e) if e.class().is_transient() => {
                tracing::warn!(error = %e, "Cannot reach the broker; will retry.");
                if !backoff.wait(&shutdown).await {
                    return Ok(());
                }
                continue;
            }
            Err(e) => return Err(e),
        };
        backoff.reset();
        let ctx = Arc::new(Ctx::new(
            amqp,
            &spec,
            &session,
            handler.clone(),
            metrics.clone(),
        ));
        let end = run_session(amqp, session, ctx, &metrics, &ready, &shutdown).await;
        ready.set(false);
        metrics.broker_connection(false);
        match end {
            SessionEnd::Shutdown => return Ok(()),
            SessionEnd::Broken(why) => {
                tracing::warn!(why, "Consumer session ended; rebuilding the connection.");
                if !backoff.wait(&shutdown).await {
                    return Ok(());
                }
            }
        }
    }
}

/// A connection with its declared topology, a confirm-mode channel for publishing, and a
/// channel consuming the work queue.
pub(super) struct Session {
    pub(super) connection: Connection,
    pub(super) publish: Channel,
    consume: Channel,
    consumer: lapin::Consumer,
    pub(super) topology: Topology,
}

fn connection_name(amqp: &AmqpSettings, spec: &ConsumerSpec) -> String {
    if amqp.connection_name.is_empty() {
        format!("{}@{}", spec.service.name(), std::process::id())
    } else {
        amqp.connection_name.clone()
    }
}

async fn open_session(amqp: &AmqpSettings, spec: &ConsumerSpec) -> Result<Session, AmqpError> {
    let connection = super::connect(amqp, &connection_name(amqp, spec)).await?;
    let publish = connection.create_channel().await?;
    let topology = declare_topology(&publish, amqp, spec).await?;
    publish
        .confirm_select(ConfirmSelectOptions::default())
        .await?;
    let consume = connection.create_channel().await?;
    consume
        .basic_qos(amqp.prefetch, BasicQosOptions { global: false })
        .await?;
    let tag = format!("{}-{}", spec.service.name(), uuid::Uuid::new_v4().simple());
    let consumer = consume
        .basic_consume(
            spec.queue.as_str().into(),
            tag.into(),
            BasicConsumeOptions::default(),
            FieldTable::default(),
        )
        .await?;
    Ok(Session {
        connection,
        publish,
        consume,
        consumer,
        topology,
    })
}

enum SessionEnd {
    Shutdown,
    Broken(String),
}

async fn run_session<H: Handler>(
    amqp: &AmqpSettings,
    mut session: Session,
    ctx: Arc<Ctx<H>>,
    metrics: &Metrics,
    ready: &ReadinessFlag,
    shutdown: &CancellationToken,
) -> SessionEnd {
    ready.set(true);
    metrics.broker_connection(true);
    let mut watchers = JoinSet::new();
    watchers.spawn(follow_connection(
        &session.connection,
        ready.clone(),
        metrics.clone(),
    ));
    if let Ok(channel) = session.connection.create_channel().await {
        let queues: Vec<String> = session.topology.queues().map(str::to_owned).collect();
        watchers.spawn(sample_queue_depths(
            channel,
            queues,
            amqp.queue_depth_interval,
            metrics.clone(),
        ));
    }
    let permits = Arc::new(Semaphore::new(usize::from(amqp.concurrency)));
    let mut handlers = JoinSet::new();
    let end = loop {
        while handlers.try_join_next().is_some() {}
        // A permit first: at most `concurrency` handlers run; the rest wait in the prefetch.
        let permit = tokio::select! {
            _ = shutdown.cancelled() => break SessionEnd::Shutdown,
            _ = ctx.broken.cancelled() => break SessionEnd::Broken("the publish channel closed".into()),
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let next = tokio::select! {
            _ = shutdown.cancelled() => break SessionEnd::Shutdown,
            _ = ctx.broken.cancelled() => break SessionEnd::Broken("the publish channel closed".into()),
            next = session.consumer.next() => next,
        };
        match next {
            Some(Ok(delivery)) => {
                let ctx = ctx.clone();
                handlers.spawn(async move {
                    settle(ctx, delivery).await;
                    drop(permit);
                });
            }
            // lapin reports the connection drop here and recovers the consumer by itself.
            Some(Err(e)) => {
                let recovered = tokio::select! {
                    _ = shutdown.cancelled() => break SessionEnd::Shutdown,
                    recovered = session.consume.wait_for_recovery(e) => recovered,
                };
                if let Err(e) = recovered {
                    break SessionEnd::Broken(format!("recovery gave up: {e}"));
                }
            }
            None => break SessionEnd::Broken("the consumer was cancelled by the broker".into()),
        }
    };
    watchers.abort_all();
    match end {
        SessionEnd::Shutdown => drain_and_close(amqp, &mut session, handlers).await,
        // The channel is gone, so these handlers could neither publish nor ack: the broker
        // redelivers their messages to the next session. Stop them rather than run them twice.
        SessionEnd::Broken(_) => {
            handlers.abort_all();
            let _ = session.connection.close(200, "rebuilding".into()).await;
        }
    }
    end
}

async fn drain_and_close(amqp: &AmqpSettings, session: &mut Session, mut handlers: JoinSet<()>) {
    let tag = session.consumer.tag();
    if let Err(e) = session
        .consume
        .basic_cancel(tag, BasicCancelOptions::default())
        .await
    {
        tracing::warn!(error = %e, "Cannot cancel the consumer; closing anyway.");
    }
    let in_flight = handlers.len();
    tracing::info!(in_flight, grace = ?amqp.shutdown_grace, "Stopped consuming; waiting for handlers.");
    let drained = tokio::time::timeout(amqp.shutdown_grace, async {
        while handlers.join_next().await.is_some() {}
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            unfinished = handlers.len(),
            "Shutdown grace over; unfinished messages stay unacked for redelivery."
        );
        handlers.abort_all();
        while handlers.join_next().await.is_some() {}
    }
    // Closing the consume channel hands every unacked delivery back to the broker.
    let _ = session.consume.close(200, "shutdown".into()).await;
    let _ = session.publish.close(200, "shutdown".into()).await;
    let _ = session.connection.close(200, "shutdown".into()).await;
    tracing::info!("Consumer stopped.");
}

/// Keeps `ready` and the connected gauge in step with lapin's recovery.
fn follow_connection(
    connection: &Connection,
    ready: ReadinessFlag,
    metrics: Metrics,
) -> impl Future<Output = ()> + Send + 'static {
    let mut events = connection.events_listener();
    async move {
        while let Some(event) = events.next().await {
            match event {
                lapin::Event::Connected => {
                    ready.set(true);
                    metrics.broker_connection(true);
                }
                lapin::Event::Error(e) => {
                    tracing::warn!(error = %e, "Broker connection error.");
                    ready.set(false);
                    metrics.broker_connection(false);
                }
                _ => {}
            }
        }
    }
}

/// Refreshes `onboarding_queue_messages` by passive declares, on its own channel: a passive
/// declare of a missing queue closes its channel, and must not take the consumer with it.
async fn sample_queue_depths(
    channel: Channel,
    queues: Vec<String>,
    every: Duration,
    metrics: Metrics,
) {
    let passive = QueueDeclareOptions {
        passive: true,
        ..QueueDeclareOptions::default()
    };
    let mut tick = tokio::time::interval(every);
    loop {
        tick.tick().await;
        for queue in &queues {
            match channel
                .queue_declare(queue.as_str().into(), passive, FieldTable::default())
                .await
            {
                Ok(q) => metrics.queue_depth(queue, q.message_count()),
                Err(e) => {
                    tracing::debug!(queue, error = %e, "Queue depth not sampled.");
                    return;
                }
            }
        }
    }
}

/// Doubling pause between session rebuilds, 200 ms up to 30 s.
struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(200);
    const MAX: Duration = Duration::from_secs(30);

    fn new() -> Self {
        Backoff(Self::FIRST)
    }
    fn reset(&mut self) {
        self.0 = Self::FIRST;
    }
    /// Waits the current pause; `false` if shutdown came first.
    async fn wait(&mut self, shutdown: &CancellationToken) -> bool {
        let pause = self.0;
        self.0 = (self.0 * 2).min(Self::MAX);
        tokio::select! {
            _ = shutdown.cancelled() => false,
            _ = tokio::time::sleep(pause) => true,
        }
    }
}

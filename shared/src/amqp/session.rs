//! One session of the consumer: a connection, its topology, a confirm-mode publish channel and
//! a consuming channel, run until shutdown or until it breaks. Handlers run on tasks bounded by
//! `amqp.concurrency`; on shutdown the consumer is cancelled and in-flight handlers get
//! `amqp.shutdown_grace` to finish. Two helpers live as long as the session: one keeps the
//! readiness flag in step with lapin's recovery, one samples queue depths.
//!
//! Not for: deciding to rebuild (`consumer`, the supervisor above this) or settling a delivery
//! (`settle`, below).

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
use tokio::sync::Semaphore;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::connection::{AmqpError, connect};
use super::handler::{ConsumerSpec, Handler};
use super::settle::{Ctx, Link, settle};
use super::topology::{Topology, declare_topology};
use crate::config::AmqpSettings;
use crate::health::ReadinessFlag;
use crate::telemetry::{BrokerLink, Metrics};

/// A connection with its declared topology, a confirm-mode channel for publishing, and a
/// channel consuming the work queue.
pub(super) struct Session {
    connection: Connection,
    publish: Channel,
    consume: Channel,
    consumer: lapin::Consumer,
    topology: Topology,
    /// Cancelled by `settle` when it finds the publish channel closed for good.
    broken: CancellationToken,
}

/// How a session reports to the world outside it, and learns that it must stop: shared by
/// every session of one consumer.
pub(super) struct Signals {
    pub(super) metrics: Metrics,
    pub(super) ready: ReadinessFlag,
    pub(super) shutdown: CancellationToken,
}

fn connection_name(amqp: &AmqpSettings, spec: &ConsumerSpec) -> String {
    if amqp.connection_name.is_empty() {
        format!("{}@{}", spec.service.name(), std::process::id())
    } else {
        amqp.connection_name.clone()
    }
}

pub(super) async fn open_session(
    amqp: &AmqpSettings,
    spec: &ConsumerSpec,
) -> Result<Session, AmqpError> {
    let connection = connect(amqp, &connection_name(amqp, spec)).await?;
    match declare_and_consume(&connection, amqp, spec).await {
        Ok((publish, consume, consumer, topology)) => Ok(Session {
            connection,
            publish,
            consume,
            consumer,
            topology,
            broken: CancellationToken::new(),
        }),
        Err(e) => {
            // Otherwise every failed attempt would leave a connection (and its I/O thread) behind.
            let _ = connection.close(200, "setup failed".into()).await;
            Err(e)
        }
    }
}

async fn declare_and_consume(
    connection: &Connection,
    amqp: &AmqpSettings,
    spec: &ConsumerSpec,
) -> Result<(Channel, Channel, lapin::Consumer, Topology), AmqpError> {
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
    Ok((publish, consume, consumer, topology))
}

/// Why a session ended.
pub(super) enum SessionEnd {
    Shutdown,
    Broken(String),
}

impl Session {
    /// What settling a delivery of this session needs: where to publish, the declared names,
    /// and the token that says the publish channel is gone.
    pub(super) fn link(&self) -> Link {
        Link {
            publish: self.publish.clone(),
            topology: self.topology.clone(),
            broken: self.broken.clone(),
        }
    }
}

/// Consumes until shutdown or until the session breaks, settling each delivery with `ctx`.
pub(super) async fn run_session<H: Handler>(
    amqp: &AmqpSettings,
    mut session: Session,
    ctx: Arc<Ctx<H>>,
    signals: &Signals,
) -> SessionEnd {
    let Signals {
        metrics,
        ready,
        shutdown,
    } = signals;
    ready.set(true);
    metrics.broker_connection(BrokerLink::Up);
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
            _ = session.broken.cancelled() => break SessionEnd::Broken("the publish channel closed".into()),
            permit = permits.clone().acquire_owned() => permit.expect("the semaphore is never closed"),
        };
        let next = tokio::select! {
            _ = shutdown.cancelled() => break SessionEnd::Shutdown,
            _ = session.broken.cancelled() => break SessionEnd::Broken("the publish channel closed".into()),
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
                    metrics.broker_connection(BrokerLink::Up);
                }
                lapin::Event::Error(e) => {
                    tracing::warn!(error = %e, "Broker connection error.");
                    ready.set(false);
                    metrics.broker_connection(BrokerLink::Lost);
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
                // Reconnecting, or the queue is gone (then the session is rebuilt anyway):
                // skip this round rather than end the sampler.
                Err(e) => {
                    tracing::debug!(queue, error = %e, "Queue depth not sampled.");
                    break;
                }
            }
        }
    }
}

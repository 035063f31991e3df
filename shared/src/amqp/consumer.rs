//! The consumer runtime: the [`Handler`] trait a service implements, and [`run_consumer`],
//! which keeps one session (connection, topology, consumer) alive until shutdown. lapin's
//! automatic recovery covers a dropped connection; this supervisor covers what it leaves
//! behind: a channel closed by a channel error, and a recovery that gave up. Either way the
//! session is rebuilt from scratch (connect, declare, consume) after a backoff.
//!
//! Not for: running one session (`session`), what happens to one delivery (`settle`) or the
//! retry decision (`retry`).

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use serde::de::DeserializeOwned;
use time::OffsetDateTime;
use tokio_util::sync::CancellationToken;

use super::AmqpError;
use super::session::{SessionEnd, open_session, run_session};
use super::settle::Ctx;
use crate::config::{AmqpSettings, Service};
use crate::error::Classify;
use crate::events::Envelope;
use crate::health::ReadinessFlag;
use crate::telemetry::{BrokerLink, Metrics};

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
        match end {
            SessionEnd::Shutdown => {
                metrics.broker_connection(BrokerLink::Closed);
                return Ok(());
            }
            SessionEnd::Broken(why) => {
                metrics.broker_connection(BrokerLink::Lost);
                tracing::warn!(why, "Consumer session ended; rebuilding the connection.");
                if !backoff.wait(&shutdown).await {
                    return Ok(());
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

//! The supervisor, the top of the runtime: a [`Runtime`] is built once per process from the
//! settings, the consumer spec and the process's signals, and [`Runtime::run`] keeps one
//! session (connection, topology, consumer) alive until shutdown. lapin's automatic recovery
//! covers a dropped connection; this supervisor covers what it leaves behind: a channel closed
//! by a channel error, and a recovery that gave up. Either way the session is rebuilt from
//! scratch (connect, declare, consume) after a jittered backoff.
//!
//! Not for: running one session (`session`), what happens to one delivery (`settle`) or the
//! retry decision (`retry`).

use std::sync::Arc;
use std::time::Duration;

use backoff::ExponentialBackoff;
use backoff::backoff::Backoff as _;
use tokio_util::sync::CancellationToken;

use super::connection::AmqpError;
use super::handler::{ConsumerSpec, Handler};
use super::session::{SessionEnd, Signals, open_session, run_session};
use super::settle::Ctx;
use crate::config::AmqpSettings;
use crate::error::Classify;
use crate::events::Event;
use crate::health::ReadinessFlag;
use crate::telemetry::{BrokerLink, Metrics};

/// One consumer of one queue, with everything it runs with: made once per process.
pub struct Runtime {
    amqp: AmqpSettings,
    spec: ConsumerSpec,
    signals: Signals,
}

impl Runtime {
    /// A consumer of `spec.queue` with the `[amqp]` settings. `ready` (and the
    /// `onboarding_broker_connected` gauge of `metrics`) follow the connection; cancelling
    /// `shutdown` stops it.
    pub fn new(
        amqp: &AmqpSettings,
        spec: ConsumerSpec,
        metrics: Metrics,
        ready: ReadinessFlag,
        shutdown: CancellationToken,
    ) -> Self {
        Runtime {
            amqp: amqp.clone(),
            spec,
            signals: Signals {
                metrics,
                ready,
                shutdown,
            },
        }
    }

    /// The queue this runtime consumes and the event type it expects there.
    pub fn spec(&self) -> &ConsumerSpec {
        &self.spec
    }

    /// Consumes the queue with `handler` until shutdown is cancelled, then stops consuming,
    /// lets in-flight handlers finish within `amqp.shutdown_grace`, and closes cleanly;
    /// messages not finished stay unacked and the broker redelivers them. Returns an error only
    /// for a failure that reconnecting cannot fix (bad credentials, a queue declared with other
    /// arguments); broker outages are waited out.
    pub async fn run<H: Handler>(self, handler: Arc<H>) -> Result<(), AmqpError> {
        assert_eq!(
            self.spec.event_type,
            H::In::TYPE,
            "the spec was made for another handler (ConsumerSpec::for_handler)"
        );
        let Runtime {
            amqp,
            spec,
            signals,
        } = self;
        let shutdown = signals.shutdown.clone();
        let mut backoff = reconnect_backoff();
        loop {
            if shutdown.is_cancelled() {
                return Ok(());
            }
            // Connecting may take long (lapin retries the TCP connect); shutdown must not wait.
            let opened = tokio::select! {
                _ = shutdown.cancelled() => return Ok(()),
                opened = open_session(&amqp, &spec) => opened,
            };
            let session = match opened {
                Ok(session) => session,
                Err(e) if e.class().is_transient() => {
                    tracing::warn!(error = %e, "Cannot reach the broker; will retry.");
                    if !pause(&mut backoff, &shutdown).await {
                        return Ok(());
                    }
                    continue;
                }
                Err(e) => return Err(e),
            };
            backoff.reset();
            let ctx = Ctx::new(
                &amqp,
                &spec,
                signals.metrics.clone(),
                handler.clone(),
                session.link(),
            );
            let end = run_session(&amqp, session, Arc::new(ctx), &signals).await;
            signals.ready.set(false);
            match end {
                SessionEnd::Shutdown => {
                    signals.metrics.broker_connection(BrokerLink::Closed);
                    return Ok(());
                }
                SessionEnd::Broken(why) => {
                    signals.metrics.broker_connection(BrokerLink::Lost);
                    tracing::warn!(why, "Consumer session ended; rebuilding the connection.");
                    if !pause(&mut backoff, &shutdown).await {
                        return Ok(());
                    }
                }
            }
        }
    }
}

/// The pause between session rebuilds: from 200 ms, doubling up to 30 s, each pause drawn at
/// random within ±50 % ([`crate::backoff::jittered`], the same policy as Graph's in-call
/// retries), so that replicas that lost the broker together do not all come back in the same
/// instant after it restarts. Never gives up: a broker outage is waited out.
fn reconnect_backoff() -> ExponentialBackoff {
    crate::backoff::jittered(Duration::from_millis(200), Duration::from_secs(30))
}

/// Waits the next pause; `false` if shutdown came first.
async fn pause(backoff: &mut ExponentialBackoff, shutdown: &CancellationToken) -> bool {
    // With no maximum elapsed time there is always a next pause; the fallback is the cap.
    let pause = backoff.next_backoff().unwrap_or(Duration::from_secs(30));
    tokio::select! {
        _ = shutdown.cancelled() => false,
        _ = tokio::time::sleep(pause) => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reconnect_pauses_are_jittered_around_a_doubling_and_capped() {
        let mut backoff = reconnect_backoff();
        let pauses: Vec<Duration> = (0..12).map(|_| backoff.next_backoff().unwrap()).collect();
        // ±50 % of 200 ms, then of 400 ms: the first two stay within their bands.
        assert!(pauses[0] >= Duration::from_millis(100) && pauses[0] <= Duration::from_millis(300));
        assert!(pauses[1] >= Duration::from_millis(200) && pauses[1] <= Duration::from_millis(600));
        // The interval is capped at 30 s, so no pause exceeds 45 s.
        assert!(
            pauses.iter().all(|p| *p <= Duration::from_secs(45)),
            "{pauses:?}"
        );
        // Two replicas starting together do not wait the same pauses.
        let mut other = reconnect_backoff();
        let others: Vec<Duration> = (0..12).map(|_| other.next_backoff().unwrap()).collect();
        assert_ne!(pauses, others, "no jitter");
    }
}

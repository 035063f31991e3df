//! The Prometheus series of a service, and the one place each outcome is both logged and
//! counted, so that the log and the dashboard cannot disagree. The names are a contract with
//! the Grafana dashboard and the alerts: change them only together.
//!
//! Not for: serving them (`health`) or deciding outcomes (`amqp::retry`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;

use super::GraphObserver;

type Labels = Vec<(&'static str, String)>;
type HistogramFamily = Family<Labels, Histogram, fn() -> Histogram>;

/// The state of the broker connection, as `onboarding_broker_connected` and the log say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BrokerLink {
    /// Connected (or recovered).
    Up,
    /// Dropped under us: the consumer reconnects.
    Lost,
    /// Closed by us on shutdown: nothing was lost.
    Closed,
}

/// Every series of one service; cheap to clone (one shared registry).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    service: String,
    /// `graph.request_timeout` in ms (0 = unknown): tells a timeout from another failure.
    graph_timeout_ms: AtomicU64,
    registry: Registry,
    messages: Family<Labels, Counter>,
    handler_duration: HistogramFamily,
    graph_requests: Family<Labels, Counter>,
    retries: Family<Labels, Counter>,
    dead_letters: Family<Labels, Counter>,
    would_writes: Family<Labels, Counter>,
    queue_messages: Family<Labels, Gauge>,
    broker_connected: Family<Labels, Gauge>,
}

fn duration_histogram() -> Histogram {
    // 5 ms .. ~80 s: a handler is a handful of Graph calls, each with short in-call retries.
    Histogram::new(exponential_buckets(0.005, 2.0, 15))
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("service", &self.inner.service)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// A fresh registry whose series all carry `service="<service>"`.
    pub fn new(service: &str) -> Self {
        let mut registry = Registry::default();
        let messages = Family::<Labels, Counter>::default();
        let handler_duration: HistogramFamily = Family::new_with_constructor(duration_histogram);
        let graph_requests = Family::<Labels, Counter>::default();
        let retries = Family::<Labels, Counter>::default();
        let dead_letters = Family::<Labels, Counter>::default();
        let would_writes = Family::<Labels, Counter>::default();
        let queue_messages = Family::<Labels, Gauge>::default();
        let broker_connected = Family::<Labels, Gauge>::default();
        // Counters are registered without `_total`: the encoder appends it.
        registry.register(
            "onboarding_messages",
            "Messages settled, by outcome (succeeded, retried, dead_lettered)",
            messages.clone(),
        );
        registry.register(
            "onboarding_handler_duration_seconds",
            "Time a handler took, successful or not",
            handler_duration.clone(),
        );
        registry.register(
            "onboarding_graph_requests",
            "Graph requests by method, URL template and status (timeout or error without a response)",
            graph_requests.clone(),
        );
        registry.register(
            "onboarding_retries",
            "Messages sent to a delay tier",
            retries.clone(),
        );
        registry.register(
            "onboarding_dead_letters",
            "Messages dead-lettered, by class (transient, permanent, invalid)",
            dead_letters.clone(),
        );
        registry.register(
            "onboarding_would_writes",
            "Graph writes shadow mode held back",
            would_writes.clone(),
        );
        registry.register(
            "onboarding_queue_messages",
            "Ready messages in the work, delay and dead-letter queues (sampled)",
            queue_messages.clone(),
        );
        registry.register(
            "onboarding_broker_connected",
            "1 while the broker connection is up",
            broker_connected.clone(),
        );
        Metrics {
            inner: Arc::new(Inner {
                service: service.to_owned(),
                graph_timeout_ms: AtomicU64::new(0),
                registry,
                messages,
                handler_duration,
                graph_requests,
                retries,
                dead_letters,
                would_writes,
                queue_messages,
                broker_connected,
            }),
        }
    }

    /// Lets the Graph series label a request that ended without a response after at least
    /// `timeout` as `status="timeout"` (the observer reports only "no response").
    pub fn with_graph_request_timeout(self, timeout: Duration) -> Self {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        self.inner.graph_timeout_ms.store(ms, Ordering::Relaxed);
        self
    }

    fn labels(&self, extra: &[(&'static str, &str)]) -> Labels {
        let mut labels = vec![("service", self.inner.service.clone())];
        labels.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        labels
    }

    /// OpenMetrics text of every series.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.inner.registry);
        out
    }

    // === outcomes: each logs and counts together ===

    /// A handler ran (whatever its result).
    pub fn handler_finished(&self, elapsed: Duration) {
        self.inner
            .handler_duration
            .get_or_create(&self.labels(&[]))
            .observe(elapsed.as_secs_f64());
    }

    /// The handler succeeded and its outcome event was confirmed; the message is acked.
    pub fn succeeded(&self, message_id: &str, outcome_type: &str) {
        tracing::info!(message_id, outcome_type, "Message handled.");
        let labels = self.labels(&[("outcome", "succeeded")]);
        self.inner.messages.get_or_create(&labels).inc();
    }

    /// A transient failure went to a delay tier. A `pending` one ("not there yet", see
    /// `Classify::is_pending`) is the plan working, so it logs at INFO; any other at WARN.
    pub fn retried(&self, message_id: &str, tier: &str, attempt: u32, reason: &str, pending: bool) {
        if pending {
            tracing::info!(
                message_id,
                tier,
                attempt,
                reason,
                "Not there yet; message parked in a delay tier for a retry."
            );
        } else {
            tracing::warn!(
                message_id,
                tier,
                attempt,
                reason,
                "Message parked in a delay tier for a retry."
            );
        }
        let labels = self.labels(&[("outcome", "retried")]);
        self.inner.messages.get_or_create(&labels).inc();
        self.inner
            .retries
            .get_or_create(&self.labels(&[("tier", tier)]))
            .inc();
    }

    /// The only place a dead letter is logged and counted. `class` is transient, permanent or
    /// invalid (an event that did not parse).
    pub fn dead_lettered(&self, message_id: &str, class: &str, attempts: u32, reason: &str) {
        tracing::error!(
            message_id,
            class,
            attempts,
            reason,
            "Message moved to the dead-letter queue."
        );
        let labels = self.labels(&[("outcome", "dead_lettered")]);
        self.inner.messages.get_or_create(&labels).inc();
        let labels = self.labels(&[("class", class)]);
        self.inner.dead_letters.get_or_create(&labels).inc();
    }

    /// The broker connection came up, was lost, or was closed by us.
    pub fn broker_connection(&self, link: BrokerLink) {
        match link {
            BrokerLink::Up => tracing::info!("Connected to the broker."),
            BrokerLink::Lost => tracing::warn!("Broker connection lost; reconnecting."),
            BrokerLink::Closed => tracing::info!("Disconnected from the broker (shutting down)."),
        }
        self.inner
            .broker_connected
            .get_or_create(&self.labels(&[]))
            .set(i64::from(link == BrokerLink::Up));
    }

    /// A sampled queue depth.
    pub fn queue_depth(&self, queue: &str, messages: u32) {
        let labels = self.labels(&[("queue", queue)]);
        self.inner
            .queue_messages
            .get_or_create(&labels)
            .set(i64::from(messages));
    }
}

impl GraphObserver for Metrics {
    fn request_finished(&self, method: &str, route: &str, status: Option<u16>, elapsed: Duration) {
        let timeout_ms = self.inner.graph_timeout_ms.load(Ordering::Relaxed);
        let timed_out = timeout_ms > 0 && elapsed.as_millis() >= u128::from(timeout_ms);
        let status = match status {
            Some(code) => code.to_string(),
            // The observer only says "no response"; a wait as long as the timeout was one.
            None if timed_out => "timeout".to_owned(),
            None => "error".to_owned(),
        };
        let labels = self.labels(&[("method", method), ("route", route), ("status", &status)]);
        self.inner.graph_requests.get_or_create(&labels).inc();
        tracing::debug!(method, route, %status, elapsed_ms = elapsed.as_millis() as u64, "Graph request finished.");
    }

    fn would_write(&self, method: &str, route: &str) {
        tracing::info!(method, route, "Shadow mode: write not sent.");
        let labels = self.labels(&[("method", method), ("route", route)]);
        self.inner.would_writes.get_or_create(&labels).inc();
    }
}

//! The broker side of a test: a [`Tap`] that collects what arrives on a queue (outcomes, dead
//! letters), and `rabbitmqctl` helpers to cut a test's own connections.
//!
//! Not for: publishing (the shared `Publisher` does that) or declaring service topology (the
//! services declare their own, as in production).

use std::time::Duration;

use futures::StreamExt as _;
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel};
use tokio::sync::{Mutex, mpsc};

use crate::wait;

/// One message as it arrived on a tapped queue.
#[derive(Debug, Clone)]
pub struct Received {
    /// The routing key it was published with.
    pub routing_key: String,
    /// The message body as delivered.
    pub body: Vec<u8>,
    /// AMQP properties (message id, headers, …).
    pub properties: BasicProperties,
}

impl Received {
    /// The body parsed as JSON; panics if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).expect("tapped message is JSON")
    }

    /// The message's headers (empty if it had none).
    pub fn headers(&self) -> FieldTable {
        self.properties.headers().clone().unwrap_or_default()
    }

    /// A header as text, as `shared::amqp::headers::text` reads it.
    pub fn header(&self, name: &str) -> Option<String> {
        shared::amqp::headers::text(&self.headers(), name).map(str::to_owned)
    }

    /// A header as a number, as `shared::amqp::headers::number` reads it.
    pub fn number_header(&self, name: &str) -> Option<u64> {
        shared::amqp::headers::number(&self.headers(), name)
    }
}

/// Everything that arrives on one queue, in order, acked as it is taken.
pub struct Tap {
    rx: Mutex<mpsc::UnboundedReceiver<Received>>,
}

impl Tap {
    /// Consumes `queue` (which must exist) on `channel`.
    pub async fn consume(channel: &Channel, queue: &str) -> Tap {
        let mut consumer = channel
            .basic_consume(
                queue.into(),
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("consume {queue}: {e}"));
        let (tx, rx) = mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let received = Received {
                    routing_key: delivery.routing_key.to_string(),
                    body: delivery.data.clone(),
                    properties: delivery.properties.clone(),
                };
                let _ = delivery.ack(BasicAckOptions::default()).await;
                if tx.send(received).is_err() {
                    break;
                }
            }
        });
        Tap { rx: Mutex::new(rx) }
    }

    /// An exclusive queue bound to `pattern` on `exchange`, tapped.
    pub async fn bind(channel: &Channel, exchange: &str, queue: &str, pattern: &str) -> Tap {
        let opts = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        channel
            .queue_declare(queue.into(), opts, FieldTable::default())
            .await
            .unwrap_or_else(|e| panic!("declare {queue}: {e}"));
        channel
            .queue_bind(
                queue.into(),
                exchange.into(),
                pattern.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .unwrap_or_else(|e| panic!("bind {queue}: {e}"));
        Tap::consume(channel, queue).await
    }

    /// The next message, or a panic naming `what` after `within` × patience.
    pub async fn next(&self, what: &str, within: Duration) -> Received {
        let mut rx = self.rx.lock().await;
        wait::within(what, within, rx.recv())
            .await
            .unwrap_or_else(|| panic!("tap closed while waiting for {what}"))
    }

    /// The next `n` messages.
    pub async fn take(&self, n: usize, what: &str, within: Duration) -> Vec<Received> {
        let mut out = Vec::with_capacity(n);
        for i in 0..n {
            out.push(
                self.next(&format!("{what} ({} of {n})", i + 1), within)
                    .await,
            );
        }
        out
    }

    /// Whatever has arrived and not been taken yet, without waiting.
    pub async fn drain(&self) -> Vec<Received> {
        let mut rx = self.rx.lock().await;
        let mut out = Vec::new();
        while let Ok(r) = rx.try_recv() {
            out.push(r);
        }
        out
    }
}

/// Closes every broker connection whose name starts with `prefix`, as a network cut would,
/// without touching other tests' connections. Returns how many were closed.
pub async fn close_connections_named(prefix: &str) -> usize {
    let out = tokio::process::Command::new("rabbitmqctl")
        .args(["-q", "list_connections", "pid", "client_properties"])
        .output()
        .await
        .expect("rabbitmqctl runs");
    let listing = String::from_utf8_lossy(&out.stdout);
    let mut closed = 0;
    for line in listing.lines() {
        let Some((pid, props)) = line.split_once('\t') else {
            continue;
        };
        let named = props.contains(&format!("{{\"connection_name\",\"{prefix}"));
        if !named {
            continue;
        }
        let status = tokio::process::Command::new("rabbitmqctl")
            .args([
                "-q",
                "close_connection",
                pid,
                "e2e test cuts the connection",
            ])
            .status()
            .await
            .expect("rabbitmqctl runs");
        if status.success() {
            closed += 1;
        }
    }
    closed
}

/// Deletes every queue whose name starts with `prefix` (a test's leftovers once it passed).
pub async fn delete_prefixed(prefix: &str) {
    let out = tokio::process::Command::new("rabbitmqctl")
        .args(["-q", "list_queues", "name"])
        .output()
        .await
        .expect("rabbitmqctl runs");
    for queue in String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::trim)
        .filter(|q| q.starts_with(prefix))
    {
        let _ = tokio::process::Command::new("rabbitmqctl")
            .args(["-q", "delete_queue", queue])
            .status()
            .await;
    }
}

//! The broker side of every `dead` verb: connect, count a queue, take its messages unacked, and
//! give back the ones we keep so the queue looks as it did.
//!
//! Not for: deciding which messages to touch (each verb's).

use std::time::Duration;

use anyhow::Context as _;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{BasicGetOptions, BasicNackOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use shared::amqp::Publisher;
use shared::config::Settings;

/// A connection with publisher confirms, named after this process.
pub(super) async fn connect(settings: &Settings) -> anyhow::Result<Publisher> {
    let name = format!("onboardctl-dead@{}", std::process::id());
    Publisher::connect(&settings.amqp, &name)
        .await
        .context("connecting to the broker (amqp.url)")
}

/// Messages ready in `queue` now, by a passive declare (it fails if the queue does not exist).
pub(super) async fn depth(channel: &Channel, queue: &str) -> anyhow::Result<u32> {
    let options = QueueDeclareOptions {
        passive: true,
        ..Default::default()
    };
    let q = channel
        .queue_declare(queue.into(), options, FieldTable::default())
        .await
        .with_context(|| {
            format!("{queue} does not exist (has the service never started on this broker?)")
        })?;
    Ok(q.message_count())
}

/// Takes (unacked) as many messages as the queue held when we started.
pub(super) async fn take_all(channel: &Channel, queue: &str) -> anyhow::Result<Vec<Delivery>> {
    let depth = depth(channel, queue).await?;
    let mut taken = Vec::new();
    for _ in 0..depth {
        match channel
            .basic_get(queue.into(), BasicGetOptions { no_ack: false })
            .await
            .with_context(|| format!("reading {queue}"))?
        {
            Some(got) => taken.push(got.delivery),
            None => break,
        }
    }
    Ok(taken)
}

/// How long `requeue` waits for the queue to count its letters ready again.
const REQUEUE_SETTLE: Duration = Duration::from_secs(5);

/// Gives `taken` back to `queue`, newest first so the oldest ends up in front again, and
/// returns once the queue counts them ready again: a quorum queue applies returns through its
/// log a moment after the nack, and a `dead list` started in that moment (ours or another
/// operator's) would see the letters missing. The wait is bounded because another operator
/// holding letters at the same time keeps the count lower.
pub(super) async fn requeue(channel: &Channel, queue: &str, taken: Vec<Delivery>) {
    let returned = u32::try_from(taken.len()).unwrap_or(u32::MAX);
    for delivery in taken.into_iter().rev() {
        // A failure here means the channel is gone: the broker requeues unacked messages then.
        let _ = delivery
            .nack(BasicNackOptions {
                requeue: true,
                ..Default::default()
            })
            .await;
    }
    let deadline = tokio::time::Instant::now() + REQUEUE_SETTLE;
    while tokio::time::Instant::now() < deadline {
        match depth(channel, queue).await {
            Ok(ready) if ready < returned => {
                // The poll interval, not a guess at how long the broker takes.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            _ => return,
        }
    }
}

//! `onboardctl dead list|show|replay|purge`: the dead-letter queue `<queue>.dead` of one
//! service, read and repaired over plain AMQP (no management plugin).
//!
//! Nothing is lost on the way: every message is taken with `basic_get` **without** ack and
//! held unacked while we look at it. A replayed message is acked only after the broker
//! confirmed its copy in the work queue; everything else (not selected, failed publish,
//! browsing) is nacked with requeue, or requeued by the broker when our channel closes. The
//! queue depth is read first and at most that many messages are taken, so requeued messages
//! are never taken twice in one run.
//!
//! Not for: deciding why a message died (the runtime wrote that in `x-onboarding-reason`), or
//! the Graph writes themselves (`replay --dry-run` asks the service's own handler, in shadow
//! mode, via [`crate::dry_run`]).

use std::io::{BufRead as _, IsTerminal as _, Write as _};
use std::time::Duration;

use anyhow::Context as _;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicGetOptions, BasicNackOptions, QueueDeclareOptions, QueuePurgeOptions,
};
use lapin::types::FieldTable;
use serde::Serialize;
use shared::amqp::{Publisher, headers, publish};
use shared::config::{Service, Settings};
use shared::telemetry;
use tracing::Instrument as _;

use crate::dry_run::{self, Plan};

mod letter;

pub use letter::{Shown, Summary, masked_body, summarize};
use letter::{content_type, header_map, message_id};

/// The services that have a dead-letter queue, as `--service` spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceArg {
    NewHire,
    DevicePurchased,
    DeviceShipped,
}

impl From<ServiceArg> for Service {
    fn from(s: ServiceArg) -> Service {
        match s {
            ServiceArg::NewHire => Service::NewHire,
            ServiceArg::DevicePurchased => Service::DevicePurchased,
            ServiceArg::DeviceShipped => Service::DeviceShipped,
        }
    }
}

/// What `dead list` found.
#[derive(Debug, Serialize)]
pub struct Listing {
    pub queue: String,
    pub count: usize,
    pub messages: Vec<Summary>,
}

/// Which dead letters `replay` takes. Every given condition must hold; `all` alone takes all.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub id: Option<String>,
    pub reason_contains: Option<String>,
    pub older_than: Option<Duration>,
    pub event_type: Option<String>,
    pub all: bool,
}

impl Selection {
    fn is_empty(&self) -> bool {
        self.id.is_none()
            && self.reason_contains.is_none()
            && self.older_than.is_none()
            && self.event_type.is_none()
            && !self.all
    }

    fn matches(&self, s: &Summary) -> bool {
        let id = self.id.as_ref().is_none_or(|id| &s.id == id);
        let reason = self.reason_contains.as_ref().is_none_or(|needle| {
            s.reason
                .as_deref()
                .is_some_and(|r| r.to_lowercase().contains(&needle.to_lowercase()))
        });
        let age = self
            .older_than
            .is_none_or(|min| s.age_secs.is_some_and(|age| age >= min.as_secs()));
        let kind = self
            .event_type
            .as_ref()
            .is_none_or(|t| s.event_type.as_deref() == Some(t.as_str()));
        id && reason && age && kind
    }
}

/// What `replay` did (or, with `--dry-run`, would do) per selected message.
#[derive(Debug, Serialize)]
pub struct ReplayReport {
    pub queue: String,
    pub work_queue: String,
    pub dry_run: bool,
    /// Messages looked at (the queue depth when we started).
    pub examined: usize,
    pub replayed: Vec<String>,
    /// Messages whose republish failed; each is still in the dead-letter queue.
    pub failed: Vec<Failure>,
    /// `--dry-run` only: the Graph writes a replay of each selected message would make.
    pub plans: Vec<Plan>,
}

#[derive(Debug, Serialize)]
pub struct Failure {
    pub id: String,
    pub error: String,
}

/// What `purge` removed.
#[derive(Debug, Serialize)]
pub struct Purged {
    pub queue: String,
    pub purged: u32,
}

/// `<work queue>.dead` of `service`.
pub fn dead_queue(settings: &Settings, service: Service) -> anyhow::Result<(String, String)> {
    let work = service
        .queue(&settings.amqp)
        .with_context(|| format!("{} has no work queue", service.name()))?
        .to_owned();
    Ok((format!("{work}.dead"), work))
}

/// `dead list`: every dead letter of `service`, oldest first, left in place.
pub async fn list(settings: &Settings, service: Service) -> anyhow::Result<Listing> {
    let (queue, _) = dead_queue(settings, service)?;
    let publisher = connect(settings).await?;
    let taken = take_all(publisher.channel(), &queue).await?;
    let messages: Vec<Summary> = taken.iter().map(summarize).collect();
    requeue(publisher.channel(), &queue, taken).await;
    publisher.close().await.ok();
    Ok(Listing {
        count: messages.len(),
        queue,
        messages,
    })
}

/// `dead show --id`: one dead letter in full (hardware hashes masked), left in place.
pub async fn show(settings: &Settings, service: Service, id: &str) -> anyhow::Result<Shown> {
    let (queue, _) = dead_queue(settings, service)?;
    let publisher = connect(settings).await?;
    let taken = take_all(publisher.channel(), &queue).await?;
    let found = taken.iter().find(|d| message_id(d) == id).map(|d| {
        let headers = d.properties.headers().clone().unwrap_or_default();
        Shown {
            summary: summarize(d),
            trace_id: letter::trace_id(&headers),
            headers: header_map(&headers),
            body: masked_body(&d.data),
        }
    });
    requeue(publisher.channel(), &queue, taken).await;
    publisher.close().await.ok();
    found.with_context(|| format!("no dead letter with message id {id} in {queue}"))
}

/// `dead replay`: the selected dead letters back to the work queue (confirmed, mandatory,
/// with `headers::for_replay`), each acked only once its copy is confirmed. With `dry_run`
/// nothing is republished: each selected message goes through the service's handler in
/// shadow mode, and the writes it would make are reported.
pub async fn replay(
    settings: &Settings,
    service: Service,
    selection: &Selection,
    dry_run_only: bool,
) -> anyhow::Result<ReplayReport> {
    anyhow::ensure!(
        !selection.is_empty(),
        "say which dead letters to replay: --id, --reason-contains, --older-than, --type, or --all"
    );
    let (queue, work_queue) = dead_queue(settings, service)?;
    let publisher = connect(settings).await?;
    let channel = publisher.channel().clone();
    let depth = depth(&channel, &queue).await?;
    let mut report = ReplayReport {
        queue: queue.clone(),
        work_queue: work_queue.clone(),
        dry_run: dry_run_only,
        examined: 0,
        replayed: Vec::new(),
        failed: Vec::new(),
        plans: Vec::new(),
    };
    let planner = if dry_run_only {
        Some(dry_run::Planner::new(settings, service)?)
    } else {
        None
    };
    // Held unacked until the end (not selected, planned, or failed), so the next basic_get
    // cannot hand them back to us.
    let mut untouched = Vec::new();
    for _ in 0..depth {
        let Some(got) = channel
            .basic_get(queue.as_str().into(), BasicGetOptions { no_ack: false })
            .await
            .with_context(|| format!("reading {queue}"))?
        else {
            break;
        };
        let delivery = got.delivery;
        report.examined += 1;
        let summary = summarize(&delivery);
        if !selection.matches(&summary) {
            untouched.push(delivery);
            continue;
        }
        if let Some(planner) = &planner {
            report.plans.push(
                planner
                    .plan(&summary.id, content_type(&delivery), &delivery.data)
                    .await,
            );
            untouched.push(delivery);
            continue;
        }
        match republish(&channel, &work_queue, &delivery).await {
            Ok(()) => {
                delivery
                    .ack(BasicAckOptions::default())
                    .await
                    .with_context(|| format!("acking {} after its replay", summary.id))?;
                report.replayed.push(summary.id);
            }
            Err(e) => {
                // Nacked back with the untouched ones at the end, not now: requeued now, the
                // next basic_get could hand it straight back. If the channel is gone, the
                // broker requeues it anyway.
                untouched.push(delivery);
                report.failed.push(Failure {
                    id: summary.id,
                    error: format!("{e:#}"),
                });
            }
        }
    }
    requeue(&channel, &queue, untouched).await;
    publisher.close().await.ok();
    if let Some(id) = &selection.id {
        let touched = report
            .replayed
            .iter()
            .chain(report.failed.iter().map(|f| &f.id));
        let planned = report.plans.iter().map(|p| &p.id);
        anyhow::ensure!(
            touched.chain(planned).any(|t| t == id),
            "no dead letter with message id {id} in {queue}"
        );
    }
    Ok(report)
}

/// `dead purge`: deletes every dead letter of `service`, or only the one with message id
/// `only` (the others are requeued untouched). `confirmed` is `--yes`; without it an
/// interactive terminal is asked, and anything else is refused.
pub async fn purge(
    settings: &Settings,
    service: Service,
    only: Option<&str>,
    confirmed: bool,
) -> anyhow::Result<Purged> {
    let (queue, _) = dead_queue(settings, service)?;
    let publisher = connect(settings).await?;
    let count = depth(publisher.channel(), &queue).await?;
    let what = match only {
        Some(id) => format!("dead letter {id} from {queue}"),
        None => format!("{count} dead letters from {queue}"),
    };
    if !confirmed {
        anyhow::ensure!(
            std::io::stdin().is_terminal(),
            "purge deletes {what} for good: pass --yes (no terminal to ask for confirmation)"
        );
        eprint!("Delete {what} for good? Type 'yes': ");
        std::io::stderr().flush().ok();
        let mut answer = String::new();
        std::io::stdin().lock().read_line(&mut answer)?;
        anyhow::ensure!(answer.trim() == "yes", "not confirmed; nothing purged");
    }
    let purged = match only {
        None => publisher
            .channel()
            .queue_purge(queue.as_str().into(), QueuePurgeOptions::default())
            .await
            .with_context(|| format!("purging {queue}"))?,
        Some(id) => {
            let mut taken = take_all(publisher.channel(), &queue).await?;
            let found = taken.iter().position(|d| message_id(d) == id);
            let purged = match found {
                Some(i) => {
                    let doomed = taken.remove(i);
                    doomed
                        .ack(BasicAckOptions::default())
                        .await
                        .with_context(|| format!("deleting {id}"))?;
                    1
                }
                None => 0,
            };
            requeue(publisher.channel(), &queue, taken).await;
            anyhow::ensure!(
                purged == 1,
                "no dead letter with message id {id} in {queue}"
            );
            purged
        }
    };
    publisher.close().await.ok();
    Ok(Purged { queue, purged })
}

// === the broker side ===

async fn connect(settings: &Settings) -> anyhow::Result<Publisher> {
    let name = format!("onboardctl-dead@{}", std::process::id());
    Publisher::connect(&settings.amqp, &name)
        .await
        .context("connecting to the broker (amqp.url)")
}

/// Messages ready in `queue` now, by a passive declare (it fails if the queue does not exist).
async fn depth(channel: &Channel, queue: &str) -> anyhow::Result<u32> {
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
async fn take_all(channel: &Channel, queue: &str) -> anyhow::Result<Vec<Delivery>> {
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
async fn requeue(channel: &Channel, queue: &str, taken: Vec<Delivery>) {
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

/// The copy sent to the work queue: same body and properties, headers fit for a fresh start.
/// The replay joins the letter's own trace: a `replay` span, child of the context the letter
/// carries, whose `traceparent` the copy takes, so the trace shows first attempts, the replay
/// and what followed it in order.
async fn republish(channel: &Channel, work_queue: &str, delivery: &Delivery) -> anyhow::Result<()> {
    let original = delivery.properties.headers().clone().unwrap_or_default();
    let span = tracing::info_span!(
        "replay",
        otel.name = %format!("publish {work_queue}"),
        otel.kind = "producer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "send",
        messaging.operation.name = "publish",
        messaging.destination.name = %work_queue,
        messaging.message.id = %message_id(delivery),
    );
    telemetry::continue_trace_from(&span, &original);
    async {
        let mut headers = headers::for_replay(&original);
        telemetry::inject_trace_context(&mut headers);
        let properties = delivery.properties.clone().with_headers(headers);
        publish::publish_confirmed(channel, "", work_queue, true, &delivery.data, properties)
            .await
            .with_context(|| format!("republishing to {work_queue}"))
    }
    .instrument(span)
    .await
}

// === tables ===

pub fn render_list(l: &Listing) -> String {
    let mut lines = vec![format!("{}: {} dead letters", l.queue, l.count)];
    for m in &l.messages {
        lines.push(format!(
            "  {}  {}  attempts {}  age {}  [{}] {}",
            m.id,
            m.event_type.as_deref().unwrap_or("?"),
            m.attempts.map_or("-".to_owned(), |a| a.to_string()),
            m.age_secs
                .map_or("-".to_owned(), |s| humantime::format_duration(
                    Duration::from_secs(s)
                )
                .to_string()),
            m.error_class.as_deref().unwrap_or("-"),
            m.reason.as_deref().unwrap_or("(no reason header)"),
        ));
    }
    lines.join("\n")
}

pub fn render_show(s: &Shown) -> String {
    serde_json::to_string_pretty(s).expect("dead letter serialises")
}

pub fn render_replay(r: &ReplayReport) -> String {
    let mut lines = Vec::new();
    if r.dry_run {
        lines.push(format!(
            "dry run on {} ({} examined): nothing republished",
            r.queue, r.examined
        ));
        for p in &r.plans {
            lines.push(format!("  {}: {}", p.id, p.outcome));
            for w in &p.would_write {
                lines.push(format!("    would {w}"));
            }
        }
    } else {
        lines.push(format!(
            "{} -> {}: {} replayed, {} failed ({} examined)",
            r.queue,
            r.work_queue,
            r.replayed.len(),
            r.failed.len(),
            r.examined
        ));
        lines.extend(r.replayed.iter().map(|id| format!("  replayed {id}")));
        lines.extend(r.failed.iter().map(|f| {
            format!(
                "  failed {} (kept in the dead-letter queue): {}",
                f.id, f.error
            )
        }));
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_selection_needs_every_given_condition() {
        let s = Summary {
            id: "m1".into(),
            event_type: Some("hr.employee.hired".into()),
            reason: Some("Missing GroupMember.Read.All: grant it".into()),
            error_class: Some("permanent".into()),
            attempts: Some(1),
            first_seen: None,
            age_secs: Some(120),
        };
        let by = |sel: Selection| sel.matches(&s);
        assert!(by(Selection {
            all: true,
            ..Default::default()
        }));
        assert!(by(Selection {
            reason_contains: Some("groupmember".into()),
            ..Default::default()
        }));
        assert!(!by(Selection {
            reason_contains: Some("groupmember".into()),
            event_type: Some("procurement.device.shipped".into()),
            ..Default::default()
        }));
        assert!(by(Selection {
            older_than: Some(Duration::from_secs(60)),
            ..Default::default()
        }));
        assert!(!by(Selection {
            older_than: Some(Duration::from_secs(600)),
            ..Default::default()
        }));
        assert!(!by(Selection {
            id: Some("m2".into()),
            ..Default::default()
        }));
    }
}

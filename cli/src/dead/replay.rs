//! `onboardctl dead replay`: dead letters back to the service's work queue, attempts starting
//! afresh. A message leaves the dead-letter queue only once the broker confirmed its copy;
//! with `--dry-run` nothing is republished and the service's own handler, in shadow mode, says
//! which Graph writes a replay would make ([`crate::dry_run`]).

use std::time::Duration;

use anyhow::Context as _;
use lapin::Channel;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicGetOptions};
use serde::Serialize;
use shared::amqp::{headers, publish};
use shared::config::{Service, Settings};
use shared::telemetry;
use tracing::Instrument as _;

use super::broker::{connect, depth, requeue};
use super::letter::{content_type, message_id};
use super::{ServiceArg, Summary, dead_queue, summarize};
use crate::context::Context;
use crate::dry_run::{self, Plan};
use crate::exit::Exit;

/// `onboardctl dead replay`'s flags: which letters (every given condition must hold).
#[derive(clap::Args)]
pub struct Args {
    /// The service whose dead-letter queue (`<queue>.dead`) to use.
    #[arg(long, value_enum)]
    service: ServiceArg,
    /// Only this message id (also accepted as `--id`).
    #[arg(value_name = "MESSAGE_ID")]
    id: Option<String>,
    #[arg(
        long = "id",
        value_name = "MESSAGE_ID",
        conflicts_with = "id",
        hide = true
    )]
    id_flag: Option<String>,
    /// Only messages whose reason contains this text (case-insensitive).
    #[arg(long)]
    reason_contains: Option<String>,
    /// Only messages first seen longer ago than this (e.g. 30m, 2h).
    #[arg(long, value_parser = humantime::parse_duration)]
    older_than: Option<std::time::Duration>,
    /// Only messages of this CloudEvents type.
    #[arg(long = "type")]
    event_type: Option<String>,
    /// Every dead letter of the service.
    #[arg(long, conflicts_with_all = ["id", "id_flag"])]
    all: bool,
    /// Republish nothing: print the Graph writes a replay would make (the handler runs in
    /// shadow mode: reads only).
    #[arg(long)]
    dry_run: bool,
}

/// Which dead letters `replay` takes. Every given condition must hold; `all` alone takes all.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// Only this message id.
    pub id: Option<String>,
    /// Only letters whose reason contains this (case-insensitive).
    pub reason_contains: Option<String>,
    /// Only letters first seen at least this long ago.
    pub older_than: Option<Duration>,
    /// Only letters of this CloudEvents type.
    pub event_type: Option<String>,
    /// Every letter.
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
    /// The dead-letter queue read.
    pub queue: String,
    /// The work queue the copies went to.
    pub work_queue: String,
    /// Whether this was `--dry-run` (nothing republished).
    pub dry_run: bool,
    /// Messages looked at (the queue depth when we started).
    pub examined: usize,
    /// Message ids republished (and removed from the dead-letter queue).
    pub replayed: Vec<String>,
    /// Messages whose republish failed; each is still in the dead-letter queue.
    pub failed: Vec<Failure>,
    /// `--dry-run` only: the Graph writes a replay of each selected message would make.
    pub plans: Vec<Plan>,
}

/// A selected message that could not be republished.
#[derive(Debug, Serialize)]
pub struct Failure {
    /// Its message id.
    pub id: String,
    /// Why, with causes.
    pub error: String,
}

/// Replays (or plans) and reports; `Partial` when some republished and some failed, `Failed`
/// when every selected one failed.
pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Exit> {
    let selection = Selection {
        id: args.id.or(args.id_flag),
        reason_contains: args.reason_contains,
        older_than: args.older_than,
        event_type: args.event_type,
        all: args.all,
    };
    let report = replay(&ctx.settings, args.service.into(), &selection, args.dry_run).await?;
    ctx.output.print(&report, || render(&report));
    Ok(
        match (report.failed.is_empty(), report.replayed.is_empty()) {
            (true, _) => Exit::Done,
            (false, false) => Exit::Partial,
            (false, true) => Exit::Failed,
        },
    )
}

/// The selected dead letters back to the work queue (confirmed, mandatory, with
/// `headers::for_replay`), each acked only once its copy is confirmed. With `dry_run_only`
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

/// The copy sent to the work queue: same body and properties, headers fit for a fresh start.
/// The replay joins the letter's own trace: the runtime's send span, child of the context the letter
/// carries, whose `traceparent` the copy takes, so the trace shows first attempts, the replay
/// and what followed it in order.
async fn republish(channel: &Channel, work_queue: &str, delivery: &Delivery) -> anyhow::Result<()> {
    let original = delivery.properties.headers().clone().unwrap_or_default();
    let span = shared::amqp::send_span("", work_queue, &message_id(delivery));
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

/// The plan (dry run) or what was replayed and what failed, as a person reads it.
pub fn render(r: &ReplayReport) -> String {
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

//! `onboardctl publish`: one event from flags, or every valid row of a CSV file. Every row is
//! validated before anything is sent; bad rows are reported by line and skipped, and each
//! publish waits for the broker's confirm, so "published" means the broker has it.

use std::io::IsTerminal as _;
use std::path::Path;

use anyhow::Context as _;
use futures::StreamExt as _;
use serde::Serialize;
use shared::amqp::Publisher;
use shared::config::Settings;
use shared::events::{Envelope, Event};
use shared::ids::OrderId;
use tracing::Instrument as _;

use crate::intake::{self, RowError, autopilot, events, hr};
use crate::output::Output;

/// Publishes in flight at once: confirms are awaited concurrently, which is what makes a
/// 5,000-row file take seconds rather than minutes.
const IN_FLIGHT: usize = 64;

/// Which kind of CSV a file is; `Auto` looks at the header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum CsvKind {
    /// Decide from the header: an `employeeId` column means HR, anything else Autopilot.
    Auto,
    /// The Autopilot hardware-hash CSV (Get-WindowsAutopilotInfo).
    Autopilot,
    /// The HR CSV (one column per new-hire field).
    Hr,
}

/// What a bulk publish did, as printed.
#[derive(Debug, Serialize)]
pub struct Report {
    /// The file's path, as given.
    pub file: String,
    /// The kind the file was read as: `"hr"` or `"autopilot"`.
    pub kind: &'static str,
    /// The encoding the file turned out to be in (`SourceEncoding::name`).
    pub encoding: String,
    /// Data rows read, valid and rejected; blank lines do not count.
    pub rows: usize,
    /// Events the broker confirmed. An Autopilot row with an `Assigned User` gives two (its
    /// purchase and its shipment), so this can exceed the valid rows.
    pub published: usize,
    /// The rows skipped, each with its line and reason; none of them was published.
    pub rejected: Vec<RowError>,
    /// Header cells that matched no known column; their values were ignored.
    pub ignored_columns: Vec<String>,
    /// The events published, in order (not printed: a file can hold thousands).
    #[serde(skip)]
    pub events: Vec<PublishedEvent>,
}

/// One event a bulk publish sent: what its outcome answers to, and whom it is about.
#[derive(Debug, Clone)]
pub struct PublishedEvent {
    /// The CloudEvents id, derived from the row, so publishing the file again repeats it.
    pub id: String,
    /// The CloudEvents subject: the employee id of a hire, the serial of a device.
    pub subject: Option<String>,
}

/// One single event from flags, confirmed.
pub async fn publish_one<E: Event>(
    settings: &Settings,
    event: Envelope<E>,
    out: Output,
) -> anyhow::Result<()> {
    let routing_key = E::TYPE;
    let publisher = connect(settings).await?;
    publisher
        .publish_event(&settings.amqp.exchange, routing_key, &event)
        .instrument(publish_span(&settings.amqp.exchange, routing_key, &event))
        .await?;
    publisher.close().await.ok();
    out.print(
        &serde_json::json!({ "published": 1, "id": event.id, "type": routing_key }),
        || format!("published {routing_key} {}", event.id),
    );
    Ok(())
}

/// Every valid row of `path`; returns the report (the caller picks the exit code from it).
pub async fn publish_csv(
    settings: &Settings,
    path: &Path,
    kind: CsvKind,
    order_id: Option<OrderId>,
    out: Output,
) -> anyhow::Result<Report> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let kind = match kind {
        CsvKind::Auto => detect(&bytes),
        other => other,
    };
    let batch = match kind {
        CsvKind::Hr => hire_batch(path, &bytes)?,
        _ => device_batch(path, &bytes, order_id)?,
    };
    let publisher = connect(settings).await?;
    let published = publish_all(&publisher, &settings.amqp.exchange, &batch.events, out).await?;
    publisher.close().await.ok();
    Ok(Report {
        file: path.display().to_string(),
        kind: batch.kind,
        encoding: batch.encoding.name().to_owned(),
        rows: batch.rows,
        published,
        rejected: batch.rejected,
        ignored_columns: batch.unknown_columns,
        events: batch
            .events
            .iter()
            .map(|(_, e)| PublishedEvent {
                id: e.id.clone(),
                subject: e.subject.clone(),
            })
            .collect(),
    })
}

/// Events ready to go: (routing key, serialised envelope), in publishing order.
struct Batch {
    kind: &'static str,
    encoding: intake::decode::SourceEncoding,
    rows: usize,
    events: Vec<(&'static str, Envelope<serde_json::Value>)>,
    rejected: Vec<RowError>,
    unknown_columns: Vec<String>,
}

fn hire_batch(path: &Path, bytes: &[u8]) -> anyhow::Result<Batch> {
    let parsed = hr::parse(bytes).with_context(|| format!("{}", path.display()))?;
    let events = parsed
        .rows
        .iter()
        .map(|row| envelope_value(&events::hire(row)))
        .collect::<anyhow::Result<_>>()?;
    Ok(Batch {
        kind: "hr",
        encoding: parsed.encoding,
        rows: parsed.rows.len() + parsed.rejected.len(),
        events,
        rejected: parsed.rejected,
        unknown_columns: parsed.unknown_columns,
    })
}

fn device_batch(path: &Path, bytes: &[u8], order_id: Option<OrderId>) -> anyhow::Result<Batch> {
    let parsed = autopilot::parse(bytes).with_context(|| format!("{}", path.display()))?;
    let order = match order_id {
        Some(order) => order,
        None => default_order_id(path)?,
    };
    // Every purchase goes first: a shipment before its purchase converges too, but a batch in
    // this order spends no retries waiting for imports it could have started.
    let mut purchases = Vec::new();
    let mut shipments = Vec::new();
    for row in &parsed.rows {
        let (purchase, shipment) = events::device(row, &order);
        purchases.push(envelope_value(&purchase)?);
        if let Some(shipment) = shipment {
            shipments.push(envelope_value(&shipment)?);
        }
    }
    purchases.extend(shipments);
    Ok(Batch {
        kind: "autopilot",
        encoding: parsed.encoding,
        rows: parsed.rows.len() + parsed.rejected.len(),
        events: purchases,
        rejected: parsed.rejected,
        unknown_columns: parsed.unknown_columns,
    })
}

/// The event with its data as JSON, so one batch can hold events of several types; its
/// routing key is its type.
fn envelope_value<E: Event>(
    event: &Envelope<E>,
) -> anyhow::Result<(&'static str, Envelope<serde_json::Value>)> {
    let data = serde_json::to_value(&event.data).context("serialising an event")?;
    let erased = Envelope {
        specversion: event.specversion.clone(),
        id: event.id.clone(),
        source: event.source.clone(),
        event_type: event.event_type.clone(),
        time: event.time,
        subject: event.subject.clone(),
        datacontenttype: event.datacontenttype.clone(),
        data,
    };
    Ok((E::TYPE, erased))
}

/// `csv-<file stem>`: the order a file's purchases belong to when none is given.
fn default_order_id(path: &Path) -> anyhow::Result<OrderId> {
    let stem = path
        .file_stem()
        .and_then(|s| s.to_str())
        .unwrap_or("import");
    let raw: String = format!("csv-{stem}").chars().take(64).collect();
    raw.parse()
        .map_err(|e| anyhow::anyhow!("--order-id is needed: {e}"))
}

/// An HR file names `employeeId`; anything else is taken for an Autopilot file.
fn detect(bytes: &[u8]) -> CsvKind {
    let header = intake::decode::decode_text(bytes)
        .map(|(text, _)| text.lines().next().unwrap_or("").to_owned())
        .unwrap_or_default();
    let folded = intake::columns::fold(&header);
    if folded.contains("employeeid") {
        CsvKind::Hr
    } else {
        CsvKind::Autopilot
    }
}

async fn connect(settings: &Settings) -> anyhow::Result<Publisher> {
    let name = format!("onboardctl@{}", std::process::id());
    Publisher::connect(&settings.amqp, &name)
        .await
        .context("connecting to the broker (amqp.url)")
}

async fn publish_all(
    publisher: &Publisher,
    exchange: &str,
    events: &[(&'static str, Envelope<serde_json::Value>)],
    out: Output,
) -> anyhow::Result<usize> {
    let progress = Progress::new(events.len() as u64, out);
    let mut confirms = futures::stream::iter(events)
        .map(|(routing_key, event)| async move {
            let published = publisher
                .publish_event(exchange, routing_key, event)
                .instrument(publish_span(exchange, routing_key, event))
                .await;
            published.with_context(|| format!("publishing {} {}", routing_key, event.id))
        })
        .buffered(IN_FLIGHT);
    let mut published = 0;
    while let Some(result) = confirms.next().await {
        if let Err(e) = result {
            progress.finish();
            // Rows after this one may be confirmed too (several are in flight); none is lost
            // for good: the ids are derived from the rows, so a second run only fills the gap.
            return Err(e.context(format!(
                "stopped after {published} of {} events were confirmed; publish the same file \
                 again: the rows already sent repeat harmlessly (same event ids, and the \
                 services only write what is missing)",
                events.len()
            )));
        }
        published += 1;
        progress.advance();
    }
    progress.finish();
    Ok(published)
}

/// The root of the event's trace: the consumer continues it from the `traceparent` header
/// this span's context gives the message, so one trace runs from here through every Graph call.
/// The subject (employee id or serial) is what an operator searches by, never the UPN.
fn publish_span<T>(exchange: &str, routing_key: &str, event: &Envelope<T>) -> tracing::Span {
    let span = shared::amqp::send_span(exchange, routing_key, &event.id);
    span.record("cloudevents.event_type", event.event_type.as_str());
    span.record(
        "cloudevents.event_subject",
        event.subject.as_deref().unwrap_or_default(),
    );
    span
}

/// A bar on a terminal; on a pipe, a plain line every tenth of the way.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
    total: u64,
    done: std::cell::Cell<u64>,
    out: Output,
}

impl Progress {
    fn new(total: u64, out: Output) -> Self {
        let bar = (std::io::stderr().is_terminal() && out == Output::Table).then(|| {
            let bar = indicatif::ProgressBar::new(total);
            if let Ok(style) =
                indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} events {per_sec}")
            {
                bar.set_style(style);
            }
            bar
        });
        Progress {
            bar,
            total,
            done: std::cell::Cell::new(0),
            out,
        }
    }

    fn advance(&self) {
        let done = self.done.get() + 1;
        self.done.set(done);
        match &self.bar {
            Some(bar) => bar.inc(1),
            None if self.out == Output::Table
                && self.total >= 10
                && done.is_multiple_of(self.total / 10) =>
            {
                eprintln!("published {done}/{}", self.total);
            }
            None => {}
        }
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

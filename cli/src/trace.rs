//! `onboardctl trace`: a trace store for a machine without Jaeger. `collect` is an OTLP/gRPC
//! receiver that the services and `onboardctl` export to (`telemetry.otlp_endpoint`); it appends
//! every span as one JSON line to a file. `show` reads that file and prints one event's trace —
//! publish, consume, each `ensure_*` step and each Graph call — as a tree, found by trace id,
//! serial number, message id or CloudEvents subject.
//!
//! Not for: production. There the spans go to an OpenTelemetry Collector and Jaeger (compose,
//! Kubernetes), which keep, index and expire them; this file only grows until it is deleted.

pub mod collect;
mod receiver;
pub mod show;

use std::collections::{BTreeMap, BTreeSet};
use std::io::BufRead as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use serde::{Deserialize, Serialize};

pub use receiver::serve;

use crate::exit::Exit;
use crate::output::Output;

/// The `trace` verbs.
#[derive(clap::Subcommand)]
pub enum Command {
    /// Receive OTLP/gRPC traces (point telemetry.otlp_endpoint here) and append every span to
    /// the store, until interrupted.
    Collect(collect::Args),
    /// Print the traces that match, each as a tree: publish, consume, every step and Graph call,
    /// with retries and dead letters under the span they happened in.
    Show(show::Args),
}

/// Runs the `trace` verb the command line names. Needs no settings and exports nothing: it is
/// where spans are sent.
pub async fn run(command: Command, out: Output) -> anyhow::Result<Exit> {
    match command {
        Command::Collect(args) => collect::run(args).await,
        Command::Show(args) => show::run(args, out),
    }
}

/// The variable `--store` reads when it is not given (`scripts/stack env` sets it).
pub const STORE_ENV: &str = "ONBOARDCTL_TRACE_STORE";

/// One exported span, as stored and printed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanRecord {
    /// `service.name` of the resource that exported it.
    pub service: String,
    /// 32 hex digits.
    pub trace_id: String,
    /// 16 hex digits.
    pub span_id: String,
    /// Empty for a trace's root.
    pub parent_span_id: String,
    /// The span's name (`publish hr.employee.hired`, `GET /v1.0/users/{id}`, ...).
    pub name: String,
    /// Its OpenTelemetry kind as the conventions name it: `client`, `server`, `producer`,
    /// `consumer` or `internal` (what makes a tracing UI draw a dependency).
    #[serde(default)]
    pub kind: String,
    /// When it started, in nanoseconds since the Unix epoch.
    pub start_unix_nano: u64,
    /// When it ended, in nanoseconds since the Unix epoch.
    pub end_unix_nano: u64,
    /// How it ended.
    pub status: SpanStatus,
    /// The error's description, when it ended in error.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub status_message: String,
    /// Every attribute, as text.
    pub attributes: BTreeMap<String, String>,
    /// The log events recorded inside the span (a retry, a dead letter), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<SpanEvent>,
}

/// How a span ended, as OpenTelemetry's status code says.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SpanStatus {
    /// Nobody said (most spans).
    Unset,
    /// Marked successful.
    Ok,
    /// The span ended in error (for a consume span: the attempt failed).
    Error,
}

/// A log event inside a span: its message and fields.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SpanEvent {
    /// The event's message.
    pub name: String,
    /// Its fields, as text.
    pub attributes: BTreeMap<String, String>,
}

impl SpanRecord {
    /// The attribute `key`, if the span has it.
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }

    fn duration_ms(&self) -> f64 {
        self.end_unix_nano.saturating_sub(self.start_unix_nano) as f64 / 1e6
    }
}

/// Every span in `store`; a line that is not a span (a write cut short) is skipped.
pub fn read_store(store: &Path) -> anyhow::Result<Vec<SpanRecord>> {
    let file = std::fs::File::open(store)
        .with_context(|| format!("opening the trace store {}", store.display()))?;
    let mut spans = Vec::new();
    for line in std::io::BufReader::new(file).lines() {
        if let Ok(span) = serde_json::from_str(&line?) {
            spans.push(span);
        }
    }
    Ok(spans)
}

/// Which traces to show.
#[derive(Debug, Clone)]
pub enum Query {
    /// The trace with this id (case-insensitive).
    TraceId(String),
    /// Every trace with a span whose `device.serial` is this (case-insensitive).
    Serial(String),
    /// The CloudEvents id: `messaging.message.id`.
    MessageId(String),
    /// The CloudEvents subject: an employee id or a serial number.
    Subject(String),
}

impl Query {
    fn matches(&self, span: &SpanRecord) -> bool {
        let eq =
            |key: &str, want: &str| span.attr(key).is_some_and(|v| v.eq_ignore_ascii_case(want));
        match self {
            Query::TraceId(id) => span.trace_id.eq_ignore_ascii_case(id),
            Query::Serial(serial) => eq("device.serial", serial),
            Query::MessageId(id) => eq("messaging.message.id", id),
            Query::Subject(subject) => eq("cloudevents.event_subject", subject),
        }
    }
}

/// One trace: its spans, earliest first.
#[derive(Debug, Serialize)]
pub struct Trace {
    /// The trace's id.
    pub trace_id: String,
    /// Every span of it, earliest first.
    pub spans: Vec<SpanRecord>,
}

/// What `trace show` prints.
#[derive(Debug, Serialize)]
pub struct Shown {
    /// The file read.
    pub store: PathBuf,
    /// The traces that matched, earliest first.
    pub traces: Vec<Trace>,
}

/// The traces that have a span matching `query`, each whole, earliest trace first.
pub fn select(spans: Vec<SpanRecord>, query: &Query) -> Vec<Trace> {
    let wanted: BTreeSet<String> = spans
        .iter()
        .filter(|s| query.matches(s))
        .map(|s| s.trace_id.clone())
        .collect();
    let mut by_trace: BTreeMap<String, Vec<SpanRecord>> = BTreeMap::new();
    for span in spans.into_iter().filter(|s| wanted.contains(&s.trace_id)) {
        by_trace
            .entry(span.trace_id.clone())
            .or_default()
            .push(span);
    }
    let mut traces: Vec<Trace> = by_trace
        .into_iter()
        .map(|(trace_id, mut spans)| {
            spans.sort_by_key(|s| (s.start_unix_nano, s.end_unix_nano));
            // An exporter that retried a batch sends a span twice.
            spans.dedup_by(|a, b| a.span_id == b.span_id);
            Trace { trace_id, spans }
        })
        .collect();
    traces.sort_by_key(|t| t.spans.first().map_or(0, |s| s.start_unix_nano));
    traces
}

/// Each trace as a tree: offset from the trace's start, duration, service, and what the span
/// did; warnings and errors recorded inside a span are listed under it.
pub fn render(shown: &Shown) -> String {
    shown
        .traces
        .iter()
        .map(render_trace)
        .collect::<Vec<_>>()
        .join("\n\n")
}

fn render_trace(trace: &Trace) -> String {
    let start = trace.spans.first().map_or(0, |s| s.start_unix_nano);
    let end = trace
        .spans
        .iter()
        .map(|s| s.end_unix_nano)
        .max()
        .unwrap_or(start);
    let services: BTreeSet<&str> = trace.spans.iter().map(|s| s.service.as_str()).collect();
    let mut lines = vec![format!(
        "trace {}: {} spans in {:.0} ms ({})",
        trace.trace_id,
        trace.spans.len(),
        end.saturating_sub(start) as f64 / 1e6,
        services.into_iter().collect::<Vec<_>>().join(", ")
    )];
    let ids: BTreeSet<&str> = trace.spans.iter().map(|s| s.span_id.as_str()).collect();
    let mut shown = BTreeSet::new();
    // Roots: no parent, or a parent this store never received (an exporter that had none).
    let roots = trace
        .spans
        .iter()
        .filter(|s| !ids.contains(s.parent_span_id.as_str()));
    for root in roots {
        render_span(trace, root, 0, start, &mut shown, &mut lines);
    }
    // What no root leads to (a span naming itself as parent, say) is shown all the same.
    for span in &trace.spans {
        if !shown.contains(span.span_id.as_str()) {
            render_span(trace, span, 0, start, &mut shown, &mut lines);
        }
    }
    lines.join("\n")
}

fn render_span<'t>(
    trace: &'t Trace,
    span: &'t SpanRecord,
    depth: usize,
    start: u64,
    shown: &mut BTreeSet<&'t str>,
    lines: &mut Vec<String>,
) {
    if !shown.insert(span.span_id.as_str()) {
        return; // each span once, whatever its parents claim
    }
    let indent = "  ".repeat(depth);
    let failed = if span.status == SpanStatus::Error {
        "  ERROR"
    } else {
        ""
    };
    lines.push(format!(
        "  {:>8.1} ms {:>8.1} ms  {:<18} {indent}{}{failed}",
        span.start_unix_nano.saturating_sub(start) as f64 / 1e6,
        span.duration_ms(),
        span.service,
        describe(span),
    ));
    for event in span.events.iter().filter(|e| is_notable(e)) {
        let detail = ["reason", "error"]
            .iter()
            .find_map(|k| event.attributes.get(*k))
            .map(|d| format!(": {d}"))
            .unwrap_or_default();
        lines.push(format!("  {:33}{indent}  ! {}{detail}", "", event.name));
    }
    for child in trace
        .spans
        .iter()
        .filter(|c| c.parent_span_id == span.span_id)
    {
        render_span(trace, child, depth + 1, start, shown, lines);
    }
}

/// A Graph call as its method, route and status; anything else as its name and the identifier
/// an operator searches by.
fn describe(span: &SpanRecord) -> String {
    let method = span.attr("http.request.method");
    if let (Some(method), Some(route)) = (method, span.attr("url.template")) {
        let status = span
            .attr("http.response.status_code")
            .unwrap_or("no response");
        return format!("Graph {method} {route} -> {status}");
    }
    let id = ["device.serial", "messaging.message.id"]
        .iter()
        .find_map(|k| span.attr(k).map(|v| format!(" [{k}={v}]")))
        .unwrap_or_default();
    format!("{}{id}", span.name)
}

/// Warnings and errors: a retry, a dead letter. Info-level events would drown the tree.
fn is_notable(event: &SpanEvent) -> bool {
    matches!(
        event.attributes.get("level").map(String::as_str),
        Some("WARN" | "ERROR")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn span(trace: &str, id: &str, parent: &str, start: u64, attrs: &[(&str, &str)]) -> SpanRecord {
        SpanRecord {
            service: "svc".into(),
            trace_id: trace.into(),
            span_id: id.into(),
            parent_span_id: parent.into(),
            name: format!("span {id}"),
            kind: "internal".into(),
            start_unix_nano: start,
            end_unix_nano: start + 1_000_000,
            status: SpanStatus::Unset,
            status_message: String::new(),
            attributes: attrs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            events: Vec::new(),
        }
    }

    #[test]
    fn a_serial_selects_every_span_of_the_traces_that_name_it() {
        let spans = vec![
            span("t1", "a", "", 10, &[]),
            span("t1", "b", "a", 20, &[("device.serial", "PF-3A7K2M")]),
            span("t2", "c", "", 5, &[("device.serial", "OTHER")]),
        ];

        let traces = select(spans, &Query::Serial("pf-3a7k2m".into()));

        assert_eq!(traces.len(), 1);
        assert_eq!(traces[0].trace_id, "t1");
        let ids: Vec<&str> = traces[0].spans.iter().map(|s| s.span_id.as_str()).collect();
        assert_eq!(ids, ["a", "b"]);
    }

    #[test]
    fn a_span_sent_twice_is_shown_once() {
        let spans = vec![span("t", "a", "", 1, &[]), span("t", "a", "", 1, &[])];

        let traces = select(spans, &Query::TraceId("T".into()));

        assert_eq!(traces[0].spans.len(), 1);
    }

    #[test]
    fn the_tree_nests_children_under_their_parent_and_names_graph_calls_by_route() {
        let mut dead = span("t", "b", "a", 2_000_000, &[]);
        dead.status = SpanStatus::Error;
        dead.events.push(SpanEvent {
            name: "Message moved to the dead-letter queue.".into(),
            attributes: [("level", "ERROR"), ("reason", "already assigned")]
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        });
        let graph = span(
            "t",
            "c",
            "b",
            3_000_000,
            &[
                ("http.request.method", "GET"),
                ("url.template", "/v1.0/users/{id}"),
                ("http.response.status_code", "200"),
            ],
        );
        let shown = Shown {
            store: PathBuf::from("x"),
            traces: select(
                vec![span("t", "a", "", 0, &[]), dead, graph],
                &Query::TraceId("t".into()),
            ),
        };

        let text = render(&shown);

        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("trace t: 3 spans in 4 ms (svc)"),
            "{text}"
        );
        assert!(lines[1].ends_with("svc                span a"), "{text}");
        assert!(
            lines[2].ends_with("svc                  span b  ERROR"),
            "{text}"
        );
        assert!(
            lines[3].ends_with("! Message moved to the dead-letter queue.: already assigned"),
            "{text}"
        );
        assert!(
            lines[4].ends_with("    Graph GET /v1.0/users/{id} -> 200"),
            "{text}"
        );
    }

    #[test]
    fn a_span_that_names_itself_as_parent_is_shown_once_and_ends() {
        let looped = span("t", "a", "a", 0, &[]);
        let shown = Shown {
            store: PathBuf::from("x"),
            traces: select(vec![looped], &Query::TraceId("t".into())),
        };

        let text = render(&shown);

        assert_eq!(text.matches("span a").count(), 1, "{text}");
    }

    #[test]
    fn the_store_skips_a_line_cut_short() {
        let dir = std::env::temp_dir().join(format!("trace-store-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("spans.jsonl");
        let whole = serde_json::to_string(&span("t", "a", "", 1, &[])).unwrap();
        std::fs::write(&path, format!("{whole}\n{{\"service\":\"sv")).unwrap();

        let spans = read_store(&path).unwrap();

        assert_eq!(spans.len(), 1);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

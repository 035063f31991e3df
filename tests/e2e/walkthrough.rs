//! The README's walk-through, command by command, as a new user runs it on a machine without
//! a Docker engine: `scripts/stack up` (the emulator and the three service binaries as separate
//! processes), feed the sample CSVs, break something, find it in the dead-letter queue, in the
//! trace and in the logs, fix it, check the plan, replay it, see it done, `scripts/stack down`.
//! The stack's own `onboardctl trace collect` stands where the compose stack's collector and
//! Jaeger stand, and the trace is read as the README says, with `onboardctl trace show`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use e2e::broker::{self, Tap};
use graph_emulator::demo;
use onboardctl::trace::SpanRecord as Span;
use shared::amqp::Publisher;
use shared::amqp::topology;

const WITHIN: Duration = Duration::from_secs(60);

fn repo() -> PathBuf {
    PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
}

/// A port nobody listens on now (the stack binds it a moment later).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// One stack, isolated from every other test by its own directory, ports and broker names.
struct Stack {
    dir: PathBuf,
    env: HashMap<String, String>,
}

impl Stack {
    fn new(prefix: &str) -> Stack {
        let dir = std::env::temp_dir().join(prefix);
        let bin_dir = e2e::binary("new-hire")
            .parent()
            .expect("binary folder")
            .to_path_buf();
        let ports = format!("{} {} {}", free_port(), free_port(), free_port());
        let mut env: HashMap<String, String> = [
            ("STACK_DIR", dir.display().to_string()),
            ("STACK_BIN_DIR", bin_dir.display().to_string()),
            ("STACK_NO_BUILD", "1".to_owned()),
            ("STACK_SPEED", e2e::TEST_SPEED.to_string()),
            ("STACK_EMULATOR_PORT", free_port().to_string()),
            ("STACK_HTTP_PORTS", ports),
            ("STACK_OTLP_PORT", free_port().to_string()),
            ("ONBOARDING__AMQP__EXCHANGE", prefix.to_owned()),
            (
                "ONBOARDING__AMQP__DELAY_TIERS",
                e2e::TEST_DELAY_TIERS.to_owned(),
            ),
            ("ONBOARDING__AMQP__SHUTDOWN_GRACE", "5s".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (key, name) in [
            ("NEW_HIRE", "new-hire"),
            ("DEVICE_PURCHASED", "device-purchased"),
            ("DEVICE_SHIPPED", "device-shipped"),
        ] {
            env.insert(
                format!("ONBOARDING__AMQP__QUEUES__{key}"),
                format!("{prefix}.{name}"),
            );
        }
        Stack { dir, env }
    }

    /// `scripts/stack ARGS` with the stack's knobs and `extra`; returns (exit code, stdout+stderr).
    async fn script(&self, args: &[&str], extra: &[(&str, &str)]) -> (i32, String) {
        let out = tokio::process::Command::new(repo().join("scripts/stack"))
            .args(args)
            .envs(&self.env)
            .envs(extra.iter().copied())
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("scripts/stack runs");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        (out.status.code().unwrap_or(-1), text)
    }

    /// `onboardctl ARGS --output json` as after `eval "$(scripts/stack env)"`, plus `extra`.
    async fn onboardctl(&self, args: &[&str], extra: &[(&str, &str)]) -> serde_json::Value {
        let stack_env = std::fs::read_to_string(self.dir.join("onboardctl.env"))
            .expect("scripts/stack up wrote onboardctl.env");
        let vars = stack_env.lines().filter_map(|l| l.split_once('='));
        let out = tokio::process::Command::new(e2e::binary("onboardctl"))
            .args(args)
            .args(["--output", "json"])
            .current_dir(repo())
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .envs(vars)
            .envs(extra.iter().copied())
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("onboardctl runs");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "onboardctl {args:?}: {:?}\n{stdout}\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_str(&stdout)
            .unwrap_or_else(|e| panic!("onboardctl {args:?}: {e}: {stdout}"))
    }

    /// The spans of `trace_id` in the stack's trace store, once `done` says they are all there
    /// (exporters batch, so spans arrive a few seconds after they end).
    async fn trace_when(&self, what: &str, trace_id: &str, done: impl Fn(&[Span]) -> bool) {
        let store = self.dir.join("traces.jsonl");
        let query = onboardctl::trace::Query::TraceId(trace_id.to_owned());
        e2e::wait::eventually(what, WITHIN, || {
            let spans = onboardctl::trace::read_store(&store).unwrap_or_default();
            let trace = onboardctl::trace::select(spans, &query);
            let found = trace.first().is_some_and(|t| done(&t.spans));
            async move { found.then_some(()) }
        })
        .await;
    }

    fn log(&self, service: &str) -> String {
        std::fs::read_to_string(self.dir.join("logs").join(format!("{service}.log")))
            .unwrap_or_default()
    }
}

impl Drop for Stack {
    /// A failed assertion still stops the processes (`scripts/stack down` is idempotent).
    fn drop(&mut self) {
        let _ = std::process::Command::new(repo().join("scripts/stack"))
            .arg("down")
            .envs(&self.env)
            .output();
    }
}

fn span(trace: &[Span], what: impl Fn(&Span) -> bool) -> Option<&Span> {
    trace.iter().find(|s| what(s))
}

fn is_graph_call(s: &Span, method: &str, template_part: &str) -> bool {
    // An HTTP client span, named `{METHOD} {url.template}` (OpenTelemetry conventions).
    s.name.starts_with(&format!("{method} /"))
        && s.attr("http.request.method") == Some(method)
        && s.attr("url.template")
            .is_some_and(|t| t.contains(template_part))
}

#[tokio::test]
async fn readme_walkthrough_stack_up_feed_break_trace_fix_replay_down() {
    let prefix = format!("t.walkthrough.{:08x}", rand::random::<u32>());
    let stack = Stack::new(&prefix);

    // scripts/stack up
    let (code, said) = stack.script(&["up"], &[]).await;
    assert_eq!(code, 0, "{said}");
    let (_, status) = stack.script(&["status"], &[]).await;
    assert_eq!(status.matches(" ready (pid").count(), 3, "{status}");
    assert!(status.contains("trace-collector   running"), "{status}");
    let settings = shared::config::load(None, stack.env.clone()).expect("stack settings");
    let watcher = Publisher::connect(&settings.amqp, &format!("{prefix}.watcher"))
        .await
        .expect("broker");
    topology::declare_exchange(watcher.channel(), &prefix)
        .await
        .expect("exchange");
    let outcomes = Tap::bind(
        watcher.channel(),
        &prefix,
        &format!("{prefix}.outcomes"),
        "onboarding.#",
    )
    .await;

    // Feed the sample files: 4 hires; 4 purchases, 3 of them with an assigned user.
    let hires = stack
        .onboardctl(&["publish", "--from-csv", "examples/hires.csv"], &[])
        .await;
    assert_eq!(hires["published"], 4, "{hires}");
    let devices = stack
        .onboardctl(
            &["publish", "--from-csv", "examples/autopilot-hashes.csv"],
            &[],
        )
        .await;
    assert_eq!(devices["published"], 7, "{devices}");
    let done = outcomes
        .take(11, "every sample event's outcome", WITHIN)
        .await;
    let kinds = |kind: &str| done.iter().filter(|o| o.json()["type"] == kind).count();
    assert_eq!(kinds("onboarding.user.ready"), 4);
    assert_eq!(kinds("onboarding.device.registered"), 4);
    assert_eq!(kinds("onboarding.device.assigned"), 3);

    // Break something: ship the demo device, already assigned to Katherine, to Grace.
    let shipped = stack
        .onboardctl(
            &[
                "publish",
                "shipment",
                "--serial",
                demo::AUTOPILOT_SERIAL,
                "--upn",
                demo::UPN_GRACE,
            ],
            &[],
        )
        .await;
    let id = shipped["id"].as_str().expect("event id").to_owned();
    let listing = e2e::wait::eventually("the shipment to be dead-lettered", WITHIN, || {
        let listing = stack.onboardctl(&["dead", "list", "--service", "device-shipped"], &[]);
        async move { Some(listing.await).filter(|l| l["count"] == 1) }
    })
    .await;
    let letter = &listing["messages"][0];
    assert_eq!(letter["id"], id.as_str());
    assert_eq!(letter["error_class"], "permanent");
    let reason = letter["reason"].as_str().unwrap_or_default();
    assert!(reason.contains(demo::UPN_KATHERINE), "{reason}");

    // See it in the trace: `dead show` names it; publish -> consume -> each Graph call.
    let shown = stack
        .onboardctl(&["dead", "show", "--service", "device-shipped", &id], &[])
        .await;
    let trace_id = shown["trace_id"].as_str().expect("a trace id").to_owned();
    stack
        .trace_when("the dead-lettered shipment's trace", &trace_id, |t| {
            span(t, |s| {
                s.service == "onboardctl" && s.name.starts_with("publish ")
            })
            .is_some()
                && span(t, |s| {
                    s.service == "device-shipped" && s.name.starts_with("process ")
                })
                .is_some()
                && span(t, |s| {
                    is_graph_call(s, "GET", "windowsAutopilotDeviceIdentities")
                })
                .is_some()
        })
        .await;
    // onboardctl trace show <trace id>, as the README says.
    let shown = stack.onboardctl(&["trace", "show", &trace_id], &[]).await;
    assert_eq!(shown["traces"].as_array().map(Vec::len), Some(1), "{shown}");
    let trace: Vec<Span> =
        serde_json::from_value(shown["traces"][0]["spans"].clone()).expect("spans");
    let publish = span(&trace, |s| s.name.starts_with("publish ")).unwrap();
    assert_eq!(publish.parent_span_id, "", "publish is the trace's root");
    assert_eq!(publish.attr("messaging.message.id"), Some(id.as_str()));
    let consume = span(&trace, |s| s.name.starts_with("process ")).unwrap();
    assert_eq!(consume.parent_span_id, publish.span_id);
    assert_eq!(
        consume.attr("cloudevents.event_subject"),
        Some(demo::AUTOPILOT_SERIAL),
        "searchable by serial number"
    );
    assert!(
        span(&trace, |s| s.attr("device.serial")
            == Some(demo::AUTOPILOT_SERIAL))
        .is_some(),
        "a step span carries device.serial: {trace:#?}"
    );
    // Current OpenTelemetry conventions, as an exporter's receiver sees them: messaging spans
    // with the operation type and name, Graph calls as HTTP client spans named by template.
    assert_eq!(publish.kind, "producer");
    assert_eq!(publish.attr("messaging.operation.type"), Some("send"));
    assert_eq!(publish.attr("messaging.operation.name"), Some("publish"));
    assert_eq!(consume.kind, "consumer");
    assert_eq!(consume.attr("messaging.system"), Some("rabbitmq"));
    assert_eq!(consume.attr("messaging.operation.type"), Some("process"));
    assert_eq!(consume.attr("messaging.operation.name"), Some("process"));
    assert!(
        consume
            .attr("messaging.rabbitmq.message.delivery_tag")
            .is_some(),
        "{consume:#?}"
    );
    let graph_call = span(&trace, |s| {
        s.name.starts_with("GET /v1.0/") || s.name.starts_with("GET /beta/")
    })
    .unwrap_or_else(|| panic!("a Graph GET named by its URL template: {trace:#?}"));
    assert_eq!(graph_call.kind, "client");
    assert_eq!(graph_call.attr("http.request.method"), Some("GET"));
    assert!(
        graph_call.attr("http.response.status_code").is_some(),
        "{graph_call:#?}"
    );
    assert!(
        graph_call.attr("server.address").is_some(),
        "{graph_call:#?}"
    );
    assert!(
        graph_call
            .attr("url.full")
            .is_some_and(|u| u.starts_with("https://")),
        "{graph_call:#?}"
    );
    assert!(
        trace
            .iter()
            .all(|s| s.attr("messaging.operation.type") != Some("publish")),
        "the deprecated operation type `publish` is gone"
    );
    let dead_letter = consume
        .events
        .iter()
        .find(|e| e.name.contains("dead-letter"))
        .unwrap_or_else(|| panic!("the dead letter shows on the consume span: {consume:#?}"));
    assert_eq!(consume.status, onboardctl::trace::SpanStatus::Error);
    assert_eq!(
        dead_letter.attributes.get("reason").map(String::as_str),
        Some(
            "device CZC0000001 is already assigned to <upn>: unassign it in Intune or set \
             device_shipped.allow_reassign"
        ),
        "the reason, its UPN masked"
    );
    // Only our own spans reach the collector: no HTTP/2 frames, no trace of the export itself.
    let store = onboardctl::trace::read_store(&stack.dir.join("traces.jsonl")).expect("store");
    let ours = [
        "shared::",
        "graph::",
        "runner::",
        "new_hire::",
        "device_purchased::",
        "device_shipped::",
        "onboardctl::",
    ];
    let foreign: Vec<(&str, Option<&str>)> = store
        .iter()
        .filter(|s| {
            !s.attr("target")
                .is_some_and(|t| ours.iter().any(|o| t.starts_with(o)))
        })
        .map(|s| (s.name.as_str(), s.attr("target")))
        .collect();
    assert!(
        foreign.is_empty(),
        "spans of other crates exported: {foreign:?}"
    );
    // ... and by serial number: this trace is among the device's.
    let by_serial = stack
        .onboardctl(&["trace", "show", "--serial", demo::AUTOPILOT_SERIAL], &[])
        .await;
    assert!(
        by_serial["traces"]
            .as_array()
            .expect("traces")
            .iter()
            .any(|t| t["trace_id"] == trace_id.as_str()),
        "{by_serial}"
    );
    // ... and in the service's JSON log, by the same trace id.
    let log = stack.log("device-shipped");
    assert!(
        log.lines()
            .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
            .any(|l| l["trace_id"] == trace_id.as_str()),
        "a log line with trace_id {trace_id}"
    );

    // Fix it: Grace should have the device after all. Allow reassignment and restart.
    let reassign = [("ONBOARDING__DEVICE_SHIPPED__ALLOW_REASSIGN", "true")];
    let (code, said) = stack
        .script(&["restart", "device-shipped"], &reassign)
        .await;
    assert_eq!(code, 0, "{said}");
    let replay = ["dead", "replay", "--service", "device-shipped", "--all"];
    let plan = stack
        .onboardctl(&[&replay[..], &["--dry-run"]].concat(), &reassign)
        .await;
    assert_eq!(
        plan["plans"][0]["would_write"],
        serde_json::json!([
            "POST /v1.0/deviceManagement/windowsAutopilotDeviceIdentities/{id}/assignUserToDevice"
        ]),
        "{plan}"
    );
    let replayed = stack.onboardctl(&replay, &reassign).await;
    assert_eq!(replayed["replayed"], serde_json::json!([id]), "{replayed}");

    // Done: the outcome, the write in the same trace, nothing left dead, the status says Grace.
    let assigned = outcomes
        .next("the replayed shipment's outcome", WITHIN)
        .await;
    assert_eq!(assigned.json()["type"], "onboarding.device.assigned");
    stack
        .trace_when(
            "the replay and its write in the same trace",
            &trace_id,
            |t| {
                // The replay's send span: named after the work queue it publishes to, and a
                // child of the letter's trace (the first publish is the root).
                span(t, |s| {
                    s.service == "onboardctl"
                        && s.name.starts_with("publish ")
                        && !s.parent_span_id.is_empty()
                })
                .is_some()
                    && span(t, |s| is_graph_call(s, "POST", "assignUserToDevice")).is_some()
                    // The step that logged the reassignment, with both UPNs in its fields.
                    && span(t, |s| s.events.iter().any(|e| e.name.starts_with("Reassigning")))
                        .is_some()
            },
        )
        .await;
    // No UPN left the services in any span or event, the reassignment warning included.
    let exported = std::fs::read_to_string(stack.dir.join("traces.jsonl")).expect("store");
    assert!(
        !exported.contains("@contoso.test"),
        "a UPN in the trace store"
    );
    let left = stack
        .onboardctl(&["dead", "list", "--service", "device-shipped"], &[])
        .await;
    assert_eq!(left["count"], 0);
    let status = stack
        .onboardctl(&["status", "--serial", demo::AUTOPILOT_SERIAL], &[])
        .await;
    let steps = status["subjects"][0]["steps"].as_array().expect("steps");
    let owner = steps
        .iter()
        .find(|s| s["step"] == "assigned-user")
        .expect("assigned-user step");
    assert!(
        owner["found"]
            .as_str()
            .unwrap_or_default()
            .contains(demo::UPN_GRACE),
        "{owner}"
    );

    // scripts/stack down: every process gone.
    let (code, said) = stack.script(&["down"], &[]).await;
    assert_eq!(code, 0, "{said}");
    let (_, status) = stack.script(&["status"], &[]).await;
    assert_eq!(status.matches("stopped").count(), 5, "{status}");
    broker::delete_prefixed(&prefix).await;
    let _ = watcher
        .channel()
        .exchange_delete(prefix.as_str().into(), Default::default())
        .await;
    watcher.close().await.ok();
    let _ = std::fs::remove_dir_all(Path::new(&stack.dir));
}

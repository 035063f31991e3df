//! Logs carry trace ids, the metric names are the dashboard's, and the health listener answers.

use std::io::Write;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use shared::config::{LogFormat, TelemetrySettings};
use shared::health::{Readiness, ReadinessFlag};
use shared::telemetry::GraphObserver as _;
use shared::telemetry::{BrokerLink, Metrics, TelemetryGuard};
use tokio_util::sync::CancellationToken;

/// Writes log lines into a shared buffer the test reads.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    pub fn lines(&self) -> Vec<serde_json::Value> {
        let bytes = self.0.lock().unwrap().clone();
        String::from_utf8(bytes)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).expect("each line is JSON"))
            .collect()
    }
}

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Captured {
        self.clone()
    }
}

fn settings(filter: &str) -> TelemetrySettings {
    TelemetrySettings {
        log_filter: filter.into(),
        log_format: LogFormat::Json,
        otlp_endpoint: String::new(),
    }
}

/// Telemetry for a test that needs spans but not logs (`TEST_LOG=1` prints them).
pub fn quiet_telemetry() -> TelemetryGuard {
    if std::env::var_os("TEST_LOG").is_some() {
        shared::telemetry::init("test", &settings("debug"), std::io::stderr).unwrap()
    } else {
        shared::telemetry::init("test", &settings("off"), std::io::sink).unwrap()
    }
}

#[test]
fn json_log_lines_carry_the_trace_and_span_ids_of_their_span() {
    let captured = Captured::default();
    let _guard = shared::telemetry::init("test", &settings("info"), captured.clone()).unwrap();
    let _second = shared::telemetry::init("test", &settings("info"), captured.clone()).unwrap();

    let span = tracing::info_span!("work", user.upn = "ada@contoso.test");
    let trace_id = span.in_scope(|| {
        tracing::info!(step = "one", "Doing the work.");
        shared::telemetry::current_trace_id().unwrap()
    });

    let lines = captured.lines();
    let line = lines
        .iter()
        .find(|l| l["fields"]["message"] == "Doing the work.")
        .expect("the event line");
    assert_eq!(line["level"], "INFO");
    assert_eq!(line["fields"]["step"], "one");
    assert_eq!(line["span"], "work");
    assert_eq!(line["span_fields"]["user.upn"], "ada@contoso.test");
    assert_eq!(line["trace_id"], trace_id.as_str());
    assert_eq!(line["span_id"].as_str().map(str::len), Some(16));
}

#[test]
fn warnings_carry_the_trace_id_even_when_the_filter_hides_their_span() {
    let captured = Captured::default();
    let _guard = shared::telemetry::init("test", &settings("warn"), captured.clone()).unwrap();

    let span = tracing::info_span!("consume");
    let trace_id = span.in_scope(|| {
        tracing::info!("Not written.");
        tracing::warn!("Parked for a retry.");
        shared::telemetry::current_trace_id().unwrap()
    });

    let lines = captured.lines();
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert_eq!(lines[0]["fields"]["message"], "Parked for a retry.");
    assert_eq!(lines[0]["trace_id"], trace_id.as_str());
}

#[test]
fn metrics_render_the_names_the_dashboard_uses() {
    let metrics = Metrics::new("new-hire").with_graph_request_timeout(Duration::from_secs(30));
    metrics.succeeded("m1", "onboarding.user.ready");
    metrics.handler_finished(Duration::from_millis(12));
    metrics.retried("m2", "5s", 1, "throttled", false);
    metrics.dead_lettered("m3", "invalid", 1, "type: expected x");
    metrics.request_finished(
        "GET",
        "/v1.0/users/{id}",
        Some(200),
        Duration::from_millis(5),
    );
    metrics.request_finished(
        "POST",
        "/v1.0/groups/{id}/members/$ref",
        None,
        Duration::from_secs(30),
    );
    metrics.request_finished("GET", "/v1.0/users/{id}", None, Duration::from_millis(3));
    metrics.would_write("PUT", "/beta/policies/deviceRegistrationPolicy");
    metrics.queue_depth("onboarding.new-hire.dead", 3);
    metrics.broker_connection(BrokerLink::Up);

    let text = metrics.render();

    for expected in [
        r#"onboarding_messages_total{service="new-hire",outcome="succeeded"} 1"#,
        r#"onboarding_messages_total{service="new-hire",outcome="retried"} 1"#,
        r#"onboarding_messages_total{service="new-hire",outcome="dead_lettered"} 1"#,
        r#"onboarding_handler_duration_seconds_count{service="new-hire"} 1"#,
        r#"onboarding_graph_requests_total{service="new-hire",method="GET",route="/v1.0/users/{id}",status="200"} 1"#,
        r#"onboarding_graph_requests_total{service="new-hire",method="POST",route="/v1.0/groups/{id}/members/$ref",status="timeout"} 1"#,
        r#"onboarding_graph_requests_total{service="new-hire",method="GET",route="/v1.0/users/{id}",status="error"} 1"#,
        r#"onboarding_retries_total{service="new-hire",tier="5s"} 1"#,
        r#"onboarding_dead_letters_total{service="new-hire",class="invalid"} 1"#,
        r#"onboarding_would_writes_total{service="new-hire",method="PUT",route="/beta/policies/deviceRegistrationPolicy"} 1"#,
        r#"onboarding_queue_messages{service="new-hire",queue="onboarding.new-hire.dead"} 3"#,
        r#"onboarding_broker_connected{service="new-hire"} 1"#,
    ] {
        assert!(text.contains(expected), "missing {expected}\n{text}");
    }
}

#[tokio::test]
async fn health_listener_reports_liveness_readiness_by_check_and_metrics() {
    let broker = ReadinessFlag::new();
    let readiness = Readiness::new()
        .flag("broker", broker.clone())
        .check("graph_token", || async { true });
    let metrics = Metrics::new("new-hire");
    metrics.broker_connection(BrokerLink::Lost);
    let shutdown = CancellationToken::new();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (addr, task) =
        shared::health::spawn(listener, readiness, metrics, shutdown.clone()).unwrap();
    let get = |path: &'static str| async move {
        let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
        let request = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        tokio::io::AsyncWriteExt::write_all(&mut stream, request.as_bytes())
            .await
            .unwrap();
        let mut response = String::new();
        tokio::io::AsyncReadExt::read_to_string(&mut stream, &mut response)
            .await
            .unwrap();
        response
    };

    assert!(get("/healthz").await.starts_with("HTTP/1.1 200"));
    let not_ready = get("/readyz").await;
    assert!(not_ready.starts_with("HTTP/1.1 503"), "{not_ready}");
    assert!(
        not_ready.contains(r#""checks":{"broker":false,"graph_token":true}"#),
        "{not_ready}"
    );
    broker.set(true);
    assert!(get("/readyz").await.starts_with("HTTP/1.1 200"));
    let metrics_text = get("/metrics").await;
    assert!(
        metrics_text.contains("application/openmetrics-text"),
        "{metrics_text}"
    );
    assert!(metrics_text.contains(r#"onboarding_broker_connected{service="new-hire"} 0"#));

    shutdown.cancel();
    task.await.unwrap().unwrap();
}

#[tokio::test]
async fn telemetry_with_an_otlp_endpoint_starts_without_a_collector() {
    let cfg = TelemetrySettings {
        otlp_endpoint: "http://127.0.0.1:9".into(),
        ..settings("off")
    };

    let guard = shared::telemetry::init("test", &cfg, std::io::sink);

    assert!(guard.is_ok(), "{:?}", guard.err());
}

//! An OTLP/gRPC trace receiver for tests: it stands where the compose stack's OpenTelemetry
//! Collector (and behind it Jaeger) stands, so a test can see the spans the binaries really
//! export, over the real exporter and the real protocol, and ask what one trace contains.
//!
//! Not for: anything but traces (metrics are scraped from `/metrics`, logs read from stderr).

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use tokio::task::JoinHandle;

use crate::wait;

/// One exported span, flattened to what tests compare.
#[derive(Debug, Clone)]
pub struct Span {
    /// `service.name` of the resource that exported it.
    pub service: String,
    pub trace_id: String,
    pub span_id: String,
    /// Empty for a trace's root.
    pub parent_span_id: String,
    pub name: String,
    pub attributes: BTreeMap<String, String>,
}

impl Span {
    pub fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// A running receiver; `endpoint` goes into `ONBOARDING__TELEMETRY__OTLP_ENDPOINT`.
pub struct Collector {
    pub endpoint: String,
    spans: Arc<Mutex<Vec<Span>>>,
    task: JoinHandle<()>,
}

impl Collector {
    pub async fn start() -> Collector {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the OTLP receiver");
        let addr: SocketAddr = listener.local_addr().expect("bound");
        let spans = Arc::new(Mutex::new(Vec::new()));
        let service = TraceServiceServer::new(Receiver {
            spans: spans.clone(),
        });
        let incoming = tonic::transport::server::TcpIncoming::from(listener);
        let task = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(service)
                .serve_with_incoming(incoming)
                .await
                .expect("OTLP receiver serves");
        });
        Collector {
            endpoint: format!("http://{addr}"),
            spans,
            task,
        }
    }

    /// Every span received so far.
    pub fn spans(&self) -> Vec<Span> {
        self.spans.lock().expect("spans lock").clone()
    }

    /// The spans of `trace_id`, once `done` says they are all there (exporters batch, so
    /// spans arrive a few seconds after they end).
    pub async fn trace_when(
        &self,
        what: &str,
        trace_id: &str,
        done: impl Fn(&[Span]) -> bool,
    ) -> Vec<Span> {
        let limit = Duration::from_secs(30).mul_f64(wait::patience());
        let started = std::time::Instant::now();
        loop {
            let trace: Vec<Span> = self
                .spans()
                .into_iter()
                .filter(|s| s.trace_id == trace_id)
                .collect();
            if done(&trace) {
                return trace;
            }
            if started.elapsed() > limit {
                let seen: Vec<String> = trace
                    .iter()
                    .map(|s| format!("{} {} {:?}", s.service, s.name, s.attributes))
                    .collect();
                panic!(
                    "waited {limit:?} for {what}; trace {trace_id} has {} spans: {seen:#?}\n\
                     ({} spans received in all)",
                    trace.len(),
                    self.spans().len()
                );
            }
            // The poll interval, not a guess at how long anything takes.
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

impl Drop for Collector {
    fn drop(&mut self) {
        self.task.abort();
    }
}

struct Receiver {
    spans: Arc<Mutex<Vec<Span>>>,
}

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = Vec::new();
        for resource_spans in request.into_inner().resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| attributes(&r.attributes).remove("service.name"))
                .unwrap_or_default();
            for span in resource_spans
                .scope_spans
                .into_iter()
                .flat_map(|scope| scope.spans)
            {
                received.push(Span {
                    service: service.clone(),
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    parent_span_id: hex::encode(&span.parent_span_id),
                    name: span.name,
                    attributes: attributes(&span.attributes),
                });
            }
        }
        self.spans.lock().expect("spans lock").extend(received);
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn attributes(kvs: &[KeyValue]) -> BTreeMap<String, String> {
    kvs.iter()
        .map(|kv| {
            (
                kv.key.clone(),
                kv.value.as_ref().map(text).unwrap_or_default(),
            )
        })
        .collect()
}

fn text(value: &AnyValue) -> String {
    match &value.value {
        Some(any_value::Value::StringValue(s)) => s.clone(),
        Some(any_value::Value::BoolValue(b)) => b.to_string(),
        Some(any_value::Value::IntValue(i)) => i.to_string(),
        Some(any_value::Value::DoubleValue(d)) => d.to_string(),
        Some(other) => format!("{other:?}"),
        None => String::new(),
    }
}

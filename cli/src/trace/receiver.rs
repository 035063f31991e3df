//! The OTLP/gRPC trace service: what the OpenTelemetry exporter in every binary speaks. Each
//! export request becomes a list of [`SpanRecord`]s handed to a sink (a file for `trace
//! collect`, memory for the end-to-end tests' collector).
//!
//! Not for: metrics or logs (Prometheus scrapes `/metrics`; logs are JSON on stdout).

use std::collections::BTreeMap;

use opentelemetry_proto::tonic::collector::trace::v1::trace_service_server::{
    TraceService, TraceServiceServer,
};
use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
};
use opentelemetry_proto::tonic::common::v1::{AnyValue, KeyValue, any_value};
use opentelemetry_proto::tonic::trace::v1::span::SpanKind;
use opentelemetry_proto::tonic::trace::v1::status::StatusCode;

use super::{SpanEvent, SpanRecord, SpanStatus};

/// Serves OTLP/gRPC traces on `listener`, handing every received batch to `sink`, until
/// `shutdown` completes.
pub async fn serve(
    listener: tokio::net::TcpListener,
    sink: impl Fn(Vec<SpanRecord>) + Send + Sync + 'static,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let service = TraceServiceServer::new(Receiver { sink });
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tonic::transport::Server::builder()
        .add_service(service)
        .serve_with_incoming_shutdown(incoming, shutdown)
        .await?;
    Ok(())
}

struct Receiver<F> {
    sink: F,
}

#[tonic::async_trait]
impl<F> TraceService for Receiver<F>
where
    F: Fn(Vec<SpanRecord>) + Send + Sync + 'static,
{
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
                let status = span.status.unwrap_or_default();
                received.push(SpanRecord {
                    service: service.clone(),
                    trace_id: hex::encode(&span.trace_id),
                    span_id: hex::encode(&span.span_id),
                    parent_span_id: hex::encode(&span.parent_span_id),
                    kind: match SpanKind::try_from(span.kind) {
                        Ok(SpanKind::Client) => "client",
                        Ok(SpanKind::Server) => "server",
                        Ok(SpanKind::Producer) => "producer",
                        Ok(SpanKind::Consumer) => "consumer",
                        _ => "internal",
                    }
                    .to_owned(),
                    name: span.name,
                    start_unix_nano: span.start_time_unix_nano,
                    end_unix_nano: span.end_time_unix_nano,
                    status: match StatusCode::try_from(status.code) {
                        Ok(StatusCode::Error) => SpanStatus::Error,
                        Ok(StatusCode::Ok) => SpanStatus::Ok,
                        _ => SpanStatus::Unset,
                    },
                    status_message: status.message,
                    attributes: attributes(&span.attributes),
                    events: span
                        .events
                        .into_iter()
                        .map(|e| SpanEvent {
                            name: e.name,
                            attributes: attributes(&e.attributes),
                        })
                        .collect(),
                });
            }
        }
        (self.sink)(received);
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

//! Each Graph request is an OpenTelemetry HTTP client span (current semantic conventions), so
//! tracing backends show Graph as a dependency: checked on a real HTTPS exchange with the tiny
//! local server of `graph_http/server.rs`, through a tracing layer that keeps every span's name
//! and attributes.

#[path = "graph_http/server.rs"]
mod server;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use graph::{GraphClient, GraphError, GroupId, NoopObserver};
use server::{Answer, GOOD_SECRET, TestServer};
use shared::ids::Upn;
use tracing_subscriber::layer::SubscriberExt;

/// One recorded span: its `tracing` name and every attribute recorded on it, as text.
#[derive(Debug, Clone)]
struct RecordedSpan {
    name: &'static str,
    attributes: HashMap<String, String>,
}

impl RecordedSpan {
    fn attr(&self, key: &str) -> Option<&str> {
        self.attributes.get(key).map(String::as_str)
    }
}

/// A tracing layer that keeps each span's name and attributes, in creation order.
#[derive(Clone, Default)]
struct Spans(Arc<Mutex<Vec<(tracing::span::Id, RecordedSpan)>>>);

impl Spans {
    /// The spans named `graph.request`, the client's request spans.
    fn graph_requests(&self) -> Vec<RecordedSpan> {
        let spans = self.0.lock().unwrap();
        spans
            .iter()
            .map(|(_, s)| s.clone())
            .filter(|s| s.name == "graph.request")
            .collect()
    }

    fn record(&self, id: &tracing::span::Id, values: impl FnOnce(&mut Attributes<'_>)) {
        let mut spans = self.0.lock().unwrap();
        if let Some((_, span)) = spans.iter_mut().find(|(known, _)| known == id) {
            values(&mut Attributes(&mut span.attributes));
        }
    }
}

struct Attributes<'a>(&'a mut HashMap<String, String>);

impl tracing::field::Visit for Attributes<'_> {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0.insert(field.name().into(), value.into());
    }
    fn record_u64(&mut self, field: &tracing::field::Field, value: u64) {
        self.0.insert(field.name().into(), value.to_string());
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.insert(field.name().into(), format!("{value:?}"));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Spans {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut attributes = HashMap::new();
        attrs.record(&mut Attributes(&mut attributes));
        let span = RecordedSpan {
            name: attrs.metadata().name(),
            attributes,
        };
        self.0.lock().unwrap().push((id.clone(), span));
    }
    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        self.record(id, |attributes| values.record(attributes));
    }
}

fn client_for(server: &TestServer) -> GraphClient {
    GraphClient::new(&server.settings(GOOD_SECRET), Arc::new(NoopObserver)).unwrap()
}

/// What every request span carries, success or not; `url.full` is the URL the server received.
fn assert_client_span(span: &RecordedSpan, server: &TestServer, name: &str) {
    let requests = server.graph_requests();
    let path = &requests.last().unwrap().target;
    let base = url::Url::parse(&server.base).unwrap();
    assert_eq!(span.attr("otel.name"), Some(name), "{span:?}");
    assert_eq!(span.attr("otel.kind"), Some("client"), "{span:?}");
    assert_eq!(span.attr("http.request.method"), Some("GET"), "{span:?}");
    let template = name.split_once(' ').unwrap().1;
    assert_eq!(span.attr("url.template"), Some(template), "{span:?}");
    assert_eq!(
        span.attr("url.full"),
        Some(format!("{}{path}", server.base).as_str()),
        "{span:?}"
    );
    assert_eq!(span.attr("server.address"), base.host_str(), "{span:?}");
    let port = base.port().unwrap().to_string();
    assert_eq!(span.attr("server.port"), Some(port.as_str()), "{span:?}");
}

#[tokio::test]
async fn a_graph_request_is_a_client_span_named_by_method_and_route_template() {
    let user = r#"{"id":"u1","userPrincipalName":"ada@contoso.com"}"#;
    let server = TestServer::start(move |_, _| Answer(200, vec![], user.into())).await;
    let client = client_for(&server);
    let spans = Spans::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));

    let upn: Upn = "ada@contoso.com".parse().unwrap();
    client.user_by_upn(&upn).await.unwrap().unwrap();

    let requests = spans.graph_requests();
    assert_eq!(requests.len(), 1, "{requests:?}");
    let span = &requests[0];
    assert_client_span(span, &server, "GET /v1.0/users/{upn}");
    assert!(
        span.attr("url.full")
            .unwrap()
            .contains("/v1.0/users/ada@contoso.com?$select=id")
    );
    assert_eq!(span.attr("http.response.status_code"), Some("200"));
    assert_eq!(span.attr("error.type"), None, "{span:?}");
    assert_eq!(span.attr("otel.status_code"), None, "{span:?}");
}

#[tokio::test]
async fn a_failed_graph_request_carries_error_type_and_error_status() {
    let denied = r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#;
    let server = TestServer::start(move |_, _| Answer(403, vec![], denied.into())).await;
    let client = client_for(&server);
    let spans = Spans::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));

    let err = client.group(&GroupId::new("g-1")).await.unwrap_err();

    assert!(
        matches!(err, GraphError::PermissionDenied { .. }),
        "{err:?}"
    );
    let requests = spans.graph_requests();
    assert_eq!(requests.len(), 1, "403 is not retried: {requests:?}");
    let span = &requests[0];
    assert_client_span(span, &server, "GET /v1.0/groups/{id}");
    assert_eq!(span.attr("http.response.status_code"), Some("403"));
    assert_eq!(span.attr("error.type"), Some("403"));
    assert_eq!(span.attr("otel.status_code"), Some("ERROR"));
}

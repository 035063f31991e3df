//! What a replay would write to Graph, without writing it: the service's own `Handler` runs
//! against a `GraphClient` in shadow mode (`dry_run = true`: reads happen, writes are counted,
//! not sent), through the runtime's own parse-and-handle step (`shared::amqp::parse_and_handle`),
//! and the writes it counted are the plan. The same code path as production, so the plan cannot
//! drift from what a replay does.
//!
//! Not for: the broker (`dead.rs` takes and requeues the messages).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use graph::{GraphClient, GraphObserver};
use serde::Serialize;
use shared::amqp::{Body, DeliveryInfo, Handler, Rejected, parse_and_handle};
use shared::config::{Service, Settings};

/// The Graph writes one replayed message would make, and how its handler would end.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    /// The replayed message's id.
    pub id: String,
    /// `"would succeed"`, or the error the handler would end with (reads are real).
    pub outcome: String,
    /// Whether the handler would succeed.
    pub ok: bool,
    /// `METHOD /route/template`, in order, e.g. `POST /v1.0/groups/{id}/members/$ref`.
    pub would_write: Vec<String>,
}

/// Remembers the writes shadow mode held back.
#[derive(Default)]
struct Recorder {
    writes: Mutex<Vec<String>>,
}

impl GraphObserver for Recorder {
    fn request_finished(&self, _: &str, _: &str, _: Option<u16>, _: Duration) {}
    fn would_write(&self, method: &str, route: &str) {
        self.writes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(format!("{method} {route}"));
    }
}

/// Runs one service's handler in shadow mode, message by message.
pub struct Planner {
    service: Service,
    settings: Settings,
    graph: GraphClient,
    recorder: Arc<Recorder>,
}

impl Planner {
    /// A shadow-mode client from `[graph]` (whatever `graph.dry_run` says there).
    pub fn new(settings: &Settings, service: Service) -> anyhow::Result<Planner> {
        let mut graph_settings = settings.graph.clone();
        graph_settings.dry_run = true;
        let recorder = Arc::new(Recorder::default());
        let graph = GraphClient::new(&graph_settings, recorder.clone())
            .context("building the Graph client ([graph])")?;
        Ok(Planner {
            service,
            settings: settings.clone(),
            graph,
            recorder,
        })
    }

    /// The plan for one message body (`id` is its message id, for the report).
    pub async fn plan(&self, id: &str, content_type: Option<&str>, body: &[u8]) -> Plan {
        self.recorder
            .writes
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clear();
        let result = self.run_handler(id, content_type, body).await;
        let would_write = std::mem::take(
            &mut *self
                .recorder
                .writes
                .lock()
                .unwrap_or_else(|p| p.into_inner()),
        );
        let (ok, outcome) = match result {
            Ok(()) => (true, "would succeed".to_owned()),
            Err(e) => (false, format!("would fail: {e:#}")),
        };
        Plan {
            id: id.to_owned(),
            outcome,
            ok,
            would_write,
        }
    }

    // The service's handler, made afresh for each message as a replay starts afresh (its
    // bookkeeping headers are dropped, so its age counts from now).
    async fn run_handler(
        &self,
        id: &str,
        content_type: Option<&str>,
        body: &[u8],
    ) -> anyhow::Result<()> {
        let body = Body {
            content_type,
            bytes: body,
            max_bytes: self.settings.amqp.max_body_bytes,
        };
        let (graph, settings) = (self.graph.clone(), &self.settings);
        match self.service {
            Service::NewHire => plan_with(new_hire::NewHire::new(graph, settings), id, body).await,
            Service::DevicePurchased => {
                let handler = device_purchased::DevicePurchasedService::new(graph, settings);
                plan_with(handler, id, body).await
            }
            Service::DeviceShipped => {
                plan_with(device_shipped::Shipments::new(graph, settings), id, body).await
            }
            Service::Cli => anyhow::bail!("onboardctl consumes no queue"),
        }
    }
}

/// Runs `handler` on one message exactly as the runtime would on a first delivery.
async fn plan_with<H: Handler>(handler: H, id: &str, body: Body<'_>) -> anyhow::Result<()> {
    match parse_and_handle(&handler, body, &DeliveryInfo::first(id)).await {
        Ok(_) => Ok(()),
        Err(Rejected::Invalid(e)) => Err(anyhow::anyhow!(
            "the message does not parse as {}: {e}",
            <H::In as shared::events::Event>::TYPE
        )),
        Err(Rejected::Failed(e)) => Err(e.into()),
    }
}

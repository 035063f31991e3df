//! What a replay would write to Graph, without writing it: the service's own handler runs
//! against a `GraphClient` in shadow mode (`dry_run = true`: reads happen, writes are counted,
//! not sent), and the writes it counted are the plan. The same code path as production, so the
//! plan cannot drift from what a replay does.
//!
//! Not for: the broker (`dead.rs` takes and requeues the messages).

use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use graph::{GraphClient, GraphObserver};
use serde::Serialize;
use shared::config::{Service, Settings};
use shared::events::{
    DEVICE_PURCHASED, DEVICE_SHIPPED, DevicePurchased, DeviceShipped, EMPLOYEE_HIRED,
    EmployeeHired, parse_event,
};

/// The Graph writes one replayed message would make, and how its handler would end.
#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub id: String,
    /// `"would succeed"`, or the error the handler would end with (reads are real).
    pub outcome: String,
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
        let result = self.run_handler(content_type, body).await;
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

    // One arm per service: its own handler, on the shadow-mode client.
    async fn run_handler(&self, content_type: Option<&str>, body: &[u8]) -> anyhow::Result<()> {
        let max = self.settings.amqp.max_body_bytes;
        match self.service {
            Service::NewHire => {
                let event = parse_event::<EmployeeHired>(content_type, EMPLOYEE_HIRED, body, max)
                    .map_err(|e| {
                    anyhow::anyhow!("the message does not parse as a hire: {e}")
                })?;
                new_hire::handler::handle(&self.graph, &self.settings.new_hire, &event.data)
                    .await?;
                Ok(())
            }
            Service::DevicePurchased => {
                let event =
                    parse_event::<DevicePurchased>(content_type, DEVICE_PURCHASED, body, max)
                        .map_err(|e| {
                            anyhow::anyhow!("the message does not parse as a purchase: {e}")
                        })?;
                let cfg = &self.settings.device_purchased;
                // A replay starts its age afresh (its bookkeeping headers are dropped), so now.
                let progress =
                    device_purchased::handler::Progress::new(cfg, self.settings.amqp.max_age);
                let now = time::OffsetDateTime::now_utc();
                device_purchased::handler::handle(&self.graph, cfg, &progress, &event.data, now)
                    .await?;
                Ok(())
            }
            Service::DeviceShipped => {
                let event = parse_event::<DeviceShipped>(content_type, DEVICE_SHIPPED, body, max)
                    .map_err(|e| {
                    anyhow::anyhow!("the message does not parse as a shipment: {e}")
                })?;
                device_shipped::handler::handle(
                    &self.graph,
                    &self.settings.device_shipped,
                    &event.data,
                )
                .await?;
                Ok(())
            }
            Service::Cli => anyhow::bail!("onboardctl consumes no queue"),
        }
    }
}

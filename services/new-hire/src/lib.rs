//! The new-hire service: consumes `hr.employee.hired` and makes the hire able to join devices
//! to Microsoft Entra and a direct member of the configured groups, then publishes
//! `onboarding.user.ready`.
//!
//! - [`handler`]: the `ensure_*` steps and their errors.
//! - [`preflight`]: what is checked once at start.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod handler;
pub mod preflight;

use std::sync::Arc;

use graph::GraphClient;
use runner::{Parts, ServiceError};
use shared::amqp::{DeliveryInfo, Handler};
use shared::config::{NewHireSettings, Service, Settings};
use shared::events::{EmployeeHired, Envelope, Event};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use handler::{NewHireError, UserReady};

impl Event for UserReady {
    const TYPE: &'static str = "onboarding.user.ready";
    fn subject(&self) -> Option<String> {
        Some(self.user_id.as_str().to_owned())
    }
}

/// The runtime's view of the service: one hire in, one `onboarding.user.ready` out.
pub struct NewHire {
    graph: GraphClient,
    cfg: NewHireSettings,
}

impl NewHire {
    /// The handler on `graph` (the production client, or a shadow-mode one for a dry run).
    pub fn new(graph: GraphClient, settings: &Settings) -> Self {
        NewHire {
            graph,
            cfg: settings.new_hire.clone(),
        }
    }
}

impl Handler for NewHire {
    type In = EmployeeHired;
    type Out = UserReady;
    type Error = NewHireError;

    async fn handle(
        &self,
        event: &Envelope<EmployeeHired>,
        _: &DeliveryInfo,
    ) -> Result<UserReady, NewHireError> {
        handler::handle(&self.graph, &self.cfg, &event.data).await
    }
}

/// Runs the service until `shutdown` is cancelled: start-up checks, then the consumer and the
/// health listener on `http`.
pub async fn run(
    settings: Settings,
    http: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServiceError> {
    let parts = Parts::new(&settings, Service::NewHire)?;
    let setup = preflight::check_join_setup(&parts.graph, &settings.new_hire)
        .await
        .map_err(ServiceError::Preflight)?;
    tracing::info!(join.mode = ?settings.new_hire.join_mode, setup = ?setup, "Join setup checked.");
    let handler = Arc::new(NewHire::new(parts.graph.clone(), &settings));
    runner::serve(&settings, Service::NewHire, parts, handler, http, shutdown).await
}

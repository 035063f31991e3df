//! The device-shipped service: consumes `procurement.device.shipped` and makes the Autopilot
//! device with the shipped serial assigned to the user it was shipped to, then publishes
//! `onboarding.device.assigned`.
//!
//! - [`handler`]: the steps and their errors.
//! - [`serial_locks`]: duplicate deliveries of one device handled one after the other.
//! - [`preflight`]: what is checked once at start.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

// TODO(merge): document these items once handlers take &GraphClient (that change owns
// handler.rs and its neighbours); until then the lint guards everything else of this crate.
#[allow(missing_docs)]
pub mod handler;
pub mod preflight;
#[allow(missing_docs)]
pub mod serial_locks;

use std::sync::Arc;

use graph::GraphClient;
use runner::{Parts, ServiceError};
use shared::amqp::{DeliveryInfo, Handler};
use shared::config::{DeviceShippedSettings, Service, Settings};
use shared::events::{DeviceShipped, Envelope, Event};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use handler::{DeviceAssigned, DeviceShippedError};
use serial_locks::SerialLocks;

/// Enough stripes that unrelated serials rarely wait for each other at `amqp.concurrency` ≤ 32.
const LOCK_STRIPES: usize = 256;

impl Event for DeviceAssigned {
    const TYPE: &'static str = "onboarding.device.assigned";
    fn subject(&self) -> Option<String> {
        Some(self.serial_number.to_string())
    }
}

/// The runtime's view of the service: one shipment in, one `onboarding.device.assigned` out.
pub struct Shipments {
    graph: GraphClient,
    cfg: DeviceShippedSettings,
    locks: SerialLocks,
}

impl Shipments {
    /// The handler on `graph` (the production client, or a shadow-mode one for a dry run).
    pub fn new(graph: GraphClient, settings: &Settings) -> Self {
        Shipments {
            graph,
            cfg: settings.device_shipped.clone(),
            locks: SerialLocks::new(LOCK_STRIPES),
        }
    }
}

impl Handler for Shipments {
    type In = DeviceShipped;
    type Out = DeviceAssigned;
    type Error = DeviceShippedError;

    async fn handle(
        &self,
        event: &Envelope<DeviceShipped>,
        _: &DeliveryInfo,
    ) -> Result<DeviceAssigned, DeviceShippedError> {
        let _one_at_a_time = self.locks.lock(&event.data.serial_number).await;
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
    let parts = Parts::new(&settings, Service::DeviceShipped)?;
    preflight::check_permissions(&parts.graph)
        .await
        .map_err(ServiceError::Preflight)?;
    tracing::info!(
        allow_reassign = settings.device_shipped.allow_reassign,
        "Permissions checked."
    );
    let handler = Arc::new(Shipments::new(parts.graph.clone(), &settings));
    runner::serve(
        &settings,
        Service::DeviceShipped,
        parts,
        handler,
        http,
        shutdown,
    )
    .await
}

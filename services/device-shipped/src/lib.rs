//! The device-shipped service: consumes `procurement.device.shipped` and makes the Autopilot
//! device with the shipped serial assigned to the user it was shipped to, then publishes
//! `onboarding.device.assigned`.
//!
//! - [`handler`]: the steps and their errors.
//! - [`preflight`]: what is checked once at start.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod handler;
pub mod preflight;

use std::sync::Arc;

use graph::GraphClient;
use runner::{Parts, ServiceError};
use shared::amqp::{DeliveryInfo, Handler};
use shared::config::{DeviceShippedSettings, Service, Settings};
use shared::events::{DeviceShipped, Envelope, Event};
use shared::keyed_lock::KeyedLocks;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use handler::{DeviceAssigned, DeviceShippedError};

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
    /// One shipment per device at a time in this process: duplicate deliveries running at once
    /// (`amqp.concurrency`) would each read "unassigned" and write; holding the serial from the
    /// first read to the write makes the second read the first's result. Not across replicas:
    /// two writing the same assignment at the same instant is harmless.
    locks: KeyedLocks<String>,
}

impl Shipments {
    /// The handler on `graph` (the production client, or a shadow-mode one for a dry run).
    pub fn new(graph: GraphClient, settings: &Settings) -> Self {
        Shipments {
            graph,
            cfg: settings.device_shipped.clone(),
            locks: KeyedLocks::default(),
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
        let _one_at_a_time = self.locks.lock(event.data.serial_number.key()).await;
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

//! The device-shipped service: consumes `procurement.device.shipped` and makes the Autopilot
//! device with the shipped serial assigned to the user it was shipped to, then publishes
//! `onboarding.device.assigned`.
//!
//! - [`handler`]: the steps and their errors.
//! - [`preflight`]: what is checked once at start.
#![forbid(unsafe_code)]

pub mod handler;
pub mod preflight;

use std::sync::Arc;

use graph::GraphClient;
use runner::{Parts, ServiceError};
use shared::amqp::{DeliveryInfo, Handler, Outcome};
use shared::config::{DeviceShippedSettings, Service, Settings};
use shared::events::{DEVICE_ASSIGNED, DeviceShipped, Envelope};
use shared::keyed_lock::KeyedLocks;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use handler::DeviceShippedError;

/// The runtime's view of the service: one shipment in, one assignment out.
pub struct Shipments {
    graph: GraphClient,
    cfg: DeviceShippedSettings,
    /// One shipment per device at a time in this process: duplicate deliveries running at once
    /// (`amqp.concurrency`) would each read "unassigned" and write; holding the serial from the
    /// first read to the write makes the second read the first's result. Not across replicas:
    /// two writing the same assignment at the same instant is harmless.
    locks: KeyedLocks<String>,
}

impl Handler for Shipments {
    type Data = DeviceShipped;
    type Error = DeviceShippedError;

    async fn handle(
        &self,
        event: &Envelope<DeviceShipped>,
        _: &DeliveryInfo,
    ) -> Result<Outcome, DeviceShippedError> {
        let _one_at_a_time = self.locks.lock(event.data.serial_number.key()).await;
        let assigned = handler::handle(&self.graph, &self.cfg, &event.data).await?;
        Ok(Outcome {
            event_type: DEVICE_ASSIGNED,
            subject: Some(assigned.serial_number.to_string()),
            data: serde_json::to_value(&assigned).expect("DeviceAssigned serialises"),
        })
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
    let handler = Arc::new(Shipments {
        graph: parts.graph.clone(),
        cfg: settings.device_shipped.clone(),
        locks: KeyedLocks::default(),
    });
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

//! The device-purchased service: consumes `procurement.device.purchased`, registers the device
//! with Windows Autopilot (hardware-hash import, followed across delayed redeliveries), makes
//! its Entra device object a member of the device group, ensures the corporate identifier when
//! configured, then publishes `onboarding.device.registered`.
//!
//! - [`handler`]: the steps in order, and the outcome.
//! - [`import`]: finding the device by serial; importing and following our import.
//! - [`ledger`]: reading our import records without missing one.
//! - [`device`]: group tag, Entra device object, device group membership.
//! - [`sync`]: the tenant-wide Autopilot sync, coalesced.
//! - [`corporate`]: the corporate identifier (Autopilot device preparation).
//! - [`memory`]: per-serial state between deliveries, one delivery per serial at a time.
//! - [`error`]: every cause, classified.
//! - [`preflight`]: what is checked once at start.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod corporate;
pub mod device;
pub mod error;
pub mod handler;
pub mod import;
pub mod ledger;
pub mod memory;
pub mod preflight;
pub mod sync;

use std::sync::Arc;

use graph::GraphClient;
use runner::{Parts, ServiceError};
use shared::amqp::{DeliveryInfo, Handler};
use shared::config::{DevicePurchasedSettings, Service, Settings};
use shared::events::{DevicePurchased, Envelope, Event};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use error::DevicePurchasedError;
use handler::{DeviceRegistered, Progress};

impl Event for DeviceRegistered {
    const TYPE: &'static str = "onboarding.device.registered";
    fn subject(&self) -> Option<String> {
        Some(self.serial_number.as_str().to_owned())
    }
}

/// The runtime's view of the service: one purchase in, one `onboarding.device.registered` out.
pub struct DevicePurchasedService {
    graph: GraphClient,
    cfg: DevicePurchasedSettings,
    progress: Progress,
}

impl DevicePurchasedService {
    /// The handler on `graph` (the production client, or a shadow-mode one for a dry run),
    /// with fresh import progress.
    pub fn new(graph: GraphClient, settings: &Settings) -> Self {
        let cfg = settings.device_purchased.clone();
        DevicePurchasedService {
            graph,
            progress: Progress::new(&cfg, settings.amqp.max_age),
            cfg,
        }
    }
}

impl Handler for DevicePurchasedService {
    type In = DevicePurchased;
    type Out = DeviceRegistered;
    type Error = DevicePurchasedError;

    async fn handle(
        &self,
        event: &Envelope<DevicePurchased>,
        delivery: &DeliveryInfo,
    ) -> Result<DeviceRegistered, DevicePurchasedError> {
        let purchase = &event.data;
        let (graph, cfg, progress) = (&self.graph, &self.cfg, &self.progress);
        handler::handle(graph, cfg, progress, purchase, delivery.first_seen).await
    }
}

/// Runs the service until `shutdown` is cancelled: start-up checks, then the consumer and the
/// health listener on `http`.
pub async fn run(
    settings: Settings,
    http: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServiceError> {
    let parts = Parts::new(&settings, Service::DevicePurchased)?;
    preflight::check_device_group(&parts.graph, &settings.device_purchased)
        .await
        .map_err(ServiceError::Preflight)?;
    let handler = Arc::new(DevicePurchasedService::new(parts.graph.clone(), &settings));
    runner::serve(
        &settings,
        Service::DevicePurchased,
        parts,
        handler,
        http,
        shutdown,
    )
    .await
}

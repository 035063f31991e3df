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
use shared::amqp::{DeliveryInfo, Handler, Outcome};
use shared::config::{DevicePurchasedSettings, Service, Settings};
use shared::events::{DEVICE_REGISTERED, DevicePurchased, Envelope};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use error::DevicePurchasedError;
use handler::Progress;

/// The runtime's view of the service: one purchase in, one outcome out.
pub struct DevicePurchasedService {
    graph: GraphClient,
    cfg: DevicePurchasedSettings,
    progress: Progress,
}

impl Handler for DevicePurchasedService {
    type Data = DevicePurchased;
    type Error = DevicePurchasedError;

    async fn handle(
        &self,
        event: &Envelope<DevicePurchased>,
        delivery: &DeliveryInfo,
    ) -> Result<Outcome, DevicePurchasedError> {
        let registered = handler::handle(
            &self.graph,
            &self.cfg,
            &self.progress,
            &event.data,
            delivery.first_seen,
        )
        .await?;
        Ok(Outcome {
            event_type: DEVICE_REGISTERED,
            subject: Some(registered.serial_number.as_str().to_owned()),
            data: serde_json::to_value(&registered).expect("DeviceRegistered serialises"),
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
    let parts = Parts::new(&settings, Service::DevicePurchased)?;
    let cfg = settings.device_purchased.clone();
    preflight::check_device_group(&parts.graph, &cfg)
        .await
        .map_err(ServiceError::Preflight)?;
    let handler = Arc::new(DevicePurchasedService {
        graph: parts.graph.clone(),
        progress: Progress::new(&cfg, settings.amqp.max_age),
        cfg,
    });
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

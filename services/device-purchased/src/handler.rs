//! The device-purchased steps, in order: find the Autopilot device by serial or import its
//! hardware hash (`import.rs`), set its group tag when configured, find its Entra device object
//! — asking for a coalesced Autopilot sync when it is late (`sync.rs`) — and make it a member of
//! the device group (`device.rs`), then the corporate identifier when configured
//! (`corporate.rs`). Every step reads Graph first, so a duplicate, late or replayed purchase
//! writes nothing twice; whatever is not there yet is a transient error the runtime parks on a
//! delay tier, never a wait inside the handler.
//!
//! Not for: AMQP, retries or publishing (the shared runtime does them with what
//! [`DevicePurchasedError::class`](shared::error::Classify) says).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde::Serialize;
use shared::config::DevicePurchasedSettings;
use shared::error::Classify;
use shared::events::DevicePurchased;
use shared::graph::api::GraphApi;
use shared::graph::model::{AutopilotDevice, AutopilotDeviceId, DeviceObjectId, EntraDeviceId};
use shared::ids::{HardwareHash, SerialNumber};
use time::OffsetDateTime;
use tracing::Span;
use tracing::field::{Empty, debug};

use crate::corporate::{CorporateIdentifierOutcome, ensure_corporate_identifier};
use crate::device::{self, DeviceGroupOutcome, GroupTagUpdate};
use crate::error::DevicePurchasedError;
use crate::import::{self, How, Registration};
use crate::ledger::ImportLedger;
use crate::serial_lock::SerialLocks;
use crate::sync::{SyncCoalescer, SyncRequest};

/// What is now true of the purchased device; the data of `onboarding.device.registered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRegistered {
    pub serial_number: SerialNumber,
    pub order_id: String,
    pub registration: RegistrationOutcome,
    pub autopilot_device_id: Option<AutopilotDeviceId>,
    pub entra_device_object_id: Option<DeviceObjectId>,
    /// Entra `deviceId` (= Autopilot `azureActiveDirectoryDeviceId`).
    pub entra_device_id: Option<EntraDeviceId>,
    /// The device's group tag now.
    pub group_tag: Option<String>,
    pub group_tag_update: Option<GroupTagUpdate>,
    /// A beta-only field the v1.0 device read does not carry: `null` until the client reads it.
    pub deployment_profile_assignment_status: Option<String>,
    pub device_group: Option<DeviceGroupOutcome>,
    /// Whether this process asked for an Autopilot sync because the device was late.
    pub sync: Option<SyncRequest>,
    pub corporate_identifier: Option<CorporateIdentifierOutcome>,
}

/// How the device came to be registered with Autopilot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RegistrationOutcome {
    AlreadyRegistered,
    Imported,
    /// Our import answered `ZtdDeviceAlreadyAssigned` (806): already registered to this tenant.
    AlreadyRegisteredHere,
    /// Shadow mode: the import would have been sent; nothing further can be checked.
    WouldImport,
    /// No hardware hash (corporate identifier only): Autopilot was not asked.
    NotRequested,
}

impl From<How> for RegistrationOutcome {
    fn from(how: How) -> Self {
        match how {
            How::AlreadyRegistered => RegistrationOutcome::AlreadyRegistered,
            How::Imported => RegistrationOutcome::Imported,
            How::AlreadyRegisteredHere => RegistrationOutcome::AlreadyRegisteredHere,
        }
    }
}

/// What this process remembers between deliveries of a purchase. Losing it (a restart) costs at
/// most a later sync; everything that matters is re-read from Graph.
#[derive(Debug)]
pub struct Progress {
    pub locks: SerialLocks,
    pub sync: SyncCoalescer,
    pub imports: ImportLedger,
    /// Per serial: when this process first saw the import complete (the `sync_after` clock),
    /// and what it did on earlier deliveries that the outcome should still report.
    seen: Mutex<HashMap<String, Seen>>,
    /// Per serial: when this process first handled it. A purchase whose last delivery failed
    /// transiently and was then dead-lettered by the runtime (`amqp.max_age`) never reaches
    /// `forget`; its state is dropped once it is older than any delivery can be.
    first_use: Mutex<HashMap<String, Instant>>,
    forget_after: Duration,
}

#[derive(Debug, Clone, Copy)]
struct Seen {
    registered_at: Instant,
    group_tag_updated: bool,
    sync: Option<SyncRequest>,
}

impl Progress {
    /// `message_max_age` is `amqp.max_age`: no delivery of a purchase is handled after that.
    pub fn new(cfg: &DevicePurchasedSettings, message_max_age: Duration) -> Self {
        Progress {
            locks: SerialLocks::default(),
            sync: SyncCoalescer::new(cfg.sync_interval),
            imports: ImportLedger::default(),
            seen: Mutex::new(HashMap::new()),
            first_use: Mutex::new(HashMap::new()),
            forget_after: message_max_age,
        }
    }

    /// Notes that `serial` is being handled, and drops the state of serials first handled
    /// longer ago than a delivery can live (their purchases were dead-lettered meanwhile).
    fn begin(&self, serial: &SerialNumber) {
        let stale: Vec<String> = {
            let mut first_use = self.first_use.lock().unwrap_or_else(|p| p.into_inner());
            let stale: Vec<String> = first_use
                .iter()
                .filter(|(_, at)| at.elapsed() > self.forget_after)
                .map(|(key, _)| key.clone())
                .collect();
            for key in &stale {
                first_use.remove(key);
            }
            first_use
                .entry(SerialLocks::key(serial))
                .or_insert_with(Instant::now);
            stale
        };
        for key in stale {
            // This serial's own stale state too: a new purchase of an old serial starts afresh.
            self.forget_key(&key);
        }
    }

    fn with_seen<T>(&self, serial: &SerialNumber, f: impl FnOnce(&mut Seen) -> T) -> T {
        let mut seen = self.seen.lock().unwrap_or_else(|p| p.into_inner());
        let entry = seen.entry(SerialLocks::key(serial)).or_insert(Seen {
            registered_at: Instant::now(),
            group_tag_updated: false,
            sync: None,
        });
        f(entry)
    }

    fn forget(&self, serial: &SerialNumber) {
        let key = SerialLocks::key(serial);
        self.first_use
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(&key);
        self.forget_key(&key);
    }

    fn forget_key(&self, key: &str) {
        self.seen
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(key);
        self.imports.forget_key(key);
    }

    /// How many serials this process keeps state for; for tests.
    pub fn tracked(&self) -> usize {
        let seen = self.seen.lock().unwrap_or_else(|p| p.into_inner()).len();
        seen.max(self.imports.tracked()).max(
            self.first_use
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .len(),
        )
    }
}

/// Registers a purchased device with Autopilot and puts it in the device group. Safe to repeat.
#[tracing::instrument(skip_all, fields(device.serial = %purchase.serial_number, order.id = %purchase.order_id, registration = Empty))]
pub async fn handle(
    graph: &impl GraphApi,
    cfg: &DevicePurchasedSettings,
    progress: &Progress,
    purchase: &DevicePurchased,
    first_seen: OffsetDateTime,
) -> Result<DeviceRegistered, DevicePurchasedError> {
    let hash = required_hash(cfg, purchase)?;
    let serial = &purchase.serial_number;
    let _serial = progress.locks.lock(serial).await;
    progress.begin(serial);
    let handled = converge_purchase(graph, cfg, progress, purchase, hash, first_seen).await;
    if !matches!(&handled, Err(e) if e.class().is_transient()) {
        progress.forget(serial); // no further delivery will need it
    }
    if let Ok(done) = &handled {
        Span::current().record("registration", debug(done.registration));
        tracing::info!(
            autopilot.id = done.autopilot_device_id.as_ref().map(|id| id.as_str()),
            entra.object_id = done.entra_device_object_id.as_ref().map(|id| id.as_str()),
            "Purchased device registered."
        );
    }
    handled
}

async fn converge_purchase(
    graph: &impl GraphApi,
    cfg: &DevicePurchasedSettings,
    progress: &Progress,
    purchase: &DevicePurchased,
    hash: Option<&HardwareHash>,
    first_seen: OffsetDateTime,
) -> Result<DeviceRegistered, DevicePurchasedError> {
    let mut out = DeviceRegistered::new(purchase);
    let mut device = None;
    if let Some(hash) = hash {
        device = register(graph, cfg, progress, purchase, hash, first_seen, &mut out).await?;
    }
    if cfg.corporate_identifier {
        out.corporate_identifier =
            Some(ensure_corporate_identifier(graph, purchase, device.as_ref()).await?);
    }
    Ok(out)
}

/// Steps 1–4. `None` in shadow mode, where the import was only pretended.
async fn register(
    graph: &impl GraphApi,
    cfg: &DevicePurchasedSettings,
    progress: &Progress,
    purchase: &DevicePurchased,
    hash: &HardwareHash,
    first_seen: OffsetDateTime,
    out: &mut DeviceRegistered,
) -> Result<Option<AutopilotDevice>, DevicePurchasedError> {
    let deadline = first_seen + cfg.import_max_age;
    let registration =
        match import::ensure_registered(graph, &progress.imports, purchase, hash, deadline).await {
            Err(DevicePurchasedError::DeviceNotListed(serial)) => {
                sync_if_late(graph, cfg, progress, &serial).await;
                return Err(DevicePurchasedError::DeviceNotListed(serial));
            }
            other => other?,
        };
    let (device, how, ours) = match registration {
        Registration::WouldImport => {
            out.registration = RegistrationOutcome::WouldImport;
            return Ok(None);
        }
        Registration::Registered { device, how, ours } => (device, how, ours),
    };
    out.registration = how.into();
    let converged = converge(graph, cfg, progress, purchase, &device, out).await;
    // Our import records go once nothing more can come of this delivery but a wait: after
    // success or a permanent error. A wait keeps them, so the next delivery still sees "Imported".
    if !matches!(&converged, Err(e) if e.class().is_transient()) {
        import::remove_finished_imports(graph, &progress.imports, &purchase.serial_number, &ours)
            .await?;
    }
    converged.map(|()| Some(*device))
}

/// Steps 1b and 4 on a registered device: group tag, Entra device object, device group.
async fn converge(
    graph: &impl GraphApi,
    cfg: &DevicePurchasedSettings,
    progress: &Progress,
    purchase: &DevicePurchased,
    device: &AutopilotDevice,
    out: &mut DeviceRegistered,
) -> Result<(), DevicePurchasedError> {
    let serial = &purchase.serial_number;
    out.autopilot_device_id = Some(device.id.clone());
    out.deployment_profile_assignment_status = profile_assignment_status(graph, device).await;
    out.group_tag = device.group_tag.clone().filter(|t| !t.is_empty());
    let mut tag = device::ensure_group_tag(graph, cfg, device, purchase).await?;
    if tag == GroupTagUpdate::Updated {
        out.group_tag = purchase.group_tag.as_ref().map(|t| t.as_str().to_owned());
    }
    // An earlier delivery's update makes this one's "Unchanged"; report what was done.
    if progress.with_seen(serial, |s| {
        s.group_tag_updated |= tag == GroupTagUpdate::Updated;
        s.group_tag_updated
    }) {
        tag = GroupTagUpdate::Updated;
    }
    out.group_tag_update = Some(tag);
    out.entra_device_id = device.entra_device_id();
    let entra = match device::resolve_entra_device(graph, purchase, device).await {
        Err(pending @ DevicePurchasedError::EntraDevicePending(_)) => {
            sync_if_late(graph, cfg, progress, serial).await;
            return Err(pending);
        }
        other => other?,
    };
    out.sync = progress.with_seen(serial, |s| s.sync);
    out.entra_device_object_id = Some(entra.id.clone());
    out.device_group = Some(device::ensure_device_group_member(graph, cfg, &entra.id).await?);
    Ok(())
}

/// Asks for a (coalesced) Autopilot sync once the device has been late for `sync_after` since
/// this process saw it registered. A failed request is logged, not fatal: sync only hurries.
async fn sync_if_late(
    graph: &impl GraphApi,
    cfg: &DevicePurchasedSettings,
    progress: &Progress,
    serial: &SerialNumber,
) -> Option<SyncRequest> {
    let late_for = progress.with_seen(serial, |s| s.registered_at.elapsed());
    if late_for < cfg.sync_after {
        return None;
    }
    match progress.sync.ensure_recent_sync(graph).await {
        Ok(request) => {
            progress.with_seen(serial, |s| *s.sync.get_or_insert(request));
            Some(request)
        }
        Err(e) => {
            tracing::warn!(error = %e, late_for = ?Duration::from_secs(late_for.as_secs()), "Cannot ask for an Autopilot sync; waiting without one.");
            None
        }
    }
}

/// What the outcome reports about the deployment profile: informational, so a failed (beta)
/// read is logged and reported as unknown rather than holding the device back.
async fn profile_assignment_status(
    graph: &impl GraphApi,
    device: &AutopilotDevice,
) -> Option<String> {
    match graph.autopilot_profile_assignment_status(&device.id).await {
        Ok(status) => status.filter(|s| !s.is_empty()),
        Err(e) => {
            tracing::warn!(error = %e, "Cannot read the deployment profile assignment status.");
            None
        }
    }
}

/// The hash to import, if any; its absence is an error only when configured so.
fn required_hash<'a>(
    cfg: &DevicePurchasedSettings,
    purchase: &'a DevicePurchased,
) -> Result<Option<&'a HardwareHash>, DevicePurchasedError> {
    match &purchase.hardware_hash {
        None if cfg.require_hardware_hash => Err(DevicePurchasedError::HardwareHashMissing),
        hash => Ok(hash.as_ref()),
    }
}

impl DeviceRegistered {
    fn new(purchase: &DevicePurchased) -> Self {
        DeviceRegistered {
            serial_number: purchase.serial_number.clone(),
            order_id: purchase.order_id.as_str().to_owned(),
            registration: RegistrationOutcome::NotRequested,
            autopilot_device_id: None,
            entra_device_object_id: None,
            entra_device_id: None,
            group_tag: purchase.group_tag.as_ref().map(|t| t.as_str().to_owned()),
            group_tag_update: None,
            deployment_profile_assignment_status: None,
            device_group: None,
            sync: None,
            corporate_identifier: None,
        }
    }
}

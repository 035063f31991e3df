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

use std::time::Duration;

use graph::GraphClient;
use graph::model::{AutopilotDevice, AutopilotDeviceId, DeviceObjectId, EntraDeviceId};
use serde::Serialize;
use shared::config::DevicePurchasedSettings;
use shared::error::Classify;
use shared::events::DevicePurchased;
use shared::ids::{HardwareHash, SerialNumber};
use time::OffsetDateTime;
use tracing::Span;
use tracing::field::{Empty, debug};

use crate::corporate::{CorporateIdentifierOutcome, ensure_corporate_identifier};
use crate::device::{self, DeviceGroupOutcome, GroupTagUpdate};
use crate::error::DevicePurchasedError;
use crate::import::{self, How, Registration};
use crate::ledger::ImportLedger;
use crate::memory::{SerialEntry, SerialMemory};
use crate::sync::{SyncCoalescer, SyncRequest};

/// What is now true of the purchased device; the data of `onboarding.device.registered`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceRegistered {
    /// The serial number from the `procurement.device.purchased` event.
    pub serial_number: SerialNumber,
    /// The purchase order the device was bought on.
    pub order_id: String,
    /// How the device came to be registered with Autopilot, if it was asked to be.
    pub registration: RegistrationOutcome,
    /// The Autopilot device; `None` when Autopilot was not asked, or in shadow mode.
    pub autopilot_device_id: Option<AutopilotDeviceId>,
    /// The Entra device object's id (its object id, not `deviceId`); `None` when the
    /// Autopilot steps did not run.
    pub entra_device_object_id: Option<DeviceObjectId>,
    /// Entra `deviceId` (= Autopilot `azureActiveDirectoryDeviceId`).
    pub entra_device_id: Option<EntraDeviceId>,
    /// The device's group tag now.
    pub group_tag: Option<String>,
    /// What the group-tag step found or did; `None` when it did not run.
    pub group_tag_update: Option<GroupTagUpdate>,
    /// A beta-only field the v1.0 device read does not carry: `null` until the client reads it.
    pub deployment_profile_assignment_status: Option<String>,
    /// What the device-group step found or did; `None` when it did not run.
    pub device_group: Option<DeviceGroupOutcome>,
    /// Whether this process asked for an Autopilot sync because the device was late.
    pub sync: Option<SyncRequest>,
    /// The corporate identifier now in Intune; `None` unless
    /// `device_purchased.corporate_identifier` is on.
    pub corporate_identifier: Option<CorporateIdentifierOutcome>,
}

/// How the device came to be registered with Autopilot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum RegistrationOutcome {
    /// Autopilot already listed the device; nothing was imported.
    AlreadyRegistered,
    /// Our hardware-hash import registered it.
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
    /// The process's coalesced Autopilot sync requests.
    pub(crate) sync: SyncCoalescer,
    /// Keeps this process's listings of our import records apart from its deletions.
    pub(crate) imports: ImportLedger,
    /// Per serial, what earlier deliveries left behind, and the lock that serialises them.
    serials: SerialMemory,
}

impl Progress {
    /// `message_max_age` is `amqp.max_age`: no delivery of a purchase is handled after that.
    pub fn new(cfg: &DevicePurchasedSettings, message_max_age: Duration) -> Self {
        Progress {
            sync: SyncCoalescer::new(cfg.sync_interval),
            imports: ImportLedger::default(),
            serials: SerialMemory::new(message_max_age),
        }
    }

    /// How many serials this process keeps state for; for tests.
    pub fn tracked(&self) -> usize {
        self.serials.tracked()
    }
}

/// One delivery's share of the process's memory: the process-wide parts, and this serial's
/// entry, held exclusively until the delivery is done.
struct Remembered<'a> {
    progress: &'a Progress,
    serial: SerialEntry<'a>,
}

/// Registers a purchased device with Autopilot and puts it in the device group. Safe to repeat.
#[tracing::instrument(skip_all, fields(device.serial = %purchase.serial_number, order.id = %purchase.order_id, registration = Empty))]
pub async fn handle(
    graph: &GraphClient,
    cfg: &DevicePurchasedSettings,
    progress: &Progress,
    purchase: &DevicePurchased,
    first_seen: OffsetDateTime,
) -> Result<DeviceRegistered, DevicePurchasedError> {
    let hash = required_hash(cfg, purchase)?;
    let serial = &purchase.serial_number;
    let mut mem = Remembered {
        progress,
        serial: progress.serials.enter(serial).await,
    };
    let handled = converge_purchase(graph, cfg, &mut mem, purchase, hash, first_seen).await;
    if !matches!(&handled, Err(e) if e.class().is_transient()) {
        mem.serial.forget(); // no further delivery will need it
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
    graph: &GraphClient,
    cfg: &DevicePurchasedSettings,
    mem: &mut Remembered<'_>,
    purchase: &DevicePurchased,
    hash: Option<&HardwareHash>,
    first_seen: OffsetDateTime,
) -> Result<DeviceRegistered, DevicePurchasedError> {
    let mut out = DeviceRegistered::new(purchase);
    let mut device = None;
    if let Some(hash) = hash {
        device = register(graph, cfg, mem, purchase, hash, first_seen, &mut out).await?;
    }
    if cfg.corporate_identifier {
        out.corporate_identifier =
            Some(ensure_corporate_identifier(graph, purchase, device.as_ref()).await?);
    }
    Ok(out)
}

/// Steps 1–4. `None` in shadow mode, where the import was only pretended.
async fn register(
    graph: &GraphClient,
    cfg: &DevicePurchasedSettings,
    mem: &mut Remembered<'_>,
    purchase: &DevicePurchased,
    hash: &HardwareHash,
    first_seen: OffsetDateTime,
    out: &mut DeviceRegistered,
) -> Result<Option<AutopilotDevice>, DevicePurchasedError> {
    let deadline = first_seen + cfg.import_max_age;
    let (ledger, known) = (&mem.progress.imports, &mut mem.serial.imports);
    let registration =
        match import::ensure_registered(graph, ledger, known, purchase, hash, deadline).await {
            Err(DevicePurchasedError::DeviceNotListed(serial)) => {
                sync_if_late(graph, cfg, mem).await;
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
    let converged = converge(graph, cfg, mem, purchase, &device, out).await;
    // Our import records go once nothing more can come of this delivery but a wait: after
    // success or a permanent error. A wait keeps them, so the next delivery still sees "Imported".
    if !matches!(&converged, Err(e) if e.class().is_transient()) {
        let (ledger, known) = (&mem.progress.imports, &mut mem.serial.imports);
        import::remove_finished_imports(graph, ledger, known, &purchase.serial_number, &ours)
            .await?;
    }
    converged.map(|()| Some(*device))
}

/// Steps 1b and 4 on a registered device: group tag, Entra device object, device group.
async fn converge(
    graph: &GraphClient,
    cfg: &DevicePurchasedSettings,
    mem: &mut Remembered<'_>,
    purchase: &DevicePurchased,
    device: &AutopilotDevice,
    out: &mut DeviceRegistered,
) -> Result<(), DevicePurchasedError> {
    out.autopilot_device_id = Some(device.id.clone());
    out.deployment_profile_assignment_status = profile_assignment_status(graph, device).await;
    out.group_tag = device.group_tag.clone().filter(|t| !t.is_empty());
    let mut tag = device::ensure_group_tag(graph, cfg, device, purchase).await?;
    if tag == GroupTagUpdate::Updated {
        out.group_tag = purchase.group_tag.as_ref().map(|t| t.as_str().to_owned());
    }
    // An earlier delivery's update makes this one's "Unchanged"; report what was done.
    let seen = mem.serial.seen();
    seen.group_tag_updated |= tag == GroupTagUpdate::Updated;
    if seen.group_tag_updated {
        tag = GroupTagUpdate::Updated;
    }
    out.group_tag_update = Some(tag);
    out.entra_device_id = device.entra_device_id();
    let entra = match device::resolve_entra_device(graph, purchase, device).await {
        Err(pending @ DevicePurchasedError::EntraDevicePending(_)) => {
            sync_if_late(graph, cfg, mem).await;
            return Err(pending);
        }
        other => other?,
    };
    out.sync = mem.serial.seen().sync;
    out.entra_device_object_id = Some(entra.id.clone());
    out.device_group = Some(device::ensure_device_group_member(graph, cfg, &entra.id).await?);
    Ok(())
}

/// Asks for a (coalesced) Autopilot sync once the device has been late for `sync_after` since
/// this process saw it registered. A failed request is logged, not fatal: sync only hurries.
async fn sync_if_late(
    graph: &GraphClient,
    cfg: &DevicePurchasedSettings,
    mem: &mut Remembered<'_>,
) -> Option<SyncRequest> {
    let late_for = mem.serial.seen().registered_at.elapsed();
    if late_for < cfg.sync_after {
        return None;
    }
    match mem.progress.sync.ensure_recent_sync(graph).await {
        Ok(request) => {
            mem.serial.seen().sync.get_or_insert(request);
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
    graph: &GraphClient,
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

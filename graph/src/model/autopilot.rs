//! Autopilot and Intune enrollment types (graph-behaviour §5–§7, §9): registered devices, import
//! records and their outcome, the tenant sync state, corporate identifiers.
//!
//! Not for: deciding what a handler does with an outcome; `ImportOutcome` only names it and
//! says why, so the handler can map it to done / wait / dead-letter.

use std::fmt;

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use super::{AutopilotDeviceId, EntraDeviceId, ImportId, ImportedDeviceId};
use shared::ids::{InvalidField, SerialNumber};

/// Graph's "no device yet" value for `azureActiveDirectoryDeviceId`.
const EMPTY_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// A registered Autopilot device (`windowsAutopilotDeviceIdentity`, v1.0 fields).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutopilotDevice {
    /// The Autopilot device id.
    pub id: AutopilotDeviceId,
    /// The serial as Autopilot stores it (compare without ASCII case).
    pub serial_number: String,
    /// The group tag (`orderIdentifier` in the Intune UI), when set.
    #[serde(default)]
    pub group_tag: Option<String>,
    /// The purchase order id, when set.
    #[serde(default)]
    pub purchase_order_identifier: Option<String>,
    /// Manufacturer, as the hardware hash reported it.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// Model, as the hardware hash reported it.
    #[serde(default)]
    pub model: Option<String>,
    /// `unknown|enrolled|pendingReset|failed|notContacted|blocked`.
    #[serde(default)]
    pub enrollment_state: Option<String>,
    /// The assigned user's UPN; `""` when none (see [`AutopilotDevice::assigned_upn`]).
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// The greeting name shown at the out-of-box experience for the assigned user.
    #[serde(default)]
    pub addressable_user_name: Option<String>,
    /// Display name, when set.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The Intune managed device, once the device has enrolled.
    #[serde(default)]
    pub managed_device_id: Option<String>,
    #[serde(default)]
    azure_active_directory_device_id: Option<String>,
    /// Beta spelling of the same value.
    #[serde(default)]
    azure_ad_device_id: Option<String>,
}

impl AutopilotDevice {
    /// The Entra `deviceId` once the device object exists (after import + sync); `None` while
    /// Graph still reports an empty or all-zero GUID.
    pub fn entra_device_id(&self) -> Option<EntraDeviceId> {
        [
            &self.azure_active_directory_device_id,
            &self.azure_ad_device_id,
        ]
        .into_iter()
        .flatten()
        .map(|s| s.trim())
        .find(|s| !s.is_empty() && *s != EMPTY_GUID)
        .map(EntraDeviceId::new)
    }

    /// The assigned user, if any (Graph sends `""` for none).
    pub fn assigned_upn(&self) -> Option<&str> {
        self.user_principal_name
            .as_deref()
            .filter(|s| !s.trim().is_empty())
    }
}

/// Fields `updateDeviceProperties` may change; `None` = leave as is (only set keys are sent).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceProperties {
    /// New group tag.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub group_tag: Option<String>,
    /// New display name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// UPN of the user to assign.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_principal_name: Option<String>,
    /// Greeting name shown to the assigned user.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub addressable_user_name: Option<String>,
}

/// One device to import by hardware hash.
#[derive(Clone, PartialEq, Eq)]
pub struct NewImport {
    /// The serial the hash belongs to.
    pub serial: SerialNumber,
    /// Base64 `DeviceHardwareData` exactly as collected. Never logged (see `Debug`).
    pub hardware_hash: String,
    /// Group tag to give the device.
    pub group_tag: Option<String>,
    /// Windows product key, when the purchase carries one.
    pub product_key: Option<String>,
    /// A user to assign at import; we leave it to device-shipped (always `None`).
    pub assigned_upn: Option<String>,
    /// Our marker, derived from the serial, that tells our import records from other admins'.
    pub import_id: ImportId,
}

// A hardware hash identifies a physical machine and is ~4 KB: keep it out of every log line.
impl fmt::Debug for NewImport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("NewImport")
            .field("serial", &self.serial)
            .field(
                "hardware_hash",
                &format_args!("<{} chars>", self.hardware_hash.len()),
            )
            .field("group_tag", &self.group_tag)
            .field("assigned_upn", &self.assigned_upn)
            .field("import_id", &self.import_id)
            .finish_non_exhaustive()
    }
}

/// An import record (`importedWindowsAutopilotDeviceIdentity`), without its hardware hash.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedDevice {
    /// The import record's id.
    pub id: ImportedDeviceId,
    /// The serial of the imported hash.
    #[serde(default)]
    pub serial_number: String,
    /// The group tag sent with the import.
    #[serde(default)]
    pub group_tag: Option<String>,
    /// The `importId` sent with the import (ours, or another admin's).
    #[serde(default)]
    pub import_id: Option<ImportId>,
    /// The user assigned at import, when any.
    #[serde(default)]
    pub assigned_user_principal_name: Option<String>,
    /// How far the import got.
    #[serde(default)]
    pub state: ImportState,
}

/// The `state` of an import record.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportState {
    /// Where the import is.
    #[serde(default)]
    pub device_import_status: ImportStatus,
    /// On `complete`: the id of the resulting Autopilot device.
    #[serde(default)]
    pub device_registration_id: Option<String>,
    /// Intune's error code on failure (no published table; see graph-behaviour §5).
    #[serde(default)]
    pub device_error_code: Option<i64>,
    /// Intune's error name on failure (`ZtdDeviceAlreadyAssigned`, …).
    #[serde(default)]
    pub device_error_name: Option<String>,
}

/// Graph's `deviceImportStatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ImportStatus {
    /// Not processed yet.
    #[default]
    Unknown,
    /// Queued.
    Pending,
    /// Partly processed.
    Partial,
    /// Imported.
    Complete,
    /// Failed; see the error code and name.
    Error,
    /// A value this client does not know.
    #[serde(other)]
    Other,
}

/// What an import record means for us (graph-behaviour §5 error table).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImportOutcome {
    /// Still processing (`unknown`, `pending`, `partial`): check again later.
    InProgress,
    /// Imported. `device` is the new Autopilot device id when Graph filled it in.
    Complete {
        /// The new Autopilot device id, when Graph filled it in.
        device: Option<AutopilotDeviceId>,
    },
    /// `ZtdDeviceAlreadyAssigned`: already registered to this tenant; find it by serial.
    AlreadyRegisteredHere,
    /// `ZtdDeviceAssignedToOtherTenant` / `…ToAnotherTenant`: the previous owner must deregister it.
    AssignedToOtherTenant,
    /// `ZtdDeviceDuplicated`: the same hash twice in one upload; only one was processed.
    Duplicated,
    /// `InvalidZtdHardwareHash`: the hash is invalid or lacks manufacturer/serial.
    InvalidHardwareHash,
    /// `StorageError`: Intune's generic failure; worth retrying later.
    StorageError,
    /// Any other error name or code.
    Failed {
        /// Intune's error name (may be empty).
        name: String,
        /// Intune's error code, when sent.
        code: Option<i64>,
    },
}

/// The admin-readable reason (a dead-letter reason or a status line), with what to do.
impl fmt::Display for ImportOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::InProgress => f.write_str("the Autopilot import is still being processed"),
            Self::Complete { .. } => f.write_str("the device was imported into Autopilot"),
            Self::AlreadyRegisteredHere => f.write_str(
                "the hardware hash is already registered to this tenant (ZtdDeviceAlreadyAssigned); \
                 the existing Autopilot device is used",
            ),
            Self::AssignedToOtherTenant => f.write_str(
                "the device is registered to another tenant (ZtdDeviceAssignedToOtherTenant); \
                 its previous owner or reseller must deregister it before it can be imported",
            ),
            Self::Duplicated => f.write_str(
                "the same hardware hash was uploaded twice in one import (ZtdDeviceDuplicated)",
            ),
            Self::InvalidHardwareHash => f.write_str(
                "the hardware hash is invalid or lacks manufacturer/serial (InvalidZtdHardwareHash); \
                 collect it again on the device",
            ),
            Self::StorageError => {
                f.write_str("Intune failed to store the import (StorageError); retry later")
            }
            Self::Failed { name, code } => write!(
                f,
                "the Autopilot import failed ({}, code {}); check the import in Intune",
                if name.is_empty() { "no error name" } else { name },
                code.map_or_else(|| "none".to_owned(), |c| c.to_string())
            ),
        }
    }
}

impl ImportedDevice {
    /// What the record means for us: in progress, done, or which failure.
    pub fn outcome(&self) -> ImportOutcome {
        let s = &self.state;
        let name = s.device_error_name.as_deref().unwrap_or("").trim();
        // Keyed on the name, not the number: Microsoft publishes no code table (graph-behaviour §5).
        match name {
            "ZtdDeviceAlreadyAssigned" => return ImportOutcome::AlreadyRegisteredHere,
            "ZtdDeviceAssignedToOtherTenant" | "ZtdDeviceAssignedToAnotherTenant" => {
                return ImportOutcome::AssignedToOtherTenant;
            }
            "ZtdDeviceDuplicated" => return ImportOutcome::Duplicated,
            "InvalidZtdHardwareHash" => return ImportOutcome::InvalidHardwareHash,
            "StorageError" => return ImportOutcome::StorageError,
            _ => {}
        }
        match s.device_import_status {
            ImportStatus::Unknown | ImportStatus::Pending | ImportStatus::Partial => {
                ImportOutcome::InProgress
            }
            ImportStatus::Complete => ImportOutcome::Complete {
                device: s
                    .device_registration_id
                    .as_deref()
                    .filter(|id| !id.trim().is_empty())
                    .map(AutopilotDeviceId::new),
            },
            ImportStatus::Error | ImportStatus::Other => ImportOutcome::Failed {
                name: name.to_owned(),
                code: s.device_error_code,
            },
        }
    }
}

/// Answer to `POST /beta/deviceManagement/windowsAutopilotSettings/sync` (graph-behaviour §7).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SyncOutcome {
    /// 204 (or, in shadow mode, would have been sent).
    Started,
    /// 409: a sync is already running; ours is coalesced into it.
    AlreadyRunning,
    /// 429: the last sync was less than 10 minutes ago.
    TooSoon,
}

/// `GET /beta/deviceManagement/windowsAutopilotSettings`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutopilotSettings {
    /// The last completed sync, when Graph reports one.
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_sync_date_time: Option<OffsetDateTime>,
    /// When someone last asked for a sync.
    #[serde(default, deserialize_with = "lenient_time")]
    pub last_manual_sync_trigger_date_time: Option<OffsetDateTime>,
    /// Whether a sync is running now.
    #[serde(default)]
    pub sync_status: SyncStatus,
}

/// A Graph timestamp, or `None` when absent, null or unparsable: a timestamp we cannot read
/// must not make the whole settings object unreadable. A missing offset is taken as UTC.
pub(crate) fn lenient_time<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<OffsetDateTime>, D::Error> {
    use time::format_description::well_known::Rfc3339;
    let raw: Option<String> = Option::deserialize(d)?;
    Ok(raw.and_then(|s| {
        OffsetDateTime::parse(&s, &Rfc3339)
            .or_else(|_| OffsetDateTime::parse(&format!("{s}Z"), &Rfc3339))
            .ok()
    }))
}

/// Graph's `syncStatus` of the tenant's Autopilot sync.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SyncStatus {
    /// Graph did not say.
    #[default]
    Unknown,
    /// A sync is running.
    InProgress,
    /// The last sync completed.
    Completed,
    /// The last sync failed.
    Failed,
    /// A value this client does not know.
    #[serde(other)]
    Other,
}

/// A Windows corporate identifier `Manufacturer,Model,Serial` (graph-behaviour §9).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct CorporateIdentifier(String);

impl CorporateIdentifier {
    /// Builds the identifier from what the device reports. Periods are removed from the serial,
    /// as Intune requires; a comma in any part would shift the columns, so it is refused.
    pub fn manufacturer_model_serial(
        manufacturer: &str,
        model: &str,
        serial: &SerialNumber,
    ) -> Result<Self, InvalidField> {
        let serial = serial.as_str().replace('.', "");
        for (field, value) in [("manufacturer", manufacturer), ("model", model)] {
            if value.trim().is_empty() || value.contains(',') {
                return Err(InvalidField::new(
                    field,
                    "must be non-empty and contain no comma",
                ));
            }
        }
        if serial.is_empty() || serial.contains(',') {
            return Err(InvalidField::new(
                "serialNumber",
                "empty once periods are removed",
            ));
        }
        Ok(Self(format!(
            "{},{},{serial}",
            manufacturer.trim(),
            model.trim()
        )))
    }

    /// The identifier as sent to Graph.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorporateIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One item of `importDeviceIdentityList`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ImportedIdentity {
    /// The identity's id; `None` in shadow mode.
    #[serde(default)]
    pub id: Option<String>,
    /// The identifier Intune holds.
    #[serde(default)]
    pub imported_device_identifier: String,
    /// Per-item success (`importedDeviceIdentityResult.status`); `None` when Graph omits it.
    #[serde(default)]
    pub status: Option<bool>,
}

#[cfg(test)]
#[path = "autopilot_tests.rs"]
mod tests;

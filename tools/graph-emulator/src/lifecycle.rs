//! The tenant's asynchronous behaviour, evaluated lazily: before each request the pipeline
//! calls [`advance`], which settles every import whose (scaled) delay has passed, reveals Entra
//! devices and provisioned users whose time has come, and ends finished syncs. Lazy rather than
//! background tasks so that a given request sequence sees one deterministic order of events.

use std::time::Instant;

use base64::Engine;

use crate::clock::now_rfc3339;
use crate::demo::MIN_HASH_BYTES;
use crate::fixture::{AutopilotDevice, EntraDevice, ImportState, ImportedDevice};
use crate::state::World;

/// graph-behaviour §5 error names with their numeric codes (806/808/802 observed; 807 is ours — no source).
pub const ALREADY_ASSIGNED: (i64, &str) = (806, "ZtdDeviceAlreadyAssigned");
pub const OTHER_TENANT: (i64, &str) = (808, "ZtdDeviceAssignedToOtherTenant");
pub const DUPLICATED: (i64, &str) = (807, "ZtdDeviceDuplicated");
pub const INVALID_HASH: (i64, &str) = (802, "InvalidZtdHardwareHash");

pub fn advance(w: &mut World, now: Instant) {
    crate::routes::deployment::register_partner_devices(w, now);
    settle_imports(w, now);
    reveal_devices(w, now);
    for u in &mut w.tenant.users {
        if u.visible_at.is_some_and(|t| t <= now) {
            u.visible_at = None;
        }
    }
    let s = &mut w.tenant.autopilot_settings;
    if s.sync_ends_at.is_some_and(|t| t <= now) {
        s.sync_ends_at = None;
        s.sync_status = "completed".into();
        s.last_sync_date_time = now_rfc3339();
    }
    crate::routes::deployment::advance_assignments(w, now);
}

/// Settles due imports in upload order, so the first of two equal hashes wins.
fn settle_imports(w: &mut World, now: Instant) {
    for i in 0..w.tenant.imported_autopilot_devices.len() {
        let rec = &w.tenant.imported_autopilot_devices[i];
        let Some(done_at) = rec.completes_at.filter(|t| *t <= now) else {
            continue;
        };
        let outcome = judge(w, rec);
        let state = match outcome {
            Err((code, name)) => ImportState {
                device_import_status: "error".into(),
                device_registration_id: String::new(),
                device_error_code: code,
                device_error_name: name.into(),
            },
            Ok(()) => {
                let rec = w.tenant.imported_autopilot_devices[i].clone();
                let id = register(w, &rec, done_at);
                ImportState {
                    device_import_status: "complete".into(),
                    device_registration_id: id,
                    ..Default::default()
                }
            }
        };
        let rec = &mut w.tenant.imported_autopilot_devices[i];
        rec.state = state;
        rec.completes_at = None;
    }
}

/// The import's fate (graph-behaviour §5 error table).
fn judge(w: &World, rec: &ImportedDevice) -> Result<(), (i64, &'static str)> {
    if rec.duplicate_in_upload {
        return Err(DUPLICATED);
    }
    if rec.serial_number.trim().is_empty() || !valid_hash(&rec.hardware_identifier) {
        return Err(INVALID_HASH);
    }
    if w.tenant
        .other_tenant_serials
        .iter()
        .any(|s| s.eq_ignore_ascii_case(&rec.serial_number))
    {
        return Err(OTHER_TENANT);
    }
    if w.tenant
        .autopilot_devices
        .iter()
        .any(|d| d.hardware_identifier.as_deref() == Some(&rec.hardware_identifier))
    {
        return Err(ALREADY_ASSIGNED);
    }
    Ok(())
}

/// Valid base64 (standard alphabet) decoding to at least [`MIN_HASH_BYTES`].
pub fn valid_hash(hash: &str) -> bool {
    base64::engine::general_purpose::STANDARD
        .decode(hash.trim())
        .is_ok_and(|b| b.len() >= MIN_HASH_BYTES)
}

/// Creates the `windowsAutopilotDeviceIdentity` and its (not yet visible) Entra device.
fn register(w: &mut World, rec: &ImportedDevice, done_at: Instant) -> String {
    let id = w.new_id();
    register_device(
        w,
        AutopilotDevice {
            id: id.clone(),
            serial_number: rec.serial_number.clone(),
            hardware_identifier: Some(rec.hardware_identifier.clone()),
            group_tag: rec.group_tag.clone(),
            product_key: rec.product_key.clone(),
            manufacturer: Some("Contoso Hardware".into()),
            model: Some("Emulated Model".into()),
            enrollment_state: "notContacted".into(),
            user_principal_name: rec.assigned_user_principal_name.clone(),
            ..Default::default()
        },
        done_at,
    );
    id
}

/// Adds a registered Autopilot device and its Entra device object, which becomes visible
/// `entraDeviceSecs` (emulated) after `at`, carrying the device's `[ZTDID]`, `[OrderID]` (group
/// tag) and `[PurchaseOrderId]` physical ids (graph-behaviour §8): the same for a completed
/// import (graph-behaviour §5) and a partner registration (graph-behaviour §21).
pub(crate) fn register_device(w: &mut World, device: AutopilotDevice, at: Instant) {
    let (ztdid, object_id, device_id) = (w.new_id(), w.new_id(), w.new_id());
    let mut physical_ids = vec![format!("[ZTDID]:{ztdid}")];
    if !device.group_tag.is_empty() {
        physical_ids.push(format!("[OrderID]:{}", device.group_tag));
    }
    if !device.purchase_order_identifier.is_empty() {
        physical_ids.push(format!(
            "[PurchaseOrderId]:{}",
            device.purchase_order_identifier
        ));
    }
    let delay = w.speed.scaled_secs(w.timings.entra_device_secs);
    w.tenant.entra_devices.push(EntraDevice {
        id: object_id,
        device_id,
        display_name: device.serial_number.clone(),
        operating_system: "Windows".into(),
        account_enabled: true,
        physical_ids,
        visible_at: Some(at + delay),
        autopilot_device: Some(device.id.clone()),
        ..Default::default()
    });
    w.tenant.autopilot_devices.push(device);
}

fn reveal_devices(w: &mut World, now: Instant) {
    let mut revealed = Vec::new();
    for d in &mut w.tenant.entra_devices {
        if let Some(at) = d.visible_at.filter(|t| *t <= now) {
            d.visible_at = None;
            d.appeared_at = Some(at);
            if let Some(ap) = d.autopilot_device.take() {
                revealed.push((ap, d.device_id.clone()));
            }
        }
    }
    for (ap, device_id) in revealed {
        if let Some(a) = w.tenant.autopilot_devices.iter_mut().find(|a| a.id == ap) {
            a.azure_active_directory_device_id = Some(device_id);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_must_be_base64_and_long_enough() {
        assert!(valid_hash(&crate::demo::hardware_hash("X1")));
        assert!(!valid_hash("not base64!"));
        assert!(!valid_hash("QUJD"));
    }
}

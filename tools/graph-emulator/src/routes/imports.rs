//! Autopilot hardware-hash import records (graph-behaviour §5): create one, bulk `/import`, get, list, delete.
//! A new record is `unknown` until its (scaled) import delay passes; `lifecycle.rs` then
//! settles it to `complete` or `error` and registers the device.

use serde_json::{Map, Value, json};

use super::Call;
use crate::fixture::{ImportState, ImportedDevice};
use crate::reply::{ApiError, Reply};
use crate::state::World;

fn record_json(r: &ImportedDevice) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.importedWindowsAutopilotDeviceIdentity",
        "id": r.id,
        "groupTag": r.group_tag,
        "serialNumber": r.serial_number,
        "productKey": r.product_key,
        "importId": r.import_id,
        "hardwareIdentifier": r.hardware_identifier,
        "assignedUserPrincipalName": r.assigned_user_principal_name,
        "state": {
            "@odata.type": "microsoft.graph.importedWindowsAutopilotDeviceIdentityState",
            "deviceImportStatus": r.state.device_import_status,
            "deviceRegistrationId": r.state.device_registration_id,
            "deviceErrorCode": r.state.device_error_code,
            "deviceErrorName": r.state.device_error_name,
        },
    })
}

/// Builds a pending record from a request object (ignoring the `id`/`state` clients may send).
fn new_record(w: &mut World, call: &Call<'_>, b: &Map<String, Value>) -> ImportedDevice {
    let text = |k: &str| b.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    // `orderIdentifier` is the deprecated name of `groupTag` (graph-behaviour §5).
    let group_tag = Some(text("groupTag"))
        .filter(|t| !t.is_empty())
        .unwrap_or_else(|| text("orderIdentifier"));
    ImportedDevice {
        id: w.new_id(),
        serial_number: text("serialNumber"),
        hardware_identifier: text("hardwareIdentifier"),
        group_tag,
        product_key: text("productKey"),
        import_id: text("importId"),
        assigned_user_principal_name: text("assignedUserPrincipalName"),
        state: ImportState {
            device_import_status: "unknown".into(),
            ..Default::default()
        },
        completes_at: Some(call.now + w.speed.scaled_secs(w.timings.import_secs)),
        duplicate_in_upload: false,
    }
}

pub fn create(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let b = call.body()?.clone();
    let rec = new_record(w, call, &b);
    let body = record_json(&rec);
    w.tenant.imported_autopilot_devices.push(rec);
    Ok(Reply::created(body))
}

/// `POST .../import`: one upload; a hash seen earlier in it ends in `ZtdDeviceDuplicated`.
pub fn bulk(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let list = call
        .body()?
        .get("importedWindowsAutopilotDeviceIdentities")
        .and_then(Value::as_array)
        .cloned()
        .ok_or_else(|| ApiError::bad("importedWindowsAutopilotDeviceIdentities is required."))?;
    let mut seen: Vec<String> = Vec::new();
    let mut out = Vec::new();
    for item in &list {
        let obj = item
            .as_object()
            .ok_or_else(|| ApiError::bad("Each imported device must be an object."))?;
        let mut rec = new_record(w, call, obj);
        rec.duplicate_in_upload =
            !rec.hardware_identifier.is_empty() && seen.contains(&rec.hardware_identifier);
        seen.push(rec.hardware_identifier.clone());
        out.push(record_json(&rec));
        w.tenant.imported_autopilot_devices.push(rec);
    }
    Ok(Reply::ok(json!({ "value": out })).changed())
}

fn find(w: &World, call: &Call<'_>) -> Result<usize, ApiError> {
    let id = call.param(0);
    w.tenant
        .imported_autopilot_devices
        .iter()
        .position(|r| r.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))
}

pub fn get(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = find(w, call)?;
    Ok(Reply::ok(record_json(
        &w.tenant.imported_autopilot_devices[i],
    )))
}

pub fn list(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    if call.query.filter()?.is_some() {
        return Err(ApiError::bad(
            "$filter is not supported on importedWindowsAutopilotDeviceIdentities.",
        ));
    }
    let items = w
        .tenant
        .imported_autopilot_devices
        .iter()
        .map(record_json)
        .collect();
    call.page(items, w.page_size)
}

pub fn delete(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = find(w, call)?;
    w.tenant.imported_autopilot_devices.remove(i);
    Ok(Reply::no_content().changed())
}

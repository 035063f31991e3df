//! `windowsAutopilotDeviceIdentities` (graph-behaviour §6) and `windowsAutopilotSettings` (graph-behaviour §7): list/get with
//! the `$filter` quirks (`contains` only; `eq` and hyphens are 400; spaces never match),
//! paging, user assignment, property updates, delete, and the beta-only sync with its 409
//! (sync running) and 429 (within the 10-minute guard).

use serde_json::{Value, json};

use super::Call;
use crate::clock::now_rfc3339;
use crate::fixture::AutopilotDevice;
use crate::query::Filter;
use crate::reply::{ApiError, Reply};
use crate::state::World;

fn device_json(w: &World, d: &AutopilotDevice, call: &Call<'_>) -> Value {
    let mut v = json!({
        "@odata.type": "#microsoft.graph.windowsAutopilotDeviceIdentity",
        "id": d.id, "groupTag": d.group_tag, "purchaseOrderIdentifier": d.purchase_order_identifier,
        "serialNumber": d.serial_number, "productKey": d.product_key, "manufacturer": d.manufacturer,
        "model": d.model, "enrollmentState": d.enrollment_state, "lastContactedDateTime": "0001-01-01T00:00:00Z",
        "addressableUserName": d.addressable_user_name, "userPrincipalName": d.user_principal_name,
        "resourceName": "", "skuNumber": "", "systemFamily": "",
        "azureActiveDirectoryDeviceId": d.azure_active_directory_device_id,
        "managedDeviceId": d.managed_device_id.clone().unwrap_or_else(|| "00000000-0000-0000-0000-000000000000".into()),
        "displayName": d.display_name,
    });
    if call.beta() {
        // graph-behaviour §18: the assignment status moves lazily (routes::deployment).
        let profile = super::deployment::profile_state(w, d);
        v["azureAdDeviceId"] = json!(d.azure_active_directory_device_id);
        v["deploymentProfileAssignmentStatus"] = json!(profile.status);
        v["deploymentProfileAssignmentDetailedStatus"] = json!("none");
        v["deploymentProfileAssignedDateTime"] = json!(profile.assigned_at);
        v["deviceFriendlyName"] = json!(d.display_name);
        v["remediationState"] = json!("unknown");
        v["userlessEnrollmentStatus"] = json!("unknown");
        if call
            .query
            .get("$expand")
            .is_some_and(|e| e.contains("deploymentProfile"))
        {
            let full = |p: Option<&crate::fixture::DeploymentProfile>| {
                p.map_or(Value::Null, |p| super::config::profile_json(p, call))
            };
            v["deploymentProfile"] = full(profile.assigned);
            v["intendedDeploymentProfile"] = full(profile.intended);
        }
    }
    v
}

/// graph-behaviour §6: only `contains(serialNumber,'…')` works; `eq` is 400, a hyphen is 400, a space never matches.
fn serial_filter(call: &Call<'_>) -> Result<Option<String>, ApiError> {
    match call.query.filter() {
        Ok(None) => Ok(None),
        Ok(Some(Filter::Contains(f, v))) if f.eq_ignore_ascii_case("serialNumber") => {
            if v.contains('-') {
                return Err(ApiError::bad(
                    "An error has occurred: invalid filter value.",
                ));
            }
            Ok(Some(v))
        }
        _ => Err(ApiError::bad(
            "An error has occurred: the $filter clause is not supported.",
        )),
    }
}

pub fn list(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let needle = serial_filter(call)?.map(|n| n.to_lowercase());
    let items = w
        .tenant
        .autopilot_devices
        .iter()
        .filter(|d| {
            needle
                .as_ref()
                .is_none_or(|n| !n.contains(' ') && d.serial_number.to_lowercase().contains(n))
        })
        .map(|d| device_json(w, d, call))
        .collect();
    call.page(items, w.page_size)
}

fn index(w: &World, call: &Call<'_>) -> Result<usize, ApiError> {
    let id = call.param(0);
    w.tenant
        .autopilot_devices
        .iter()
        .position(|d| d.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))
}

pub fn get(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = index(w, call)?;
    Ok(Reply::ok(device_json(
        w,
        &w.tenant.autopilot_devices[i],
        call,
    )))
}

/// Only devices not enrolled in Intune can be deleted (graph-behaviour §6).
pub fn delete(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = index(w, call)?;
    if w.tenant.autopilot_devices[i].enrollment_state == "enrolled" {
        return Err(ApiError::bad(
            "The device is enrolled in Intune; delete the managed device first.",
        ));
    }
    w.tenant.autopilot_devices.remove(i);
    Ok(Reply::no_content().changed())
}

fn upn_in_tenant(w: &World, upn: &str) -> bool {
    upn.rsplit_once('@').is_some_and(|(_, d)| {
        w.tenant
            .tenant
            .domains
            .iter()
            .any(|x| x.eq_ignore_ascii_case(d))
    })
}

pub fn assign_user(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = index(w, call)?;
    let b = call.body()?;
    let upn = b
        .get("userPrincipalName")
        .and_then(Value::as_str)
        .unwrap_or("");
    let name = b
        .get("addressableUserName")
        .and_then(Value::as_str)
        .unwrap_or("");
    // graph-behaviour §14: only the domain of the UPN is validated.
    if !upn_in_tenant(w, upn) {
        return Err(ApiError::bad(format!("Invalid userPrincipalName '{upn}'.")));
    }
    let d = &mut w.tenant.autopilot_devices[i];
    d.user_principal_name = upn.to_string();
    d.addressable_user_name = name.to_string();
    Ok(Reply::no_content().changed())
}

pub fn unassign_user(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = index(w, call)?;
    let d = &mut w.tenant.autopilot_devices[i];
    d.user_principal_name.clear();
    d.addressable_user_name.clear();
    Ok(Reply::no_content().changed())
}

/// Changes only the keys sent; a new group tag also rewrites the Entra device's `[OrderID]`.
pub fn update_properties(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = index(w, call)?;
    let b = call.body()?.clone();
    let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
    if let Some(upn) = text("userPrincipalName").filter(|u| !u.is_empty() && !upn_in_tenant(w, u)) {
        return Err(ApiError::bad(format!("Invalid userPrincipalName '{upn}'.")));
    }
    let d = &mut w.tenant.autopilot_devices[i];
    if let Some(v) = text("userPrincipalName") {
        d.user_principal_name = v;
    }
    if let Some(v) = text("addressableUserName") {
        d.addressable_user_name = v;
    }
    if let Some(v) = text("displayName") {
        d.display_name = v;
    }
    if let Some(tag) = text("groupTag") {
        d.group_tag = tag.clone();
        let aad = d.azure_active_directory_device_id.clone();
        let ap_id = d.id.clone();
        // Also an Entra device that has not appeared yet (graph-behaviour §21: the tag is often set
        // straight after a partner registration): it appears with the new tag.
        if let Some(e) = w.tenant.entra_devices.iter_mut().find(|e| {
            Some(&e.device_id) == aad.as_ref() || e.autopilot_device.as_ref() == Some(&ap_id)
        }) {
            e.physical_ids.retain(|p| !p.starts_with("[OrderID]:"));
            e.physical_ids.push(format!("[OrderID]:{tag}"));
        }
    }
    Ok(Reply::no_content().changed())
}

pub fn settings(w: &mut World, _call: &Call<'_>) -> Result<Reply, ApiError> {
    let s = &w.tenant.autopilot_settings;
    Ok(Reply::ok(json!({
        "@odata.type": "#microsoft.graph.windowsAutopilotSettings",
        "id": "dc3e0d43-1d5c-4b89-8a4b-9e3f6c1b6b1e",
        "lastSyncDateTime": s.last_sync_date_time,
        "lastManualSyncTriggerDateTime": s.last_manual_sync_trigger_date_time,
        "syncStatus": s.sync_status,
    })))
}

/// graph-behaviour §7: 204; 409 while a sync runs; 429 within the (scaled) 10 minutes of the last one.
pub fn sync(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let guard = w.speed.scaled_secs(w.timings.sync_guard_secs);
    let run = w.speed.scaled_secs(w.timings.sync_secs);
    let s = &mut w.tenant.autopilot_settings;
    if s.sync_ends_at.is_some() {
        return Err(ApiError::Conflict("A sync is already in progress.".into()));
    }
    if s.last_sync_started.is_some_and(|t| call.now < t + guard) {
        return Err(ApiError::TooManyRequests(
            "Sync can only be triggered once every 10 minutes.".into(),
        ));
    }
    s.sync_ends_at = Some(call.now + run);
    s.last_sync_started = Some(call.now);
    s.sync_status = "inProgress".into();
    s.last_manual_sync_trigger_date_time = now_rfc3339();
    Ok(Reply::no_content().changed())
}

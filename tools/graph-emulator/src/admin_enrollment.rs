//! Admin routes for the registration paths of graph-behaviour §18–§21 (merged into `/_emulator`):
//! partner registrations, deployment profiles and their group assignments, device preparation
//! policies and their targets, group owners, service principals, Autopilot deployment events and
//! device preparation enrollments. Each first advances the tenant's clocks, so a change made here
//! starts its emulated delays now.

use std::time::Instant;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::fixture::{
    AutopilotEvent, ConfigurationPolicy, DeploymentProfile, PartnerRegistration, ServicePrincipal,
};
use crate::routes::{config, deployment, device_preparation};
use crate::state::{AppState, World};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/partner-registrations", post(partner_registration))
        .route("/deployment-profiles", post(upsert_profile))
        .route(
            "/deployment-profiles/{id}/assignments",
            post(assign_profile),
        )
        .route(
            "/deployment-profiles/{id}/assignments/{group}",
            delete(unassign_profile),
        )
        .route("/configuration-policies", post(upsert_policy))
        .route(
            "/configuration-policies/{id}/assignments",
            post(assign_policy),
        )
        .route(
            "/configuration-policies/{id}/assignments/{group}",
            delete(unassign_policy),
        )
        .route(
            "/configuration-policies/{id}/enrollment-time-device-membership-targets",
            put(set_policy_targets),
        )
        .route("/groups/{id}/owners", post(add_owner))
        .route("/groups/{id}/owners/{owner}", delete(remove_owner))
        .route("/service-principals", post(upsert_service_principal))
        .route("/service-principals/{id}", delete(remove_service_principal))
        .route("/autopilot-events", post(autopilot_event))
        .route("/enrollments", post(enrollment))
}

/// Locks the world with its clocks advanced to now.
fn advanced(s: &AppState) -> (std::sync::MutexGuard<'_, World>, Instant) {
    let mut w = s.world();
    let now = Instant::now();
    crate::lifecycle::advance(&mut w, now);
    (w, now)
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    (status, Json(json!({ "error": message.into() }))).into_response()
}

fn not_found(what: &str, id: &str) -> Response {
    error(StatusCode::NOT_FOUND, format!("no {what} '{id}'"))
}

async fn partner_registration(
    State(s): State<AppState>,
    Json(r): Json<PartnerRegistration>,
) -> Response {
    if r.serial_number.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "serialNumber is required");
    }
    let (mut w, now) = advanced(&s);
    let (serial, after) = (r.serial_number.clone(), r.after_seconds);
    let id = deployment::queue_partner_registration(&mut w, r, now);
    let body = json!({ "id": id, "serialNumber": serial, "afterSeconds": after });
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn upsert_profile(State(s): State<AppState>, Json(p): Json<DeploymentProfile>) -> Response {
    let (mut w, _) = advanced(&s);
    let list = &mut w.tenant.deployment_profiles;
    match list.iter_mut().find(|x| x.id.eq_ignore_ascii_case(&p.id)) {
        Some(existing) => *existing = p.clone(),
        None => list.push(p.clone()),
    }
    (StatusCode::CREATED, Json(p)).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GroupRef {
    group_id: String,
}

async fn assign_profile(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(g): Json<GroupRef>,
) -> Response {
    let (mut w, _) = advanced(&s);
    match deployment::assign_profile(&mut w, &id, &g.group_id) {
        Some((body, _)) => (StatusCode::CREATED, Json(body)).into_response(),
        None => not_found("deployment profile", &id),
    }
}

async fn unassign_profile(
    State(s): State<AppState>,
    Path((id, group)): Path<(String, String)>,
) -> Response {
    let (mut w, _) = advanced(&s);
    let Some(p) = w.tenant.deployment_profile_mut(&id) else {
        return not_found("deployment profile", &id);
    };
    p.assigned_group_ids
        .retain(|g| !g.eq_ignore_ascii_case(&group));
    StatusCode::NO_CONTENT.into_response()
}

async fn upsert_policy(State(s): State<AppState>, Json(p): Json<ConfigurationPolicy>) -> Response {
    let (mut w, _) = advanced(&s);
    let list = &mut w.tenant.configuration_policies;
    match list.iter_mut().find(|x| x.id.eq_ignore_ascii_case(&p.id)) {
        Some(existing) => *existing = p.clone(),
        None => list.push(p.clone()),
    }
    (StatusCode::CREATED, Json(p)).into_response()
}

fn policy_mut<'a>(w: &'a mut World, id: &str) -> Option<&'a mut ConfigurationPolicy> {
    w.tenant
        .configuration_policies
        .iter_mut()
        .find(|p| p.id.eq_ignore_ascii_case(id))
}

async fn assign_policy(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(g): Json<GroupRef>,
) -> Response {
    let (mut w, _) = advanced(&s);
    let Some(p) = policy_mut(&mut w, &id) else {
        return not_found("configuration policy", &id);
    };
    if !p
        .assigned_group_ids
        .iter()
        .any(|x| x.eq_ignore_ascii_case(&g.group_id))
    {
        p.assigned_group_ids.push(g.group_id.clone());
    }
    let body = config::assignment(&p.id, &g.group_id);
    (StatusCode::CREATED, Json(body)).into_response()
}

async fn unassign_policy(
    State(s): State<AppState>,
    Path((id, group)): Path<(String, String)>,
) -> Response {
    let (mut w, _) = advanced(&s);
    let Some(p) = policy_mut(&mut w, &id) else {
        return not_found("configuration policy", &id);
    };
    p.assigned_group_ids
        .retain(|g| !g.eq_ignore_ascii_case(&group));
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Targets {
    group_ids: Vec<String>,
}

/// Sets the device group as an admin would in the portal: no validation (Graph's
/// `retrieveEnrollmentTimeDeviceMembershipTarget` then reports what is wrong).
async fn set_policy_targets(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(t): Json<Targets>,
) -> Response {
    let (mut w, _) = advanced(&s);
    let Some(p) = policy_mut(&mut w, &id) else {
        return not_found("configuration policy", &id);
    };
    p.enrollment_time_device_membership_targets = t.group_ids;
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
struct ObjectRef {
    id: String,
}

async fn add_owner(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(o): Json<ObjectRef>,
) -> Response {
    let (mut w, _) = advanced(&s);
    let Some(g) = w.tenant.group_mut(&id) else {
        return not_found("group", &id);
    };
    if !g.owners.iter().any(|x| x.eq_ignore_ascii_case(&o.id)) {
        g.owners.push(o.id);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn remove_owner(
    State(s): State<AppState>,
    Path((id, owner)): Path<(String, String)>,
) -> Response {
    let (mut w, _) = advanced(&s);
    let Some(g) = w.tenant.group_mut(&id) else {
        return not_found("group", &id);
    };
    g.owners.retain(|x| !x.eq_ignore_ascii_case(&owner));
    StatusCode::NO_CONTENT.into_response()
}

async fn upsert_service_principal(
    State(s): State<AppState>,
    Json(sp): Json<ServicePrincipal>,
) -> Response {
    let (mut w, _) = advanced(&s);
    let list = &mut w.tenant.service_principals;
    match list.iter_mut().find(|x| x.id.eq_ignore_ascii_case(&sp.id)) {
        Some(existing) => *existing = sp.clone(),
        None => list.push(sp.clone()),
    }
    (StatusCode::CREATED, Json(device_preparation::sp_json(&sp))).into_response()
}

/// Removes a service principal by object id or `appId`.
async fn remove_service_principal(State(s): State<AppState>, Path(id): Path<String>) -> Response {
    let (mut w, _) = advanced(&s);
    let before = w.tenant.service_principals.len();
    w.tenant
        .service_principals
        .retain(|sp| !sp.id.eq_ignore_ascii_case(&id) && !sp.app_id.eq_ignore_ascii_case(&id));
    if w.tenant.service_principals.len() == before {
        return not_found("service principal", &id);
    }
    StatusCode::NO_CONTENT.into_response()
}

async fn autopilot_event(State(s): State<AppState>, Json(e): Json<AutopilotEvent>) -> Response {
    if e.device_serial_number.trim().is_empty() {
        return error(StatusCode::BAD_REQUEST, "deviceSerialNumber is required");
    }
    let (mut w, _) = advanced(&s);
    let e = crate::routes::autopilot_events::complete(&mut w, e);
    w.tenant.autopilot_events.push(e.clone());
    let mut body = serde_json::to_value(&e).unwrap_or(Value::Null);
    if let Some(m) = body.as_object_mut() {
        m.remove("policyStatusDetails");
    }
    (StatusCode::CREATED, Json(body)).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EnrollmentRequest {
    serial_number: String,
    user_principal_name: String,
}

/// A device preparation deployment reaching enrollment (graph-behaviour §20): the device joins the policy's
/// device group; a serial registered for classic Autopilot runs that flow instead.
async fn enrollment(State(s): State<AppState>, Json(r): Json<EnrollmentRequest>) -> Response {
    let (mut w, _) = advanced(&s);
    match device_preparation::enroll(&mut w, &r.serial_number, &r.user_principal_name) {
        Ok(device_preparation::Enrollment::ClassicAutopilot) => Json(json!({
            "flow": "autopilot",
            "reason": "the serial is registered as a Windows Autopilot device; its profile takes precedence",
        }))
        .into_response(),
        Ok(device_preparation::Enrollment::DevicePreparation {
            policy_id,
            object_id,
            device_id,
            group_ids,
        }) => Json(json!({
            "flow": "devicePreparation", "policyId": policy_id, "entraDeviceObjectId": object_id,
            "deviceId": device_id, "groupIds": group_ids,
        }))
        .into_response(),
        Err(why) => error(StatusCode::CONFLICT, why),
    }
}

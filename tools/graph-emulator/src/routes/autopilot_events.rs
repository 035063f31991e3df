//! Autopilot deployment results, beta `autopilotEvents` (graph-behaviour §19): list (with `$filter` on
//! `deviceId`, `deviceSerialNumber`, the states, and date-time comparisons; `$orderby` on a
//! date-time; `$top`), get, and `policyStatusDetails`. Events are created by tests through
//! `POST /_emulator/autopilot-events` ([`complete`] fills what the test left out).

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Call;
use super::intune_filter::{Clause, clauses, text_matches};
use crate::fixture::AutopilotEvent;
use crate::reply::{ApiError, Reply};
use crate::state::World;

fn event_json(e: &AutopilotEvent) -> Value {
    let mut v = serde_json::to_value(e).unwrap_or(Value::Null);
    if let Some(map) = v.as_object_mut() {
        map.remove("policyStatusDetails");
        map.insert(
            "@odata.type".into(),
            json!("#microsoft.graph.deviceManagementAutopilotEvent"),
        );
    }
    v
}

/// The text of an event property by its Graph name (case-insensitive), for `$filter`/`$orderby`.
fn property<'a>(e: &'a AutopilotEvent, name: &str) -> Option<&'a str> {
    let v = match name.to_ascii_lowercase().as_str() {
        "id" => &e.id,
        "deviceid" => &e.device_id,
        "userid" => &e.user_id,
        "deviceserialnumber" => &e.device_serial_number,
        "manageddevicename" => &e.managed_device_name,
        "userprincipalname" => &e.user_principal_name,
        "enrollmenttype" => &e.enrollment_type,
        "enrollmentstate" => &e.enrollment_state,
        "deploymentstate" => &e.deployment_state,
        "devicesetupstatus" => &e.device_setup_status,
        "accountsetupstatus" => &e.account_setup_status,
        "eventdatetime" => &e.event_date_time,
        "deviceregistereddatetime" => &e.device_registered_date_time,
        "enrollmentstartdatetime" => &e.enrollment_start_date_time,
        "deploymentstartdatetime" => &e.deployment_start_date_time,
        "deploymentenddatetime" => &e.deployment_end_date_time,
        _ => return None,
    };
    Some(v)
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

fn matches(e: &AutopilotEvent, c: &Clause) -> Result<bool, ApiError> {
    let actual = property(e, &c.field)
        .ok_or_else(|| ApiError::bad(format!("Filtering on '{}' is not supported.", c.field)))?;
    if let Some(hit) = text_matches(&c.op, actual, &c.value).filter(|_| c.op != "has") {
        return Ok(hit);
    }
    let (Some(a), Some(b)) = (parse_time(actual), parse_time(&c.value)) else {
        return Err(ApiError::bad(format!(
            "Operator '{}' needs a date-time property and value.",
            c.op
        )));
    };
    Ok(match c.op.as_str() {
        "ge" => a >= b,
        "gt" => a > b,
        "le" => a <= b,
        "lt" => a < b,
        _ => {
            return Err(ApiError::bad(format!(
                "Operator '{}' is not supported.",
                c.op
            )));
        }
    })
}

/// `GET /beta/deviceManagement/autopilotEvents`. graph-behaviour §19 marks `deviceSerialNumber eq` UNVERIFIED
/// (it might be ignored silently); the emulator honours it, as the reference says.
pub fn list(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let filter = call.query.get("$filter").map(clauses).transpose()?;
    let mut events: Vec<&AutopilotEvent> = Vec::new();
    for e in &w.tenant.autopilot_events {
        let mut keep = true;
        for c in filter.iter().flatten() {
            keep &= matches(e, c)?;
        }
        if keep {
            events.push(e);
        }
    }
    if let Some(order) = call.query.get("$orderby") {
        let mut words = order.split_whitespace();
        let field = words.next().unwrap_or("");
        let desc = match words.next().map(str::to_ascii_lowercase).as_deref() {
            None | Some("asc") => false,
            Some("desc") => true,
            Some(other) => {
                return Err(ApiError::bad(format!(
                    "Invalid $orderby direction '{other}'."
                )));
            }
        };
        if !field.to_ascii_lowercase().ends_with("datetime")
            || property(&AutopilotEvent::default(), field).is_none()
        {
            return Err(ApiError::bad(format!(
                "Ordering by '{field}' is not supported."
            )));
        }
        let key = |e: &AutopilotEvent| property(e, field).and_then(parse_time);
        events.sort_by_key(|e| key(e));
        if desc {
            events.reverse();
        }
    }
    let items = events.into_iter().map(event_json).collect();
    call.page(items, w.page_size)
}

fn find<'a>(w: &'a World, call: &Call<'_>) -> Result<&'a AutopilotEvent, ApiError> {
    w.tenant
        .autopilot_events
        .iter()
        .find(|e| e.id.eq_ignore_ascii_case(call.param(0)))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))
}

pub fn get(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    Ok(Reply::ok(event_json(find(w, call)?)))
}

pub fn policy_status_details(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let e = find(w, call)?;
    Ok(Reply::ok(json!({ "value": e.policy_status_details })))
}

/// Graph-style timestamp with seven fractional digits (graph-behaviour §19's sample has them).
fn stamp(t: OffsetDateTime) -> String {
    let whole = t.replace_nanosecond(0).unwrap_or(t);
    let text = whole.format(&Rfc3339).unwrap_or_default();
    format!(
        "{}.{:07}Z",
        text.trim_end_matches('Z'),
        t.nanosecond() / 100
    )
}

fn fill(field: &mut String, value: impl FnOnce() -> String) {
    if field.is_empty() {
        *field = value();
    }
}

/// Fills what a test left out of a new event: a successful deployment unless `deploymentState`
/// says otherwise; for a `failure`, the device phase failed and the account phase was not
/// attempted, `enrollmentState` is `failed` and `enrollmentFailureDetails` says so (our
/// defaults). Device, user and profile come from the registered Autopilot device with that
/// serial, if any; `deviceId` is its Entra `deviceId`, as the third-party filter in graph-behaviour §19 implies.
pub(crate) fn complete(w: &mut World, mut e: AutopilotEvent) -> AutopilotEvent {
    let now = OffsetDateTime::now_utc();
    let minutes = |m: i64| stamp(now - time::Duration::minutes(m));
    fill(&mut e.id, || w.new_id());
    let device = w
        .tenant
        .autopilot_devices
        .iter()
        .find(|d| {
            d.serial_number
                .eq_ignore_ascii_case(&e.device_serial_number)
        })
        .cloned();
    let profile = device.as_ref().and_then(|d| {
        let id = d.deployment_profile_id.as_deref()?;
        w.tenant.deployment_profile(id).cloned()
    });
    let aad = device
        .as_ref()
        .and_then(|d| d.azure_active_directory_device_id.clone());
    match aad {
        Some(id) => fill(&mut e.device_id, || id),
        None => fill(&mut e.device_id, || w.new_id()),
    }
    if let Some(d) = &device {
        fill(&mut e.user_principal_name, || d.user_principal_name.clone());
    }
    if let Some(u) = w.tenant.users.iter().find(|u| {
        !e.user_principal_name.is_empty()
            && u.user_principal_name
                .eq_ignore_ascii_case(&e.user_principal_name)
    }) {
        fill(&mut e.user_id, || u.id.clone());
    }
    let serial = e.device_serial_number.clone();
    fill(&mut e.managed_device_name, || match &profile {
        Some(p) if !p.device_name_template.is_empty() => {
            let name = p.device_name_template.replace("%SERIAL%", &serial);
            name.chars().take(15).collect()
        }
        _ => serial.chars().take(15).collect(),
    });
    if let Some(p) = &profile {
        fill(
            &mut e.windows_autopilot_deployment_profile_display_name,
            || p.display_name.clone(),
        );
    }
    if let Some(esp) = w.tenant.enrollment_status_pages.first() {
        fill(
            &mut e.windows10_enrollment_completion_page_configuration_display_name,
            || esp.display_name.clone(),
        );
        fill(
            &mut e.windows10_enrollment_completion_page_configuration_id,
            || esp.id.clone(),
        );
    }
    fill(&mut e.os_version, || "10.0.26100.2605".into());
    fill(&mut e.enrollment_type, || {
        "azureADJoinedWithAutopilotProfile".into()
    });
    fill(&mut e.deployment_state, || "success".into());
    let failed = e.deployment_state.eq_ignore_ascii_case("failure");
    if failed {
        fill(&mut e.device_setup_status, || "failure".into());
        let device_failed = e.device_setup_status.eq_ignore_ascii_case("failure");
        fill(&mut e.account_setup_status, || {
            if device_failed {
                "notAttempted"
            } else {
                "failure"
            }
            .into()
        });
        fill(&mut e.enrollment_state, || "failed".into());
        fill(&mut e.enrollment_failure_details, || {
            "The deployment failed (emulated).".into()
        });
    } else {
        fill(&mut e.device_setup_status, || "success".into());
        fill(&mut e.account_setup_status, || "success".into());
        fill(&mut e.enrollment_state, || "enrolled".into());
    }
    fill(&mut e.event_date_time, || stamp(now));
    fill(&mut e.device_registered_date_time, || minutes(60 * 24));
    fill(&mut e.enrollment_start_date_time, || minutes(30));
    fill(&mut e.deployment_start_date_time, || minutes(30));
    fill(&mut e.deployment_end_date_time, || stamp(now));
    fill(&mut e.deployment_duration, || "PT30M".into());
    fill(&mut e.deployment_total_duration, || "PT31M12.5S".into());
    fill(&mut e.device_setup_duration, || "PT18M".into());
    fill(&mut e.account_setup_duration, || "PT7M".into());
    e
}

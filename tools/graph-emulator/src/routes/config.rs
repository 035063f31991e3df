//! Read-only tenant configuration for a readiness check (graph-behaviour §10): Autopilot deployment profiles
//! (beta) and Enrollment Status Page configurations with their group assignments. The tenant's
//! default ESP is always listed, as in a real tenant.

use serde_json::{Value, json};

use super::Call;
use crate::fixture::{DeploymentProfile, EnrollmentStatusPage};
use crate::reply::{ApiError, Reply};
use crate::state::World;

const ESP_TYPE: &str = "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration";

/// One `groupAssignmentTarget` assignment of an Intune object (`{owner}_{group}`), as profiles,
/// ESP configurations and device preparation policies list them (graph-behaviour §10, §18, §20).
pub(crate) fn assignment(owner: &str, group: &str) -> Value {
    json!({
        "id": format!("{owner}_{group}"),
        "target": {
            "@odata.type": "#microsoft.graph.groupAssignmentTarget",
            "groupId": group,
            "deviceAndAppManagementAssignmentFilterId": null,
            "deviceAndAppManagementAssignmentFilterType": "none",
        },
        "source": "direct",
        "sourceId": owner,
    })
}

fn assignments(owner: &str, groups: &[String]) -> Vec<Value> {
    groups.iter().map(|g| assignment(owner, g)).collect()
}

/// A profile as graph-behaviour §18 lists it: current property names and the deprecated ones
/// (still sent by Graph). Values not in the fixture are Graph's defaults.
pub(crate) fn profile_json(p: &DeploymentProfile, call: &Call<'_>) -> Value {
    let mut v = json!({
        "@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile",
        "id": p.id, "displayName": p.display_name, "description": p.description,
        "deviceNameTemplate": p.device_name_template, "locale": "os-default", "language": "os-default",
        "createdDateTime": "2026-01-05T09:00:00Z", "lastModifiedDateTime": "2026-01-05T09:00:00Z",
        "roleScopeTagIds": ["0"], "managementServiceAppId": null,
        "deviceType": "windowsPc", "hardwareHashExtractionEnabled": false, "extractHardwareHash": false,
        "preprovisioningAllowed": false, "enableWhiteGlove": false,
        "outOfBoxExperienceSetting": {
            "privacySettingsHidden": true, "eulaHidden": true, "userType": "standard",
            "deviceUsageType": "singleUser", "keyboardSelectionPageSkipped": true, "escapeLinkHidden": true,
        },
        "outOfBoxExperienceSettings": {
            "hidePrivacySettings": true, "hideEULA": true, "userType": "standard",
            "deviceUsageType": "singleUser", "skipKeyboardSelectionPage": true, "hideEscapeLink": true,
        },
        "enrollmentStatusScreenSettings": null,
    });
    if expands_assignments(call) {
        v["assignments"] = json!(assignments(&p.id, &p.assigned_group_ids));
    }
    v
}

fn expands_assignments(call: &Call<'_>) -> bool {
    call.query.get("$expand").is_some_and(|e| {
        e.split(',')
            .any(|x| x.trim().eq_ignore_ascii_case("assignments"))
    })
}

pub fn profiles(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let items = w
        .tenant
        .deployment_profiles
        .iter()
        .map(|p| profile_json(p, call))
        .collect();
    call.page(items, w.page_size)
}

fn profile_by_id<'a>(w: &'a World, call: &Call<'_>) -> Result<&'a DeploymentProfile, ApiError> {
    w.tenant
        .deployment_profile(call.param(0))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))
}

pub fn profile(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    Ok(Reply::ok(profile_json(profile_by_id(w, call)?, call)))
}

pub fn profile_assignments(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let p = profile_by_id(w, call)?;
    Ok(Reply::ok(
        json!({ "value": assignments(&p.id, &p.assigned_group_ids) }),
    ))
}

/// The default ESP plus the fixture's, as `(json, assigned groups)`.
fn esps(w: &World, call: &Call<'_>) -> Vec<(Value, Vec<String>)> {
    let default_id = format!(
        "{}_DefaultWindows10EnrollmentCompletionPageConfiguration",
        w.tenant.tenant.id
    );
    let mut default = json!({
        "@odata.type": ESP_TYPE, "id": default_id, "displayName": "All users and all devices",
        "description": "This is the default enrollment status screen configuration applied with the lowest priority to all users and all devices regardless of group membership.",
        "priority": 0, "version": 1, "allowNonBlockingAppInstallation": false,
    });
    if call.beta() {
        default["deviceEnrollmentConfigurationType"] =
            json!("defaultWindows10EnrollmentCompletionPageConfiguration");
        default["showInstallationProgress"] = json!(false);
    }
    let mut out = vec![(
        default,
        vec!["acacacac-9df4-4c7d-9d50-4ef0226f57a9".to_string()],
    )];
    out.extend(
        w.tenant
            .enrollment_status_pages
            .iter()
            .map(|e| (esp_json(e, call), e.assigned_group_ids.clone())),
    );
    out
}

fn esp_json(e: &EnrollmentStatusPage, call: &Call<'_>) -> Value {
    let mut v = json!({
        "@odata.type": ESP_TYPE, "id": e.id, "displayName": e.display_name, "description": "",
        "priority": e.priority, "version": 1, "allowNonBlockingAppInstallation": e.allow_non_blocking_app_installation,
    });
    if call.beta() {
        v["deviceEnrollmentConfigurationType"] =
            json!("windows10EnrollmentCompletionPageConfiguration");
        v["showInstallationProgress"] = json!(e.show_installation_progress);
        v["installProgressTimeoutInMinutes"] = json!(e.install_progress_timeout_in_minutes);
        v["trackInstallProgressForAutopilotOnly"] =
            json!(e.track_install_progress_for_autopilot_only);
    }
    v
}

pub fn enrollment_configurations(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let expand = expands_assignments(call);
    let items = esps(w, call)
        .into_iter()
        .map(|(mut v, groups)| {
            if expand {
                let id = v["id"].as_str().unwrap_or("").to_string();
                v["assignments"] = json!(assignments(&id, &groups));
            }
            v
        })
        .collect();
    call.page(items, w.page_size)
}

fn esp_by_id(w: &World, call: &Call<'_>) -> Result<(Value, Vec<String>), ApiError> {
    esps(w, call)
        .into_iter()
        .find(|(v, _)| {
            v["id"]
                .as_str()
                .is_some_and(|id| id.eq_ignore_ascii_case(call.param(0)))
        })
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))
}

pub fn enrollment_configuration(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    Ok(Reply::ok(esp_by_id(w, call)?.0))
}

pub fn enrollment_assignments(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let (v, groups) = esp_by_id(w, call)?;
    Ok(Reply::ok(
        json!({ "value": assignments(v["id"].as_str().unwrap_or(""), &groups) }),
    ))
}

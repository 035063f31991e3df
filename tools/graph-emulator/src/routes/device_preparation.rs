//! Autopilot device preparation (v2) as Graph shows it (graph-behaviour §20): the policy among the
//! settings-catalog `configurationPolicies` (beta), its (user-group) assignments, the
//! enrollment-time device membership target with Microsoft's own validation, group owners
//! (service principals hidden on v1.0 `/owners`, the quirk), and service principals by `appId`.
//! Also what happens when such a device enrolls ([`enroll`], driven by the admin API).

use serde_json::{Value, json};

use super::Call;
use super::directory::{direct_groups, object_json};
use super::intune_filter::{clauses, text_matches};
use crate::demo::INTUNE_PROVISIONING_CLIENT_APP_ID;
use crate::fixture::{ConfigurationPolicy, EntraDevice, Group, ServicePrincipal};
use crate::query::{Filter, apply_select};
use crate::reply::{ApiError, Reply};
use crate::state::World;

/// The `templateFamily` of device preparation policies (graph-behaviour §20).
const DP_FAMILY: &str = "enrollmentConfiguration";

fn policy_json(p: &ConfigurationPolicy, with_assignments: bool) -> Value {
    let mut v = json!({
        "@odata.type": "#microsoft.graph.deviceManagementConfigurationPolicy",
        "id": p.id, "name": p.name, "description": p.description,
        "platforms": p.platforms, "technologies": p.technologies,
        "createdDateTime": "2026-01-05T09:00:00Z", "lastModifiedDateTime": "2026-01-05T09:00:00Z",
        "settingCount": if p.template_family == DP_FAMILY { 6 } else { 1 },
        "creationSource": null, "roleScopeTagIds": ["0"],
        "isAssigned": !p.assigned_group_ids.is_empty(),
        "priorityMetaData": null,
        "templateReference": {
            "templateId": p.template_id,
            "templateFamily": p.template_family,
            // Our wording: the reference gives no display name or version.
            "templateDisplayName": template_display_name(&p.template_id),
            "templateDisplayVersion": if p.template_id.is_empty() { Value::Null } else { json!("Version 1") },
        },
    });
    if with_assignments {
        v["assignments"] = json!(assignments(p));
    }
    v
}

fn template_display_name(id: &str) -> Value {
    match id {
        crate::demo::DP_TEMPLATE_USER_DRIVEN => json!("Windows Autopilot device preparation"),
        crate::demo::DP_TEMPLATE_AUTOMATIC => {
            json!("Windows Autopilot device preparation - automatic")
        }
        _ => Value::Null,
    }
}

/// The policy's group assignments. graph-behaviour §20 marks this path UNVERIFIED for the template; we serve
/// the shape every Intune assignment has (graph-behaviour §10).
fn assignments(p: &ConfigurationPolicy) -> Vec<Value> {
    p.assigned_group_ids
        .iter()
        .map(|g| super::config::assignment(&p.id, g))
        .collect()
}

fn expands_assignments(call: &Call<'_>) -> bool {
    call.query.get("$expand").is_some_and(|e| {
        e.split(',')
            .any(|x| x.trim().eq_ignore_ascii_case("assignments"))
    })
}

/// Whether `p` passes one filter clause; `Err` for a property or operator we do not model.
fn policy_matches(
    p: &ConfigurationPolicy,
    c: &super::intune_filter::Clause,
) -> Result<bool, ApiError> {
    let actual = match c.field.to_ascii_lowercase().as_str() {
        "technologies" => &p.technologies,
        "platforms" => &p.platforms,
        "name" => &p.name,
        "templatereference/templateid" => &p.template_id,
        "templatereference/templatefamily" => &p.template_family,
        _ => {
            return Err(ApiError::bad(format!(
                "Filtering on '{}' is not supported.",
                c.field
            )));
        }
    };
    text_matches(&c.op, actual, &c.value)
        .ok_or_else(|| ApiError::bad(format!("Operator '{}' is not supported here.", c.op)))
}

/// `GET /beta/deviceManagement/configurationPolicies`, with `$filter` (`technologies has
/// 'enrollment'` and the longer filter graph-behaviour §20 quotes), `$expand=assignments`, paging.
pub fn list(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let filter = call.query.get("$filter").map(clauses).transpose()?;
    let mut items = Vec::new();
    for p in &w.tenant.configuration_policies {
        let mut keep = true;
        for c in filter.iter().flatten() {
            keep &= policy_matches(p, c)?;
        }
        if keep {
            items.push(policy_json(p, expands_assignments(call)));
        }
    }
    call.page(items, w.page_size)
}

fn policy_index(w: &World, call: &Call<'_>) -> Result<usize, ApiError> {
    w.tenant
        .configuration_policies
        .iter()
        .position(|p| p.id.eq_ignore_ascii_case(call.param(0)))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))
}

pub fn get(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = policy_index(w, call)?;
    Ok(Reply::ok(policy_json(
        &w.tenant.configuration_policies[i],
        expands_assignments(call),
    )))
}

pub fn policy_assignments(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = policy_index(w, call)?;
    Ok(Reply::ok(
        json!({ "value": assignments(&w.tenant.configuration_policies[i]) }),
    ))
}

/// Microsoft's validation of one device-group target (graph-behaviour §20's `targetValidationErrorCode`).
/// Role-assignable groups have no code of their own in the enum: not flagged (our choice).
pub(crate) fn validate_target(w: &World, group_id: &str) -> &'static str {
    let Some(g) = w.tenant.group(group_id) else {
        return "securityGroupNotFound";
    };
    if !g.security_enabled || g.is_unified() {
        "notSecurityGroup"
    } else if g.is_dynamic() {
        "notStaticSecurityGroup"
    } else if !owned_by_provisioning_client(w, g) {
        "firstPartyAppNotAnOwner"
    } else {
        "unknown"
    }
}

fn owned_by_provisioning_client(w: &World, g: &Group) -> bool {
    g.owners.iter().any(|o| {
        sp_by_id(w, o).is_some_and(|sp| {
            sp.app_id
                .eq_ignore_ascii_case(INTUNE_PROVISIONING_CLIENT_APP_ID)
        })
    })
}

/// `enrollmentTimeDeviceMembershipTargetResult` for `targets`. With no target at all the overall
/// Boolean is true and the list empty (nothing failed) — our choice; a client must check the list.
fn membership_result(w: &World, targets: &[String]) -> Value {
    let statuses: Vec<Value> = targets
        .iter()
        .map(|t| {
            let code = validate_target(w, t);
            json!({ "targetId": t, "validationSucceeded": code == "unknown", "targetValidationErrorCode": code })
        })
        .collect();
    let ok = statuses.iter().all(|s| s["validationSucceeded"] == true);
    json!({ "value": {
        "@odata.type": "microsoft.graph.enrollmentTimeDeviceMembershipTargetResult",
        "validationSucceeded": ok,
        "enrollmentTimeDeviceMembershipTargetValidationStatuses": statuses,
    }})
}

fn device_preparation_index(w: &World, call: &Call<'_>) -> Result<usize, ApiError> {
    let i = policy_index(w, call)?;
    if w.tenant.configuration_policies[i].template_family != DP_FAMILY {
        // Our choice: the action exists only on enrollment-time (device preparation) policies.
        return Err(ApiError::bad(
            "The policy does not support an enrollment time device membership target.",
        ));
    }
    Ok(i)
}

/// `POST …/configurationPolicies/{id}/retrieveEnrollmentTimeDeviceMembershipTarget` (graph-behaviour §20).
pub fn retrieve_target(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = device_preparation_index(w, call)?;
    let targets = w.tenant.configuration_policies[i]
        .enrollment_time_device_membership_targets
        .clone();
    Ok(Reply::ok(membership_result(w, &targets)))
}

/// `POST …/setEnrollmentTimeDeviceMembershipTarget` (graph-behaviour §20): 500 for an application token, as
/// third parties report; with a delegated token, the targets are replaced if they all validate
/// (our choice), and the answer is the validation result either way.
pub fn set_target(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = device_preparation_index(w, call)?;
    if !call.delegated {
        return Err(ApiError::Internal(
            "An internal server error has occurred.".into(),
        ));
    }
    let targets: Vec<String> = call
        .body()?
        .get("enrollmentTimeDeviceMembershipTargets")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad("'enrollmentTimeDeviceMembershipTargets' is required."))?
        .iter()
        .map(|t| {
            let ty = t.get("targetType").and_then(Value::as_str).unwrap_or("");
            match t.get("targetId").and_then(Value::as_str) {
                Some(id) if ty == "staticSecurityGroup" => Ok(id.to_string()),
                _ => Err(ApiError::bad(
                    "Each target needs targetType 'staticSecurityGroup' and a targetId.",
                )),
            }
        })
        .collect::<Result<_, _>>()?;
    let result = membership_result(w, &targets);
    let changed = result["value"]["validationSucceeded"] == true;
    if changed {
        w.tenant.configuration_policies[i].enrollment_time_device_membership_targets = targets;
    }
    let reply = Reply::ok(result);
    Ok(if changed { reply.changed() } else { reply })
}

// --- service principals and group owners ---

fn sp_by_id<'a>(w: &'a World, id: &str) -> Option<&'a ServicePrincipal> {
    w.tenant
        .service_principals
        .iter()
        .find(|s| s.id.eq_ignore_ascii_case(id))
}

pub(crate) fn sp_json(sp: &ServicePrincipal) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.servicePrincipal",
        "id": sp.id, "appId": sp.app_id, "displayName": sp.display_name, "appDisplayName": sp.display_name,
        "accountEnabled": true, "servicePrincipalType": "Application",
        "appOwnerOrganizationId": sp.app_owner_organization_id,
        "servicePrincipalNames": [sp.app_id],
    })
}

fn project(v: Value, call: &Call<'_>) -> Value {
    match call.query.select() {
        Some(sel) => apply_select(v, &sel),
        None => v,
    }
}

/// `GET /servicePrincipals` with `$filter=appId eq '…'` (or `displayName eq`/`startsWith`).
pub fn list_service_principals(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let filter = call.query.filter()?;
    let mut items = Vec::new();
    for sp in &w.tenant.service_principals {
        let keep = match &filter {
            None => true,
            Some(Filter::Eq(f, v)) if f.eq_ignore_ascii_case("appId") => {
                sp.app_id.eq_ignore_ascii_case(v)
            }
            Some(Filter::Eq(f, v)) if f.eq_ignore_ascii_case("displayName") => {
                sp.display_name.eq_ignore_ascii_case(v)
            }
            Some(Filter::StartsWith(f, v)) if f.eq_ignore_ascii_case("displayName") => sp
                .display_name
                .to_lowercase()
                .starts_with(&v.to_lowercase()),
            Some(Filter::Eq(f, _) | Filter::StartsWith(f, _) | Filter::Contains(f, _)) => {
                return Err(ApiError::BadRequestCode {
                    code: "Request_UnsupportedQuery",
                    message: format!(
                        "Unsupported or invalid query filter clause specified for property '{f}' of resource 'ServicePrincipal'."
                    ),
                });
            }
        };
        if keep {
            items.push(project(sp_json(sp), call));
        }
    }
    call.page(items, w.page_size)
}

pub fn get_service_principal(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let sp =
        sp_by_id(w, call.param(0)).ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))?;
    Ok(Reply::ok(project(sp_json(sp), call)))
}

/// `GET /servicePrincipals(appId='…')` (graph-behaviour §20): 200 or 404.
pub fn get_service_principal_by_app_id(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let sp = w
        .tenant
        .service_principals
        .iter()
        .find(|s| s.app_id.eq_ignore_ascii_case(call.param(0)))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))?;
    Ok(Reply::ok(project(sp_json(sp), call)))
}

/// A group's owners as directory objects. graph-behaviour §20's quirk: `v1.0 …/owners` leaves service
/// principals out (`with_service_principals = false`); beta and v1.0 `$expand=owners` show them.
pub(crate) fn owners_json(
    w: &World,
    g: &Group,
    call: &Call<'_>,
    with_service_principals: bool,
) -> Vec<Value> {
    g.owners
        .iter()
        .filter_map(|id| match sp_by_id(w, id) {
            Some(sp) => with_service_principals.then(|| sp_json(sp)),
            None => object_json(w, id, call),
        })
        .map(|v| project(v, call))
        .collect()
}

/// `GET /groups/{id}/owners`.
pub fn group_owners(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let g = w
        .tenant
        .group(call.param(0))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))?;
    let items = owners_json(w, g, call, call.beta());
    call.page(items, w.page_size)
}

// --- enrollment (admin API) ---

/// What a device preparation enrollment did (`POST /_emulator/enrollments`).
pub(crate) enum Enrollment {
    /// The serial is a registered Autopilot device: its profile wins and the classic Autopilot
    /// deployment runs instead (graph-behaviour §20, precedence). Nothing joins the device group.
    ClassicAutopilot,
    /// The device joined the policy's device group(s).
    DevicePreparation {
        policy_id: String,
        object_id: String,
        device_id: String,
        group_ids: Vec<String>,
    },
}

/// A device with `serial`, signed in by `upn`, enrolls: the device preparation policy assigned to a
/// (direct) group of the user applies, its Entra device is created (or reused) and joins the
/// policy's device group — which only Intune may write (graph-behaviour §20). `Err` says why it cannot.
pub(crate) fn enroll(w: &mut World, serial: &str, upn: &str) -> Result<Enrollment, String> {
    if w.tenant
        .autopilot_devices
        .iter()
        .any(|d| d.serial_number.eq_ignore_ascii_case(serial))
    {
        return Ok(Enrollment::ClassicAutopilot);
    }
    let user = w
        .tenant
        .users
        .iter()
        .find(|u| u.visible_at.is_none() && u.user_principal_name.eq_ignore_ascii_case(upn))
        .ok_or_else(|| format!("no user '{upn}'"))?;
    let user_groups: Vec<String> = direct_groups(w, &user.id)
        .iter()
        .map(|g| g.id.to_ascii_lowercase())
        .collect();
    let policy = w
        .tenant
        .configuration_policies
        .iter()
        .find(|p| {
            p.template_family == DP_FAMILY
                && p.assigned_group_ids
                    .iter()
                    .any(|g| user_groups.contains(&g.to_ascii_lowercase()))
        })
        .ok_or_else(|| format!("no device preparation policy is assigned to a group of '{upn}'"))?
        .clone();
    if policy.enrollment_time_device_membership_targets.is_empty() {
        return Err(format!("policy '{}' has no device group", policy.id));
    }
    for t in &policy.enrollment_time_device_membership_targets {
        let code = validate_target(w, t);
        if code != "unknown" {
            return Err(format!("device group '{t}': {code}"));
        }
    }
    let existing = w
        .tenant
        .entra_devices
        .iter()
        .find(|d| d.visible_at.is_none() && d.display_name.eq_ignore_ascii_case(serial))
        .map(|d| (d.id.clone(), d.device_id.clone()));
    let (object_id, device_id) = match existing {
        Some(ids) => ids,
        None => {
            let (object_id, device_id) = (w.new_id(), w.new_id());
            w.tenant.entra_devices.push(EntraDevice {
                id: object_id.clone(),
                device_id: device_id.clone(),
                display_name: serial.to_string(),
                operating_system: "Windows".into(),
                account_enabled: true,
                trust_type: Some("AzureAd".into()),
                ..Default::default()
            });
            (object_id, device_id)
        }
    };
    for t in &policy.enrollment_time_device_membership_targets {
        if let Some(g) = w.tenant.group_mut(t)
            && !g.members.iter().any(|m| m.eq_ignore_ascii_case(&object_id))
        {
            g.members.push(object_id.clone());
        }
    }
    Ok(Enrollment::DevicePreparation {
        policy_id: policy.id,
        object_id,
        device_id,
        group_ids: policy.enrollment_time_device_membership_targets,
    })
}

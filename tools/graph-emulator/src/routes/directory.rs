//! Directory objects across kinds (graph-behaviour §3, §8): which object an id names, direct and dynamic
//! membership, transitive `checkMemberGroups`, `memberOf`, and the Entra device reads
//! (`/devices?$filter=deviceId eq`, `/devices(deviceId='…')`).

use std::collections::HashSet;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{Value, json};

use super::{Call, users};
use crate::fixture::{EntraDevice, Group};
use crate::query::{Filter, apply_select};
use crate::reply::{ApiError, Reply};
use crate::state::World;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ObjectKind {
    User,
    Group,
    Device,
}

/// The kind of a visible directory object, by object id.
pub fn kind_of(w: &World, id: &str) -> Option<ObjectKind> {
    if w.tenant
        .users
        .iter()
        .any(|u| u.visible_at.is_none() && u.id.eq_ignore_ascii_case(id))
    {
        Some(ObjectKind::User)
    } else if w
        .tenant
        .groups
        .iter()
        .any(|g| g.id.eq_ignore_ascii_case(id))
    {
        Some(ObjectKind::Group)
    } else if device_by_object_id(w, id).is_some() {
        Some(ObjectKind::Device)
    } else {
        None
    }
}

pub fn device_by_object_id<'a>(w: &'a World, id: &str) -> Option<&'a EntraDevice> {
    w.tenant
        .entra_devices
        .iter()
        .find(|d| d.visible_at.is_none() && d.id.eq_ignore_ascii_case(id))
}

pub fn device_json(d: &EntraDevice) -> Value {
    json!({
        "id": d.id, "deviceId": d.device_id, "displayName": d.display_name,
        "operatingSystem": d.operating_system, "operatingSystemVersion": d.operating_system_version,
        "accountEnabled": d.account_enabled, "physicalIds": d.physical_ids, "trustType": d.trust_type,
    })
}

pub fn group_json(g: &Group) -> Value {
    json!({
        "id": g.id, "displayName": g.display_name, "description": g.description,
        "mailEnabled": g.mail_enabled, "mailNickname": g.mail_nickname, "securityEnabled": g.security_enabled,
        "groupTypes": g.group_types, "membershipRule": g.membership_rule, "isAssignableToRole": g.is_assignable_to_role,
        "membershipRuleProcessingState": if g.is_dynamic() { Some("On") } else { None },
    })
}

/// A member as `/members` and `/memberOf` list it: with its `@odata.type`.
pub fn object_json(w: &World, id: &str, call: &Call<'_>) -> Option<Value> {
    let (mut v, ty) = match kind_of(w, id)? {
        ObjectKind::User => (
            users::project(users::find(w, id)?, call),
            "#microsoft.graph.user",
        ),
        ObjectKind::Group => (
            group_json(
                w.tenant
                    .groups
                    .iter()
                    .find(|g| g.id.eq_ignore_ascii_case(id))?,
            ),
            "#microsoft.graph.group",
        ),
        ObjectKind::Device => (
            device_json(device_by_object_id(w, id)?),
            "#microsoft.graph.device",
        ),
    };
    v["@odata.type"] = json!(ty);
    Some(v)
}

/// A group's direct members: stored for static groups, evaluated from the rule for dynamic ones.
pub fn members_of(w: &World, g: &Group) -> Vec<String> {
    if !g.is_dynamic() {
        return g
            .members
            .iter()
            .filter(|m| kind_of(w, m).is_some())
            .cloned()
            .collect();
    }
    let Some(rule) = g.membership_rule.as_deref() else {
        return Vec::new();
    };
    let devices = w
        .tenant
        .entra_devices
        .iter()
        .filter(|d| d.visible_at.is_none() && device_rule_matches(rule, d))
        .map(|d| d.id.clone());
    let users = w
        .tenant
        .users
        .iter()
        .filter(|u| u.visible_at.is_none() && user_rule_matches(rule, u))
        .map(|u| u.id.clone());
    devices.chain(users).collect()
}

static DEVICE_RULE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)device\.devicePhysicalIds\s+-any\s+\(_\s+-(contains|eq)\s+"([^"]*)"\)"#)
        .expect("valid regex")
});
static USER_RULE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?i)user\.(department|employeeId|jobTitle)\s+-eq\s+"([^"]*)""#)
        .expect("valid regex")
});

/// graph-behaviour §8's Autopilot rules: `-any (_ -contains "[ZTDID]")`, `-any (_ -eq "[OrderID]:tag")`.
/// Values compare case-sensitively (third-party notes; the reference marks it unverified).
fn device_rule_matches(rule: &str, d: &EntraDevice) -> bool {
    DEVICE_RULE.captures(rule).is_some_and(|c| {
        let (op, val) = (&c[1], &c[2]);
        d.physical_ids.iter().any(|p| {
            if op.eq_ignore_ascii_case("eq") {
                p == val
            } else {
                p.contains(val)
            }
        })
    })
}

fn user_rule_matches(rule: &str, u: &crate::fixture::User) -> bool {
    USER_RULE.captures(rule).is_some_and(|c| {
        let actual = match c[1].to_ascii_lowercase().as_str() {
            "department" => u.department.as_deref(),
            "employeeid" => u.employee_id.as_deref(),
            _ => u.job_title.as_deref(),
        };
        actual.is_some_and(|a| a.eq_ignore_ascii_case(&c[2]))
    })
}

/// Groups an object is a direct member of.
pub fn direct_groups<'a>(w: &'a World, id: &str) -> Vec<&'a Group> {
    w.tenant
        .groups
        .iter()
        .filter(|g| members_of(w, g).iter().any(|m| m.eq_ignore_ascii_case(id)))
        .collect()
}

/// Every group `id` belongs to, nested groups included (lower-case ids). Also what decides the
/// authentication-methods policy's targets: whether that policy honours nesting is not in the
/// reference; we assume it does, as Conditional Access does.
pub(crate) fn transitive_groups(w: &World, id: &str) -> HashSet<String> {
    let mut seen = HashSet::new();
    let mut todo = vec![id.to_string()];
    while let Some(next) = todo.pop() {
        for g in direct_groups(w, &next) {
            if seen.insert(g.id.to_ascii_lowercase()) {
                todo.push(g.id.clone());
            }
        }
    }
    seen
}

/// `POST /{users|groups|devices|directoryObjects}/{id}/checkMemberGroups` (graph-behaviour §3): transitive.
pub fn check_member_groups(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let id = resolve_subject(w, call)?;
    let ids: Vec<String> = call
        .body()?
        .get("groupIds")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad("Invalid request: 'groupIds' is required."))?
        .iter()
        .filter_map(Value::as_str)
        .map(str::to_string)
        .collect();
    if ids.len() > 20 {
        return Err(ApiError::bad(
            "The number of groupIds exceeds the limit of 20.",
        ));
    }
    let groups = transitive_groups(w, &id);
    let hits: Vec<String> = ids
        .into_iter()
        .filter(|g| groups.contains(&g.to_ascii_lowercase()))
        .collect();
    Ok(Reply::ok(json!({ "value": hits })))
}

/// The object id behind `/{kind}/{id}` (users may be addressed by UPN).
fn resolve_subject(w: &World, call: &Call<'_>) -> Result<String, ApiError> {
    let key = call.param(0);
    let not_found = || ApiError::NotFound(call.raw_param(0).into());
    let kind = call.template.split('/').nth(1).unwrap_or("");
    let id = match kind {
        "users" => users::find(w, key).map(|u| u.id.clone()),
        "devices" => device_by_object_id(w, key).map(|d| d.id.clone()),
        "groups" => w
            .tenant
            .groups
            .iter()
            .find(|g| g.id.eq_ignore_ascii_case(key))
            .map(|g| g.id.clone()),
        _ => kind_of(w, key).map(|_| key.to_string()),
    };
    id.ok_or_else(not_found)
}

pub fn user_member_of(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let id = resolve_subject(w, call)?;
    let items = direct_groups(w, &id)
        .into_iter()
        .map(|g| with_type(group_json(g), "#microsoft.graph.group"))
        .collect();
    call.page(items, w.page_size)
}

/// `GET /users/{id}/memberOf/{groupId}`: the group if a direct member, else 404.
pub fn user_member_of_one(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let id = resolve_subject(w, call)?;
    let gid = call.param(1);
    let g = direct_groups(w, &id)
        .into_iter()
        .find(|g| g.id.eq_ignore_ascii_case(gid))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(1).into()))?;
    Ok(Reply::ok(with_type(
        group_json(g),
        "#microsoft.graph.group",
    )))
}

pub fn device_member_of(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    user_member_of(w, call)
}

fn with_type(mut v: Value, ty: &str) -> Value {
    v["@odata.type"] = json!(ty);
    v
}

fn project_device(d: &EntraDevice, call: &Call<'_>) -> Value {
    match call.query.select() {
        Some(sel) => apply_select(device_json(d), &sel),
        None => device_json(d),
    }
}

pub fn list_devices(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let filter = call.query.filter()?;
    let unsupported = |f: &str| ApiError::BadRequestCode {
        code: "Request_UnsupportedQuery",
        message: format!(
            "Unsupported or invalid query filter clause specified for property '{f}' of resource 'Device'."
        ),
    };
    let mut items = Vec::new();
    for d in w
        .tenant
        .entra_devices
        .iter()
        .filter(|d| d.visible_at.is_none())
    {
        let keep = match &filter {
            None => true,
            Some(Filter::Eq(f, v)) if f == "deviceId" => d.device_id.eq_ignore_ascii_case(v),
            Some(Filter::Eq(f, v)) if f == "displayName" => d.display_name.eq_ignore_ascii_case(v),
            Some(Filter::StartsWith(f, v)) if f == "displayName" => {
                d.display_name.to_lowercase().starts_with(&v.to_lowercase())
            }
            Some(Filter::Eq(f, _) | Filter::StartsWith(f, _) | Filter::Contains(f, _)) => {
                return Err(unsupported(f));
            }
        };
        if keep {
            items.push(project_device(d, call));
        }
    }
    call.page(items, w.page_size)
}

pub fn get_device(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let d = device_by_object_id(w, call.param(0))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))?;
    Ok(Reply::ok(project_device(d, call)))
}

/// `GET /devices(deviceId='…')` — the alternate key (graph-behaviour §8).
pub fn get_device_by_device_id(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let key = call.param(0);
    let d = w
        .tenant
        .entra_devices
        .iter()
        .find(|d| d.visible_at.is_none() && d.device_id.eq_ignore_ascii_case(key))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))?;
    Ok(Reply::ok(project_device(d, call)))
}

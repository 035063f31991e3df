//! Groups and membership writes (graph-behaviour §3): `POST members/$ref` with the exact "already exist" 400,
//! 404 for a missing object, devices only in security groups (and only with
//! Device.ReadWrite.All), `PATCH` with `members@odata.bind` (≤ 20, all or nothing), removal,
//! direct-membership reads, and `POST /groups` for tests.

use std::time::Instant;

use serde_json::{Map, Value};

use super::Call;
use super::directory::{self, ObjectKind, group_json, members_of, object_json};
use crate::fixture::Group;
use crate::permissions::{DEVICE_WRITE, satisfied};
use crate::query::Filter;
use crate::reply::{ApiError, Reply};
use crate::state::World;

/// graph-behaviour §3, verbatim: clients match this to treat a duplicate add as success.
pub const ALREADY_EXISTS: &str = "One or more added object references already exist for the following modified properties: 'members'.";
const MAX_BIND: usize = 20;

fn group_index(w: &World, call: &Call<'_>) -> Result<usize, ApiError> {
    let id = call.param(0);
    w.tenant
        .groups
        .iter()
        .position(|g| g.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))
}

pub fn get(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = group_index(w, call)?;
    let mut v = group_json(&w.tenant.groups[i]);
    if call.query.get("$expand").is_some_and(|e| {
        e.split(',')
            .any(|x| x.trim().eq_ignore_ascii_case("owners"))
    }) {
        // graph-behaviour §20: `$expand=owners` shows service principals on v1.0 too.
        let owners = super::device_preparation::owners_json(w, &w.tenant.groups[i], call, true);
        v["owners"] = Value::Array(owners);
    }
    Ok(Reply::ok(v))
}

pub fn list(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let filter = call.query.filter()?;
    let items = w
        .tenant
        .groups
        .iter()
        .filter(|g| match &filter {
            Some(Filter::Eq(f, v)) if f == "displayName" => g.display_name.eq_ignore_ascii_case(v),
            Some(Filter::StartsWith(f, v)) if f == "displayName" => {
                g.display_name.to_lowercase().starts_with(&v.to_lowercase())
            }
            Some(_) => false,
            None => true,
        })
        .map(group_json)
        .collect();
    call.page(items, w.page_size)
}

pub fn create(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let b = call.body()?;
    let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
    let flag = |k: &str| b.get(k).and_then(Value::as_bool);
    let (Some(display_name), Some(nick), Some(mail_enabled), Some(security_enabled)) = (
        text("displayName"),
        text("mailNickname"),
        flag("mailEnabled"),
        flag("securityEnabled"),
    ) else {
        return Err(ApiError::bad(
            "displayName, mailNickname, mailEnabled and securityEnabled are required.",
        ));
    };
    let group_types: Vec<String> = b
        .get("groupTypes")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default();
    let group = Group {
        id: w.new_id(),
        display_name,
        description: text("description"),
        mail_nickname: Some(nick),
        security_enabled,
        mail_enabled,
        group_types,
        membership_rule: text("membershipRule"),
        is_assignable_to_role: b
            .get("isAssignableToRole")
            .and_then(Value::as_bool)
            .unwrap_or(false),
        members: Vec::new(),
        owners: Vec::new(),
        replicated_at: (w.timings.group_replication_secs > 0.0)
            .then(|| call.now + w.speed.scaled_secs(w.timings.group_replication_secs)),
    };
    let body = group_json(&group);
    w.tenant.groups.push(group);
    Ok(Reply::created(body))
}

/// Why `member` cannot be added to `group` right now, if it cannot.
fn check_addable(w: &World, group: &Group, member: &str, roles: &[String]) -> Result<(), ApiError> {
    if group.replicated_at.is_some_and(|t| Instant::now() < t) {
        return Err(ApiError::bad(
            "The source resource object or one of the objects being referenced do not exist.",
        ));
    }
    if group.is_dynamic() {
        return Err(ApiError::bad(
            "Insufficient privileges to complete the operation. Members of a group with dynamic membership cannot be changed.",
        ));
    }
    if group.is_assignable_to_role && !satisfied(&[&["RoleManagement.ReadWrite.Directory"]], roles)
    {
        return Err(ApiError::Forbidden);
    }
    match directory::kind_of(w, member) {
        None => return Err(ApiError::NotFound(member.into())),
        Some(ObjectKind::Device) => {
            if !group.security_enabled || group.is_unified() {
                return Err(ApiError::bad(
                    "Devices can only be members of security groups.",
                ));
            }
            if !satisfied(&[DEVICE_WRITE], roles) {
                return Err(ApiError::Forbidden);
            }
        }
        Some(_) => {}
    }
    if group.members.iter().any(|m| m.eq_ignore_ascii_case(member)) {
        return Err(ApiError::bad(ALREADY_EXISTS));
    }
    Ok(())
}

/// The object id at the end of an `@odata.id` / `members@odata.bind` URL.
fn referenced_id(url: &str) -> Result<String, ApiError> {
    let last = url.trim_end_matches('/').rsplit('/').next().unwrap_or("");
    let id = last
        .trim_start_matches("directoryObjects('")
        .trim_end_matches("')");
    if id.is_empty() || !url.contains('/') {
        return Err(ApiError::bad(format!("Invalid object identifier '{url}'.")));
    }
    Ok(id.to_string())
}

pub fn add_member(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = group_index(w, call)?;
    let url = call
        .body()?
        .get("@odata.id")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad("Invalid object identifier ''."))?;
    let member = referenced_id(url)?;
    check_addable(w, &w.tenant.groups[i], &member, call.granted)?;
    w.tenant.groups[i].members.push(member);
    Ok(Reply::no_content().changed())
}

/// `PATCH /groups/{id}`: `members@odata.bind` (all or nothing) and simple property updates.
pub fn patch(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = group_index(w, call)?;
    let b = call.body()?;
    let props: Map<String, Value> = b
        .iter()
        .filter(|(k, _)| k.as_str() != "members@odata.bind")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    if !props.is_empty()
        && !satisfied(
            &[&["Group.ReadWrite.All", "Directory.ReadWrite.All"]],
            call.granted,
        )
    {
        return Err(ApiError::Forbidden);
    }
    let binds = match b.get("members@odata.bind") {
        None => Vec::new(),
        Some(v) => v
            .as_array()
            .ok_or_else(|| ApiError::bad("members@odata.bind must be an array."))?
            .clone(),
    };
    if binds.len() > MAX_BIND {
        return Err(ApiError::bad(format!(
            "The number of members to add exceeds the limit of {MAX_BIND}."
        )));
    }
    let mut new_members: Vec<String> = Vec::new();
    for url in &binds {
        let id = referenced_id(url.as_str().unwrap_or(""))?;
        check_addable(w, &w.tenant.groups[i], &id, call.granted)?;
        if new_members.iter().any(|m| m.eq_ignore_ascii_case(&id)) {
            return Err(ApiError::bad(ALREADY_EXISTS));
        }
        new_members.push(id);
    }
    let g = &mut w.tenant.groups[i];
    g.members.extend(new_members);
    if let Some(name) = props.get("displayName").and_then(Value::as_str) {
        g.display_name = name.to_string();
    }
    if let Some(d) = props.get("description").and_then(Value::as_str) {
        g.description = Some(d.to_string());
    }
    Ok(Reply::no_content().changed())
}

pub fn remove_member(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = group_index(w, call)?;
    let member = call.param(1);
    if w.tenant.groups[i].is_dynamic() {
        return Err(ApiError::bad(
            "Members of a group with dynamic membership cannot be changed.",
        ));
    }
    let members = &mut w.tenant.groups[i].members;
    let pos = members
        .iter()
        .position(|m| m.eq_ignore_ascii_case(member))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(1).into()))?;
    members.remove(pos);
    Ok(Reply::no_content().changed())
}

/// Direct members, paged.
pub fn members(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = group_index(w, call)?;
    let ids = members_of(w, &w.tenant.groups[i]);
    let items = ids
        .iter()
        .filter_map(|id| object_json(w, id, call))
        .collect();
    call.page(items, w.page_size)
}

/// `GET /groups/{id}/members/{memberId}`: 404 naming the *group* when not a direct member (graph-behaviour §3, observed).
pub fn member(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = group_index(w, call)?;
    let member = call.param(1);
    let is_member = members_of(w, &w.tenant.groups[i])
        .iter()
        .any(|m| m.eq_ignore_ascii_case(member));
    let obj = is_member.then(|| object_json(w, member, call)).flatten();
    obj.map(Reply::ok)
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))
}

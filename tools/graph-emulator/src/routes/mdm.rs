//! The MDM auto-enrollment policies (graph-behaviour §10, beta `mobilityManagementPolicy`): the list, and one
//! by id (Intune's is `0000000a-0000-0000-c000-000000000000`), each with `includedGroups` when
//! `$expand=includedGroups` asks for it. The MDM user scope is `appliesTo` (none|all|selected)
//! plus, for `selected`, those groups.
//!
//! Not for: deciding who may read them. The permission table refuses every application token
//! and wants a delegated `Policy.Read.All` (or `Policy.ReadWrite.MobilityManagement`) from a
//! user holding a reader role, as the reference says.

use serde_json::{Value, json};

use super::Call;
use super::directory::group_json;
use crate::fixture::MdmPolicy;
use crate::reply::{ApiError, Reply};
use crate::state::World;

const TYPE: &str = "microsoft.graph.mobilityManagementPolicy";

pub fn list(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let expand = expands_included_groups(call)?;
    let items = w
        .tenant
        .mobile_device_management_policies
        .iter()
        .map(|p| policy_json(w, p, expand))
        .collect();
    let mut reply = call.page(items, w.page_size)?;
    if let Some(body) = reply.body.as_mut() {
        body["@odata.context"] = json!(format!(
            "{}/{}/$metadata#policies/mobileDeviceManagementPolicies",
            call.base_url, call.version
        ));
    }
    Ok(reply)
}

pub fn get(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let expand = expands_included_groups(call)?;
    let policy = w
        .tenant
        .mobile_device_management_policies
        .iter()
        .find(|p| p.id.eq_ignore_ascii_case(call.param(0)))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))?;
    let mut body = policy_json(w, policy, expand);
    body["@odata.context"] = json!(format!(
        "{}/{}/$metadata#policies/mobileDeviceManagementPolicies/$entity",
        call.base_url, call.version
    ));
    Ok(Reply::ok(body))
}

/// The graph-behaviour §10 properties; `includedGroups` (the groups as `GET /groups/{id}` shows them, in the
/// policy's order, deleted ones left out) only when expanded, as Graph does with navigation
/// properties.
fn policy_json(w: &World, p: &MdmPolicy, expand: bool) -> Value {
    let mut v = json!({
        "id": p.id,
        "appliesTo": p.applies_to.as_str(),
        "complianceUrl": p.compliance_url,
        "description": p.description,
        "discoveryUrl": p.discovery_url,
        "displayName": p.display_name,
        "isValid": p.is_valid,
        "termsOfUseUrl": p.terms_of_use_url,
    });
    if expand {
        let groups: Vec<Value> = p
            .included_group_ids
            .iter()
            .filter_map(|id| {
                w.tenant
                    .groups
                    .iter()
                    .find(|g| g.id.eq_ignore_ascii_case(id))
            })
            .map(|g| {
                let mut g = group_json(g);
                g["@odata.type"] = json!("#microsoft.graph.group");
                g
            })
            .collect();
        v["includedGroups"] = json!(groups);
    }
    v
}

/// `$expand=includedGroups` (case-insensitive, options in parentheses ignored); any other
/// navigation property is Graph's 400.
fn expands_included_groups(call: &Call<'_>) -> Result<bool, ApiError> {
    let Some(expand) = call.query.get("$expand") else {
        return Ok(false);
    };
    let mut wanted = false;
    for item in expand.split(',') {
        let name = item.split('(').next().unwrap_or("").trim();
        if name.eq_ignore_ascii_case("includedGroups") {
            wanted = true;
        } else {
            return Err(ApiError::bad(format!(
                "Could not find a property named '{name}' on type '{TYPE}'."
            )));
        }
    }
    Ok(wanted)
}

//! The device registration policy (graph-behaviour §1): GET, and PUT with whole-object semantics — an omitted
//! `userDeviceQuota` resets to 0, `azureADRegistration` cannot change, the legacy shape is
//! refused, and there is no ETag (last writer wins). The MDM policy (graph-behaviour §10) is `mdm.rs`.

use serde_json::{Map, Value, json};

use super::Call;
use crate::fixture::DeviceRegistrationPolicy;
use crate::reply::{ApiError, Reply};
use crate::state::World;

const DESCRIPTION: &str = "Tenant-wide policy that manages intial provisioning controls using quota restrictions, additional authentication and authorization checks";
const MEMBERSHIP_TYPES: [&str; 3] = [
    "#microsoft.graph.allDeviceRegistrationMembership",
    "#microsoft.graph.noDeviceRegistrationMembership",
    "#microsoft.graph.enumeratedDeviceRegistrationMembership",
];
const LEGACY_FIELDS: [&str; 3] = ["appliesTo", "allowedUsers", "allowedGroups"];

fn policy_json(p: &DeviceRegistrationPolicy, call: &Call<'_>) -> Value {
    json!({
        "@odata.context": format!("{}/{}/$metadata#deviceRegistrationPolicy", call.base_url, call.version),
        "id": "deviceRegistrationPolicy",
        "displayName": "Device Registration Policy",
        "description": DESCRIPTION,
        "userDeviceQuota": p.user_device_quota,
        "multiFactorAuthConfiguration": p.multi_factor_auth_configuration,
        "azureADRegistration": p.azure_ad_registration,
        "azureADJoin": p.azure_ad_join,
        "localAdminPassword": p.local_admin_password,
    })
}

pub fn get(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    Ok(Reply::ok(policy_json(
        &w.tenant.device_registration_policy,
        call,
    )))
}

pub fn put(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let b = call.body()?;
    let next = replacement(&w.tenant.device_registration_policy, b)?;
    w.tenant.device_registration_policy = next;
    Ok(Reply::ok(policy_json(&w.tenant.device_registration_policy, call)).changed())
}

/// The policy a PUT of `b` produces: every updatable property from the body or its reset value.
fn replacement(
    current: &DeviceRegistrationPolicy,
    b: &Map<String, Value>,
) -> Result<DeviceRegistrationPolicy, ApiError> {
    if let Some(f) = LEGACY_FIELDS.iter().find(|f| b.contains_key(**f)) {
        return Err(ApiError::bad(format!(
            "Property '{f}' does not exist on type 'microsoft.graph.azureADJoinPolicy'."
        )));
    }
    let join = b
        .get("azureADJoin")
        .ok_or_else(|| ApiError::bad("The property 'azureADJoin' is required."))?;
    if join
        .get("allowedToJoin")
        .is_some_and(|m| !valid_membership(m))
    {
        return Err(ApiError::bad(
            "Invalid value for 'azureADJoin.allowedToJoin'.",
        ));
    }
    if let Some(reg) = b.get("azureADRegistration")
        && reg.get("allowedToRegister") != current.azure_ad_registration.get("allowedToRegister")
    {
        return Err(ApiError::bad(
            "azureADRegistration cannot be modified when Intune is enabled.",
        ));
    }
    // graph-behaviour §1: "If this property isn't specified during the policy update operation, it's automatically reset to 0".
    let quota = match b.get("userDeviceQuota") {
        None | Some(Value::Null) => 0,
        Some(v) => v
            .as_i64()
            .filter(|q| *q >= 0)
            .ok_or_else(|| ApiError::bad("Invalid value for 'userDeviceQuota'."))?,
    };
    let mfa = b
        .get("multiFactorAuthConfiguration")
        .and_then(Value::as_str)
        .unwrap_or("notRequired");
    if !["notRequired", "required"].contains(&mfa) {
        return Err(ApiError::bad(format!(
            "Invalid value '{mfa}' for 'multiFactorAuthConfiguration'."
        )));
    }
    let mut join = join.clone();
    if let Some(j) = join.as_object_mut() {
        // Read-only: whatever the client sends, the tenant's value stays.
        j.insert(
            "isAdminConfigurable".into(),
            current
                .azure_ad_join
                .get("isAdminConfigurable")
                .cloned()
                .unwrap_or(json!(true)),
        );
    }
    Ok(DeviceRegistrationPolicy {
        user_device_quota: quota,
        multi_factor_auth_configuration: mfa.to_string(),
        azure_ad_registration: current.azure_ad_registration.clone(),
        azure_ad_join: join,
        local_admin_password: b
            .get("localAdminPassword")
            .cloned()
            .unwrap_or_else(|| json!({ "isEnabled": false })),
    })
}

fn valid_membership(m: &Value) -> bool {
    let ty = m.get("@odata.type").and_then(Value::as_str).unwrap_or("");
    if !MEMBERSHIP_TYPES.contains(&ty) {
        return false;
    }
    let list_ok = |k: &str| {
        m.get(k)
            .is_none_or(|v| v.as_array().is_some_and(|a| a.iter().all(Value::is_string)))
    };
    list_ok("users") && list_ok("groups")
}

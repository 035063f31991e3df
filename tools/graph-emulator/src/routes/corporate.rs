//! Corporate device identifiers (graph-behaviour §9, beta): `importDeviceIdentityList`,
//! `searchExistingIdentities`, list, get, delete. Windows identifiers are
//! `manufacturer,model,serial`; a malformed one fails the whole request with Intune's 400.

use serde_json::{Map, Value, json};

use super::Call;
use crate::clock::now_rfc3339;
use crate::fixture::CorporateIdentifier;
use crate::reply::{ApiError, Reply};
use crate::state::World;

fn identity_json(c: &CorporateIdentifier) -> Value {
    json!({
        "@odata.type": "#microsoft.graph.importedDeviceIdentity",
        "id": c.id,
        "importedDeviceIdentifier": c.imported_device_identifier,
        "importedDeviceIdentityType": c.imported_device_identity_type,
        "lastModifiedDateTime": c.last_modified_date_time,
        "createdDateTime": c.created_date_time,
        "lastContactedDateTime": "0001-01-01T00:00:00Z",
        "description": c.description,
        "enrollmentState": "notContacted",
        "platform": "windows",
    })
}

fn valid_identifier(ty: &str, id: &str) -> bool {
    match ty {
        "manufacturerModelSerial" => {
            let parts: Vec<&str> = id.split(',').collect();
            // graph-behaviour §9: "Remove all periods … from the serial number".
            parts.len() == 3
                && parts.iter().all(|p| !p.trim().is_empty())
                && !parts[2].contains('.')
        }
        "serialNumber" => !id.trim().is_empty(),
        "imei" => id.len() == 15 && id.chars().all(|c| c.is_ascii_digit()),
        _ => false,
    }
}

/// Case rules are unverified (graph-behaviour §9); identifiers compare case-insensitively here.
fn same(c: &CorporateIdentifier, ty: &str, id: &str) -> bool {
    c.imported_device_identity_type == ty && c.imported_device_identifier.eq_ignore_ascii_case(id)
}

fn items(b: &Map<String, Value>) -> Result<Vec<(String, String, String)>, ApiError> {
    let list = b
        .get("importedDeviceIdentities")
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad("importedDeviceIdentities is required."))?;
    Ok(list
        .iter()
        .map(|i| {
            let s = |k: &str| i.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (
                s("importedDeviceIdentityType"),
                s("importedDeviceIdentifier"),
                s("description"),
            )
        })
        .collect())
}

pub fn import(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let b = call.body()?;
    let overwrite = b
        .get("overwriteImportedDeviceIdentities")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let list = items(b)?;
    let bad = list
        .iter()
        .filter(|(ty, id, _)| !valid_identifier(ty, id))
        .count();
    if bad > 0 {
        return Err(ApiError::bad(format!(
            "Invalid Device Identifier parameter found for {bad} import records!"
        )));
    }
    let now = now_rfc3339();
    let mut out = Vec::new();
    let mut changed = false;
    for (ty, id, description) in list {
        let existing = w
            .tenant
            .corporate_identifiers
            .iter()
            .position(|c| same(c, &ty, &id));
        let status = match existing {
            // An existing identifier is kept unless overwriting; `status: false` reports "not imported".
            Some(_) if !overwrite => false,
            Some(i) => {
                let c = &mut w.tenant.corporate_identifiers[i];
                c.last_modified_date_time = now.clone();
                c.description = description;
                true
            }
            None => {
                let c = CorporateIdentifier {
                    id: w.new_id(),
                    imported_device_identifier: id.clone(),
                    imported_device_identity_type: ty.clone(),
                    description,
                    created_date_time: now.clone(),
                    last_modified_date_time: now.clone(),
                };
                w.tenant.corporate_identifiers.push(c);
                true
            }
        };
        changed |= status;
        let c = w
            .tenant
            .corporate_identifiers
            .iter()
            .find(|c| same(c, &ty, &id))
            .cloned()
            .unwrap_or_default();
        let mut v = identity_json(&c);
        v["@odata.type"] = json!("#microsoft.graph.importedDeviceIdentityResult");
        v["status"] = json!(status);
        out.push(v);
    }
    let reply = Reply::ok(json!({ "value": out }));
    Ok(if changed { reply.changed() } else { reply })
}

pub fn search(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let list = items(call.body()?)?;
    let found: Vec<Value> = w
        .tenant
        .corporate_identifiers
        .iter()
        .filter(|c| list.iter().any(|(ty, id, _)| same(c, ty, id)))
        .map(identity_json)
        .collect();
    Ok(Reply::ok(json!({ "value": found })))
}

pub fn list(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let items = w
        .tenant
        .corporate_identifiers
        .iter()
        .map(identity_json)
        .collect();
    call.page(items, w.page_size)
}

fn index(w: &World, call: &Call<'_>) -> Result<usize, ApiError> {
    let id = call.param(0);
    w.tenant
        .corporate_identifiers
        .iter()
        .position(|c| c.id.eq_ignore_ascii_case(id))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))
}

pub fn get(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = index(w, call)?;
    Ok(Reply::ok(identity_json(&w.tenant.corporate_identifiers[i])))
}

pub fn delete(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let i = index(w, call)?;
    w.tenant.corporate_identifiers.remove(i);
    Ok(Reply::no_content().changed())
}

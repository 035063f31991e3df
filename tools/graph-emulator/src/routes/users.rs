//! Users (graph-behaviour §2): get by id or UPN, `$filter` on employeeId (and a few other properties) with
//! `$select`, the default property set, 404 while a user's provisioning lag lasts, and
//! `POST /users` so tests can build state through Graph itself.

use serde_json::{Value, json};

use super::Call;
use crate::fixture::User;
use crate::query::{Filter, apply_select};
use crate::reply::{ApiError, Reply};
use crate::state::World;

/// graph-behaviour §2: what `GET /users/{id}` returns without `$select`.
const DEFAULT_PROPS: [&str; 11] = [
    "businessPhones",
    "displayName",
    "givenName",
    "id",
    "jobTitle",
    "mail",
    "mobilePhone",
    "officeLocation",
    "preferredLanguage",
    "surname",
    "userPrincipalName",
];

/// A visible user by object id or UPN (case-insensitive, as Entra compares them).
pub(crate) fn find<'a>(w: &'a World, key: &str) -> Option<&'a User> {
    w.tenant.users.iter().find(|u| {
        u.visible_at.is_none()
            && (u.id.eq_ignore_ascii_case(key) || u.user_principal_name.eq_ignore_ascii_case(key))
    })
}

/// Every property the emulator knows, before projection.
fn full(u: &User) -> Value {
    json!({
        "id": u.id, "userPrincipalName": u.user_principal_name, "displayName": u.display_name,
        "givenName": u.given_name, "surname": u.surname, "mail": u.mail, "jobTitle": u.job_title,
        "businessPhones": [], "mobilePhone": null, "officeLocation": null, "preferredLanguage": null,
        "employeeId": u.employee_id, "department": u.department, "accountEnabled": u.account_enabled,
        "userType": u.user_type.clone().unwrap_or_else(|| "Member".into()),
    })
}

/// The user as Graph shows it: default properties, or exactly `$select`.
pub(crate) fn project(u: &User, call: &Call<'_>) -> Value {
    let select = call
        .query
        .select()
        .unwrap_or_else(|| DEFAULT_PROPS.iter().map(|s| s.to_string()).collect());
    apply_select(full(u), &select)
}

pub fn get(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let u = find(w, call.param(0)).ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))?;
    Ok(Reply::ok(project(u, call)))
}

pub fn list(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let filter = call.query.filter()?;
    let mut items = Vec::new();
    for u in w.tenant.users.iter().filter(|u| u.visible_at.is_none()) {
        if matches_filter(u, filter.as_ref())? {
            items.push(project(u, call));
        }
    }
    call.page(items, w.page_size)
}

fn matches_filter(u: &User, f: Option<&Filter>) -> Result<bool, ApiError> {
    let Some(f) = f else { return Ok(true) };
    let (field, value, starts) = match f {
        Filter::Eq(k, v) => (k, v, false),
        Filter::StartsWith(k, v) => (k, v, true),
        Filter::Contains(..) => {
            return Err(ApiError::BadRequestCode {
                code: "Request_UnsupportedQuery",
                message: "Unsupported Query.".into(),
            });
        }
    };
    let actual = match field.as_str() {
        "employeeId" => u.employee_id.clone(),
        "userPrincipalName" => Some(u.user_principal_name.clone()),
        "displayName" => Some(u.display_name.clone()),
        "mail" => u.mail.clone(),
        "department" => u.department.clone(),
        "id" => Some(u.id.clone()),
        other => {
            return Err(ApiError::BadRequestCode {
                code: "Request_UnsupportedQuery",
                message: format!(
                    "Unsupported or invalid query filter clause specified for property '{other}' of resource 'User'."
                ),
            });
        }
    };
    // Directory string comparisons are case-insensitive.
    Ok(actual.is_some_and(|a| {
        if starts {
            a.to_lowercase().starts_with(&value.to_lowercase())
        } else {
            a.eq_ignore_ascii_case(value)
        }
    }))
}

pub fn create(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let b = call.body()?;
    let text = |k: &str| b.get(k).and_then(Value::as_str).map(str::to_string);
    for required in ["displayName", "mailNickname", "userPrincipalName"] {
        if text(required).is_none() {
            return Err(ApiError::bad(format!(
                "Invalid value specified for property '{required}' of resource 'User'."
            )));
        }
    }
    if b.get("accountEnabled").and_then(Value::as_bool).is_none()
        || b.get("passwordProfile").is_none()
    {
        return Err(ApiError::bad(
            "Property 'accountEnabled' and 'passwordProfile' are required when creating the object.",
        ));
    }
    let upn = text("userPrincipalName").unwrap_or_default();
    let domain_ok = upn.rsplit_once('@').is_some_and(|(_, d)| {
        w.tenant
            .tenant
            .domains
            .iter()
            .any(|x| x.eq_ignore_ascii_case(d))
    });
    if !domain_ok {
        return Err(ApiError::bad(
            "The domain portion of the userPrincipalName property is invalid. You must use one of the verified domain names in your organization.",
        ));
    }
    if w.tenant
        .users
        .iter()
        .any(|u| u.user_principal_name.eq_ignore_ascii_case(&upn))
    {
        return Err(ApiError::bad(
            "Another object with the same value for property userPrincipalName already exists.",
        ));
    }
    let user = User {
        id: w.new_id(),
        user_principal_name: upn,
        display_name: text("displayName").unwrap_or_default(),
        given_name: text("givenName"),
        surname: text("surname"),
        mail: text("mail"),
        job_title: text("jobTitle"),
        employee_id: text("employeeId"),
        department: text("department"),
        account_enabled: b
            .get("accountEnabled")
            .and_then(Value::as_bool)
            .unwrap_or(true),
        ..Default::default()
    };
    let body = project(&user, call);
    w.tenant.users.push(user);
    Ok(Reply::created(body))
}

//! Entra's token endpoint (graph-behaviour §12): `POST /{tenant}/oauth2/v2.0/token` with client_credentials,
//! by client secret (form or HTTP Basic) or by `client_assertion` (workload identity
//! federation), with Entra's error shapes and AADSTS codes; the password grant for users of a
//! public client is `password_grant.rs`. Also the App Service managed-identity endpoint
//! (`GET /msi/token`, stack §3) for `ManagedIdentityCredential`.

use axum::extract::{Path, Query as AxQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::{Json, body::Bytes};
use base64::Engine;
use serde_json::{Value, json};
use std::collections::HashMap;

use crate::clock::{now_rfc3339, unix_now};
use crate::fixture::AppRegistration;
use crate::state::AppState;

pub(crate) const GRAPH_RESOURCES: [&str; 2] = [
    "https://graph.microsoft.com",
    "00000003-0000-0000-c000-000000000000",
];
const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// An Entra error: HTTP status, `error`, AADSTS number and description.
pub(crate) struct AadError(
    pub(crate) StatusCode,
    pub(crate) &'static str,
    pub(crate) u32,
    pub(crate) String,
);

/// A token the endpoint hands out, with the `scope` line delegated grants answer with.
pub(crate) struct Issued {
    pub access_token: String,
    pub scope: Option<String>,
}

impl AadError {
    fn into_response(self) -> Response {
        let AadError(status, error, code, text) = self;
        let trace = uuid::Uuid::new_v4();
        let ts = now_rfc3339().replace('T', " ");
        let body = json!({
            "error": error,
            "error_description": format!("AADSTS{code}: {text}\r\nTrace ID: {trace}\r\nCorrelation ID: {trace}\r\nTimestamp: {ts}"),
            "error_codes": [code],
            "timestamp": ts,
            "trace_id": trace.to_string(),
            "correlation_id": trace.to_string(),
            "error_uri": format!("https://login.microsoftonline.com/error?code={code}"),
        });
        (status, Json(body)).into_response()
    }
}

pub async fn token(
    State(state): State<AppState>,
    Path(tenant): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let form: HashMap<String, String> = url::form_urlencoded::parse(&body).into_owned().collect();
    let basic = basic_credentials(&headers);
    let client_id = form
        .get("client_id")
        .cloned()
        .or_else(|| basic.as_ref().map(|b| b.0.clone()));
    let result = issue(
        &state,
        &tenant,
        &form,
        client_id.as_deref(),
        basic.as_ref().map(|b| b.1.as_str()),
    );
    let status = match &result {
        Ok(_) => 200,
        Err(AadError(s, ..)) => s.as_u16(),
    };
    state.record_plain(
        "POST",
        &format!("/{tenant}/oauth2/v2.0/token"),
        "/{tenant}/oauth2/v2.0/token",
        client_id,
        status,
    );
    match result {
        Ok(issued) => {
            let lifetime = state.0.token_lifetime_secs;
            let mut body = json!({ "token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": issued.access_token });
            if let Some(scope) = issued.scope {
                body["scope"] = json!(scope);
            }
            Json(body).into_response()
        }
        Err(e) => e.into_response(),
    }
}

fn issue(
    state: &AppState,
    tenant: &str,
    form: &HashMap<String, String>,
    client_id: Option<&str>,
    basic_secret: Option<&str>,
) -> Result<Issued, AadError> {
    let w = state.world();
    let t = &w.tenant.tenant;
    if !t.id.eq_ignore_ascii_case(tenant)
        && !t.domains.iter().any(|d| d.eq_ignore_ascii_case(tenant))
    {
        return Err(AadError(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            90002,
            format!(
                "Tenant '{tenant}' not found. Check to make sure you have the correct tenant ID and are signing into the correct cloud."
            ),
        ));
    }
    let grant = form.get("grant_type").map(String::as_str);
    if !matches!(grant, Some("client_credentials" | "password")) {
        return Err(AadError(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            70003,
            "The app requested an unsupported grant type.".into(),
        ));
    }
    let client_id = client_id.ok_or_else(|| {
        AadError(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            900144,
            "The request body must contain the following parameter: 'client_id'.".into(),
        )
    })?;
    let app = w.tenant.apps.iter().find(|a| a.client_id.eq_ignore_ascii_case(client_id)).ok_or_else(|| {
        AadError(StatusCode::BAD_REQUEST, "unauthorized_client", 700016, format!("Application with identifier '{client_id}' was not found in the directory '{}'.", t.id))
    })?;
    let lifetime = state.0.token_lifetime_secs;
    if grant == Some("password") {
        if !app.public_client {
            // A confidential client must still prove who it is on a user's behalf.
            authenticate(app, form, basic_secret)?;
        }
        return crate::password_grant::issue(&w, &state.0.keys, app, form, lifetime);
    }
    authenticate(app, form, basic_secret)?;
    check_scope(form.get("scope").map(String::as_str).unwrap_or(""))?;
    Ok(Issued {
        access_token: state
            .0
            .keys
            .issue(&t.id, &app.client_id, &app.permissions, lifetime),
        scope: None,
    })
}

fn authenticate(
    app: &AppRegistration,
    form: &HashMap<String, String>,
    basic_secret: Option<&str>,
) -> Result<(), AadError> {
    let invalid = |code, text: &str| {
        AadError(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            code,
            text.to_string(),
        )
    };
    if let Some(secret) = form
        .get("client_secret")
        .map(String::as_str)
        .or(basic_secret)
    {
        return match &app.client_secret {
            Some(s) if s == secret && app.client_secret_expired => Err(invalid(
                7000222,
                &format!(
                    "The provided client secret keys for app '{}' are expired.",
                    app.client_id
                ),
            )),
            Some(s) if s == secret => Ok(()),
            _ => Err(invalid(
                7000215,
                &format!(
                    "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID, for a secret added to app '{}'.",
                    app.client_id
                ),
            )),
        };
    }
    let Some(assertion) = form.get("client_assertion") else {
        return Err(invalid(
            7000218,
            "The request body must contain the following parameter: 'client_assertion' or 'client_secret'.",
        ));
    };
    if form.get("client_assertion_type").map(String::as_str) != Some(JWT_BEARER) {
        return Err(AadError(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            700010,
            "Invalid client_assertion_type.".into(),
        ));
    }
    authenticate_assertion(app, assertion)
}

/// Workload identity federation: the assertion's issuer, subject and audience must match one of
/// the app's federated credentials, and it must not have expired.
fn authenticate_assertion(app: &AppRegistration, assertion: &str) -> Result<(), AadError> {
    let invalid = |code, text: &str| {
        AadError(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            code,
            text.to_string(),
        )
    };
    let claims = jwt_payload(assertion)
        .ok_or_else(|| invalid(50027, "JWT token is invalid or malformed."))?;
    if claims
        .get("exp")
        .and_then(Value::as_u64)
        .is_none_or(|exp| exp <= unix_now())
    {
        return Err(invalid(
            700024,
            "Client assertion is not within its valid time range.",
        ));
    }
    let s = |k: &str| {
        claims
            .get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    let auds: Vec<String> = match claims.get("aud") {
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_string)
            .collect(),
        Some(Value::String(a)) => vec![a.clone()],
        _ => Vec::new(),
    };
    let matched = app.federated_credentials.iter().any(|f| {
        f.issuer == s("iss")
            && f.subject == s("sub")
            && f.audiences.iter().any(|a| auds.contains(a))
    });
    if matched {
        Ok(())
    } else {
        Err(invalid(
            70021,
            "No matching federated identity record found for presented assertion.",
        ))
    }
}

/// The external IdP's signature is not checked: the emulator cannot reach its keys, and what
/// clients get wrong is the issuer/subject/audience, which is checked.
fn jwt_payload(jwt: &str) -> Option<serde_json::Map<String, Value>> {
    let payload = jwt.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    serde_json::from_slice(&bytes).ok()
}

fn check_scope(scope: &str) -> Result<(), AadError> {
    let scopes: Vec<&str> = scope.split_whitespace().collect();
    let ok = matches!(scopes.as_slice(), [one] if GRAPH_RESOURCES.iter().any(|r| *one == format!("{r}/.default")));
    if ok {
        return Ok(());
    }
    let text = format!(
        "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {scope} is not valid."
    );
    // graph-behaviour §12: several resources in one request is its own code.
    let code = if scopes.len() > 1 { 700022 } else { 70011 };
    Err(AadError(
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        code,
        text,
    ))
}

fn basic_credentials(headers: &HeaderMap) -> Option<(String, String)> {
    let value = headers
        .get("authorization")?
        .to_str()
        .ok()?
        .strip_prefix("Basic ")?;
    let decoded = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(value.trim())
            .ok()?,
    )
    .ok()?;
    let (id, secret) = decoded.split_once(':')?;
    let dec = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8_lossy()
            .into_owned()
    };
    Some((dec(id), dec(secret)))
}

/// App Service's managed-identity endpoint, as azure_identity calls it:
/// `GET {IDENTITY_ENDPOINT}?api-version=2019-08-01&resource=…[&client_id=…]` + `x-identity-header`.
pub async fn managed_identity(
    State(state): State<AppState>,
    headers: HeaderMap,
    AxQuery(q): AxQuery<HashMap<String, String>>,
) -> Response {
    let result = mi_token(&state, &headers, &q);
    let status = result
        .as_ref()
        .map(|_| 200)
        .unwrap_or_else(|(s, _)| s.as_u16());
    let app = result
        .as_ref()
        .ok()
        .and_then(|v| v["client_id"].as_str().map(str::to_string));
    state.record_plain("GET", "/msi/token", "/msi/token", app, status);
    match result {
        Ok(body) => Json(body).into_response(),
        Err((status, message)) => (
            status,
            Json(json!({ "statusCode": status.as_u16(), "message": message })),
        )
            .into_response(),
    }
}

fn mi_token(
    state: &AppState,
    headers: &HeaderMap,
    q: &HashMap<String, String>,
) -> Result<Value, (StatusCode, String)> {
    let w = state.world();
    let mi = w.tenant.managed_identity.as_ref().ok_or((
        StatusCode::NOT_FOUND,
        "No managed identity is configured in the fixture.".to_string(),
    ))?;
    let header = headers
        .get("x-identity-header")
        .and_then(|v| v.to_str().ok());
    if header != Some(mi.identity_header.as_str()) {
        return Err((
            StatusCode::UNAUTHORIZED,
            "The x-identity-header is missing or wrong.".into(),
        ));
    }
    if q.get("api-version").map(String::as_str) != Some("2019-08-01") {
        return Err((
            StatusCode::BAD_REQUEST,
            "api-version must be 2019-08-01.".into(),
        ));
    }
    let resource = q
        .get("resource")
        .map(|r| r.trim_end_matches('/'))
        .unwrap_or("");
    if !GRAPH_RESOURCES.contains(&resource) {
        return Err((
            StatusCode::BAD_REQUEST,
            format!("Resource '{resource}' is not Microsoft Graph."),
        ));
    }
    let client_id = q
        .get("client_id")
        .cloned()
        .unwrap_or_else(|| mi.client_id.clone());
    let app = w
        .tenant
        .apps
        .iter()
        .find(|a| a.client_id.eq_ignore_ascii_case(&client_id))
        .ok_or((
            StatusCode::BAD_REQUEST,
            format!("No identity with client_id '{client_id}'."),
        ))?;
    let lifetime = state.0.token_lifetime_secs;
    let token = state.0.keys.issue(
        &w.tenant.tenant.id,
        &app.client_id,
        &app.permissions,
        lifetime,
    );
    let expires_on = unix_now().saturating_add_signed(lifetime);
    // azure_identity requires `expires_on` as a string of epoch seconds (stack §3).
    Ok(
        json!({ "access_token": token, "expires_on": expires_on.to_string(), "resource": resource, "token_type": "Bearer", "client_id": app.client_id }),
    )
}

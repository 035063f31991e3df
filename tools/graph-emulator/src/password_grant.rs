//! The OAuth 2.0 resource owner password credentials grant (`grant_type=password`) on the token
//! endpoint: a user's name and password, sent by a public client such as the Azure CLI, for a
//! delegated token. Its `scp` is every delegated permission the tenant consented for that client
//! app (a `.default` request), or the named ones, each of which must be consented. Entra's
//! answers, all `400 invalid_grant`: wrong password AADSTS50126, unknown user AADSTS50034,
//! disabled account AADSTS50057, nothing (or not that) consented AADSTS65001.
//!
//! Not for: MFA, Conditional Access or federated users (real Entra refuses this grant for
//! them; the emulator's users have none of them), refresh tokens or id tokens (not issued).

use std::collections::HashMap;

use axum::http::StatusCode;

use crate::fixture::{AppRegistration, User};
use crate::jwt::{SignedInUser, TokenKeys};
use crate::state::World;
use crate::token::{AadError, GRAPH_RESOURCES, Issued};

/// OpenID Connect scopes: they ask for no API permission.
const OIDC_SCOPES: [&str; 4] = ["openid", "profile", "offline_access", "email"];
const GRAPH: &str = "https://graph.microsoft.com";

pub(crate) fn issue(
    w: &World,
    keys: &TokenKeys,
    app: &AppRegistration,
    form: &HashMap<String, String>,
    lifetime_secs: i64,
) -> Result<Issued, AadError> {
    if app.public_client
        && (form.contains_key("client_secret") || form.contains_key("client_assertion"))
    {
        return Err(AadError(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            700025,
            "Client is public so neither 'client_assertion' nor 'client_secret' should be presented.".into(),
        ));
    }
    let user = sign_in(w, form)?;
    let scopes = delegated_scopes(app, form.get("scope").map(String::as_str).unwrap_or(""))?;
    let signed_in = SignedInUser {
        oid: &user.id,
        upn: &user.user_principal_name,
        name: &user.display_name,
    };
    let tenant = &w.tenant.tenant.id;
    Ok(Issued {
        access_token: keys.issue_delegated(
            tenant,
            &app.client_id,
            &signed_in,
            &scopes,
            lifetime_secs,
        ),
        scope: Some(
            scopes
                .iter()
                .map(|s| format!("{GRAPH}/{s}"))
                .collect::<Vec<_>>()
                .join(" "),
        ),
    })
}

/// The user named by `username`, if `password` is theirs and the account may sign in.
fn sign_in<'w>(w: &'w World, form: &HashMap<String, String>) -> Result<&'w User, AadError> {
    let field = |name: &str| {
        form.get(name).ok_or_else(|| {
            AadError(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                900144,
                format!("The request body must contain the following parameter: '{name}'."),
            )
        })
    };
    let (username, password) = (field("username")?, field("password")?);
    let grant_error =
        |code, text: String| AadError(StatusCode::BAD_REQUEST, "invalid_grant", code, text);
    let user = w
        .tenant
        .users
        .iter()
        .find(|u| u.visible_at.is_none() && u.user_principal_name.eq_ignore_ascii_case(username))
        .ok_or_else(|| {
            grant_error(
                50034,
                format!(
                    "The user account {{EUII Hidden}} does not exist in the {} directory. To sign into this application, the account must be added to the directory.",
                    w.tenant.tenant.id
                ),
            )
        })?;
    if user.password.as_deref() != Some(password.as_str()) {
        return Err(grant_error(
            50126,
            "Error validating credentials due to invalid username or password.".into(),
        ));
    }
    if !user.account_enabled {
        return Err(grant_error(50057, "The user account is disabled.".into()));
    }
    Ok(user)
}

/// The `scp` for `requested`: every consented permission for Graph's `.default`, or the named
/// Graph permissions (`https://graph.microsoft.com/X` or a bare `X`, which means Graph), all of
/// which must be consented; the token then carries every consented one, as consent is
/// cumulative. OIDC scopes are dropped.
fn delegated_scopes(app: &AppRegistration, requested: &str) -> Result<Vec<String>, AadError> {
    let mut default = false;
    let mut named = Vec::new();
    for scope in requested.split_whitespace() {
        if OIDC_SCOPES.iter().any(|o| o.eq_ignore_ascii_case(scope)) {
            continue;
        }
        let (resource, permission) = scope.rsplit_once('/').unwrap_or((GRAPH, scope));
        if !GRAPH_RESOURCES.contains(&resource.trim_end_matches('/')) {
            return Err(invalid_scope(requested));
        }
        if permission == ".default" {
            default = true;
        } else {
            named.push(permission);
        }
    }
    // `.default` cannot be mixed with named permissions of the same resource, and a request
    // for no API permission at all is no valid request either.
    let mixed = default && !named.is_empty();
    let nothing = !default && named.is_empty();
    if mixed || nothing {
        return Err(invalid_scope(requested));
    }
    let consented = &app.delegated_permissions;
    let all_consented = named
        .iter()
        .all(|n| consented.iter().any(|c| c.eq_ignore_ascii_case(n)));
    if consented.is_empty() || !all_consented {
        return Err(AadError(
            StatusCode::BAD_REQUEST,
            "invalid_grant",
            65001,
            format!(
                "The user or administrator has not consented to use the application with ID '{}' named '{}'. Send an interactive authorization request for this user and resource.",
                app.client_id, app.display_name
            ),
        ));
    }
    Ok(consented.clone())
}

fn invalid_scope(requested: &str) -> AadError {
    AadError(
        StatusCode::BAD_REQUEST,
        "invalid_scope",
        70011,
        format!(
            "The provided request must include a 'scope' input parameter. The provided value for the input parameter 'scope' is not valid. The scope {requested} is not valid."
        ),
    )
}

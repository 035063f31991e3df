//! Temporary Access Pass operations (graph-behaviour §16): create, list and delete a user's pass,
//! and read the tenant's TAP policy. Shadow-mode results are documented on each write.
//!
//! Not for: deciding when a pass is due or delivering it (`ops_mail.rs` sends the mail). The
//! pass value never reaches a log line, a span or an error: the request URL holds only ids,
//! bodies are never logged, and an answer that cannot be decoded is reported without its text.

use reqwest::Method;
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;
use time::OffsetDateTime;
use time::macros::format_description;

use super::call::{Call, Reply, Sent, Version};
use super::client::{Core, GraphClient};
use super::error::{GraphError, Operation};
use super::escape::segment;
use super::model::access::SHADOW_TAP_ID;
use super::model::{
    NewTemporaryAccessPass, Removal, TapMethod, TapMethodId, TapPolicy, TemporaryAccessPass, UserId,
};
use super::ops_directory::found;

// The create page names only UserAuthenticationMethod.ReadWrite.All; the per-method permission
// is the least privileged one if it suffices, which GD does not confirm (graph-behaviour §16), so a
// 403 names both.
const WRITE_TAP: Operation = Operation {
    name: "create Temporary Access Pass",
    permission: "UserAuthMethod-TAP.ReadWrite.All (or UserAuthenticationMethod.ReadWrite.All)",
};
const READ_TAP: Operation = Operation {
    name: "list Temporary Access Passes",
    permission: "UserAuthMethod-TAP.Read.All (or UserAuthenticationMethod.Read.All)",
};
const READ_TAP_POLICY: Operation = Operation {
    name: "read Temporary Access Pass policy",
    permission: "Policy.Read.AuthenticationMethod",
};
const TAP_METHODS: &str = "/users/{id}/authentication/temporaryAccessPassMethods";
const TAP_POLICY: &str =
    "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{id}";
/// The refusal Graph gives when the user is outside the policy or the policy is off (observed;
/// status and code UNVERIFIED, graph-behaviour §16).
const CONVERGED_POLICY_TEXT: &str = "Converged UserCredentialPolicy";

fn tap_methods_path(user: &UserId) -> String {
    format!(
        "/users/{}/authentication/temporaryAccessPassMethods",
        segment(user.as_str())
    )
}

impl GraphClient {
    /// Creates a pass for `user` (object id): `POST /v1.0/users/{id}/authentication/temporaryAccessPassMethods`
    /// with the fields set in `new` → `201` with the pass, value included (graph-behaviour §16).
    ///
    /// A user has at most one pass: a create replaces any earlier one, so repeating it after a
    /// timeout still leaves exactly one pass, the one whose value we hold. A refusal by the
    /// converged authentication-methods policy (user outside the TAP policy, policy off) is
    /// `BadRequest` whether Graph sends it as 400 or 403: a configuration error, permanent, and
    /// not a missing permission. Shadow mode: nothing is sent; the pass answered has the id
    /// `dry-run:temporary-access-pass`, an empty value ([`TemporaryAccessPass::is_shadow`]) and
    /// the requested start and lifetime.
    pub async fn create_temporary_access_pass(
        &self,
        user: &UserId,
        new: &NewTemporaryAccessPass,
    ) -> Result<TemporaryAccessPass, GraphError> {
        let call = Call::new(
            Method::POST,
            Version::V1,
            TAP_METHODS,
            tap_methods_path(user),
            WRITE_TAP,
        )
        .body(create_body(new));
        match self.core.write(&call).await.map_err(policy_refusal)? {
            Sent::Reply(reply) => decode_created(&reply),
            Sent::Shadowed => Ok(TemporaryAccessPass {
                method: TapMethod {
                    id: TapMethodId::new(SHADOW_TAP_ID),
                    created_date_time: None,
                    start_date_time: new.start,
                    lifetime_in_minutes: new.lifetime_in_minutes,
                    is_usable_once: new.is_usable_once,
                    is_usable: None,
                    method_usability_reason: None,
                },
                value: SecretString::from(String::new()),
            }),
        }
    }

    /// `GET /v1.0/users/{id}/authentication/temporaryAccessPassMethods`: the user's pass, at most
    /// one, without its value (Graph shows `null` after the create call). An empty list when the
    /// user has none (graph-behaviour §16).
    pub async fn temporary_access_passes(
        &self,
        user: &UserId,
    ) -> Result<Vec<TapMethod>, GraphError> {
        let call = Call::get(Version::V1, TAP_METHODS, tap_methods_path(user), READ_TAP);
        self.core.read_all(&call).await
    }

    /// `DELETE /v1.0/users/{id}/authentication/temporaryAccessPassMethods/{tapId}` → 204
    /// `Deleted`; 404 `AlreadyGone` (graph-behaviour §16). Shadow mode: `Deleted`, unsent; a
    /// shadow-mode pass id answers `AlreadyGone`.
    pub async fn delete_temporary_access_pass(
        &self,
        user: &UserId,
        pass: &TapMethodId,
    ) -> Result<Removal, GraphError> {
        if pass.as_str() == SHADOW_TAP_ID {
            return Ok(Removal::AlreadyGone);
        }
        let op = Operation {
            name: "delete Temporary Access Pass",
            ..WRITE_TAP
        };
        let path = format!("{}/{}", tap_methods_path(user), segment(pass.as_str()));
        let call = Call::new(
            Method::DELETE,
            Version::V1,
            "/users/{id}/authentication/temporaryAccessPassMethods/{tapId}",
            path,
            op,
        );
        match found(self.core.write(&call).await)? {
            Some(_) => Ok(Removal::Deleted),
            None => Ok(Removal::AlreadyGone),
        }
    }

    /// `GET /v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass`:
    /// state, include/exclude targets, lifetime bounds (graph-behaviour §16).
    ///
    /// The reference's request names the configuration `TemporaryAccessPass`, as its `id` reads,
    /// while GD's example path writes `temporaryAccessPass`. Tolerant reading: a 404 on the first
    /// spelling is asked again with the second; only if both are missing is it `NotFound`.
    pub async fn temporary_access_pass_policy(&self) -> Result<TapPolicy, GraphError> {
        let read = |key: &str| {
            let call = Call::get(
                Version::V1,
                TAP_POLICY,
                format!(
                    "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{key}"
                ),
                READ_TAP_POLICY,
            );
            async move { Core::json::<TapPolicy>(&call, &self.core.read(&call).await?) }
        };
        match read("TemporaryAccessPass").await {
            Err(GraphError::NotFound { .. }) => read("temporaryAccessPass").await,
            other => other,
        }
    }
}

/// Only the fields the caller set; the start in UTC with milliseconds, as GD's example writes it.
fn create_body(new: &NewTemporaryAccessPass) -> serde_json::Value {
    let mut body = serde_json::Map::new();
    if let Some(start) = new.start {
        body.insert("startDateTime".into(), utc_timestamp(start).into());
    }
    if let Some(minutes) = new.lifetime_in_minutes {
        body.insert("lifetimeInMinutes".into(), minutes.into());
    }
    if let Some(once) = new.is_usable_once {
        body.insert("isUsableOnce".into(), once.into());
    }
    body.into()
}

fn utc_timestamp(at: OffsetDateTime) -> String {
    let format =
        format_description!("[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z");
    at.to_offset(time::UtcOffset::UTC)
        .format(&format)
        .unwrap_or_default()
}

/// The created pass. A decoding failure reports where, never what: serde's messages quote the
/// offending value, and this answer carries the pass.
fn decode_created(reply: &Reply) -> Result<TemporaryAccessPass, GraphError> {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Value {
        #[serde(default)]
        temporary_access_pass: Option<SecretString>,
    }
    let unreadable = |e: serde_json::Error| GraphError::InvalidResponse {
        operation: WRITE_TAP.name,
        detail: format!(
            "cannot decode the created pass ({:?} error at line {} column {}; the answer is not \
             shown because it carries the pass)",
            e.classify(),
            e.line(),
            e.column()
        ),
    };
    let method: TapMethod = serde_json::from_slice(&reply.body).map_err(unreadable)?;
    let value: Value = serde_json::from_slice(&reply.body).map_err(unreadable)?;
    match value.temporary_access_pass {
        Some(value) if !value.expose_secret().is_empty() => {
            Ok(TemporaryAccessPass { method, value })
        }
        _ => Err(GraphError::InvalidResponse {
            operation: WRITE_TAP.name,
            detail: format!(
                "Graph created pass {} but returned no value; create another pass to replace it",
                method.id
            ),
        }),
    }
}

/// A refusal by the converged authentication-methods policy is a configuration error, not a
/// missing permission: as a 403 it would tell the admin to grant one (graph-behaviour §16).
fn policy_refusal(e: GraphError) -> GraphError {
    match e {
        GraphError::PermissionDenied {
            operation,
            code,
            message,
            ..
        } if message.contains(CONVERGED_POLICY_TEXT) => GraphError::BadRequest {
            operation,
            status: 403,
            code,
            message,
        },
        other => other,
    }
}

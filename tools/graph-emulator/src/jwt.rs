//! Access tokens: signed JWTs carrying `tid`, `appid` and either `roles` (an app-only token:
//! the app's granted application permissions) or `scp` (a delegated token: the permissions
//! consented for the client app, acting for the user in `oid`/`upn`), and their validation on
//! every Graph call. HS256 with a key derived from the seed: clients treat access tokens as
//! opaque, so the algorithm is ours.

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use serde::{Deserialize, Serialize};

use crate::clock::unix_now;

/// Audience of Graph tokens, as Entra issues them for `https://graph.microsoft.com/.default`.
pub const GRAPH_AUDIENCE: &str = "https://graph.microsoft.com";

/// The claims Graph looks at (and a few more, for realism when a developer decodes one).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Claims {
    pub aud: String,
    pub iss: String,
    pub iat: u64,
    pub nbf: u64,
    pub exp: u64,
    pub tid: String,
    pub appid: String,
    pub sub: String,
    pub oid: String,
    pub idtyp: String,
    /// Application permissions; app-only tokens only (an empty list stays in the token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub roles: Option<Vec<String>>,
    /// Delegated permissions, space separated; delegated tokens only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub upn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub ver: String,
}

impl Claims {
    /// A user's token (it carries `scp`), as opposed to an application's own.
    pub fn is_delegated(&self) -> bool {
        self.scp.is_some()
    }

    /// The permission names the token carries: the words of `scp` for a delegated token,
    /// `roles` for an app-only one. Graph judges both against the same permission names.
    pub fn permissions(&self) -> Cow<'_, [String]> {
        match (&self.scp, &self.roles) {
            (Some(scp), _) => Cow::Owned(scp.split_whitespace().map(str::to_owned).collect()),
            (None, Some(roles)) => Cow::Borrowed(roles),
            (None, None) => Cow::Borrowed(&[]),
        }
    }
}

/// The user a delegated token is issued for.
pub struct SignedInUser<'a> {
    pub oid: &'a str,
    pub upn: &'a str,
    pub name: &'a str,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum TokenError {
    #[error("Access token is empty.")]
    Missing,
    #[error("Lifetime validation failed, the token is expired.")]
    Expired,
    #[error("Access token validation failure. Invalid audience.")]
    WrongAudience,
    #[error("Access token validation failure. The token was issued for another tenant.")]
    WrongTenant,
    #[error("Invalid JWT token. {0}")]
    Invalid(String),
}

/// Verified tokens kept at most; the cache is simply emptied when full.
const VERIFIED_MAX: usize = 4096;

/// Signs and checks tokens with one secret key.
pub struct TokenKeys {
    encoding: jsonwebtoken::EncodingKey,
    decoding: jsonwebtoken::DecodingKey,
    /// Signature checks already done: a client reuses one token for an hour, so each request
    /// need not re-verify it (expiry, audience and tenant are still checked every time).
    verified: Mutex<HashMap<String, Arc<Claims>>>,
}

impl TokenKeys {
    pub fn from_seed(seed: u64) -> TokenKeys {
        let secret = format!("graph-emulator-signing-key-{seed:016x}");
        TokenKeys {
            encoding: jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
            decoding: jsonwebtoken::DecodingKey::from_secret(secret.as_bytes()),
            verified: Mutex::new(HashMap::new()),
        }
    }

    /// Issues an app-only token for `appid` in `tenant`, valid `lifetime_secs` (not scaled;
    /// negative makes an already-expired token, for tests).
    pub fn issue(&self, tenant: &str, appid: &str, roles: &[String], lifetime_secs: i64) -> String {
        let now = unix_now();
        let exp = now.saturating_add_signed(lifetime_secs);
        let claims = Claims {
            aud: GRAPH_AUDIENCE.into(),
            iss: format!("https://sts.windows.net/{tenant}/"),
            iat: now,
            nbf: now,
            exp,
            tid: tenant.into(),
            appid: appid.into(),
            sub: appid.into(),
            oid: appid.into(),
            idtyp: "app".into(),
            roles: Some(roles.to_vec()),
            scp: None,
            upn: None,
            name: None,
            ver: "1.0".into(),
        };
        self.sign(&claims)
    }

    /// Issues a delegated token: client app `appid` acting for `user` with `scopes` (the `scp`
    /// claim, space separated), and no `roles`.
    pub fn issue_delegated(
        &self,
        tenant: &str,
        appid: &str,
        user: &SignedInUser<'_>,
        scopes: &[String],
        lifetime_secs: i64,
    ) -> String {
        let now = unix_now();
        let claims = Claims {
            aud: GRAPH_AUDIENCE.into(),
            iss: format!("https://sts.windows.net/{tenant}/"),
            iat: now,
            nbf: now,
            exp: now.saturating_add_signed(lifetime_secs),
            tid: tenant.into(),
            appid: appid.into(),
            sub: user.oid.into(),
            oid: user.oid.into(),
            idtyp: "user".into(),
            roles: None,
            scp: Some(scopes.join(" ")),
            upn: Some(user.upn.into()),
            name: Some(user.name.into()),
            ver: "1.0".into(),
        };
        self.sign(&claims)
    }

    fn sign(&self, claims: &Claims) -> String {
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        jsonwebtoken::encode(&header, claims, &self.encoding)
            .expect("HS256 signing with an in-memory key cannot fail")
    }

    /// Validates an `Authorization` header value for `tenant`; returns the claims.
    pub fn validate(
        &self,
        authorization: Option<&str>,
        tenant: &str,
    ) -> Result<Arc<Claims>, TokenError> {
        let token = authorization
            .and_then(|h| {
                h.strip_prefix("Bearer ")
                    .or_else(|| h.strip_prefix("bearer "))
            })
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .ok_or(TokenError::Missing)?;
        let claims = match self.cached(token) {
            Some(c) => c,
            None => self.verify(token)?,
        };
        // jsonwebtoken's rule with zero leeway: expired once `exp` is in the past.
        if claims.exp < unix_now() {
            return Err(TokenError::Expired);
        }
        if claims.aud != GRAPH_AUDIENCE && claims.aud != "00000003-0000-0000-c000-000000000000" {
            return Err(TokenError::WrongAudience);
        }
        if claims.tid != tenant {
            return Err(TokenError::WrongTenant);
        }
        Ok(claims)
    }

    fn cached(&self, token: &str) -> Option<Arc<Claims>> {
        self.verified
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(token)
            .cloned()
    }

    /// Checks the signature (expiry is judged by the caller) and remembers the result.
    fn verify(&self, token: &str) -> Result<Arc<Claims>, TokenError> {
        let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
        v.validate_exp = false;
        v.validate_aud = false; // checked by the caller, to give Graph's own message
        v.required_spec_claims.clear();
        let data = jsonwebtoken::decode::<Claims>(token, &self.decoding, &v)
            .map_err(|e| TokenError::Invalid(e.to_string()))?;
        let claims = Arc::new(data.claims);
        let mut cache = self.verified.lock().unwrap_or_else(|p| p.into_inner());
        if cache.len() >= VERIFIED_MAX {
            cache.clear();
        }
        cache.insert(token.to_string(), claims.clone());
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_issued_token_validates_for_its_tenant_only() {
        let keys = TokenKeys::from_seed(3);
        let t = keys.issue("tenant-a", "app-1", &["User.Read.All".into()], 3599);
        let claims = keys
            .validate(Some(&format!("Bearer {t}")), "tenant-a")
            .unwrap();
        assert_eq!(
            (claims.appid.as_str(), claims.permissions().len()),
            ("app-1", 1)
        );
        assert!(!claims.is_delegated());
        assert_eq!(
            keys.validate(Some(&format!("Bearer {t}")), "tenant-b"),
            Err(TokenError::WrongTenant)
        );
        assert_eq!(keys.validate(None, "tenant-a"), Err(TokenError::Missing));
        let other = TokenKeys::from_seed(4);
        assert!(matches!(
            other.validate(Some(&format!("Bearer {t}")), "tenant-a"),
            Err(TokenError::Invalid(_))
        ));
    }

    #[test]
    fn a_delegated_token_carries_scp_and_the_user_but_no_roles() {
        let keys = TokenKeys::from_seed(3);
        let user = SignedInUser {
            oid: "user-1",
            upn: "admin@contoso.test",
            name: "Admin",
        };
        let scopes = ["User.Read".to_string(), "Policy.Read.All".to_string()];
        let t = keys.issue_delegated("t", "cli", &user, &scopes, 3599);
        let claims = keys.validate(Some(&format!("Bearer {t}")), "t").unwrap();
        assert!(claims.is_delegated());
        assert_eq!(claims.scp.as_deref(), Some("User.Read Policy.Read.All"));
        assert_eq!(claims.permissions().as_ref(), scopes);
        assert_eq!(
            (claims.oid.as_str(), claims.roles.as_ref()),
            ("user-1", None)
        );
    }

    #[test]
    fn an_expired_token_is_refused() {
        let keys = TokenKeys::from_seed(3);
        let t = keys.issue("t", "a", &[], 0);
        // exp == now with zero leeway: jsonwebtoken treats exp < now as expired, so step past it.
        let claims: Claims = {
            let mut v = jsonwebtoken::Validation::new(jsonwebtoken::Algorithm::HS256);
            v.validate_exp = false;
            v.validate_aud = false;
            jsonwebtoken::decode(&t, &keys.decoding, &v).unwrap().claims
        };
        let past = Claims {
            exp: claims.exp - 10,
            ..claims
        };
        let header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256);
        let expired = jsonwebtoken::encode(&header, &past, &keys.encoding).unwrap();
        assert_eq!(
            keys.validate(Some(&format!("Bearer {expired}")), "t"),
            Err(TokenError::Expired)
        );
    }
}

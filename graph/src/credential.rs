//! Building the HTTP clients and the token credential from `[graph]` settings. The same code
//! serves the real cloud and the emulator: the authority host, the Graph base URL and an extra
//! trusted root CA all come from settings, and the credential's own HTTP pipeline trusts the
//! same CA (a custom azure_core `Transport` over a reqwest client built with `tls_certs_merge`).
//!
//! Not for: caching tokens (each azure_identity credential caches until 300 s before expiry)
//! or sending Graph requests (`client.rs`).

use std::sync::Arc;
use std::time::Duration;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, ExponentialRetryOptions, RetryOptions, Transport};
use azure_identity::{
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    ManagedIdentityCredential, ManagedIdentityCredentialOptions, UserAssignedId,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use base64::Engine;
use secrecy::ExposeSecret;
use url::Url;

use super::error::GraphError;
use shared::config::{CredentialKind, GraphSettings};

/// Reads `graph.ca_file` (empty = platform roots only).
pub(crate) fn load_extra_ca(path: &str) -> Result<Vec<reqwest::Certificate>, GraphError> {
    if path.trim().is_empty() {
        return Ok(Vec::new());
    }
    let pem = std::fs::read(path)
        .map_err(|e| GraphError::Config(format!("graph.ca_file: cannot read {path}: {e}")))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem)
        .map_err(|e| GraphError::Config(format!("graph.ca_file: {path} is not PEM: {e}")))?;
    if certs.is_empty() {
        return Err(GraphError::Config(format!(
            "graph.ca_file: {path} holds no certificate"
        )));
    }
    Ok(certs)
}

/// A reqwest client that trusts the platform roots plus `extra_ca`.
pub(crate) fn http_client(
    timeout: Duration,
    extra_ca: &[reqwest::Certificate],
) -> Result<reqwest::Client, GraphError> {
    let mut b = reqwest::Client::builder()
        // Graph answers our calls directly; never follow a redirect with a bearer token.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .timeout(timeout);
    if !extra_ca.is_empty() {
        b = b.tls_certs_merge(extra_ca.iter().cloned());
    }
    b.build()
        .map_err(|e| GraphError::Config(format!("cannot build the HTTP client: {e}")))
}

/// Graph hosts of the national clouds, whose tokens need their own audience.
const NATIONAL_GRAPH_HOSTS: [&str; 3] = [
    "graph.microsoft.us",
    "dod-graph.microsoft.us",
    "microsoftgraph.chinacloudapi.cn",
];

/// The token scope: `https://{host}/.default` for public and national-cloud Graph hosts. Any
/// other host (the emulator, an egress proxy) stands in for public Graph, so it gets public
/// Graph's scope, the one value every token endpoint that speaks for Graph must accept.
pub fn graph_scope(base: &Url) -> String {
    match base.host_str() {
        Some(h) if h == "graph.microsoft.com" || NATIONAL_GRAPH_HOSTS.contains(&h) => {
            format!("https://{h}/.default")
        }
        _ => "https://graph.microsoft.com/.default".to_owned(),
    }
}

/// The credential chosen by `graph.credential`, with its pipeline trusting `extra_ca`.
pub(crate) fn build_credential(
    s: &GraphSettings,
    extra_ca: &[reqwest::Certificate],
) -> Result<Arc<dyn TokenCredential>, GraphError> {
    let options = client_options(s, extra_ca)?;
    let not_empty = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_owned());
    let built: azure_core::Result<Arc<dyn TokenCredential>> = match s.credential {
        CredentialKind::ClientSecret => ClientSecretCredential::new(
            &s.tenant_id,
            s.client_id.clone(),
            Secret::new(s.client_secret.expose_secret().to_owned()),
            Some(ClientSecretCredentialOptions {
                client_options: options,
            }),
        )
        .map(|c| c as Arc<dyn TokenCredential>),
        CredentialKind::WorkloadIdentity => {
            WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                credential_options: ClientAssertionCredentialOptions {
                    client_options: options,
                },
                client_id: not_empty(&s.client_id),
                tenant_id: not_empty(&s.tenant_id),
                // None = AZURE_FEDERATED_TOKEN_FILE, read by azure_identity itself.
                token_file_path: not_empty(&s.federated_token_file).map(Into::into),
            }))
            .map(|c| c as Arc<dyn TokenCredential>)
        }
        CredentialKind::ManagedIdentity => {
            ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                user_assigned_id: not_empty(&s.managed_identity_client_id)
                    .map(UserAssignedId::ClientId),
                client_options: options,
            }))
            .map(|c| c as Arc<dyn TokenCredential>)
        }
    };
    built.map_err(|e| GraphError::Config(format!("graph.credential: {e}")))
}

fn client_options(
    s: &GraphSettings,
    extra_ca: &[reqwest::Certificate],
) -> Result<ClientOptions, GraphError> {
    let mut cloud = CustomConfiguration::default(); // #[non_exhaustive]: assign, not construct
    cloud.authority_host = s.authority_host.as_str().trim_end_matches('/').to_owned();
    let transport = Transport::new(Arc::new(http_client(s.request_timeout, extra_ca)?));
    Ok(ClientOptions {
        transport: Some(transport),
        cloud: Some(Arc::new(CloudConfiguration::from(cloud))),
        // The default (8 retries, up to 60 s) turns a wrong CA or a dead endpoint into a
        // minute-long hang per call; a short retry keeps a failing token request within one
        // handler attempt.
        retry: RetryOptions::exponential(ExponentialRetryOptions {
            initial_delay: azure_core::time::Duration::milliseconds(200),
            max_retries: 2,
            max_total_elapsed: azure_core::time::Duration::seconds(10),
            max_delay: azure_core::time::Duration::seconds(2),
        }),
        ..Default::default()
    })
}

/// The claims of an access token, decoded without verifying the signature: for reporting what
/// Entra put in a token we just obtained ourselves, never for trusting anyone else's.
pub fn claims_from_jwt(token: &str) -> Result<serde_json::Value, String> {
    let payload = token
        .split('.')
        .nth(1)
        .ok_or("the access token is not a JWT")?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .map_err(|e| format!("the token payload is not base64url: {e}"))?;
    serde_json::from_slice(&bytes).map_err(|e| format!("the token payload is not JSON: {e}"))
}

/// The `roles` claim (granted application permissions) of an access token (see
/// [`claims_from_jwt`]).
pub fn roles_from_jwt(token: &str) -> Result<Vec<String>, String> {
    let claims = claims_from_jwt(token)?;
    Ok(claims
        .get("roles")
        .and_then(|r| r.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|v| v.as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn jwt(payload: &str) -> String {
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        format!(
            "{}.{}.sig",
            enc.encode(r#"{"alg":"RS256"}"#),
            enc.encode(payload)
        )
    }

    #[test]
    fn roles_are_read_from_the_token_payload() {
        let t = jwt(
            r#"{"aud":"https://graph.microsoft.com","roles":["User.Read.All","GroupMember.ReadWrite.All"]}"#,
        );
        assert_eq!(
            roles_from_jwt(&t).unwrap(),
            vec!["User.Read.All", "GroupMember.ReadWrite.All"]
        );
        assert_eq!(
            roles_from_jwt(&jwt(r#"{"aud":"x"}"#)).unwrap(),
            Vec::<String>::new()
        );
        assert!(roles_from_jwt("opaque-token").is_err());
    }

    #[test]
    fn scope_is_public_graph_unless_a_national_cloud_is_configured() {
        let scope = |u: &str| graph_scope(&Url::parse(u).unwrap());
        assert_eq!(
            scope("https://graph.microsoft.com"),
            "https://graph.microsoft.com/.default"
        );
        assert_eq!(
            scope("https://graph.microsoft.us/"),
            "https://graph.microsoft.us/.default"
        );
        assert_eq!(
            scope("https://127.0.0.1:8443/"),
            "https://graph.microsoft.com/.default"
        );
    }

    #[test]
    fn a_missing_ca_file_is_a_config_error_naming_the_key() {
        let err = load_extra_ca("/nonexistent/ca.pem").unwrap_err();
        assert!(err.to_string().contains("graph.ca_file"), "{err}");
        assert!(load_extra_ca("").unwrap().is_empty());
    }
}

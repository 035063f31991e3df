//! The one typed settings tree: embedded defaults (`config/defaults.toml`) < `--config` file <
//! `ONBOARDING__SECTION__KEY` environment variables. Validated at start with errors that name
//! the key; secrets are `SecretString`, so `Debug` prints `[REDACTED]`.
//!
//! Not for: reading settings anywhere but at start-up. Binaries load once and pass sections down.
//!
//! (Skeleton: the `graph` section is fixed here so the Graph client can be written against it;
//! the loader and the other sections are filled in by the foundation work.)

use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// The embedded defaults: every key, its default, and a comment saying what it is for.
pub const DEFAULTS_TOML: &str = include_str!("../../config/defaults.toml");

/// How the Graph client obtains its token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CredentialKind {
    /// `ClientSecretCredential`: tenant, client id and `client_secret`.
    ClientSecret,
    /// `WorkloadIdentityCredential`: a federated service-account token file (Kubernetes).
    WorkloadIdentity,
    /// `ManagedIdentityCredential` (App Service `IDENTITY_ENDPOINT` or IMDS).
    ManagedIdentity,
}

/// `[graph]`: where Graph and the Entra authority are, and who we are there.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GraphSettings {
    /// Graph root without version, e.g. `https://graph.microsoft.com`.
    pub base_url: url::Url,
    /// Entra authority host; must be https.
    pub authority_host: url::Url,
    pub tenant_id: String,
    pub client_id: String,
    pub credential: CredentialKind,
    pub client_secret: SecretString,
    pub federated_token_file: String,
    pub managed_identity_client_id: String,
    /// PEM file of an extra trusted root CA; empty = none.
    pub ca_file: String,
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    pub in_call_retries: u32,
    #[serde(with = "humantime_serde")]
    pub in_call_max_wait: Duration,
    pub dry_run: bool,
}

//! The one typed settings tree: embedded defaults (`config/defaults.toml`) < `--config` file <
//! `ONBOARDING__SECTION__KEY` environment variables. Validated at start with errors that name
//! the key; secrets are `SecretString`, so `Debug` prints `[REDACTED]`.
//!
//! Not for: reading settings anywhere but at start-up. Binaries load once and pass sections down.
//! The checks live in `config/validate.rs`; lenient list parsing in `config/lists.rs`.

mod lists;
mod validate;

use std::collections::{BTreeMap, HashMap};
use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;

/// The embedded defaults: every key, its default, and a comment saying what it is for.
pub const DEFAULTS_TOML: &str = include_str!("../../config/defaults.toml");

/// Settings could not be loaded, or they loaded but contradict each other.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A source did not parse, a key is unknown, or a value has the wrong type. The `config`
    /// crate names the key and the source ("for key `amqp.prefetch` in the environment").
    #[error("configuration: {0}")]
    Load(#[from] config::ConfigError),
    /// The tree loaded, but a value is not usable: `graph.base_url: must be https`.
    #[error("{key}: {problem}")]
    Invalid {
        /// The settings key, as in `config/defaults.toml` (`graph.base_url`).
        key: &'static str,
        /// What is wrong with its value.
        problem: String,
    },
}

impl ConfigError {
    fn invalid(key: &'static str, problem: impl Into<String>) -> Self {
        ConfigError::Invalid {
            key,
            problem: problem.into(),
        }
    }
}

impl crate::error::Classify for ConfigError {
    fn class(&self) -> crate::error::ErrorClass {
        match self {
            // Settings do not fix themselves by waiting: an operator must edit them.
            ConfigError::Load(_) => crate::error::ErrorClass::Permanent,
            ConfigError::Invalid { .. } => crate::error::ErrorClass::Permanent,
        }
    }
}

/// Loads the settings tree: embedded defaults, then `file` (if given, it must exist), then the
/// `ONBOARDING__SECTION__KEY` entries of `env`. `main` passes `std::env::vars().collect()`;
/// tests pass a map, so nobody mutates the process environment.
pub fn load(file: Option<&Path>, env: HashMap<String, String>) -> Result<Settings, ConfigError> {
    let mut builder = config::Config::builder().add_source(config::File::from_str(
        DEFAULTS_TOML,
        config::FileFormat::Toml,
    ));
    if let Some(path) = file {
        builder = builder.add_source(config::File::from(path).format(config::FileFormat::Toml));
    }
    let environment = config::Environment::with_prefix("ONBOARDING")
        .prefix_separator("__")
        .separator("__")
        // try_parsing(true) turns a secret "007" into 7 and "1e3" into 1000 (stack §6);
        // numbers still deserialize from strings, and lists go through `lists`.
        .try_parsing(false)
        .source(Some(env.into_iter().collect()));
    let settings = builder
        .add_source(environment)
        .build()?
        .try_deserialize::<Settings>()?;
    Ok(settings)
}

/// A binary of this workspace: which queue it consumes, which event it expects, which
/// settings it needs validated.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Service {
    /// `new-hire`: consumes `hr.employee.hired`.
    NewHire,
    /// `device-purchased`: consumes `procurement.device.purchased`.
    DevicePurchased,
    /// `device-shipped`: consumes `procurement.device.shipped`.
    DeviceShipped,
    /// `onboardctl`: publishes and inspects, consumes no work queue.
    Cli,
}

impl Service {
    /// The name in logs, metrics labels, the CloudEvents `source` and the connection name.
    pub fn name(self) -> &'static str {
        match self {
            Service::NewHire => "new-hire",
            Service::DevicePurchased => "device-purchased",
            Service::DeviceShipped => "device-shipped",
            Service::Cli => "onboardctl",
        }
    }

    /// The work queue this service consumes, from `[amqp.queues]`.
    pub fn queue(self, amqp: &AmqpSettings) -> Option<&str> {
        match self {
            Service::NewHire => Some(&amqp.queues.new_hire),
            Service::DevicePurchased => Some(&amqp.queues.device_purchased),
            Service::DeviceShipped => Some(&amqp.queues.device_shipped),
            Service::Cli => None,
        }
    }
}

/// Everything configurable, one section per `[table]` of `config/defaults.toml`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// `[amqp]`: the broker, the queues and the retry policy.
    pub amqp: AmqpSettings,
    /// `[graph]`: Microsoft Graph and the credential.
    pub graph: GraphSettings,
    /// `[telemetry]`: logs and trace export.
    pub telemetry: TelemetrySettings,
    /// `[http]`: the health and metrics listener.
    pub http: HttpSettings,
    /// `[new_hire]`: the new-hire service.
    pub new_hire: NewHireSettings,
    /// `[device_purchased]`: the device-purchased service.
    pub device_purchased: DevicePurchasedSettings,
    /// `[device_shipped]`: the device-shipped service.
    pub device_shipped: DeviceShippedSettings,
}

impl Settings {
    /// Checks what serde cannot: values that must agree with each other, and the keys `service`
    /// needs. The error names the first offending key.
    pub fn validate(&self, service: Service) -> Result<(), ConfigError> {
        validate::settings(self, service)
    }
}

/// `[amqp]`: the broker, the topology names, and the retry policy.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AmqpSettings {
    /// Broker URI; it carries the password, so it is a secret.
    pub url: SecretString,
    /// PEM file with an extra CA for amqps://; empty = platform roots only.
    pub ca_file: String,
    /// Shown by `rabbitmqctl list_connections client_properties`; empty = `<service>@<pid>`.
    pub connection_name: String,
    /// The one durable topic exchange every event and outcome goes through.
    pub exchange: String,
    /// Unacked deliveries the broker may push to one consumer at once.
    pub prefetch: u16,
    /// Handlers that may run at the same time in one process (<= prefetch).
    pub concurrency: u16,
    /// Ascending TTLs of the delay-tier queues.
    #[serde(deserialize_with = "lists::durations")]
    pub delay_tiers: Vec<Duration>,
    #[serde(with = "humantime_serde")]
    /// A message still failing transiently after this long since first seen is dead-lettered.
    pub max_age: Duration,
    /// 0 = unlimited (only `max_age` ends retrying).
    pub max_attempts: u32,
    /// Quorum-queue `x-delivery-limit`: the broker's guard against a message that crashes us.
    pub delivery_limit: u32,
    #[serde(with = "humantime_serde")]
    /// On SIGTERM: how long in-flight handlers may take to finish.
    pub shutdown_grace: Duration,
    /// Largest accepted message body; larger ones are dead-lettered unread.
    pub max_body_bytes: usize,
    /// How often the queue-depth gauge is refreshed by passive declares.
    #[serde(with = "humantime_serde")]
    pub queue_depth_interval: Duration,
    /// The work queue of each service.
    pub queues: QueueNames,
}

/// `[amqp.queues]`: the work queue of each service.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QueueNames {
    /// The new-hire work queue.
    pub new_hire: String,
    /// The device-purchased work queue.
    pub device_purchased: String,
    /// The device-shipped work queue.
    pub device_shipped: String,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LogFormat {
    /// One JSON object per line, with `trace_id`/`span_id` (production).
    Json,
    /// Human-readable multi-line output (a developer's terminal).
    Pretty,
}

/// `[telemetry]`: logs and trace export.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    /// `tracing` EnvFilter directives for the log output only.
    pub log_filter: String,
    /// `json` or `pretty`.
    pub log_format: LogFormat,
    /// OTLP/gRPC endpoint; empty = no export.
    pub otlp_endpoint: String,
}

/// `[http]`: the health and metrics listener.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    /// Address of `/healthz`, `/readyz` and `/metrics`; port 0 = any free port.
    pub listen: SocketAddr,
}

/// How a new hire is allowed to Entra-join devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JoinMode {
    /// The policy must already allow everyone; we only verify.
    All,
    /// Membership in `join_group_id`, which the policy selects (recommended).
    Group,
    /// The user id in the policy's own list (read-modify-write of the whole policy).
    Users,
}

/// `[new_hire]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NewHireSettings {
    /// How the hire is allowed to join devices: all, group or users.
    pub join_mode: JoinMode,
    /// Object id of the join group (`join_mode = group`).
    pub join_group_id: String,
    #[serde(deserialize_with = "lists::strings")]
    /// Object ids of groups every hire joins.
    pub groups: Vec<String>,
    /// Department name -> group object ids. From the environment the department name is
    /// lowercased by the `config` crate, so the handler should match departments case-insensitively.
    #[serde(deserialize_with = "lists::string_map")]
    pub department_groups: BTreeMap<String, Vec<String>>,
    /// Warn when the policy's userDeviceQuota is below this.
    pub min_user_device_quota: u32,
}

/// `[device_purchased]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DevicePurchasedSettings {
    /// Object id of the security group Autopilot devices join; empty = no group step.
    pub device_group_id: String,
    /// The device group is dynamic: membership is not written.
    pub device_group_dynamic: bool,
    /// Set the group tag of an already registered device when the event's differs.
    pub update_group_tag: bool,
    #[serde(with = "humantime_serde")]
    /// Call Autopilot sync only if the device has not appeared this long after its import.
    pub sync_after: Duration,
    #[serde(with = "humantime_serde")]
    /// At most one sync per this window, tenant-wide.
    pub sync_interval: Duration,
    #[serde(with = "humantime_serde")]
    /// Stop following an import (dead-letter) after this long.
    pub import_max_age: Duration,
    /// Ensure the corporate identifier Manufacturer,Model,Serial.
    pub corporate_identifier: bool,
    /// Require a hardware hash in the event.
    pub require_hardware_hash: bool,
}

/// `[device_shipped]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceShippedSettings {
    /// Reassign a device already assigned to someone else (default: dead-letter).
    pub allow_reassign: bool,
}

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
    /// Directory (tenant) id: a GUID or a verified domain.
    pub tenant_id: String,
    /// Application (client) id of this service's app registration.
    pub client_id: String,
    /// How the service authenticates to Entra.
    pub credential: CredentialKind,
    /// Only for `credential = client_secret`. Never logged.
    pub client_secret: SecretString,
    /// Only for workload identity: the projected service-account token file.
    pub federated_token_file: String,
    /// Only for managed identity: a user-assigned identity's client id; empty = system-assigned.
    pub managed_identity_client_id: String,
    /// PEM file of an extra trusted root CA; empty = none.
    pub ca_file: String,
    #[serde(with = "humantime_serde")]
    /// Per-request timeout.
    pub request_timeout: Duration,
    /// Short in-call retries (429, 5xx, timeouts) before the failure goes back to the broker.
    pub in_call_retries: u32,
    #[serde(with = "humantime_serde")]
    /// Longest Retry-After waited inside a call; a longer one goes back to the broker.
    pub in_call_max_wait: Duration,
    /// Shadow mode: reads happen, writes are logged and counted, not sent.
    pub dry_run: bool,
}

//! The tenant as data: what `--fixture FILE` loads, what `GET /_emulator/state` dumps, and what
//! the routes mutate. One set of types for all three, so a dumped state can be loaded back.
//!
//! Field names follow Graph's camelCase where the object is also a Graph resource. Fields marked
//! `#[serde(skip)]` are emulator timers (real `Instant`s, already scaled by `speed`); they are
//! not part of the fixture format. Wire shapes (what a client sees) live in the route modules.

use std::time::Instant;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::faults::FaultConfig;

/// The built-in demo tenant; `Fixture::demo()` parses it, so the file and the code cannot drift.
pub const DEMO_JSON: &str = include_str!("../fixtures/demo.json");

/// A whole tenant: directory, Intune/Autopilot state, app registrations, and optional faults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    pub tenant: TenantInfo,
    pub apps: Vec<AppRegistration>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_identity: Option<ManagedIdentity>,
    #[serde(default)]
    pub users: Vec<User>,
    #[serde(default)]
    pub groups: Vec<Group>,
    pub device_registration_policy: DeviceRegistrationPolicy,
    #[serde(default)]
    pub autopilot_devices: Vec<AutopilotDevice>,
    #[serde(default)]
    pub imported_autopilot_devices: Vec<ImportedDevice>,
    /// Serials another tenant already registered: importing one ends in `ZtdDeviceAssignedToOtherTenant`.
    #[serde(default)]
    pub other_tenant_serials: Vec<String>,
    #[serde(default)]
    pub entra_devices: Vec<EntraDevice>,
    #[serde(default)]
    pub deployment_profiles: Vec<DeploymentProfile>,
    #[serde(default)]
    pub enrollment_status_pages: Vec<EnrollmentStatusPage>,
    /// MDM auto-enrollment policies (graph-behaviour §10); Intune's has id `0000000a-0000-0000-c000-000000000000`.
    #[serde(default)]
    pub mobile_device_management_policies: Vec<MdmPolicy>,
    #[serde(default)]
    pub corporate_identifiers: Vec<CorporateIdentifier>,
    #[serde(default)]
    pub autopilot_settings: AutopilotSettings,
    /// Faults active from start; `PUT /_emulator/faults` replaces them at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultConfig>,
}

impl Fixture {
    /// The demo tenant documented in the README (constants in [`crate::demo`]).
    pub fn demo() -> Fixture {
        serde_json::from_str(DEMO_JSON).expect("fixtures/demo.json is a valid fixture")
    }

    /// Parses a fixture file's text; errors name the offending field (serde's path).
    pub fn from_json(text: &str) -> Result<Fixture, serde_json::Error> {
        serde_json::from_str(text)
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantInfo {
    pub id: String,
    #[serde(default)]
    pub display_name: String,
    /// Verified domains; the first is the default. A token may name the tenant by any of them.
    pub domains: Vec<String>,
}

/// An app registration with its credentials, the application permissions an admin granted,
/// and the delegated permissions an admin consented to for the whole tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AppRegistration {
    pub display_name: String,
    pub client_id: String,
    #[serde(default)]
    pub client_secret: Option<String>,
    /// Application permissions (`roles` of its app-only tokens).
    pub permissions: Vec<String>,
    /// A public client (a CLI, a native app): it signs users in without a secret
    /// (the password grant) and may not present one.
    #[serde(default, skip_serializing_if = "is_false")]
    pub public_client: bool,
    /// Delegated permissions consented tenant-wide (`scp` of tokens it gets for users).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub delegated_permissions: Vec<String>,
    /// The secret exists but has expired: using it answers AADSTS7000222.
    #[serde(default)]
    pub client_secret_expired: bool,
    #[serde(default)]
    pub federated_credentials: Vec<FederatedCredential>,
}

/// Workload identity federation: an external token with this issuer and subject may stand in for a secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FederatedCredential {
    pub issuer: String,
    pub subject: String,
    #[serde(default = "default_wif_audiences")]
    pub audiences: Vec<String>,
}

fn default_wif_audiences() -> Vec<String> {
    vec!["api://AzureADTokenExchange".into()]
}

/// The App Service managed-identity endpoint: the header value it demands and the app it acts as.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManagedIdentity {
    pub identity_header: String,
    /// Client id of the app registration a system-assigned identity maps to.
    pub client_id: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct User {
    pub id: String,
    pub user_principal_name: String,
    pub display_name: String,
    #[serde(default)]
    pub given_name: Option<String>,
    #[serde(default)]
    pub surname: Option<String>,
    #[serde(default)]
    pub mail: Option<String>,
    #[serde(default)]
    pub job_title: Option<String>,
    #[serde(default)]
    pub employee_id: Option<String>,
    #[serde(default)]
    pub department: Option<String>,
    #[serde(default = "yes")]
    pub account_enabled: bool,
    #[serde(default)]
    pub user_type: Option<String>,
    /// Simulated HR provisioning lag: the user is invisible (404) for this long after load.
    #[serde(default)]
    pub provision_after_seconds: f64,
    /// Only users with a password can sign in (the password grant); never shown by Graph.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// Entra directory roles held, by display name (`Global Reader`, `Intune Administrator`):
    /// what a delegated call may do also depends on them (graph-behaviour §10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub directory_roles: Vec<String>,
    #[serde(skip)]
    pub(crate) visible_at: Option<Instant>,
}

fn yes() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Group {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(default)]
    pub mail_nickname: Option<String>,
    #[serde(default = "yes")]
    pub security_enabled: bool,
    #[serde(default)]
    pub mail_enabled: bool,
    /// `Unified` = Microsoft 365 group; `DynamicMembership` = rule-based (no direct writes).
    #[serde(default)]
    pub group_types: Vec<String>,
    #[serde(default)]
    pub membership_rule: Option<String>,
    /// Role-assignable: member writes also need RoleManagement.ReadWrite.Directory (graph-behaviour §3).
    #[serde(default)]
    pub is_assignable_to_role: bool,
    /// Direct members' object ids (users, devices, groups). Dynamic groups compute theirs.
    #[serde(default)]
    pub members: Vec<String>,
    /// A group created through Graph refuses member adds until it has replicated (graph-behaviour §3 quirk).
    #[serde(skip)]
    pub(crate) replicated_at: Option<Instant>,
}

impl Group {
    pub fn is_dynamic(&self) -> bool {
        self.group_types.iter().any(|t| t == "DynamicMembership")
    }
    pub fn is_unified(&self) -> bool {
        self.group_types.iter().any(|t| t == "Unified")
    }
}

/// The tenant-wide device registration policy, stored in the current (non-legacy) shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceRegistrationPolicy {
    pub user_device_quota: i64,
    pub multi_factor_auth_configuration: String,
    #[serde(rename = "azureADRegistration")]
    pub azure_ad_registration: Value,
    #[serde(rename = "azureADJoin")]
    pub azure_ad_join: Value,
    pub local_admin_password: Value,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutopilotDevice {
    pub id: String,
    pub serial_number: String,
    #[serde(default)]
    pub hardware_identifier: Option<String>,
    #[serde(default)]
    pub group_tag: String,
    #[serde(default)]
    pub purchase_order_identifier: String,
    #[serde(default)]
    pub product_key: String,
    #[serde(default)]
    pub manufacturer: Option<String>,
    #[serde(default)]
    pub model: Option<String>,
    #[serde(default = "not_contacted")]
    pub enrollment_state: String,
    /// Entra `device.deviceId`; `None` until the Entra device object has appeared.
    #[serde(default)]
    pub azure_active_directory_device_id: Option<String>,
    #[serde(default)]
    pub user_principal_name: String,
    #[serde(default)]
    pub addressable_user_name: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub managed_device_id: Option<String>,
}

fn not_contacted() -> String {
    "notContacted".into()
}

/// An `importedWindowsAutopilotDeviceIdentity` record: the upload, not the device.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportedDevice {
    pub id: String,
    pub serial_number: String,
    pub hardware_identifier: String,
    #[serde(default)]
    pub group_tag: String,
    #[serde(default)]
    pub product_key: String,
    #[serde(default)]
    pub import_id: String,
    #[serde(default)]
    pub assigned_user_principal_name: String,
    pub state: ImportState,
    /// When the background import settles; `None` once it has.
    #[serde(skip)]
    pub(crate) completes_at: Option<Instant>,
    /// Same hash earlier in the same upload: this one ends in `ZtdDeviceDuplicated`.
    #[serde(skip)]
    pub(crate) duplicate_in_upload: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportState {
    pub device_import_status: String,
    pub device_registration_id: String,
    pub device_error_code: i64,
    pub device_error_name: String,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntraDevice {
    /// Directory object id: the key for `$ref`, `memberOf`, `checkMemberGroups`.
    pub id: String,
    /// Alternate key set by device registration; what Autopilot calls `azureActiveDirectoryDeviceId`.
    pub device_id: String,
    pub display_name: String,
    #[serde(default = "windows")]
    pub operating_system: String,
    #[serde(default)]
    pub operating_system_version: Option<String>,
    #[serde(default = "yes")]
    pub account_enabled: bool,
    #[serde(default)]
    pub physical_ids: Vec<String>,
    #[serde(default)]
    pub trust_type: Option<String>,
    /// A device created by an import stays invisible until this instant.
    #[serde(skip)]
    pub(crate) visible_at: Option<Instant>,
    /// The Autopilot device whose `azureActiveDirectoryDeviceId` is set when this one appears.
    #[serde(skip)]
    pub(crate) autopilot_device: Option<String>,
}

fn windows() -> String {
    "Windows".into()
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeploymentProfile {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub device_name_template: String,
    #[serde(default)]
    pub assigned_group_ids: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollmentStatusPage {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub priority: i64,
    #[serde(default)]
    pub show_installation_progress: bool,
    #[serde(default)]
    pub install_progress_timeout_in_minutes: i64,
    #[serde(default)]
    pub track_install_progress_for_autopilot_only: bool,
    #[serde(default)]
    pub allow_non_blocking_app_installation: bool,
    #[serde(default)]
    pub assigned_group_ids: Vec<String>,
}

/// A `mobilityManagementPolicy` for an MDM application (graph-behaviour §10): whose devices auto-enroll.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MdmPolicy {
    pub id: String,
    pub display_name: String,
    #[serde(default)]
    pub description: String,
    /// MDM user scope: None, All, or Some (`selected`: the members of `includedGroupIds`).
    pub applies_to: PolicyScope,
    #[serde(default)]
    pub included_group_ids: Vec<String>,
    #[serde(default)]
    pub compliance_url: String,
    #[serde(default)]
    pub discovery_url: String,
    #[serde(default)]
    pub terms_of_use_url: String,
    #[serde(default = "yes")]
    pub is_valid: bool,
}

/// Graph's `policyScope`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyScope {
    #[default]
    None,
    All,
    Selected,
}

impl PolicyScope {
    pub fn as_str(self) -> &'static str {
        match self {
            PolicyScope::None => "none",
            PolicyScope::All => "all",
            PolicyScope::Selected => "selected",
        }
    }
}

/// A corporate device identifier (`importedDeviceIdentity`, beta).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct CorporateIdentifier {
    pub id: String,
    pub imported_device_identifier: String,
    pub imported_device_identity_type: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub created_date_time: String,
    #[serde(default)]
    pub last_modified_date_time: String,
}

/// `windowsAutopilotSettings` plus the timers behind the sync guard.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutopilotSettings {
    pub last_sync_date_time: String,
    pub last_manual_sync_trigger_date_time: String,
    pub sync_status: String,
    #[serde(skip)]
    pub(crate) sync_ends_at: Option<Instant>,
    #[serde(skip)]
    pub(crate) last_sync_started: Option<Instant>,
}

impl Default for AutopilotSettings {
    fn default() -> Self {
        const NEVER: &str = "0001-01-01T00:00:00Z";
        AutopilotSettings {
            last_sync_date_time: NEVER.into(),
            last_manual_sync_trigger_date_time: NEVER.into(),
            sync_status: "completed".into(),
            sync_ends_at: None,
            last_sync_started: None,
        }
    }
}

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

mod auth_methods;
pub use auth_methods::{TapTarget, TemporaryAccessPass, TemporaryAccessPassPolicy};

/// The built-in demo tenant; `Fixture::demo()` parses it, so the file and the code cannot drift.
pub const DEMO_JSON: &str = include_str!("../fixtures/demo.json");

/// A whole tenant: directory, Intune/Autopilot state, app registrations, and optional faults.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fixture {
    /// Tenant id, display name and verified domains.
    pub tenant: TenantInfo,
    /// App registrations: who may get tokens, and with which permissions.
    pub apps: Vec<AppRegistration>,
    /// The App Service managed-identity endpoint (`/msi/token`); `None` = the tenant has none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub managed_identity: Option<ManagedIdentity>,
    /// Users (graph-behaviour §2).
    #[serde(default)]
    pub users: Vec<User>,
    /// Groups and their direct members (graph-behaviour §3).
    #[serde(default)]
    pub groups: Vec<Group>,
    /// The tenant's `deviceRegistrationPolicy` (graph-behaviour §1).
    pub device_registration_policy: DeviceRegistrationPolicy,
    /// Registered Autopilot devices, `windowsAutopilotDeviceIdentities` (graph-behaviour §6).
    #[serde(default)]
    pub autopilot_devices: Vec<AutopilotDevice>,
    /// Import records, `importedWindowsAutopilotDeviceIdentities` (graph-behaviour §5).
    #[serde(default)]
    pub imported_autopilot_devices: Vec<ImportedDevice>,
    /// Serials another tenant already registered: importing one ends in `ZtdDeviceAssignedToOtherTenant`.
    #[serde(default)]
    pub other_tenant_serials: Vec<String>,
    /// Entra device objects, `/devices` (graph-behaviour §8).
    #[serde(default)]
    pub entra_devices: Vec<EntraDevice>,
    /// Autopilot deployment profiles (graph-behaviour §18).
    #[serde(default)]
    pub deployment_profiles: Vec<DeploymentProfile>,
    /// Enrollment Status Pages, listed among `deviceEnrollmentConfigurations` (graph-behaviour §10).
    #[serde(default)]
    pub enrollment_status_pages: Vec<EnrollmentStatusPage>,
    /// MDM auto-enrollment policies (graph-behaviour §10); Intune's has id `0000000a-0000-0000-c000-000000000000`.
    #[serde(default)]
    pub mobile_device_management_policies: Vec<MdmPolicy>,
    /// Corporate identifiers, `importedDeviceIdentities` (graph-behaviour §9).
    #[serde(default)]
    pub corporate_identifiers: Vec<CorporateIdentifier>,
    /// `windowsAutopilotSettings`: the state of the Autopilot sync (graph-behaviour §7).
    #[serde(default)]
    pub autopilot_settings: AutopilotSettings,
    /// The Temporary Access Pass policy (graph-behaviour §16); default: the reference's sample.
    #[serde(default)]
    pub temporary_access_pass_policy: TemporaryAccessPassPolicy,
    /// Users' Temporary Access Passes, at most one per user (graph-behaviour §16).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub temporary_access_passes: Vec<TemporaryAccessPass>,
    /// Values the next TAP creates hand out, in order, before random ones: tests that need a
    /// known pass value (e.g. to prove it never leaks) put it here.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub temporary_access_pass_values: Vec<String>,
    /// Faults active from start; `PUT /_emulator/faults` replaces them at run time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub faults: Option<FaultConfig>,
    /// Service principals (graph-behaviour §20), e.g. the Intune Provisioning Client's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_principals: Vec<ServicePrincipal>,
    /// Settings-catalog policies, `configurationPolicies` (beta): device preparation (graph-behaviour §20) and others.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub configuration_policies: Vec<ConfigurationPolicy>,
    /// Devices an OEM, reseller or Partner Center will register after a delay (graph-behaviour §21).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partner_registrations: Vec<PartnerRegistration>,
    /// Autopilot deployment events, `autopilotEvents` (graph-behaviour §19).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub autopilot_events: Vec<AutopilotEvent>,
    /// When profile assignments were last evaluated (graph-behaviour §18): the earliest a change seen
    /// now can have happened.
    #[serde(skip)]
    pub(crate) assignments_checked_at: Option<Instant>,
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

    /// The group with this object id (ids compare without case, as Graph's do).
    pub(crate) fn group(&self, id: &str) -> Option<&Group> {
        self.groups.iter().find(|g| g.id.eq_ignore_ascii_case(id))
    }

    /// [`Fixture::group`], to change it.
    pub(crate) fn group_mut(&mut self, id: &str) -> Option<&mut Group> {
        self.groups
            .iter_mut()
            .find(|g| g.id.eq_ignore_ascii_case(id))
    }

    /// The Autopilot deployment profile with this id (graph-behaviour §18).
    pub(crate) fn deployment_profile(&self, id: &str) -> Option<&DeploymentProfile> {
        self.deployment_profiles
            .iter()
            .find(|p| p.id.eq_ignore_ascii_case(id))
    }

    /// [`Fixture::deployment_profile`], to change it.
    pub(crate) fn deployment_profile_mut(&mut self, id: &str) -> Option<&mut DeploymentProfile> {
        self.deployment_profiles
            .iter_mut()
            .find(|p| p.id.eq_ignore_ascii_case(id))
    }
}

/// The tenant's identity.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TenantInfo {
    /// Tenant id (a GUID): the `tid` of issued tokens.
    pub id: String,
    /// The tenant's display name.
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
    /// The registration's display name.
    pub display_name: String,
    /// Application (client) id: `client_id` of token requests, `appid` of its tokens.
    pub client_id: String,
    /// Its client secret; `None` = it has none (as a public client).
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
    /// Federated credentials: external tokens it may present instead of a secret.
    #[serde(default)]
    pub federated_credentials: Vec<FederatedCredential>,
}

/// Workload identity federation: an external token with this issuer and subject may stand in for a secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FederatedCredential {
    /// The `iss` the external token must carry.
    pub issuer: String,
    /// The `sub` the external token must carry.
    pub subject: String,
    /// Accepted `aud` values of the external token (default `api://AzureADTokenExchange`).
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
    /// The value the `x-identity-header` request header must carry.
    pub identity_header: String,
    /// Client id of the app registration a system-assigned identity maps to.
    pub client_id: String,
}

/// A user (graph-behaviour §2); a field documented as a `graphProperty` is served under that name.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct User {
    /// Object id (also a key of `/users/{key}`).
    pub id: String,
    /// `userPrincipalName`: the other key `/users/{key}` accepts (graph-behaviour §2).
    pub user_principal_name: String,
    /// `displayName`.
    pub display_name: String,
    /// `givenName`.
    #[serde(default)]
    pub given_name: Option<String>,
    /// `surname`.
    #[serde(default)]
    pub surname: Option<String>,
    /// `mail` (graph-behaviour §17). A user with a mail address has an Exchange mailbox: only
    /// such a user may be the sender of `sendMail`.
    #[serde(default)]
    pub mail: Option<String>,
    /// `jobTitle`.
    #[serde(default)]
    pub job_title: Option<String>,
    /// `employeeId`, filterable with `eq` and `startsWith` (graph-behaviour §2).
    #[serde(default)]
    pub employee_id: Option<String>,
    /// `department`.
    #[serde(default)]
    pub department: Option<String>,
    /// `accountEnabled` (default true); a disabled user cannot sign in.
    #[serde(default = "yes")]
    pub account_enabled: bool,
    /// `userType`: `Guest` for a B2B guest; `None` is served as `Member`.
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
    /// Object id of the user's manager (`GET /users/{id}/manager`, graph-behaviour §17); none = 404.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manager: Option<String>,
    #[serde(skip)]
    pub(crate) visible_at: Option<Instant>,
}

fn yes() -> bool {
    true
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A group (graph-behaviour §3): security, Microsoft 365 (`Unified`) or dynamic.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Group {
    /// Object id: the `{group-id}` of member reads and writes.
    pub id: String,
    /// `displayName`.
    pub display_name: String,
    /// `description`.
    #[serde(default)]
    pub description: Option<String>,
    /// `mailNickname`.
    #[serde(default)]
    pub mail_nickname: Option<String>,
    /// `securityEnabled` (default true): only security groups can hold devices (graph-behaviour §3).
    #[serde(default = "yes")]
    pub security_enabled: bool,
    /// `mailEnabled`.
    #[serde(default)]
    pub mail_enabled: bool,
    /// `Unified` = Microsoft 365 group; `DynamicMembership` = rule-based (no direct writes).
    #[serde(default)]
    pub group_types: Vec<String>,
    /// `membershipRule` of a dynamic group. The emulator evaluates device rules on `physicalIds`
    /// (graph-behaviour §8) and `user.department|employeeId|jobTitle -eq "…"`; any other rule matches nothing.
    #[serde(default)]
    pub membership_rule: Option<String>,
    /// Role-assignable: member writes also need RoleManagement.ReadWrite.Directory (graph-behaviour §3).
    #[serde(default)]
    pub is_assignable_to_role: bool,
    /// Direct members' object ids (users, devices, groups). Dynamic groups compute theirs.
    #[serde(default)]
    pub members: Vec<String>,
    /// Owners' object ids: users or service principals (graph-behaviour §20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub owners: Vec<String>,
    /// A group created through Graph refuses member adds until it has replicated (graph-behaviour §3 quirk).
    #[serde(skip)]
    pub(crate) replicated_at: Option<Instant>,
}

impl Group {
    /// Rule-based membership (`groupTypes` has `DynamicMembership`): no direct member writes.
    pub(crate) fn is_dynamic(&self) -> bool {
        self.group_types.iter().any(|t| t == "DynamicMembership")
    }
    /// A Microsoft 365 group (`groupTypes` has `Unified`): devices cannot be members.
    pub(crate) fn is_unified(&self) -> bool {
        self.group_types.iter().any(|t| t == "Unified")
    }
}

/// The tenant-wide device registration policy, stored in the current (non-legacy) shape.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeviceRegistrationPolicy {
    /// `userDeviceQuota`; a PUT without it sets it to 0 (graph-behaviour §1).
    pub user_device_quota: i64,
    /// `multiFactorAuthConfiguration`: `notRequired` or `required`.
    pub multi_factor_auth_configuration: String,
    /// `azureADRegistration`, as JSON; a PUT may not change it (Intune is enabled).
    #[serde(rename = "azureADRegistration")]
    pub azure_ad_registration: Value,
    /// `azureADJoin` as JSON: who may join devices (`allowedToJoin`) and `localAdmins`.
    #[serde(rename = "azureADJoin")]
    pub azure_ad_join: Value,
    /// `localAdminPassword` (LAPS settings), as JSON.
    pub local_admin_password: Value,
}

/// A `windowsAutopilotDeviceIdentity`: a registered Autopilot device (graph-behaviour §6).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutopilotDevice {
    /// `id`: the key of `windowsAutopilotDeviceIdentities/{id}` and an import's `deviceRegistrationId`.
    pub id: String,
    /// `serialNumber`.
    pub serial_number: String,
    /// The hardware hash it was registered with (base64). Not served; a later import of the same
    /// hash ends in `ZtdDeviceAlreadyAssigned` (graph-behaviour §5).
    #[serde(default)]
    pub hardware_identifier: Option<String>,
    /// `groupTag`; its Entra device carries it as `[OrderID]:<groupTag>` (graph-behaviour §8).
    #[serde(default)]
    pub group_tag: String,
    /// `purchaseOrderIdentifier`.
    #[serde(default)]
    pub purchase_order_identifier: String,
    /// `productKey`.
    #[serde(default)]
    pub product_key: String,
    /// `manufacturer`.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// `model`.
    #[serde(default)]
    pub model: Option<String>,
    /// `enrollmentState` (default `notContacted`); an `enrolled` device cannot be deleted (graph-behaviour §6).
    #[serde(default = "not_contacted")]
    pub enrollment_state: String,
    /// Entra `device.deviceId`; `None` until the Entra device object has appeared.
    #[serde(default)]
    pub azure_active_directory_device_id: Option<String>,
    /// `userPrincipalName` of the assigned user; empty when none.
    #[serde(default)]
    pub user_principal_name: String,
    /// `addressableUserName`: the friendly name shown at OOBE (graph-behaviour §6).
    #[serde(default)]
    pub addressable_user_name: String,
    /// `displayName`.
    #[serde(default)]
    pub display_name: String,
    /// `managedDeviceId` of its Intune managed device; `None` is served as the all-zero GUID.
    #[serde(default)]
    pub managed_device_id: Option<String>,
    /// The deployment profile assigned now (`deploymentProfile`, graph-behaviour §18); `None` = not assigned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_profile_id: Option<String>,
    /// `deploymentProfileAssignedDateTime` of [`Self::deployment_profile_id`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deployment_profile_assigned_date_time: Option<String>,
    /// A profile that targets the device and will be assigned at this instant (status `pending`).
    #[serde(skip)]
    pub(crate) profile_pending: Option<(String, Instant)>,
}

fn not_contacted() -> String {
    "notContacted".into()
}

/// An `importedWindowsAutopilotDeviceIdentity` record: the upload, not the device.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportedDevice {
    /// `id` of the import record.
    pub id: String,
    /// `serialNumber` as uploaded.
    pub serial_number: String,
    /// `hardwareIdentifier`: the hardware hash as uploaded (base64, graph-behaviour §5).
    pub hardware_identifier: String,
    /// `groupTag`, carried over to the Autopilot device.
    #[serde(default)]
    pub group_tag: String,
    /// `productKey`.
    #[serde(default)]
    pub product_key: String,
    /// `importId`.
    #[serde(default)]
    pub import_id: String,
    /// `assignedUserPrincipalName`, carried over as the device's `userPrincipalName`.
    #[serde(default)]
    pub assigned_user_principal_name: String,
    /// `state`: progress and outcome of the import.
    pub state: ImportState,
    /// When the background import settles; `None` once it has.
    #[serde(skip)]
    pub(crate) completes_at: Option<Instant>,
    /// Same hash earlier in the same upload: this one ends in `ZtdDeviceDuplicated`.
    #[serde(skip)]
    pub(crate) duplicate_in_upload: bool,
}

/// An `importedWindowsAutopilotDeviceIdentityState` (graph-behaviour §5).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImportState {
    /// `deviceImportStatus`: `unknown` while the import runs, then `complete` or `error`.
    pub device_import_status: String,
    /// `deviceRegistrationId`: once complete, the id of the Autopilot device it produced.
    pub device_registration_id: String,
    /// `deviceErrorCode`: 0 on success (graph-behaviour §5 lists the codes known).
    pub device_error_code: i64,
    /// `deviceErrorName`, e.g. `ZtdDeviceAlreadyAssigned`: what a client should decide on (graph-behaviour §5).
    pub device_error_name: String,
}

/// An Entra `device` object (graph-behaviour §8).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EntraDevice {
    /// Directory object id: the key for `$ref`, `memberOf`, `checkMemberGroups`.
    pub id: String,
    /// Alternate key set by device registration; what Autopilot calls `azureActiveDirectoryDeviceId`.
    pub device_id: String,
    /// `displayName`.
    pub display_name: String,
    /// `operatingSystem` (default `Windows`).
    #[serde(default = "windows")]
    pub operating_system: String,
    /// `operatingSystemVersion`.
    #[serde(default)]
    pub operating_system_version: Option<String>,
    /// `accountEnabled` (default true).
    #[serde(default = "yes")]
    pub account_enabled: bool,
    /// `physicalIds`, e.g. `[ZTDID]:<id>`, `[OrderID]:<groupTag>`: what dynamic rules match (graph-behaviour §8).
    #[serde(default)]
    pub physical_ids: Vec<String>,
    /// `trustType`.
    #[serde(default)]
    pub trust_type: Option<String>,
    /// A device created by an import stays invisible until this instant.
    #[serde(skip)]
    pub(crate) visible_at: Option<Instant>,
    /// When a device created by an import or a partner registration became visible.
    #[serde(skip)]
    pub(crate) appeared_at: Option<Instant>,
    /// The Autopilot device whose `azureActiveDirectoryDeviceId` is set when this one appears.
    #[serde(skip)]
    pub(crate) autopilot_device: Option<String>,
}

fn windows() -> String {
    "Windows".into()
}

/// An Autopilot deployment profile, served as a user-driven Entra join profile (graph-behaviour §18).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct DeploymentProfile {
    /// `id`.
    pub id: String,
    /// `displayName`.
    pub display_name: String,
    /// `description`.
    #[serde(default)]
    pub description: String,
    /// `deviceNameTemplate`, e.g. `CON-%SERIAL%`.
    #[serde(default)]
    pub device_name_template: String,
    /// Groups it is assigned to, served as its `assignments` (`groupAssignmentTarget`s).
    #[serde(default)]
    pub assigned_group_ids: Vec<String>,
}

/// An Enrollment Status Page, a `windows10EnrollmentCompletionPageConfiguration` (graph-behaviour §10).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EnrollmentStatusPage {
    /// `id`.
    pub id: String,
    /// `displayName`.
    pub display_name: String,
    /// `priority`.
    #[serde(default)]
    pub priority: i64,
    /// `showInstallationProgress` (beta only).
    #[serde(default)]
    pub show_installation_progress: bool,
    /// `installProgressTimeoutInMinutes` (beta only).
    #[serde(default)]
    pub install_progress_timeout_in_minutes: i64,
    /// `trackInstallProgressForAutopilotOnly` (beta only).
    #[serde(default)]
    pub track_install_progress_for_autopilot_only: bool,
    /// `allowNonBlockingAppInstallation`.
    #[serde(default)]
    pub allow_non_blocking_app_installation: bool,
    /// Groups it is assigned to, served as its `assignments`.
    #[serde(default)]
    pub assigned_group_ids: Vec<String>,
}

/// A `mobilityManagementPolicy` for an MDM application (graph-behaviour §10): whose devices auto-enroll.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct MdmPolicy {
    /// `id`; Intune's policy is `0000000a-0000-0000-c000-000000000000`.
    pub id: String,
    /// `displayName`.
    pub display_name: String,
    /// `description`.
    #[serde(default)]
    pub description: String,
    /// MDM user scope: None, All, or Some (`selected`: the members of `includedGroupIds`).
    pub applies_to: PolicyScope,
    /// `includedGroups`, by id: who is in scope when `appliesTo` is `selected`.
    #[serde(default)]
    pub included_group_ids: Vec<String>,
    /// `complianceUrl`.
    #[serde(default)]
    pub compliance_url: String,
    /// `discoveryUrl`.
    #[serde(default)]
    pub discovery_url: String,
    /// `termsOfUseUrl`.
    #[serde(default)]
    pub terms_of_use_url: String,
    /// `isValid` (default true).
    #[serde(default = "yes")]
    pub is_valid: bool,
}

/// Graph's `policyScope`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PolicyScope {
    /// `none`: no user's devices enroll automatically.
    #[default]
    None,
    /// `all`: every user's devices enroll automatically.
    All,
    /// `selected`: the devices of members of the included groups.
    Selected,
}

impl PolicyScope {
    /// The wire value (`none`, `all`, `selected`).
    pub(crate) fn as_str(self) -> &'static str {
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
    /// `id`.
    pub id: String,
    /// `importedDeviceIdentifier`, e.g. `manufacturer,model,serial` (graph-behaviour §9).
    pub imported_device_identifier: String,
    /// `importedDeviceIdentityType`, e.g. `manufacturerModelSerial`.
    pub imported_device_identity_type: String,
    /// `description`.
    #[serde(default)]
    pub description: String,
    /// `createdDateTime`.
    #[serde(default)]
    pub created_date_time: String,
    /// `lastModifiedDateTime`.
    #[serde(default)]
    pub last_modified_date_time: String,
}

/// `windowsAutopilotSettings` plus the timers behind the sync guard.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct AutopilotSettings {
    /// `lastSyncDateTime` (`0001-01-01T00:00:00Z` = never).
    pub last_sync_date_time: String,
    /// `lastManualSyncTriggerDateTime` (`0001-01-01T00:00:00Z` = never).
    pub last_manual_sync_trigger_date_time: String,
    /// `syncStatus`: `inProgress` while a sync runs, else `completed`.
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

/// A service principal (graph-behaviour §20): an app's identity in this tenant; it can own groups.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ServicePrincipal {
    /// Directory object id (what `owners` lists).
    pub id: String,
    /// `appId`: the application's client id (the key of `/servicePrincipals(appId='…')`).
    pub app_id: String,
    /// `displayName`.
    pub display_name: String,
    /// `appOwnerOrganizationId`: the tenant that owns the application (Microsoft's, for first-party apps).
    #[serde(default)]
    pub app_owner_organization_id: Option<String>,
}

/// A settings-catalog `deviceManagementConfigurationPolicy` (beta). With the defaults it is an
/// Autopilot device preparation policy, user-driven (graph-behaviour §20).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ConfigurationPolicy {
    /// `id`.
    pub id: String,
    /// `name` (settings-catalog policies have `name`, not `displayName`).
    pub name: String,
    /// `description`.
    #[serde(default)]
    pub description: String,
    /// `platforms` (default `windows10`).
    #[serde(default = "windows10")]
    pub platforms: String,
    /// `technologies` (default `enrollment`; e.g. `mdm` for an ordinary settings policy).
    #[serde(default = "enrollment")]
    pub technologies: String,
    /// `templateReference.templateId` (default the user-driven device preparation template).
    #[serde(default = "dp_user_driven")]
    pub template_id: String,
    /// `templateReference.templateFamily` (default `enrollmentConfiguration`; `none` for a plain policy).
    #[serde(default = "enrollment_configuration")]
    pub template_family: String,
    /// Groups it is assigned to (for device preparation: the *user* group), served as `assignments`.
    #[serde(default)]
    pub assigned_group_ids: Vec<String>,
    /// The enrollment-time device membership target: the device group devices join as they enroll.
    #[serde(default)]
    pub enrollment_time_device_membership_targets: Vec<String>,
}

fn windows10() -> String {
    "windows10".into()
}
fn enrollment() -> String {
    "enrollment".into()
}
fn enrollment_configuration() -> String {
    "enrollmentConfiguration".into()
}
fn dp_user_driven() -> String {
    crate::demo::DP_TEMPLATE_USER_DRIVEN.into()
}

/// A device an OEM, reseller or Partner Center registers after `afterSeconds` (emulated), with
/// no import record (graph-behaviour §21). It then appears in `windowsAutopilotDeviceIdentities` and its
/// Entra device object `entraDeviceSecs` later (graph-behaviour §8).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PartnerRegistration {
    /// The `windowsAutopilotDeviceIdentity.id` it will get (drawn from the seeded RNG if absent).
    #[serde(default)]
    pub id: Option<String>,
    /// `serialNumber`.
    pub serial_number: String,
    /// `manufacturer`.
    #[serde(default)]
    pub manufacturer: Option<String>,
    /// `model`.
    #[serde(default)]
    pub model: Option<String>,
    /// `groupTag` the partner set (often none: the customer sets it with `updateDeviceProperties`).
    #[serde(default)]
    pub group_tag: String,
    /// `purchaseOrderIdentifier`.
    #[serde(default)]
    pub purchase_order_identifier: String,
    /// The hash the partner registered (never shown); default `demo::hardware_hash(serial)`, so a
    /// later import of that hash ends in `ZtdDeviceAlreadyAssigned` (graph-behaviour §21).
    #[serde(default)]
    pub hardware_identifier: Option<String>,
    /// Emulated seconds after load (or after the admin call) until the device is registered.
    #[serde(default)]
    pub after_seconds: f64,
    #[serde(skip)]
    pub(crate) due_at: Option<Instant>,
}

/// A `deviceManagementAutopilotEvent` (graph-behaviour §19), served as stored. Text fields left
/// empty by `POST /_emulator/autopilot-events` are filled in (success by default).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields, default)]
#[allow(missing_docs)] // each field is the Graph property of the same name (graph-behaviour §19)
pub struct AutopilotEvent {
    pub id: String,
    pub device_id: String,
    pub user_id: String,
    pub device_serial_number: String,
    pub managed_device_name: String,
    pub user_principal_name: String,
    pub os_version: String,
    pub event_date_time: String,
    pub device_registered_date_time: String,
    pub enrollment_start_date_time: String,
    pub deployment_start_date_time: String,
    pub deployment_end_date_time: String,
    pub enrollment_type: String,
    pub windows_autopilot_deployment_profile_display_name: String,
    pub windows10_enrollment_completion_page_configuration_display_name: String,
    pub windows10_enrollment_completion_page_configuration_id: String,
    pub enrollment_state: String,
    pub deployment_state: String,
    pub device_setup_status: String,
    pub account_setup_status: String,
    pub deployment_duration: String,
    pub deployment_total_duration: String,
    pub device_setup_duration: String,
    pub account_setup_duration: String,
    pub enrollment_failure_details: String,
    /// Served at `/autopilotEvents/{id}/policyStatusDetails`, not in the event itself.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub policy_status_details: Vec<Value>,
}

//! `GraphApi`: the Graph operations handlers are written against, in our own words. Each method
//! returns a `Send` future so handlers can run on spawned tasks. `GraphClient` is the only
//! production implementation (it delegates to its inherent methods of the same name, where each
//! operation documents its Graph URL and its shadow-mode result); tests drive it against the
//! emulator. The trait is a seam for reading the code, not an invitation to mock.
//!
//! Not for: the CLI's token probes (`GraphClient::token_obtainable`, `granted_roles`), which
//! are about the client itself rather than the tenant.

use std::future::Future;

use super::client::GraphClient;
use super::error::GraphError;
use super::model::{
    AutopilotDevice, AutopilotDeviceId, AutopilotSettings, CorporateIdentifier, DeploymentProfile,
    DeviceProperties, EntraDevice, EntraDeviceId, EspConfiguration, Group, GroupId, ImportId,
    ImportedDevice, ImportedDeviceId, ImportedIdentity, MdmScope, MemberRef, Membership, NewImport,
    Removal, SyncOutcome, User, UserId,
};
use super::ops_autopilot::ImportStatusRead;
use super::policy::RegistrationPolicy;
use super::policy_writer::JoinOutcome;
use shared::ids::{EmployeeId, SerialNumber, Upn};

type Answer<T> = Result<T, GraphError>;

pub trait GraphApi: Send + Sync {
    // --- users ---
    /// The user with this UPN; `None` on 404 (not provisioned yet, for the new-hire handler).
    fn user_by_upn(&self, upn: &Upn) -> impl Future<Output = Answer<Option<User>>> + Send;
    /// Users carrying this `employeeId` (0, 1, or several if HR data is dirty).
    fn users_by_employee_id(
        &self,
        id: &EmployeeId,
    ) -> impl Future<Output = Answer<Vec<User>>> + Send;

    // --- groups ---
    fn group(&self, id: &GroupId) -> impl Future<Output = Answer<Option<Group>>> + Send;
    /// Direct (not transitive) membership.
    fn is_direct_member(
        &self,
        group: &GroupId,
        member: MemberRef<'_>,
    ) -> impl Future<Output = Answer<bool>> + Send;
    /// Adds a direct member; an existing membership is `AlreadyMember`, not an error.
    fn add_member(
        &self,
        group: &GroupId,
        member: MemberRef<'_>,
    ) -> impl Future<Output = Answer<Membership>> + Send;
    /// The subset of `groups` the member belongs to, transitively.
    fn check_member_groups(
        &self,
        member: MemberRef<'_>,
        groups: &[GroupId],
    ) -> impl Future<Output = Answer<Vec<GroupId>>> + Send;

    // --- Entra devices ---
    fn entra_device_by_device_id(
        &self,
        id: &EntraDeviceId,
    ) -> impl Future<Output = Answer<Option<EntraDevice>>> + Send;

    // --- device registration policy ---
    fn registration_policy(&self) -> impl Future<Output = Answer<RegistrationPolicy>> + Send;
    /// Whole-object PUT after a fresh read; refused (never sent) when it breaks a rail.
    fn put_registration_policy(
        &self,
        desired: &RegistrationPolicy,
    ) -> impl Future<Output = Answer<RegistrationPolicy>> + Send;
    /// Adds users to the Selected join list through the process's single folding writer.
    fn ensure_users_allowed_to_join(
        &self,
        users: &[UserId],
    ) -> impl Future<Output = Answer<JoinOutcome>> + Send;

    // --- Autopilot ---
    /// Devices whose serial is exactly this one (filter quirks handled).
    fn autopilot_devices_by_serial(
        &self,
        serial: &SerialNumber,
    ) -> impl Future<Output = Answer<Vec<AutopilotDevice>>> + Send;
    fn autopilot_device(
        &self,
        id: &AutopilotDeviceId,
    ) -> impl Future<Output = Answer<Option<AutopilotDevice>>> + Send;
    fn import_autopilot_device(
        &self,
        new: &NewImport,
    ) -> impl Future<Output = Answer<ImportedDevice>> + Send;
    fn imported_device(
        &self,
        id: &ImportedDeviceId,
    ) -> impl Future<Output = Answer<Option<ImportedDevice>>> + Send;
    fn imported_devices(&self) -> impl Future<Output = Answer<Vec<ImportedDevice>>> + Send;
    /// Bulk status read of several import records (`$batch`); per record, 404 → `None`.
    fn imported_devices_by_ids(
        &self,
        ids: &[ImportedDeviceId],
    ) -> impl Future<Output = Answer<Vec<ImportStatusRead>>> + Send;
    /// Only the import records carrying our `importId`.
    fn imported_devices_with_import_id(
        &self,
        import_id: &ImportId,
    ) -> impl Future<Output = Answer<Vec<ImportedDevice>>> + Send;
    fn delete_imported_device(
        &self,
        id: &ImportedDeviceId,
    ) -> impl Future<Output = Answer<Removal>> + Send;
    /// Tenant-wide sync; refusals (409 running, 429 within 10 minutes) are outcomes.
    fn sync_autopilot(&self) -> impl Future<Output = Answer<SyncOutcome>> + Send;
    fn autopilot_settings(&self) -> impl Future<Output = Answer<AutopilotSettings>> + Send;
    fn assign_user_to_device(
        &self,
        id: &AutopilotDeviceId,
        upn: &Upn,
        addressable_user_name: &str,
    ) -> impl Future<Output = Answer<()>> + Send;
    fn update_device_properties(
        &self,
        id: &AutopilotDeviceId,
        props: &DeviceProperties,
    ) -> impl Future<Output = Answer<()>> + Send;
    /// `deploymentProfileAssignmentStatus` (beta only, graph-behaviour §6); `None` when the device is gone.
    fn autopilot_profile_assignment_status(
        &self,
        id: &AutopilotDeviceId,
    ) -> impl Future<Output = Answer<Option<String>>> + Send;

    // --- corporate identifiers ---
    fn corporate_identifier_exists(
        &self,
        id: &CorporateIdentifier,
    ) -> impl Future<Output = Answer<bool>> + Send;
    fn import_corporate_identifier(
        &self,
        id: &CorporateIdentifier,
    ) -> impl Future<Output = Answer<ImportedIdentity>> + Send;

    // --- readiness (read-only) ---
    fn deployment_profiles(&self) -> impl Future<Output = Answer<Vec<DeploymentProfile>>> + Send;
    fn esp_configurations(&self) -> impl Future<Output = Answer<Vec<EspConfiguration>>> + Send;
    fn mdm_user_scope(&self) -> impl Future<Output = Answer<MdmScope>> + Send;
}

/// Each trait method calls `GraphClient`'s inherent method of the same name (inherent methods
/// win path resolution, so this does not recurse).
macro_rules! delegate_to_inherent {
    ($( fn $name:ident(&self $(, $arg:ident : $ty:ty)*) -> $ret:ty; )*) => {
        impl GraphApi for GraphClient {
            $(
                fn $name(&self $(, $arg: $ty)*) -> impl Future<Output = Answer<$ret>> + Send {
                    GraphClient::$name(self $(, $arg)*)
                }
            )*
        }
    };
}

delegate_to_inherent! {
    fn user_by_upn(&self, upn: &Upn) -> Option<User>;
    fn users_by_employee_id(&self, id: &EmployeeId) -> Vec<User>;
    fn group(&self, id: &GroupId) -> Option<Group>;
    fn is_direct_member(&self, group: &GroupId, member: MemberRef<'_>) -> bool;
    fn add_member(&self, group: &GroupId, member: MemberRef<'_>) -> Membership;
    fn check_member_groups(&self, member: MemberRef<'_>, groups: &[GroupId]) -> Vec<GroupId>;
    fn entra_device_by_device_id(&self, id: &EntraDeviceId) -> Option<EntraDevice>;
    fn registration_policy(&self) -> RegistrationPolicy;
    fn put_registration_policy(&self, desired: &RegistrationPolicy) -> RegistrationPolicy;
    fn ensure_users_allowed_to_join(&self, users: &[UserId]) -> JoinOutcome;
    fn autopilot_devices_by_serial(&self, serial: &SerialNumber) -> Vec<AutopilotDevice>;
    fn autopilot_device(&self, id: &AutopilotDeviceId) -> Option<AutopilotDevice>;
    fn import_autopilot_device(&self, new: &NewImport) -> ImportedDevice;
    fn imported_device(&self, id: &ImportedDeviceId) -> Option<ImportedDevice>;
    fn imported_devices(&self) -> Vec<ImportedDevice>;
    fn imported_devices_by_ids(&self, ids: &[ImportedDeviceId]) -> Vec<ImportStatusRead>;
    fn imported_devices_with_import_id(&self, import_id: &ImportId) -> Vec<ImportedDevice>;
    fn delete_imported_device(&self, id: &ImportedDeviceId) -> Removal;
    fn sync_autopilot(&self) -> SyncOutcome;
    fn autopilot_settings(&self) -> AutopilotSettings;
    fn assign_user_to_device(&self, id: &AutopilotDeviceId, upn: &Upn, addressable_user_name: &str) -> ();
    fn update_device_properties(&self, id: &AutopilotDeviceId, props: &DeviceProperties) -> ();
    fn autopilot_profile_assignment_status(&self, id: &AutopilotDeviceId) -> Option<String>;
    fn corporate_identifier_exists(&self, id: &CorporateIdentifier) -> bool;
    fn import_corporate_identifier(&self, id: &CorporateIdentifier) -> ImportedIdentity;
    fn deployment_profiles(&self) -> Vec<DeploymentProfile>;
    fn esp_configurations(&self) -> Vec<EspConfiguration>;
    fn mdm_user_scope(&self) -> MdmScope;
}

//! Autopilot device preparation reads (graph-behaviour §20): the policies and their user-group
//! assignments, the device group Intune validates for a policy, that group's owners and kind,
//! and the Intune Provisioning Client service principal. Reads only: we never set the device
//! group or create the service principal.
//!
//! Not for: judging a tenant ready (the preflight combines these) or corporate identifiers
//! (`ops_corporate.rs`).

use reqwest::Method;
use serde::Deserialize;

use super::call::{Call, Version};
use super::client::{Core, GraphClient};
use super::error::{GraphError, Operation};
use super::escape::segment;
use super::model::preparation::ConfigurationPolicyWire;
use super::model::{
    Assignment, DeviceGroupTarget, DevicePreparationPolicy, GROUP_SELECT, Group, GroupId,
    GroupMembership, GroupOwner, GroupType, ServicePrincipal,
};
use super::ops_directory::found;

const READ_POLICY: Operation = Operation {
    name: "read device preparation policy",
    permission: "DeviceManagementConfiguration.Read.All",
};
const READ_GROUP: Operation = Operation {
    name: "read group",
    permission: "GroupMember.Read.All",
};
const READ_APP: Operation = Operation {
    name: "read service principal",
    permission: "Application.Read.All",
};
const POLICIES: &str = "/deviceManagement/configurationPolicies";

impl GraphClient {
    /// `GET /beta/deviceManagement/configurationPolicies?$filter=technologies has 'enrollment'`
    /// (all pages), keeping the policies whose `templateReference.templateFamily` is
    /// `enrollmentConfiguration` (graph-behaviour §20).
    ///
    /// The longer filter found in public code is UNVERIFIED, so the template is checked here;
    /// tolerant reading: if Graph refuses even this filter (400), every policy is listed and
    /// checked the same way.
    pub async fn device_preparation_policies(
        &self,
    ) -> Result<Vec<DevicePreparationPolicy>, GraphError> {
        let list = Call::get(Version::Beta, POLICIES, POLICIES.into(), READ_POLICY);
        let filtered = list
            .clone()
            .query("$filter", "technologies has 'enrollment'");
        let wires: Vec<ConfigurationPolicyWire> = match self.core.read_all(&filtered).await {
            Err(GraphError::BadRequest { status: 400, .. }) => {
                tracing::warn!(url.template = %list.route, "technologies filter refused; listing all configuration policies.");
                self.core.read_all(&list).await?
            }
            other => other?,
        };
        Ok(wires
            .into_iter()
            .filter_map(ConfigurationPolicyWire::into_preparation_policy)
            .collect())
    }

    /// `GET /beta/deviceManagement/configurationPolicies/{id}/assignments` (all pages): who the
    /// policy is assigned to, a user group for device preparation. The path is the settings
    /// catalog's; that it holds this template's assignments is UNVERIFIED (graph-behaviour §20).
    pub async fn device_preparation_policy_assignments(
        &self,
        policy: &str,
    ) -> Result<Vec<Assignment>, GraphError> {
        self.assignments(
            Version::Beta,
            READ_POLICY,
            POLICIES,
            "/deviceManagement/configurationPolicies/{id}/assignments",
            policy,
        )
        .await
    }

    /// `POST /beta/deviceManagement/configurationPolicies/{id}/retrieveEnrollmentTimeDeviceMembershipTarget`,
    /// no body, a read: the policy's device group and Intune's checks of it (owner, static
    /// security group, …) (graph-behaviour §20). GD wraps the answer in `{"value": {…}}`;
    /// tolerant reading: the bare object is accepted too. A 500 ("failures other than
    /// validation") is `Unavailable`, transient.
    pub async fn device_preparation_device_group(
        &self,
        policy: &str,
    ) -> Result<DeviceGroupTarget, GraphError> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Answer {
            Wrapped { value: DeviceGroupTarget },
            Bare(DeviceGroupTarget),
        }
        let call = Call::new(
            Method::POST,
            Version::Beta,
            "/deviceManagement/configurationPolicies/{id}/retrieveEnrollmentTimeDeviceMembershipTarget",
            format!(
                "{POLICIES}/{}/retrieveEnrollmentTimeDeviceMembershipTarget",
                segment(policy)
            ),
            READ_POLICY,
        )
        .reads();
        Ok(match Core::json(&call, &self.core.read(&call).await?)? {
            Answer::Wrapped { value } | Answer::Bare(value) => value,
        })
    }

    /// `GET /beta/groups/{id}/owners?$select=id,appId,displayName` (all pages). Beta, because
    /// v1.0 `/owners` leaves service principals out (graph-behaviour §20). Look for the owner with
    /// [`GroupOwner::is_app`] and `INTUNE_PROVISIONING_CLIENT_APP_ID`.
    pub async fn group_owners(&self, group: &GroupId) -> Result<Vec<GroupOwner>, GraphError> {
        let call = Call::get(
            Version::Beta,
            "/groups/{id}/owners",
            format!("/groups/{}/owners", segment(group.as_str())),
            READ_GROUP,
        )
        .query("$select", "id,appId,displayName");
        self.core.read_all(&call).await
    }

    /// `GET /v1.0/servicePrincipals(appId='…')` → the service principal, or `None` on 404: it
    /// can be missing from a tenant (graph-behaviour §20).
    pub async fn service_principal_by_app_id(
        &self,
        app_id: &str,
    ) -> Result<Option<ServicePrincipal>, GraphError> {
        let call = Call::get(
            Version::V1,
            "/servicePrincipals(appId='{appId}')",
            format!(
                "/servicePrincipals(appId='{}')",
                segment(&app_id.replace('\'', "''"))
            ),
            READ_APP,
        );
        found(
            self.core
                .read(&call)
                .await
                .and_then(|r| Core::json(&call, &r)),
        )
    }

    /// `GET /v1.0/groups/{id}?$select=…,isAssignableToRole` → whether the group is assigned or
    /// dynamic, security, Microsoft 365, role-assignable: the device group of device preparation
    /// must be an assigned security group (graph-behaviour §20); 404 → `None`.
    pub async fn group_type(&self, group: &GroupId) -> Result<Option<GroupType>, GraphError> {
        #[derive(Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire {
            #[serde(flatten)]
            group: Group,
            #[serde(default)]
            is_assignable_to_role: Option<bool>,
        }
        let call = Call::get(
            Version::V1,
            "/groups/{id}",
            format!("/groups/{}", segment(group.as_str())),
            READ_GROUP,
        )
        .query("$select", format!("{GROUP_SELECT},isAssignableToRole"));
        let wire: Option<Wire> = found(
            self.core
                .read(&call)
                .await
                .and_then(|r| Core::json(&call, &r)),
        )?;
        Ok(wire.map(|w| GroupType {
            membership: if w.group.is_dynamic() {
                GroupMembership::Dynamic
            } else {
                GroupMembership::Assigned
            },
            group: w.group,
            role_assignable: w.is_assignable_to_role,
        }))
    }
}

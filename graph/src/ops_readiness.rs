//! Read-only preflight operations (graph-behaviour §10): deployment profiles and Enrollment Status
//! Page configurations with their assignments, and the MDM user scope, which application
//! permissions cannot read (a 403 there is an answer, not a failure).
//!
//! Not for: judging readiness; the CLI's preflight decides what is good enough.

use super::call::{Call, Version};
use super::client::{Core, GraphClient};
use super::error::{GraphError, Operation};
use super::escape::segment;
use super::model::readiness::AssignmentWire;
use super::model::{
    Assignment, ConfigurationWire, DeploymentProfile, EspConfiguration, GroupId, MdmScope,
};

const READ_CONFIG: Operation = Operation {
    name: "read enrollment configuration",
    permission: "DeviceManagementServiceConfig.Read.All",
};
const PROFILES: &str = "/deviceManagement/windowsAutopilotDeploymentProfiles";
const ENROLLMENT: &str = "/deviceManagement/deviceEnrollmentConfigurations";
/// Intune's own MDM policy id (used by CIPP, Microsoft365DSC and the Windows 365 docs).
const INTUNE_MDM_POLICY: &str = "0000000a-0000-0000-c000-000000000000";

impl GraphClient {
    /// `GET /beta/deviceManagement/windowsAutopilotDeploymentProfiles` (all pages), then
    /// `GET …/{id}/assignments` for each.
    pub async fn deployment_profiles(&self) -> Result<Vec<DeploymentProfile>, GraphError> {
        let list = Call::get(Version::Beta, PROFILES, PROFILES.into(), READ_CONFIG);
        let mut out = Vec::new();
        for p in self.core.read_all::<ConfigurationWire>(&list).await? {
            let assignments = self
                .assignments(
                    Version::Beta,
                    READ_CONFIG,
                    PROFILES,
                    "/deviceManagement/windowsAutopilotDeploymentProfiles/{id}/assignments",
                    &p.id,
                )
                .await?;
            out.push(DeploymentProfile {
                id: p.id,
                display_name: p.display_name,
                assignments,
            });
        }
        Ok(out)
    }

    /// `GET /beta/deviceManagement/deviceEnrollmentConfigurations` (all pages), keeping the
    /// Enrollment Status Page ones, then `GET …/{id}/assignments` for each.
    pub async fn esp_configurations(&self) -> Result<Vec<EspConfiguration>, GraphError> {
        let list = Call::get(Version::Beta, ENROLLMENT, ENROLLMENT.into(), READ_CONFIG);
        let mut out = Vec::new();
        for c in self.core.read_all::<ConfigurationWire>(&list).await? {
            let Some(is_default) = c.esp_kind() else {
                continue;
            };
            let assignments = self
                .assignments(
                    Version::Beta,
                    READ_CONFIG,
                    ENROLLMENT,
                    "/deviceManagement/deviceEnrollmentConfigurations/{id}/assignments",
                    &c.id,
                )
                .await?;
            out.push(EspConfiguration {
                id: c.id,
                display_name: c.display_name,
                is_default,
                priority: c.priority,
                assignments,
            });
        }
        Ok(out)
    }

    /// `GET /beta/policies/mobileDeviceManagementPolicies/{intune}?$expand=includedGroups`.
    /// Graph documents "Application: Not supported" for this API, so a 403 maps to
    /// `NotReadableWithApplicationPermissions` rather than an error.
    pub async fn mdm_user_scope(&self) -> Result<MdmScope, GraphError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire {
            #[serde(default)]
            applies_to: String,
            #[serde(default)]
            included_groups: Vec<GroupRef>,
        }
        #[derive(serde::Deserialize)]
        struct GroupRef {
            id: GroupId,
        }
        let op = Operation {
            name: "read MDM user scope",
            permission: "Policy.Read.All (delegated only)",
        };
        let call = Call::get(
            Version::Beta,
            "/policies/mobileDeviceManagementPolicies/{id}",
            format!("/policies/mobileDeviceManagementPolicies/{INTUNE_MDM_POLICY}"),
            op,
        )
        .query("$expand", "includedGroups");
        match self.core.read(&call).await {
            Ok(r) => {
                let w: Wire = Core::json(&call, &r)?;
                Ok(MdmScope::Readable {
                    applies_to: w.applies_to,
                    included_groups: w.included_groups.into_iter().map(|g| g.id).collect(),
                })
            }
            Err(GraphError::PermissionDenied { .. }) => {
                Ok(MdmScope::NotReadableWithApplicationPermissions)
            }
            Err(e) => Err(e),
        }
    }

    /// `GET {collection}/{id}/assignments`, all pages: the Intune assignment list shared by
    /// profiles, enrollment configurations and configuration policies.
    pub(crate) async fn assignments(
        &self,
        version: Version,
        op: Operation,
        collection: &str,
        template: &'static str,
        id: &str,
    ) -> Result<Vec<Assignment>, GraphError> {
        let path = format!("{collection}/{}/assignments", segment(id));
        let call = Call::get(version, template, path, op);
        let wires: Vec<AssignmentWire> = self.core.read_all(&call).await?;
        Ok(wires.into_iter().map(Assignment::from).collect())
    }
}

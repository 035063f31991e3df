//! Reads only `onboardctl status` needs: an Autopilot device's deployment-profile assignment
//! status, which Graph exposes on beta only (graph-behaviour §6).
//!
//! Not for: the v1.0 device reads handlers make (`ops_autopilot.rs`).

use super::call::{Call, Version};
use super::client::{Core, GraphClient};
use super::error::{GraphError, Operation};
use super::escape::segment;
use super::model::AutopilotDeviceId;
use super::ops_directory::found;

impl GraphClient {
    /// `GET /beta/deviceManagement/windowsAutopilotDeviceIdentities/{id}` →
    /// `deploymentProfileAssignmentStatus` (`notAssigned`, `pending`, `assignedInSync`,
    /// `assignedUnkownSyncState` \[sic\], …); `Ok(None)` on 404, `Some("")` if Graph omits it.
    pub async fn autopilot_profile_assignment_status(
        &self,
        id: &AutopilotDeviceId,
    ) -> Result<Option<String>, GraphError> {
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "camelCase")]
        struct Wire {
            #[serde(default)]
            deployment_profile_assignment_status: String,
        }
        let op = Operation {
            name: "read Autopilot devices",
            permission: "DeviceManagementServiceConfig.Read.All",
        };
        let call = Call::get(
            Version::Beta,
            "/deviceManagement/windowsAutopilotDeviceIdentities/{id}",
            format!(
                "/deviceManagement/windowsAutopilotDeviceIdentities/{}",
                segment(id.as_str())
            ),
            op,
        );
        let wire: Option<Wire> = found(
            self.core
                .read(&call)
                .await
                .and_then(|r| Core::json(&call, &r)),
        )?;
        Ok(wire.map(|w| w.deployment_profile_assignment_status))
    }
}

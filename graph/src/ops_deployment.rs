//! After registration (graph-behaviour §18, §19): a device's deployment-profile assignment with the
//! profile it got, and the Autopilot deployment events Intune records for a serial. Reads only,
//! all on beta (v1.0 has neither).
//!
//! Not for: the deployment profiles themselves with their group assignments
//! (`ops_readiness.rs`, [`GraphClient::deployment_profiles`]) or following either over time.

use super::call::{Call, Version};
use super::client::{Core, GraphClient};
use super::error::{GraphError, Operation};
use super::escape::{filter_literal, segment};
use super::model::{AutopilotDeviceId, AutopilotEvent, ProfileAssignment};
use super::ops_directory::found;
use shared::ids::SerialNumber;

const READ_AUTOPILOT: Operation = Operation {
    name: "read Autopilot profile assignment",
    permission: "DeviceManagementServiceConfig.Read.All",
};
// Both stored revisions of the list page name this one; one also names configuration
// permissions (graph-behaviour §19).
const READ_EVENTS: Operation = Operation {
    name: "read Autopilot deployment events",
    permission: "DeviceManagementManagedDevices.Read.All",
};
const EVENTS: &str = "/deviceManagement/autopilotEvents";

impl GraphClient {
    /// `GET /beta/deviceManagement/windowsAutopilotDeviceIdentities/{id}?$expand=deploymentProfile,intendedDeploymentProfile`
    /// → the assignment status and the profile (id and name) assigned now and about to be
    /// (graph-behaviour §18); 404 → `None`. Ready to ship: [`ProfileAssignment::ready_profile`].
    ///
    /// The `$expand` is documented by the beta device resource and used by AT-psm1, not by a
    /// reference page of its own; tolerant reading: a 400 on it is asked again without it, and
    /// then the status comes without the profiles.
    pub async fn profile_assignment(
        &self,
        id: &AutopilotDeviceId,
    ) -> Result<Option<ProfileAssignment>, GraphError> {
        let device = Call::get(
            Version::Beta,
            "/deviceManagement/windowsAutopilotDeviceIdentities/{id}",
            format!(
                "/deviceManagement/windowsAutopilotDeviceIdentities/{}",
                segment(id.as_str())
            ),
            READ_AUTOPILOT,
        );
        let expanded = device
            .clone()
            .query("$expand", "deploymentProfile,intendedDeploymentProfile");
        let reply = match self.core.read(&expanded).await {
            Err(GraphError::BadRequest { status: 400, .. }) => {
                tracing::warn!(url.template = %device.route, "$expand refused; reading the status without the profiles.");
                self.core.read(&device).await
            }
            other => other,
        };
        found(reply.and_then(|r| Core::json(&device, &r)))
    }

    /// `GET /beta/deviceManagement/autopilotEvents?$filter=deviceSerialNumber eq '…'` (all pages)
    /// → the deployment events for `serial`, latest `eventDateTime` first (graph-behaviour §19).
    ///
    /// That filter is UNVERIFIED and might be ignored, so every event is compared with the serial
    /// here (without ASCII case, as the Autopilot serial lookup does); if Graph refuses the filter
    /// (400), every event is listed and compared the same way. Expect several events per device
    /// (retries, resets): the first is the current state.
    pub async fn autopilot_events_for_serial(
        &self,
        serial: &SerialNumber,
    ) -> Result<Vec<AutopilotEvent>, GraphError> {
        let list = Call::get(Version::Beta, EVENTS, EVENTS.into(), READ_EVENTS);
        let filtered = list.clone().query(
            "$filter",
            format!("deviceSerialNumber eq {}", filter_literal(serial.as_str())),
        );
        let events: Vec<AutopilotEvent> = match self.core.read_all(&filtered).await {
            Err(GraphError::BadRequest { status: 400, .. }) => {
                tracing::warn!(url.template = %list.route, "deviceSerialNumber filter refused; listing all Autopilot events.");
                self.core.read_all(&list).await?
            }
            other => other?,
        };
        let mut ours: Vec<AutopilotEvent> = events
            .into_iter()
            .filter(|e| {
                e.device_serial_number
                    .as_deref()
                    .is_some_and(|s| s.trim().eq_ignore_ascii_case(serial.as_str()))
            })
            .collect();
        // Latest first; an event without a time sorts last.
        ours.sort_by_key(|e| std::cmp::Reverse(e.event_date_time));
        Ok(ours)
    }
}

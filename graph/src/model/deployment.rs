//! After registration (graph-behaviour §18, §19): whether a device's deployment profile is
//! assigned, and what the Autopilot deployment on the device itself reported.
//!
//! Not for: waiting. These types name what Graph says now; the device services park the
//! re-checks on the broker and decide when to give up.

use serde::{Deserialize, Deserializer};
use time::OffsetDateTime;

use super::autopilot::lenient_time;

// === Profile assignment (graph-behaviour §18) ===

wire_enum!(
    /// `deploymentProfileAssignmentStatus` (graph-behaviour §18).
    ProfileAssignmentStatus {
        /// Graph does not know (0).
        Unknown = "unknown",
        /// Assigned in Intune and in step with the Autopilot service (1): ready to ship.
        AssignedInSync = "assignedInSync",
        /// Assigned, not yet in step (2).
        AssignedOutOfSync = "assignedOutOfSync",
        /// Assigned, sync state unknown (3). Graph's spelling lacks an "o"; the corrected
        /// spelling is accepted too, in case Microsoft ever fixes it.
        AssignedUnknownSyncState = "assignedUnkownSyncState" | "assignedUnknownSyncState",
        /// No profile targets the device (yet) (4).
        NotAssigned = "notAssigned",
        /// Assignment under way (5).
        Pending = "pending",
        /// Assignment failed (6); see the detailed status.
        Failed = "failed",
    }
);

impl ProfileAssignmentStatus {
    /// A profile is assigned, whether or not the Autopilot service has caught up.
    pub fn is_assigned(&self) -> bool {
        matches!(
            self,
            Self::AssignedInSync | Self::AssignedOutOfSync | Self::AssignedUnknownSyncState
        )
    }
}

/// A deployment profile as a device references it (`deploymentProfile`, `intendedDeploymentProfile`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AssignedProfile {
    /// The profile's id.
    pub id: String,
    /// Its name in the Intune admin center.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `#microsoft.graph.azureADWindowsAutopilotDeploymentProfile` (Entra join) or
    /// `…activeDirectoryWindowsAutopilotDeploymentProfile` (hybrid join).
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
}

/// A device's deployment-profile assignment, as the beta device read with
/// `$expand=deploymentProfile,intendedDeploymentProfile` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProfileAssignment {
    /// `deploymentProfileAssignmentStatus`; `None` when Graph leaves it out (v1.0 has none).
    #[serde(default, rename = "deploymentProfileAssignmentStatus")]
    pub status: Option<ProfileAssignmentStatus>,
    /// `deploymentProfileAssignmentDetailedStatus` (`none`, `hardwareRequirementsNotMet`, …).
    #[serde(default, rename = "deploymentProfileAssignmentDetailedStatus")]
    pub detailed_status: Option<String>,
    /// When the profile was set.
    #[serde(
        default,
        rename = "deploymentProfileAssignedDateTime",
        deserialize_with = "lenient_time"
    )]
    pub assigned_at: Option<OffsetDateTime>,
    /// The profile assigned now, when Graph expanded one.
    #[serde(default, rename = "deploymentProfile")]
    pub profile: Option<AssignedProfile>,
    /// The profile about to be assigned, when Graph expanded one.
    #[serde(default, rename = "intendedDeploymentProfile")]
    pub intended_profile: Option<AssignedProfile>,
}

impl ProfileAssignment {
    /// The profile the device will run, when it is ready to ship: `assignedInSync` with a
    /// profile (graph-behaviour §18, our rule). Compare its id with the expected profile, if any.
    pub fn ready_profile(&self) -> Option<&AssignedProfile> {
        (self.status == Some(ProfileAssignmentStatus::AssignedInSync))
            .then_some(self.profile.as_ref())
            .flatten()
    }
}

// === Deployment result (graph-behaviour §19) ===

wire_enum!(
    /// `deploymentState`, `deviceSetupStatus` and `accountSetupStatus` of an Autopilot event.
    DeploymentState {
        /// Not known.
        Unknown = "unknown",
        /// Finished well.
        Success = "success",
        /// Still running.
        InProgress = "inProgress",
        /// Failed.
        Failure = "failure",
        /// Finished after the ESP's timeout.
        SuccessWithTimeout = "successWithTimeout",
        /// Never started.
        NotAttempted = "notAttempted",
        /// Switched off.
        Disabled = "disabled",
        /// Finished well after a retry.
        SuccessOnRetry = "successOnRetry",
    }
);

impl DeploymentState {
    /// `success`, `successWithTimeout` or `successOnRetry` (graph-behaviour §19, our rule).
    pub fn is_success(&self) -> bool {
        matches!(
            self,
            Self::Success | Self::SuccessWithTimeout | Self::SuccessOnRetry
        )
    }
}

wire_enum!(
    /// `enrollmentState` of an Autopilot device or event.
    EnrollmentState {
        /// Not known.
        Unknown = "unknown",
        /// Enrolled in Intune.
        Enrolled = "enrolled",
        /// Waiting for a reset.
        PendingReset = "pendingReset",
        /// Enrollment failed.
        Failed = "failed",
        /// The device has not contacted Intune.
        NotContacted = "notContacted",
        /// Enrollment was blocked.
        Blocked = "blocked",
    }
);

/// Where a failed deployment stopped, earliest phase first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentPhase {
    /// MDM enrollment (`enrollmentState` failed or blocked).
    Enrollment,
    /// The device part of the Enrollment Status Page (`deviceSetupStatus`).
    DeviceSetup,
    /// The user part of the Enrollment Status Page (`accountSetupStatus`).
    AccountSetup,
}

/// What one event says about the deployment (graph-behaviour §19, our rule).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeploymentOutcome {
    /// `deploymentState` is a success.
    Deployed,
    /// `deploymentState` is `failure`.
    Failed,
    /// Anything else: keep watching until the deadline.
    NotFinished,
}

/// Durations an event reports; signed, because Graph's own sample has negative ones, and not
/// to be relied on (its "total" is shorter than the deployment).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeploymentDurations {
    /// `deploymentDuration`.
    pub deployment: Option<time::Duration>,
    /// `deploymentTotalDuration`.
    pub total: Option<time::Duration>,
    /// `deviceSetupDuration`.
    pub device_setup: Option<time::Duration>,
    /// `accountSetupDuration`.
    pub account_setup: Option<time::Duration>,
}

/// One `deviceManagementAutopilotEvent` (beta). Every field is optional: a field we cannot read
/// is `None` rather than an unreadable event.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AutopilotEvent {
    /// The event's id.
    pub id: String,
    /// The Intune managed device id.
    #[serde(default)]
    pub device_id: Option<String>,
    /// The serial the event is about (re-checked by the client: the filter may be ignored).
    #[serde(default)]
    pub device_serial_number: Option<String>,
    /// The managed device's name.
    #[serde(default)]
    pub managed_device_name: Option<String>,
    /// The user who ran the deployment.
    #[serde(default)]
    pub user_principal_name: Option<String>,
    /// When the event was recorded; the latest event is the current state.
    #[serde(default, deserialize_with = "lenient_time")]
    pub event_date_time: Option<OffsetDateTime>,
    /// When enrollment started.
    #[serde(default, deserialize_with = "lenient_time")]
    pub enrollment_start_date_time: Option<OffsetDateTime>,
    /// When the deployment started.
    #[serde(default, deserialize_with = "lenient_time")]
    pub deployment_start_date_time: Option<OffsetDateTime>,
    /// When the deployment ended.
    #[serde(default, deserialize_with = "lenient_time")]
    pub deployment_end_date_time: Option<OffsetDateTime>,
    /// `azureADJoinedWithAutopilotProfile`, …
    #[serde(default)]
    pub enrollment_type: Option<String>,
    /// The deployment profile that ran.
    #[serde(default, rename = "windowsAutopilotDeploymentProfileDisplayName")]
    pub profile_display_name: Option<String>,
    /// The Enrollment Status Page that ran.
    #[serde(
        default,
        rename = "windows10EnrollmentCompletionPageConfigurationDisplayName"
    )]
    pub esp_display_name: Option<String>,
    /// MDM enrollment state.
    #[serde(default)]
    pub enrollment_state: Option<EnrollmentState>,
    /// The deployment as a whole.
    #[serde(default)]
    pub deployment_state: Option<DeploymentState>,
    /// The device part of the ESP.
    #[serde(default)]
    pub device_setup_status: Option<DeploymentState>,
    /// The user part of the ESP.
    #[serde(default)]
    pub account_setup_status: Option<DeploymentState>,
    /// Intune's text on a failed enrollment.
    #[serde(default)]
    pub enrollment_failure_details: Option<String>,
    #[serde(default, deserialize_with = "lenient_duration")]
    deployment_duration: Option<time::Duration>,
    #[serde(default, deserialize_with = "lenient_duration")]
    deployment_total_duration: Option<time::Duration>,
    #[serde(default, deserialize_with = "lenient_duration")]
    device_setup_duration: Option<time::Duration>,
    #[serde(default, deserialize_with = "lenient_duration")]
    account_setup_duration: Option<time::Duration>,
}

impl AutopilotEvent {
    /// Deployed, failed, or not finished, from `deploymentState` alone.
    pub fn outcome(&self) -> DeploymentOutcome {
        match &self.deployment_state {
            Some(s) if s.is_success() => DeploymentOutcome::Deployed,
            Some(DeploymentState::Failure) => DeploymentOutcome::Failed,
            _ => DeploymentOutcome::NotFinished,
        }
    }

    /// The earliest phase that failed, if any says so.
    pub fn failing_phase(&self) -> Option<DeploymentPhase> {
        let failed = |s: &Option<DeploymentState>| s == &Some(DeploymentState::Failure);
        if matches!(
            self.enrollment_state,
            Some(EnrollmentState::Failed | EnrollmentState::Blocked)
        ) {
            Some(DeploymentPhase::Enrollment)
        } else if failed(&self.device_setup_status) {
            Some(DeploymentPhase::DeviceSetup)
        } else if failed(&self.account_setup_status) {
            Some(DeploymentPhase::AccountSetup)
        } else {
            None
        }
    }

    /// Intune's failure text, when it gave a non-empty one.
    pub fn failure_details(&self) -> Option<&str> {
        self.enrollment_failure_details
            .as_deref()
            .map(str::trim)
            .filter(|d| !d.is_empty())
    }

    /// The durations the event reports.
    pub fn durations(&self) -> DeploymentDurations {
        DeploymentDurations {
            deployment: self.deployment_duration,
            total: self.deployment_total_duration,
            device_setup: self.device_setup_duration,
            account_setup: self.account_setup_duration,
        }
    }
}

/// An `Edm.Duration`, or `None` when absent or unreadable.
fn lenient_duration<'de, D: Deserializer<'de>>(d: D) -> Result<Option<time::Duration>, D::Error> {
    let raw: Option<String> = Option::deserialize(d)?;
    Ok(raw.as_deref().and_then(parse_edm_duration))
}

/// Parses an ISO 8601 day-time duration as OData writes it: `PT3M21.5549443S`, `-PT2M57.2190107S`,
/// `P1DT2H`. Years and months have no fixed length and are refused (`None`).
pub fn parse_edm_duration(raw: &str) -> Option<time::Duration> {
    let raw = raw.trim();
    let (negative, rest) = match raw.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, raw),
    };
    let rest = rest.strip_prefix('P')?;
    let (date, clock) = rest.split_once('T').unwrap_or((rest, ""));
    if date.is_empty() && clock.is_empty() {
        return None;
    }
    let mut total = time::Duration::ZERO;
    for (part, units) in [
        (date, &[('W', 604_800), ('D', 86_400)][..]),
        (clock, &[('H', 3600), ('M', 60), ('S', 1)][..]),
    ] {
        total += sum_components(part, units)?;
    }
    Some(if negative { -total } else { total })
}

/// `3H2M1.5S` with the units allowed in this part, each at most once and in order. Fractions
/// (seconds only) are read digit by digit, so seven fractional digits stay exact.
fn sum_components(mut part: &str, units: &[(char, i64)]) -> Option<time::Duration> {
    let mut total = time::Duration::ZERO;
    let mut allowed = units;
    while !part.is_empty() {
        let end = part.find(|c: char| c.is_ascii_alphabetic())?;
        let unit = part[end..].chars().next()?;
        let at = allowed.iter().position(|(u, _)| *u == unit)?;
        let (whole, fraction) = part[..end].split_once('.').unwrap_or((&part[..end], ""));
        if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        if !fraction.bytes().all(|b| b.is_ascii_digit()) || (!fraction.is_empty() && unit != 'S') {
            return None;
        }
        let seconds = whole.parse::<i64>().ok()?.checked_mul(allowed[at].1)?;
        let nanos: i64 = format!("{fraction:0<9}")[..9].parse().ok()?;
        total = total.checked_add(time::Duration::new(seconds, nanos as i32))?;
        allowed = &allowed[at + 1..];
        part = &part[end + 1..];
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_from_graphs_own_sample_parse_with_sign_and_seven_digits() {
        assert_eq!(
            parse_edm_duration("PT3M21.5549443S"),
            Some(time::Duration::new(201, 554_944_300))
        );
        assert_eq!(
            parse_edm_duration("-PT2M57.2190107S"),
            Some(-time::Duration::new(177, 219_010_700))
        );
        assert_eq!(
            parse_edm_duration("P1DT2H"),
            Some(time::Duration::hours(26))
        );
        for bad in ["", "P", "PT", "P1Y", "PT1.5M", "PT5", "3M", "PT2S1M"] {
            assert_eq!(parse_edm_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn the_assignment_status_is_read_in_graphs_spelling_and_the_corrected_one() {
        for raw in ["assignedUnkownSyncState", "assignedUnknownSyncState"] {
            assert_eq!(
                ProfileAssignmentStatus::from(raw.to_owned()),
                ProfileAssignmentStatus::AssignedUnknownSyncState
            );
        }
        assert_eq!(
            ProfileAssignmentStatus::AssignedUnknownSyncState.as_str(),
            "assignedUnkownSyncState"
        );
        let new = ProfileAssignmentStatus::from("somethingNew".to_owned());
        assert_eq!(new.as_str(), "somethingNew");
        assert!(!new.is_assigned());
    }

    #[test]
    fn a_failed_event_names_its_earliest_failing_phase() {
        let e: AutopilotEvent = serde_json::from_str(
            r#"{"id":"e1","deploymentState":"Failure","enrollmentState":"enrolled","deviceSetupStatus":"success",
                "accountSetupStatus":"failure","enrollmentFailureDetails":" App install timed out ",
                "eventDateTime":"2016-12-31T23:59:37.257201-08:00","deviceSetupDuration":"bogus"}"#,
        )
        .unwrap();
        assert_eq!(e.outcome(), DeploymentOutcome::Failed);
        assert_eq!(e.failing_phase(), Some(DeploymentPhase::AccountSetup));
        assert_eq!(e.failure_details(), Some("App install timed out"));
        assert_eq!(e.durations().device_setup, None, "unreadable, not fatal");
        assert_eq!(e.event_date_time.unwrap().offset().whole_hours(), -8);
    }
}

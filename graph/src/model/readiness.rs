//! Read-only tenant prerequisites for the CLI's preflight (graph-behaviour §10): Autopilot deployment
//! profiles and Enrollment Status Page configurations with their group assignments, and the
//! MDM user scope, which application permissions cannot read.
//!
//! Not for: changing any of these; the services never write enrollment configuration.

use serde::Deserialize;

use super::GroupId;

/// One assignment of a profile or configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assignment {
    /// The assignment's id.
    pub id: String,
    /// `#microsoft.graph.groupAssignmentTarget`, `…allDevicesAssignmentTarget`, `…exclusionGroupAssignmentTarget`, …
    pub target_type: String,
    /// The group, for group targets.
    pub group: Option<GroupId>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct AssignmentWire {
    #[serde(default)]
    id: String,
    #[serde(default)]
    target: AssignmentTarget,
}

#[derive(Debug, Default, Deserialize)]
struct AssignmentTarget {
    #[serde(rename = "@odata.type", default)]
    odata_type: String,
    #[serde(rename = "groupId", default)]
    group_id: Option<String>,
}

impl From<AssignmentWire> for Assignment {
    fn from(w: AssignmentWire) -> Self {
        Assignment {
            id: w.id,
            target_type: w.target.odata_type,
            group: w
                .target
                .group_id
                .filter(|g| !g.is_empty())
                .map(GroupId::new),
        }
    }
}

/// `windowsAutopilotDeploymentProfile` (beta), with its assignments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeploymentProfile {
    /// The profile's id.
    pub id: String,
    /// Its name in the Intune admin center.
    pub display_name: String,
    /// Who it is assigned to.
    pub assignments: Vec<Assignment>,
}

/// A `windows10EnrollmentCompletionPageConfiguration` (or the default one), with assignments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EspConfiguration {
    /// The configuration's id.
    pub id: String,
    /// Its name in the Intune admin center.
    pub display_name: String,
    /// True for `defaultWindows10EnrollmentCompletionPageConfiguration` (applies to all).
    pub is_default: bool,
    /// Its priority among ESPs (lower wins); `None` for the default one.
    pub priority: Option<i64>,
    /// Who it is assigned to.
    pub assignments: Vec<Assignment>,
}

/// The list item shape shared by profiles and enrollment configurations.
#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfigurationWire {
    pub id: String,
    #[serde(rename = "@odata.type", default)]
    pub odata_type: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub priority: Option<i64>,
    /// `deviceEnrollmentConfigurationType` (beta), when present.
    #[serde(default)]
    pub device_enrollment_configuration_type: Option<String>,
}

impl ConfigurationWire {
    /// Whether this enrollment configuration is an ESP, by `@odata.type` or the beta type field.
    pub(crate) fn esp_kind(&self) -> Option<bool> {
        let t = self
            .odata_type
            .trim_start_matches("#microsoft.graph.")
            .to_owned();
        let kind = self
            .device_enrollment_configuration_type
            .clone()
            .unwrap_or_default();
        for k in [t.as_str(), kind.as_str()] {
            if k.eq_ignore_ascii_case("windows10EnrollmentCompletionPageConfiguration") {
                return Some(false);
            }
            if k.eq_ignore_ascii_case("defaultWindows10EnrollmentCompletionPageConfiguration") {
                return Some(true);
            }
        }
        None
    }
}

/// Automatic-enrollment (MDM user scope) as far as we can see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MdmScope {
    /// `appliesTo` = `none|all|selected`, and the groups when `selected`.
    Readable {
        /// `none`, `all` or `selected`.
        applies_to: String,
        /// The groups in scope when `selected`.
        included_groups: Vec<GroupId>,
    },
    /// 403: Graph documents "Application: Not supported" for this API, so a daemon cannot
    /// check it. The operator must confirm it in the Entra admin center.
    NotReadableWithApplicationPermissions,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn esp_configurations_are_recognised_by_either_type_field() {
        let esp: ConfigurationWire = serde_json::from_str(
            r##"{"id":"1","@odata.type":"#microsoft.graph.windows10EnrollmentCompletionPageConfiguration","displayName":"ESP"}"##,
        )
        .unwrap();
        assert_eq!(esp.esp_kind(), Some(false));
        let default: ConfigurationWire = serde_json::from_str(
            r#"{"id":"2","deviceEnrollmentConfigurationType":"defaultWindows10EnrollmentCompletionPageConfiguration"}"#,
        )
        .unwrap();
        assert_eq!(default.esp_kind(), Some(true));
        let limit: ConfigurationWire = serde_json::from_str(
            r##"{"id":"3","@odata.type":"#microsoft.graph.deviceEnrollmentLimitConfiguration"}"##,
        )
        .unwrap();
        assert_eq!(limit.esp_kind(), None);
    }

    #[test]
    fn group_assignment_targets_keep_their_group() {
        let a: Assignment = serde_json::from_str::<AssignmentWire>(
            r##"{"id":"a1","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g1"},"source":"direct"}"##,
        )
        .unwrap()
        .into();
        assert_eq!(a.group, Some(GroupId::new("g1")));
        assert!(a.target_type.ends_with("groupAssignmentTarget"));
    }
}

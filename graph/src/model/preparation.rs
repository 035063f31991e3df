//! Autopilot device preparation (graph-behaviour §20): the policy, its device group as Intune
//! validates it, the group's owners and kind, and the Intune Provisioning Client service principal.
//!
//! Not for: judging a tenant ready; the preflight combines these answers into what to fix.

use serde::Deserialize;

use super::{DirectoryObjectId, Group, GroupId};

/// `appId` of the Intune Provisioning Client, which must own the device group. Its display name
/// varies between tenants ("Intune Autopilot ConfidentialClient"): match on this only.
pub const INTUNE_PROVISIONING_CLIENT_APP_ID: &str = "f1346770-5b25-470b-88bd-d5744ab7952c";

/// Template of user-driven device preparation policies.
pub const USER_DRIVEN_TEMPLATE_ID: &str = "80d33118-b7b4-40d8-b15f-81be745e053f_1";
/// Template of automatic (self-deploying) device preparation policies.
pub const AUTOMATIC_TEMPLATE_ID: &str = "a6157a7f-aa00-42d9-ac82-7d2479f545db_1";
/// The `templateFamily` of device preparation policies.
pub const ENROLLMENT_TEMPLATE_FAMILY: &str = "enrollmentConfiguration";

/// Which flow a device preparation policy drives, from its template id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PreparationKind {
    /// `80d33118-…_1`: the user signs in at OOBE.
    UserDriven,
    /// `a6157a7f-…_1`: no user at OOBE.
    Automatic,
    /// Another template of the same family (third parties mention an older `70d256b3-…_1`).
    OtherTemplate(String),
}

/// A settings-catalog policy of the `enrollmentConfiguration` family.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DevicePreparationPolicy {
    /// The policy id (`configurationPolicies/{id}`).
    pub id: String,
    /// Its name in the Intune admin center (settings-catalog policies have `name`, not `displayName`).
    pub name: String,
    /// User-driven, automatic, or another template.
    pub kind: PreparationKind,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct ConfigurationPolicyWire {
    id: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    display_name: Option<String>,
    #[serde(default)]
    template_reference: Option<TemplateReference>,
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
struct TemplateReference {
    #[serde(default)]
    template_id: Option<String>,
    #[serde(default)]
    template_family: Option<String>,
}

impl ConfigurationPolicyWire {
    /// The policy, if its template says it is a device preparation policy (the listing's filter
    /// on `technologies` alone lets other enrollment policies through).
    pub(crate) fn into_preparation_policy(self) -> Option<DevicePreparationPolicy> {
        let template = self.template_reference?;
        let family = template.template_family.unwrap_or_default();
        if !family.eq_ignore_ascii_case(ENROLLMENT_TEMPLATE_FAMILY) {
            return None;
        }
        let id = template.template_id.unwrap_or_default();
        let kind = if id.eq_ignore_ascii_case(USER_DRIVEN_TEMPLATE_ID) {
            PreparationKind::UserDriven
        } else if id.eq_ignore_ascii_case(AUTOMATIC_TEMPLATE_ID) {
            PreparationKind::Automatic
        } else {
            PreparationKind::OtherTemplate(id)
        };
        Some(DevicePreparationPolicy {
            id: self.id,
            name: self.name.or(self.display_name).unwrap_or_default(),
            kind,
        })
    }
}

/// The answer of `retrieveEnrollmentTimeDeviceMembershipTarget`: the policy's device group and
/// Intune's own checks of it. Decide on the Booleans, not on the code (GD's sample pairs
/// `validationSucceeded: true` with `securityGroupNotFound`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceGroupTarget {
    /// Whether every target passed Intune's checks.
    #[serde(default)]
    pub validation_succeeded: bool,
    /// One status per device group.
    #[serde(
        default,
        rename = "enrollmentTimeDeviceMembershipTargetValidationStatuses"
    )]
    pub targets: Vec<DeviceGroupStatus>,
}

/// Intune's check of one device group.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceGroupStatus {
    /// The group.
    pub target_id: GroupId,
    /// Whether this group passed.
    #[serde(default)]
    pub validation_succeeded: bool,
    /// `securityGroupNotFound`, `notStaticSecurityGroup`, `firstPartyAppNotAnOwner`, …
    #[serde(default)]
    pub target_validation_error_code: Option<String>,
}

/// One owner of a group: a user or a service principal.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupOwner {
    /// The owner's object id.
    pub id: DirectoryObjectId,
    /// `#microsoft.graph.user`, `#microsoft.graph.servicePrincipal`, when Graph says.
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    /// The application id, for a service principal.
    #[serde(default)]
    pub app_id: Option<String>,
    /// Display name, when set.
    #[serde(default)]
    pub display_name: Option<String>,
}

impl GroupOwner {
    /// Whether this owner is the service principal of `app_id`. Decided on `appId` alone: only
    /// service principals carry one, and `@odata.type` may be missing under `$select`.
    pub fn is_app(&self, app_id: &str) -> bool {
        self.app_id
            .as_deref()
            .is_some_and(|a| a.trim().eq_ignore_ascii_case(app_id))
    }
}

/// A service principal, as `servicePrincipals(appId='…')` returns it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServicePrincipal {
    /// The service principal's object id.
    pub id: DirectoryObjectId,
    /// The application it stands for.
    #[serde(default)]
    pub app_id: String,
    /// Display name, when set.
    #[serde(default)]
    pub display_name: Option<String>,
}

/// How a group gets its members.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupMembership {
    /// Members are added explicitly ("Assigned" in the portal).
    Assigned,
    /// Members come from a rule (`groupTypes` holds `DynamicMembership`).
    Dynamic,
}

/// A group with what device preparation asks of it: kind, security, role-assignability.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupType {
    /// The group as the other group reads see it.
    pub group: Group,
    /// Assigned or dynamic.
    pub membership: GroupMembership,
    /// `isAssignableToRole`; `None` when Graph did not return it.
    pub role_assignable: Option<bool>,
}

impl GroupType {
    /// An assigned security group that is not a Microsoft 365 group and not known to be
    /// role-assignable: what the device preparation device group must be (graph-behaviour §20).
    pub fn is_assigned_security_group(&self) -> bool {
        self.membership == GroupMembership::Assigned
            && self.group.can_hold_devices()
            && self.role_assignable != Some(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> Option<DevicePreparationPolicy> {
        serde_json::from_str::<ConfigurationPolicyWire>(json)
            .unwrap()
            .into_preparation_policy()
    }

    #[test]
    fn only_enrollment_configuration_templates_are_preparation_policies() {
        let p = policy(
            r#"{"id":"p1","name":"DP user","templateReference":{"templateId":"80d33118-b7b4-40d8-b15f-81be745e053f_1","templateFamily":"enrollmentConfiguration"}}"#,
        )
        .unwrap();
        assert_eq!(p.kind, PreparationKind::UserDriven);
        assert_eq!(p.name, "DP user");
        let old = policy(
            r#"{"id":"p2","templateReference":{"templateId":"70d256b3-4f88-9e00-0972ec64fc83_1","templateFamily":"EnrollmentConfiguration"}}"#,
        )
        .unwrap();
        assert!(matches!(old.kind, PreparationKind::OtherTemplate(_)));
        assert_eq!(
            policy(r#"{"id":"p3","templateReference":{"templateFamily":"none"}}"#),
            None
        );
        assert_eq!(policy(r#"{"id":"p4"}"#), None);
    }

    #[test]
    fn the_owner_check_matches_on_app_id_only() {
        let sp: GroupOwner = serde_json::from_str(
            r#"{"id":"o1","appId":"F1346770-5B25-470B-88BD-D5744AB7952C","displayName":"Intune Autopilot ConfidentialClient"}"#,
        )
        .unwrap();
        assert!(sp.is_app(INTUNE_PROVISIONING_CLIENT_APP_ID));
        let user: GroupOwner =
            serde_json::from_str(r##"{"@odata.type":"#microsoft.graph.user","id":"u1"}"##).unwrap();
        assert!(!user.is_app(INTUNE_PROVISIONING_CLIENT_APP_ID));
    }
}

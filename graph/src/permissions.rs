//! Which application permissions each feature needs (least privilege, graph-behaviour §1–§10
//! and graph-behaviour §16–§21), and which of them a token's `roles` lack. For the CLI's
//! preflight, next to `GraphClient::granted_roles`, so an admin learns what to grant before
//! the first 403.
//!
//! Not for: enforcing anything; Graph does that. A 403 at run time still names the permission
//! of the operation that failed (`GraphError::PermissionDenied`).

/// One permission a feature needs, and why.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Needed {
    /// The application permission, as Entra names it (`User.Read.All`).
    pub permission: &'static str,
    /// What the feature does with it, for the preflight's report.
    pub why: &'static str,
}

const fn need(permission: &'static str, why: &'static str) -> Needed {
    Needed { permission, why }
}

/// New hire: find the user, add group memberships, and (join mode `users`) edit the policy.
pub const NEW_HIRE: &[Needed] = &[
    need("User.Read.All", "read users by UPN and employeeId"),
    need(
        "GroupMember.ReadWrite.All",
        "read groups, check and add memberships",
    ),
    need(
        "Policy.Read.DeviceConfiguration",
        "read the device registration policy",
    ),
];

/// New hire in join mode `users`: the policy PUT.
pub const NEW_HIRE_USERS_JOIN_MODE: &[Needed] = &[need(
    "Policy.ReadWrite.DeviceConfiguration",
    "add users to the Selected join list",
)];

/// Device purchased: Autopilot import, sync, corporate identifiers, the device group.
pub const DEVICE_PURCHASED: &[Needed] = &[
    need(
        "DeviceManagementServiceConfig.ReadWrite.All",
        "import Autopilot devices, sync, corporate identifiers",
    ),
    need(
        "Device.ReadWrite.All",
        "add Entra devices to the device group (with GroupMember.ReadWrite.All)",
    ),
    need(
        "GroupMember.ReadWrite.All",
        "add Entra devices to the device group",
    ),
];

/// Device shipped: assign the Autopilot device to its user.
pub const DEVICE_SHIPPED: &[Needed] = &[
    need(
        "DeviceManagementServiceConfig.ReadWrite.All",
        "assign a user to an Autopilot device",
    ),
    need("User.Read.All", "read the user the device is assigned to"),
];

/// New hire with a Temporary Access Pass for the first sign-in (graph-behaviour §16, §17): create,
/// list and replace the pass, read the TAP policy, find the manager, mail the pass.
pub const NEW_HIRE_TEMPORARY_ACCESS_PASS: &[Needed] = &[
    // The per-method permission is the least privileged; that it alone allows a create is
    // UNVERIFIED, so the broader UserAuthenticationMethod.ReadWrite.All is accepted too (BROADER).
    need(
        "UserAuthMethod-TAP.ReadWrite.All",
        "create, list and replace Temporary Access Passes (UserAuthenticationMethod.ReadWrite.All also does)",
    ),
    need(
        "Policy.Read.AuthenticationMethod",
        "read the Temporary Access Pass policy (Policy.Read.All also does)",
    ),
    need("User.Read.All", "read the new hire's manager"),
    need(
        "Mail.Send",
        "mail the pass from the sender mailbox (limit it to that mailbox with RBAC for Applications)",
    ),
];

/// Device purchased in `device_preparation` mode, and its preflight (graph-behaviour §20): the
/// policy, its assignments and device group, the group's owners and kind, the service principal.
pub const DEVICE_PREPARATION: &[Needed] = &[
    need(
        "DeviceManagementConfiguration.Read.All",
        "read the device preparation policy, its assignments and its device group",
    ),
    need(
        "GroupMember.Read.All",
        "read the device group's kind and owners",
    ),
    need(
        "Application.Read.All",
        "find the Intune Provisioning Client service principal",
    ),
    need(
        "DeviceManagementServiceConfig.ReadWrite.All",
        "corporate identifiers; check that the serial is not in classic Autopilot",
    ),
];

/// Device purchased: follow the profile assignment, and tag partner-registered devices
/// (graph-behaviour §18, §21). The write covers the read.
pub const DEVICE_REGISTRATION_FOLLOW_UP: &[Needed] = &[need(
    "DeviceManagementServiceConfig.ReadWrite.All",
    "read profile assignment status; set the group tag of partner-registered devices",
)];

/// Watching the deployment result (graph-behaviour §19).
pub const DEPLOYMENT_WATCH: &[Needed] = &[need(
    "DeviceManagementManagedDevices.Read.All",
    "read Autopilot deployment events",
)];

/// Permissions that grant at least what another one does, as (narrower, broader): the
/// broader one is accepted where the narrower is asked for (graph-behaviour §16).
const BROADER: &[(&str, &str)] = &[
    (
        "UserAuthMethod-TAP.ReadWrite.All",
        "UserAuthenticationMethod.ReadWrite.All",
    ),
    (
        "UserAuthMethod-TAP.Read.All",
        "UserAuthenticationMethod.Read.All",
    ),
    ("Policy.Read.AuthenticationMethod", "Policy.Read.All"),
    (
        "Policy.Read.AuthenticationMethod",
        "Policy.ReadWrite.AuthenticationMethod",
    ),
];

/// The entries of `needed` that `granted` does not cover. `X.ReadWrite.Y` covers `X.Read.Y`,
/// and a broader permission covers a narrower one (`BROADER`).
pub fn missing<'a>(granted: &[String], needed: &'a [Needed]) -> Vec<&'a Needed> {
    needed
        .iter()
        .filter(|n| !granted.iter().any(|g| covers(g, n.permission)))
        .collect()
}

fn covers(granted: &str, needed: &str) -> bool {
    covers_directly(granted, needed)
        || BROADER.iter().any(|(narrow, broad)| {
            covers_directly(narrow, needed) && covers_directly(granted, broad)
        })
}

fn covers_directly(granted: &str, needed: &str) -> bool {
    granted == needed
        || needed
            .split_once(".Read.")
            .is_some_and(|(res, scope)| granted == format!("{res}.ReadWrite.{scope}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn read_write_covers_read_and_nothing_else_is_assumed() {
        let granted = vec![
            "User.Read.All".to_owned(),
            "GroupMember.ReadWrite.All".to_owned(),
            "Policy.ReadWrite.DeviceConfiguration".to_owned(),
        ];
        assert!(missing(&granted, NEW_HIRE).is_empty());
        assert!(missing(&granted, NEW_HIRE_USERS_JOIN_MODE).is_empty());
        let lacking: Vec<&str> = missing(&granted, DEVICE_PURCHASED)
            .iter()
            .map(|n| n.permission)
            .collect();
        assert_eq!(
            lacking,
            vec![
                "DeviceManagementServiceConfig.ReadWrite.All",
                "Device.ReadWrite.All"
            ]
        );
        assert!(!covers("User.Read.All", "User.ReadWrite.All"));
    }

    #[test]
    fn the_broader_authentication_method_permissions_are_accepted_for_a_pass() {
        let broad = vec![
            "UserAuthenticationMethod.ReadWrite.All".to_owned(),
            "Policy.Read.All".to_owned(),
            "User.Read.All".to_owned(),
            "Mail.Send".to_owned(),
        ];
        assert!(missing(&broad, NEW_HIRE_TEMPORARY_ACCESS_PASS).is_empty());
        assert!(covers(
            "UserAuthMethod-TAP.ReadWrite.All",
            "UserAuthMethod-TAP.Read.All"
        ));
        assert!(covers(
            "UserAuthenticationMethod.ReadWrite.All",
            "UserAuthMethod-TAP.Read.All"
        ));
        let lacking: Vec<&str> = missing(
            &["UserAuthMethod-TAP.Read.All".to_owned()],
            NEW_HIRE_TEMPORARY_ACCESS_PASS,
        )
        .iter()
        .map(|n| n.permission)
        .collect();
        assert_eq!(
            lacking,
            vec![
                "UserAuthMethod-TAP.ReadWrite.All",
                "Policy.Read.AuthenticationMethod",
                "User.Read.All",
                "Mail.Send"
            ],
            "a narrower one never covers a broader one"
        );
        assert!(!covers(
            "Policy.Read.AuthenticationMethod",
            "Policy.Read.All"
        ));
    }
}

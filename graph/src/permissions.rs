//! Which application permissions each feature needs (least privilege, graph-behaviour §1–§10), and
//! which of them a token's `roles` lack. For the CLI's preflight, next to
//! `GraphClient::granted_roles`, so an admin learns what to grant before the first 403.
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

/// The entries of `needed` that `granted` does not cover. `X.ReadWrite.Y` covers `X.Read.Y`.
pub fn missing<'a>(granted: &[String], needed: &'a [Needed]) -> Vec<&'a Needed> {
    needed
        .iter()
        .filter(|n| !granted.iter().any(|g| covers(g, n.permission)))
        .collect()
}

fn covers(granted: &str, needed: &str) -> bool {
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
}

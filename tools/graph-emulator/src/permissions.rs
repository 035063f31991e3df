//! Which permissions each Graph operation requires, as one table: route template → all of
//! these groups, each satisfied by any one of its permissions. Taken from the reference
//! (graph-behaviour §1, §2, §3, §5–§10, §16, §17); a higher permission (ReadWrite, Directory.*) satisfies a lower one.
//! An empty group can never be satisfied: that is how "Application: Not supported" reads.
//!
//! An app-only token is judged by its `roles`, a delegated token by its `scp`, against the same
//! permission names unless a row names delegated ones of its own (the MDM policy, graph-behaviour §10, which
//! also demands a directory role of the signed-in user). Real Graph limits every delegated call
//! to what the user may do; the emulator models that only where the reference names the roles.

/// One row: `method template` needs every group in `all_of`, each by any of its members.
pub struct Requirement {
    /// HTTP method (`GET`, `POST`, …).
    pub method: &'static str,
    /// Version-less template, as in the route table (`/groups/{id}/members/$ref`).
    pub template: &'static str,
    /// What an app-only token's `roles` must satisfy.
    pub all_of: &'static [&'static [&'static str]],
    /// What a delegated token's `scp` must satisfy, when it differs from `all_of`.
    pub delegated: Option<&'static [&'static [&'static str]]>,
    /// Delegated tokens only: the signed-in user must hold one of these directory roles
    /// (empty: no role is checked).
    pub user_roles: &'static [&'static str],
}

impl Requirement {
    /// The permission groups a token must satisfy: delegated (`scp`) or application (`roles`).
    pub fn for_token(&self, delegated: bool) -> &'static [&'static [&'static str]] {
        match (delegated, self.delegated) {
            (true, Some(d)) => d,
            _ => self.all_of,
        }
    }
}

const USER_READ: &[&str] = &[
    "User.Read.All",
    "User.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const USER_WRITE: &[&str] = &["User.ReadWrite.All", "Directory.ReadWrite.All"];
const GROUP_READ: &[&str] = &[
    "Group.Read.All",
    "Group.ReadWrite.All",
    "GroupMember.Read.All",
    "GroupMember.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const GROUP_CREATE: &[&str] = &[
    "Group.Create",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
];
const MEMBER_READ: &[&str] = GROUP_READ;
const MEMBER_WRITE: &[&str] = &[
    "GroupMember.ReadWrite.All",
    "Group.ReadWrite.All",
    "Directory.ReadWrite.All",
];
/// Adding a *device* to a group needs this on top of [`MEMBER_WRITE`] (graph-behaviour §3); checked by the handler.
pub const DEVICE_WRITE: &[&str] = &["Device.ReadWrite.All", "Directory.ReadWrite.All"];
const DEVICE_READ: &[&str] = &[
    "Device.Read.All",
    "Device.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
const POLICY_READ: &[&str] = &[
    "Policy.Read.DeviceConfiguration",
    "Policy.ReadWrite.DeviceConfiguration",
];
const POLICY_WRITE: &[&str] = &["Policy.ReadWrite.DeviceConfiguration"];
const DMSC_READ: &[&str] = &[
    "DeviceManagementServiceConfig.Read.All",
    "DeviceManagementServiceConfig.ReadWrite.All",
];
const DMSC_WRITE: &[&str] = &["DeviceManagementServiceConfig.ReadWrite.All"];
const SYNC: &[&str] = &[
    "DeviceManagementServiceConfig.ReadWrite.All",
    "DeviceManagementConfiguration.ReadWrite.All",
];
/// graph-behaviour §19: `DeviceManagementManagedDevices.Read.All` is the permission every stored revision names.
const MANAGED_DEVICES_READ: &[&str] = &[
    "DeviceManagementManagedDevices.Read.All",
    "DeviceManagementManagedDevices.ReadWrite.All",
];
/// graph-behaviour §20: settings-catalog policies.
const DMC_READ: &[&str] = &[
    "DeviceManagementConfiguration.Read.All",
    "DeviceManagementConfiguration.ReadWrite.All",
];
/// graph-behaviour §20: service principals (`Application.Read.All`, or higher).
const APPLICATION_READ: &[&str] = &[
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.ReadWrite.All",
];
/// graph-behaviour §10: the MDM policy answers "Application: Not supported" — no permission suffices.
const NOT_FOR_APPS: &[&str] = &[];
/// graph-behaviour §10, delegated (work or school account): least privileged, then higher.
const MDM_POLICY_READ: &[&str] = &["Policy.Read.All", "Policy.ReadWrite.MobilityManagement"];
/// graph-behaviour §10: "the signed-in user must be assigned a supported Microsoft Entra role": the docs'
/// least privileged ones, and Global Administrator, which holds every permission.
pub const MDM_POLICY_READER_ROLES: &[&str] = &[
    "Global Reader",
    "Intune Administrator",
    "Windows 365 Administrator",
    "Cloud Device Administrator",
    "Global Administrator",
];

/// graph-behaviour §16: create and delete a pass. The create page names
/// UserAuthenticationMethod.ReadWrite.All; that UserAuthMethod-TAP.ReadWrite.All alone suffices is
/// UNVERIFIED in the reference and accepted here (third-party runbooks fixed their 403 with it).
const TAP_WRITE: &[&str] = &[
    "UserAuthenticationMethod.ReadWrite.All",
    "UserAuthMethod-TAP.ReadWrite.All",
];
/// graph-behaviour §16: list and get (least UserAuthMethod-TAP.Read.All; older pages UserAuthenticationMethod.Read.All).
const TAP_READ: &[&str] = &[
    "UserAuthMethod-TAP.Read.All",
    "UserAuthMethod-TAP.ReadWrite.All",
    "UserAuthenticationMethod.Read.All",
    "UserAuthenticationMethod.ReadWrite.All",
];
/// graph-behaviour §16: the TAP policy (least Policy.Read.AuthenticationMethod; older pages Policy.Read.All).
const AUTH_METHOD_POLICY_READ: &[&str] = &[
    "Policy.Read.AuthenticationMethod",
    "Policy.ReadWrite.AuthenticationMethod",
    "Policy.Read.All",
];
/// graph-behaviour §17: sendMail as any user.
const MAIL_SEND: &[&str] = &["Mail.Send"];

/// The 403 a token without a row's permissions gets: Exchange's `ErrorAccessDenied` on
/// sendMail (graph-behaviour §17), the directory's `Authorization_RequestDenied` elsewhere.
pub fn denial(template: &str) -> crate::reply::ApiError {
    if template.ends_with("/sendMail") {
        return crate::reply::ApiError::Coded {
            status: 403,
            code: "ErrorAccessDenied",
            message: crate::routes::MAIL_ACCESS_DENIED.into(),
        };
    }
    crate::reply::ApiError::Forbidden
}

const fn r(
    method: &'static str,
    template: &'static str,
    all_of: &'static [&'static [&'static str]],
) -> Requirement {
    Requirement {
        method,
        template,
        all_of,
        delegated: None,
        user_roles: &[],
    }
}

/// A read of the MDM policy: no application permission, delegated only, and a reader role.
const fn mdm_read(template: &'static str) -> Requirement {
    Requirement {
        method: "GET",
        template,
        all_of: &[NOT_FOR_APPS],
        delegated: Some(&[MDM_POLICY_READ]),
        user_roles: MDM_POLICY_READER_ROLES,
    }
}

const IMPORTS: &str = "/deviceManagement/importedWindowsAutopilotDeviceIdentities";

/// The table: exactly one row per route of the route table (a unit test checks both ways).
pub static PERMISSIONS: &[Requirement] = &[
    // graph-behaviour §2 users
    r("GET", "/users", &[USER_READ]),
    r("POST", "/users", &[USER_WRITE]),
    r("GET", "/users/{id}", &[USER_READ]),
    r("GET", "/users/{id}/memberOf", &[USER_READ, MEMBER_READ]),
    r(
        "GET",
        "/users/{id}/memberOf/{id}",
        &[USER_READ, MEMBER_READ],
    ),
    r(
        "POST",
        "/users/{id}/checkMemberGroups",
        &[USER_READ, MEMBER_READ],
    ),
    // graph-behaviour §16 Temporary Access Pass; graph-behaviour §17 manager and mail
    r("POST", crate::routes::TAP, &[TAP_WRITE]),
    r("GET", crate::routes::TAP, &[TAP_READ]),
    r("GET", crate::routes::TAP_ONE, &[TAP_READ]),
    r("DELETE", crate::routes::TAP_ONE, &[TAP_WRITE]),
    r("GET", "/users/{id}/manager", &[USER_READ]),
    r("POST", "/users/{id}/sendMail", &[MAIL_SEND]),
    // graph-behaviour §3 groups
    r("GET", "/groups", &[GROUP_READ]),
    r("POST", "/groups", &[GROUP_CREATE]),
    r("GET", "/groups/{id}", &[GROUP_READ]),
    r("PATCH", "/groups/{id}", &[MEMBER_WRITE]),
    r("GET", "/groups/{id}/members", &[MEMBER_READ]),
    r("GET", "/groups/{id}/members/{id}", &[MEMBER_READ]),
    r("POST", "/groups/{id}/members/$ref", &[MEMBER_WRITE]),
    r("DELETE", "/groups/{id}/members/{id}/$ref", &[MEMBER_WRITE]),
    r("POST", "/groups/{id}/checkMemberGroups", &[MEMBER_READ]),
    r(
        "POST",
        "/directoryObjects/{id}/checkMemberGroups",
        &[MEMBER_READ],
    ),
    // graph-behaviour §8 Entra devices
    r("GET", "/devices", &[DEVICE_READ]),
    r("GET", "/devices/{id}", &[DEVICE_READ]),
    r("GET", "/devices(deviceId='{id}')", &[DEVICE_READ]),
    r("GET", "/devices/{id}/memberOf", &[DEVICE_READ, MEMBER_READ]),
    r(
        "POST",
        "/devices/{id}/checkMemberGroups",
        &[DEVICE_READ, MEMBER_READ],
    ),
    // graph-behaviour §1 device registration policy; graph-behaviour §10 MDM policy
    r("GET", "/policies/deviceRegistrationPolicy", &[POLICY_READ]),
    r("PUT", "/policies/deviceRegistrationPolicy", &[POLICY_WRITE]),
    mdm_read("/policies/mobileDeviceManagementPolicies"),
    mdm_read("/policies/mobileDeviceManagementPolicies/{id}"),
    r(
        "GET",
        crate::routes::AUTH_METHOD_CONFIG,
        &[AUTH_METHOD_POLICY_READ],
    ),
    // graph-behaviour §5 Autopilot import: the reference lists only ReadWrite, reads included
    r("GET", IMPORTS, &[DMSC_WRITE]),
    r("POST", IMPORTS, &[DMSC_WRITE]),
    r(
        "POST",
        "/deviceManagement/importedWindowsAutopilotDeviceIdentities/import",
        &[DMSC_WRITE],
    ),
    r(
        "GET",
        "/deviceManagement/importedWindowsAutopilotDeviceIdentities/{id}",
        &[DMSC_WRITE],
    ),
    r(
        "DELETE",
        "/deviceManagement/importedWindowsAutopilotDeviceIdentities/{id}",
        &[DMSC_WRITE],
    ),
    // graph-behaviour §6 Autopilot devices
    r(
        "GET",
        "/deviceManagement/windowsAutopilotDeviceIdentities",
        &[DMSC_READ],
    ),
    r(
        "GET",
        "/deviceManagement/windowsAutopilotDeviceIdentities/{id}",
        &[DMSC_READ],
    ),
    r(
        "DELETE",
        "/deviceManagement/windowsAutopilotDeviceIdentities/{id}",
        &[DMSC_WRITE],
    ),
    r(
        "POST",
        "/deviceManagement/windowsAutopilotDeviceIdentities/{id}/assignUserToDevice",
        &[DMSC_WRITE],
    ),
    r(
        "POST",
        "/deviceManagement/windowsAutopilotDeviceIdentities/{id}/unassignUserFromDevice",
        &[DMSC_WRITE],
    ),
    r(
        "POST",
        "/deviceManagement/windowsAutopilotDeviceIdentities/{id}/updateDeviceProperties",
        &[DMSC_WRITE],
    ),
    // graph-behaviour §7 sync
    r(
        "GET",
        "/deviceManagement/windowsAutopilotSettings",
        &[DMSC_READ],
    ),
    r(
        "POST",
        "/deviceManagement/windowsAutopilotSettings/sync",
        &[SYNC],
    ),
    // graph-behaviour §9 corporate identifiers
    r(
        "GET",
        "/deviceManagement/importedDeviceIdentities",
        &[DMSC_READ],
    ),
    r(
        "GET",
        "/deviceManagement/importedDeviceIdentities/{id}",
        &[DMSC_READ],
    ),
    r(
        "DELETE",
        "/deviceManagement/importedDeviceIdentities/{id}",
        &[DMSC_WRITE],
    ),
    r(
        "POST",
        "/deviceManagement/importedDeviceIdentities/importDeviceIdentityList",
        &[DMSC_WRITE],
    ),
    r(
        "POST",
        "/deviceManagement/importedDeviceIdentities/searchExistingIdentities",
        &[DMSC_READ],
    ),
    // graph-behaviour §10 read-only configuration
    r(
        "GET",
        "/deviceManagement/windowsAutopilotDeploymentProfiles",
        &[DMSC_READ],
    ),
    r(
        "GET",
        "/deviceManagement/windowsAutopilotDeploymentProfiles/{id}",
        &[DMSC_READ],
    ),
    r(
        "GET",
        "/deviceManagement/windowsAutopilotDeploymentProfiles/{id}/assignments",
        &[DMSC_READ],
    ),
    r(
        "GET",
        "/deviceManagement/deviceEnrollmentConfigurations",
        &[DMSC_READ],
    ),
    r(
        "GET",
        "/deviceManagement/deviceEnrollmentConfigurations/{id}",
        &[DMSC_READ],
    ),
    r(
        "GET",
        "/deviceManagement/deviceEnrollmentConfigurations/{id}/assignments",
        &[DMSC_READ],
    ),
    // graph-behaviour §4: the envelope needs only a valid token; each item is checked on its own
    r("POST", "/$batch", &[]),
    // graph-behaviour §18 profile assignment (write)
    r(
        "POST",
        "/deviceManagement/windowsAutopilotDeploymentProfiles/{id}/assignments",
        &[DMSC_WRITE],
    ),
    // graph-behaviour §19 autopilotEvents: the ManagedDevices pair is in every stored revision
    r(
        "GET",
        "/deviceManagement/autopilotEvents",
        &[MANAGED_DEVICES_READ],
    ),
    r(
        "GET",
        "/deviceManagement/autopilotEvents/{id}",
        &[MANAGED_DEVICES_READ],
    ),
    r(
        "GET",
        "/deviceManagement/autopilotEvents/{id}/policyStatusDetails",
        &[MANAGED_DEVICES_READ],
    ),
    // graph-behaviour §20 device preparation policies (the set action: both pages' permissions; apps get a 500)
    r(
        "GET",
        "/deviceManagement/configurationPolicies",
        &[DMC_READ],
    ),
    r(
        "GET",
        "/deviceManagement/configurationPolicies/{id}",
        &[DMC_READ],
    ),
    r(
        "GET",
        "/deviceManagement/configurationPolicies/{id}/assignments",
        &[DMC_READ],
    ),
    r(
        "POST",
        "/deviceManagement/configurationPolicies/{id}/retrieveEnrollmentTimeDeviceMembershipTarget",
        &[DMC_READ],
    ),
    r(
        "POST",
        "/deviceManagement/configurationPolicies/{id}/setEnrollmentTimeDeviceMembershipTarget",
        &[DMC_READ],
    ),
    // graph-behaviour §20 group owners (least GroupMember.Read.All) and service principals
    r("GET", "/groups/{id}/owners", &[MEMBER_READ]),
    r("GET", "/servicePrincipals", &[APPLICATION_READ]),
    r("GET", "/servicePrincipals/{id}", &[APPLICATION_READ]),
    r(
        "GET",
        "/servicePrincipals(appId='{id}')",
        &[APPLICATION_READ],
    ),
];

/// The requirement for an operation; `None` means the route table and this table disagree.
pub fn requirement(method: &str, template: &str) -> Option<&'static Requirement> {
    PERMISSIONS
        .iter()
        .find(|p| p.method == method && p.template == template)
}

/// Whether `roles` (a token's `roles`, or the words of its `scp`) satisfies `all_of`.
pub fn satisfied(all_of: &[&[&str]], roles: &[String]) -> bool {
    all_of
        .iter()
        .all(|any| any.iter().any(|p| roles.iter().any(|r| r == p)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn roles(list: &[&str]) -> Vec<String> {
        list.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn checking_a_users_groups_needs_user_and_member_read() {
        let req = requirement("POST", "/users/{id}/checkMemberGroups").unwrap();
        assert!(!satisfied(req.all_of, &roles(&["User.Read.All"])));
        assert!(satisfied(
            req.all_of,
            &roles(&["User.Read.All", "GroupMember.Read.All"])
        ));
        assert!(satisfied(
            req.all_of,
            &roles(&["User.Read.All", "GroupMember.ReadWrite.All"])
        ));
    }

    #[test]
    fn policy_put_needs_readwrite_and_the_mdm_policy_refuses_every_app() {
        let put = requirement("PUT", "/policies/deviceRegistrationPolicy").unwrap();
        assert!(!satisfied(
            put.all_of,
            &roles(&["Policy.Read.DeviceConfiguration"])
        ));
        let mdm = requirement("GET", "/policies/mobileDeviceManagementPolicies").unwrap();
        assert!(!satisfied(
            mdm.for_token(false),
            &roles(&[
                "Policy.ReadWrite.DeviceConfiguration",
                "Directory.ReadWrite.All",
                "Policy.Read.All"
            ])
        ));
    }

    #[test]
    fn a_delegated_token_reads_the_mdm_policy_with_a_policy_scope_and_elsewhere_by_the_same_names()
    {
        let mdm = requirement("GET", "/policies/mobileDeviceManagementPolicies/{id}").unwrap();
        assert!(satisfied(mdm.for_token(true), &roles(&["Policy.Read.All"])));
        assert!(satisfied(
            mdm.for_token(true),
            &roles(&["Policy.ReadWrite.MobilityManagement"])
        ));
        assert!(!satisfied(mdm.for_token(true), &roles(&["User.Read"])));
        assert!(mdm.user_roles.contains(&"Global Reader"));
        let user = requirement("GET", "/users/{id}").unwrap();
        assert!(satisfied(user.for_token(true), &roles(&["User.Read.All"])));
        assert!(!satisfied(user.for_token(true), &roles(&["User.Read"])));
        assert!(user.user_roles.is_empty());
    }

    #[test]
    fn every_route_has_exactly_one_requirement() {
        for route in crate::routes::ROUTES {
            let n = PERMISSIONS
                .iter()
                .filter(|p| p.method == route.method && p.template == route.template)
                .count();
            assert_eq!(n, 1, "{} {}", route.method, route.template);
        }
        assert_eq!(
            PERMISSIONS.len(),
            crate::routes::ROUTES.len(),
            "a permission row without a route"
        );
    }
}

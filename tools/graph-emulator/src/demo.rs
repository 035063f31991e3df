//! Constants of the built-in demo tenant (`fixtures/demo.json`), for tests and the demo command.
//! A unit test checks each constant against the fixture, so they cannot drift apart.

use base64::Engine;

/// The demo tenant's id (the `tid` of its tokens, the `{tenant}` of its token endpoint).
pub const TENANT_ID: &str = "8f2d5c1e-4b7a-4e9c-9a31-6d0c2b7e5f10";
/// The demo tenant's only verified domain (also accepted as the `{tenant}` of a token request).
pub const DOMAIN: &str = "contoso.test";
/// The only scope the token endpoint accepts (or `00000003-0000-0000-c000-000000000000/.default`).
pub const GRAPH_SCOPE: &str = "https://graph.microsoft.com/.default";

/// An app registration's credentials.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoApp {
    /// The registration's display name (`new-hire`, `device-purchased`, …).
    pub name: &'static str,
    /// Application (client) id: `client_id` of the token request, `appid` of its tokens.
    pub client_id: &'static str,
    /// The client secret the token endpoint accepts for it.
    pub client_secret: &'static str,
    /// `sub` of the federated credential (issuer [`WIF_ISSUER`]), if the app has one.
    pub wif_subject: Option<&'static str>,
}

/// User.Read.All, GroupMember.ReadWrite.All, Policy.ReadWrite.DeviceConfiguration (the
/// first-day pass's permissions, graph-behaviour §16, §17, are granted only by the tests that
/// use them, so the demo tenant stays least-privilege for what new-hire does today).
pub const NEW_HIRE: DemoApp = DemoApp {
    name: "new-hire",
    client_id: "a1000000-0000-4000-8000-000000000001",
    client_secret: "emu-new-hire-secret",
    wif_subject: Some("system:serviceaccount:onboarding:new-hire"),
};
/// DeviceManagementServiceConfig.ReadWrite.All, Device.Read.All, Device.ReadWrite.All, GroupMember.ReadWrite.All.
pub const DEVICE_PURCHASED: DemoApp = DemoApp {
    name: "device-purchased",
    client_id: "a1000000-0000-4000-8000-000000000002",
    client_secret: "emu-device-purchased-secret",
    wif_subject: Some("system:serviceaccount:onboarding:device-purchased"),
};
/// DeviceManagementServiceConfig.ReadWrite.All, User.Read.All.
pub const DEVICE_SHIPPED: DemoApp = DemoApp {
    name: "device-shipped",
    client_id: "a1000000-0000-4000-8000-000000000003",
    client_secret: "emu-device-shipped-secret",
    wif_subject: Some("system:serviceaccount:onboarding:device-shipped"),
};
/// Read-only: User.Read.All, GroupMember.Read.All, Policy.Read.DeviceConfiguration,
/// DeviceManagementServiceConfig.Read.All, Device.Read.All.
pub const ONBOARDCTL: DemoApp = DemoApp {
    name: "onboardctl",
    client_id: "a1000000-0000-4000-8000-000000000004",
    client_secret: "emu-onboardctl-secret",
    wif_subject: None,
};
/// new-hire's permissions minus GroupMember.ReadWrite.All: proves a 403 reaches the service.
pub const NEW_HIRE_NO_GROUPWRITE: DemoApp = DemoApp {
    name: "new-hire-no-groupwrite",
    client_id: "a1000000-0000-4000-8000-000000000005",
    client_secret: "emu-new-hire-no-groupwrite-secret",
    wif_subject: None,
};
/// Broad write permissions, for tests that build tenant state through Graph itself.
pub const TENANT_ADMIN: DemoApp = DemoApp {
    name: "tenant-admin",
    client_id: "a1000000-0000-4000-8000-000000000006",
    client_secret: "emu-tenant-admin-secret",
    wif_subject: None,
};
/// The six app registrations above (not [`AZURE_CLI`], a public client without a secret).
pub const APPS: [DemoApp; 6] = [
    NEW_HIRE,
    DEVICE_PURCHASED,
    DEVICE_SHIPPED,
    ONBOARDCTL,
    NEW_HIRE_NO_GROUPWRITE,
    TENANT_ADMIN,
];

/// The Azure CLI's public client (Microsoft's own app id). Users sign in to it with the password
/// grant; the tenant consented User.Read and Policy.Read.All (delegated) for it.
pub const AZURE_CLI: &str = "04b07795-8ddb-461a-bbee-02f9e1bf7b46";
/// Delegated permissions consented for [`AZURE_CLI`]: the `scp` of its tokens.
pub const AZURE_CLI_SCOPES: [&str; 2] = ["User.Read", "Policy.Read.All"];

/// Issuer of the demo apps' federated credentials (a Kubernetes service-account token issuer).
pub const WIF_ISSUER: &str = "https://kubernetes.default.svc.cluster.local";
/// `x-identity-header` value of the managed-identity endpoint; the identity acts as [`DEVICE_PURCHASED`].
pub const IDENTITY_HEADER: &str = "emu-identity-header";

// === users ===
/// Ada Lovelace: a member user in Engineering, employee id `E1001` (object id).
pub const USER_ADA: &str = "b1000000-0000-4000-8000-000000000001";
/// [`USER_ADA`]'s user principal name.
pub const UPN_ADA: &str = "ada@contoso.test";
/// Grace Hopper: a member user in Sales, employee id `E1002` (object id), with a mailbox
/// ([`MAIL_GRACE`]); manager of [`USER_ALAN`] and [`USER_KATHERINE`] (graph-behaviour §17).
pub const USER_GRACE: &str = "b1000000-0000-4000-8000-000000000002";
/// [`USER_GRACE`]'s user principal name.
pub const UPN_GRACE: &str = "grace@contoso.test";
/// [`USER_GRACE`]'s `mail`: where a pass for Alan or Katherine is sent.
pub const MAIL_GRACE: &str = "grace@contoso.test";
/// Alan has a 300 s (nominal) provisioning lag: 404 until it passes.
pub const USER_ALAN: &str = "b1000000-0000-4000-8000-000000000003";
/// [`USER_ALAN`]'s user principal name.
pub const UPN_ALAN: &str = "alan@contoso.test";
/// [`USER_ALAN`]'s provisioning lag in nominal seconds (the fixture's `provisionAfterSeconds`).
pub const ALAN_PROVISION_AFTER_SECS: f64 = 300.0;
/// A B2B guest: the `#` must be sent as `%23` in a path.
pub const USER_GUEST: &str = "b1000000-0000-4000-8000-000000000004";
/// [`USER_GUEST`]'s user principal name, `#EXT#` included.
pub const UPN_GUEST: &str = "adele_fabrikam.test#EXT#@contoso.test";
/// A UPN starting with `$`: only `/users('…')` reaches it.
pub const USER_DOLLAR: &str = "b1000000-0000-4000-8000-000000000005";
/// [`USER_DOLLAR`]'s user principal name.
pub const UPN_DOLLAR: &str = "$svc-kiosk@contoso.test";
/// Already in the join group and in Sales.
pub const USER_KATHERINE: &str = "b1000000-0000-4000-8000-000000000006";
/// [`USER_KATHERINE`]'s user principal name.
pub const UPN_KATHERINE: &str = "katherine@contoso.test";
/// An administrator who can sign in (password grant) and holds [`ADMIN_ROLE`]: enough to read
/// the MDM policy with a delegated token (graph-behaviour §10).
pub const USER_ADMIN: &str = "b1000000-0000-4000-8000-000000000007";
/// [`USER_ADMIN`]'s user principal name (the `username` of the password grant).
pub const UPN_ADMIN: &str = "admin@contoso.test";
/// [`USER_ADMIN`]'s password (the `password` of the password grant).
pub const ADMIN_PASSWORD: &str = "emu-admin-password";
/// The directory role [`USER_ADMIN`] holds, by display name.
pub const ADMIN_ROLE: &str = "Global Reader";
/// A mailbox to send from (a disabled account with `mail`, as a shared mailbox is): the
/// sender of first-day mail (graph-behaviour §17).
pub const USER_ONBOARDING_MAILBOX: &str = "b1000000-0000-4000-8000-000000000008";
/// [`USER_ONBOARDING_MAILBOX`]'s user principal name and `mail`.
pub const MAIL_ONBOARDING: &str = "onboarding@contoso.test";

// === groups ===
/// Listed in the device registration policy's `allowedToJoin.groups` (enumerated mode).
pub const GROUP_JOIN: &str = "c1000000-0000-4000-8000-000000000001";
/// The Engineering security group (no members).
pub const GROUP_ENGINEERING: &str = "c1000000-0000-4000-8000-000000000002";
/// The Sales security group ([`USER_KATHERINE`] is a member).
pub const GROUP_SALES: &str = "c1000000-0000-4000-8000-000000000003";
/// Security group for Autopilot devices; the deployment profile and ESP are assigned to it.
pub const GROUP_AUTOPILOT_DEVICES: &str = "c1000000-0000-4000-8000-000000000004";
/// A Microsoft 365 (Unified, not security) group: devices cannot be members.
pub const GROUP_M365: &str = "c1000000-0000-4000-8000-000000000005";
/// Dynamic: every device with a `[ZTDID]` physical id. Direct writes are refused.
pub const GROUP_DYNAMIC: &str = "c1000000-0000-4000-8000-000000000006";

// === devices and Intune configuration ===
/// `userDeviceQuota` of the demo device registration policy (graph-behaviour §1).
pub const USER_DEVICE_QUOTA: i64 = 50;
/// The already-registered Autopilot device (`windowsAutopilotDeviceIdentity.id`).
pub const AUTOPILOT_DEVICE: &str = "f1000000-0000-4000-8000-000000000001";
/// [`AUTOPILOT_DEVICE`]'s serial number; its hardware hash is [`hardware_hash`] of it.
pub const AUTOPILOT_SERIAL: &str = "CZC0000001";
/// Its Entra device: object id, and `deviceId` (= Autopilot `azureActiveDirectoryDeviceId`).
pub const ENTRA_DEVICE_OBJECT: &str = "d2000000-0000-4000-8000-000000000001";
/// Its `deviceId`, the alternate key (graph-behaviour §8).
pub const ENTRA_DEVICE_ID: &str = "d3000000-0000-4000-8000-000000000001";
/// Registered to another tenant: importing it ends in `ZtdDeviceAssignedToOtherTenant` (808).
pub const OTHER_TENANT_SERIAL: &str = "OT0000001";
/// The Autopilot deployment profile (user-driven Entra join), assigned to [`GROUP_AUTOPILOT_DEVICES`]
/// (graph-behaviour §18).
pub const DEPLOYMENT_PROFILE: &str = "e1000000-0000-4000-8000-000000000001";
/// The Enrollment Status Page, assigned to [`GROUP_AUTOPILOT_DEVICES`] (graph-behaviour §10).
pub const ESP: &str = "e2000000-0000-4000-8000-000000000001";
/// Intune's id of the MDM auto-enrollment policy (403 to application tokens; readable with a
/// delegated token carrying Policy.Read.All). MDM user scope: Some, with [`GROUP_JOIN`].
pub const MDM_POLICY: &str = "0000000a-0000-0000-c000-000000000000";

// === Autopilot device preparation (graph-behaviour §20) ===
/// `templateReference.templateId` of a user-driven device preparation policy.
pub const DP_TEMPLATE_USER_DRIVEN: &str = "80d33118-b7b4-40d8-b15f-81be745e053f_1";
/// `templateReference.templateId` of an automatic device preparation policy.
pub const DP_TEMPLATE_AUTOMATIC: &str = "a6157a7f-aa00-42d9-ac82-7d2479f545db_1";
/// `appId` of the Intune Provisioning Client (in some tenants "Intune Autopilot ConfidentialClient"),
/// which must own a device preparation device group.
pub const INTUNE_PROVISIONING_CLIENT_APP_ID: &str = "f1346770-5b25-470b-88bd-d5744ab7952c";
/// Object id of the demo tenant's Intune Provisioning Client service principal.
pub const INTUNE_PROVISIONING_CLIENT_SP: &str = "5e000000-0000-4000-8000-000000000001";
/// Assigned security group owned by the Intune Provisioning Client: the device preparation
/// policy's enrollment-time device membership target (no members until a device enrolls).
pub const GROUP_DP_DEVICES: &str = "c1000000-0000-4000-8000-000000000007";
/// The device preparation policy's user group ([`USER_GRACE`] is a member).
pub const GROUP_DP_USERS: &str = "c1000000-0000-4000-8000-000000000008";
/// The user-driven device preparation policy: assigned to [`GROUP_DP_USERS`], device group [`GROUP_DP_DEVICES`].
pub const DP_POLICY: &str = "e3000000-0000-4000-8000-000000000001";
/// An ordinary settings-catalog policy (`technologies: mdm`), which a device preparation lookup must skip.
pub const SETTINGS_POLICY: &str = "e3000000-0000-4000-8000-000000000002";

/// A valid-looking hardware hash for `serial`: base64 of 128 deterministic bytes.
/// The emulator accepts any base64 that decodes to at least [`MIN_HASH_BYTES`] bytes.
pub fn hardware_hash(serial: &str) -> String {
    let s = serial.as_bytes();
    let sum: u32 = s.iter().map(|&b| u32::from(b)).sum();
    let bytes: Vec<u8> = (0..128u32)
        .map(|i| (i.wrapping_mul(31).wrapping_add(sum) as u8) ^ s[i as usize % s.len().max(1)])
        .collect();
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Shortest decoded hash the import accepts; shorter ends in `InvalidZtdHardwareHash`.
pub const MIN_HASH_BYTES: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Fixture;

    #[test]
    fn demo_constants_match_the_demo_fixture() {
        let f = Fixture::demo();
        assert_eq!(f.tenant.id, TENANT_ID);
        assert_eq!(f.tenant.domains[0], DOMAIN);
        for app in APPS {
            let reg = f
                .apps
                .iter()
                .find(|a| a.client_id == app.client_id)
                .expect(app.name);
            assert_eq!(reg.display_name, app.name);
            assert_eq!(reg.client_secret.as_deref(), Some(app.client_secret));
            let subject = reg
                .federated_credentials
                .first()
                .map(|c| c.subject.as_str());
            assert_eq!(subject, app.wif_subject, "{}", app.name);
        }
        let upn = |id: &str| {
            f.users
                .iter()
                .find(|u| u.id == id)
                .map(|u| u.user_principal_name.clone())
        };
        assert_eq!(upn(USER_ADA).as_deref(), Some(UPN_ADA));
        assert_eq!(upn(USER_ALAN).as_deref(), Some(UPN_ALAN));
        assert_eq!(upn(USER_GUEST).as_deref(), Some(UPN_GUEST));
        assert_eq!(upn(USER_DOLLAR).as_deref(), Some(UPN_DOLLAR));
        assert_eq!(upn(USER_KATHERINE).as_deref(), Some(UPN_KATHERINE));
        let admin = f.users.iter().find(|u| u.id == USER_ADMIN).expect("admin");
        assert_eq!(admin.user_principal_name, UPN_ADMIN);
        assert_eq!(admin.password.as_deref(), Some(ADMIN_PASSWORD));
        assert_eq!(admin.directory_roles, [ADMIN_ROLE]);
        let user = |id: &str| f.users.iter().find(|u| u.id == id).expect(id);
        assert_eq!(user(USER_GRACE).mail.as_deref(), Some(MAIL_GRACE));
        for hire in [USER_ALAN, USER_KATHERINE] {
            assert_eq!(user(hire).manager.as_deref(), Some(USER_GRACE));
        }
        let outbox = user(USER_ONBOARDING_MAILBOX);
        assert_eq!(outbox.mail.as_deref(), Some(MAIL_ONBOARDING));
        assert_eq!(outbox.user_principal_name, MAIL_ONBOARDING);
        let cli = f
            .apps
            .iter()
            .find(|a| a.client_id == AZURE_CLI)
            .expect("cli");
        assert!(cli.public_client && cli.client_secret.is_none());
        assert_eq!(cli.delegated_permissions, AZURE_CLI_SCOPES);
        let mdm = &f.mobile_device_management_policies[0];
        assert_eq!(mdm.id, MDM_POLICY);
        assert_eq!(mdm.included_group_ids, [GROUP_JOIN]);
        for g in [
            GROUP_JOIN,
            GROUP_ENGINEERING,
            GROUP_SALES,
            GROUP_AUTOPILOT_DEVICES,
            GROUP_M365,
            GROUP_DYNAMIC,
            GROUP_DP_DEVICES,
            GROUP_DP_USERS,
        ] {
            assert!(f.groups.iter().any(|x| x.id == g), "{g}");
        }
        let ap = &f.autopilot_devices[0];
        assert_eq!(
            (ap.id.as_str(), ap.serial_number.as_str()),
            (AUTOPILOT_DEVICE, AUTOPILOT_SERIAL)
        );
        assert_eq!(
            ap.hardware_identifier.as_deref(),
            Some(hardware_hash(AUTOPILOT_SERIAL).as_str())
        );
        assert_eq!(f.entra_devices[0].device_id, ENTRA_DEVICE_ID);
        assert_eq!(f.other_tenant_serials, [OTHER_TENANT_SERIAL]);
        let sp = &f.service_principals[0];
        assert_eq!(
            (sp.id.as_str(), sp.app_id.as_str()),
            (
                INTUNE_PROVISIONING_CLIENT_SP,
                INTUNE_PROVISIONING_CLIENT_APP_ID
            )
        );
        let dp = &f.configuration_policies[0];
        assert_eq!(
            (dp.id.as_str(), dp.template_id.as_str()),
            (DP_POLICY, DP_TEMPLATE_USER_DRIVEN)
        );
        assert_eq!(dp.assigned_group_ids, [GROUP_DP_USERS]);
        assert_eq!(
            dp.enrollment_time_device_membership_targets,
            [GROUP_DP_DEVICES]
        );
        assert_eq!(f.configuration_policies[1].id, SETTINGS_POLICY);
        assert_eq!(
            f.autopilot_devices[0].deployment_profile_id.as_deref(),
            Some(DEPLOYMENT_PROFILE)
        );
        assert_eq!(
            f.device_registration_policy.user_device_quota,
            USER_DEVICE_QUOTA
        );
        assert_eq!(
            f.managed_identity
                .as_ref()
                .map(|m| m.identity_header.as_str()),
            Some(IDENTITY_HEADER)
        );
    }
}

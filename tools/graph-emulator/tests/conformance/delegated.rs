//! Delegated tokens: the password grant of a public client (the Azure CLI's app id) for the demo
//! admin, and what such a token may read: the MDM policy (graph-behaviour §10) with `Policy.Read.All` and a
//! reader role, everything else by its `scp` against the same permission names as `roles`.

use graph_emulator::demo::{
    ADMIN_PASSWORD, AZURE_CLI, DOMAIN, GROUP_JOIN, MDM_POLICY, ONBOARDCTL, TENANT_ID, UPN_ADMIN,
    USER_ADA, USER_ADMIN,
};
use serde_json::Value;

use crate::helpers::{Emu, jwt_claims, spawn, spawn_with};

const POLICIES: &str = "/beta/policies/mobileDeviceManagementPolicies";
/// What the Azure CLI (MSAL) asks for: the resource's `.default` plus the OIDC scopes.
const CLI_SCOPE: &str = "https://graph.microsoft.com/.default openid profile offline_access";

/// The password grant for `username`, as a public client sends it (no secret).
async fn password_grant(e: &Emu, tenant: &str, username: &str, password: &str) -> (u16, Value) {
    let form = [
        ("grant_type", "password"),
        ("client_id", AZURE_CLI),
        ("username", username),
        ("password", password),
        ("scope", CLI_SCOPE),
    ];
    e.token_request(tenant, &form).await
}

/// The demo admin's delegated token through the Azure CLI's client id.
async fn admin_token(e: &Emu) -> String {
    let (status, body) = password_grant(e, TENANT_ID, UPN_ADMIN, ADMIN_PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    body["access_token"].as_str().expect("access_token").into()
}

#[tokio::test]
async fn s12_the_password_grant_gives_a_public_client_a_delegated_token_with_scp_and_no_roles() {
    let e = spawn().await;

    let (status, body) = password_grant(&e, DOMAIN, "ADMIN@contoso.test", ADMIN_PASSWORD).await;

    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["token_type"].as_str(), body["expires_in"].as_i64()),
        (Some("Bearer"), Some(3599))
    );
    assert_eq!(
        body["scope"],
        "https://graph.microsoft.com/User.Read https://graph.microsoft.com/Policy.Read.All"
    );
    let claims = jwt_claims(body["access_token"].as_str().unwrap());
    assert_eq!(claims["scp"], "User.Read Policy.Read.All");
    assert_eq!(
        (&claims["oid"], &claims["upn"], &claims["tid"]),
        (
            &Value::from(USER_ADMIN),
            &Value::from(UPN_ADMIN),
            &Value::from(TENANT_ID)
        )
    );
    assert_eq!(claims["aud"], "https://graph.microsoft.com");
    assert_eq!(claims["appid"], AZURE_CLI);
    assert!(claims.get("roles").is_none(), "{claims}");
    // A named, consented permission works too; one not consented needs consent first.
    let named = |scope: &'static str| {
        [
            ("grant_type", "password"),
            ("client_id", AZURE_CLI),
            ("username", UPN_ADMIN),
            ("password", ADMIN_PASSWORD),
            ("scope", scope),
        ]
    };
    let consented = named("https://graph.microsoft.com/Policy.Read.All");
    assert_eq!(e.token_request(TENANT_ID, &consented).await.0, 200);
    let not_consented = named("https://graph.microsoft.com/User.Read.All");
    let (status, body) = e.token_request(TENANT_ID, &not_consented).await;
    assert_eq!(
        (status, &body["error"]),
        (400, &Value::from("invalid_grant"))
    );
    assert_eq!(body["error_codes"][0], 65001);
}

#[tokio::test]
async fn s12_a_wrong_password_or_unknown_user_is_invalid_grant_and_a_public_client_sends_no_secret()
{
    let e = spawn().await;

    let (wrong, wrong_body) = password_grant(&e, TENANT_ID, UPN_ADMIN, "not-the-password").await;
    let (unknown, unknown_body) =
        password_grant(&e, TENANT_ID, "nobody@contoso.test", ADMIN_PASSWORD).await;
    let (with_secret, secret_body) = e
        .token_request(
            TENANT_ID,
            &[
                ("grant_type", "password"),
                ("client_id", AZURE_CLI),
                ("client_secret", "anything"),
                ("username", UPN_ADMIN),
                ("password", ADMIN_PASSWORD),
                ("scope", CLI_SCOPE),
            ],
        )
        .await;

    assert_eq!(
        (wrong, &wrong_body["error"]),
        (400, &Value::from("invalid_grant"))
    );
    assert_eq!(wrong_body["error_codes"][0], 50126);
    assert!(
        wrong_body["error_description"]
            .as_str()
            .unwrap()
            .starts_with(
                "AADSTS50126: Error validating credentials due to invalid username or password."
            ),
        "{wrong_body}"
    );
    assert_eq!(
        (unknown, &unknown_body["error_codes"][0]),
        (400, &Value::from(50034))
    );
    assert_eq!(
        (with_secret, &secret_body["error_codes"][0]),
        (401, &Value::from(700025))
    );
}

#[tokio::test]
async fn s10_a_delegated_token_with_policy_read_all_reads_the_mdm_policy_and_its_included_groups() {
    let e = spawn().await;
    let token = admin_token(&e).await;

    let list = e
        .call_with_token(Some(&token), "GET", POLICIES, None, &[])
        .await;
    let one = e
        .call_with_token(
            Some(&token),
            "GET",
            &format!("{POLICIES}/{MDM_POLICY}?$expand=includedGroups"),
            None,
            &[],
        )
        .await;
    let bad_expand = e
        .call_with_token(
            Some(&token),
            "GET",
            &format!("{POLICIES}/{MDM_POLICY}?$expand=owners"),
            None,
            &[],
        )
        .await;

    assert_eq!(list.status, 200, "{}", list.body);
    let first = &list.body["value"][0];
    assert_eq!(
        (&first["id"], &first["appliesTo"]),
        (&Value::from(MDM_POLICY), &Value::from("selected"))
    );
    assert!(
        first.get("includedGroups").is_none(),
        "only when expanded: {first}"
    );
    assert_eq!(one.status, 200, "{}", one.body);
    assert_eq!(one.body["displayName"], "Microsoft Intune");
    for key in [
        "complianceUrl",
        "description",
        "discoveryUrl",
        "isValid",
        "termsOfUseUrl",
    ] {
        assert!(one.body.get(key).is_some(), "{key} in {}", one.body);
    }
    let groups = one.body["includedGroups"].as_array().expect("expanded");
    assert_eq!(groups.len(), 1);
    assert_eq!(
        (&groups[0]["id"], &groups[0]["displayName"]),
        (
            &Value::from(GROUP_JOIN),
            &Value::from("Device join allowed")
        )
    );
    assert_eq!(bad_expand.status, 400, "{}", bad_expand.body);
    let missing = e
        .call_with_token(
            Some(&token),
            "GET",
            &format!("{POLICIES}/not-a-policy"),
            None,
            &[],
        )
        .await;
    assert_eq!(missing.status, 404);
}

#[tokio::test]
async fn s10_the_mdm_policy_stays_403_for_onboardctls_application_token() {
    let e = spawn().await;

    let r = e
        .get(
            ONBOARDCTL,
            &format!("{POLICIES}/{MDM_POLICY}?$expand=includedGroups"),
        )
        .await;

    assert_eq!((r.status, r.code()), (403, "Authorization_RequestDenied"));
}

#[tokio::test]
async fn s10_a_delegated_token_without_a_policy_scope_is_403() {
    let e = spawn_with(|c| {
        let cli = c
            .fixture
            .apps
            .iter_mut()
            .find(|a| a.client_id == AZURE_CLI)
            .unwrap();
        cli.delegated_permissions = vec!["User.Read".into()];
    })
    .await;
    let token = admin_token(&e).await;
    assert_eq!(jwt_claims(&token)["scp"], "User.Read");

    let r = e
        .call_with_token(
            Some(&token),
            "GET",
            &format!("{POLICIES}/{MDM_POLICY}"),
            None,
            &[],
        )
        .await;

    assert_eq!((r.status, r.code()), (403, "Authorization_RequestDenied"));
}

#[tokio::test]
async fn s10_a_delegated_read_of_the_mdm_policy_also_needs_a_reader_role_of_the_user() {
    let e = spawn_with(|c| {
        let admin = c
            .fixture
            .users
            .iter_mut()
            .find(|u| u.id == USER_ADMIN)
            .unwrap();
        admin.directory_roles.clear();
    })
    .await;
    let token = admin_token(&e).await;

    let r = e
        .call_with_token(Some(&token), "GET", POLICIES, None, &[])
        .await;

    assert_eq!((r.status, r.code()), (403, "Authorization_RequestDenied"));
}

#[tokio::test]
async fn s13_elsewhere_a_delegated_token_is_judged_by_its_scp_against_the_same_permission_names() {
    let narrow = spawn().await;
    let broad = spawn_with(|c| {
        let cli = c
            .fixture
            .apps
            .iter_mut()
            .find(|a| a.client_id == AZURE_CLI)
            .unwrap();
        cli.delegated_permissions.push("User.Read.All".into());
    })
    .await;
    let user = format!("/v1.0/users/{USER_ADA}");

    let refused = narrow
        .call_with_token(Some(&admin_token(&narrow).await), "GET", &user, None, &[])
        .await;
    let allowed = broad
        .call_with_token(Some(&admin_token(&broad).await), "GET", &user, None, &[])
        .await;

    assert_eq!(refused.status, 403, "User.Read is not User.Read.All");
    assert_eq!(allowed.status, 200, "{}", allowed.body);
    let log = broad.emu.requests();
    let read = log.iter().find(|r| r.path == user).expect("logged");
    assert_eq!(
        read.app_id.as_deref(),
        Some(AZURE_CLI),
        "the client app is the caller"
    );
}

use std::time::Duration;

use graph_emulator::demo::{
    ALAN_PROVISION_AFTER_SECS, DEVICE_SHIPPED, NEW_HIRE, TENANT_ADMIN, UPN_ADA, UPN_ALAN,
    UPN_DOLLAR, UPN_GUEST, USER_ADA, USER_DOLLAR, USER_GUEST,
};
use serde_json::json;

use crate::helpers::{eventually, spawn, spawn_with};

#[tokio::test]
async fn s2_get_by_id_or_upn_returns_only_the_default_properties() {
    let e = spawn().await;
    for key in [USER_ADA, UPN_ADA, "ADA@CONTOSO.TEST"] {
        let r = e.get(NEW_HIRE, &format!("/v1.0/users/{key}")).await;
        assert_eq!(r.status, 200, "{key}");
        assert_eq!(r.body["id"], USER_ADA);
        assert!(
            r.body.get("employeeId").is_none(),
            "employeeId only on $select"
        );
        assert!(r.body.get("businessPhones").is_some());
    }
}

#[tokio::test]
async fn s2_filter_on_employee_id_with_select_returns_a_collection() {
    let e = spawn().await;
    let r = e.get(DEVICE_SHIPPED, "/v1.0/users?$filter=employeeId%20eq%20'E1001'&$select=id,userPrincipalName,employeeId,accountEnabled").await;
    assert_eq!(r.status, 200);
    let v = r.body["value"].as_array().unwrap();
    assert_eq!(v.len(), 1);
    assert_eq!(
        v[0],
        json!({ "id": USER_ADA, "userPrincipalName": UPN_ADA, "employeeId": "E1001", "accountEnabled": true })
    );
    let none = e
        .get(
            DEVICE_SHIPPED,
            "/v1.0/users?$filter=employeeId%20eq%20'NOPE'",
        )
        .await;
    assert_eq!(none.body["value"], json!([]));
}

#[tokio::test]
async fn s2_a_guest_upn_needs_its_hash_percent_encoded_and_404_quotes_the_key_as_sent() {
    let e = spawn().await;
    let encoded = UPN_GUEST.replace('#', "%23");
    let r = e.get(NEW_HIRE, &format!("/v1.0/users/{encoded}")).await;
    assert_eq!((r.status, r.body["id"].as_str()), (200, Some(USER_GUEST)));
    let missing = e.get(NEW_HIRE, "/v1.0/users/anne%40contoso.test").await;
    assert_eq!(
        (missing.status, missing.code()),
        (404, "Request_ResourceNotFound")
    );
    assert!(
        missing
            .message()
            .starts_with("Resource 'anne%40contoso.test' does not exist"),
        "{}",
        missing.message()
    );
}

#[tokio::test]
async fn s2_a_dollar_upn_is_400_in_a_plain_path_and_found_with_key_syntax() {
    let e = spawn().await;
    let plain = e.get(NEW_HIRE, &format!("/v1.0/users/{UPN_DOLLAR}")).await;
    assert_eq!(plain.status, 400);
    let keyed = e
        .get(NEW_HIRE, &format!("/v1.0/users('{UPN_DOLLAR}')"))
        .await;
    assert_eq!(
        (keyed.status, keyed.body["id"].as_str()),
        (200, Some(USER_DOLLAR))
    );
}

#[tokio::test]
async fn s2_a_user_with_a_provisioning_lag_is_404_until_the_lag_passes() {
    let speed = 100.0;
    let e = spawn_with(|c| c.speed = speed).await;
    let first = e.get(NEW_HIRE, &format!("/v1.0/users/{UPN_ALAN}")).await;
    assert_eq!(first.status, 404);
    let filtered = e
        .get(NEW_HIRE, "/v1.0/users?$filter=employeeId%20eq%20'E1003'")
        .await;
    assert_eq!(
        filtered.body["value"],
        json!([]),
        "invisible to $filter too"
    );
    let lag = Duration::from_secs_f64(ALAN_PROVISION_AFTER_SECS / speed);
    eventually("Alan to be provisioned", lag * 20, || async {
        (e.get(NEW_HIRE, &format!("/v1.0/users/{UPN_ALAN}"))
            .await
            .status
            == 200)
            .then_some(())
    })
    .await;
}

#[tokio::test]
async fn s2_post_users_creates_a_user_readable_by_upn() {
    let e = spawn().await;
    let body = json!({
        "accountEnabled": true, "displayName": "Mary Jackson", "mailNickname": "mary",
        "userPrincipalName": "mary@contoso.test", "employeeId": "E2001",
        "passwordProfile": { "forceChangePasswordNextSignIn": true, "password": "x" }
    });
    let r = e
        .call(TENANT_ADMIN, "POST", "/v1.0/users", Some(body.clone()))
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let again = e
        .call(TENANT_ADMIN, "POST", "/v1.0/users", Some(body))
        .await;
    assert_eq!(again.status, 400, "duplicate UPN");
    let found = e
        .get(
            NEW_HIRE,
            "/v1.0/users?$filter=employeeId%20eq%20'E2001'&$select=id",
        )
        .await;
    assert_eq!(found.body["value"][0]["id"], r.body["id"]);
    let denied = e
        .call(NEW_HIRE, "POST", "/v1.0/users", Some(json!({})))
        .await;
    assert_eq!(denied.status, 403, "User.Read.All cannot create users");
}

#[tokio::test]
async fn s2_count_needs_consistency_level_eventual() {
    let e = spawn().await;
    let token = e.token(NEW_HIRE).await;
    let path = "/v1.0/users?$filter=employeeId%20eq%20'E1001'&$count=true";
    let plain = e
        .call_with_token(Some(&token), "GET", path, None, &[])
        .await;
    assert_eq!(
        (plain.status, plain.message()),
        (400, "$count is not currently supported.")
    );
    let advanced = e
        .call_with_token(
            Some(&token),
            "GET",
            path,
            None,
            &[("ConsistencyLevel", "eventual")],
        )
        .await;
    assert_eq!(
        (advanced.status, advanced.body["@odata.count"].as_u64()),
        (200, Some(1))
    );
}

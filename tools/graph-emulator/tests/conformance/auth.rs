use graph_emulator::demo::{GROUP_SALES, NEW_HIRE, NEW_HIRE_NO_GROUPWRITE, ONBOARDCTL, USER_ADA};
use serde_json::json;

use crate::helpers::{spawn, spawn_with};

#[tokio::test]
async fn s13_a_graph_call_without_a_token_is_401() {
    let e = spawn().await;
    let r = e
        .call_with_token(None, "GET", &format!("/v1.0/users/{USER_ADA}"), None, &[])
        .await;
    assert_eq!((r.status, r.code()), (401, "InvalidAuthenticationToken"));
}

#[tokio::test]
async fn s13_an_expired_token_is_401() {
    let e = spawn().await;
    let expired = e.emu.state().issue_token(NEW_HIRE.client_id, -60).unwrap();
    let r = e
        .call_with_token(
            Some(&expired),
            "GET",
            &format!("/v1.0/users/{USER_ADA}"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 401);
    assert!(r.message().contains("expired"), "{}", r.message());
}

#[tokio::test]
async fn s13_a_token_from_another_emulator_is_401() {
    let (a, b) = (spawn().await, spawn_with(|c| c.seed = 99).await);
    let foreign = b.token(NEW_HIRE).await;
    let r = a
        .call_with_token(
            Some(&foreign),
            "GET",
            &format!("/v1.0/users/{USER_ADA}"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 401);
}

#[tokio::test]
async fn s3_adding_a_member_without_groupmember_readwrite_is_403_authorization_request_denied() {
    let e = spawn().await;
    let body = json!({ "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{USER_ADA}") });
    let r = e
        .call(
            NEW_HIRE_NO_GROUPWRITE,
            "POST",
            &format!("/v1.0/groups/{GROUP_SALES}/members/$ref"),
            Some(body),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "Authorization_RequestDenied"));
    assert_eq!(
        r.message(),
        "Insufficient privileges to complete the operation."
    );
    assert_eq!(e.emu.state().writes_to("/groups/{id}/members/$ref"), 0);
}

#[tokio::test]
async fn s1_the_read_only_app_cannot_put_the_policy() {
    let e = spawn().await;
    let r = e
        .call(
            ONBOARDCTL,
            "PUT",
            "/v1.0/policies/deviceRegistrationPolicy",
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status, 403);
}

#[tokio::test]
async fn s13_every_response_carries_request_id_and_echoes_client_request_id() {
    let e = spawn().await;
    let token = e.token(NEW_HIRE).await;
    let ok = e
        .call_with_token(
            Some(&token),
            "GET",
            &format!("/v1.0/users/{USER_ADA}"),
            None,
            &[("client-request-id", "abc-123")],
        )
        .await;
    assert_eq!(ok.header("client-request-id"), Some("abc-123"));
    assert!(ok.header("request-id").is_some_and(|id| id.len() == 36));
    let missing = e
        .call_with_token(
            Some(&token),
            "GET",
            "/v1.0/users/nobody@contoso.test",
            None,
            &[("client-request-id", "xyz")],
        )
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.body["error"]["innerError"]["client-request-id"],
        "xyz"
    );
    assert_eq!(
        missing.body["error"]["innerError"]["request-id"].as_str(),
        missing.header("request-id")
    );
}

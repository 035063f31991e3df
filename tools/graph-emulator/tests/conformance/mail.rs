use graph_emulator::demo::{
    DEVICE_PURCHASED, MAIL_GRACE, MAIL_ONBOARDING, NEW_HIRE, ONBOARDCTL, UPN_GRACE, USER_ADA,
    USER_GRACE, USER_KATHERINE, USER_ONBOARDING_MAILBOX,
};
use graph_emulator::{FaultConfig, FaultRule};
use serde_json::{Value, json};

use crate::auth_methods::{emulated_now, parse};
use crate::helpers::{grant_first_day_permissions, spawn_with};

fn send(sender: &str) -> String {
    format!("/v1.0/users/{sender}/sendMail")
}

/// graph-behaviour §17's example body, to the demo manager.
fn message() -> Value {
    json!({
        "message": {
            "subject": "Your new starter's access pass",
            "body": { "contentType": "Text", "content": "Katherine's pass works from Monday 08:00 for 8 hours." },
            "toRecipients": [{ "emailAddress": { "address": MAIL_GRACE, "name": "Grace" } }],
            "ccRecipients": []
        },
        "saveToSentItems": "false"
    })
}

#[tokio::test]
async fn s17_the_manager_is_a_user_directory_object_and_none_is_404_naming_manager() {
    let e = spawn_with(grant_first_day_permissions).await;
    let r = e
        .get(
            NEW_HIRE,
            &format!(
                "/v1.0/users/{USER_KATHERINE}/manager?$select=id,displayName,mail,userPrincipalName"
            ),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.body,
        json!({ "@odata.type": "#microsoft.graph.user", "id": USER_GRACE, "displayName": "Grace Hopper",
                "mail": MAIL_GRACE, "userPrincipalName": UPN_GRACE })
    );
    let none = e
        .get(ONBOARDCTL, &format!("/v1.0/users/{USER_ADA}/manager"))
        .await;
    assert_eq!(
        (none.status, none.code()),
        (404, "Request_ResourceNotFound")
    );
    assert_eq!(
        none.message(),
        "Resource 'manager' does not exist or one of its queried reference-property objects are not present."
    );
    let missing = e
        .get(NEW_HIRE, "/v1.0/users/nobody%40contoso.test/manager")
        .await;
    assert_eq!(missing.status, 404);
    assert!(
        missing
            .message()
            .starts_with("Resource 'nobody%40contoso.test'"),
        "graph-behaviour §2: the user's key"
    );
    let denied = e
        .get(
            DEVICE_PURCHASED,
            &format!("/v1.0/users/{USER_KATHERINE}/manager"),
        )
        .await;
    assert_eq!(denied.status, 403, "User.Read.All needed");
}

#[tokio::test]
async fn s17_send_mail_is_202_with_no_body_and_the_admin_api_shows_what_was_sent() {
    let e = spawn_with(grant_first_day_permissions).await;
    let before = emulated_now(&e).await;
    for sender in [MAIL_ONBOARDING, USER_ONBOARDING_MAILBOX] {
        let r = e
            .call(NEW_HIRE, "POST", &send(sender), Some(message()))
            .await;
        assert_eq!((r.status, &r.body), (202, &Value::Null), "{sender}");
    }
    let mail = e.admin("mail").await;
    let mail = mail.as_array().unwrap();
    assert_eq!(mail.len(), 2);
    let m = &mail[0];
    assert_eq!(m["seq"], 1);
    assert_eq!(
        m["sender"],
        json!({ "id": USER_ONBOARDING_MAILBOX, "userPrincipalName": MAIL_ONBOARDING, "mail": MAIL_ONBOARDING })
    );
    assert_eq!(
        m["toRecipients"],
        json!([{ "address": MAIL_GRACE, "name": "Grace" }])
    );
    assert_eq!(
        (&m["ccRecipients"], &m["bccRecipients"]),
        (&json!([]), &json!([]))
    );
    assert_eq!(m["subject"], "Your new starter's access pass");
    assert_eq!(
        (
            &m["contentType"],
            m["body"].as_str().unwrap().contains("Monday")
        ),
        (&json!("Text"), true)
    );
    assert_eq!(
        m["saveToSentItems"], false,
        "the string \"false\" is accepted"
    );
    assert!(parse(m["sentDateTime"].as_str().unwrap()) >= before.replace_nanosecond(0).unwrap());
    assert!(m["realTime"].is_string());
    let typed = e.emu.state().sent_mail();
    assert!(typed[1].is_addressed_to("GRACE@contoso.test"));
    assert_eq!(e.emu.writes_to("/users/{id}/sendMail"), 2);
    e.http.post(e.url("/_emulator/reset")).send().await.unwrap();
    assert_eq!(
        e.admin("mail").await,
        json!([]),
        "a reset empties the outbox"
    );
}

#[tokio::test]
async fn s17_send_mail_refusals_use_exchanges_codes_and_send_nothing() {
    let e = spawn_with(grant_first_day_permissions).await;
    let denied = e
        .call(ONBOARDCTL, "POST", &send(MAIL_ONBOARDING), Some(message()))
        .await;
    assert_eq!(
        (denied.status, denied.code(), denied.message()),
        (
            403,
            "ErrorAccessDenied",
            "Access is denied. Check credentials and try again."
        )
    );
    let unknown = e
        .call(
            NEW_HIRE,
            "POST",
            &send("ghost@contoso.test"),
            Some(message()),
        )
        .await;
    assert_eq!(
        (unknown.status, unknown.code(), unknown.message()),
        (
            404,
            "ErrorInvalidUser",
            "The requested user 'ghost@contoso.test' is invalid."
        )
    );
    let no_mailbox = e
        .call(NEW_HIRE, "POST", &send(USER_ADA), Some(message()))
        .await;
    assert_eq!(
        (no_mailbox.status, no_mailbox.code()),
        (404, "MailboxNotEnabledForRESTAPI"),
        "Ada has no mail address, so no mailbox"
    );
    let mut nobody = message();
    nobody["message"]["toRecipients"] = json!([]);
    let r = e
        .call(NEW_HIRE, "POST", &send(MAIL_ONBOARDING), Some(nobody))
        .await;
    assert_eq!((r.status, r.code()), (400, "ErrorInvalidRecipients"));
    let mut bad = message();
    bad["message"]["toRecipients"][0]["emailAddress"]["address"] = json!("grace");
    let r = e
        .call(NEW_HIRE, "POST", &send(MAIL_ONBOARDING), Some(bad))
        .await;
    assert_eq!((r.status, r.code()), (400, "ErrorInvalidRecipients"));
    let r = e
        .call(NEW_HIRE, "POST", &send(MAIL_ONBOARDING), Some(json!({})))
        .await;
    assert_eq!(
        (r.status, r.code()),
        (400, "ErrorInvalidRequest"),
        "no message"
    );
    assert_eq!(e.admin("mail").await, json!([]));
}

#[tokio::test]
async fn s13_s17_injected_503s_reach_send_mail_by_its_path_and_nothing_is_sent() {
    let e = spawn_with(grant_first_day_permissions).await;
    e.emu.state().set_faults(FaultConfig {
        rules: vec![FaultRule {
            path: Some("*/sendMail".into()),
            error_503_rate: 1.0,
            ..Default::default()
        }],
    });
    let r = e
        .call(NEW_HIRE, "POST", &send(MAIL_ONBOARDING), Some(message()))
        .await;
    assert_eq!((r.status, r.code()), (503, "ServiceUnavailable"));
    assert_eq!(e.admin("mail").await, json!([]), "a 503 sends nothing");
    let manager = e
        .get(NEW_HIRE, &format!("/v1.0/users/{USER_KATHERINE}/manager"))
        .await;
    assert_eq!(manager.status, 200, "other routes are not hit");
    e.emu.state().set_faults(FaultConfig::default());
    let r = e
        .call(NEW_HIRE, "POST", &send(MAIL_ONBOARDING), Some(message()))
        .await;
    assert_eq!(r.status, 202);
    assert_eq!(e.emu.counters().faults_injected, 1);
}

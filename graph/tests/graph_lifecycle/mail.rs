use graph::{DirectoryObjectId, GraphError, MailRecipient, OutgoingMail, UserId};
use secrecy::SecretString;
use shared::error::Classify;
use shared::ids::Upn;

use super::server::{Answer, Recorded, TestServer};
use super::{client, graph_error, json_body, shadow_client};

const MANAGER: &str = r##"{"@odata.type":"#microsoft.graph.user","id":"7d54cb02-aaa3-4016-9f9c-a4b49422dd9b","displayName":"Sara Davis","jobTitle":"Finance VP","mail":"SaraD@contoso.onmicrosoft.com","userPrincipalName":"SaraD@contoso.onmicrosoft.com"}"##;

fn no_such(key: &str) -> String {
    graph_error(
        "Request_ResourceNotFound",
        &format!(
            "Resource '{key}' does not exist or one of its queried reference-property objects are not present."
        ),
    )
}

#[tokio::test]
async fn the_manager_is_read_with_the_documented_select() {
    let server = TestServer::start(|_, _| Answer(200, vec![], MANAGER.into())).await;
    let manager = client(&server)
        .manager(&UserId::new("u-1"))
        .await
        .unwrap()
        .unwrap();
    let sent = &server.graph_requests()[0];
    assert_eq!(sent.method, "GET");
    assert_eq!(
        sent.target,
        "/v1.0/users/u-1/manager?$select=id%2CdisplayName%2Cmail%2CuserPrincipalName"
    );
    assert_eq!(
        manager.id,
        DirectoryObjectId::new("7d54cb02-aaa3-4016-9f9c-a4b49422dd9b")
    );
    assert_eq!(manager.mailbox(), Some("SaraD@contoso.onmicrosoft.com"));
    assert!(!manager.is_org_contact());
}

#[tokio::test]
async fn no_manager_is_none_once_the_user_is_known_to_exist() {
    let server = TestServer::start(|r: &Recorded, _| {
        if r.path().ends_with("/manager") {
            Answer(404, vec![], no_such("manager"))
        } else {
            Answer(200, vec![], r#"{"id":"u-1"}"#.into())
        }
    })
    .await;
    assert_eq!(client(&server).manager(&UserId::new("u-1")).await, Ok(None));
    let targets: Vec<String> = server
        .graph_requests()
        .iter()
        .map(|r| r.target.clone())
        .collect();
    assert_eq!(targets[1], "/v1.0/users/u-1?$select=id");
}

#[tokio::test]
async fn a_missing_user_is_not_found_rather_than_no_manager() {
    let server = TestServer::start(|_, _| Answer(404, vec![], no_such("u-1"))).await;
    let err = client(&server)
        .manager(&UserId::new("u-1"))
        .await
        .unwrap_err();
    assert!(matches!(err, GraphError::NotFound { .. }), "{err:?}");
    assert!(!err.class().is_transient());
    assert_eq!(server.graph_requests().len(), 2);
}

#[tokio::test]
async fn a_manager_without_mail_is_read_but_has_no_mailbox() {
    let server = TestServer::start(|_, _| {
        Answer(200, vec![], r##"{"@odata.type":"#microsoft.graph.orgContact","id":"c-1","displayName":"Ext","mail":null}"##.into())
    })
    .await;
    let manager = client(&server)
        .manager(&UserId::new("u-1"))
        .await
        .unwrap()
        .unwrap();
    assert!(manager.is_org_contact());
    assert_eq!(manager.mailbox(), None);
}

fn mail() -> OutgoingMail {
    OutgoingMail {
        subject: "Your new starter's access pass".into(),
        text: SecretString::from(
            "Pass: Kn0wn+Pass!Value. It works from Monday 08:00 for 8 hours.".to_owned(),
        ),
        to: vec![MailRecipient {
            address: "grace@contoso.com".into(),
            name: Some("Grace".into()),
        }],
    }
}

fn sender(s: &str) -> Upn {
    s.parse().unwrap()
}

#[tokio::test]
async fn mail_is_sent_as_plain_text_from_the_sender_mailbox_and_not_saved() {
    let server = TestServer::start(|_, _| Answer(202, vec![], String::new())).await;
    client(&server)
        .send_mail(&sender("onboarding_x.com#EXT#@contoso.com"), &mail())
        .await
        .unwrap();
    let sent = &server.graph_requests()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.target,
        "/v1.0/users/onboarding_x.com%23EXT%23@contoso.com/sendMail"
    );
    assert_eq!(
        json_body(sent),
        serde_json::json!({
            "message": {
                "subject": "Your new starter's access pass",
                "body": { "contentType": "Text", "content": "Pass: Kn0wn+Pass!Value. It works from Monday 08:00 for 8 hours." },
                "toRecipients": [{ "emailAddress": { "address": "grace@contoso.com", "name": "Grace" } }]
            },
            "saveToSentItems": false
        })
    );
    assert!(
        !format!("{:?}", mail()).contains("Kn0wn"),
        "Debug redacts the text"
    );
}

#[tokio::test]
async fn a_5xx_on_send_is_not_repeated_but_a_429_is() {
    let server = TestServer::start(|_, _| Answer(503, vec![], String::new())).await;
    let err = client(&server)
        .send_mail(&sender("hr@contoso.com"), &mail())
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Unavailable { status: 503, .. }),
        "{err:?}"
    );
    assert!(err.class().is_transient());
    assert_eq!(
        server.graph_requests().len(),
        1,
        "the mail may have gone out"
    );

    let server = TestServer::start(|_, n| match n {
        0 => Answer(
            429,
            vec![("Retry-After", "0.2".into())],
            graph_error("TooManyRequests", "x"),
        ),
        _ => Answer(202, vec![], String::new()),
    })
    .await;
    client(&server)
        .send_mail(&sender("hr@contoso.com"), &mail())
        .await
        .unwrap();
    assert_eq!(server.graph_requests().len(), 2, "a 429 was not processed");
}

#[tokio::test]
async fn a_refused_sender_names_mail_send_and_never_echoes_the_text() {
    let server = TestServer::start(|_, n| match n {
        0 => Answer(
            403,
            vec![],
            graph_error("ErrorAccessDenied", "Access to OData is disabled."),
        ),
        _ => Answer(
            400,
            vec![],
            graph_error(
                "ErrorInvalidRequest",
                "Cannot send 'Pass: Kn0wn+Pass!Value. It works from Monday 08:00'",
            ),
        ),
    })
    .await;
    let c = client(&server);
    let denied = c
        .send_mail(&sender("hr@contoso.com"), &mail())
        .await
        .unwrap_err();
    assert!(denied.to_string().contains("Mail.Send"), "{denied}");
    assert!(!denied.class().is_transient());
    let echoed = c
        .send_mail(&sender("hr@contoso.com"), &mail())
        .await
        .unwrap_err();
    assert!(!echoed.to_string().contains("Kn0wn"), "{echoed}");
    assert!(echoed.to_string().contains("withheld"), "{echoed}");
    assert!(!echoed.class().is_transient());
}

#[tokio::test]
async fn shadow_mode_sends_no_mail() {
    let server = TestServer::start(|_, _| Answer(500, vec![], String::new())).await;
    shadow_client(&server)
        .send_mail(&sender("hr@contoso.com"), &mail())
        .await
        .unwrap();
    assert!(server.graph_requests().is_empty());
}

use std::time::Duration;

use e2e::TestEnv;
use graph_emulator::demo;
use lapin::BasicProperties;
use shared::amqp::headers;
use shared::config::Service;
use shared::events::{CONTENT_TYPE, EmployeeHired, Event as _};

const WITHIN: Duration = Duration::from_secs(20);

fn props(content_type: &str) -> BasicProperties {
    BasicProperties::default()
        .with_content_type(content_type.into())
        .with_message_id(uuid::Uuid::new_v4().to_string().into())
        .with_delivery_mode(2)
}

fn hire_json(event_type: &str, upn: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "specversion": "1.0", "id": uuid::Uuid::new_v4().to_string(), "source": "urn:e2e", "type": event_type,
        "data": { "employeeId": "E9", "userPrincipalName": upn }
    }))
    .unwrap()
}

#[tokio::test]
async fn malformed_oversized_and_wrong_type_messages_are_dead_lettered_at_once_and_the_service_keeps_going()
 {
    let env = TestEnv::spawn("bad_input_dead_lettered").await;
    let service = env.start_new_hire(env.settings(demo::NEW_HIRE, &[])).await;
    let dead = env.dead_letters(Service::NewHire).await;
    let publish = |body: Vec<u8>, content_type: &'static str| {
        let p = &env.publisher;
        let exchange = env.prefix.clone();
        async move {
            p.publish_raw(
                &exchange,
                EmployeeHired::TYPE,
                true,
                &body,
                props(content_type),
            )
            .await
            .expect("confirmed")
        }
    };

    publish(b"{not json".to_vec(), CONTENT_TYPE).await;
    publish(vec![b' '; 70 * 1024], CONTENT_TYPE).await;
    publish(hire_json("hr.employee.fired", demo::UPN_ADA), CONTENT_TYPE).await;
    publish(hire_json(EmployeeHired::TYPE, "not-an-upn"), CONTENT_TYPE).await;
    publish(hire_json(EmployeeHired::TYPE, demo::UPN_ADA), "text/plain").await;
    env.publish_hire(TestEnv::hire(demo::UPN_ADA, "E1001", None))
        .await;

    let letters = dead.take(5, "dead letters", WITHIN).await;
    let reasons: Vec<String> = letters
        .iter()
        .map(|l| l.header(headers::REASON).unwrap_or_default())
        .collect();
    for letter in &letters {
        assert_eq!(
            letter.header(headers::ERROR_CLASS).as_deref(),
            Some("invalid"),
            "{reasons:?}"
        );
        assert_eq!(letter.header(headers::SERVICE).as_deref(), Some("new-hire"));
        assert!(
            letter.number_header(headers::ATTEMPTS).unwrap_or(1) <= 1,
            "never retried"
        );
    }
    let has = |needle: &str| reasons.iter().any(|r| r.contains(needle));
    assert!(has("JSON") || has("json"), "bad JSON named: {reasons:?}");
    assert!(
        has("bytes") || has("KiB") || has("large"),
        "size named: {reasons:?}"
    );
    assert!(has("hr.employee.fired"), "wrong type named: {reasons:?}");
    assert!(has("userPrincipalName"), "bad field named: {reasons:?}");
    assert!(has("text/plain"), "content type named: {reasons:?}");
    assert_eq!(
        letters[1].body.len(),
        70 * 1024,
        "the original body is kept"
    );

    let outcome = env
        .outcomes
        .next("the good hire after the bad ones", WITHIN)
        .await;
    assert_eq!(outcome.json()["data"]["userId"], demo::USER_ADA);
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn an_app_without_group_write_permission_dead_letters_with_the_permission_named() {
    let env = TestEnv::spawn("missing_group_write").await;
    let service = env
        .start_new_hire(env.settings(demo::NEW_HIRE_NO_GROUPWRITE, &[]))
        .await;
    let dead = env.dead_letters(Service::NewHire).await;

    let event = env
        .publish_hire(TestEnv::hire(demo::UPN_GRACE, "E1002", None))
        .await;
    let letter = dead.next("the dead letter", WITHIN).await;

    // Without GroupMember.ReadWrite.All the app cannot even read memberships: the reason names
    // the permission the first refused call needed, and says to grant it.
    let reason = letter.header(headers::REASON).unwrap_or_default();
    assert!(
        reason.contains("GroupMember.Read") && reason.contains("grant"),
        "{reason}"
    );
    assert_eq!(
        letter.header(headers::ERROR_CLASS).as_deref(),
        Some("permanent")
    );
    assert_eq!(
        letter.properties.message_id().as_ref().map(|m| m.as_str()),
        Some(event.id.as_str())
    );
    let denied = env
        .emulator
        .requests()
        .iter()
        .filter(|r| r.status == 403)
        .count();
    assert_eq!(denied, 1, "refused once, not retried");
    service.stop().await.expect("clean stop");
    env.finish().await;
}

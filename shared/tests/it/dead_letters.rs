//! Dead letters: every reason header, the original body and headers kept, invalid events
//! never retried, and the consumer still consuming afterwards. Also the publisher's view of
//! an unroutable publish.

use std::time::Duration;

use lapin::BasicProperties;
use lapin::types::FieldTable;
use shared::amqp::AmqpError;
use shared::amqp::headers as h;
use shared::amqp::publish::event_properties;
use shared::events::{EmployeeHired, Event as _};

use crate::helpers::*;

fn hire_body(id: &str, event_type: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "specversion": "1.0", "id": id, "source": "urn:test", "type": event_type,
        "data": {"employeeId": "E7", "userPrincipalName": "eve@contoso.test"}
    }))
    .unwrap()
}

#[tokio::test]
async fn transient_failure_past_max_age_is_dead_lettered_with_every_reason_header_and_the_original_message()
 {
    let broker = TestBroker::new("max_age_dead_letter", &[]).await;
    let topology = broker.declare().await;
    let mut dead = broker.consume(&topology.dead_queue).await;
    let (handler, _calls) = Scripted::always(Script::Transient(None));
    let running = Running::start(&broker, handler);

    // An event first seen two days ago, as if it had been retried all that time.
    let mut headers = FieldTable::default();
    h::set_time(
        &mut headers,
        h::FIRST_SEEN,
        time::OffsetDateTime::now_utc() - time::Duration::days(2),
    );
    h::set_text(&mut headers, "x-test-origin", "keep-me");
    let body = hire_body("evt-old", EmployeeHired::TYPE);
    // user_id and expiration must not travel: the broker checks user_id against the
    // republisher's login, and an expiration would drop the dead letter.
    let props = event_properties("evt-old", headers)
        .with_user_id("guest".into())
        .with_expiration("600000".into());
    broker
        .publisher
        .publish_raw(&broker.prefix, EmployeeHired::TYPE, true, &body, props)
        .await
        .unwrap();

    let letter = dead.next("the dead letter").await;
    assert_eq!(letter.data, body, "body unchanged");
    assert_eq!(header(&letter, "x-test-origin").as_deref(), Some("keep-me"));
    assert_eq!(letter.properties.user_id(), &None);
    assert_eq!(letter.properties.expiration(), &None);
    assert_eq!(
        letter.properties.message_id().as_ref().unwrap().as_str(),
        "evt-old"
    );
    let reason = header(&letter, h::REASON).unwrap();
    assert!(
        reason.starts_with("gave up after 1 attempts in 2days"),
        "{reason}"
    );
    assert!(reason.ends_with("test says: try again later"), "{reason}");
    assert_eq!(
        header(&letter, h::ERROR_CLASS).as_deref(),
        Some("transient")
    );
    assert_eq!(header_number(&letter, h::ATTEMPTS), Some(1));
    assert_eq!(header(&letter, h::SERVICE).as_deref(), Some("new-hire"));
    assert_eq!(
        header(&letter, h::ORIGINAL_QUEUE).as_deref(),
        Some(topology.queue.as_str())
    );
    assert!(h::time(letter.properties.headers().as_ref().unwrap(), h::FIRST_SEEN).is_some());
    assert!(
        h::time(
            letter.properties.headers().as_ref().unwrap(),
            h::LAST_FAILURE
        )
        .is_some()
    );
    running.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn permanent_failure_is_dead_lettered_at_once() {
    let broker = TestBroker::new(
        "permanent_dead_letter",
        &[("ONBOARDING__AMQP__QUEUE_DEPTH_INTERVAL", "50ms")],
    )
    .await;
    let topology = broker.declare().await;
    let mut dead = broker.consume(&topology.dead_queue).await;
    let (handler, mut calls) = Scripted::always(Script::Permanent);
    let running = Running::start(&broker, handler);

    broker.publish_hire("fay@contoso.test").await;

    let letter = dead.next("the dead letter").await;
    assert_eq!(
        header(&letter, h::REASON).as_deref(),
        Some("test says: this cannot work")
    );
    assert_eq!(
        header(&letter, h::ERROR_CLASS).as_deref(),
        Some("permanent")
    );
    assert_eq!(header_number(&letter, h::ATTEMPTS), Some(1));
    assert_eq!(calls.recv().await.unwrap().0.attempt, 1);
    assert!(calls.try_recv().is_err(), "the handler ran once");
    // Counted once the dead letter is confirmed, which may be just after the watch saw it.
    let counted = r#"onboarding_dead_letters_total{service="new-hire",class="permanent"} 1"#;
    eventually(
        "the dead letter to be counted",
        Duration::from_secs(5),
        || async { running.metrics.render().contains(counted).then_some(()) },
    )
    .await;
    // Wait for a sample that includes the dead-letter queue (its depth may already be 0 again,
    // since the watch consumed the letter).
    let depth_line = format!(
        r#"onboarding_queue_messages{{service="new-hire",queue="{}"}}"#,
        topology.dead_queue
    );
    eventually(
        "a sampled dead-letter queue depth",
        Duration::from_secs(5),
        || async { running.metrics.render().contains(&depth_line).then_some(()) },
    )
    .await;
    running.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn invalid_events_are_dead_lettered_with_the_problem_and_the_consumer_keeps_going() {
    let broker = TestBroker::new(
        "invalid_events",
        &[("ONBOARDING__AMQP__MAX_BODY_BYTES", "2048")],
    )
    .await;
    let topology = broker.declare().await;
    let mut dead = broker.consume(&topology.dead_queue).await;
    let mut outcomes = broker.watch(USER_READY).await;
    let (handler, _calls) = Scripted::always(Script::Succeed);
    let running = Running::start(&broker, handler);

    let oversized = {
        let mut v: serde_json::Value =
            serde_json::from_slice(&hire_body("big", EmployeeHired::TYPE)).unwrap();
        v["data"]["displayName"] = "x".repeat(4096).into();
        serde_json::to_vec(&v).unwrap()
    };
    let json_props = |id: &str| event_properties(id, FieldTable::default());
    let cases: Vec<(&str, Vec<u8>, BasicProperties, &str)> = vec![
        (
            "bad-json",
            b"{not json".to_vec(),
            json_props("bad-json"),
            "body: not a JSON object",
        ),
        (
            "bad-ct",
            hire_body("bad-ct", EmployeeHired::TYPE),
            BasicProperties::default().with_content_type("text/plain".into()),
            "content_type: expected application/cloudevents+json, got text/plain",
        ),
        (
            "big",
            oversized,
            json_props("big"),
            "bytes is over the 2048-byte limit",
        ),
        (
            "bad-type",
            hire_body("bad-type", "hr.employee.fired"),
            json_props("bad-type"),
            "type: expected hr.employee.hired, got hr.employee.fired",
        ),
    ];
    for (_, body, props, _) in &cases {
        broker
            .publisher
            .publish_raw(
                &broker.prefix,
                EmployeeHired::TYPE,
                true,
                body,
                props.clone(),
            )
            .await
            .unwrap();
    }
    broker.publish_hire("gus@contoso.test").await;

    let mut reasons = Vec::new();
    for _ in &cases {
        let letter = dead.next("a dead letter for an invalid event").await;
        assert_eq!(header(&letter, h::ERROR_CLASS).as_deref(), Some("invalid"));
        reasons.push(header(&letter, h::REASON).unwrap());
    }
    for (name, _, _, expected) in &cases {
        assert!(
            reasons.iter().any(|r| r.contains(expected)),
            "{name}: no reason containing {expected:?} in {reasons:?}"
        );
    }
    outcomes
        .next("the valid event's outcome after the invalid ones")
        .await;
    running.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn unroutable_mandatory_publish_is_an_error() {
    let broker = TestBroker::new("unroutable_publish", &[]).await;
    let event =
        shared::events::Envelope::new(EmployeeHired::TYPE, "urn:test", None, serde_json::json!({}));

    let result = broker
        .publisher
        .publish_event(&broker.prefix, "nobody.listens.here", &event)
        .await;

    assert!(
        matches!(result, Err(AmqpError::Unroutable { .. })),
        "{result:?}"
    );
    broker.cleanup().await;
}

#[derive(Debug)]
struct Panics;

impl shared::amqp::Handler for Panics {
    type In = EmployeeHired;
    type Out = crate::helpers::Ready;
    type Error = TestError;
    async fn handle(
        &self,
        _: &shared::events::Envelope<Self::In>,
        _: &shared::amqp::DeliveryInfo,
    ) -> Result<Self::Out, TestError> {
        panic!("handler bug (expected by this test)")
    }
}

#[tokio::test]
async fn a_handler_that_panics_every_time_ends_in_the_dead_letter_queue_by_delivery_limit() {
    let broker = TestBroker::new(
        "panicking_handler",
        &[("ONBOARDING__AMQP__DELIVERY_LIMIT", "1")],
    )
    .await;
    let topology = broker.declare().await;
    let mut dead = broker.consume(&topology.dead_queue).await;
    let running = Running::start(&broker, std::sync::Arc::new(Panics));

    let hire = broker.publish_hire("poison@contoso.test").await;

    let letter = dead
        .next("the broker to dead-letter the poison message")
        .await;
    assert_eq!(
        letter.properties.message_id().as_ref().unwrap().as_str(),
        hire.id
    );
    assert!(
        header(&letter, h::REASON).is_none(),
        "the broker, not the runtime, dead-lettered it"
    );
    assert!(
        !running.task.is_finished(),
        "the consumer survived the panics"
    );
    running.stop().await;
    broker.cleanup().await;
}

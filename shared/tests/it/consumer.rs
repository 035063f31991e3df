//! The consumer's happy path, retries through delay tiers, and dead letters with reasons.

use std::time::Duration;

use crate::helpers::USER_READY;
use shared::amqp::headers as h;

use crate::helpers::*;

#[tokio::test]
async fn handler_success_publishes_the_outcome_and_acks() {
    let broker = TestBroker::new("success_acks", &[]).await;
    let topology = broker.declare().await;
    let mut outcomes = broker.watch(USER_READY).await;
    let (handler, mut calls) = Scripted::always(Script::Succeed);
    let running = Running::start(&broker, handler);

    let hire = broker.publish_hire("ada@contoso.test").await;

    let outcome = outcomes.next("the user.ready outcome").await;
    let body: serde_json::Value = serde_json::from_slice(&outcome.data).unwrap();
    assert_eq!(body["type"], USER_READY);
    assert_eq!(body["subject"], "ada@contoso.test");
    assert_eq!(body["source"], "urn:onboarding:new-hire");
    assert_eq!(
        outcome.properties.content_type().as_ref().unwrap().as_str(),
        shared::events::CONTENT_TYPE
    );
    let (info, _) = calls.recv().await.unwrap();
    assert_eq!(
        (info.attempt, info.message_id.as_str(), info.redelivered),
        (1, hire.id.as_str(), false)
    );
    eventually(
        "the work queue to be empty",
        Duration::from_secs(5),
        || async { (broker.depth(&topology.queue).await == 0).then_some(()) },
    )
    .await;
    assert!(
        running
            .metrics
            .render()
            .contains(r#"onboarding_messages_total{service="new-hire",outcome="succeeded"} 1"#)
    );
    running.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn transient_error_returns_through_a_delay_tier_with_attempt_two_and_first_seen_kept() {
    let broker = TestBroker::new("transient_retry", &[]).await;
    broker.declare().await;
    let mut outcomes = broker.watch(USER_READY).await;
    let (handler, mut calls) = Scripted::new(|info| {
        let script = if info.attempt == 1 {
            Script::Transient(None)
        } else {
            Script::Succeed
        };
        Box::pin(async move { script })
    });
    let running = Running::start(&broker, handler);

    broker.publish_hire("bob@contoso.test").await;

    outcomes.next("the outcome after one retry").await;
    let (first, _) = calls.recv().await.unwrap();
    let (second, _) = calls.recv().await.unwrap();
    assert_eq!((first.attempt, second.attempt), (1, 2));
    assert_eq!(first.message_id, second.message_id);
    // RFC 3339 in the header keeps whole nanoseconds; compare to the millisecond.
    let delta = (second.first_seen - first.first_seen).abs();
    assert!(
        delta < time::Duration::milliseconds(1),
        "first_seen moved by {delta}"
    );
    let metrics = running.metrics.render();
    assert!(
        metrics.contains(r#"onboarding_retries_total{service="new-hire",tier="200ms"} 1"#),
        "{metrics}"
    );
    running.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn retry_after_picks_the_smallest_tier_that_waits_long_enough() {
    let broker = TestBroker::new("retry_after_tier", &[]).await;
    let topology = broker.declare().await;
    // Watch the 500ms tier by consuming it: the message parks there, and we see it arrive.
    let mut tier = broker
        .consume(topology.tier_queue(Duration::from_millis(500)).unwrap())
        .await;
    let (handler, _calls) = Scripted::always(Script::Transient(Some(Duration::from_millis(300))));
    let running = Running::start(&broker, handler);

    let hire = broker.publish_hire("cy@contoso.test").await;

    let parked = tier.next("the message in the 500ms tier").await;
    assert_eq!(
        parked.properties.message_id().as_ref().unwrap().as_str(),
        hire.id
    );
    assert_eq!(header_number(&parked, h::ATTEMPTS), Some(1));
    assert_eq!(
        header(&parked, h::LAST_ERROR).as_deref(),
        Some("test says: try again later")
    );
    running.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn handler_calls_continue_the_publishers_trace() {
    let _telemetry = crate::telemetry::quiet_telemetry();
    let broker = TestBroker::new("trace_propagates", &[]).await;
    broker.declare().await;
    let mut outcomes = broker.watch(USER_READY).await;
    let (handler, mut calls) = Scripted::always(Script::Succeed);
    let running = Running::start(&broker, handler);

    let span = tracing::info_span!("test publish");
    let published_trace = {
        let _entered = span.enter();
        shared::telemetry::current_trace_id().expect("a recorded span")
    };
    tracing::Instrument::instrument(broker.publish_hire("dee@contoso.test"), span).await;

    let outcome = outcomes.next("the outcome").await;
    let (_, handler_trace) = calls.recv().await.unwrap();
    assert_eq!(handler_trace.as_deref(), Some(published_trace.as_str()));
    let traceparent = header(&outcome, h::TRACEPARENT).expect("outcome carries traceparent");
    assert_eq!(
        traceparent.split('-').nth(1),
        Some(published_trace.as_str())
    );
    running.stop().await;
    broker.cleanup().await;
}

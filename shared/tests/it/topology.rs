//! The topology declares twice without complaint, and the broker holds the arguments we meant.

use std::process::Command;

use crate::helpers::*;

/// `rabbitmqctl list_queues name arguments` lines for queues starting with `prefix`.
fn broker_queue_arguments(prefix: &str) -> Vec<String> {
    let out = Command::new("rabbitmqctl")
        .args([
            "list_queues",
            "-q",
            "--no-table-headers",
            "name",
            "arguments",
        ])
        .output()
        .expect("rabbitmqctl runs");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.starts_with(prefix))
        .map(str::to_owned)
        .collect()
}

#[tokio::test]
async fn topology_declares_twice_and_the_queues_carry_the_declared_arguments() {
    let broker = TestBroker::new(
        "topology_idempotent",
        &[("ONBOARDING__AMQP__DELIVERY_LIMIT", "7")],
    )
    .await;

    let first = broker.declare().await;
    let second = broker.declare().await;

    assert_eq!(first, second);
    let names: Vec<&str> = first.queues().collect();
    let p = &broker.prefix;
    assert_eq!(
        names,
        [
            format!("{p}.new-hire"),
            format!("{p}.new-hire.delay.200ms"),
            format!("{p}.new-hire.delay.500ms"),
            format!("{p}.new-hire.dead")
        ]
    );
    let lines = broker_queue_arguments(p);
    let line = |name: &str| {
        lines
            .iter()
            .find(|l| l.split_whitespace().next() == Some(name))
            .cloned()
            .unwrap_or_else(|| panic!("{name} not in {lines:?}"))
    };
    // rabbitmqctl prints each argument as {"key",value}; an empty string prints as [].
    let dead_letters_to = |target: &str| {
        vec![
            r#"{"x-queue-type","quorum"}"#.to_owned(),
            r#"{"x-dead-letter-exchange",[]}"#.to_owned(),
            format!(r#"{{"x-dead-letter-routing-key","{target}"}}"#),
            r#"{"x-dead-letter-strategy","at-least-once"}"#.to_owned(),
            r#"{"x-overflow","reject-publish"}"#.to_owned(),
        ]
    };
    let work = line(&format!("{p}.new-hire"));
    for expected in dead_letters_to(&format!("{p}.new-hire.dead"))
        .iter()
        .chain([&r#"{"x-delivery-limit",7}"#.to_owned()])
    {
        assert!(
            work.contains(expected.as_str()),
            "work queue lacks {expected}: {work}"
        );
    }
    let tier = line(&format!("{p}.new-hire.delay.500ms"));
    for expected in dead_letters_to(&format!("{p}.new-hire"))
        .iter()
        .chain([&r#"{"x-message-ttl",500}"#.to_owned()])
    {
        assert!(
            tier.contains(expected.as_str()),
            "delay tier lacks {expected}: {tier}"
        );
    }
    let dead = line(&format!("{p}.new-hire.dead"));
    for expected in [
        r#"{"x-queue-type","quorum"}"#,
        r#"{"x-delivery-limit",1000000}"#,
    ] {
        assert!(
            dead.contains(expected),
            "dead-letter queue lacks {expected}: {dead}"
        );
    }
    broker.cleanup().await;
}

//! The consumer survives a forced connection close and shuts down gracefully: in-flight work
//! finishes within the grace, unfinished work is left for redelivery, nothing is lost.

use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Duration;

use crate::helpers::USER_READY;
use lapin::options::BasicGetOptions;
use tokio::sync::Semaphore;

use crate::helpers::*;

/// Closes the broker connections whose `connection_name` is exactly `name`; returns how many.
async fn close_connections_named(name: &str) -> usize {
    let out = tokio::process::Command::new("rabbitmqctl")
        .args([
            "list_connections",
            "-q",
            "--no-table-headers",
            "pid",
            "client_properties",
        ])
        .output()
        .await
        .expect("rabbitmqctl runs");
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let needle = format!("{{\"connection_name\",\"{name}\"}}");
    let pids: Vec<&str> = listing
        .lines()
        .filter(|l| l.contains(&needle))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    for pid in &pids {
        let out = tokio::process::Command::new("rabbitmqctl")
            .args(["close_connection", pid, "reconnect test"])
            .output()
            .await
            .expect("rabbitmqctl runs");
        assert!(out.status.success(), "close_connection {pid}");
    }
    assert!(
        !pids.is_empty(),
        "no connection named {name} in:\n{listing}"
    );
    pids.len()
}

#[tokio::test]
async fn consumer_recovers_from_a_forced_close_and_processes_every_message() {
    let broker = TestBroker::new("reconnect", &[]).await;
    let topology = broker.declare().await;
    let mut outcomes = broker.watch(USER_READY).await;
    // First deliveries wait at the gate, so they are in flight when the connection drops.
    let gate = Arc::new(Semaphore::new(0));
    let (handler, _calls) = Scripted::new({
        let gate = gate.clone();
        move |info| {
            let gate = gate.clone();
            let first = info.attempt == 1 && !info.redelivered;
            Box::pin(async move {
                if first {
                    drop(gate.acquire().await);
                }
                Script::Succeed
            })
        }
    });
    let running = Running::start(&broker, handler);
    let upns: BTreeSet<String> = (0..5).map(|i| format!("user{i}@contoso.test")).collect();
    for upn in &upns {
        broker.publish_hire(upn).await;
    }
    eventually(
        "the consumer to hold all five",
        Duration::from_secs(5),
        || async { (broker.depth(&topology.queue).await == 0).then_some(()) },
    )
    .await;

    close_connections_named(&broker.prefix).await;
    gate.add_permits(1000);

    let mut seen = BTreeSet::new();
    while seen != upns {
        let outcome = outcomes.next("an outcome for every hire").await;
        let body: serde_json::Value = serde_json::from_slice(&outcome.data).unwrap();
        seen.insert(body["subject"].as_str().unwrap().to_owned());
    }
    eventually(
        "work and dead-letter queues empty",
        Duration::from_secs(10),
        || async {
            let empty = broker.depth(&topology.queue).await == 0
                && broker.depth(&topology.dead_queue).await == 0;
            empty.then_some(())
        },
    )
    .await;
    eventually("readiness back", Duration::from_secs(10), || async {
        running.ready.is_set().then_some(())
    })
    .await;
    running.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn consumer_rebuilds_its_session_when_the_broker_cancels_it() {
    let broker = TestBroker::new("rebuild_after_cancel", &[]).await;
    let topology = broker.declare().await;
    let mut outcomes = broker.watch(USER_READY).await;
    let (handler, _calls) = Scripted::always(Script::Succeed);
    let running = Running::start(&broker, handler);
    broker.publish_hire("before@contoso.test").await;
    outcomes.next("the first outcome").await;

    // Deleting the queue cancels the consumer: lapin cannot recover that, the supervisor must.
    broker
        .publisher
        .channel()
        .queue_delete(topology.queue.as_str().into(), Default::default())
        .await
        .unwrap();

    let after = hire("after@contoso.test");
    eventually(
        "the work queue to be declared again",
        Duration::from_secs(10),
        || async {
            let published = broker
                .publisher
                .publish_event(
                    &broker.prefix,
                    <shared::events::EmployeeHired as shared::events::Event>::TYPE,
                    &after,
                )
                .await;
            published.is_ok().then_some(())
        },
    )
    .await;
    let outcome = outcomes.next("the outcome after the rebuild").await;
    let body: serde_json::Value = serde_json::from_slice(&outcome.data).unwrap();
    assert_eq!(body["subject"], "after@contoso.test");
    running.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn consumer_rebuilds_when_its_publish_channel_is_closed_by_a_channel_error() {
    let broker = TestBroker::new("rebuild_after_channel_error", &[]).await;
    let topology = broker.declare().await;
    let (handler, mut calls) = Scripted::always(Script::Succeed);
    let running = Running::start(&broker, handler);
    eventually(
        "the consumer to be ready",
        Duration::from_secs(5),
        || async { running.ready.is_set().then_some(()) },
    )
    .await;

    // Without the exchange, the outcome publish fails with 404 and the broker closes the
    // publish channel for good: lapin does not recover that, the supervisor must.
    broker
        .publisher
        .channel()
        .exchange_delete(broker.prefix.as_str().into(), Default::default())
        .await
        .unwrap();
    let event = hire("orphan@contoso.test");
    let body = serde_json::to_vec(&event).unwrap();
    let props = shared::amqp::publish::event_properties(&event.id, Default::default());
    broker
        .publisher
        .publish_raw("", &topology.queue, true, &body, props)
        .await
        .unwrap();

    let (first, _) = within("the first try", Duration::from_secs(5), calls.recv())
        .await
        .unwrap();
    let (second, _) = within(
        "the try after the rebuild",
        Duration::from_secs(10),
        calls.recv(),
    )
    .await
    .unwrap();
    assert_eq!((first.redelivered, second.redelivered), (false, true));
    let succeeded = r#"onboarding_messages_total{service="new-hire",outcome="succeeded"} 1"#;
    eventually(
        "the outcome confirmed and the message acked",
        Duration::from_secs(10),
        || async {
            let done = running.metrics.render().contains(succeeded)
                && broker.depth(&topology.queue).await == 0;
            done.then_some(())
        },
    )
    .await;
    running.stop().await;
    broker.cleanup().await;
}

#[tokio::test]
async fn shutdown_waits_for_in_flight_handlers_and_leaves_unfinished_ones_for_redelivery() {
    let broker = TestBroker::new(
        "graceful_shutdown",
        &[("ONBOARDING__AMQP__SHUTDOWN_GRACE", "1s")],
    )
    .await;
    let topology = broker.declare().await;
    let mut outcomes = broker.watch(USER_READY).await;
    let (quick, stuck) = (hire("quick@contoso.test"), hire("stuck@contoso.test"));
    let release_quick = Arc::new(Semaphore::new(0));
    let (handler, mut calls) = Scripted::new({
        let (quick_id, release_quick) = (quick.id.clone(), release_quick.clone());
        move |info| {
            let is_quick = info.message_id == quick_id;
            let release_quick = release_quick.clone();
            Box::pin(async move {
                if is_quick {
                    drop(release_quick.acquire().await);
                } else {
                    std::future::pending::<()>().await; // outlives the grace
                }
                Script::Succeed
            })
        }
    });
    let running = Running::start(&broker, handler);
    broker.publish(&quick).await;
    broker.publish(&stuck).await;
    within("both handlers to start", Duration::from_secs(5), async {
        calls.recv().await;
        calls.recv().await;
    })
    .await;

    running.shutdown.cancel();
    release_quick.add_permits(1);
    within(
        "the consumer to stop within the grace",
        Duration::from_secs(5),
        running.task,
    )
    .await
    .unwrap()
    .expect("clean stop");

    let outcome = outcomes.next("the quick message's outcome").await;
    let body: serde_json::Value = serde_json::from_slice(&outcome.data).unwrap();
    assert_eq!(body["subject"], "quick@contoso.test");
    let left = eventually(
        "the stuck message back in the queue",
        Duration::from_secs(5),
        || async {
            broker
                .publisher
                .channel()
                .basic_get(
                    topology.queue.as_str().into(),
                    BasicGetOptions { no_ack: true },
                )
                .await
                .unwrap()
        },
    )
    .await;
    assert_eq!(
        left.delivery
            .properties
            .message_id()
            .as_ref()
            .unwrap()
            .as_str(),
        stuck.id
    );
    assert!(left.delivery.redelivered);
    assert_eq!(
        broker.depth(&topology.queue).await,
        0,
        "only the stuck message was left"
    );
    broker.cleanup().await;
}

#[tokio::test]
async fn consumer_stops_on_shutdown_while_the_broker_is_unreachable() {
    let mut settings = shared::config::load(None, Default::default()).unwrap();
    settings.amqp.url = "amqp://guest:guest@127.0.0.1:1/%2f".to_owned().into();
    let spec = shared::amqp::ConsumerSpec::for_handler::<Scripted>(
        shared::config::Service::NewHire,
        &settings.amqp,
    )
    .unwrap();
    let (handler, _calls) = Scripted::always(Script::Succeed);
    let ready = shared::health::ReadinessFlag::new();
    let shutdown = tokio_util::sync::CancellationToken::new();
    let metrics = shared::telemetry::Metrics::new("new-hire");
    let task = tokio::spawn({
        let (ready, shutdown) = (ready.clone(), shutdown.clone());
        async move {
            shared::amqp::Runtime::new(&settings.amqp, spec, metrics, ready, shutdown)
                .run(handler)
                .await
        }
    });

    tokio::task::yield_now().await;
    assert!(!ready.is_set());
    shutdown.cancel();

    within(
        "the consumer to give up waiting",
        Duration::from_secs(5),
        task,
    )
    .await
    .unwrap()
    .expect("an unreachable broker is not an error, only a wait");
}

//! The same purchase more than once — redelivered, fifty at once, across a SIGKILL, late
//! devices, another replica — imports each serial once and syncs at most once per interval.

use super::*;

#[tokio::test]
async fn device_purchased_three_deliveries_of_one_purchase_import_once() {
    let env = TestEnv::spawn("device_purchased_three_times").await;
    let service = env
        .start_device_purchased(env.purchased_settings(&[("amqp.concurrency", "8")]))
        .await;

    let event = env
        .publish_purchase(TestEnv::purchase("PF0000301", "PO-301"))
        .await;
    env.publish(&event).await;
    // A second event for the same device (procurement re-sent it with a new id).
    env.publish_purchase(TestEnv::purchase("PF0000301", "PO-301"))
        .await;
    let outcomes = env
        .outcomes
        .take(3, "three onboarding.device.registered", OUTCOME)
        .await;

    assert_eq!(imports_sent(&env), 1, "one import for three deliveries");
    assert_eq!(registered(&env, "PF0000301"), 1);
    assert_eq!(
        env.emulator.state().writes_to("/groups/{id}/members/$ref"),
        1,
        "one membership write"
    );
    let object = outcomes[0].json()["data"]["entraDeviceObjectId"].clone();
    assert!(
        outcomes
            .iter()
            .all(|o| o.json()["data"]["entraDeviceObjectId"] == object),
        "all three name the same device"
    );
    assert_eq!(import_records(&env), 0);
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_fifty_purchases_at_once_import_each_serial_once_and_sync_once() {
    let env = TestEnv::spawn("device_purchased_fifty").await;
    // Every device is late (its Entra object comes 3 s after the import, sync_after is 0), so
    // each would ask for a sync.
    env.emulator.state().set_timings(Timings {
        entra_device_secs: 600.0,
        ..Timings::default()
    });
    let service = env
        .start_device_purchased(env.purchased_settings(&[
            ("amqp.concurrency", "16"),
            ("device_purchased.sync_after", "0s"),
        ]))
        .await;

    let serials: Vec<String> = (0..50).map(|i| format!("PF50{i:05}")).collect();
    for (i, serial) in serials.iter().enumerate() {
        env.publish_purchase(TestEnv::purchase(serial, &format!("PO-5{i:03}")))
            .await;
    }
    let outcomes = env
        .outcomes
        .take(50, "fifty devices registered", Duration::from_secs(90))
        .await;

    let mut announced: Vec<String> = outcomes
        .iter()
        .map(|o| {
            o.json()["data"]["serialNumber"]
                .as_str()
                .unwrap()
                .to_owned()
        })
        .collect();
    announced.sort();
    assert_eq!(announced, serials);
    assert_eq!(imports_sent(&env), 50, "exactly one import per serial");
    for serial in &serials {
        assert_eq!(registered(&env, serial), 1, "{serial}");
    }
    assert_eq!(syncs_sent(&env), 1, "one sync for the whole window");
    let left = env.emulator.state().snapshot().imported_autopilot_devices;
    let left: Vec<_> = left.iter().map(|r| &r.serial_number).collect();
    assert!(left.is_empty(), "orphaned import records: {left:?}");
    let group = members(&env, demo::GROUP_AUTOPILOT_DEVICES);
    for outcome in &outcomes {
        let object = outcome.json()["data"]["entraDeviceObjectId"].clone();
        assert!(group.iter().any(|m| object == *m), "{object} in the group");
    }
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_killed_mid_import_and_restarted_registers_every_device_once() {
    let env = TestEnv::spawn("device_purchased_sigkill").await;
    // Imports take 2 s, so the process dies with imports in flight.
    env.emulator.state().set_timings(Timings {
        import_secs: 400.0,
        ..Timings::default()
    });
    let overrides = [
        (
            "device_purchased.device_group_id",
            demo::GROUP_AUTOPILOT_DEVICES,
        ),
        ("amqp.concurrency", "4"),
        ("amqp.prefetch", "8"),
    ];
    let mut child = env
        .start_binary(
            Service::DevicePurchased,
            env.service_env(demo::DEVICE_PURCHASED, &overrides),
        )
        .await;

    let serials: Vec<String> = (0..20).map(|i| format!("PF70{i:05}")).collect();
    let mut sent = BTreeSet::new();
    for (i, serial) in serials.iter().enumerate() {
        let event = env
            .publish_purchase(TestEnv::purchase(serial, &format!("PO-7{i:03}")))
            .await;
        sent.insert(event.id);
    }
    wait::eventually("ten imports in flight", Duration::from_secs(30), || async {
        (imports_sent(&env) >= 10).then_some(())
    })
    .await;
    child.start_kill().expect("SIGKILL sent");
    let status = wait::within("the binary to die", Duration::from_secs(10), child.wait())
        .await
        .expect("exit status");
    assert!(!status.success(), "killed, not exited: {status}");

    let service = env
        .start_device_purchased(env.settings(demo::DEVICE_PURCHASED, &overrides))
        .await;
    let seen = std::sync::Mutex::new(BTreeSet::new());
    wait::eventually(
        "an outcome for every purchase",
        Duration::from_secs(60),
        || async {
            let arrived = correlation_ids(&env.outcomes.drain().await);
            let mut seen = seen.lock().unwrap();
            seen.extend(arrived);
            seen.is_superset(&sent).then_some(())
        },
    )
    .await;

    for serial in &serials {
        assert_eq!(registered(&env, serial), 1, "{serial} registered once");
    }
    assert_eq!(imports_sent(&env), 20, "no import sent twice");
    assert_eq!(import_records(&env), 0, "no orphaned import records");
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_late_devices_get_one_coalesced_sync_then_finish() {
    let env = TestEnv::spawn("device_purchased_sync").await;
    // The Entra device appears 3 s after the import completes: later than sync_after (1 s).
    env.emulator.state().set_timings(Timings {
        entra_device_secs: 600.0,
        ..Timings::default()
    });
    let service = env
        .start_device_purchased(env.purchased_settings(&[("device_purchased.sync_after", "1s")]))
        .await;

    env.publish_purchase(TestEnv::purchase("PF0000401", "PO-401"))
        .await;
    env.publish_purchase(TestEnv::purchase("PF0000402", "PO-402"))
        .await;
    let outcomes = env
        .outcomes
        .take(2, "both late devices registered", OUTCOME)
        .await;

    let mut syncs: Vec<String> = outcomes
        .iter()
        .map(|o| {
            o.json()["data"]["sync"]
                .as_str()
                .unwrap_or("none")
                .to_owned()
        })
        .collect();
    syncs.sort();
    assert!(
        syncs.contains(&"started".to_owned()),
        "one of them asked for the sync: {syncs:?}"
    );
    assert_eq!(syncs_sent(&env), 1, "{syncs:?}");
    assert!(
        calls(&env, "GET", "/windowsAutopilotSettings") >= 1,
        "Graph's last sync was read first"
    );
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_a_sync_another_replica_triggered_is_not_repeated() {
    let env = TestEnv::spawn("device_purchased_sync_elsewhere").await;
    env.emulator.state().set_timings(Timings {
        entra_device_secs: 600.0,
        ..Timings::default()
    });
    let admin = Parts::new(&env.settings(demo::TENANT_ADMIN, &[]), Service::Cli)
        .expect("admin client")
        .graph;
    admin
        .sync_autopilot()
        .await
        .expect("another replica's sync");
    let service = env
        .start_device_purchased(env.purchased_settings(&[("device_purchased.sync_after", "0s")]))
        .await;

    env.publish_purchase(TestEnv::purchase("PF0000411", "PO-411"))
        .await;
    let outcome = env.outcomes.next("the late device", OUTCOME).await;

    assert_eq!(outcome.json()["data"]["sync"], "recentInTenant");
    assert_eq!(syncs_sent(&env), 1, "only the other replica's");
    service.stop().await.expect("clean stop");
    env.finish().await;
}

/// The handler as the runtime calls it, on our Graph client against the emulator.
async fn handle_once(
    env: &TestEnv,
    progress: &device_purchased::handler::Progress,
    serial: &str,
) -> Result<(), device_purchased::error::DevicePurchasedError> {
    let settings = env.purchased_settings(&[]);
    let graph = graph::GraphClient::new(&settings.graph, std::sync::Arc::new(graph::NoopObserver))
        .expect("client builds");
    let purchase = TestEnv::purchase(serial, "PO-STATE");
    device_purchased::handler::handle(
        &graph,
        &settings.device_purchased,
        progress,
        &purchase,
        time::OffsetDateTime::now_utc(),
    )
    .await
    .map(|_| ())
}

#[tokio::test]
async fn device_purchased_state_of_a_purchase_the_runtime_gave_up_on_is_dropped_after_max_age() {
    use shared::error::Classify as _;
    let env = TestEnv::spawn("device_purchased_state").await;
    // Imports never finish during the test: every delivery ends transient, as one does when
    // the runtime dead-letters it at amqp.max_age and the handler never sees it again.
    env.emulator.state().set_timings(Timings {
        import_secs: 100_000.0,
        ..Timings::default()
    });
    let cfg = env.purchased_settings(&[]).device_purchased;
    let kept = device_purchased::handler::Progress::new(&cfg, Duration::from_secs(86_400));
    let dropped = device_purchased::handler::Progress::new(&cfg, Duration::ZERO);

    for progress in [&kept, &dropped] {
        for serial in ["STATE0001", "STATE0002"] {
            let pending = handle_once(&env, progress, serial).await;
            assert!(
                pending.as_ref().is_err_and(|e| e.class().is_transient()),
                "{pending:?}"
            );
        }
    }

    assert_eq!(kept.tracked(), 2, "both purchases may still be delivered");
    assert_eq!(
        dropped.tracked(),
        1,
        "the first serial's state went once older than max_age; the second is in use"
    );
    env.finish().await;
}

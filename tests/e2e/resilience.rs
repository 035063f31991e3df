use std::collections::BTreeSet;
use std::time::Duration;

use e2e::{TestEnv, broker, wait};
use graph_emulator::demo;
use graph_emulator::throttle::{Budget, Family, Kind, Scope, ThrottleConfig};
use shared::config::Service;

/// Demo users that exist without a provisioning lag.
const READY_USERS: [(&str, &str); 3] = [
    (demo::UPN_ADA, "E1001"),
    (demo::UPN_GRACE, "E1002"),
    (demo::UPN_KATHERINE, "E1004"),
];

fn ids_of(outcomes: &[e2e::broker::Received]) -> BTreeSet<String> {
    outcomes
        .iter()
        .filter_map(|o| {
            o.properties
                .correlation_id()
                .as_ref()
                .map(|c| c.to_string())
        })
        .collect()
}

#[tokio::test]
async fn a_429_storm_is_waited_out_honouring_retry_after() {
    // Twelve hires, each its own user and department group, so no two handlers ever send the
    // same request: an early retry can only be this client ignoring a Retry-After it was given.
    let mut cfg = graph_emulator::EmulatorConfig {
        speed: e2e::TEST_SPEED,
        ..Default::default()
    };
    let mut overrides = vec![
        ("new_hire.join_mode".to_owned(), "users".to_owned()),
        ("new_hire.groups".to_owned(), String::new()),
    ];
    for i in 0..12 {
        let mut user = cfg.fixture.users[0].clone();
        user.id = format!("b4000000-0000-4000-8000-{i:012}");
        user.user_principal_name = format!("storm{i}@contoso.test");
        user.employee_id = None;
        cfg.fixture.users.push(user);
        let mut group = cfg
            .fixture
            .groups
            .iter()
            .find(|g| g.id == demo::GROUP_SALES)
            .unwrap()
            .clone();
        group.id = format!("c4000000-0000-4000-8000-{i:012}");
        group.members.clear();
        overrides.push((
            format!("new_hire.department_groups.dept{i}"),
            group.id.clone(),
        ));
        cfg.fixture.groups.push(group);
    }
    // 30 resource units per 400 emulated seconds (2 s here): the hires need about three
    // windows, however fast or slow the machine is, and every 429 says "wait".
    cfg.throttle = ThrottleConfig {
        budgets: vec![Budget {
            family: Family::Identity,
            kind: Kind::ResourceUnits,
            scope: Scope::App,
            limit: 30,
            window_secs: 400.0,
        }],
        ..ThrottleConfig::default()
    };
    let env = TestEnv::spawn_with("throttle_storm", cfg).await;
    let overrides: Vec<(&str, &str)> = overrides
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let service = env
        .start_new_hire(env.settings(demo::NEW_HIRE, &overrides))
        .await;
    let dead = env.dead_letters(Service::NewHire).await;

    let mut sent = BTreeSet::new();
    for i in 0..12 {
        let hire = TestEnv::hire(
            &format!("storm{i}@contoso.test"),
            &format!("S{i}"),
            Some(&format!("dept{i}")),
        );
        sent.insert(env.publish_hire(hire).await.id);
    }
    let outcomes = env
        .outcomes
        .take(
            sent.len(),
            "every hire ready despite throttling",
            Duration::from_secs(90),
        )
        .await;

    assert_eq!(ids_of(&outcomes), sent);
    let counters = env.emulator.state().counters();
    assert!(counters.throttled > 0, "the storm happened: {counters:?}");
    assert_eq!(
        counters.early_retries, 0,
        "a request came before its Retry-After elapsed"
    );
    assert!(
        dead.drain().await.is_empty(),
        "throttling never dead-letters"
    );
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn cut_broker_connections_are_rebuilt_and_every_hire_finishes() {
    let env = TestEnv::spawn("connections_cut").await;
    let service = env.start_new_hire(env.settings(demo::NEW_HIRE, &[])).await;
    service.wait_ready().await;

    let mut sent = BTreeSet::new();
    for round in 0..10 {
        for (upn, id) in READY_USERS {
            sent.insert(
                env.publish_hire(TestEnv::hire(upn, &format!("{id}{round}"), None))
                    .await
                    .id,
            );
        }
        if round == 3 {
            let service_connections = format!("{}.new-hire", env.prefix);
            let closed = broker::close_connections_named(&service_connections).await;
            assert!(closed >= 1, "the service's connection was found and closed");
        }
    }
    let outcomes = env
        .outcomes
        .take(sent.len(), "every hire ready", Duration::from_secs(60))
        .await;
    let mut seen = ids_of(&outcomes);
    // A delivery in flight at the cut is redelivered; its second outcome is a harmless duplicate.
    seen.extend(ids_of(&env.outcomes.drain().await));
    assert_eq!(seen, sent);
    service.wait_ready().await;
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn sigterm_mid_stream_loses_nothing() {
    let env = TestEnv::spawn("sigterm_mid_stream").await;
    let settings_env = env.service_env(
        demo::NEW_HIRE,
        &[
            ("amqp.concurrency", "2"),
            ("amqp.prefetch", "4"),
            ("telemetry.log_format", "json"),
            ("telemetry.log_filter", "info"),
        ],
    );
    let mut child = env
        .start_binary_with_stdout(Service::NewHire, settings_env, std::process::Stdio::piped())
        .await;
    // Read the log as it is written, so a full pipe never stalls the service.
    let stdout = child.stdout.take().expect("piped stdout");
    let log = tokio::spawn(async move {
        use tokio::io::AsyncBufReadExt as _;
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut messages = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            if let Ok(json) = serde_json::from_str::<serde_json::Value>(&line) {
                messages.push((
                    json["level"].as_str().unwrap_or_default().to_owned(),
                    json["fields"]["message"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                ));
            }
        }
        messages
    });

    let mut sent = BTreeSet::new();
    for round in 0..15 {
        for (upn, id) in READY_USERS {
            sent.insert(
                env.publish_hire(TestEnv::hire(upn, &format!("{id}{round}"), None))
                    .await
                    .id,
            );
        }
    }
    let first = env
        .outcomes
        .next(
            "the first hire handled by the binary",
            Duration::from_secs(30),
        )
        .await;
    let pid = child.id().expect("running") as i32;
    std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("kill runs");
    let status = wait::within(
        "the binary to drain and exit",
        Duration::from_secs(30),
        child.wait(),
    )
    .await
    .expect("exit status");
    assert!(status.success(), "clean exit after SIGTERM: {status}");
    // A shutdown is said as one, not as a lost connection an operator would chase.
    let log = log.await.expect("log reader");
    let said = |m: &str| log.iter().filter(|(_, msg)| msg == m).count();
    assert_eq!(
        said("Disconnected from the broker (shutting down)."),
        1,
        "{log:?}"
    );
    assert_eq!(said("Broker connection lost; reconnecting."), 0, "{log:?}");
    assert!(log.iter().all(|(level, _)| level != "ERROR"), "{log:?}");

    let service = env.start_new_hire(env.settings(demo::NEW_HIRE, &[])).await;
    let seen = std::sync::Mutex::new(ids_of(&[first]));
    wait::eventually(
        "an outcome for every hire",
        Duration::from_secs(60),
        || async {
            let arrived = ids_of(&env.outcomes.drain().await);
            let mut seen = seen.lock().unwrap();
            seen.extend(arrived);
            seen.is_superset(&sent).then_some(())
        },
    )
    .await;
    service.stop().await.expect("clean stop");
    env.finish().await;
}

use std::time::Duration;

use e2e::TestEnv;
use graph_emulator::demo;
use shared::config::Service;

const OUTCOME: Duration = Duration::from_secs(20);

/// The direct members of `group` in the emulator's tenant.
fn members(env: &TestEnv, group: &str) -> Vec<String> {
    let tenant = env.emulator.state().snapshot();
    tenant
        .groups
        .iter()
        .find(|g| g.id == group)
        .map(|g| g.members.clone())
        .unwrap_or_default()
}

fn selected_users(env: &TestEnv) -> Vec<String> {
    let tenant = env.emulator.state().snapshot();
    let join = &tenant.device_registration_policy.azure_ad_join["allowedToJoin"];
    join["users"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|u| u.as_str().map(str::to_owned))
        .collect()
}

#[tokio::test]
async fn group_mode_hire_joins_the_join_group_and_department_groups() {
    let env = TestEnv::spawn("group_mode_hire").await;
    let settings = env.settings(
        demo::NEW_HIRE,
        &[
            ("new_hire.join_mode", "group"),
            ("new_hire.department_groups.sales", demo::GROUP_SALES),
        ],
    );
    let service = env.start_new_hire(settings).await;

    let event = env
        .publish_hire(TestEnv::hire(demo::UPN_ADA, "E1001", Some("Sales")))
        .await;
    let outcome = env.outcomes.next("onboarding.user.ready", OUTCOME).await;

    assert_eq!(outcome.routing_key, "onboarding.user.ready");
    assert_eq!(
        outcome
            .properties
            .correlation_id()
            .as_ref()
            .map(|c| c.as_str()),
        Some(event.id.as_str())
    );
    let data = &outcome.json()["data"];
    assert_eq!(data["userId"], demo::USER_ADA);
    assert_eq!(data["join"]["how"], "joinGroup");
    for group in [demo::GROUP_JOIN, demo::GROUP_ENGINEERING, demo::GROUP_SALES] {
        assert!(
            members(&env, group).contains(&demo::USER_ADA.to_owned()),
            "ada in {group}"
        );
    }
    assert!(
        selected_users(&env).is_empty(),
        "group mode never edits the policy"
    );
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn users_mode_hire_is_added_to_the_policy_and_nothing_else_changes() {
    let env = TestEnv::spawn("users_mode_hire").await;
    let before = env.emulator.state().snapshot().device_registration_policy;
    let service = env
        .start_new_hire(env.settings(demo::NEW_HIRE, &[("new_hire.join_mode", "users")]))
        .await;

    env.publish_hire(TestEnv::hire(demo::UPN_GRACE, "E1002", None))
        .await;
    let outcome = env.outcomes.next("onboarding.user.ready", OUTCOME).await;

    assert_eq!(outcome.json()["data"]["join"]["how"], "addedToPolicy");
    let after = env.emulator.state().snapshot().device_registration_policy;
    assert_eq!(selected_users(&env), vec![demo::USER_GRACE.to_owned()]);
    assert_eq!(after.user_device_quota, before.user_device_quota);
    assert_eq!(after.azure_ad_registration, before.azure_ad_registration);
    assert_eq!(
        after.azure_ad_join["allowedToJoin"]["groups"],
        before.azure_ad_join["allowedToJoin"]["groups"]
    );
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn all_mode_hire_needs_no_policy_write_when_everyone_may_join() {
    let mut cfg = graph_emulator::EmulatorConfig {
        speed: e2e::TEST_SPEED,
        ..Default::default()
    };
    cfg.fixture.device_registration_policy.azure_ad_join["allowedToJoin"] =
        serde_json::json!({ "@odata.type": "#microsoft.graph.allDeviceRegistrationMembership" });
    let env = TestEnv::spawn_with("all_mode_hire", cfg).await;
    let service = env
        .start_new_hire(env.settings(demo::NEW_HIRE, &[("new_hire.join_mode", "all")]))
        .await;

    env.publish_hire(TestEnv::hire(demo::UPN_GRACE, "E1002", None))
        .await;
    let outcome = env.outcomes.next("onboarding.user.ready", OUTCOME).await;

    assert_eq!(outcome.json()["data"]["join"]["how"], "everyoneMayJoin");
    assert_eq!(
        env.emulator
            .state()
            .writes_to("/policies/deviceRegistrationPolicy"),
        0
    );
    assert!(members(&env, demo::GROUP_ENGINEERING).contains(&demo::USER_GRACE.to_owned()));
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn same_hire_delivered_three_times_writes_each_thing_once() {
    let env = TestEnv::spawn("same_hire_three_times").await;
    let service = env
        .start_new_hire(env.settings(demo::NEW_HIRE, &[("new_hire.join_mode", "users")]))
        .await;

    let event = env
        .publish_hire(TestEnv::hire(demo::UPN_GRACE, "E1002", None))
        .await;
    env.publish(&event).await;
    env.publish(&event).await;
    env.outcomes
        .take(3, "three onboarding.user.ready", OUTCOME)
        .await;

    let state = env.emulator.state();
    assert_eq!(
        state.writes_to("/groups/{id}/members/$ref"),
        1,
        "one membership write"
    );
    assert_eq!(
        state.writes_to("/policies/deviceRegistrationPolicy"),
        1,
        "one policy write"
    );
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn a_user_provisioned_late_is_retried_then_done() {
    let env = TestEnv::spawn("user_provisioned_late").await;
    let service = env.start_new_hire(env.settings(demo::NEW_HIRE, &[])).await;
    let dead = env.dead_letters(Service::NewHire).await;

    env.publish_hire(TestEnv::hire(demo::UPN_ALAN, "E1003", None))
        .await;
    let outcome = env
        .outcomes
        .next(
            "onboarding.user.ready for the late user",
            Duration::from_secs(30),
        )
        .await;

    assert_eq!(outcome.json()["data"]["userId"], demo::USER_ALAN);
    let lookups = env
        .emulator
        .requests()
        .iter()
        .filter(|r| r.template.ends_with("/users/{id}") && r.status == 404)
        .count();
    assert!(
        lookups >= 1,
        "the first tries found no user yet ({lookups} 404s)"
    );
    assert!(
        service.metrics().await.contains("onboarding_retries_total"),
        "retries are counted"
    );
    assert!(dead.drain().await.is_empty(), "nothing dead-lettered");
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn thirty_concurrent_hires_in_users_mode_all_land_in_the_policy() {
    let mut cfg = graph_emulator::EmulatorConfig {
        speed: e2e::TEST_SPEED,
        ..Default::default()
    };
    let hires: Vec<(String, String)> = (0..30)
        .map(|i| {
            (
                format!("b2000000-0000-4000-8000-{i:012}"),
                format!("hire{i}@contoso.test"),
            )
        })
        .collect();
    for (id, upn) in &hires {
        let mut user = cfg.fixture.users[0].clone();
        user.id = id.clone();
        user.user_principal_name = upn.clone();
        user.employee_id = None;
        user.provision_after_seconds = 0.0;
        cfg.fixture.users.push(user);
    }
    let env = TestEnv::spawn_with("thirty_concurrent_hires", cfg).await;
    let before = env.emulator.state().snapshot().device_registration_policy;
    let settings = env.settings(
        demo::NEW_HIRE,
        &[("new_hire.join_mode", "users"), ("amqp.concurrency", "16")],
    );
    let service = env.start_new_hire(settings).await;

    for (i, (_, upn)) in hires.iter().enumerate() {
        env.publish_hire(TestEnv::hire(upn, &format!("N{i}"), None))
            .await;
    }
    env.outcomes
        .take(30, "onboarding.user.ready", Duration::from_secs(60))
        .await;

    let mut selected = selected_users(&env);
    selected.sort();
    let mut expected: Vec<String> = hires.iter().map(|(id, _)| id.clone()).collect();
    expected.sort();
    assert_eq!(selected, expected);
    let after = env.emulator.state().snapshot().device_registration_policy;
    assert_eq!(after.user_device_quota, before.user_device_quota);
    assert_eq!(
        after.multi_factor_auth_configuration,
        before.multi_factor_auth_configuration
    );
    assert_eq!(after.azure_ad_registration, before.azure_ad_registration);
    assert_eq!(after.local_admin_password, before.local_admin_password);
    assert_eq!(
        after.azure_ad_join["localAdmins"],
        before.azure_ad_join["localAdmins"]
    );
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn shadow_mode_reads_but_writes_nothing_and_logs_every_intended_write() {
    let env = TestEnv::spawn("shadow_mode").await;
    let settings = env.settings(
        demo::NEW_HIRE,
        &[("new_hire.join_mode", "users"), ("graph.dry_run", "true")],
    );
    let service = env.start_new_hire(settings).await;

    env.publish_hire(TestEnv::hire(demo::UPN_GRACE, "E1002", Some("Sales")))
        .await;
    env.outcomes.next("onboarding.user.ready", OUTCOME).await;

    let writes: usize = env
        .emulator
        .state()
        .counters()
        .writes
        .values()
        .map(|n| *n as usize)
        .sum();
    assert_eq!(writes, 0, "shadow mode sent a write");
    for route in [
        "/v1.0/policies/deviceRegistrationPolicy",
        "/v1.0/groups/{id}/members/$ref",
    ] {
        assert_eq!(service.would_writes(route).await, 1.0, "{route}");
    }
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn one_trace_spans_the_publisher_the_consumer_every_graph_call_and_the_outcome() {
    use tracing::Instrument as _;
    let env = TestEnv::spawn("one_trace_per_event").await;
    let service = env.start_new_hire(env.settings(demo::NEW_HIRE, &[])).await;

    // The start-up check's Graph calls are the service's own trace, not the event's.
    let before = env.emulator.requests().len();
    let span = tracing::info_span!("hr_system_publishes");
    let trace_id = span
        .in_scope(shared::telemetry::current_trace_id)
        .expect("the test's span is recorded");
    env.publish_hire(TestEnv::hire(demo::UPN_ADA, "E1001", None))
        .instrument(span)
        .await;
    let outcome = env.outcomes.next("onboarding.user.ready", OUTCOME).await;

    let outcome_parent = outcome
        .header("traceparent")
        .expect("the outcome carries the trace");
    assert!(
        outcome_parent.contains(&trace_id),
        "{outcome_parent} continues {trace_id}"
    );
    let graph_calls: Vec<_> = env
        .emulator
        .requests()
        .into_iter()
        .skip(before)
        .filter(|r| r.template.starts_with("/v1.0/"))
        .collect();
    assert!(!graph_calls.is_empty());
    for call in &graph_calls {
        let parent = call.traceparent.as_deref().unwrap_or("none");
        assert!(
            parent.contains(&trace_id),
            "{} {} carried {parent}, not {trace_id}: {graph_calls:#?}",
            call.method,
            call.template
        );
    }
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn group_mode_refuses_to_start_when_the_join_group_grants_nothing() {
    let env = TestEnv::spawn("join_group_not_in_policy").await;
    // Engineering is a real group, but the policy's Selected list does not name it.
    let settings = env.settings(
        demo::NEW_HIRE,
        &[("new_hire.join_group_id", demo::GROUP_ENGINEERING)],
    );
    let err = e2e::refused_start(settings, |s, h, t| Box::pin(new_hire::run(s, h, t))).await;
    let text = err.to_string();
    assert!(
        text.contains(demo::GROUP_ENGINEERING) && text.contains("Selected"),
        "{text}"
    );
    env.finish().await;
}

#[tokio::test]
async fn the_binary_runs_on_a_managed_identity_chosen_by_configuration() {
    let mut cfg = graph_emulator::EmulatorConfig {
        speed: e2e::TEST_SPEED,
        ..Default::default()
    };
    let identity = cfg
        .fixture
        .managed_identity
        .as_mut()
        .expect("the demo tenant has a managed identity");
    identity.client_id = demo::NEW_HIRE.client_id.to_owned();
    let env = TestEnv::spawn_with("managed_identity_binary", cfg).await;
    let mut service_env = env.service_env(
        demo::NEW_HIRE,
        &[
            ("graph.credential", "managed_identity"),
            ("graph.client_secret", ""),
            ("graph.client_id", ""),
        ],
    );
    // What App Service (or the emulator standing in for it) gives a process.
    service_env.insert("IDENTITY_ENDPOINT".into(), env.emulator.identity_endpoint());
    service_env.insert("IDENTITY_HEADER".into(), demo::IDENTITY_HEADER.into());
    let mut child = env.start_binary(Service::NewHire, service_env).await;

    env.publish_hire(TestEnv::hire(demo::UPN_ADA, "E1001", None))
        .await;
    let outcome = env
        .outcomes
        .next("onboarding.user.ready from the managed identity", OUTCOME)
        .await;

    assert_eq!(outcome.json()["data"]["userId"], demo::USER_ADA);
    let msi_tokens = env
        .emulator
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/msi/token"))
        .count();
    assert!(
        msi_tokens >= 1,
        "the token came from the managed-identity endpoint"
    );
    child.start_kill().unwrap();
    let _ = child.wait().await;
    env.finish().await;
}

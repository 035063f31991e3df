use std::time::Duration;

use e2e::TestEnv;
use e2e::wait;
use graph_emulator::demo;
use onboardctl::dead::{self, Selection};
use shared::config::Service;

const WITHIN: Duration = Duration::from_secs(20);

fn hire_body(upn: &str, employee_id: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "specversion": "1.0", "id": uuid::Uuid::new_v4().to_string(), "source": "urn:e2e:hr",
        "type": "hr.employee.hired", "datacontenttype": "application/json",
        "data": { "employeeId": employee_id, "userPrincipalName": upn }
    }))
    .unwrap()
}

/// Waits until `queue` holds `n` ready messages: a quorum queue applies returns (nacks with
/// requeue) asynchronously, so a depth read right after another connection closed can lag.
async fn wait_for_depth(env: &TestEnv, queue: &str, n: u32) {
    wait::eventually(
        &format!("{n} messages ready in {queue}"),
        WITHIN,
        || async { (env.queue_depth(queue).await == n).then_some(()) },
    )
    .await;
}

/// Waits until `dead list` shows `n` dead letters of new-hire.
async fn wait_for_dead_letters(env: &TestEnv, n: usize) -> dead::Listing {
    let settings = env.settings(demo::ONBOARDCTL, &[]);
    wait::eventually(
        &format!("{n} dead letters in new-hire's queue"),
        WITHIN,
        || {
            let settings = settings.clone();
            async move {
                let listing = dead::list(&settings, Service::NewHire).await.ok()?;
                (listing.count == n).then_some(listing)
            }
        },
    )
    .await
}

#[tokio::test]
async fn cli_dead_letter_fixed_then_replayed_completes_and_dry_run_shows_the_planned_writes() {
    // Arrange: a hire dead-lettered because the app lacks GroupMember.ReadWrite.All.
    let env = TestEnv::spawn("cli_dead_replay").await;
    let broken = env
        .start_new_hire(env.settings(demo::NEW_HIRE_NO_GROUPWRITE, &[]))
        .await;
    let event = env
        .publish_hire(TestEnv::hire(demo::UPN_GRACE, "E1002", None))
        .await;
    let listing = wait_for_dead_letters(&env, 1).await;
    assert_eq!(listing.messages[0].id, event.id);
    broken.stop().await.expect("clean stop");
    let dead_queue = format!("{}.dead", env.queue(Service::NewHire));
    wait_for_depth(&env, &dead_queue, 1).await;

    // `dead list --output json` from the binary, parsed.
    let (code, stdout, stderr) = env
        .onboardctl(
            demo::ONBOARDCTL,
            &[],
            &["dead", "list", "--service", "new-hire", "--output", "json"],
        )
        .await;
    assert_eq!(code, 0, "{stderr}");
    let listed: serde_json::Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(listed["count"], 1);
    let letter = &listed["messages"][0];
    assert_eq!(letter["id"], event.id.as_str());
    assert_eq!(letter["type"], "hr.employee.hired");
    assert_eq!(letter["error_class"], "permanent");
    let reason = letter["reason"].as_str().unwrap_or_default();
    assert!(reason.contains("GroupMember"), "{reason}");
    assert!(letter["age_secs"].is_u64(), "{letter}");

    // Fix the cause: the service now runs as the app that holds the permission.
    let service = env.start_new_hire(env.settings(demo::NEW_HIRE, &[])).await;
    let cli = env.settings(demo::NEW_HIRE, &[]);
    wait_for_depth(&env, &dead_queue, 1).await;
    let writes_before = env.emulator.counters().writes.values().sum::<u64>();

    // Act 1: --dry-run plans the writes (join group + Engineering) and sends none.
    let by_id = Selection {
        id: Some(event.id.clone()),
        ..Default::default()
    };
    let plan = dead::replay(&cli, Service::NewHire, &by_id, true)
        .await
        .expect("dry run");
    assert_eq!(plan.plans.len(), 1);
    assert!(plan.plans[0].ok, "{:?}", plan.plans[0]);
    assert_eq!(
        plan.plans[0].would_write,
        [
            "POST /v1.0/groups/{id}/members/$ref",
            "POST /v1.0/groups/{id}/members/$ref"
        ]
    );
    assert!(plan.replayed.is_empty());
    assert_eq!(
        env.emulator.counters().writes.values().sum::<u64>(),
        writes_before,
        "a dry run writes nothing"
    );
    wait_for_depth(&env, &dead_queue, 1).await;

    // Act 2: the replay.
    let report = dead::replay(&cli, Service::NewHire, &by_id, false)
        .await
        .expect("replay");

    // Assert: republished, completed, and gone from the dead-letter queue.
    assert_eq!(report.replayed, std::slice::from_ref(&event.id));
    assert!(report.failed.is_empty());
    let outcome = env
        .outcomes
        .next("the replayed hire's outcome", WITHIN)
        .await;
    assert_eq!(outcome.json()["type"], "onboarding.user.ready");
    assert_eq!(outcome.json()["data"]["userId"], demo::USER_GRACE);
    assert_eq!(dead::list(&cli, Service::NewHire).await.unwrap().count, 0);
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn cli_dead_replay_that_cannot_publish_keeps_the_message_in_the_dead_letter_queue() {
    let env = TestEnv::spawn("cli_dead_replay_fails").await;
    env.declare_service_topology(Service::NewHire).await;
    let id = env
        .plant_dead_letter(
            Service::NewHire,
            &hire_body(demo::UPN_GRACE, "E1002"),
            "gave up",
        )
        .await;
    // The work queue is gone: a mandatory publish to it is returned unroutable.
    env.publisher
        .channel()
        .queue_delete(
            env.queue(Service::NewHire).as_str().into(),
            Default::default(),
        )
        .await
        .expect("work queue deleted");
    let cli = env.settings(demo::ONBOARDCTL, &[]);

    let report = dead::replay(
        &cli,
        Service::NewHire,
        &Selection {
            all: true,
            ..Default::default()
        },
        false,
    )
    .await
    .expect("replay ran");

    assert!(report.replayed.is_empty());
    assert_eq!(report.failed.len(), 1);
    assert_eq!(report.failed[0].id, id);
    assert!(
        report.failed[0].error.contains("unroutable"),
        "{:?}",
        report.failed
    );
    let left = wait_for_dead_letters(&env, 1).await;
    assert_eq!(left.messages[0].id, id);
    assert_eq!(left.messages[0].reason.as_deref(), Some("gave up"));
    env.finish().await;
}

#[tokio::test]
async fn cli_dead_replay_with_a_filter_moves_only_the_matching_letters_and_requeues_the_rest() {
    let env = TestEnv::spawn("cli_dead_filter").await;
    let topology = env.declare_service_topology(Service::NewHire).await;
    let body = hire_body(demo::UPN_ADA, "E1001");
    let a = env
        .plant_dead_letter(Service::NewHire, &body, "Missing GroupMember.ReadWrite.All")
        .await;
    let b = env
        .plant_dead_letter(Service::NewHire, &body, "user not provisioned")
        .await;
    let c = env
        .plant_dead_letter(Service::NewHire, &body, "missing groupmember permission")
        .await;
    let cli = env.settings(demo::ONBOARDCTL, &[]);

    let report = dead::replay(
        &cli,
        Service::NewHire,
        &Selection {
            reason_contains: Some("GroupMember".into()),
            event_type: Some("hr.employee.hired".into()),
            ..Default::default()
        },
        false,
    )
    .await
    .expect("replay");

    assert_eq!(report.examined, 3, "each message looked at once");
    assert_eq!(report.replayed, [a, c]);
    assert_eq!(env.queue_depth(&topology.queue).await, 2);
    let left = wait_for_dead_letters(&env, 1).await;
    assert_eq!(
        left.messages
            .iter()
            .map(|m| m.id.as_str())
            .collect::<Vec<_>>(),
        [b.as_str()]
    );
    // An --older-than no message meets selects nothing.
    let none = dead::replay(
        &cli,
        Service::NewHire,
        &Selection {
            older_than: Some(Duration::from_secs(3600)),
            ..Default::default()
        },
        false,
    )
    .await
    .expect("replay");
    assert!(none.replayed.is_empty() && none.failed.is_empty());
    wait_for_dead_letters(&env, 1).await;
    env.finish().await;
}

#[tokio::test]
async fn cli_dead_show_masks_the_hardware_hash_and_purge_needs_yes() {
    let env = TestEnv::spawn("cli_dead_show_purge").await;
    env.declare_service_topology(Service::DevicePurchased).await;
    let hash = demo::hardware_hash("CZC0000099");
    let body = serde_json::to_vec(&serde_json::json!({
        "specversion": "1.0", "id": "p-1", "source": "urn:e2e", "type": "procurement.device.purchased",
        "data": { "orderId": "PO-1", "serialNumber": "CZC0000099", "hardwareHash": hash }
    }))
    .unwrap();
    let id = env
        .plant_dead_letter(Service::DevicePurchased, &body, "import failed")
        .await;
    let duplicate = env
        .plant_dead_letter(Service::DevicePurchased, &body, "a duplicate")
        .await;

    let (code, stdout, stderr) = env
        .onboardctl(
            demo::ONBOARDCTL,
            &[],
            &[
                "dead",
                "show",
                "--service",
                "device-purchased",
                "--id",
                &id,
                "--output",
                "json",
            ],
        )
        .await;
    assert_eq!(code, 0, "{stderr}");
    assert!(!stdout.contains(&hash), "the hash is never printed");
    let shown: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(shown["body"]["data"]["serialNumber"], "CZC0000099");
    assert!(
        shown["body"]["data"]["hardwareHash"]
            .as_str()
            .unwrap()
            .starts_with("<masked")
    );
    assert_eq!(shown["headers"]["x-onboarding-reason"], "import failed");

    // One message by id (positional, as the operations guide writes it): the other stays.
    let dead_queue = format!("{}.dead", env.queue(Service::DevicePurchased));
    let (code, _, stderr) = env
        .onboardctl(
            demo::ONBOARDCTL,
            &[],
            &[
                "dead",
                "purge",
                "--service",
                "device-purchased",
                &duplicate,
                "--yes",
            ],
        )
        .await;
    assert_eq!(code, 0, "{stderr}");
    // The kept message's return is applied by the quorum queue after the CLI has gone.
    wait_for_depth(&env, &dead_queue, 1).await;
    let cli = env.settings(demo::ONBOARDCTL, &[]);
    let left = dead::list(&cli, Service::DevicePurchased).await.unwrap();
    assert_eq!(left.messages[0].id, id);

    // Without a terminal and without --yes: refused, nothing removed.
    let (code, _, stderr) = env
        .onboardctl(
            demo::ONBOARDCTL,
            &[],
            &["dead", "purge", "--service", "device-purchased"],
        )
        .await;
    assert_eq!(code, 1);
    assert!(stderr.contains("--yes"), "{stderr}");
    wait_for_depth(&env, &dead_queue, 1).await;

    let (code, stdout, stderr) = env
        .onboardctl(
            demo::ONBOARDCTL,
            &[],
            &[
                "dead",
                "purge",
                "--service",
                "device-purchased",
                "--yes",
                "--output",
                "json",
            ],
        )
        .await;
    assert_eq!(code, 0, "{stderr}");
    let purged: serde_json::Value = serde_json::from_str(&stdout).expect("JSON");
    assert_eq!(purged["purged"], 1);
    assert_eq!(env.queue_depth(&dead_queue).await, 0);
    env.finish().await;
}

#[tokio::test]
async fn cli_dead_letter_for_a_missing_group_replays_once_the_group_exists() {
    // Arrange: every hire joins a group that does not exist yet.
    let env = TestEnv::spawn("cli_dead_missing_group").await;
    const LATER: &str = "c1000000-0000-4000-8000-0000000000aa";
    let overrides = [("new_hire.groups", LATER)];
    let service = env
        .start_new_hire(env.settings(demo::NEW_HIRE, &overrides))
        .await;
    let event = env
        .publish_hire(TestEnv::hire(demo::UPN_ADA, "E1001", None))
        .await;
    let listing = wait_for_dead_letters(&env, 1).await;
    assert_eq!(listing.messages[0].id, event.id);
    let cli = env.settings(demo::ONBOARDCTL, &overrides);
    let dead_queue = format!("{}.dead", env.queue(Service::NewHire));
    wait_for_depth(&env, &dead_queue, 1).await;
    let by_id = Selection {
        id: Some(event.id.clone()),
        ..Default::default()
    };

    // The failed attempt already made Ada a member of the join group: one write is left.
    // (Shadow mode cannot tell a missing group from a missing membership: a membership read
    // of an absent group is a 404 either way, and the shadowed add is never sent. So the plan
    // looks the same before and after the fix; the replay is what proves it.)
    let plan = dead::replay(&cli, Service::NewHire, &by_id, true)
        .await
        .expect("dry run");
    assert_eq!(
        plan.plans[0].would_write,
        ["POST /v1.0/groups/{id}/members/$ref"],
        "{:?}",
        plan.plans[0]
    );

    // Fix: the group is created.
    let mut group = graph_emulator::fixture::Group::default();
    group.id = LATER.into();
    group.display_name = "Created later".into();
    group.security_enabled = true;
    env.emulator.state().world().tenant.groups.push(group);
    wait_for_depth(&env, &dead_queue, 1).await;

    let report = dead::replay(&cli, Service::NewHire, &by_id, false)
        .await
        .expect("replay");

    assert_eq!(report.replayed.len(), 1);
    let outcome = env
        .outcomes
        .next("the replayed hire's outcome", WITHIN)
        .await;
    assert_eq!(outcome.json()["data"]["userId"], demo::USER_ADA);
    let groups = outcome.json()["data"]["groups"].clone();
    assert_eq!(groups[0]["groupId"], LATER, "{groups}");
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn cli_dead_dry_run_plans_a_device_shipment_with_the_device_services_own_handler() {
    let env = TestEnv::spawn("cli_dead_dry_run_shipment").await;
    env.declare_service_topology(Service::DeviceShipped).await;
    let event = shared::events::Envelope::of(
        "urn:e2e:procurement",
        TestEnv::shipment(demo::AUTOPILOT_SERIAL, demo::UPN_GRACE),
    );
    let body = serde_json::to_vec(&event).unwrap();
    // The demo device is assigned to Katherine: a reassignment an admin might now allow.
    let id = env
        .plant_dead_letter(
            Service::DeviceShipped,
            &body,
            "device CZC0000001 is already assigned",
        )
        .await;
    let dead_queue = format!("{}.dead", env.queue(Service::DeviceShipped));
    wait_for_depth(&env, &dead_queue, 1).await;
    let cli = env.settings(
        demo::DEVICE_SHIPPED,
        &[("device_shipped.allow_reassign", "true")],
    );

    let by_id = Selection {
        id: Some(id),
        ..Default::default()
    };
    let plan = dead::replay(&cli, Service::DeviceShipped, &by_id, true)
        .await
        .expect("dry run");

    assert!(plan.plans[0].ok, "{:?}", plan.plans[0]);
    assert_eq!(
        plan.plans[0].would_write,
        ["POST /v1.0/deviceManagement/windowsAutopilotDeviceIdentities/{id}/assignUserToDevice"]
    );
    assert_eq!(
        env.emulator.counters().writes.values().sum::<u64>(),
        0,
        "a dry run writes nothing"
    );
    wait_for_depth(&env, &dead_queue, 1).await;
    env.finish().await;
}

#[tokio::test]
async fn cli_dead_letters_survive_being_looked_at_more_often_than_a_delivery_limit() {
    // Every `list` and `show` takes each letter and requeues it, which a quorum queue counts
    // as a failed delivery; RabbitMQ 4.x's default limit of 20 would drop the letter at the
    // 21st look. The dead-letter queue's own limit must outlast any number of looks.
    let env = TestEnv::spawn("cli_dead_many_looks").await;
    env.declare_service_topology(Service::NewHire).await;
    let id = env
        .plant_dead_letter(
            Service::NewHire,
            &hire_body(demo::UPN_ADA, "E1001"),
            "looked at",
        )
        .await;
    let cli = env.settings(demo::ONBOARDCTL, &[]);
    let queue = format!("{}.dead", env.queue(Service::NewHire));

    // Back to back: each look returns only once the queue counts the letter ready again.
    for _ in 0..25 {
        let listing = dead::list(&cli, Service::NewHire).await.expect("list");
        assert_eq!(listing.count, 1);
        dead::show(&cli, Service::NewHire, &id).await.expect("show");
    }

    let listing = dead::list(&cli, Service::NewHire).await.expect("list");
    assert_eq!(listing.messages[0].id, id);
    assert_eq!(env.queue_depth(&queue).await, 1);
    env.finish().await;
}

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::{TestEnv, wait};
use graph_emulator::{Timings, demo};
use shared::amqp::headers;
use shared::config::Service;
use shared::events::{DEVICE_PURCHASED, Envelope};
use shared::graph::model::{ImportId, NewImport};
use shared::service::Parts;

const OUTCOME: Duration = Duration::from_secs(30);

/// Requests whose method is `method` and whose route template ends with `suffix`.
fn calls(env: &TestEnv, method: &str, suffix: &str) -> usize {
    env.emulator
        .requests()
        .iter()
        .filter(|r| r.method == method && r.template.ends_with(suffix))
        .count()
}

const IMPORTS: &str = "/deviceManagement/importedWindowsAutopilotDeviceIdentities";
const SYNC: &str = "/windowsAutopilotSettings/sync";

fn imports_sent(env: &TestEnv) -> usize {
    calls(env, "POST", IMPORTS)
}

fn syncs_sent(env: &TestEnv) -> usize {
    calls(env, "POST", SYNC)
}

fn members(env: &TestEnv, group: &str) -> Vec<String> {
    let tenant = env.emulator.state().snapshot();
    tenant
        .groups
        .iter()
        .find(|g| g.id == group)
        .map(|g| g.members.clone())
        .unwrap_or_default()
}

/// Autopilot devices with this serial in the emulator's tenant.
fn registered(env: &TestEnv, serial: &str) -> usize {
    let tenant = env.emulator.state().snapshot();
    tenant
        .autopilot_devices
        .iter()
        .filter(|d| d.serial_number.eq_ignore_ascii_case(serial))
        .count()
}

fn import_records(env: &TestEnv) -> usize {
    env.emulator
        .state()
        .snapshot()
        .imported_autopilot_devices
        .len()
}

#[tokio::test]
async fn device_purchased_is_imported_grouped_cleaned_up_and_announced() {
    let env = TestEnv::spawn("device_purchased_happy").await;
    let service = env
        .start_device_purchased(env.purchased_settings(&[]))
        .await;

    let event = env
        .publish_purchase(TestEnv::purchase("PF0000101", "PO-101"))
        .await;
    let outcome = env
        .outcomes
        .next("onboarding.device.registered", OUTCOME)
        .await;

    assert_eq!(outcome.routing_key, "onboarding.device.registered");
    assert_eq!(
        outcome
            .properties
            .correlation_id()
            .as_ref()
            .map(|c| c.as_str()),
        Some(event.id.as_str())
    );
    let data = &outcome.json()["data"];
    assert_eq!(data["serialNumber"], "PF0000101");
    assert_eq!(data["orderId"], "PO-101");
    assert_eq!(data["registration"], "imported", "{data}");
    assert_eq!(data["groupTag"], "Sales", "{data}");
    let profile = data["deploymentProfileAssignmentStatus"]
        .as_str()
        .expect("profile status (beta read)");
    assert!(
        [
            "notAssigned",
            "pending",
            "assignedUnkownSyncState",
            "assignedInSync"
        ]
        .contains(&profile),
        "{data}"
    );
    assert!(data["autopilotDeviceId"].is_string(), "{data}");
    let object = data["entraDeviceObjectId"].as_str().expect("object id");
    assert_eq!(data["deviceGroup"]["how"], "added", "{data}");
    assert!(members(&env, demo::GROUP_AUTOPILOT_DEVICES).contains(&object.to_owned()));
    assert_eq!(registered(&env, "PF0000101"), 1);
    assert_eq!(imports_sent(&env), 1, "one import");
    assert_eq!(import_records(&env), 0, "our import record was deleted");
    assert!(syncs_sent(&env) <= 1, "at most one sync");
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_806_from_a_concurrent_import_counts_as_registered_and_keeps_the_other_record()
 {
    let env = TestEnv::spawn("device_purchased_806").await;
    // Imports take 2 s, so ours is sent while another admin's import of the same hash runs.
    env.emulator.state().set_timings(Timings {
        import_secs: 400.0,
        ..Timings::default()
    });
    let admin = Parts::new(&env.settings(demo::TENANT_ADMIN, &[]), Service::Cli)
        .expect("admin client")
        .graph;
    let purchase = TestEnv::purchase("PF0000806", "PO-806");
    admin
        .import_autopilot_device(&NewImport {
            serial: purchase.serial_number.clone(),
            hardware_hash: demo::hardware_hash("PF0000806"),
            group_tag: None,
            product_key: None,
            assigned_upn: None,
            import_id: ImportId::new("another-admins-upload"),
        })
        .await
        .expect("the other admin's import is accepted");
    let service = env
        .start_device_purchased(env.purchased_settings(&[]))
        .await;
    let dead = env.dead_letters(Service::DevicePurchased).await;

    env.publish_purchase(purchase).await;
    let outcome = env
        .outcomes
        .next("onboarding.device.registered", OUTCOME)
        .await;

    let data = &outcome.json()["data"];
    assert_eq!(data["registration"], "alreadyRegisteredHere", "{data}");
    assert!(data["entraDeviceObjectId"].is_string(), "{data}");
    assert_eq!(imports_sent(&env), 2, "the admin's and ours");
    assert_eq!(registered(&env, "PF0000806"), 1);
    let left: Vec<String> = env
        .emulator
        .state()
        .snapshot()
        .imported_autopilot_devices
        .iter()
        .map(|r| r.import_id.clone())
        .collect();
    assert_eq!(
        left,
        vec!["another-admins-upload".to_owned()],
        "only our record is deleted"
    );
    assert!(dead.drain().await.is_empty(), "806 is not a failure");
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_808_an_invalid_hash_and_a_missing_hash_are_dead_lettered_with_reasons_and_consuming_goes_on()
 {
    let env = TestEnv::spawn("device_purchased_808").await;
    let service = env
        .start_device_purchased(env.purchased_settings(&[]))
        .await;
    let dead = env.dead_letters(Service::DevicePurchased).await;

    let other = env
        .publish_purchase(TestEnv::purchase(demo::OTHER_TENANT_SERIAL, "PO-808"))
        .await;
    let mut bad_hash = serde_json::to_value(TestEnv::purchase("PF0000802", "PO-802")).unwrap();
    bad_hash["hardwareHash"] = "not base64!".into();
    let bad = Envelope::new(DEVICE_PURCHASED, "urn:e2e:procurement", None, bad_hash);
    env.publish(DEVICE_PURCHASED, &bad).await;
    let mut no_hash = TestEnv::purchase("PF0000804", "PO-804");
    no_hash.hardware_hash = None;
    let missing = env.publish_purchase(no_hash).await;
    let good = env
        .publish_purchase(TestEnv::purchase("PF0000103", "PO-103"))
        .await;

    let letters = dead.take(3, "three dead letters", OUTCOME).await;
    let reason_of = |id: &str| {
        letters
            .iter()
            .find(|l| l.properties.message_id().as_ref().map(|m| m.as_str()) == Some(id))
            .and_then(|l| l.header(headers::REASON))
            .unwrap_or_else(|| panic!("no dead letter for {id}"))
    };
    let other_reason = reason_of(&other.id);
    for needle in [
        demo::OTHER_TENANT_SERIAL,
        "another tenant",
        "deregister",
        "808",
    ] {
        assert!(other_reason.contains(needle), "{other_reason}");
    }
    assert!(
        !other_reason.contains(&demo::hardware_hash(demo::OTHER_TENANT_SERIAL)),
        "the hash never appears in a reason"
    );
    assert!(
        reason_of(&bad.id).contains("hardwareHash"),
        "{}",
        reason_of(&bad.id)
    );
    let missing_reason = reason_of(&missing.id);
    assert!(
        missing_reason.contains("hardwareHash") && missing_reason.contains("required"),
        "{missing_reason}"
    );
    let outcome = env
        .outcomes
        .next("the good purchase after the bad ones", OUTCOME)
        .await;
    assert_eq!(
        outcome
            .properties
            .correlation_id()
            .as_ref()
            .map(|c| c.as_str()),
        Some(good.id.as_str())
    );
    assert_eq!(import_records(&env), 0, "the 808 record was deleted too");
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_serials_with_a_hyphen_or_spaces_are_found_and_imported_once() {
    let env = TestEnv::spawn("device_purchased_hyphen").await;
    let service = env
        .start_device_purchased(env.purchased_settings(&[]))
        .await;
    let dead = env.dead_letters(Service::DevicePurchased).await;

    for (serial, order) in [("PF-0000202", "PO-202"), ("VMware-56 4d 12", "PO-203")] {
        env.publish_purchase(TestEnv::purchase(serial, order)).await;
    }
    env.outcomes
        .take(2, "both devices registered", OUTCOME)
        .await;
    // Delivered again once registered: found by serial this time, not imported again.
    env.publish_purchase(TestEnv::purchase("PF-0000202", "PO-202"))
        .await;
    let again = env.outcomes.next("the repeat", OUTCOME).await;

    assert_eq!(again.json()["data"]["registration"], "alreadyRegistered");
    assert_eq!(registered(&env, "PF-0000202"), 1);
    assert_eq!(registered(&env, "VMware-56 4d 12"), 1);
    assert_eq!(imports_sent(&env), 2);
    assert!(dead.drain().await.is_empty());
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_three_deliveries_of_one_purchase_import_once() {
    let env = TestEnv::spawn("device_purchased_three_times").await;
    let service = env
        .start_device_purchased(env.purchased_settings(&[("amqp.concurrency", "8")]))
        .await;

    let event = env
        .publish_purchase(TestEnv::purchase("PF0000301", "PO-301"))
        .await;
    env.publish(DEVICE_PURCHASED, &event).await;
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

fn correlation_ids(outcomes: &[e2e::broker::Received]) -> BTreeSet<String> {
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
async fn device_purchased_already_registered_device_is_not_imported_and_gets_the_new_group_tag() {
    let env = TestEnv::spawn("device_purchased_registered").await;
    let service = env
        .start_device_purchased(
            env.purchased_settings(&[("device_purchased.update_group_tag", "true")]),
        )
        .await;

    let mut purchase = TestEnv::purchase(demo::AUTOPILOT_SERIAL, "PO-001");
    purchase.group_tag = Some("Finance".parse().unwrap());
    env.publish_purchase(purchase).await;
    let outcome = env.outcomes.next("the registered device", OUTCOME).await;

    let data = &outcome.json()["data"];
    assert_eq!(data["registration"], "alreadyRegistered", "{data}");
    assert_eq!(data["autopilotDeviceId"], demo::AUTOPILOT_DEVICE);
    assert_eq!(data["entraDeviceObjectId"], demo::ENTRA_DEVICE_OBJECT);
    assert_eq!(data["groupTag"], "Finance");
    assert_eq!(data["groupTagUpdate"], "updated");
    assert_eq!(data["deviceGroup"]["how"], "alreadyMember", "{data}");
    assert_eq!(imports_sent(&env), 0, "never imported again");
    let tenant = env.emulator.state().snapshot();
    assert_eq!(tenant.autopilot_devices[0].group_tag, "Finance");
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_corporate_identifier_is_searched_first_and_imported_once() {
    let env = TestEnv::spawn("device_purchased_corporate").await;
    let service = env
        .start_device_purchased(env.purchased_settings(&[
            ("device_purchased.corporate_identifier", "true"),
            ("device_purchased.require_hardware_hash", "false"),
        ]))
        .await;

    env.publish_purchase(TestEnv::purchase("PF.0000.501", "PO-501"))
        .await;
    let first = env.outcomes.next("the first purchase", OUTCOME).await;
    env.publish_purchase(TestEnv::purchase("PF.0000.501", "PO-501"))
        .await;
    let again = env.outcomes.next("the repeat", OUTCOME).await;
    // Corporate identifier only: no hash, so Autopilot is not asked.
    let mut no_hash = TestEnv::purchase("PF0000502", "PO-502");
    no_hash.hardware_hash = None;
    env.publish_purchase(no_hash).await;
    let only = env.outcomes.next("the hashless purchase", OUTCOME).await;

    let first = &first.json()["data"]["corporateIdentifier"];
    assert_eq!(
        first["identifier"], "Contoso Hardware,Emulated Model,PF0000501",
        "periods removed from the serial"
    );
    assert_eq!(first["how"], "imported");
    assert_eq!(
        again.json()["data"]["corporateIdentifier"]["how"],
        "alreadyPresent"
    );
    let only = &only.json()["data"];
    assert_eq!(only["registration"], "notRequested", "{only}");
    assert_eq!(only["corporateIdentifier"]["how"], "imported");
    assert_eq!(imports_sent(&env), 1, "only the purchase with a hash");
    assert_eq!(calls(&env, "POST", "/importDeviceIdentityList"), 2);
    assert_eq!(calls(&env, "POST", "/searchExistingIdentities"), 3);
    let first_search = env
        .emulator
        .requests()
        .iter()
        .position(|r| r.template.ends_with("/searchExistingIdentities"));
    let first_import = env
        .emulator
        .requests()
        .iter()
        .position(|r| r.template.ends_with("/importDeviceIdentityList"));
    assert!(first_search < first_import, "searched before importing");
    let identifiers = env.emulator.state().snapshot().corporate_identifiers;
    assert_eq!(identifiers.len(), 2, "{identifiers:?}");
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_shadow_mode_reports_would_import_and_writes_nothing() {
    let env = TestEnv::spawn("device_purchased_shadow").await;
    let service = env
        .start_device_purchased(env.purchased_settings(&[
            ("graph.dry_run", "true"),
            ("device_purchased.update_group_tag", "true"),
        ]))
        .await;

    env.publish_purchase(TestEnv::purchase("PF0000601", "PO-601"))
        .await;
    let new = env.outcomes.next("the new device", OUTCOME).await;
    let mut known = TestEnv::purchase(demo::AUTOPILOT_SERIAL, "PO-001");
    known.group_tag = Some("Finance".parse().unwrap());
    env.publish_purchase(known).await;
    let registered_one = env.outcomes.next("the registered device", OUTCOME).await;

    assert_eq!(new.json()["data"]["registration"], "wouldImport");
    assert_eq!(
        registered_one.json()["data"]["groupTagUpdate"],
        "updated",
        "would have updated"
    );
    let writes: u64 = env.emulator.state().counters().writes.values().sum();
    assert_eq!(writes, 0, "shadow mode sent a write");
    assert_eq!(
        service
            .would_writes("/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities")
            .await,
        1.0
    );
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_an_import_that_never_finishes_is_dead_lettered_after_import_max_age() {
    let env = TestEnv::spawn("device_purchased_import_max_age").await;
    env.emulator.state().set_timings(Timings {
        import_secs: 1.0e6,
        ..Timings::default()
    });
    let service = env
        .start_device_purchased(
            env.purchased_settings(&[("device_purchased.import_max_age", "1s")]),
        )
        .await;
    let dead = env.dead_letters(Service::DevicePurchased).await;

    env.publish_purchase(TestEnv::purchase("PF0000901", "PO-901"))
        .await;
    let letter = dead.next("the stuck import's dead letter", OUTCOME).await;

    let reason = letter.header(headers::REASON).unwrap_or_default();
    assert!(
        reason.contains("PF0000901") && reason.contains("import_max_age"),
        "{reason}"
    );
    assert_eq!(
        letter.header(headers::ERROR_CLASS).as_deref(),
        Some("permanent")
    );
    assert!(
        letter.number_header(headers::ATTEMPTS).unwrap_or(1) >= 2,
        "re-checked on a delayed delivery first"
    );
    assert_eq!(imports_sent(&env), 1);
    assert_eq!(
        import_records(&env),
        1,
        "a record still in progress is kept"
    );
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_a_dynamic_device_group_is_never_written() {
    let env = TestEnv::spawn("device_purchased_dynamic_group").await;
    let service = env
        .start_device_purchased(env.purchased_settings(&[
            ("device_purchased.device_group_id", demo::GROUP_DYNAMIC),
            ("device_purchased.device_group_dynamic", "true"),
        ]))
        .await;

    env.publish_purchase(TestEnv::purchase("PF0000701", "PO-701"))
        .await;
    let outcome = env.outcomes.next("the registered device", OUTCOME).await;

    let data = &outcome.json()["data"];
    assert_eq!(data["deviceGroup"]["how"], "dynamic", "{data}");
    assert!(data["entraDeviceObjectId"].is_string(), "{data}");
    assert_eq!(env.emulator.state().writes_to("/members/$ref"), 0);
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_refuses_to_start_with_a_group_that_cannot_hold_devices() {
    let env = TestEnv::spawn("device_purchased_m365_group").await;
    let settings =
        env.purchased_settings(&[("device_purchased.device_group_id", demo::GROUP_M365)]);
    let err = e2e::refused_start(settings, |s, h, t| Box::pin(device_purchased::run(s, h, t)))
        .await
        .to_string();
    assert!(
        err.contains("device_purchased.device_group_id") && err.contains("security group"),
        "{err}"
    );
    env.finish().await;
}

#[tokio::test]
async fn device_purchased_806_for_a_hash_registered_under_another_serial_is_dead_lettered_with_the_reason()
 {
    let env = TestEnv::spawn("device_purchased_806_elsewhere").await;
    let service = env
        .start_device_purchased(
            env.purchased_settings(&[("device_purchased.import_max_age", "1s")]),
        )
        .await;
    let dead = env.dead_letters(Service::DevicePurchased).await;

    // The demo device's hash, sold again under a serial Autopilot does not know.
    let mut purchase = TestEnv::purchase("PF0000999", "PO-999");
    purchase.hardware_hash = Some(demo::hardware_hash(demo::AUTOPILOT_SERIAL).parse().unwrap());
    env.publish_purchase(purchase).await;
    let letter = dead.next("the dead letter", OUTCOME).await;

    let reason = letter.header(headers::REASON).unwrap_or_default();
    for needle in ["PF0000999", "ZtdDeviceAlreadyAssigned", "another serial"] {
        assert!(reason.contains(needle), "{reason}");
    }
    assert_eq!(import_records(&env), 0, "our terminal record was deleted");
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

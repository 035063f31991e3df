//! A purchase imported into Autopilot and followed to its end: grouped, cleaned up and
//! announced, and each Graph import error (806, 808, a bad or missing hash, an import that never
//! finishes) mapped to success or a dead letter with its reason.

use super::*;

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
    let bad = Envelope::new(DevicePurchased::TYPE, "urn:e2e:procurement", None, bad_hash);
    env.publish_json(DevicePurchased::TYPE, &bad).await;
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

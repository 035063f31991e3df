//! What the settings change: a device already registered (group tag), corporate identifiers,
//! shadow mode, a dynamic device group, and a device group that cannot hold devices.

use super::*;

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

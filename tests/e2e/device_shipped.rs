use std::time::Duration;

use device_shipped::handler::DeviceAssigned;
use e2e::TestEnv;
use e2e::broker::Received;
use graph_emulator::fixture::AutopilotDevice;
use graph_emulator::{EmulatorConfig, demo};
use shared::amqp::headers;
use shared::config::Service;
use shared::events::Event as _;

const OUTCOME: Duration = Duration::from_secs(20);
const ASSIGN: &str = "/assignUserToDevice";

/// A registered, unassigned Autopilot device: the demo device with another id and serial.
fn unassigned_device(id: &str, serial: &str) -> AutopilotDevice {
    let mut device = graph_emulator::Fixture::demo().autopilot_devices[0].clone();
    device.id = id.to_owned();
    device.serial_number = serial.to_owned();
    device.hardware_identifier = Some(demo::hardware_hash(serial));
    device.azure_active_directory_device_id = None;
    device.user_principal_name.clear();
    device.addressable_user_name.clear();
    device
}

/// The demo tenant plus `devices`, at test speed.
fn tenant_with(devices: Vec<AutopilotDevice>) -> EmulatorConfig {
    let mut cfg = EmulatorConfig {
        speed: e2e::TEST_SPEED,
        ..Default::default()
    };
    cfg.fixture.autopilot_devices.extend(devices);
    cfg
}

/// `(userPrincipalName, addressableUserName)` of the Autopilot device `id` as the emulator holds it.
fn assignment_of(env: &TestEnv, id: &str) -> (String, String) {
    let tenant = env.emulator.state().snapshot();
    let device = tenant
        .autopilot_devices
        .iter()
        .find(|d| d.id == id)
        .unwrap_or_else(|| panic!("device {id} in the emulator"));
    (
        device.user_principal_name.clone(),
        device.addressable_user_name.clone(),
    )
}

fn data(outcome: &Received) -> serde_json::Value {
    assert_eq!(outcome.routing_key, DeviceAssigned::TYPE);
    outcome.json()["data"].clone()
}

const NEW_DEVICE: &str = "f1000000-0000-4000-8000-0000000000b1";
const NEW_SERIAL: &str = "CZC0000042";

#[tokio::test]
async fn a_shipped_device_is_assigned_to_its_user_with_the_display_name() {
    let env = TestEnv::spawn_with(
        "shipped_device_assigned",
        tenant_with(vec![unassigned_device(NEW_DEVICE, NEW_SERIAL)]),
    )
    .await;
    let service = env
        .start_device_shipped(env.settings(demo::DEVICE_SHIPPED, &[]))
        .await;

    let event = env
        .publish_shipment(TestEnv::shipment(NEW_SERIAL, demo::UPN_ADA))
        .await;
    let outcome = env.outcomes.next(DeviceAssigned::TYPE, OUTCOME).await;

    assert_eq!(
        outcome
            .properties
            .correlation_id()
            .as_ref()
            .map(|c| c.as_str()),
        Some(event.id.as_str())
    );
    let data = data(&outcome);
    assert_eq!(data["serialNumber"], NEW_SERIAL);
    assert_eq!(data["autopilotDeviceId"], NEW_DEVICE);
    assert_eq!(data["userId"], demo::USER_ADA);
    assert_eq!(data["userPrincipalName"], demo::UPN_ADA);
    assert_eq!(data["assignment"], "assigned");
    assert_eq!(data["orderId"], format!("PO-{NEW_SERIAL}"));
    assert_eq!(
        assignment_of(&env, NEW_DEVICE),
        (demo::UPN_ADA.to_owned(), "Ada Lovelace".to_owned())
    );
    assert_eq!(env.emulator.writes_to(ASSIGN), 1);
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn same_shipment_delivered_three_times_assigns_once() {
    let env = TestEnv::spawn_with(
        "same_shipment_three_times",
        tenant_with(vec![unassigned_device(NEW_DEVICE, NEW_SERIAL)]),
    )
    .await;
    let service = env
        .start_device_shipped(env.settings(demo::DEVICE_SHIPPED, &[]))
        .await;

    let event = env
        .publish_shipment(TestEnv::shipment(NEW_SERIAL, demo::UPN_GRACE))
        .await;
    env.publish(&event).await;
    env.publish(&event).await;
    let outcomes = env
        .outcomes
        .take(3, "three onboarding.device.assigned", OUTCOME)
        .await;

    let mut how: Vec<String> = outcomes
        .iter()
        .map(|o| data(o)["assignment"].as_str().unwrap_or("?").to_owned())
        .collect();
    how.sort();
    assert_eq!(how, ["alreadyAssigned", "alreadyAssigned", "assigned"]);
    assert_eq!(env.emulator.writes_to(ASSIGN), 1, "one assignUserToDevice");
    assert_eq!(assignment_of(&env, NEW_DEVICE).0, demo::UPN_GRACE);
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn a_device_already_assigned_to_its_user_in_other_case_is_not_written() {
    let env = TestEnv::spawn("shipped_already_assigned").await;
    let service = env
        .start_device_shipped(env.settings(demo::DEVICE_SHIPPED, &[]))
        .await;

    // The demo device is assigned to katherine@contoso.test; procurement typed it in upper case.
    env.publish_shipment(TestEnv::shipment(
        demo::AUTOPILOT_SERIAL,
        "KATHERINE@Contoso.test",
    ))
    .await;
    let outcome = env.outcomes.next(DeviceAssigned::TYPE, OUTCOME).await;

    let data = data(&outcome);
    assert_eq!(data["assignment"], "alreadyAssigned");
    assert_eq!(data["userId"], demo::USER_KATHERINE);
    assert_eq!(env.emulator.writes_to(ASSIGN), 0);
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn a_device_assigned_to_someone_else_is_dead_lettered_and_left_alone() {
    let env = TestEnv::spawn("shipped_to_someone_else").await;
    let service = env
        .start_device_shipped(env.settings(demo::DEVICE_SHIPPED, &[]))
        .await;
    let dead = env.dead_letters(Service::DeviceShipped).await;

    let event = env
        .publish_shipment(TestEnv::shipment(demo::AUTOPILOT_SERIAL, demo::UPN_ADA))
        .await;
    let letter = dead.next("the dead letter", OUTCOME).await;

    let reason = letter.header(headers::REASON).unwrap_or_default();
    assert!(
        reason.contains(&format!(
            "device {} is already assigned to {}",
            demo::AUTOPILOT_SERIAL,
            demo::UPN_KATHERINE
        )),
        "{reason}"
    );
    assert!(reason.contains("device_shipped.allow_reassign"), "{reason}");
    assert_eq!(
        letter.header(headers::ERROR_CLASS).as_deref(),
        Some("permanent")
    );
    assert_eq!(
        letter.properties.message_id().as_ref().map(|m| m.as_str()),
        Some(event.id.as_str())
    );
    assert!(
        letter.number_header(headers::ATTEMPTS).unwrap_or(1) <= 1,
        "never retried"
    );
    assert_eq!(env.emulator.writes_to(ASSIGN), 0, "nothing overwritten");
    assert_eq!(
        assignment_of(&env, demo::AUTOPILOT_DEVICE),
        (
            demo::UPN_KATHERINE.to_owned(),
            "Katherine Johnson".to_owned()
        )
    );
    assert!(
        env.outcomes.drain().await.is_empty(),
        "no outcome published"
    );
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn with_allow_reassign_a_device_assigned_to_someone_else_is_reassigned() {
    let env = TestEnv::spawn("shipped_reassigned").await;
    let settings = env.settings(
        demo::DEVICE_SHIPPED,
        &[("device_shipped.allow_reassign", "true")],
    );
    let service = env.start_device_shipped(settings).await;

    env.publish_shipment(TestEnv::shipment(demo::AUTOPILOT_SERIAL, demo::UPN_ADA))
        .await;
    let outcome = env.outcomes.next(DeviceAssigned::TYPE, OUTCOME).await;

    let data = data(&outcome);
    assert_eq!(data["assignment"], "reassigned");
    assert_eq!(data["previousUserPrincipalName"], demo::UPN_KATHERINE);
    assert_eq!(
        assignment_of(&env, demo::AUTOPILOT_DEVICE),
        (demo::UPN_ADA.to_owned(), "Ada Lovelace".to_owned())
    );
    assert_eq!(env.emulator.writes_to(ASSIGN), 1);
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn a_shipment_before_the_device_is_registered_is_retried_until_it_appears() {
    let env = TestEnv::spawn("shipped_before_registered").await;
    let service = env
        .start_device_shipped(env.settings(demo::DEVICE_SHIPPED, &[]))
        .await;
    let dead = env.dead_letters(Service::DeviceShipped).await;

    env.publish_shipment(TestEnv::shipment(NEW_SERIAL, demo::UPN_GRACE))
        .await;
    // Two lookups by serial means the first try failed and the message came back from a delay tier.
    e2e::wait::eventually("a second lookup by serial", OUTCOME, || async {
        let lookups = env
            .emulator
            .requests()
            .iter()
            .filter(|r| r.template.ends_with("/windowsAutopilotDeviceIdentities"))
            .count();
        (lookups >= 2).then_some(())
    })
    .await;
    assert!(dead.drain().await.is_empty(), "nothing dead-lettered");
    assert!(env.outcomes.drain().await.is_empty(), "no outcome yet");
    // The purchase's import completes: the device is registered now.
    env.emulator
        .state()
        .world()
        .tenant
        .autopilot_devices
        .push(unassigned_device(NEW_DEVICE, NEW_SERIAL));
    let outcome = env.outcomes.next(DeviceAssigned::TYPE, OUTCOME).await;

    let data = data(&outcome);
    assert_eq!(data["autopilotDeviceId"], NEW_DEVICE);
    assert_eq!(data["assignment"], "assigned");
    assert_eq!(assignment_of(&env, NEW_DEVICE).0, demo::UPN_GRACE);
    let metrics = service.metrics().await;
    assert!(
        e2e::metrics::sum(&metrics, "onboarding_retries_total", &[]) >= 1.0,
        "retries are counted: {metrics}"
    );
    assert!(dead.drain().await.is_empty(), "nothing dead-lettered");
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn a_shipment_for_a_user_provisioned_late_converges_after_the_lag() {
    let mut cfg = tenant_with(vec![unassigned_device(NEW_DEVICE, NEW_SERIAL)]);
    let alan = cfg
        .fixture
        .users
        .iter_mut()
        .find(|u| u.id == demo::USER_ALAN)
        .expect("alan in the demo tenant");
    // Alan's nominal 300 s is 1.5 s at test speed, which a loaded machine can spend starting
    // the service; 1000 s (5 s) keeps the first try inside the lag, so the wait is exercised.
    alan.provision_after_seconds = 1000.0;
    let env = TestEnv::spawn_with("shipped_to_late_user", cfg).await;
    let service = env
        .start_device_shipped(env.settings(demo::DEVICE_SHIPPED, &[]))
        .await;
    let dead = env.dead_letters(Service::DeviceShipped).await;

    env.publish_shipment(TestEnv::shipment(NEW_SERIAL, demo::UPN_ALAN))
        .await;
    let outcome = env
        .outcomes
        .next("onboarding.device.assigned for the late user", OUTCOME)
        .await;

    let data = data(&outcome);
    assert_eq!(data["userId"], demo::USER_ALAN);
    assert_eq!(
        assignment_of(&env, NEW_DEVICE),
        (demo::UPN_ALAN.to_owned(), "Alan Turing".to_owned())
    );
    let not_yet = env
        .emulator
        .requests()
        .iter()
        .filter(|r| r.template.ends_with("/users/{id}") && r.status == 404)
        .count();
    assert!(
        not_yet >= 1,
        "the first tries found no user ({not_yet} 404s)"
    );
    assert_eq!(env.emulator.writes_to(ASSIGN), 1);
    assert!(dead.drain().await.is_empty(), "nothing dead-lettered");
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn a_serial_with_a_hyphen_is_found_beyond_the_first_page_and_assigned() {
    const HYPHEN_DEVICE: &str = "f1000000-0000-4000-8000-0000000000c9";
    const HYPHEN_SERIAL: &str = "PF-2X3Y4Z";
    // Six devices before it: the emulator's pages hold five, so the list must be followed.
    let mut devices: Vec<AutopilotDevice> = (0..6)
        .map(|i| {
            unassigned_device(
                &format!("f1000000-0000-4000-8000-0000000000c{i}"),
                &format!("PF-2X3Y4Z{i}"),
            )
        })
        .collect();
    devices.push(unassigned_device(HYPHEN_DEVICE, HYPHEN_SERIAL));
    let env = TestEnv::spawn_with("shipped_hyphen_serial", tenant_with(devices)).await;
    let service = env
        .start_device_shipped(env.settings(demo::DEVICE_SHIPPED, &[]))
        .await;

    env.publish_shipment(TestEnv::shipment(HYPHEN_SERIAL, demo::UPN_GRACE))
        .await;
    let outcome = env.outcomes.next(DeviceAssigned::TYPE, OUTCOME).await;

    let data = data(&outcome);
    assert_eq!(data["autopilotDeviceId"], HYPHEN_DEVICE);
    assert_eq!(assignment_of(&env, HYPHEN_DEVICE).0, demo::UPN_GRACE);
    let refused = env
        .emulator
        .requests()
        .iter()
        .filter(|r| r.status == 400)
        .count();
    assert_eq!(refused, 0, "no contains() filter with a hyphen was sent");
    assert_eq!(env.emulator.writes_to(ASSIGN), 1, "only the exact serial");
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn shadow_mode_assigns_nothing_and_counts_the_would_write() {
    let env = TestEnv::spawn_with(
        "shipped_shadow_mode",
        tenant_with(vec![unassigned_device(NEW_DEVICE, NEW_SERIAL)]),
    )
    .await;
    let settings = env.settings(demo::DEVICE_SHIPPED, &[("graph.dry_run", "true")]);
    let service = env.start_device_shipped(settings).await;

    env.publish_shipment(TestEnv::shipment(NEW_SERIAL, demo::UPN_ADA))
        .await;
    env.outcomes.next(DeviceAssigned::TYPE, OUTCOME).await;

    let writes: u64 = env.emulator.counters().writes.values().sum();
    assert_eq!(writes, 0, "shadow mode sent a write");
    assert_eq!(
        assignment_of(&env, NEW_DEVICE),
        (String::new(), String::new())
    );
    assert_eq!(
        service
            .would_writes(
                "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/{id}/assignUserToDevice"
            )
            .await,
        1.0
    );
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn a_device_that_never_registers_is_dead_lettered_after_max_age() {
    let env = TestEnv::spawn("shipped_never_registered").await;
    let settings = env.settings(demo::DEVICE_SHIPPED, &[("amqp.max_age", "2s")]);
    let service = env.start_device_shipped(settings).await;
    let dead = env.dead_letters(Service::DeviceShipped).await;

    env.publish_shipment(TestEnv::shipment(NEW_SERIAL, demo::UPN_GRACE))
        .await;
    let letter = dead.next("the dead letter after max_age", OUTCOME).await;

    let reason = letter.header(headers::REASON).unwrap_or_default();
    assert!(reason.contains("amqp.max_age 2s"), "{reason}");
    assert!(
        reason.contains(&format!("no Autopilot device with serial {NEW_SERIAL} yet")),
        "{reason}"
    );
    assert_eq!(
        letter.header(headers::ERROR_CLASS).as_deref(),
        Some("transient")
    );
    assert!(
        letter.number_header(headers::ATTEMPTS).unwrap_or(0) >= 2,
        "retried before giving up"
    );
    assert!(
        env.outcomes.drain().await.is_empty(),
        "no outcome published"
    );
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn two_devices_with_the_shipped_serial_are_dead_lettered_untouched() {
    let env = TestEnv::spawn_with(
        "shipped_ambiguous_serial",
        tenant_with(vec![
            unassigned_device(NEW_DEVICE, NEW_SERIAL),
            unassigned_device("f1000000-0000-4000-8000-0000000000b2", NEW_SERIAL),
        ]),
    )
    .await;
    let service = env
        .start_device_shipped(env.settings(demo::DEVICE_SHIPPED, &[]))
        .await;
    let dead = env.dead_letters(Service::DeviceShipped).await;

    env.publish_shipment(TestEnv::shipment(NEW_SERIAL, demo::UPN_GRACE))
        .await;
    let letter = dead.next("the dead letter", OUTCOME).await;

    let reason = letter.header(headers::REASON).unwrap_or_default();
    assert!(
        reason.contains(&format!("2 Autopilot devices have serial {NEW_SERIAL}")),
        "{reason}"
    );
    assert_eq!(
        letter.header(headers::ERROR_CLASS).as_deref(),
        Some("permanent")
    );
    assert_eq!(env.emulator.writes_to(ASSIGN), 0);
    service.stop().await.expect("clean stop");
    env.finish().await;
}

#[tokio::test]
async fn an_app_without_autopilot_permission_refuses_to_start_naming_it() {
    let env = TestEnv::spawn("shipped_missing_permission").await;
    // new-hire's app reads users but has no Intune permission.
    let settings = env.settings(demo::NEW_HIRE, &[]);
    let err = e2e::refused_start(settings, |s, h, t| Box::pin(device_shipped::run(s, h, t))).await;
    let message = err.to_string();
    assert!(
        message.contains("DeviceManagementServiceConfig.ReadWrite.All")
            && message.contains("grant"),
        "{message}"
    );
    assert!(
        !message.contains("User.Read.All"),
        "only what is missing is named: {message}"
    );
    env.finish().await;
}

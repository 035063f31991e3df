use std::time::Duration;

use e2e::TestEnv;
use graph_emulator::demo;

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
    let service = env.start_device_purchased(env.purchased_settings(&[])).await;

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

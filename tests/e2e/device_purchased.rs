//! Purchased devices: the Autopilot import followed on the broker, the device group, sync,
//! and errors. Helpers here read the emulator's tenant; the tests are in the modules below.

mod import;
mod repeats;
mod settings;

use std::collections::BTreeSet;
use std::time::Duration;

use e2e::{TestEnv, wait};
use graph::model::{ImportId, NewImport};
use graph_emulator::{Timings, demo};
use runner::Parts;
use shared::amqp::headers;
use shared::config::Service;
use shared::events::{DevicePurchased, Envelope, Event as _};

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

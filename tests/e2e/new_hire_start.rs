//! What the new-hire binary tells an admin at start, read from its JSON log: the warning when
//! the tenant's per-user device quota is below `new_hire.min_user_device_quota`.

use std::collections::HashMap;

use e2e::TestEnv;
use graph_emulator::demo;
use shared::config::Service;
use tokio::io::AsyncBufReadExt as _;

const QUOTA_WARNING: &str = "Maximum number of devices per user is below the configured floor";

/// Runs the new-hire binary with `vars` until it has declared its queue (the start-up checks
/// run before that), then stops it and returns its log lines as JSON.
async fn start_up_log(env: &TestEnv, mut vars: HashMap<String, String>) -> Vec<serde_json::Value> {
    vars.insert("ONBOARDING__TELEMETRY__LOG_FILTER".into(), "info".into());
    vars.insert("ONBOARDING__TELEMETRY__LOG_FORMAT".into(), "json".into());
    let mut child = env
        .start_binary_with_stdout(Service::NewHire, vars, std::process::Stdio::piped())
        .await;
    let stdout = child.stdout.take().expect("piped stdout");
    let lines = tokio::spawn(async move {
        let mut lines = tokio::io::BufReader::new(stdout).lines();
        let mut out = Vec::new();
        while let Ok(Some(line)) = lines.next_line().await {
            out.push(line);
        }
        out
    });
    child.start_kill().expect("stop the service");
    child.wait().await.expect("the service exits");
    lines
        .await
        .expect("log reader")
        .iter()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect()
}

fn quota_warnings(log: &[serde_json::Value]) -> Vec<&serde_json::Value> {
    log.iter()
        .filter(|l| {
            l["fields"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(QUOTA_WARNING))
        })
        .collect()
}

#[tokio::test]
async fn new_hire_warns_at_start_when_the_device_quota_is_below_the_floor() {
    // The demo tenant's policy allows 50 devices per user.
    let env = TestEnv::spawn("new_hire_quota_floor").await;
    let vars = env.service_env(demo::NEW_HIRE, &[("new_hire.min_user_device_quota", "100")]);

    let log = start_up_log(&env, vars).await;

    let warnings = quota_warnings(&log);
    assert_eq!(warnings.len(), 1, "{log:#?}");
    let warning = warnings[0];
    assert_eq!(warning["level"], "WARN", "{warning}");
    assert_eq!(warning["fields"]["user_device_quota"], 50, "{warning}");
    assert_eq!(warning["fields"]["floor"], 100, "{warning}");
    env.finish().await;
}

#[tokio::test]
async fn new_hire_starts_without_a_quota_warning_when_the_quota_meets_the_floor() {
    let env = TestEnv::spawn("new_hire_quota_ok").await;
    let vars = env.service_env(demo::NEW_HIRE, &[("new_hire.min_user_device_quota", "50")]);

    let log = start_up_log(&env, vars).await;

    assert!(!log.is_empty(), "the binary logged its start");
    assert!(quota_warnings(&log).is_empty(), "{log:#?}");
    env.finish().await;
}

//! `onboardctl publish --from-csv` against the real broker: the sample files, a 5,000-row file,
//! and the same file twice with the device services running (no duplicate effects).

use std::time::{Duration, Instant};

use base64::Engine as _;
use e2e::TestEnv;
use e2e::broker::Tap;
use graph_emulator::demo;
use onboardctl::output::Output;
use onboardctl::publish::{CsvKind, publish_csv};

fn examples(file: &str) -> std::path::PathBuf {
    std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples")).join(file)
}

/// A hardware-hash CSV as Windows PowerShell 5.1 writes it: UTF-16LE with a BOM, CRLF.
fn utf16_hash_csv(rows: usize, path: &std::path::Path) {
    let mut text = String::from(
        "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User\r\n",
    );
    for i in 0..rows {
        let hash = base64::engine::general_purpose::STANDARD.encode(format!("{i:08}").repeat(50));
        text.push_str(&format!("BULK{i:06},,{hash},Bulk,\r\n"));
    }
    let mut bytes = vec![0xFF, 0xFE];
    bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
    std::fs::write(path, bytes).unwrap();
}

/// A queue on the test's exchange that receives every event published to it.
async fn tap_everything(env: &TestEnv) -> Tap {
    Tap::bind(
        env.publisher.channel(),
        &env.prefix,
        &format!("{}.tap", env.prefix),
        "#",
    )
    .await
}

#[tokio::test]
async fn cli_publish_the_sample_files_publishes_every_row_and_each_assigned_user_as_a_shipment() {
    let env = TestEnv::spawn("cli_publish_samples").await;
    let tap = tap_everything(&env).await;
    let settings = env.settings(demo::ONBOARDCTL, &[]);

    let hires = publish_csv(
        &settings,
        &examples("hires.csv"),
        CsvKind::Auto,
        None,
        Output::Json,
    )
    .await
    .unwrap();
    let devices = publish_csv(
        &settings,
        &examples("autopilot-hashes.csv"),
        CsvKind::Auto,
        None,
        Output::Json,
    )
    .await
    .unwrap();

    assert_eq!(
        (hires.kind, hires.published, hires.rejected.len()),
        ("hr", 4, 0)
    );
    assert_eq!(
        (devices.kind, devices.published, devices.rejected.len()),
        ("autopilot", 7, 0),
        "4 purchases, 3 shipments"
    );
    assert_eq!(devices.encoding, "utf-16le with BOM");
    let got = tap
        .take(11, "every published event", Duration::from_secs(20))
        .await;
    let keys: Vec<&str> = got.iter().map(|r| r.routing_key.as_str()).collect();
    assert_eq!(
        keys.iter()
            .filter(|k| **k == "procurement.device.shipped")
            .count(),
        3
    );
    assert!(got.iter().all(|r| r.properties.message_id().is_some()));
    env.finish().await;
}

#[tokio::test]
async fn cli_publish_a_5000_row_file_sends_every_row_confirmed() {
    let env = TestEnv::spawn("cli_publish_5000_rows").await;
    let tap = tap_everything(&env).await;
    let path = std::env::temp_dir().join(format!("{}.csv", env.prefix));
    utf16_hash_csv(5000, &path);
    let settings = env.settings(demo::ONBOARDCTL, &[]);

    let started = Instant::now();
    let report = publish_csv(&settings, &path, CsvKind::Autopilot, None, Output::Json)
        .await
        .unwrap();
    let elapsed = started.elapsed();

    assert_eq!(
        (report.rows, report.published, report.rejected.len()),
        (5000, 5000, 0)
    );
    eprintln!(
        "published 5000 confirmed events in {elapsed:?} ({:.0} rows/s)",
        5000.0 / elapsed.as_secs_f64()
    );
    tap.take(5000, "every row on the broker", Duration::from_secs(60))
        .await;
    let _ = std::fs::remove_file(path);
    env.finish().await;
}

#[tokio::test]
async fn cli_publish_the_same_file_twice_has_no_duplicate_effects() {
    let env = TestEnv::spawn("cli_publish_twice").await;
    let purchased = env
        .start_device_purchased(env.purchased_settings(&[]))
        .await;
    let shipped = env
        .start_device_shipped(env.settings(demo::DEVICE_SHIPPED, &[]))
        .await;
    let settings = env.settings(demo::ONBOARDCTL, &[]);

    let first = publish_csv(
        &settings,
        &examples("autopilot-hashes.csv"),
        CsvKind::Auto,
        None,
        Output::Json,
    )
    .await
    .unwrap();
    env.outcomes
        .take(
            first.published,
            "outcomes of the first run",
            Duration::from_secs(60),
        )
        .await;
    let second = publish_csv(
        &settings,
        &examples("autopilot-hashes.csv"),
        CsvKind::Auto,
        None,
        Output::Json,
    )
    .await
    .unwrap();
    env.outcomes
        .take(
            second.published,
            "outcomes of the second run",
            Duration::from_secs(60),
        )
        .await;

    let state = env.emulator.state();
    assert_eq!(
        state.writes_to("/importedWindowsAutopilotDeviceIdentities"),
        4,
        "one import per serial"
    );
    assert_eq!(
        state.writes_to("/assignUserToDevice"),
        3,
        "one assignment per shipped device"
    );
    assert_eq!(
        state.writes_to("/groups/{id}/members/$ref"),
        4,
        "one group membership per device"
    );
    shipped.stop().await.unwrap();
    purchased.stop().await.unwrap();
    env.finish().await;
}

/// `onboardctl ARGS --output json` as the operator's app; (exit code, parsed stdout, stderr).
async fn onboardctl_json(env: &TestEnv, args: &[&str]) -> (i32, serde_json::Value, String) {
    let args = [args, &["--output", "json"]].concat();
    let (code, stdout, stderr) = env.onboardctl(demo::ONBOARDCTL, &[], &args).await;
    let json = serde_json::from_str(&stdout).unwrap_or(serde_json::Value::Null);
    (code, json, stderr)
}

#[tokio::test]
async fn cli_publish_one_event_from_flags_of_each_kind_typed_routed_and_idempotent() {
    let env = TestEnv::spawn("cli_publish_flags").await;
    let tap = tap_everything(&env).await;
    let hash = demo::hardware_hash("CZC0000777");
    let hire = [
        "publish",
        "hire",
        "--employee-id",
        "E9001",
        "--upn",
        demo::UPN_ADA,
        "--department",
        "Engineering",
        "--start-date",
        "2027-01-04",
    ];

    let (code, first, stderr) = onboardctl_json(&env, &hire).await;
    assert_eq!(code, 0, "{stderr}");
    let (_, again, _) = onboardctl_json(&env, &hire).await;
    let (code, purchase, stderr) = onboardctl_json(
        &env,
        &[
            "publish",
            "purchase",
            "--order-id",
            "PO-777",
            "--serial",
            "CZC0000777",
            "--hardware-hash",
            &hash,
            "--group-tag",
            "Sales",
        ],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    let (code, shipment, stderr) = onboardctl_json(
        &env,
        &[
            "publish",
            "shipment",
            "--serial",
            "CZC0000777",
            "--upn",
            demo::UPN_GRACE,
        ],
    )
    .await;
    assert_eq!(code, 0, "{stderr}");
    // Bad flags are refused before anything is sent.
    let (bad_date, _, said) = onboardctl_json(
        &env,
        &[
            "publish",
            "hire",
            "--employee-id",
            "E9002",
            "--upn",
            demo::UPN_ADA,
            "--start-date",
            "2027-13-01",
        ],
    )
    .await;
    let (bad_hash, _, _) = onboardctl_json(
        &env,
        &[
            "publish",
            "purchase",
            "--order-id",
            "PO-1",
            "--serial",
            "X1",
            "--hardware-hash",
            "not base64!",
        ],
    )
    .await;

    assert_eq!(first["type"], "hr.employee.hired");
    assert_eq!(
        first["id"], again["id"],
        "the same flags make the same event id"
    );
    assert_eq!(purchase["type"], "procurement.device.purchased");
    assert_eq!(shipment["type"], "procurement.device.shipped");
    assert!(
        !format!("{purchase}").contains(&hash),
        "the hash is never printed"
    );
    assert_eq!(bad_date, 2, "{said}");
    assert!(said.contains("YYYY-MM-DD"), "{said}");
    assert_eq!(bad_hash, 2);
    let got = tap
        .take(4, "the four published events", Duration::from_secs(20))
        .await;
    let keys: Vec<&str> = got.iter().map(|r| r.routing_key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "hr.employee.hired",
            "hr.employee.hired",
            "procurement.device.purchased",
            "procurement.device.shipped"
        ]
    );
    let ids: Vec<Option<String>> = got
        .iter()
        .map(|r| r.properties.message_id().as_ref().map(|m| m.to_string()))
        .collect();
    assert_eq!(ids[0], ids[1], "a duplicate carries the same message id");
    assert_eq!(ids[2].as_deref(), purchase["id"].as_str());
    let hired = got[0].json();
    assert_eq!(
        hired["data"],
        serde_json::json!({
            "employeeId": "E9001",
            "userPrincipalName": demo::UPN_ADA,
            "department": "Engineering",
            "startDate": "2027-01-04"
        })
    );
    let bought = got[2].json();
    assert_eq!(bought["data"]["hardwareHash"], hash.as_str());
    assert_eq!(bought["data"]["groupTag"], "Sales");
    assert_eq!(got[3].json()["data"]["userPrincipalName"], demo::UPN_GRACE);
    assert!(
        tap.drain().await.is_empty(),
        "the refused flags sent nothing"
    );
    env.finish().await;
}

#[tokio::test]
async fn cli_publish_a_file_the_broker_refuses_says_how_far_it_got_and_that_a_rerun_is_safe() {
    let env = TestEnv::spawn("cli_publish_refused").await;
    let missing = format!("{}.no-such-exchange", env.prefix);
    let hires = examples("hires.csv");

    let (code, stdout, stderr) = env
        .onboardctl(
            demo::ONBOARDCTL,
            &[("amqp.exchange", missing.as_str())],
            &["publish", "--from-csv", hires.to_str().unwrap()],
        )
        .await;

    assert_eq!(code, 1, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("stopped after 0 of 4 events were confirmed; publish the same file again"),
        "{stderr}"
    );
    let cause = format!("no exchange '{missing}'");
    assert_eq!(
        stderr.matches(&cause).count(),
        1,
        "the cause once: {stderr}"
    );
    env.finish().await;
}

#[tokio::test]
async fn cli_publish_progress_is_plain_lines_off_a_terminal_and_a_bar_on_one() {
    let env = TestEnv::spawn("cli_publish_progress").await;
    // Publishes are mandatory: something must be bound to take them.
    let tap = tap_everything(&env).await;
    let path = std::env::temp_dir().join(format!("{}.csv", env.prefix));
    utf16_hash_csv(20, &path);
    let file = path.to_str().unwrap();

    // Off a terminal (stderr is a pipe): a plain line every tenth of the way.
    let (code, _, piped) = env
        .onboardctl(demo::ONBOARDCTL, &[], &["publish", "--from-csv", file])
        .await;
    // On a terminal: script(1) runs it on a pseudo-terminal and copies what it drew.
    let command = format!(
        "{} publish --from-csv {file}",
        e2e::binary("onboardctl").display()
    );
    let on_terminal = tokio::process::Command::new("script")
        .args(["--quiet", "--return", "--command", &command, "/dev/null"])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("TERM", "xterm")
        .envs(env.service_env(demo::ONBOARDCTL, &[]))
        .stdin(std::process::Stdio::null())
        .output()
        .await
        .expect("script(1) runs");
    let drawn = String::from_utf8_lossy(&on_terminal.stdout);

    assert_eq!(code, 0, "{piped}");
    let lines: Vec<&str> = piped
        .lines()
        .filter(|l| l.starts_with("published "))
        .collect();
    let every_tenth: Vec<String> = (1..=10)
        .map(|i| format!("published {}/20", 2 * i))
        .collect();
    assert_eq!(lines, every_tenth, "{piped}");
    assert!(on_terminal.status.success(), "{drawn}");
    assert!(drawn.contains("/20 events"), "a bar was drawn: {drawn:?}");
    assert!(
        !drawn.contains("published 2/20"),
        "no plain lines: {drawn:?}"
    );
    assert!(
        drawn.contains("0 rows rejected"),
        "the summary follows: {drawn:?}"
    );
    tap.take(40, "both runs' events", Duration::from_secs(20))
        .await;
    let _ = std::fs::remove_file(path);
    env.finish().await;
}

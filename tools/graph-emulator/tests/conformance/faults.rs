use std::time::{Duration, Instant};

use graph_emulator::demo::{DEVICE_PURCHASED, NEW_HIRE, USER_ADA};
use graph_emulator::{Budget, Family, FaultConfig, FaultRule, Kind, Scope, ThrottleConfig};
use serde_json::json;

use crate::helpers::{client_for, spawn, spawn_with};

const SYNC_SETTINGS: &str = "/beta/deviceManagement/windowsAutopilotSettings";
const IMPORTS: &str = "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities";

#[tokio::test]
async fn s11_intune_writes_over_budget_are_429_with_a_fractional_retry_after_and_early_retries_are_counted()
 {
    // Speed 4: a 5 s window, long enough for 101 sequential debug-build calls on a busy machine.
    let e = spawn_with(|c| c.speed = 4.0).await;
    let body = json!({ "serialNumber": "T1", "hardwareIdentifier": "QUJD" });
    let mut statuses = Vec::new();
    for _ in 0..101 {
        statuses.push(
            e.call(DEVICE_PURCHASED, "POST", IMPORTS, Some(body.clone()))
                .await,
        );
    }
    assert!(
        statuses[..100].iter().all(|r| r.status == 201),
        "graph-behaviour §11: 100 writes per 20 s per app"
    );
    let throttled = &statuses[100];
    assert_eq!(
        (throttled.status, throttled.code()),
        (429, "TooManyRequests")
    );
    let ra: f64 = throttled.header("retry-after").unwrap().parse().unwrap();
    assert!(ra > 0.0 && ra <= 5.0, "20 s scaled by 4: {ra}");
    assert!(
        throttled
            .header("x-ms-throttle-scope")
            .unwrap()
            .starts_with("Tenant_Application/")
    );
    let in_flight = e.get(DEVICE_PURCHASED, SYNC_SETTINGS).await;
    assert_eq!(
        in_flight.status, 429,
        "the whole app x Intune scope waits out the Retry-After"
    );
    let retry = e
        .call(DEVICE_PURCHASED, "POST", IMPORTS, Some(body.clone()))
        .await;
    assert_eq!(
        retry.status, 429,
        "the same request retried before its Retry-After elapsed"
    );
    assert_eq!(
        e.emu.state().counters().early_retries,
        1,
        "only the retry is early, not the other request"
    );
    let log = e.emu.requests();
    assert!(
        log.iter()
            .any(|r| r.early && r.method == "POST" && r.status == 429)
    );
    assert!(!log.iter().any(|r| r.early && r.method == "GET"));
    // Reads of another workload family are unaffected.
    assert_eq!(
        e.get(NEW_HIRE, &format!("/v1.0/users/{USER_ADA}"))
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn s11_a_configured_share_of_429s_has_no_retry_after() {
    let e = spawn_with(|c| {
        c.throttle = ThrottleConfig {
            budgets: vec![Budget {
                family: Family::Identity,
                kind: Kind::Requests,
                scope: Scope::App,
                limit: 0,
                window_secs: 10.0,
            }],
            retry_after_absent_share: 1.0,
            ..ThrottleConfig::default()
        };
    })
    .await;
    let r = e.get(NEW_HIRE, &format!("/v1.0/users/{USER_ADA}")).await;
    assert_eq!(r.status, 429);
    assert!(r.header("retry-after").is_none());
}

#[tokio::test]
async fn s13_injected_503s_come_with_and_without_retry_after() {
    let e = spawn().await;
    let rule = |share: f64| FaultRule {
        path: Some("/v1.0/users/*".into()),
        error_503_rate: 1.0,
        retry_after_share: share,
        retry_after_secs: 2.0,
        ..Default::default()
    };
    e.emu.state().set_faults(FaultConfig {
        rules: vec![rule(1.0)],
    });
    let with = e.get(NEW_HIRE, &format!("/v1.0/users/{USER_ADA}")).await;
    assert_eq!((with.status, with.header("retry-after")), (503, Some("2")));
    e.emu.state().set_faults(FaultConfig {
        rules: vec![rule(0.0)],
    });
    let without = e.get(NEW_HIRE, &format!("/v1.0/users/{USER_ADA}")).await;
    assert_eq!((without.status, without.header("retry-after")), (503, None));
    assert_eq!(
        e.get(NEW_HIRE, "/v1.0/groups").await.status,
        200,
        "other paths are unaffected"
    );
    assert_eq!(e.emu.state().counters().faults_injected, 2);
}

#[tokio::test]
async fn faults_a_hanging_request_outlasts_the_client_timeout() {
    let e = spawn().await;
    let token = e.token(NEW_HIRE).await;
    e.emu.state().set_faults(FaultConfig {
        rules: vec![FaultRule {
            hang_rate: 1.0,
            hang_ms: 2_000,
            ..Default::default()
        }],
    });
    let impatient = client_for(&e.emu.ca_pem(), Some(Duration::from_millis(200)));
    let err = impatient
        .get(e.url(&format!("/v1.0/users/{USER_ADA}")))
        .bearer_auth(&token)
        .send()
        .await
        .expect_err("times out");
    assert!(err.is_timeout(), "{err}");
}

#[tokio::test]
async fn faults_added_latency_delays_the_answer() {
    let e = spawn().await;
    e.token(NEW_HIRE).await;
    e.emu.state().set_faults(FaultConfig {
        rules: vec![FaultRule {
            latency_ms: Some(vec![150, 200]),
            ..Default::default()
        }],
    });
    let start = Instant::now();
    let r = e.get(NEW_HIRE, &format!("/v1.0/users/{USER_ADA}")).await;
    assert_eq!(r.status, 200);
    assert!(
        start.elapsed() >= Duration::from_millis(150),
        "{:?}",
        start.elapsed()
    );
}

#[tokio::test]
async fn faults_can_be_set_through_the_admin_api() {
    let e = spawn().await;
    let faults = json!({ "rules": [{ "path": "*/users/*", "error503Rate": 1.0 }] });
    let put = e
        .http
        .put(e.url("/_emulator/faults"))
        .json(&faults)
        .send()
        .await
        .unwrap();
    assert_eq!(put.status(), 204);
    assert_eq!(
        e.get(NEW_HIRE, &format!("/v1.0/users/{USER_ADA}"))
            .await
            .status,
        503
    );
}

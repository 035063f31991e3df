use graph_emulator::Fixture;
use graph_emulator::demo::{self, NEW_HIRE, USER_ADA};
use serde_json::json;

use crate::helpers::spawn;

#[tokio::test]
async fn admin_requests_and_counters_record_templates_apps_and_state_changes() {
    let e = spawn().await;
    let token = e.token(NEW_HIRE).await;
    let tp = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    e.call_with_token(
        Some(&token),
        "GET",
        &format!("/v1.0/users/{USER_ADA}"),
        None,
        &[("traceparent", tp)],
    )
    .await;
    let add = json!({ "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{USER_ADA}") });
    e.call(
        NEW_HIRE,
        "POST",
        &format!("/v1.0/groups/{}/members/$ref", demo::GROUP_SALES),
        Some(add),
    )
    .await;
    let log = e.admin("requests").await;
    let log = log.as_array().unwrap();
    assert_eq!(log[0]["template"], "/{tenant}/oauth2/v2.0/token");
    assert_eq!(log[1]["template"], "/v1.0/users/{id}");
    assert_eq!(log[1]["appId"], NEW_HIRE.client_id);
    assert_eq!(
        log[1]["traceparent"], tp,
        "traceparent is accepted and logged"
    );
    assert_eq!(
        (
            log[2]["template"].as_str(),
            log[2]["changedState"].as_bool(),
            log[2]["status"].as_u64()
        ),
        (
            Some("/v1.0/groups/{id}/members/$ref"),
            Some(true),
            Some(204)
        )
    );
    let counters = e.admin("counters").await;
    assert_eq!(counters["byRoute"]["GET /v1.0/users/{id}"]["200"], 1);
    assert_eq!(counters["writes"]["POST /v1.0/groups/{id}/members/$ref"], 1);
    assert_eq!(counters["earlyRetries"], 0);
}

#[tokio::test]
async fn admin_state_reset_and_fixture_loading() {
    let e = spawn().await;
    let state = e.admin("state").await;
    assert_eq!(state["tenant"]["id"], demo::TENANT_ID);
    let body = json!({ "displayName": "Temp", "mailNickname": "t", "mailEnabled": false, "securityEnabled": true });
    assert_eq!(
        e.call(demo::TENANT_ADMIN, "POST", "/v1.0/groups", Some(body))
            .await
            .status,
        201
    );
    let reset = e.http.post(e.url("/_emulator/reset")).send().await.unwrap();
    assert_eq!(reset.status(), 204);
    assert_eq!(
        e.admin("state").await["groups"].as_array().unwrap().len(),
        8,
        "back to the demo tenant"
    );
    assert_eq!(
        e.admin("requests").await.as_array().unwrap().len(),
        0,
        "the log restarts"
    );
    let old_token = e.token(NEW_HIRE).await; // issued for the demo tenant
    let mut other = Fixture::demo();
    other.tenant.id = "11111111-2222-4333-8444-555555555555".into();
    let loaded = e
        .http
        .post(e.url("/_emulator/fixture"))
        .body(serde_json::to_string(&other).unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(loaded.status(), 204);
    let r = e
        .call_with_token(
            Some(&old_token),
            "GET",
            &format!("/v1.0/users/{USER_ADA}"),
            None,
            &[],
        )
        .await;
    assert_eq!(r.status, 401, "a token of the previous tenant");
    let bad = e
        .http
        .post(e.url("/_emulator/fixture"))
        .body(r#"{"tenant":{"id":"x","domains":[]},"apps":[],"usres":[]}"#)
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    assert!(
        bad.text().await.unwrap().contains("usres"),
        "the error names the bad field"
    );
}

#[test]
fn the_sample_fixture_file_is_the_demo_tenant() {
    let file = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/fixtures/demo.json"))
        .unwrap();
    let parsed = Fixture::from_json(&file).unwrap();
    assert_eq!(
        serde_json::to_value(parsed).unwrap(),
        serde_json::to_value(Fixture::demo()).unwrap()
    );
}

#[tokio::test]
async fn admin_throttle_timings_and_token_can_be_set_over_http() {
    let e = spawn().await;
    let throttle = json!({ "enabled": true, "budgets": [{ "family": "identity", "kind": "requests", "limit": 1, "windowSecs": 60 }], "fractionalRetryAfter": false });
    assert_eq!(
        e.http
            .put(e.url("/_emulator/throttle"))
            .json(&throttle)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(e.admin("throttle").await["budgets"][0]["limit"], 1);
    let timings =
        json!({ "importSecs": 1, "entraDeviceSecs": 2, "syncSecs": 3, "syncGuardSecs": 4 });
    assert_eq!(
        e.http
            .put(e.url("/_emulator/timings"))
            .json(&timings)
            .send()
            .await
            .unwrap()
            .status(),
        204
    );
    assert_eq!(e.admin("timings").await["syncGuardSecs"], 4.0);
    let issued: serde_json::Value = e
        .http
        .post(e.url("/_emulator/token"))
        .json(&json!({ "clientId": NEW_HIRE.client_id }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = issued["access_token"].as_str().unwrap();
    let path = format!("/v1.0/users/{USER_ADA}");
    assert_eq!(
        e.call_with_token(Some(token), "GET", &path, None, &[])
            .await
            .status,
        200
    );
    let second = e
        .call_with_token(Some(token), "GET", &path, None, &[])
        .await;
    assert_eq!(
        (second.status, second.header("retry-after")),
        (429, Some("60")),
        "whole seconds when fractions are off"
    );
}

#[tokio::test]
async fn extra_tls_names_are_on_the_serving_certificate() {
    // In compose or Kubernetes the services reach the emulator by its hostname, not 127.0.0.1.
    let emulator = graph_emulator::RunningEmulator::start(graph_emulator::EmulatorConfig {
        tls_names: vec!["graph-emulator".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let ca = reqwest::Certificate::from_pem(emulator.ca_pem().as_bytes()).unwrap();
    let client = reqwest::Client::builder()
        .tls_certs_merge([ca])
        .resolve("graph-emulator", emulator.addr())
        .build()
        .unwrap();
    let url = format!(
        "https://graph-emulator:{}/_emulator/counters",
        emulator.addr().port()
    );
    let resp = client
        .get(url)
        .send()
        .await
        .expect("the certificate names graph-emulator");
    assert!(resp.status().is_success());
    emulator.shutdown().await;
}

//! graph-behaviour §19: Autopilot deployment events (beta `autopilotEvents`), created through the admin
//! API, read and filtered through Graph.

use graph_emulator::demo::*;
use serde_json::{Value, json};

use crate::helpers::{Emu, spawn};

const EVENTS: &str = "/beta/deviceManagement/autopilotEvents";

async fn create(e: &Emu, body: Value) -> Value {
    let r = e
        .http
        .post(e.url("/_emulator/autopilot-events"))
        .json(&body)
        .send()
        .await
        .expect("admin POST");
    assert_eq!(r.status().as_u16(), 201);
    r.json().await.expect("event JSON")
}

#[tokio::test]
async fn s19_a_success_event_is_listed_and_found_by_serial_and_by_device_id() {
    let e = spawn().await;
    let ok = create(&e, json!({ "deviceSerialNumber": AUTOPILOT_SERIAL })).await;
    create(&e, json!({ "deviceSerialNumber": "OTHER0001" })).await;
    let by_serial = e
        .get(
            TENANT_ADMIN,
            &format!("{EVENTS}?$filter=deviceSerialNumber eq '{AUTOPILOT_SERIAL}'"),
        )
        .await;
    assert_eq!(by_serial.status, 200, "{}", by_serial.body);
    let list = by_serial.body["value"].as_array().unwrap();
    assert_eq!(list.len(), 1);
    let ev = &list[0];
    assert_eq!(
        ev["@odata.type"],
        "#microsoft.graph.deviceManagementAutopilotEvent"
    );
    assert_eq!(ev["id"], ok["id"]);
    for (field, value) in [
        ("deploymentState", "success"),
        ("deviceSetupStatus", "success"),
        ("accountSetupStatus", "success"),
        ("enrollmentState", "enrolled"),
        ("enrollmentType", "azureADJoinedWithAutopilotProfile"),
        ("deviceId", ENTRA_DEVICE_ID),
        ("userPrincipalName", UPN_KATHERINE),
        (
            "windowsAutopilotDeploymentProfileDisplayName",
            "Contoso user-driven Entra join",
        ),
        ("managedDeviceName", "CON-CZC0000001"),
    ] {
        assert_eq!(ev[field], value, "{field}");
    }
    assert_eq!(ev["enrollmentFailureDetails"], "");
    for field in [
        "deploymentDuration",
        "deviceSetupDuration",
        "accountSetupDuration",
    ] {
        assert!(ev[field].as_str().unwrap().starts_with("PT"), "{field}");
    }
    let stamp = ev["eventDateTime"].as_str().unwrap();
    assert_eq!(
        stamp.split('.').nth(1).map(str::len),
        Some(8),
        "seven fractional digits and Z: {stamp}"
    );
    // The third-party filter on deviceId, with ordering and $top (graph-behaviour §19).
    let by_device = e
        .get(
            TENANT_ADMIN,
            &format!("{EVENTS}?$filter=deviceId eq '{ENTRA_DEVICE_ID}'&$orderby=eventDateTime desc&$top=25"),
        )
        .await;
    assert_eq!(by_device.body["value"].as_array().unwrap().len(), 1);
    let id = ok["id"].as_str().unwrap();
    assert_eq!(
        e.get(TENANT_ADMIN, &format!("{EVENTS}/{id}")).await.body["id"],
        id
    );
    assert_eq!(
        e.get(TENANT_ADMIN, &format!("{EVENTS}/{id}/policyStatusDetails"))
            .await
            .body["value"],
        json!([])
    );
}

#[tokio::test]
async fn s19_a_failure_event_carries_the_failure_details_the_enrollment_state_and_the_failing_phase()
 {
    let e = spawn().await;
    create(
        &e,
        json!({ "deviceSerialNumber": AUTOPILOT_SERIAL, "deploymentState": "success",
                "eventDateTime": "2026-03-01T10:00:00.1234567Z" }),
    )
    .await;
    create(
        &e,
        json!({
            "deviceSerialNumber": AUTOPILOT_SERIAL,
            "eventDateTime": "2026-03-02T10:00:00.1234567+01:00",
            "deploymentState": "failure",
            "enrollmentState": "enrolled",
            "deviceSetupStatus": "success",
            "accountSetupStatus": "failure",
            "enrollmentFailureDetails": "App install failure: Contoso VPN (0x87D1041C)",
            "deviceSetupDuration": "-PT2M57.2190107S",
        }),
    )
    .await;
    let failures = e
        .get(
            TENANT_ADMIN,
            &format!("{EVENTS}?$filter=deviceSerialNumber eq '{AUTOPILOT_SERIAL}' and deploymentState eq 'failure'"),
        )
        .await;
    let list = failures.body["value"].as_array().unwrap();
    assert_eq!(list.len(), 1, "{}", failures.body);
    let f = &list[0];
    assert_eq!(
        f["enrollmentFailureDetails"],
        "App install failure: Contoso VPN (0x87D1041C)"
    );
    assert_eq!(f["enrollmentState"], "enrolled");
    assert_eq!(
        (
            f["deviceSetupStatus"].as_str(),
            f["accountSetupStatus"].as_str()
        ),
        (Some("success"), Some("failure")),
        "the user (account) phase failed"
    );
    assert_eq!(f["deviceSetupDuration"], "-PT2M57.2190107S", "kept as sent");
    // Latest first.
    let ordered = e
        .get(
            TENANT_ADMIN,
            &format!("{EVENTS}?$filter=deviceSerialNumber eq '{AUTOPILOT_SERIAL}'&$orderby=eventDateTime desc"),
        )
        .await;
    assert_eq!(ordered.body["value"][0]["deploymentState"], "failure");
    // Defaults of a bare failure: the device phase failed, the account phase was not attempted.
    let bare = create(
        &e,
        json!({ "deviceSerialNumber": "FAIL0001", "deploymentState": "failure" }),
    )
    .await;
    assert_eq!(
        (
            bare["deviceSetupStatus"].as_str(),
            bare["accountSetupStatus"].as_str(),
            bare["enrollmentState"].as_str()
        ),
        (Some("failure"), Some("notAttempted"), Some("failed"))
    );
    assert!(
        !bare["enrollmentFailureDetails"]
            .as_str()
            .unwrap()
            .is_empty()
    );
    let since = e
        .get(
            TENANT_ADMIN,
            &format!("{EVENTS}?$filter=deploymentEndDateTime ge 2026-01-01T00:00:00Z and deviceSerialNumber eq 'FAIL0001'"),
        )
        .await;
    assert_eq!(
        since.body["value"].as_array().unwrap().len(),
        1,
        "{}",
        since.body
    );
}

#[tokio::test]
async fn s19_autopilot_events_are_beta_only_and_need_managed_devices_read() {
    let e = spawn().await;
    assert_eq!(
        e.get(ONBOARDCTL, EVENTS).await.status,
        403,
        "DeviceManagementServiceConfig is not enough"
    );
    assert_eq!(e.get(TENANT_ADMIN, EVENTS).await.body["value"], json!([]));
    assert_eq!(
        e.get(TENANT_ADMIN, "/v1.0/deviceManagement/autopilotEvents")
            .await
            .status,
        400
    );
    assert_eq!(
        e.get(
            TENANT_ADMIN,
            &format!("{EVENTS}?$filter=contains(deviceSerialNumber,'CZC')")
        )
        .await
        .status,
        400,
        "only comparisons are modelled"
    );
    let missing = e
        .http
        .post(e.url("/_emulator/autopilot-events"))
        .json(&json!({ "deploymentState": "success" }))
        .send()
        .await
        .unwrap();
    assert_eq!(missing.status().as_u16(), 400, "a serial is required");
}

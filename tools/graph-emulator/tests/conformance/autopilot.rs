use std::time::Duration;

use graph_emulator::Timings;
use graph_emulator::demo::*;
use serde_json::{Value, json};

use crate::helpers::{Emu, eventually, spawn, spawn_with};

const IMPORTS: &str = "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities";
const DEVICES: &str = "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities";

/// Fast tenant: import settles in 60 ms; the Entra device takes 2 s more, so "not yet" is observable.
async fn fast() -> Emu {
    spawn_with(|c| {
        c.speed = 1000.0;
        c.timings = Timings {
            entra_device_secs: 2000.0,
            ..Timings::default()
        };
    })
    .await
}

fn import_body(serial: &str, hash: &str) -> Value {
    json!({ "serialNumber": serial, "hardwareIdentifier": hash, "groupTag": "Sales", "productKey": "", "state": { "deviceImportStatus": "pending" } })
}

async fn settled(e: &Emu, id: &str) -> Value {
    eventually("import to settle", Duration::from_secs(10), || async {
        let r = e.get(DEVICE_PURCHASED, &format!("{IMPORTS}/{id}")).await;
        (r.body["state"]["deviceImportStatus"] != "unknown").then_some(r.body)
    })
    .await
}

#[tokio::test]
async fn s5_s8_an_import_completes_then_its_entra_device_appears() {
    let e = fast().await;
    let created = e
        .call(
            DEVICE_PURCHASED,
            "POST",
            IMPORTS,
            Some(import_body("NEW0001", &hardware_hash("NEW0001"))),
        )
        .await;
    assert_eq!(created.status, 201);
    assert_eq!(
        created.body["state"]["deviceImportStatus"], "unknown",
        "graph-behaviour §5: in progress is `unknown`"
    );
    let done = settled(&e, created.body["id"].as_str().unwrap()).await;
    assert_eq!(
        (
            done["state"]["deviceImportStatus"].as_str(),
            done["state"]["deviceErrorCode"].as_i64()
        ),
        (Some("complete"), Some(0))
    );
    let reg = done["state"]["deviceRegistrationId"]
        .as_str()
        .unwrap()
        .to_string();
    let device = e.get(DEVICE_PURCHASED, &format!("{DEVICES}/{reg}")).await;
    assert_eq!(
        device.status, 200,
        "graph-behaviour §5: deviceRegistrationId is the windowsAutopilotDeviceIdentity id"
    );
    assert_eq!(
        device.body["azureActiveDirectoryDeviceId"],
        Value::Null,
        "the Entra device is not there yet"
    );
    let aad = eventually(
        "azureActiveDirectoryDeviceId",
        Duration::from_secs(10),
        || async {
            e.get(DEVICE_PURCHASED, &format!("{DEVICES}/{reg}"))
                .await
                .body["azureActiveDirectoryDeviceId"]
                .as_str()
                .map(str::to_string)
        },
    )
    .await;
    let found = e
        .get(
            DEVICE_PURCHASED,
            &format!("/v1.0/devices?$filter=deviceId%20eq%20'{aad}'"),
        )
        .await;
    let dev = &found.body["value"][0];
    assert_eq!(dev["deviceId"], aad.as_str());
    let ids: Vec<&str> = dev["physicalIds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p.as_str().unwrap())
        .collect();
    assert!(
        ids.iter().any(|p| p.starts_with("[ZTDID]:")) && ids.contains(&"[OrderID]:Sales"),
        "{ids:?}"
    );
    let by_alt_key = e
        .get(
            DEVICE_PURCHASED,
            &format!("/v1.0/devices(deviceId='{aad}')"),
        )
        .await;
    assert_eq!(by_alt_key.body["id"], dev["id"]);
    assert_eq!(
        e.call(
            DEVICE_PURCHASED,
            "DELETE",
            &format!("{IMPORTS}/{}", created.body["id"].as_str().unwrap()),
            None
        )
        .await
        .status,
        204
    );
}

#[tokio::test]
async fn s5_import_errors_are_named_with_their_codes() {
    let e = fast().await;
    let dup = hardware_hash("DUP0001");
    let body = json!({ "importedWindowsAutopilotDeviceIdentities": [
        import_body(OTHER_TENANT_SERIAL, &hardware_hash(OTHER_TENANT_SERIAL)),
        import_body(AUTOPILOT_SERIAL, &hardware_hash(AUTOPILOT_SERIAL)),
        import_body("DUP0001", &dup),
        import_body("DUP0001", &dup),
        import_body("BAD0001", "not-base64!"),
        import_body("SHORT01", "QUJDRA=="),
    ]});
    let r = e
        .call(
            DEVICE_PURCHASED,
            "POST",
            &format!("{IMPORTS}/import"),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200);
    let ids: Vec<String> = r.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["id"].as_str().unwrap().to_string())
        .collect();
    let mut outcomes = Vec::new();
    for id in &ids {
        let s = settled(&e, id).await;
        outcomes.push((
            s["state"]["deviceImportStatus"]
                .as_str()
                .unwrap()
                .to_string(),
            s["state"]["deviceErrorName"].as_str().unwrap().to_string(),
            s["state"]["deviceErrorCode"].as_i64().unwrap(),
        ));
    }
    let expect = |status: &str, name: &str, code: i64| (status.to_string(), name.to_string(), code);
    assert_eq!(
        outcomes[0],
        expect("error", "ZtdDeviceAssignedToOtherTenant", 808)
    );
    assert_eq!(
        outcomes[1],
        expect("error", "ZtdDeviceAlreadyAssigned", 806)
    );
    assert_eq!(
        outcomes[2],
        expect("complete", "", 0),
        "the first of two equal hashes is processed"
    );
    assert_eq!(outcomes[3], expect("error", "ZtdDeviceDuplicated", 807));
    assert_eq!(outcomes[4], expect("error", "InvalidZtdHardwareHash", 802));
    assert_eq!(
        outcomes[5],
        expect("error", "InvalidZtdHardwareHash", 802),
        "too short"
    );
}

#[tokio::test]
async fn s6_serial_filter_is_contains_only_eq_and_hyphens_are_400() {
    let e = spawn().await;
    let hit = e
        .get(
            ONBOARDCTL,
            &format!("{DEVICES}?$filter=contains(serialNumber,'ZC00000')"),
        )
        .await;
    assert_eq!(
        (hit.status, hit.body["value"][0]["serialNumber"].as_str()),
        (200, Some(AUTOPILOT_SERIAL)),
        "substring match"
    );
    let eq = e
        .get(
            ONBOARDCTL,
            &format!("{DEVICES}?$filter=serialNumber%20eq%20'{AUTOPILOT_SERIAL}'"),
        )
        .await;
    assert_eq!(
        eq.status, 400,
        "graph-behaviour §6: eq on serialNumber is 400"
    );
    let inner: Value = serde_json::from_str(eq.message())
        .expect("graph-behaviour §6: Intune message is JSON inside a string");
    assert!(inner["Message"].is_string());
    let hyphen = e
        .get(
            ONBOARDCTL,
            &format!("{DEVICES}?$filter=contains(serialNumber,'CZC-1')"),
        )
        .await;
    assert_eq!(
        hyphen.status, 400,
        "graph-behaviour §6: a hyphen in the value is 400"
    );
    let space = e
        .get(
            ONBOARDCTL,
            &format!("{DEVICES}?$filter=contains(serialNumber,'CZC%2000')"),
        )
        .await;
    assert_eq!(
        space.body["value"],
        json!([]),
        "graph-behaviour §6: values with spaces do not match"
    );
}

#[tokio::test]
async fn s6_assign_unassign_update_and_delete_an_autopilot_device() {
    let e = spawn().await;
    let dev = format!("{DEVICES}/{AUTOPILOT_DEVICE}");
    let assign = json!({ "userPrincipalName": UPN_ADA, "addressableUserName": "Ada Lovelace" });
    assert_eq!(
        e.call(
            DEVICE_SHIPPED,
            "POST",
            &format!("{dev}/assignUserToDevice"),
            Some(assign)
        )
        .await
        .status,
        204
    );
    assert_eq!(
        e.get(DEVICE_SHIPPED, &dev).await.body["userPrincipalName"],
        UPN_ADA
    );
    let foreign = json!({ "userPrincipalName": "x@fabrikam.test", "addressableUserName": "X" });
    assert_eq!(
        e.call(
            DEVICE_SHIPPED,
            "POST",
            &format!("{dev}/assignUserToDevice"),
            Some(foreign)
        )
        .await
        .status,
        400
    );
    assert_eq!(
        e.call(
            DEVICE_SHIPPED,
            "POST",
            &format!("{dev}/unassignUserFromDevice"),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        e.get(DEVICE_SHIPPED, &dev).await.body["userPrincipalName"],
        ""
    );
    assert_eq!(
        e.call(
            DEVICE_SHIPPED,
            "POST",
            &format!("{dev}/updateDeviceProperties"),
            Some(json!({ "groupTag": "Engineering" }))
        )
        .await
        .status,
        204
    );
    let after = e.get(DEVICE_SHIPPED, &dev).await.body;
    assert_eq!(
        (after["groupTag"].as_str(), after["displayName"].as_str()),
        (Some("Engineering"), Some("")),
        "only the sent keys change"
    );
    let entra = e
        .get(
            DEVICE_PURCHASED,
            &format!("/v1.0/devices/{ENTRA_DEVICE_OBJECT}"),
        )
        .await
        .body;
    assert!(
        entra["physicalIds"]
            .as_array()
            .unwrap()
            .contains(&json!("[OrderID]:Engineering"))
    );
    assert_eq!(
        e.call(ONBOARDCTL, "DELETE", &dev, None).await.status,
        403,
        "read-only app"
    );
    assert_eq!(
        e.call(DEVICE_SHIPPED, "DELETE", &dev, None).await.status,
        204
    );
    assert_eq!(e.get(DEVICE_SHIPPED, &dev).await.status, 404);
}

#[tokio::test]
async fn s7_sync_is_204_then_409_while_running_then_429_inside_ten_minutes() {
    let e = spawn_with(|c| {
        c.speed = 1000.0;
        c.timings = Timings {
            sync_secs: 200.0,
            sync_guard_secs: 1000.0,
            ..Timings::default()
        };
    })
    .await;
    let sync = "/beta/deviceManagement/windowsAutopilotSettings/sync";
    assert_eq!(
        e.call(DEVICE_PURCHASED, "POST", sync, None).await.status,
        204
    );
    assert_eq!(
        e.call(DEVICE_PURCHASED, "POST", sync, None).await.status,
        409,
        "a sync is running"
    );
    eventually("sync to complete", Duration::from_secs(5), || async {
        let s = e
            .get(
                DEVICE_PURCHASED,
                "/beta/deviceManagement/windowsAutopilotSettings",
            )
            .await;
        (s.body["syncStatus"] == "completed").then_some(())
    })
    .await;
    assert_eq!(
        e.call(DEVICE_PURCHASED, "POST", sync, None).await.status,
        429,
        "inside the 10-minute guard"
    );
    eventually("the guard to pass", Duration::from_secs(5), || async {
        (e.call(DEVICE_PURCHASED, "POST", sync, None).await.status == 204).then_some(())
    })
    .await;
    let v1 = e
        .call(
            DEVICE_PURCHASED,
            "POST",
            "/v1.0/deviceManagement/windowsAutopilotSettings/sync",
            None,
        )
        .await;
    assert_eq!(v1.status, 400, "graph-behaviour §7: beta only");
}

//! graph-behaviour §18 deployment profiles reaching devices (`deploymentProfileAssignmentStatus` over
//! emulated time), graph-behaviour §21 devices registered by a partner after a delay, and graph-behaviour §6/§21
//! `updateDeviceProperties` on them.

use std::time::Duration;

use graph_emulator::Timings;
use graph_emulator::demo::*;
use graph_emulator::fixture::{AutopilotDevice, EntraDevice, PartnerRegistration};
use serde_json::{Value, json};

use crate::helpers::{Emu, eventually, spawn, spawn_with};

const BETA_DEVICES: &str = "/beta/deviceManagement/windowsAutopilotDeviceIdentities";
const PROFILES: &str = "/beta/deviceManagement/windowsAutopilotDeploymentProfiles";
const FRESH: &str = "f1000000-0000-4000-8000-0000000000b1";
const FRESH_OBJECT: &str = "d2000000-0000-4000-8000-0000000000b1";

/// Speed 1000 and a 500 s (nominal) assignment delay: `pending` lasts half a second.
/// The tenant has one more registered device whose visible Entra device is in no group.
async fn tenant() -> Emu {
    spawn_with(|c| {
        c.speed = 1000.0;
        c.timings = Timings {
            profile_assignment_secs: 500.0,
            ..Timings::default()
        };
        let device: AutopilotDevice = serde_json::from_value(json!({
            "id": FRESH, "serialNumber": "PA0000001",
            "azureActiveDirectoryDeviceId": "d3000000-0000-4000-8000-0000000000b1",
        }))
        .unwrap();
        c.fixture.autopilot_devices.push(device);
        let entra: EntraDevice = serde_json::from_value(json!({
            "id": FRESH_OBJECT, "deviceId": "d3000000-0000-4000-8000-0000000000b1",
            "displayName": "PA0000001", "physicalIds": ["[ZTDID]:z-b1"],
        }))
        .unwrap();
        c.fixture.entra_devices.push(entra);
    })
    .await
}

async fn device(e: &Emu, id: &str) -> Value {
    let r = e
        .get(
            ONBOARDCTL,
            &format!("{BETA_DEVICES}/{id}?$expand=deploymentProfile,intendedDeploymentProfile"),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body
}

async fn admin_post(e: &Emu, path: &str, body: Value) -> (u16, Value) {
    let r = e
        .http
        .post(e.url(&format!("/_emulator/{path}")))
        .json(&body)
        .send()
        .await
        .expect("admin POST");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

async fn assigned_in_sync(e: &Emu, id: &str) -> Value {
    eventually("assignedInSync", Duration::from_secs(10), || async {
        let d = device(e, id).await;
        (d["deploymentProfileAssignmentStatus"] == "assignedInSync").then_some(d)
    })
    .await
}

#[tokio::test]
async fn s18_profile_status_goes_not_assigned_pending_assigned_in_sync_once_the_device_is_in_a_targeted_group()
 {
    let e = tenant().await;
    let d = device(&e, FRESH).await;
    assert_eq!(d["deploymentProfileAssignmentStatus"], "notAssigned");
    assert_eq!(
        (&d["deploymentProfile"], &d["intendedDeploymentProfile"]),
        (&Value::Null, &Value::Null)
    );
    assert_eq!(
        d["deploymentProfileAssignedDateTime"],
        "0001-01-01T00:00:00Z"
    );
    let add = e
        .call(
            DEVICE_PURCHASED,
            "POST",
            &format!("/v1.0/groups/{GROUP_AUTOPILOT_DEVICES}/members/$ref"),
            Some(json!({ "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{FRESH_OBJECT}") })),
        )
        .await;
    assert_eq!(add.status, 204);
    let d = device(&e, FRESH).await;
    assert_eq!(d["deploymentProfileAssignmentStatus"], "pending");
    assert_eq!(d["intendedDeploymentProfile"]["id"], DEPLOYMENT_PROFILE);
    assert_eq!(d["deploymentProfile"], Value::Null);
    let started = std::time::Instant::now();
    let d = assigned_in_sync(&e, FRESH).await;
    assert!(
        started.elapsed() >= Duration::from_millis(300),
        "about 500 emulated seconds at speed 1000, took {:?}",
        started.elapsed()
    );
    assert_eq!(d["deploymentProfile"]["id"], DEPLOYMENT_PROFILE);
    assert_eq!(
        d["deploymentProfile"]["@odata.type"],
        "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile"
    );
    assert_eq!(d["intendedDeploymentProfile"]["id"], DEPLOYMENT_PROFILE);
    assert_ne!(
        d["deploymentProfileAssignedDateTime"],
        "0001-01-01T00:00:00Z"
    );
    // v1.0 has no status at all (graph-behaviour §6).
    let v1 = e
        .get(
            ONBOARDCTL,
            &format!("/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/{FRESH}"),
        )
        .await;
    assert!(v1.body.get("deploymentProfileAssignmentStatus").is_none());
    // The demo device was assigned in the fixture already.
    assert_eq!(
        device(&e, AUTOPILOT_DEVICE).await["deploymentProfileAssignmentStatus"],
        "assignedInSync"
    );
}

#[tokio::test]
async fn s18_no_profile_targets_the_device_group_so_it_stays_not_assigned_until_one_is_assigned() {
    let e = tenant().await;
    // The device joins Engineering, which no profile targets.
    e.call(
        DEVICE_PURCHASED,
        "POST",
        &format!("/v1.0/groups/{GROUP_ENGINEERING}/members/$ref"),
        Some(json!({ "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{FRESH_OBJECT}") })),
    )
    .await;
    tokio::time::sleep(Duration::from_millis(1200)).await; // > 2 × the assignment delay
    assert_eq!(
        device(&e, FRESH).await["deploymentProfileAssignmentStatus"],
        "notAssigned"
    );
    // Now the admin assigns the profile to Engineering (admin API), and it arrives.
    let (status, body) = admin_post(
        &e,
        &format!("deployment-profiles/{DEPLOYMENT_PROFILE}/assignments"),
        json!({ "groupId": GROUP_ENGINEERING }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["target"]["groupId"], GROUP_ENGINEERING);
    assert_eq!(
        device(&e, FRESH).await["deploymentProfileAssignmentStatus"],
        "pending"
    );
    assigned_in_sync(&e, FRESH).await;
}

#[tokio::test]
async fn s18_a_profile_is_assigned_to_a_group_through_graph_and_listed_with_its_assignments() {
    let e = spawn().await;
    let path = format!("{PROFILES}/{DEPLOYMENT_PROFILE}/assignments");
    let body = json!({ "target": { "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": GROUP_SALES } });
    assert_eq!(
        e.call(ONBOARDCTL, "POST", &path, Some(body.clone()))
            .await
            .status,
        403,
        "read-only app"
    );
    let r = e.call(TENANT_ADMIN, "POST", &path, Some(body)).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(
        r.body["target"]["@odata.type"],
        "#microsoft.graph.groupAssignmentTarget"
    );
    assert_eq!(r.body["source"], "direct");
    let list = e.get(ONBOARDCTL, &path).await;
    let groups: Vec<&str> = list.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["target"]["groupId"].as_str().unwrap())
        .collect();
    assert_eq!(groups, [GROUP_AUTOPILOT_DEVICES, GROUP_SALES]);
    let p = e
        .get(ONBOARDCTL, &format!("{PROFILES}/{DEPLOYMENT_PROFILE}"))
        .await;
    assert_eq!(p.body["locale"], "os-default");
    assert_eq!(
        (
            p.body["outOfBoxExperienceSetting"]["deviceUsageType"].as_str(),
            p.body["outOfBoxExperienceSettings"]["deviceUsageType"].as_str()
        ),
        (Some("singleUser"), Some("singleUser")),
        "new and deprecated names both sent"
    );
    let bad = json!({ "target": { "@odata.type": "#microsoft.graph.groupAssignmentTarget", "groupId": "c1000000-0000-4000-8000-0000000000ff" } });
    assert_eq!(
        e.call(TENANT_ADMIN, "POST", &path, Some(bad)).await.status,
        400
    );
    assert_eq!(
        e.call(
            TENANT_ADMIN,
            "POST",
            &format!("/v1.0/deviceManagement/windowsAutopilotDeploymentProfiles/{DEPLOYMENT_PROFILE}/assignments"),
            Some(json!({}))
        )
        .await
        .status,
        400,
        "beta only"
    );
}

#[tokio::test]
async fn s21_a_partner_registered_device_appears_after_its_delay_then_its_entra_device() {
    // Speed 7200: the partner's 2 emulated hours last 1 s; the Entra device follows 120 s later.
    let e = spawn_with(|c| c.speed = 7200.0).await;
    let serial = "PR0000001";
    let list = format!("{BETA_DEVICES}?$filter=contains(serialNumber,'{serial}')");
    let (status, body) = admin_post(
        &e,
        "partner-registrations",
        json!({ "serialNumber": serial, "manufacturer": "Contoso Hardware", "model": "Surface Laptop 7", "groupTag": "", "afterSeconds": 7200 }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    let id = body["id"].as_str().unwrap().to_string();
    assert_eq!(
        e.get(DEVICE_PURCHASED, &list).await.body["value"],
        json!([])
    );
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(
        e.get(DEVICE_PURCHASED, &list).await.body["value"],
        json!([]),
        "not before its time"
    );
    let found = eventually(
        "the partner's registration",
        Duration::from_secs(10),
        || async {
            let r = e.get(DEVICE_PURCHASED, &list).await;
            r.body["value"].as_array().unwrap().first().cloned()
        },
    )
    .await;
    assert_eq!(found["id"], id.as_str());
    assert_eq!(
        (found["manufacturer"].as_str(), found["model"].as_str()),
        (Some("Contoso Hardware"), Some("Surface Laptop 7"))
    );
    assert_eq!(found["deploymentProfileAssignmentStatus"], "notAssigned");
    assert_eq!(
        e.get(
            DEVICE_PURCHASED,
            "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities"
        )
        .await
        .body["value"],
        json!([]),
        "no import record for a partner registration"
    );
    let aad = eventually("its Entra device", Duration::from_secs(10), || async {
        let d = e
            .get(
                DEVICE_PURCHASED,
                &format!("/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/{id}"),
            )
            .await;
        d.body["azureActiveDirectoryDeviceId"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    let entra = e
        .get(
            DEVICE_PURCHASED,
            &format!("/v1.0/devices?$filter=deviceId eq '{aad}'"),
        )
        .await;
    let ids = entra.body["value"][0]["physicalIds"].as_array().unwrap();
    assert!(
        ids.iter()
            .any(|p| p.as_str().unwrap().starts_with("[ZTDID]:"))
    );
    // Importing its hash later is "already assigned" (graph-behaviour §21, graph-behaviour §5).
    let import = e
        .call(
            DEVICE_PURCHASED,
            "POST",
            "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities",
            Some(json!({ "serialNumber": serial, "hardwareIdentifier": hardware_hash(serial) })),
        )
        .await;
    let rec = import.body["id"].as_str().unwrap().to_string();
    let state = eventually("the import to settle", Duration::from_secs(10), || async {
        let r = e
            .get(
                DEVICE_PURCHASED,
                &format!("/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/{rec}"),
            )
            .await;
        (r.body["state"]["deviceImportStatus"] != "unknown").then_some(r.body["state"].clone())
    })
    .await;
    assert_eq!(state["deviceErrorName"], "ZtdDeviceAlreadyAssigned");
}

#[tokio::test]
async fn s21_partner_registrations_in_the_fixture_count_from_load() {
    let e = spawn_with(|c| {
        c.speed = 7200.0;
        let r: PartnerRegistration = serde_json::from_value(json!({
            "serialNumber": "PR0000002", "groupTag": "Sales", "purchaseOrderIdentifier": "PO-2",
            "afterSeconds": 3600,
        }))
        .unwrap();
        c.fixture.partner_registrations.push(r);
    })
    .await;
    let list = format!("{BETA_DEVICES}?$filter=contains(serialNumber,'PR0000002')");
    let d = eventually(
        "the fixture's registration",
        Duration::from_secs(10),
        || async {
            let r = e.get(DEVICE_PURCHASED, &list).await;
            r.body["value"].as_array().unwrap().first().cloned()
        },
    )
    .await;
    assert_eq!(
        (
            d["groupTag"].as_str(),
            d["purchaseOrderIdentifier"].as_str()
        ),
        (Some("Sales"), Some("PO-2"))
    );
}

#[tokio::test]
async fn s21_update_device_properties_sets_the_group_tag_of_a_partner_device_before_its_entra_device_appears()
 {
    // Speed 1000: the Entra device follows 120 emulated seconds (0.12 s) after registration.
    let e = spawn_with(|c| {
        c.speed = 1000.0;
        c.timings = Timings {
            entra_device_secs: 1000.0,
            ..Timings::default()
        };
    })
    .await;
    let (_, body) = admin_post(
        &e,
        "partner-registrations",
        json!({ "serialNumber": "PR0000003", "afterSeconds": 0 }),
    )
    .await;
    let id = body["id"].as_str().unwrap().to_string();
    for version in ["beta", "v1.0"] {
        let r = e
            .call(
                DEVICE_PURCHASED,
                "POST",
                &format!("/{version}/deviceManagement/windowsAutopilotDeviceIdentities/{id}/updateDeviceProperties"),
                Some(json!({ "groupTag": "Sales" })),
            )
            .await;
        assert_eq!(r.status, 204, "{version}: {}", r.body);
        assert_eq!(r.body, Value::Null);
    }
    let d = device(&e, &id).await;
    assert_eq!(d["groupTag"], "Sales");
    assert_eq!(d["displayName"], "", "only the sent keys change");
    assert_eq!(
        d["deploymentProfileAssignmentStatus"], "notAssigned",
        "updateDeviceProperties does not assign a profile"
    );
    let aad = eventually("its Entra device", Duration::from_secs(10), || async {
        device(&e, &id).await["azureActiveDirectoryDeviceId"]
            .as_str()
            .map(str::to_string)
    })
    .await;
    let entra = e
        .get(
            DEVICE_PURCHASED,
            &format!("/v1.0/devices(deviceId='{aad}')"),
        )
        .await;
    assert!(
        entra.body["physicalIds"]
            .as_array()
            .unwrap()
            .contains(&json!("[OrderID]:Sales")),
        "{}",
        entra.body
    );
    let missing = e
        .call(
            DEVICE_PURCHASED,
            "POST",
            &format!("{BETA_DEVICES}/f1000000-0000-4000-8000-0000000000ff/updateDeviceProperties"),
            Some(json!({ "groupTag": "Sales" })),
        )
        .await;
    assert_eq!(missing.status, 404);
    assert_eq!(
        e.call(
            ONBOARDCTL,
            "POST",
            &format!("{BETA_DEVICES}/{id}/updateDeviceProperties"),
            Some(json!({ "groupTag": "X" }))
        )
        .await
        .status,
        403
    );
}

use graph_emulator::demo::{
    DEPLOYMENT_PROFILE, DEVICE_PURCHASED, ESP, GROUP_AUTOPILOT_DEVICES, MDM_POLICY, ONBOARDCTL,
    TENANT_ADMIN,
};
use serde_json::{Value, json};

use crate::helpers::spawn;

const CORP: &str = "/beta/deviceManagement/importedDeviceIdentities";

fn identity(id: &str) -> Value {
    json!({ "importedDeviceIdentifier": id, "importedDeviceIdentityType": "manufacturerModelSerial" })
}

#[tokio::test]
async fn s9_corporate_identifiers_import_search_list_and_delete() {
    let e = spawn().await;
    let body = json!({ "importedDeviceIdentities": [identity("Lenovo,thinkpad t14,02234567890123")], "overwriteImportedDeviceIdentities": false });
    let r = e
        .call(
            DEVICE_PURCHASED,
            "POST",
            &format!("{CORP}/importDeviceIdentityList"),
            Some(body.clone()),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"][0]["status"], true);
    let again = e
        .call(
            DEVICE_PURCHASED,
            "POST",
            &format!("{CORP}/importDeviceIdentityList"),
            Some(body),
        )
        .await;
    assert_eq!(
        again.body["value"][0]["status"], false,
        "already present and not overwriting"
    );
    let search =
        json!({ "importedDeviceIdentities": [identity("Lenovo,thinkpad t14,02234567890123")] });
    let found = e
        .call(
            ONBOARDCTL,
            "POST",
            &format!("{CORP}/searchExistingIdentities"),
            Some(search),
        )
        .await;
    assert_eq!(found.body["value"].as_array().unwrap().len(), 1);
    let absent = e
        .call(
            ONBOARDCTL,
            "POST",
            &format!("{CORP}/searchExistingIdentities"),
            Some(json!({ "importedDeviceIdentities": [identity("HP,elitebook,123")] })),
        )
        .await;
    assert_eq!(absent.body["value"], json!([]));
    let list = e.get(ONBOARDCTL, CORP).await;
    let id = list.body["value"][0]["id"].as_str().unwrap().to_string();
    assert_eq!(
        e.call(DEVICE_PURCHASED, "DELETE", &format!("{CORP}/{id}"), None)
            .await
            .status,
        204
    );
    assert_eq!(e.get(ONBOARDCTL, CORP).await.body["value"], json!([]));
    assert_eq!(
        e.get(
            ONBOARDCTL,
            "/v1.0/deviceManagement/importedDeviceIdentities"
        )
        .await
        .status,
        400,
        "beta only"
    );
}

#[tokio::test]
async fn s9_a_malformed_identifier_fails_the_whole_import_with_intunes_400() {
    let e = spawn().await;
    let body = json!({ "importedDeviceIdentities": [identity("Lenovo,t14,1.2.3"), identity("only-serial")], "overwriteImportedDeviceIdentities": false });
    let r = e
        .call(
            DEVICE_PURCHASED,
            "POST",
            &format!("{CORP}/importDeviceIdentityList"),
            Some(body),
        )
        .await;
    assert_eq!((r.status, r.code()), (400, "BadRequest"));
    let inner: Value = serde_json::from_str(r.message()).expect("JSON inside the message string");
    assert!(
        inner["Message"]
            .as_str()
            .unwrap()
            .starts_with("Invalid Device Identifier parameter found for 2 import records!")
    );
}

#[tokio::test]
async fn s10_deployment_profiles_and_esp_are_readable_with_assignments() {
    let e = spawn().await;
    let profiles = e
        .get(
            ONBOARDCTL,
            "/beta/deviceManagement/windowsAutopilotDeploymentProfiles",
        )
        .await;
    assert_eq!(profiles.body["value"][0]["id"], DEPLOYMENT_PROFILE);
    let a = e.get(ONBOARDCTL, &format!("/beta/deviceManagement/windowsAutopilotDeploymentProfiles/{DEPLOYMENT_PROFILE}/assignments")).await;
    assert_eq!(
        a.body["value"][0]["target"]["@odata.type"],
        "#microsoft.graph.groupAssignmentTarget"
    );
    assert_eq!(
        a.body["value"][0]["target"]["groupId"],
        GROUP_AUTOPILOT_DEVICES
    );
    let esps = e
        .get(
            ONBOARDCTL,
            "/beta/deviceManagement/deviceEnrollmentConfigurations",
        )
        .await;
    let list = esps.body["value"].as_array().unwrap();
    assert!(
        list.iter().all(|c| c["@odata.type"]
            == "#microsoft.graph.windows10EnrollmentCompletionPageConfiguration")
    );
    assert!(list.iter().any(|c| c["id"] == ESP
        && c["deviceEnrollmentConfigurationType"]
            == "windows10EnrollmentCompletionPageConfiguration"));
    let esp_a = e
        .get(
            ONBOARDCTL,
            &format!("/v1.0/deviceManagement/deviceEnrollmentConfigurations/{ESP}/assignments"),
        )
        .await;
    assert_eq!(
        esp_a.body["value"][0]["target"]["groupId"],
        GROUP_AUTOPILOT_DEVICES
    );
}

#[tokio::test]
async fn s10_the_mdm_policy_is_403_for_every_application_token() {
    let e = spawn().await;
    for path in [
        "/beta/policies/mobileDeviceManagementPolicies".to_string(),
        format!(
            "/beta/policies/mobileDeviceManagementPolicies/{MDM_POLICY}?$expand=includedGroups"
        ),
    ] {
        let r = e.get(TENANT_ADMIN, &path).await;
        assert_eq!(
            (r.status, r.code()),
            (403, "Authorization_RequestDenied"),
            "{path}"
        );
    }
}

//! graph-behaviour §20: Autopilot device preparation policies, their user-group assignments, the
//! enrollment-time device group and its validation, group owners (the v1.0 `/owners` quirk),
//! the Intune Provisioning Client service principal, and enrollment joining the device group.

use graph_emulator::demo::*;
use serde_json::{Value, json};

use crate::helpers::{Emu, spawn, spawn_with};

const POLICIES: &str = "/beta/deviceManagement/configurationPolicies";

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

async fn admin_send(e: &Emu, method: reqwest::Method, path: &str, body: Option<Value>) -> u16 {
    let mut req = e.http.request(method, e.url(&format!("/_emulator/{path}")));
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.expect("admin call").status().as_u16()
}

async fn retrieve(e: &Emu) -> Value {
    let r = e
        .call(
            TENANT_ADMIN,
            "POST",
            &format!("{POLICIES}/{DP_POLICY}/retrieveEnrollmentTimeDeviceMembershipTarget"),
            None,
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    r.body["value"].clone()
}

#[tokio::test]
async fn s20_device_preparation_policies_are_found_by_technologies_and_read_with_assignments() {
    let e = spawn().await;
    let all = e.get(TENANT_ADMIN, POLICIES).await;
    assert_eq!(
        all.body["value"].as_array().unwrap().len(),
        2,
        "{}",
        all.body
    );
    let found = e
        .get(
            TENANT_ADMIN,
            &format!("{POLICIES}?$filter=technologies has 'enrollment'&$expand=assignments"),
        )
        .await;
    let list = found.body["value"].as_array().unwrap();
    assert_eq!(list.len(), 1, "the mdm settings policy is left out");
    let p = &list[0];
    assert_eq!(p["id"], DP_POLICY);
    assert_eq!(
        (p["platforms"].as_str(), p["technologies"].as_str()),
        (Some("windows10"), Some("enrollment"))
    );
    assert_eq!(
        p["templateReference"]["templateId"],
        DP_TEMPLATE_USER_DRIVEN
    );
    assert_eq!(
        p["templateReference"]["templateFamily"],
        "enrollmentConfiguration"
    );
    assert_eq!(p["assignments"][0]["target"]["groupId"], GROUP_DP_USERS);
    // The longer filter found in public code (graph-behaviour §20) also works.
    let long = format!(
        "{POLICIES}?$filter=(technologies has 'enrollment') and (platforms eq 'windows10') and (TemplateReference/templateId eq '{DP_TEMPLATE_USER_DRIVEN}') and (Templatereference/templateFamily eq 'enrollmentConfiguration')"
    );
    assert_eq!(
        e.get(TENANT_ADMIN, &long).await.body["value"][0]["id"],
        DP_POLICY
    );
    let a = e
        .get(TENANT_ADMIN, &format!("{POLICIES}/{DP_POLICY}/assignments"))
        .await;
    assert_eq!(
        a.body["value"][0]["target"]["@odata.type"],
        "#microsoft.graph.groupAssignmentTarget"
    );
    assert_eq!(a.body["value"][0]["target"]["groupId"], GROUP_DP_USERS);
    // Admin API: a second user group.
    let (status, _) = admin_post(
        &e,
        &format!("configuration-policies/{DP_POLICY}/assignments"),
        json!({ "groupId": GROUP_SALES }),
    )
    .await;
    assert_eq!(status, 201);
    let a = e
        .get(TENANT_ADMIN, &format!("{POLICIES}/{DP_POLICY}/assignments"))
        .await;
    assert_eq!(a.body["value"].as_array().unwrap().len(), 2);
    // Beta only; DeviceManagementConfiguration.Read.All needed.
    assert_eq!(
        e.get(TENANT_ADMIN, "/v1.0/deviceManagement/configurationPolicies")
            .await
            .status,
        400
    );
    assert_eq!(e.get(ONBOARDCTL, POLICIES).await.status, 403);
}

#[tokio::test]
async fn s20_the_device_group_target_validates_type_membership_and_owner() {
    let e = spawn().await;
    let ok = retrieve(&e).await;
    assert_eq!(
        ok["@odata.type"],
        "microsoft.graph.enrollmentTimeDeviceMembershipTargetResult"
    );
    assert_eq!(ok["validationSucceeded"], true);
    let s = &ok["enrollmentTimeDeviceMembershipTargetValidationStatuses"][0];
    assert_eq!(
        (
            s["targetId"].as_str(),
            s["validationSucceeded"].as_bool(),
            s["targetValidationErrorCode"].as_str()
        ),
        (Some(GROUP_DP_DEVICES), Some(true), Some("unknown"))
    );
    let targets =
        format!("configuration-policies/{DP_POLICY}/enrollment-time-device-membership-targets");
    for (group, code) in [
        (GROUP_DYNAMIC, "notStaticSecurityGroup"),
        (GROUP_M365, "notSecurityGroup"),
        (
            "c1000000-0000-4000-8000-0000000000ff",
            "securityGroupNotFound",
        ),
        (GROUP_ENGINEERING, "firstPartyAppNotAnOwner"),
    ] {
        let put = admin_send(
            &e,
            reqwest::Method::PUT,
            &targets,
            Some(json!({ "groupIds": [group] })),
        )
        .await;
        assert_eq!(put, 204);
        let r = retrieve(&e).await;
        assert_eq!(r["validationSucceeded"], false, "{group}");
        let s = &r["enrollmentTimeDeviceMembershipTargetValidationStatuses"][0];
        assert_eq!(
            (
                s["validationSucceeded"].as_bool(),
                s["targetValidationErrorCode"].as_str()
            ),
            (Some(false), Some(code)),
            "{group}"
        );
    }
    // Back to the owned group, then take the owner away.
    admin_send(
        &e,
        reqwest::Method::PUT,
        &targets,
        Some(json!({ "groupIds": [GROUP_DP_DEVICES] })),
    )
    .await;
    let removed = admin_send(
        &e,
        reqwest::Method::DELETE,
        &format!("groups/{GROUP_DP_DEVICES}/owners/{INTUNE_PROVISIONING_CLIENT_SP}"),
        None,
    )
    .await;
    assert_eq!(removed, 204);
    let r = retrieve(&e).await;
    assert_eq!(
        r["enrollmentTimeDeviceMembershipTargetValidationStatuses"][0]["targetValidationErrorCode"],
        "firstPartyAppNotAnOwner"
    );
    // A policy that is not a device preparation policy has no such target.
    let other = e
        .call(
            TENANT_ADMIN,
            "POST",
            &format!("{POLICIES}/{SETTINGS_POLICY}/retrieveEnrollmentTimeDeviceMembershipTarget"),
            None,
        )
        .await;
    assert_eq!(other.status, 400);
}

#[tokio::test]
async fn s20_setting_the_device_group_is_a_500_for_an_application_token_and_works_delegated() {
    let e = spawn_with(|c| {
        let cli = c
            .fixture
            .apps
            .iter_mut()
            .find(|a| a.client_id == AZURE_CLI)
            .unwrap();
        cli.delegated_permissions
            .push("DeviceManagementConfiguration.ReadWrite.All".into());
        let group: graph_emulator::fixture::Group = serde_json::from_value(json!({
            "id": "c1000000-0000-4000-8000-0000000000a7", "displayName": "Second DP devices",
            "owners": [INTUNE_PROVISIONING_CLIENT_SP],
        }))
        .unwrap();
        c.fixture.groups.push(group);
    })
    .await;
    let body = json!({ "enrollmentTimeDeviceMembershipTargets": [
        { "targetType": "staticSecurityGroup", "targetId": "c1000000-0000-4000-8000-0000000000a7" }
    ]});
    let path = format!("{POLICIES}/{DP_POLICY}/setEnrollmentTimeDeviceMembershipTarget");
    let app = e
        .call(TENANT_ADMIN, "POST", &path, Some(body.clone()))
        .await;
    assert_eq!(app.status, 500, "{}", app.body);
    let form = [
        ("grant_type", "password"),
        ("client_id", AZURE_CLI),
        ("username", UPN_ADMIN),
        ("password", ADMIN_PASSWORD),
        ("scope", "https://graph.microsoft.com/.default"),
    ];
    let (status, token) = e.token_request(TENANT_ID, &form).await;
    assert_eq!(status, 200, "{token}");
    let token = token["access_token"].as_str().unwrap();
    let r = e
        .call_with_token(Some(token), "POST", &path, Some(body), &[])
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"]["validationSucceeded"], true);
    let now = retrieve(&e).await;
    assert_eq!(
        now["enrollmentTimeDeviceMembershipTargetValidationStatuses"][0]["targetId"],
        "c1000000-0000-4000-8000-0000000000a7"
    );
}

#[tokio::test]
async fn s20_group_owners_hide_service_principals_on_v1_owners_only() {
    let e = spawn().await;
    admin_post(
        &e,
        &format!("groups/{GROUP_DP_DEVICES}/owners"),
        json!({ "id": USER_ADMIN }),
    )
    .await;
    let beta = e
        .get(
            TENANT_ADMIN,
            &format!("/beta/groups/{GROUP_DP_DEVICES}/owners?$select=id,appId,displayName"),
        )
        .await;
    assert_eq!(beta.status, 200, "{}", beta.body);
    let owners = beta.body["value"].as_array().unwrap();
    assert_eq!(owners.len(), 2);
    let sp = owners
        .iter()
        .find(|o| o["@odata.type"] == "#microsoft.graph.servicePrincipal")
        .expect("the service principal on beta");
    assert_eq!(sp["appId"], INTUNE_PROVISIONING_CLIENT_APP_ID);
    assert!(sp.get("servicePrincipalType").is_none(), "$select applies");
    let v1 = e
        .get(
            TENANT_ADMIN,
            &format!("/v1.0/groups/{GROUP_DP_DEVICES}/owners"),
        )
        .await;
    let v1_owners = v1.body["value"].as_array().unwrap();
    assert_eq!(v1_owners.len(), 1, "v1.0 leaves service principals out");
    assert_eq!(v1_owners[0]["@odata.type"], "#microsoft.graph.user");
    let expanded = e
        .get(
            TENANT_ADMIN,
            &format!("/v1.0/groups/{GROUP_DP_DEVICES}?$expand=owners"),
        )
        .await;
    assert!(
        expanded.body["owners"]
            .as_array()
            .unwrap()
            .iter()
            .any(|o| o["appId"] == INTUNE_PROVISIONING_CLIENT_APP_ID),
        "v1.0 $expand=owners shows them: {}",
        expanded.body
    );
    // Assigned vs dynamic, as a preflight reads it.
    let g = e
        .get(TENANT_ADMIN, &format!("/v1.0/groups/{GROUP_DP_DEVICES}"))
        .await;
    assert_eq!(g.body["groupTypes"], json!([]));
    let d = e
        .get(TENANT_ADMIN, &format!("/v1.0/groups/{GROUP_DYNAMIC}"))
        .await;
    assert_eq!(d.body["groupTypes"], json!(["DynamicMembership"]));
    assert_eq!(
        e.get(
            ONBOARDCTL,
            &format!("/beta/groups/{GROUP_DP_DEVICES}/owners")
        )
        .await
        .status,
        200,
        "GroupMember.Read.All suffices"
    );
}

#[tokio::test]
async fn s20_the_intune_provisioning_client_is_found_by_app_id_and_can_be_missing() {
    let e = spawn().await;
    let by_filter = e
        .get(
            TENANT_ADMIN,
            &format!(
                "/v1.0/servicePrincipals?$filter=appId eq '{INTUNE_PROVISIONING_CLIENT_APP_ID}'"
            ),
        )
        .await;
    assert_eq!(by_filter.status, 200, "{}", by_filter.body);
    let sp = &by_filter.body["value"][0];
    assert_eq!(
        (sp["id"].as_str(), sp["displayName"].as_str()),
        (
            Some(INTUNE_PROVISIONING_CLIENT_SP),
            Some("Intune Provisioning Client")
        )
    );
    let by_key = format!("/v1.0/servicePrincipals(appId='{INTUNE_PROVISIONING_CLIENT_APP_ID}')");
    assert_eq!(e.get(TENANT_ADMIN, &by_key).await.status, 200);
    assert_eq!(
        e.get(ONBOARDCTL, &by_key).await.status,
        403,
        "Application.Read.All needed"
    );
    let gone = admin_send(
        &e,
        reqwest::Method::DELETE,
        &format!("service-principals/{INTUNE_PROVISIONING_CLIENT_APP_ID}"),
        None,
    )
    .await;
    assert_eq!(gone, 204);
    assert_eq!(e.get(TENANT_ADMIN, &by_key).await.status, 404);
    assert_eq!(
        e.get(
            TENANT_ADMIN,
            &format!(
                "/v1.0/servicePrincipals?$filter=appId eq '{INTUNE_PROVISIONING_CLIENT_APP_ID}'"
            )
        )
        .await
        .body["value"],
        json!([])
    );
    // Without the service principal the group's owner check fails too.
    assert_eq!(
        retrieve(&e).await["enrollmentTimeDeviceMembershipTargetValidationStatuses"][0]["targetValidationErrorCode"],
        "firstPartyAppNotAnOwner"
    );
}

#[tokio::test]
async fn s20_an_enrolling_device_joins_the_device_group_unless_classic_autopilot_wins() {
    let e = spawn().await;
    let (status, body) = admin_post(
        &e,
        "enrollments",
        json!({ "serialNumber": "DP0000001", "userPrincipalName": UPN_GRACE }),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["flow"], "devicePreparation");
    assert_eq!(body["policyId"], DP_POLICY);
    let object = body["entraDeviceObjectId"].as_str().unwrap();
    let members = e
        .get(
            DEVICE_PURCHASED,
            &format!("/v1.0/groups/{GROUP_DP_DEVICES}/members"),
        )
        .await;
    assert_eq!(members.body["value"][0]["id"], object);
    assert_eq!(
        e.emu.writes_to("/groups/{id}/members/$ref"),
        0,
        "Intune adds it, not a client"
    );
    // The serial of a classic Autopilot device: its profile wins, no device-group membership.
    let (status, body) = admin_post(
        &e,
        "enrollments",
        json!({ "serialNumber": AUTOPILOT_SERIAL, "userPrincipalName": UPN_GRACE }),
    )
    .await;
    assert_eq!((status, body["flow"].as_str()), (200, Some("autopilot")));
    // A user in no policy's user group: nothing applies.
    let (status, body) = admin_post(
        &e,
        "enrollments",
        json!({ "serialNumber": "DP0000002", "userPrincipalName": UPN_ADA }),
    )
    .await;
    assert_eq!(status, 409, "{body}");
}

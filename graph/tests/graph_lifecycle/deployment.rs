use graph::{
    AutopilotDeviceId, DeploymentOutcome, DeploymentPhase, DeviceProperties, GraphError, GroupId,
    ProfileAssignmentStatus,
};
use shared::error::Classify;
use shared::ids::SerialNumber;

use super::server::{Answer, Recorded, TestServer};
use super::{client, graph_error, json_body, shadow_client};

fn device(json: serde_json::Value) -> String {
    let mut d = serde_json::json!({ "id": "ztd-1", "serialNumber": "AB12" });
    d.as_object_mut()
        .unwrap()
        .extend(json.as_object().unwrap().clone());
    d.to_string()
}

#[tokio::test]
async fn the_assignment_is_read_on_beta_with_both_profiles_expanded() {
    let server = TestServer::start(|_, _| {
        Answer(200, vec![], device(serde_json::json!({
            "deploymentProfileAssignmentStatus": "assignedInSync",
            "deploymentProfileAssignmentDetailedStatus": "none",
            "deploymentProfileAssignedDateTime": "2026-05-01T10:00:00Z",
            "deploymentProfile": { "@odata.type": "#microsoft.graph.azureADWindowsAutopilotDeploymentProfile", "id": "prof-1", "displayName": "User-driven Entra join" },
            "intendedDeploymentProfile": { "id": "prof-1", "displayName": "User-driven Entra join" }
        })))
    })
    .await;
    let got = client(&server)
        .profile_assignment(&AutopilotDeviceId::new("ztd-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        server.graph_requests()[0].target,
        "/beta/deviceManagement/windowsAutopilotDeviceIdentities/ztd-1?$expand=deploymentProfile%2CintendedDeploymentProfile"
    );
    let ready = got.ready_profile().expect("assignedInSync with a profile");
    assert_eq!(
        (ready.id.as_str(), ready.display_name.as_deref()),
        ("prof-1", Some("User-driven Entra join"))
    );
    assert!(got.assigned_at.is_some());
}

#[tokio::test]
async fn statuses_short_of_in_sync_are_not_ready_and_graphs_misspelling_is_read() {
    for (raw, assigned) in [
        ("assignedUnkownSyncState", true),
        ("notAssigned", false),
        ("pending", false),
        ("failed", false),
    ] {
        let server = TestServer::start(move |_, _| {
            Answer(
                200,
                vec![],
                device(serde_json::json!({
                "deploymentProfileAssignmentStatus": raw, "deploymentProfile": null })),
            )
        })
        .await;
        let got = client(&server)
            .profile_assignment(&AutopilotDeviceId::new("ztd-1"))
            .await
            .unwrap()
            .unwrap();
        let status = got.status.clone().unwrap();
        assert!(
            !matches!(status, ProfileAssignmentStatus::Other(_)),
            "{raw}"
        );
        assert_eq!(status.is_assigned(), assigned, "{raw}");
        assert!(got.ready_profile().is_none(), "{raw}");
    }
}

#[tokio::test]
async fn a_refused_expand_falls_back_to_the_status_alone_and_404_is_none() {
    let server = TestServer::start(|r: &Recorded, _| match r.target.contains("$expand") {
        true => Answer(
            400,
            vec![],
            graph_error(
                "BadRequest",
                "Could not find a property named 'deploymentProfile'",
            ),
        ),
        false if r.path().ends_with("/gone") => {
            Answer(404, vec![], graph_error("ResourceNotFound", "x"))
        }
        false => Answer(
            200,
            vec![],
            device(serde_json::json!({"deploymentProfileAssignmentStatus": "pending"})),
        ),
    })
    .await;
    let c = client(&server);
    let got = c
        .profile_assignment(&AutopilotDeviceId::new("ztd-1"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(got.status, Some(ProfileAssignmentStatus::Pending));
    assert_eq!(got.profile, None);
    assert_eq!(
        c.profile_assignment(&AutopilotDeviceId::new("gone")).await,
        Ok(None)
    );
}

#[tokio::test]
async fn deployment_profiles_come_with_their_group_assignments() {
    let server = TestServer::start(|r: &Recorded, _| {
        if r.path().ends_with("/assignments") {
            Answer(200, vec![], r##"{"value":[{"id":"a1","source":"direct","sourceId":"s","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g-dev","deviceAndAppManagementAssignmentFilterId":null,"deviceAndAppManagementAssignmentFilterType":"none"}}]}"##.into())
        } else {
            Answer(200, vec![], r##"{"value":[{"@odata.type":"#microsoft.graph.azureADWindowsAutopilotDeploymentProfile","id":"prof-1","displayName":"User-driven"}]}"##.into())
        }
    })
    .await;
    let profiles = client(&server).deployment_profiles().await.unwrap();
    let paths: Vec<String> = server
        .graph_requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(
        paths,
        vec![
            "/beta/deviceManagement/windowsAutopilotDeploymentProfiles",
            "/beta/deviceManagement/windowsAutopilotDeploymentProfiles/prof-1/assignments"
        ]
    );
    assert_eq!(
        profiles[0].assignments[0].group,
        Some(GroupId::new("g-dev"))
    );
}

/// Graph's documented sample event (GD list page), with our serial, plus variations.
fn event(id: &str, serial: &str, at: &str, state: &str) -> serde_json::Value {
    serde_json::json!({
        "@odata.type": "#microsoft.graph.deviceManagementAutopilotEvent", "id": id,
        "eventDateTime": at, "deviceRegisteredDateTime": "2016-12-31T23:59:37.257201-08:00",
        "enrollmentStartDateTime": "2016-12-31T23:57:17.6584533-08:00",
        "enrollmentType": "azureADJoinedWithAutopilotProfile", "deviceSerialNumber": serial,
        "managedDeviceName": "DESKTOP-1", "userPrincipalName": "ada@contoso.com",
        "windowsAutopilotDeploymentProfileDisplayName": "User-driven",
        "enrollmentState": "enrolled", "windows10EnrollmentCompletionPageConfigurationDisplayName": "ESP",
        "deploymentState": state, "deviceSetupStatus": "success", "accountSetupStatus": state,
        "osVersion": "10.0.22631", "deploymentDuration": "PT3M21.5549443S",
        "deploymentTotalDuration": "PT1M43.5284261S", "deviceSetupDuration": "-PT2M57.2190107S",
        "accountSetupDuration": "-PT2M32.0507894S", "deploymentStartDateTime": "2016-12-31T23:58:32.2107213-08:00",
        "deploymentEndDateTime": "2017-01-01T00:01:43.4780265-08:00",
        "enrollmentFailureDetails": if state == "failure" { "App install failed: 0x87D1041C" } else { "" }
    })
}

fn serial(s: &str) -> SerialNumber {
    s.parse().unwrap()
}

#[tokio::test]
async fn events_are_filtered_by_serial_rechecked_and_latest_first() {
    let server = TestServer::start(|_, _| {
        // The filter may be ignored: another serial's event comes back too.
        let value = vec![
            event("e-old", "VMware-56 4d/1", "2026-05-01T08:00:00Z", "failure"),
            event("e-other", "XYZ", "2026-05-03T08:00:00Z", "success"),
            event(
                "e-new",
                "vmware-56 4D/1",
                "2026-05-02T09:00:00.1234567+02:00",
                "success",
            ),
        ];
        Answer(
            200,
            vec![],
            serde_json::json!({ "value": value }).to_string(),
        )
    })
    .await;
    let events = client(&server)
        .autopilot_events_for_serial(&serial("VMware-56 4d/1"))
        .await
        .unwrap();
    assert_eq!(
        server.graph_requests()[0].target,
        "/beta/deviceManagement/autopilotEvents?$filter=deviceSerialNumber%20eq%20%27VMware-56%204d%2F1%27"
    );
    let ids: Vec<&str> = events.iter().map(|e| e.id.as_str()).collect();
    assert_eq!(ids, vec!["e-new", "e-old"]);
    assert_eq!(events[0].outcome(), DeploymentOutcome::Deployed);
    let failed = &events[1];
    assert_eq!(failed.outcome(), DeploymentOutcome::Failed);
    assert_eq!(failed.failing_phase(), Some(DeploymentPhase::AccountSetup));
    assert_eq!(
        failed.failure_details(),
        Some("App install failed: 0x87D1041C")
    );
    let d = failed.durations();
    assert_eq!(d.deployment, Some(time::Duration::new(201, 554_944_300)));
    assert!(
        d.device_setup.unwrap().is_negative(),
        "Graph's sample has negative durations"
    );
}

#[tokio::test]
async fn a_refused_serial_filter_lists_every_event_instead() {
    let server = TestServer::start(|r: &Recorded, _| {
        if r.target.contains("filter") {
            Answer(
                400,
                vec![],
                graph_error("BadRequest", "Invalid filter clause"),
            )
        } else {
            let value = vec![event("e1", "AB12", "2026-05-01T08:00:00Z", "inProgress")];
            Answer(
                200,
                vec![],
                serde_json::json!({ "value": value }).to_string(),
            )
        }
    })
    .await;
    let events = client(&server)
        .autopilot_events_for_serial(&serial("AB12"))
        .await
        .unwrap();
    assert_eq!(events[0].outcome(), DeploymentOutcome::NotFinished);
    assert_eq!(
        server.graph_requests()[1].target,
        "/beta/deviceManagement/autopilotEvents"
    );
}

#[tokio::test]
async fn unreadable_events_name_the_managed_devices_permission() {
    let server = TestServer::start(|_, _| {
        Answer(
            403,
            vec![],
            graph_error("Forbidden", "Application is not authorized"),
        )
    })
    .await;
    let err = client(&server)
        .autopilot_events_for_serial(&serial("AB12"))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("DeviceManagementManagedDevices.Read.All"),
        "{err}"
    );
    assert!(!err.class().is_transient());
}

#[tokio::test]
async fn a_group_tag_is_set_with_only_that_field_and_shadow_mode_sends_nothing() {
    let server = TestServer::start(|_, n| match n {
        0 => Answer(204, vec![], String::new()),
        _ => Answer(
            404,
            vec![],
            graph_error("ResourceNotFound", "no such device"),
        ),
    })
    .await;
    let props = DeviceProperties {
        group_tag: Some("Sales".into()),
        ..Default::default()
    };
    let c = client(&server);
    c.update_device_properties(&AutopilotDeviceId::new("ztd-1"), &props)
        .await
        .unwrap();
    let sent = &server.graph_requests()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.target,
        "/v1.0/deviceManagement/windowsAutopilotDeviceIdentities/ztd-1/updateDeviceProperties"
    );
    assert_eq!(json_body(sent), serde_json::json!({ "groupTag": "Sales" }));
    let gone = c
        .update_device_properties(&AutopilotDeviceId::new("ztd-1"), &props)
        .await
        .unwrap_err();
    assert!(matches!(gone, GraphError::NotFound { .. }) && !gone.class().is_transient());

    let quiet = TestServer::start(|_, _| Answer(500, vec![], String::new())).await;
    shadow_client(&quiet)
        .update_device_properties(&AutopilotDeviceId::new("ztd-1"), &props)
        .await
        .unwrap();
    assert!(quiet.graph_requests().is_empty());
}

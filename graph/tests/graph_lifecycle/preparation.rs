use graph::{
    GraphError, GroupId, GroupMembership, INTUNE_PROVISIONING_CLIENT_APP_ID, PreparationKind,
};
use shared::error::Classify;

use super::client;
use super::graph_error;
use super::server::{Answer, Recorded, TestServer};

const POLICIES: &str = r#"{"value":[
 {"id":"dp-1","name":"Device preparation - user driven","platforms":"windows10","technologies":"enrollment",
  "templateReference":{"templateId":"80d33118-b7b4-40d8-b15f-81be745e053f_1","templateFamily":"enrollmentConfiguration"}},
 {"id":"other","name":"Enrollment notifications","technologies":"enrollment",
  "templateReference":{"templateId":"","templateFamily":"none"}}]}"#;

#[tokio::test]
async fn policies_are_filtered_on_technologies_and_checked_by_template() {
    let server = TestServer::start(|_, _| Answer(200, vec![], POLICIES.into())).await;
    let policies = client(&server).device_preparation_policies().await.unwrap();
    assert_eq!(
        server.graph_requests()[0].target,
        "/beta/deviceManagement/configurationPolicies?$filter=technologies%20has%20%27enrollment%27"
    );
    assert_eq!(policies.len(), 1);
    assert_eq!(policies[0].id, "dp-1");
    assert_eq!(policies[0].kind, PreparationKind::UserDriven);
}

#[tokio::test]
async fn a_refused_policy_filter_lists_every_policy_instead() {
    let server = TestServer::start(|r: &Recorded, _| {
        if r.target.contains("filter") {
            Answer(400, vec![], graph_error("BadRequest", "Invalid filter"))
        } else {
            Answer(200, vec![], POLICIES.into())
        }
    })
    .await;
    let policies = client(&server).device_preparation_policies().await.unwrap();
    assert_eq!(policies.len(), 1);
    assert_eq!(
        server.graph_requests()[1].target,
        "/beta/deviceManagement/configurationPolicies"
    );
}

#[tokio::test]
async fn a_policy_assignment_names_its_user_group() {
    let server = TestServer::start(|_, _| {
        Answer(200, vec![], r##"{"value":[{"id":"dp-1_g-users","source":"direct","target":{"@odata.type":"#microsoft.graph.groupAssignmentTarget","groupId":"g-users"}}]}"##.into())
    })
    .await;
    let assignments = client(&server)
        .device_preparation_policy_assignments("dp-1")
        .await
        .unwrap();
    assert_eq!(
        server.graph_requests()[0].target,
        "/beta/deviceManagement/configurationPolicies/dp-1/assignments"
    );
    assert_eq!(assignments[0].group, Some(GroupId::new("g-users")));
}

#[tokio::test]
async fn the_device_group_is_retrieved_by_an_empty_post_in_either_answer_shape() {
    let wrapped = r#"{"value":{"@odata.type":"microsoft.graph.enrollmentTimeDeviceMembershipTargetResult","validationSucceeded":false,
        "enrollmentTimeDeviceMembershipTargetValidationStatuses":[{"targetId":"g-dev","validationSucceeded":false,"targetValidationErrorCode":"firstPartyAppNotAnOwner"}]}}"#;
    let bare = r#"{"validationSucceeded":true,"enrollmentTimeDeviceMembershipTargetValidationStatuses":[{"targetId":"g-dev","validationSucceeded":true,"targetValidationErrorCode":"unknown"}]}"#;
    let server = TestServer::start(move |_, n| {
        Answer(200, vec![], if n == 0 { wrapped } else { bare }.into())
    })
    .await;
    let c = client(&server);

    let refused = c.device_preparation_device_group("dp-1").await.unwrap();
    let fine = c.device_preparation_device_group("dp-1").await.unwrap();

    let sent = &server.graph_requests()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.target,
        "/beta/deviceManagement/configurationPolicies/dp-1/retrieveEnrollmentTimeDeviceMembershipTarget"
    );
    assert!(sent.body.is_empty());
    assert!(!refused.validation_succeeded);
    assert_eq!(refused.targets[0].target_id, GroupId::new("g-dev"));
    assert_eq!(
        refused.targets[0].target_validation_error_code.as_deref(),
        Some("firstPartyAppNotAnOwner")
    );
    assert!(fine.validation_succeeded && fine.targets[0].validation_succeeded);
}

#[tokio::test]
async fn a_500_from_the_device_group_check_is_transient() {
    let server = TestServer::start(|_, _| {
        Answer(
            500,
            vec![("Retry-After", "120".into())],
            graph_error("InternalServerError", "x"),
        )
    })
    .await;
    let err = client(&server)
        .device_preparation_device_group("dp-1")
        .await
        .unwrap_err();
    assert!(
        matches!(err, GraphError::Unavailable { status: 500, .. }),
        "{err:?}"
    );
    assert!(err.class().is_transient());
}

#[tokio::test]
async fn owners_are_read_on_beta_and_the_provisioning_client_is_found_by_app_id() {
    let server = TestServer::start(|_, _| {
        Answer(200, vec![], r##"{"value":[{"@odata.type":"#microsoft.graph.user","id":"u-1","displayName":"Admin"},
            {"@odata.type":"#microsoft.graph.servicePrincipal","id":"sp-1","appId":"f1346770-5b25-470b-88bd-d5744ab7952c","displayName":"Intune Provisioning Client"}]}"##.into())
    })
    .await;
    let owners = client(&server)
        .group_owners(&GroupId::new("g-dev"))
        .await
        .unwrap();
    assert_eq!(
        server.graph_requests()[0].target,
        "/beta/groups/g-dev/owners?$select=id%2CappId%2CdisplayName"
    );
    let found: Vec<&str> = owners
        .iter()
        .filter(|o| o.is_app(INTUNE_PROVISIONING_CLIENT_APP_ID))
        .map(|o| o.id.as_str())
        .collect();
    assert_eq!(found, vec!["sp-1"]);
}

#[tokio::test]
async fn the_service_principal_is_addressed_by_app_id_and_absence_is_none() {
    let server = TestServer::start(|_, n| match n {
        0 => Answer(200, vec![], r#"{"id":"sp-1","appId":"f1346770-5b25-470b-88bd-d5744ab7952c","displayName":"Intune Autopilot ConfidentialClient"}"#.into()),
        _ => Answer(404, vec![], graph_error("Request_ResourceNotFound", "Resource 'f1346770' does not exist")),
    })
    .await;
    let c = client(&server);
    let sp = c
        .service_principal_by_app_id(INTUNE_PROVISIONING_CLIENT_APP_ID)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        server.graph_requests()[0].target,
        "/v1.0/servicePrincipals(appId='f1346770-5b25-470b-88bd-d5744ab7952c')"
    );
    assert_eq!(sp.app_id, INTUNE_PROVISIONING_CLIENT_APP_ID);
    assert_eq!(
        c.service_principal_by_app_id(INTUNE_PROVISIONING_CLIENT_APP_ID)
            .await,
        Ok(None)
    );
}

#[tokio::test]
async fn a_missing_application_permission_is_named() {
    let server = TestServer::start(|_, _| {
        Answer(
            403,
            vec![],
            graph_error(
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
        )
    })
    .await;
    let err = client(&server)
        .service_principal_by_app_id(INTUNE_PROVISIONING_CLIENT_APP_ID)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("Application.Read.All"), "{err}");
}

#[tokio::test]
async fn the_group_type_tells_assigned_from_dynamic() {
    let server = TestServer::start(|r: &Recorded, _| {
        if r.path().ends_with("g-dyn") {
            Answer(200, vec![], r#"{"id":"g-dyn","securityEnabled":true,"groupTypes":["DynamicMembership"],"membershipRule":"(device.devicePhysicalIDs -any _ -eq \"[OrderID]:Sales\")"}"#.into())
        } else {
            Answer(200, vec![], r#"{"id":"g-dev","securityEnabled":true,"mailEnabled":false,"groupTypes":[],"isAssignableToRole":false}"#.into())
        }
    })
    .await;
    let c = client(&server);
    let assigned = c.group_type(&GroupId::new("g-dev")).await.unwrap().unwrap();
    let dynamic = c.group_type(&GroupId::new("g-dyn")).await.unwrap().unwrap();
    assert_eq!(
        server.graph_requests()[0].target,
        "/v1.0/groups/g-dev?$select=id%2CdisplayName%2CsecurityEnabled%2CmailEnabled%2CgroupTypes%2CmembershipRule%2CisAssignableToRole"
    );
    assert_eq!(assigned.membership, GroupMembership::Assigned);
    assert!(assigned.is_assigned_security_group());
    assert_eq!(dynamic.membership, GroupMembership::Dynamic);
    assert!(!dynamic.is_assigned_security_group());
    assert_eq!(dynamic.role_assignable, None);
}

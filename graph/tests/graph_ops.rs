//! Graph operations over a real HTTPS exchange (`graph_http/server.rs`): what each one puts on
//! the wire and how it reads Graph's answers, quirks included (serial filters, import records,
//! the policy's whole-object PUT), plus the credential kinds other than a client secret.

#[path = "graph_http/server.rs"]
mod server;

use std::sync::{Arc, Mutex};

use graph::{
    DeviceObjectId, GraphClient, GraphError, GroupId, ImportId, ImportOutcome, ImportedDeviceId,
    JoinOutcome, MdmScope, MemberRef, NewImport, NoopObserver, Removal, UserId,
};
use server::{Answer, GOOD_ASSERTION, GOOD_SECRET, Recorded, TestServer};
use shared::config::CredentialKind;
use shared::error::Classify;
use shared::ids::{SerialNumber, Upn};

fn client(server: &TestServer) -> GraphClient {
    GraphClient::new(&server.settings(GOOD_SECRET), Arc::new(NoopObserver)).unwrap()
}

fn serial(s: &str) -> SerialNumber {
    s.parse().unwrap()
}

fn devices(serials: &[&str]) -> String {
    let v: Vec<serde_json::Value> = serials
        .iter()
        .enumerate()
        .map(|(i, s)| serde_json::json!({ "id": format!("ztd-{s}-{i}"), "serialNumber": s }))
        .collect();
    serde_json::Value::Array(v).to_string()
}

/// Answers Autopilot device listings: unfiltered lists in two pages, filtered ones by
/// substring, like Graph; `refuse_filters` answers every `$filter` with Intune's 400.
fn autopilot(
    all: &'static [&'static str],
    refuse_filters: bool,
) -> impl Fn(&Recorded, usize) -> Answer + Send + Sync {
    move |r, _| {
        if let Some((_, f)) = r.target.split_once("$filter=contains%28serialNumber%2C%27") {
            if refuse_filters {
                return Answer(400, vec![], r#"{"error":{"code":"BadRequest","message":"{\"_version\":3,\"Message\":\"An error has occurred - Operation ID (for customer support): 0\"}"}}"#.into());
            }
            let needle = f.split("%27").next().unwrap();
            let hits: Vec<&str> = all
                .iter()
                .copied()
                .filter(|s| s.to_lowercase().contains(&needle.to_lowercase()))
                .collect();
            return Answer(200, vec![], format!(r#"{{"value":{}}}"#, devices(&hits)));
        }
        if r.target.contains("skiptoken") {
            Answer(
                200,
                vec![],
                format!(r#"{{"value":{}}}"#, devices(&all[5..])),
            )
        } else {
            let next = format!(
                "https://{}/v1.0/deviceManagement/windowsAutopilotDeviceIdentities?$skiptoken=2",
                r.authority
            );
            Answer(
                200,
                vec![],
                format!(
                    r#"{{"value":{},"@odata.nextLink":"{next}"}}"#,
                    devices(&all[..5])
                ),
            )
        }
    }
}

const TENANT: &[&str] = &[
    "AB12",
    "AB123",
    "XAB12",
    "C1",
    "C2",
    "PF-2X3",
    "VMware 56 4d",
    "VMware 99",
];

fn found_serials(found: &[graph::AutopilotDevice]) -> Vec<&str> {
    found.iter().map(|d| d.serial_number.as_str()).collect()
}

#[tokio::test]
async fn serial_lookup_filters_with_contains_then_keeps_only_the_exact_serial() {
    let server = TestServer::start(autopilot(TENANT, false)).await;
    let found = client(&server)
        .autopilot_devices_by_serial(&serial("AB12"))
        .await
        .unwrap();
    assert_eq!(found_serials(&found), vec!["AB12"]);
    assert_eq!(server.graph_requests().len(), 1);
}

#[tokio::test]
async fn serial_lookup_ignores_ascii_case_like_graph_does() {
    let server = TestServer::start(autopilot(TENANT, false)).await;
    let found = client(&server)
        .autopilot_devices_by_serial(&serial("ab12"))
        .await
        .unwrap();
    assert_eq!(found_serials(&found), vec!["AB12"]);
}

#[tokio::test]
async fn a_serial_with_a_hyphen_is_found_by_listing_every_page() {
    let server = TestServer::start(autopilot(TENANT, false)).await;
    let found = client(&server)
        .autopilot_devices_by_serial(&serial("PF-2X3"))
        .await
        .unwrap();
    assert_eq!(found_serials(&found), vec!["PF-2X3"]);
    let reqs = server.graph_requests();
    assert_eq!(reqs.len(), 2, "two pages");
    assert!(reqs.iter().all(|r| !r.target.contains("filter")));
}

#[tokio::test]
async fn a_serial_with_spaces_is_filtered_on_its_first_word_and_compared_exactly() {
    let server = TestServer::start(autopilot(TENANT, false)).await;
    let found = client(&server)
        .autopilot_devices_by_serial(&serial("VMware 56 4d"))
        .await
        .unwrap();
    assert_eq!(found_serials(&found), vec!["VMware 56 4d"]);
    assert!(server.graph_requests()[0].target.contains("%27VMware%27"));
}

#[tokio::test]
async fn a_refused_contains_filter_falls_back_to_listing() {
    let server = TestServer::start(autopilot(TENANT, true)).await;
    let found = client(&server)
        .autopilot_devices_by_serial(&serial("C2"))
        .await
        .unwrap();
    assert_eq!(found_serials(&found), vec!["C2"]);
    assert_eq!(
        server.graph_requests().len(),
        3,
        "refused filter + two pages"
    );
}

#[tokio::test]
async fn an_import_sends_the_documented_fields_and_reads_the_record_back() {
    let server = TestServer::start(|r: &Recorded, _| {
        let mut rec: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        rec["id"] = "imp-rec-1".into();
        rec["state"]["deviceImportStatus"] = "unknown".into();
        Answer(201, vec![], rec.to_string())
    })
    .await;
    let new = NewImport {
        serial: serial("AB12"),
        hardware_hash: "SGFyZHdhcmVIYXNo".into(),
        group_tag: Some("Sales".into()),
        product_key: None,
        assigned_upn: Some("ada@contoso.com".into()),
        import_id: ImportId::new("dp-7f3a"),
    };

    let rec = client(&server).import_autopilot_device(&new).await.unwrap();

    assert_eq!(rec.id, ImportedDeviceId::new("imp-rec-1"));
    assert_eq!(rec.import_id, Some(ImportId::new("dp-7f3a")));
    assert_eq!(rec.outcome(), ImportOutcome::InProgress);
    let sent: serde_json::Value = serde_json::from_slice(&server.graph_requests()[0].body).unwrap();
    assert_eq!(sent["serialNumber"], "AB12");
    assert_eq!(sent["hardwareIdentifier"], "SGFyZHdhcmVIYXNo");
    assert_eq!(sent["groupTag"], "Sales");
    assert_eq!(sent["assignedUserPrincipalName"], "ada@contoso.com");
    assert_eq!(sent["importId"], "dp-7f3a");
    assert_eq!(
        server.graph_requests()[0].path(),
        "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities"
    );
}

#[tokio::test]
async fn only_our_import_records_are_returned_and_deleting_twice_is_fine() {
    let server = TestServer::start(|r: &Recorded, n| match (r.method.as_str(), n) {
        ("GET", _) => Answer(200, vec![], r#"{"value":[{"id":"r1","importId":"ours","state":{"deviceImportStatus":"complete","deviceRegistrationId":"ztd-1"}},
            {"id":"r2","importId":"someone-else","state":{"deviceImportStatus":"pending"}}]}"#.into()),
        ("DELETE", 0) => Answer(204, vec![], String::new()),
        _ => Answer(404, vec![], r#"{"error":{"code":"ResourceNotFound","message":"gone"}}"#.into()),
    })
    .await;
    let c = client(&server);

    let ours = c
        .imported_devices_with_import_id(&ImportId::new("ours"))
        .await
        .unwrap();
    assert_eq!(ours.len(), 1);
    assert_eq!(
        c.delete_imported_device(&ours[0].id).await,
        Ok(Removal::Deleted)
    );
    assert_eq!(
        c.delete_imported_device(&ours[0].id).await,
        Ok(Removal::AlreadyGone)
    );
    let deletes: Vec<String> = server
        .graph_requests()
        .iter()
        .filter(|r| r.method == "DELETE")
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(
        deletes,
        vec!["/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/r1"; 2]
    );
}

#[tokio::test]
async fn allowing_a_user_to_join_puts_the_whole_policy_and_verifies_it() {
    let policy = Arc::new(Mutex::new(serde_json::json!({
        "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#deviceRegistrationPolicy",
        "id": "deviceRegistrationPolicy", "userDeviceQuota": 50, "multiFactorAuthConfiguration": "notRequired",
        "azureADRegistration": { "isAdminConfigurable": false },
        "azureADJoin": { "isAdminConfigurable": true,
            "allowedToJoin": { "@odata.type": "#microsoft.graph.enumeratedDeviceRegistrationMembership", "users": ["u1"], "groups": ["g1"] },
            "localAdmins": { "enableGlobalAdmins": true } },
        "localAdminPassword": { "isEnabled": false }
    })));
    let state = policy.clone();
    let server = TestServer::start(move |r: &Recorded, _| {
        if r.method == "PUT" {
            *state.lock().unwrap() = serde_json::from_slice(&r.body).unwrap();
        }
        Answer(200, vec![], state.lock().unwrap().to_string())
    })
    .await;

    let got = client(&server)
        .ensure_users_allowed_to_join(&[UserId::new("u2")])
        .await;

    assert_eq!(got, Ok(JoinOutcome::Added));
    let methods: Vec<String> = server
        .graph_requests()
        .iter()
        .map(|r| r.method.to_string())
        .collect();
    assert_eq!(methods, vec!["GET", "PUT", "GET"], "read, write, verify");
    let put = policy.lock().unwrap().clone();
    assert_eq!(put["userDeviceQuota"], 50);
    assert_eq!(put["localAdminPassword"]["isEnabled"], false);
    assert_eq!(
        put["azureADJoin"]["localAdmins"]["enableGlobalAdmins"],
        true
    );
    assert_eq!(
        put["azureADJoin"]["allowedToJoin"]["users"],
        serde_json::json!(["u1", "u2"])
    );
    assert_eq!(
        put["azureADJoin"]["allowedToJoin"]["groups"],
        serde_json::json!(["g1"])
    );
    assert!(put.get("@odata.context").is_none());
}

#[tokio::test]
async fn a_forbidden_device_add_names_both_permissions() {
    let server = TestServer::start(|_, _| Answer(403, vec![], r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#.into())).await;
    let err = client(&server)
        .add_member(
            &GroupId::new("g1"),
            MemberRef::Device(&DeviceObjectId::new("d1")),
        )
        .await
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("GroupMember.ReadWrite.All and Device.ReadWrite.All"),
        "{text}"
    );
    assert!(!err.class().is_transient());
}

#[tokio::test]
async fn mdm_scope_that_applications_cannot_read_is_an_answer() {
    let server = TestServer::start(|_, _| {
        Answer(
            403,
            vec![],
            r#"{"error":{"code":"Forbidden","message":"Application is not authorized"}}"#.into(),
        )
    })
    .await;
    assert_eq!(
        client(&server).mdm_user_scope().await,
        Ok(MdmScope::NotReadableWithApplicationPermissions)
    );
    assert!(
        server.graph_requests()[0]
            .target
            .contains("$expand=includedGroups")
    );
}

#[tokio::test]
async fn workload_identity_presents_the_federated_token_file_from_settings() {
    let server = TestServer::start(|_, _| Answer(404, vec![], String::new())).await;
    let token_file = std::env::temp_dir().join(format!("sa-token-{}", uuid::Uuid::new_v4()));
    std::fs::write(&token_file, GOOD_ASSERTION).unwrap();
    let mut settings = server.settings("");
    settings.credential = CredentialKind::WorkloadIdentity;
    settings.federated_token_file = token_file.display().to_string();

    let c = GraphClient::new(&settings, Arc::new(NoopObserver)).unwrap();
    let upn: Upn = "ada@contoso.com".parse().unwrap();
    let got = c.user_by_upn(&upn).await;
    std::fs::remove_file(&token_file).unwrap();

    assert_eq!(got, Ok(None));
    let token_req = &server.all_requests()[0];
    assert_eq!(token_req.path(), "/contoso.test/oauth2/v2.0/token");
    let form = String::from_utf8_lossy(&token_req.body).to_string();
    assert!(form.contains("client_assertion_type="), "{form}");
    assert!(
        form.contains("scope=https%3A%2F%2Fgraph.microsoft.com%2F.default"),
        "{form}"
    );
}

#[tokio::test]
async fn an_unreachable_token_endpoint_is_transient() {
    let server = TestServer::start(|_, _| Answer(200, vec![], String::new())).await;
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut settings = server.settings(GOOD_SECRET);
    settings.authority_host = format!("https://127.0.0.1:{closed}").parse().unwrap();

    let c = GraphClient::new(&settings, Arc::new(NoopObserver)).unwrap();
    let err = c
        .user_by_upn(&"ada@contoso.com".parse().unwrap())
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            GraphError::Unauthorized {
                transient: true,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(server.graph_requests().is_empty());
}

#[tokio::test]
async fn bulk_status_reads_batch_relative_gets_and_resend_only_throttled_items() {
    let server = TestServer::start(|r: &Recorded, n| {
        let req: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let responses: Vec<serde_json::Value> = req["requests"]
            .as_array()
            .unwrap()
            .iter()
            .map(|item| {
                let id = item["id"].as_str().unwrap();
                let rec = item["url"].as_str().unwrap().rsplit('/').next().unwrap();
                match (rec, n) {
                    ("r2", 0) => serde_json::json!({"id": id, "status": 429, "headers": {"Retry-After": "0.3"}}),
                    ("missing", _) => serde_json::json!({"id": id, "status": 404, "body": {"error": {"code": "ResourceNotFound", "message": "x"}}}),
                    _ => serde_json::json!({"id": id, "status": 200, "body": {"id": rec, "state": {"deviceImportStatus": "complete"}}}),
                }
            })
            .rev() // answers come in any order
            .collect();
        Answer(200, vec![], serde_json::json!({ "responses": responses }).to_string())
    })
    .await;
    let ids: Vec<ImportedDeviceId> = ["r1", "r2", "missing"]
        .into_iter()
        .map(ImportedDeviceId::new)
        .collect();

    let got = client(&server).imported_devices_by_ids(&ids).await.unwrap();

    let summary: Vec<(String, Option<String>)> = got
        .into_iter()
        .map(|(id, r)| (id.to_string(), r.unwrap().map(|d| d.id.to_string())))
        .collect();
    assert_eq!(
        summary,
        vec![
            ("r1".into(), Some("r1".into())),
            ("r2".into(), Some("r2".into())),
            ("missing".into(), None)
        ]
    );
    let batches = server.graph_requests();
    assert_eq!(batches.len(), 2);
    assert_eq!(batches[0].path(), "/v1.0/$batch");
    let second: serde_json::Value = serde_json::from_slice(&batches[1].body).unwrap();
    assert_eq!(
        second["requests"],
        serde_json::json!([{"id": "1", "method": "GET", "url": "/deviceManagement/importedWindowsAutopilotDeviceIdentities/r2"}])
    );
    assert!(batches[1].at - batches[0].at >= std::time::Duration::from_millis(300));
}

//! The Graph client over a real HTTPS exchange with a tiny local server (`graph_http/server.rs`):
//! the token comes from a real `ClientSecretCredential` trusting our private CA through
//! `graph.ca_file`, and each test checks what went over the wire. The full client↔emulator suite
//! comes later; this file keeps to what only a real exchange can show.

#[path = "graph_http/server.rs"]
mod server;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use graph::{
    GraphClient, GraphError, GraphObserver, GroupId, ImportId, ImportOutcome, MemberRef,
    Membership, NewImport, Removal, SyncOutcome, UserId,
};
use server::{Answer, GOOD_SECRET, ROLES, Recorded, TestServer};
use shared::error::{Classify, ErrorClass};
use shared::ids::{EmployeeId, Upn};
use tracing_subscriber::layer::SubscriberExt;

/// Remembers what the client reported, as telemetry would.
#[derive(Default)]
struct Seen {
    finished: Mutex<Vec<(String, String, Option<u16>)>>,
    would_write: Mutex<Vec<(String, String)>>,
}

impl GraphObserver for Seen {
    fn request_finished(&self, method: &str, route: &str, status: Option<u16>, _: Duration) {
        self.finished
            .lock()
            .unwrap()
            .push((method.into(), route.into(), status));
    }
    fn would_write(&self, method: &str, route: &str) {
        self.would_write
            .lock()
            .unwrap()
            .push((method.into(), route.into()));
    }
}

async fn client_for(server: &TestServer, secret: &str, dry_run: bool) -> (GraphClient, Arc<Seen>) {
    let seen = Arc::new(Seen::default());
    let mut settings = server.settings(secret);
    settings.dry_run = dry_run;
    (GraphClient::new(&settings, seen.clone()).unwrap(), seen)
}

fn user_json(id: &str) -> String {
    serde_json::json!({ "id": id, "userPrincipalName": "ada@contoso.com", "employeeId": "E1" })
        .to_string()
}

fn upn(s: &str) -> Upn {
    s.parse().unwrap()
}

#[tokio::test]
async fn every_request_sends_a_fresh_client_request_id_and_records_graph_request_id() {
    let server = TestServer::start(|_, _| Answer(200, vec![], user_json("u1"))).await;
    let (client, seen) = client_for(&server, GOOD_SECRET, false).await;
    let spans = SpanFields::default();
    let _guard =
        tracing::subscriber::set_default(tracing_subscriber::registry().with(spans.clone()));

    for _ in 0..2 {
        let user = client
            .user_by_upn(&upn("ada@contoso.com"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(user.id, UserId::new("u1"));
    }

    let reqs = server.graph_requests();
    let ids: Vec<String> = reqs
        .iter()
        .map(|r| r.header("client-request-id").unwrap())
        .collect();
    assert_eq!(ids.len(), 2);
    assert_ne!(ids[0], ids[1]);
    assert!(
        ids.iter().all(|id| uuid::Uuid::parse_str(id).is_ok()),
        "{ids:?}"
    );
    assert!(
        reqs[0]
            .header("authorization")
            .unwrap()
            .starts_with("Bearer ")
    );
    // The server numbers its answers; the spans must carry the ids Graph sent back.
    let recorded = spans.values("graph.request_id");
    let expected: Vec<String> = reqs
        .iter()
        .map(|r| format!("req-{}", position(&server, r)))
        .collect();
    assert_eq!(recorded, expected);
    assert_eq!(spans.values("graph.client_request_id"), ids);
    assert_eq!(spans.values("url.template"), vec!["/v1.0/users/{upn}"; 2]);
    let finished = seen.finished.lock().unwrap().clone();
    assert_eq!(
        finished,
        vec![("GET".into(), "/v1.0/users/{upn}".into(), Some(200)); 2]
    );
    // One token request served both calls (the credential caches).
    assert_eq!(server.all_requests().len() - reqs.len(), 1);
}

#[tokio::test]
async fn a_throttled_write_is_retried_only_after_retry_after() {
    let server = TestServer::start(|_, n| match n {
        0 => Answer(
            429,
            vec![("retry-after", "0.4".into())],
            r#"{"error":{"code":"TooManyRequests","message":"Please retry again later."}}"#.into(),
        ),
        _ => Answer(204, vec![], String::new()),
    })
    .await;
    let (client, seen) = client_for(&server, GOOD_SECRET, false).await;

    let got = client
        .add_member(&GroupId::new("g1"), MemberRef::User(&UserId::new("u1")))
        .await;

    assert_eq!(got, Ok(Membership::Added));
    let reqs = server.graph_requests();
    assert_eq!(reqs.len(), 2);
    let gap = reqs[1].at - reqs[0].at;
    assert!(gap >= Duration::from_millis(400), "retried after {gap:?}");
    let body: serde_json::Value = serde_json::from_slice(&reqs[1].body).unwrap();
    assert_eq!(
        body["@odata.id"],
        format!("{}/v1.0/directoryObjects/u1", server.base)
    );
    let statuses: Vec<Option<u16>> = seen.finished.lock().unwrap().iter().map(|f| f.2).collect();
    assert_eq!(statuses, vec![Some(429), Some(204)]);
}

#[tokio::test]
async fn a_long_retry_after_goes_back_to_the_broker_without_a_retry() {
    let server =
        TestServer::start(|_, _| Answer(429, vec![("retry-after", "120".into())], String::new()))
            .await;
    let (client, _) = client_for(&server, GOOD_SECRET, false).await;

    let err = client
        .user_by_upn(&upn("ada@contoso.com"))
        .await
        .unwrap_err();

    assert_eq!(
        err.class(),
        ErrorClass::Transient {
            retry_after: Some(Duration::from_secs(120))
        }
    );
    assert_eq!(server.graph_requests().len(), 1);
}

#[tokio::test]
async fn a_wrong_secret_is_permanent_and_names_the_aadsts_code_but_not_the_secret() {
    let server = TestServer::start(|_, _| Answer(200, vec![], user_json("u1"))).await;
    let (client, _) = client_for(&server, "wrong-secret-value", false).await;

    let err = client
        .user_by_upn(&upn("ada@contoso.com"))
        .await
        .unwrap_err();

    assert!(
        matches!(
            err,
            GraphError::Unauthorized {
                transient: false,
                ..
            }
        ),
        "{err:?}"
    );
    let text = err.to_string();
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(!text.contains("wrong-secret-value"), "{text}");
    assert!(server.graph_requests().is_empty());
    assert!(!client.token_obtainable().await);
}

#[tokio::test]
async fn granted_roles_are_read_from_our_own_token() {
    let server = TestServer::start(|_, _| Answer(404, vec![], String::new())).await;
    let (client, _) = client_for(&server, GOOD_SECRET, false).await;
    assert!(client.token_obtainable().await);
    assert_eq!(client.granted_roles().await.unwrap(), ROLES.to_vec());
}

#[tokio::test]
async fn guest_and_dollar_upns_reach_graph_escaped() {
    let server = TestServer::start(|_, _| Answer(404, vec![], r#"{"error":{"code":"Request_ResourceNotFound","message":"Resource 'x' does not exist"}}"#.into())).await;
    let (client, _) = client_for(&server, GOOD_SECRET, false).await;

    assert_eq!(
        client
            .user_by_upn(&upn("Adele_adatum.com#EXT#@contoso.com"))
            .await,
        Ok(None)
    );
    assert_eq!(client.user_by_upn(&upn("$svc@contoso.com")).await, Ok(None));

    let paths: Vec<String> = server
        .graph_requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect();
    assert_eq!(
        paths,
        vec![
            "/v1.0/users/Adele_adatum.com%23EXT%23@contoso.com",
            "/v1.0/users('$svc@contoso.com')"
        ]
    );
}

#[tokio::test]
async fn listings_follow_next_links_and_filters_are_encoded() {
    let server = TestServer::start(|r: &Recorded, _| {
        if r.target.contains("skiptoken") {
            Answer(200, vec![], format!(r#"{{"value":[{}]}}"#, user_json("u2")))
        } else {
            let next = format!("https://{}/v1.0/users?$skiptoken=2", r.authority);
            Answer(
                200,
                vec![],
                format!(
                    r#"{{"value":[{}],"@odata.nextLink":"{next}"}}"#,
                    user_json("u1")
                ),
            )
        }
    })
    .await;
    let (client, _) = client_for(&server, GOOD_SECRET, false).await;

    let users = client
        .users_by_employee_id(&"O'Neil 1".parse::<EmployeeId>().unwrap())
        .await
        .unwrap();

    let ids: Vec<&str> = users.iter().map(|u| u.id.as_str()).collect();
    assert_eq!(ids, vec!["u1", "u2"]);
    let first = &server.graph_requests()[0].target;
    assert!(
        first.starts_with("/v1.0/users?$filter=employeeId%20eq%20%27O%27%27Neil%201%27&$select="),
        "{first}"
    );
}

#[tokio::test]
async fn shadow_mode_reads_but_holds_writes_back() {
    let server = TestServer::start(|_, _| Answer(200, vec![], user_json("u1"))).await;
    let (client, seen) = client_for(&server, GOOD_SECRET, true).await;

    assert!(
        client
            .user_by_upn(&upn("ada@contoso.com"))
            .await
            .unwrap()
            .is_some()
    );
    let added = client
        .add_member(&GroupId::new("g1"), MemberRef::User(&UserId::new("u1")))
        .await;
    let synced = client.sync_autopilot().await;
    let import = NewImport {
        serial: "AB12".parse().unwrap(),
        hardware_hash: "SGFzaA==".into(),
        group_tag: None,
        product_key: None,
        assigned_upn: None,
        import_id: ImportId::new("imp-1"),
    };
    let record = client.import_autopilot_device(&import).await.unwrap();

    assert_eq!(added, Ok(Membership::Added));
    assert_eq!(synced, Ok(SyncOutcome::Started));
    assert!(record.id.is_shadow());
    assert_eq!(record.outcome(), ImportOutcome::InProgress);
    // Follow-up calls on the invented record never reach Graph either.
    assert_eq!(client.imported_device(&record.id).await, Ok(None));
    assert_eq!(
        client.delete_imported_device(&record.id).await,
        Ok(Removal::AlreadyGone)
    );
    let methods: Vec<String> = server
        .graph_requests()
        .iter()
        .map(|r| r.method.to_string())
        .collect();
    assert_eq!(methods, vec!["GET"]);
    let held = seen.would_write.lock().unwrap().clone();
    assert_eq!(
        held,
        vec![
            ("POST".into(), "/v1.0/groups/{id}/members/$ref".into()),
            (
                "POST".into(),
                "/beta/deviceManagement/windowsAutopilotSettings/sync".into()
            ),
            (
                "POST".into(),
                "/v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities".into()
            )
        ]
    );
}

#[tokio::test]
async fn already_member_and_sync_refusals_are_answers_not_errors() {
    let server = TestServer::start(|r: &Recorded, _| {
        if r.path().ends_with("/sync") {
            Answer(429, vec![], r#"{"error":{"code":"TooManyRequests","message":"{\"Message\":\"sync too soon\"}"}}"#.into())
        } else {
            Answer(400, vec![], r#"{"error":{"code":"Request_BadRequest","message":"One or more added object references already exist for the following modified properties: 'members'."}}"#.into())
        }
    })
    .await;
    let (client, _) = client_for(&server, GOOD_SECRET, false).await;

    assert_eq!(
        client
            .add_member(&GroupId::new("g1"), MemberRef::User(&UserId::new("u1")))
            .await,
        Ok(Membership::AlreadyMember)
    );
    assert_eq!(client.sync_autopilot().await, Ok(SyncOutcome::TooSoon));
    // The sync's 429 is the 10-minute guard, not throttling: it must not be retried in-call.
    assert_eq!(server.graph_requests().len(), 2);
}

#[tokio::test]
async fn a_policy_put_that_breaks_a_rail_never_leaves_the_process() {
    let policy = r##"{"userDeviceQuota":50,"azureADRegistration":{"isAdminConfigurable":false},
        "azureADJoin":{"allowedToJoin":{"@odata.type":"#microsoft.graph.enumeratedDeviceRegistrationMembership","users":["u1"],"groups":[]}}}"##;
    let server = TestServer::start(move |_, _| Answer(200, vec![], policy.into())).await;
    let (client, _) = client_for(&server, GOOD_SECRET, false).await;

    let mut desired = client.registration_policy().await.unwrap();
    desired.user_device_quota = None;
    let err = client.put_registration_policy(&desired).await.unwrap_err();

    assert!(matches!(err, GraphError::RailRefused(_)), "{err:?}");
    assert_eq!(err.class(), ErrorClass::Permanent);
    assert!(server.graph_requests().iter().all(|r| r.method == "GET"));
}

// === span capture ===

/// The 1-based position of `r` among all requests the server answered (its `request-id` number).
fn position(server: &TestServer, r: &Recorded) -> usize {
    server
        .all_requests()
        .iter()
        .position(|x| x.at == r.at && x.target == r.target)
        .unwrap()
        + 1
}

/// A tracing layer that keeps every string field value recorded on any span, by field name.
#[derive(Clone, Default)]
struct SpanFields(Arc<Mutex<Vec<(String, String)>>>);

impl SpanFields {
    fn values(&self, name: &str) -> Vec<String> {
        self.0
            .lock()
            .unwrap()
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.clone())
            .collect()
    }
}

impl tracing::field::Visit for SpanFields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        self.0
            .lock()
            .unwrap()
            .push((field.name().into(), value.into()));
    }
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0
            .lock()
            .unwrap()
            .push((field.name().into(), format!("{value:?}")));
    }
}

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for SpanFields {
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        _: &tracing::span::Id,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        attrs.record(&mut self.clone());
    }
    fn on_record(
        &self,
        _: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        _: tracing_subscriber::layer::Context<'_, S>,
    ) {
        values.record(&mut self.clone());
    }
}

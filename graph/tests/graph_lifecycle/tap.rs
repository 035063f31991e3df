use std::io::Write;
use std::sync::{Arc, Mutex};

use graph::{GraphError, NewTemporaryAccessPass, Removal, TapMethodId, TapUsability, UserId};
use secrecy::ExposeSecret;
use shared::error::Classify;
use time::macros::datetime;
use tracing_subscriber::fmt::format::FmtSpan;

use super::server::{Answer, Recorded, TestServer};
use super::{client, graph_error, json_body, shadow_client};

/// A pass value the tests look for everywhere it must not be.
const PASS: &str = "Kn0wn+Pass!Value";

fn created(value: &str) -> String {
    serde_json::json!({
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethod",
        "id": "6f1967b7-15e8-4935-ac26-d50770ed07a7", "temporaryAccessPass": value,
        "createdDateTime": "2022-06-02T16:21:09.765173Z", "startDateTime": "2022-06-05T00:00:00Z",
        "lifetimeInMinutes": 60, "isUsableOnce": false, "isUsable": false,
        "methodUsabilityReason": "NotYetValid"
    })
    .to_string()
}

fn first_day() -> NewTemporaryAccessPass {
    NewTemporaryAccessPass {
        // 02:00 at +02:00 is midnight UTC: the body carries UTC.
        start: Some(datetime!(2022-06-05 02:00 +02:00)),
        lifetime_in_minutes: Some(60),
        is_usable_once: Some(false),
    }
}

#[tokio::test]
async fn a_pass_is_created_with_the_documented_body_and_its_value_is_read_once() {
    let server = TestServer::start(|_, _| Answer(201, vec![], created(PASS))).await;

    let pass = client(&server)
        .create_temporary_access_pass(&UserId::new("u-1"), &first_day())
        .await
        .unwrap();

    let sent = &server.graph_requests()[0];
    assert_eq!(sent.method, "POST");
    assert_eq!(
        sent.target,
        "/v1.0/users/u-1/authentication/temporaryAccessPassMethods"
    );
    assert_eq!(
        json_body(sent),
        serde_json::json!({"startDateTime": "2022-06-05T00:00:00.000Z", "lifetimeInMinutes": 60, "isUsableOnce": false})
    );
    assert_eq!(pass.value.expose_secret(), PASS);
    assert_eq!(
        pass.method.id,
        TapMethodId::new("6f1967b7-15e8-4935-ac26-d50770ed07a7")
    );
    assert_eq!(
        pass.method.method_usability_reason,
        Some(TapUsability::NotYetValid)
    );
    assert_eq!(
        pass.method.valid_from(),
        Some(datetime!(2022-06-05 0:00 UTC))
    );
    assert!(!pass.is_shadow());
}

#[tokio::test]
async fn only_the_fields_asked_for_are_sent() {
    let server = TestServer::start(|_, _| Answer(201, vec![], created(PASS))).await;
    client(&server)
        .create_temporary_access_pass(&UserId::new("u-1"), &NewTemporaryAccessPass::default())
        .await
        .unwrap();
    assert_eq!(
        json_body(&server.graph_requests()[0]),
        serde_json::json!({})
    );
}

/// A writer that keeps everything the subscriber prints.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn the_pass_value_never_shows_in_logs_spans_debug_display_or_errors() {
    let server = TestServer::start(|_, n| match n {
        0 => Answer(201, vec![], created(PASS)),
        // A malformed answer that carries the value where a number belongs: serde would quote it.
        1 => Answer(
            201,
            vec![],
            format!(r#"{{"id":"t2","temporaryAccessPass":"{PASS}","lifetimeInMinutes":"{PASS}"}}"#),
        ),
        _ => Answer(201, vec![], created("")),
    })
    .await;
    let log = Captured::default();
    let sink = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_span_events(FmtSpan::FULL)
        .with_ansi(false)
        .with_writer(move || sink.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let c = client(&server);
    let user = UserId::new("u-1");

    let pass = c
        .create_temporary_access_pass(&user, &first_day())
        .await
        .unwrap();
    let malformed = c
        .create_temporary_access_pass(&user, &first_day())
        .await
        .unwrap_err();
    let no_value = c
        .create_temporary_access_pass(&user, &first_day())
        .await
        .unwrap_err();

    assert_eq!(
        pass.value.expose_secret(),
        PASS,
        "the value is there to read"
    );
    let shown = [
        format!("{pass:?}"),
        format!("{pass:#?}"),
        pass.to_string(),
        format!("{malformed:?}"),
        malformed.to_string(),
        no_value.to_string(),
    ];
    for text in &shown {
        assert!(!text.contains(PASS), "{text}");
    }
    assert!(shown[0].contains("REDACTED"), "{}", shown[0]);
    assert!(
        shown[2].contains("6f1967b7-15e8-4935-ac26-d50770ed07a7"),
        "{}",
        shown[2]
    );
    assert!(matches!(malformed, GraphError::InvalidResponse { .. }));
    assert!(
        shown[4].contains("not shown because it carries the pass"),
        "{}",
        shown[4]
    );
    assert!(shown[5].contains("returned no value"), "{}", shown[5]);
    assert!(!malformed.class().is_transient() && !no_value.class().is_transient());
    let printed = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        printed.contains("url.full=https://127.0.0.1")
            && printed.contains("temporaryAccessPassMethods"),
        "the request spans were captured: {printed}"
    );
    assert!(
        !printed.contains(PASS),
        "the value leaked into logs or spans"
    );
}

#[tokio::test]
async fn a_lifetime_outside_the_policy_is_a_permanent_bad_request() {
    let server = TestServer::start(|_, _| {
        Answer(
            400,
            vec![],
            graph_error(
                "badRequest",
                "Invalid LifetimeInMinutes specified. The valid range between 60 and 480.",
            ),
        )
    })
    .await;
    let err = client(&server)
        .create_temporary_access_pass(&UserId::new("u-1"), &first_day())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, GraphError::BadRequest { status: 400, code, .. } if code == "badRequest"),
        "{err:?}"
    );
    assert!(err.to_string().contains("valid range between 60 and 480"));
    assert!(!err.class().is_transient());
    assert_eq!(server.graph_requests().len(), 1, "not retried");
}

#[tokio::test]
async fn a_converged_policy_refusal_is_a_configuration_error_as_400_or_403() {
    const TEXT: &str = "Converged UserCredentialPolicy does not allow creating or updating this \
                        authentication method. AuthMethodType [TemporaryAccessPass].";
    for status in [400, 403] {
        let server =
            TestServer::start(move |_, _| Answer(status, vec![], graph_error("badRequest", TEXT)))
                .await;
        let err = client(&server)
            .create_temporary_access_pass(&UserId::new("u-1"), &first_day())
            .await
            .unwrap_err();
        assert!(
            matches!(err, GraphError::BadRequest { .. }),
            "{status}: {err:?}"
        );
        assert!(
            !err.to_string().contains("grant the application permission"),
            "{err}"
        );
        assert!(!err.class().is_transient());
    }
}

#[tokio::test]
async fn a_missing_permission_names_both_tap_permissions_and_throttling_is_transient() {
    let server = TestServer::start(|_, n| match n {
        0 => Answer(
            403,
            vec![],
            graph_error(
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            ),
        ),
        _ => Answer(
            429,
            vec![("Retry-After", "120".into())],
            graph_error("TooManyRequests", "slow down"),
        ),
    })
    .await;
    let c = client(&server);
    let denied = c
        .create_temporary_access_pass(&UserId::new("u-1"), &first_day())
        .await
        .unwrap_err();
    assert!(
        denied.to_string().contains(
            "UserAuthMethod-TAP.ReadWrite.All (or UserAuthenticationMethod.ReadWrite.All)"
        ),
        "{denied}"
    );
    assert!(!denied.class().is_transient());
    let throttled = c
        .create_temporary_access_pass(&UserId::new("u-1"), &first_day())
        .await
        .unwrap_err();
    assert!(
        matches!(
            throttled,
            GraphError::Throttled {
                retry_after: Some(_),
                ..
            }
        ),
        "{throttled:?}"
    );
    assert!(throttled.class().is_transient());
}

#[tokio::test]
async fn listing_escapes_the_user_and_yields_passes_without_a_value() {
    let server = TestServer::start(|_, _| {
        Answer(
            200,
            vec![],
            format!(r#"{{"value":[{}]}}"#, created("")).replace(
                r#""temporaryAccessPass":"""#,
                r#""temporaryAccessPass":null"#,
            ),
        )
    })
    .await;
    let passes = client(&server)
        .temporary_access_passes(&UserId::new("odd/id#1"))
        .await
        .unwrap();
    let sent = &server.graph_requests()[0];
    assert_eq!(sent.method, "GET");
    assert_eq!(
        sent.target,
        "/v1.0/users/odd%2Fid%231/authentication/temporaryAccessPassMethods"
    );
    assert_eq!(passes.len(), 1);
    assert_eq!(passes[0].lifetime_in_minutes, Some(60));
}

#[tokio::test]
async fn deleting_a_pass_twice_is_deleted_then_already_gone() {
    let server = TestServer::start(|_, n| match n {
        0 => Answer(204, vec![], String::new()),
        _ => Answer(404, vec![], graph_error("itemNotFound", "not found")),
    })
    .await;
    let c = client(&server);
    let (user, pass) = (UserId::new("u-1"), TapMethodId::new("t-1"));
    assert_eq!(
        c.delete_temporary_access_pass(&user, &pass).await,
        Ok(Removal::Deleted)
    );
    assert_eq!(
        c.delete_temporary_access_pass(&user, &pass).await,
        Ok(Removal::AlreadyGone)
    );
    let sent = server.graph_requests();
    assert!(sent.iter().all(|r| r.method == "DELETE"
        && r.target == "/v1.0/users/u-1/authentication/temporaryAccessPassMethods/t-1"));
}

#[tokio::test]
async fn shadow_mode_creates_and_deletes_nothing() {
    let server = TestServer::start(|_, _| Answer(500, vec![], String::new())).await;
    let c = shadow_client(&server);
    let pass = c
        .create_temporary_access_pass(&UserId::new("u-1"), &first_day())
        .await
        .unwrap();
    assert!(pass.is_shadow());
    assert_eq!(pass.method.lifetime_in_minutes, Some(60));
    assert_eq!(pass.value.expose_secret(), "");
    assert_eq!(
        c.delete_temporary_access_pass(&UserId::new("u-1"), &pass.method.id)
            .await,
        Ok(Removal::AlreadyGone)
    );
    assert_eq!(
        c.delete_temporary_access_pass(&UserId::new("u-1"), &TapMethodId::new("t-1"))
            .await,
        Ok(Removal::Deleted)
    );
    assert!(server.graph_requests().is_empty());
}

const POLICY: &str = r##"{"@odata.type":"#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration","id":"TemporaryAccessPass",
 "state":"enabled","defaultLifetimeInMinutes":60,"defaultLength":8,"minimumLifetimeInMinutes":60,
 "maximumLifetimeInMinutes":480,"isUsableOnce":false,
 "includeTargets":[{"targetType":"group","id":"all_users","isRegistrationRequired":false}],"excludeTargets":[]}"##;

#[tokio::test]
async fn the_tap_policy_is_read_with_its_state_targets_and_bounds() {
    let server = TestServer::start(|_, _| Answer(200, vec![], POLICY.into())).await;
    let policy = client(&server)
        .temporary_access_pass_policy()
        .await
        .unwrap();
    assert_eq!(
        server.graph_requests()[0].target,
        "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass"
    );
    assert!(policy.is_enabled() && policy.includes_all_users());
    assert_eq!(policy.lifetime_bounds(), (60, 480));
    assert_eq!(policy.default_lifetime_in_minutes, Some(60));
    assert!(!policy.requires_usable_once());
    assert_eq!(policy.clamp_lifetime(24 * 60), 480);
}

#[tokio::test]
async fn the_tap_policy_is_found_under_either_spelling_of_its_key() {
    let server = TestServer::start(|r: &Recorded, _| {
        if r.target.ends_with("/temporaryAccessPass") {
            Answer(200, vec![], POLICY.into())
        } else {
            Answer(
                404,
                vec![],
                graph_error("Request_ResourceNotFound", "not found"),
            )
        }
    })
    .await;
    let policy = client(&server)
        .temporary_access_pass_policy()
        .await
        .unwrap();
    assert!(policy.id.eq_ignore_ascii_case("temporaryAccessPass"));
    let keys: Vec<String> = server
        .graph_requests()
        .iter()
        .map(|r| r.path().rsplit('/').next().unwrap().to_owned())
        .collect();
    assert_eq!(keys, vec!["TemporaryAccessPass", "temporaryAccessPass"]);
}

#[tokio::test]
async fn an_unreadable_tap_policy_names_its_least_permission() {
    let server = TestServer::start(|_, _| {
        Answer(
            403,
            vec![],
            graph_error("accessDenied", "Request Authorization failed"),
        )
    })
    .await;
    let err = client(&server)
        .temporary_access_pass_policy()
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("Policy.Read.AuthenticationMethod"),
        "{err}"
    );
    assert!(!err.class().is_transient());
}

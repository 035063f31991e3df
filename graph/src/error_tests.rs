//! Classification table tests for `GraphError` (kept apart so `error.rs` stays one concern).

use super::*;

const OP: Operation = Operation {
    name: "add group member",
    permission: "GroupMember.ReadWrite.All",
};

fn err(status: u16, body: &str) -> GraphError {
    from_status(OP, status, None, body.as_bytes())
}

#[test]
fn already_member_needs_both_the_code_and_the_message() {
    let body = r#"{"error":{"code":"Request_BadRequest","message":"One or more added object references already exist for the following modified properties: 'members'.","innerError":{"date":"x","request-id":"r","client-request-id":"c"}}}"#;
    assert_eq!(
        err(400, body),
        GraphError::AlreadyExists { operation: OP.name }
    );
    let other_code = body.replace("Request_BadRequest", "BadRequest");
    assert!(matches!(
        err(400, &other_code),
        GraphError::BadRequest { .. }
    ));
}

#[test]
fn each_status_gets_its_variant_and_class() {
    let cases: &[(u16, &str, ErrorClass)] = &[
        (429, "Throttled", ErrorClass::TRANSIENT),
        (503, "Unavailable", ErrorClass::TRANSIENT),
        (504, "Unavailable", ErrorClass::TRANSIENT),
        (500, "Unavailable", ErrorClass::TRANSIENT),
        (408, "Timeout", ErrorClass::TRANSIENT),
        (404, "NotFound", ErrorClass::Permanent),
        (403, "PermissionDenied", ErrorClass::Permanent),
        (401, "Unauthorized", ErrorClass::Permanent),
        (400, "BadRequest", ErrorClass::Permanent),
        (409, "BadRequest", ErrorClass::Permanent),
    ];
    for (status, variant, class) in cases {
        let e = err(*status, "{}");
        assert!(format!("{e:?}").starts_with(variant), "{status}: {e:?}");
        assert_eq!(e.class(), *class, "{status}");
    }
}

#[test]
fn throttling_carries_retry_after_into_the_class() {
    let e = from_status(OP, 429, Some(Duration::from_secs(7)), b"");
    assert_eq!(
        e.class(),
        ErrorClass::Transient {
            retry_after: Some(Duration::from_secs(7))
        }
    );
}

#[test]
fn permission_denied_names_operation_and_permission() {
    let body = r#"{"error":{"code":"Authorization_RequestDenied","message":"Insufficient privileges to complete the operation."}}"#;
    let text = err(403, body).to_string();
    assert!(text.contains("add group member"), "{text}");
    assert!(text.contains("GroupMember.ReadWrite.All"), "{text}");
    assert!(text.contains("Insufficient privileges"), "{text}");
}

#[test]
fn intune_json_in_a_string_is_unwrapped_to_its_message() {
    let body = r#"{"error":{"code":"BadRequest","message":"{\r\n  \"_version\": 3,\r\n  \"Message\": \"An error has occurred - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: 7d1e\",\r\n  \"CustomApiErrorPhrase\": \"\",\r\n  \"RetryAfter\": null\r\n}","innerError":{}}}"#;
    match err(400, body) {
        GraphError::BadRequest { code, message, .. } => {
            assert_eq!(code, "BadRequest");
            assert!(message.starts_with("An error has occurred"), "{message}");
            assert!(!message.contains("_version"), "{message}");
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn replication_lag_on_add_member_is_transient() {
    let body = r#"{"error":{"code":"Request_BadRequest","message":"The source resource object or one of the objects being referenced do not exist."}}"#;
    let e = err(400, body);
    assert!(matches!(e, GraphError::NotReplicatedYet { .. }), "{e:?}");
    assert!(e.class().is_transient());
}

#[test]
fn non_graph_bodies_still_classify_and_long_messages_are_cut() {
    assert!(matches!(
        err(502, "<html>bad gateway</html>"),
        GraphError::Unavailable { .. }
    ));
    let long = format!(
        r#"{{"error":{{"code":"X","message":"{}"}}}}"#,
        "a".repeat(5000)
    );
    let (_, message) = parse_envelope(long.as_bytes());
    assert!(message.chars().count() <= MAX_MESSAGE_CHARS + 1);
}

#[test]
fn token_endpoint_refusal_is_permanent_and_unreachable_is_transient() {
    use azure_core::error::ErrorKind;
    use azure_core::http::StatusCode;
    let refused = azure_core::Error::with_error(
        ErrorKind::Credential,
        azure_core::Error::new(
            ErrorKind::HttpResponse {
                status: StatusCode::Unauthorized,
                error_code: Some("7000215".into()),
                raw_response: None,
            },
            "AADSTS7000215: Invalid client secret is provided.",
        ),
        "ClientSecretCredential authentication failed. AADSTS7000215: Invalid client secret is provided.",
    );
    let e = from_token_error(&refused);
    assert_eq!(e.class(), ErrorClass::Permanent);
    assert!(e.to_string().contains("AADSTS7000215"), "{e}");

    let unreachable = azure_core::Error::with_error(
        ErrorKind::Credential,
        azure_core::Error::with_message(ErrorKind::Connection, "connection refused"),
        "ClientSecretCredential authentication failed. connection refused",
    );
    assert!(from_token_error(&unreachable).class().is_transient());
}

#[test]
fn an_echoed_hardware_hash_is_withheld_from_the_message() {
    let hash = "T0EwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMDAwMA==";
    let echoed = format!(
        r#"{{"error":{{"code":"BadRequest","message":"Invalid hardwareIdentifier {}"}}}}"#,
        &hash[5..60]
    );
    let e = err(400, &echoed).without_echo_of(hash, "the hardware hash");
    assert!(!e.to_string().contains(&hash[20..52]), "{e}");
    assert!(e.to_string().contains("withheld"), "{e}");
    let plain = err(
        400,
        r#"{"error":{"code":"BadRequest","message":"Invalid serial"}}"#,
    );
    assert_eq!(
        plain.clone().without_echo_of(hash, "the hardware hash"),
        plain
    );
}

//! The contract published in `schemas/` and the typed parser agree: every example in
//! `schemas/examples/<type>/{valid,invalid}/` is accepted or refused by both. And
//! `schemas/asyncapi.json` is a valid AsyncAPI 3.0 document (checked against the vendored
//! official schema, offline).

use std::path::{Path, PathBuf};

use serde::de::DeserializeOwned;
use shared::events::{self, CONTENT_TYPE, Event, parse_event};

fn schemas_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../schemas")
}

fn read_json(path: &Path) -> serde_json::Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Runs every example of `event_type` through the JSON Schema and through `parse_event::<T>`.
fn schema_and_parser_agree<T: Event + DeserializeOwned>() {
    let event_type = T::TYPE;
    let schema = read_json(&schemas_dir().join(format!("{event_type}.schema.json")));
    let validator = jsonschema::options()
        .with_draft(jsonschema::Draft::Draft202012)
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles");
    let mut checked = 0;
    for (expect_valid, kind) in [(true, "valid"), (false, "invalid")] {
        let dir = schemas_dir().join("examples").join(event_type).join(kind);
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            let bytes = std::fs::read(&path).unwrap();
            let instance: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
            let by_schema = validator.is_valid(&instance);
            let by_parser = parse_event::<T>(Some(CONTENT_TYPE), &bytes, 65_536);
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            assert_eq!(
                by_schema, expect_valid,
                "{event_type}/{kind}/{name}: JSON Schema"
            );
            assert_eq!(
                by_parser.is_ok(),
                expect_valid,
                "{event_type}/{kind}/{name}: parser said {:?}",
                by_parser.err()
            );
            checked += 1;
        }
    }
    assert!(checked >= 4, "{event_type}: only {checked} examples");
}

#[test]
fn employee_hired_examples_agree_between_schema_and_parser() {
    schema_and_parser_agree::<events::EmployeeHired>();
}

#[test]
fn device_purchased_examples_agree_between_schema_and_parser() {
    schema_and_parser_agree::<events::DevicePurchased>();
}

#[test]
fn device_shipped_examples_agree_between_schema_and_parser() {
    schema_and_parser_agree::<events::DeviceShipped>();
}

#[test]
fn parse_errors_name_the_field() {
    let dir = schemas_dir()
        .join("examples")
        .join(events::EmployeeHired::TYPE)
        .join("invalid");
    let reason = |file: &str| {
        let bytes = std::fs::read(dir.join(file)).unwrap();
        parse_event::<events::EmployeeHired>(Some(CONTENT_TYPE), &bytes, 65_536)
            .unwrap_err()
            .to_string()
    };
    assert_eq!(
        reason("upn-without-domain.json"),
        "data.userPrincipalName: expected user@domain.tld"
    );
    assert_eq!(
        reason("missing-employee-id.json"),
        "data.employeeId: required field is missing"
    );
    assert_eq!(
        reason("missing-data.json"),
        "data: required object is missing"
    );
    assert_eq!(
        reason("wrong-specversion.json"),
        "specversion: expected 1.0"
    );
    assert!(reason("display-name-not-a-string.json").starts_with("data.displayName: invalid type"));
}

#[test]
fn asyncapi_document_is_valid_asyncapi_3() {
    let schema = read_json(&schemas_dir().join("vendor/asyncapi-3.0.0.schema.json"));
    let doc = read_json(&schemas_dir().join("asyncapi.json"));
    let validator =
        jsonschema::validator_for(&schema).expect("the AsyncAPI schema compiles offline");

    let errors: Vec<String> = validator
        .iter_errors(&doc)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();

    assert!(errors.is_empty(), "{errors:#?}");
    let addresses: Vec<&str> = doc["channels"]
        .as_object()
        .unwrap()
        .values()
        .filter_map(|c| c["address"].as_str())
        .collect();
    for routing_key in [
        events::EmployeeHired::TYPE,
        events::DevicePurchased::TYPE,
        events::DeviceShipped::TYPE,
        // The outcome types belong to their services (e2e `converge` checks them there).
        "onboarding.user.ready",
        "onboarding.device.registered",
        "onboarding.device.assigned",
    ] {
        assert!(
            addresses.contains(&routing_key),
            "no channel for {routing_key}"
        );
    }
    for message in doc["components"]["messages"].as_object().unwrap().values() {
        if let Some(file) = message["payload"]["$ref"]
            .as_str()
            .and_then(|r| r.strip_prefix("./"))
        {
            assert!(schemas_dir().join(file).exists(), "payload {file} missing");
        }
    }
}

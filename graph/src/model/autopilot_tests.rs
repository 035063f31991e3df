//! Tests for the Autopilot types: import outcomes, id clean-up, redaction, identifiers.

use super::*;

fn record(status: &str, name: &str, reg: &str) -> ImportedDevice {
    serde_json::from_value(serde_json::json!({
        "id": "r1", "serialNumber": "S1", "importId": "imp-1",
        "state": {"deviceImportStatus": status, "deviceRegistrationId": reg,
                  "deviceErrorCode": 0, "deviceErrorName": name}
    }))
    .unwrap()
}

#[test]
fn import_states_map_to_outcomes() {
    assert_eq!(
        record("unknown", "", "").outcome(),
        ImportOutcome::InProgress
    );
    assert_eq!(
        record("pending", "", "").outcome(),
        ImportOutcome::InProgress
    );
    assert_eq!(
        record("complete", "", "ztd-1").outcome(),
        ImportOutcome::Complete {
            device: Some(AutopilotDeviceId::new("ztd-1"))
        }
    );
    assert_eq!(
        record("complete", "", "").outcome(),
        ImportOutcome::Complete { device: None }
    );
    assert_eq!(
        record("error", "ZtdDeviceAlreadyAssigned", "").outcome(),
        ImportOutcome::AlreadyRegisteredHere
    );
    assert_eq!(
        record("newFutureValue", "Mystery", "").outcome(),
        ImportOutcome::Failed {
            name: "Mystery".into(),
            code: Some(0)
        }
    );
}

#[test]
fn both_spellings_of_other_tenant_are_recognised() {
    for name in [
        "ZtdDeviceAssignedToOtherTenant",
        "ZtdDeviceAssignedToAnotherTenant",
    ] {
        assert_eq!(
            record("error", name, "").outcome(),
            ImportOutcome::AssignedToOtherTenant
        );
    }
}

#[test]
fn entra_device_id_ignores_empty_and_zero_guids() {
    let dev = |v: serde_json::Value| -> AutopilotDevice {
        let mut base = serde_json::json!({"id": "a1", "serialNumber": "S1"});
        base.as_object_mut()
            .unwrap()
            .extend(v.as_object().unwrap().clone());
        serde_json::from_value(base).unwrap()
    };
    assert_eq!(
        dev(serde_json::json!({"azureActiveDirectoryDeviceId": EMPTY_GUID})).entra_device_id(),
        None
    );
    assert_eq!(
        dev(serde_json::json!({"azureActiveDirectoryDeviceId": ""})).entra_device_id(),
        None
    );
    assert_eq!(
        dev(serde_json::json!({"azureAdDeviceId": "d-1"})).entra_device_id(),
        Some(EntraDeviceId::new("d-1"))
    );
}

#[test]
fn corporate_identifier_removes_periods_from_the_serial() {
    let serial: SerialNumber = "02.234.567".parse().unwrap();
    let id =
        CorporateIdentifier::manufacturer_model_serial("Lenovo", "thinkpad t14", &serial).unwrap();
    assert_eq!(id.as_str(), "Lenovo,thinkpad t14,02234567");
    assert!(CorporateIdentifier::manufacturer_model_serial("A,B", "m", &serial).is_err());
    assert!(CorporateIdentifier::manufacturer_model_serial("", "m", &serial).is_err());
}

#[test]
fn new_import_debug_never_shows_the_hash() {
    let imp = NewImport {
        serial: "S1".parse().unwrap(),
        hardware_hash: "T0FBQUFBQUFBQUFBQUFBQQ==".into(),
        group_tag: None,
        product_key: None,
        assigned_upn: None,
        import_id: ImportId::new("i"),
    };
    let text = format!("{imp:?}");
    assert!(!text.contains("T0FBQUFB"), "{text}");
    assert!(text.contains("24 chars"), "{text}");
}

#[test]
fn settings_parse_graph_timestamps() {
    let s: AutopilotSettings = serde_json::from_str(
        r#"{"id":"x","lastSyncDateTime":"2026-11-25T10:00:00.1234567Z","lastManualSyncTriggerDateTime":"2026-11-25T09:58:00Z","syncStatus":"inProgress"}"#,
    )
    .unwrap();
    assert_eq!(s.sync_status, SyncStatus::InProgress);
    assert!(s.last_manual_sync_trigger_date_time.is_some());
}

#[test]
fn unreadable_or_offsetless_timestamps_do_not_break_the_settings() {
    let s: AutopilotSettings = serde_json::from_str(
        r#"{"lastSyncDateTime":"2026-11-25T10:00:00","lastManualSyncTriggerDateTime":"soon","syncStatus":"brandNew"}"#,
    )
    .unwrap();
    assert!(s.last_sync_date_time.is_some());
    assert_eq!(s.last_manual_sync_trigger_date_time, None);
    assert_eq!(s.sync_status, SyncStatus::Other);
    let empty: AutopilotSettings = serde_json::from_str("{}").unwrap();
    assert_eq!(empty.last_sync_date_time, None);
}

#[test]
fn outcomes_explain_themselves_to_an_admin() {
    let other = record("error", "ZtdDeviceAssignedToAnotherTenant", "").outcome();
    assert!(other.to_string().contains("deregister"), "{other}");
    let failed = record("error", "", "").outcome();
    assert_eq!(
        failed.to_string(),
        "the Autopilot import failed (no error name, code 0); check the import in Intune"
    );
}

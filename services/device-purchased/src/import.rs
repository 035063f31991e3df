//! Steps 1 and 2: the Autopilot device for a serial, registered by a hardware-hash import when
//! it is not there yet. The import is asynchronous (graph-behaviour §5): this module never waits for
//! it. It starts it, or reads how far it got, and answers "still in progress" (a transient
//! error the runtime parks on a delay tier) until it is complete or has failed.
//!
//! Our import records carry an `importId` derived from the serial alone, so every delivery of
//! the same purchase (duplicates, replays, a restarted process) finds the same records, and only
//! those are ever deleted — never other admins' imports (graph-behaviour §15).
//!
//! Not for: what happens once the device is registered (`handler.rs`).

use graph::GraphClient;
use graph::model::{AutopilotDevice, ImportId, ImportOutcome, ImportedDevice, NewImport};
use serde::Serialize;
use shared::events::DevicePurchased;
use shared::ids::{HardwareHash, SerialNumber};
use time::OffsetDateTime;
use tracing::Span;
use tracing::field::Empty;

use crate::error::DevicePurchasedError;
use crate::ledger::{ImportLedger, KnownImports};

/// Namespace of our `importId`s (a UUIDv5 of the upper-cased serial in it). Fixed forever:
/// changing it would orphan the import records of purchases in flight.
const IMPORT_ID_NAMESPACE: uuid::Uuid = uuid::uuid!("5b0c7f7e-2a41-4f7d-9d0e-3c5a8e1f6b92");

/// The `importId` of every import this service makes for `serial`.
pub fn import_id_for(serial: &SerialNumber) -> ImportId {
    let key = serial.key();
    ImportId::new(uuid::Uuid::new_v5(&IMPORT_ID_NAMESPACE, key.as_bytes()).to_string())
}

/// How the device came to be registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum How {
    /// It was registered before this purchase; nothing imported.
    AlreadyRegistered,
    /// Our import registered it.
    Imported,
    /// Our import ended in `ZtdDeviceAlreadyAssigned` (806): it was registered here already.
    AlreadyRegisteredHere,
}

/// What steps 1 and 2 found or did.
#[derive(Debug, Clone)]
pub enum Registration {
    /// Autopilot lists the device for the serial.
    Registered {
        /// The Autopilot device whose serial is exactly the purchase's.
        device: Box<AutopilotDevice>,
        /// Whether it was there before or our import registered it.
        how: How,
        /// Our import records (all terminal once the device is found), to delete at the end.
        ours: Vec<ImportedDevice>,
    },
    /// Shadow mode: the import would have been sent; there is nothing to follow.
    WouldImport,
}

/// Finds the Autopilot device for the purchase, importing its hardware hash when it is not
/// registered and following our import on each delivery until it is complete or failed.
#[tracing::instrument(skip_all, fields(serial = %purchase.serial_number, registration = Empty))]
pub async fn ensure_registered(
    graph: &GraphClient,
    ledger: &ImportLedger,
    known: &mut KnownImports,
    purchase: &DevicePurchased,
    hash: &HardwareHash,
    import_deadline: OffsetDateTime,
) -> Result<Registration, DevicePurchasedError> {
    let serial = &purchase.serial_number;
    let import_id = import_id_for(serial);
    let ours = ledger.ours(graph, known, &import_id).await?;
    let registration = match resolve_autopilot_device(graph, serial).await? {
        Some(device) => Registration::Registered {
            how: how_registered(&ours),
            device: Box::new(device),
            ours,
        },
        None if ours.is_empty() => {
            let new = new_import(purchase, hash, import_id);
            let record = match graph.import_autopilot_device(&new).await {
                Ok(record) => record,
                Err(e) => {
                    // It may have been applied (a timeout): find it by listing next time.
                    known.forget();
                    return Err(e.into());
                }
            };
            if record.id.is_shadow() {
                Registration::WouldImport
            } else {
                tracing::info!(import.record = %record.id, "Hardware hash imported into Autopilot.");
                known.remember(record.id);
                return Err(DevicePurchasedError::ImportInProgress(serial.clone()));
            }
        }
        None => follow_import(graph, ledger, known, serial, ours, import_deadline).await?,
    };
    let label = match &registration {
        Registration::Registered { how, .. } => format!("{how:?}"),
        Registration::WouldImport => "WouldImport".to_owned(),
    };
    Span::current().record("registration", label);
    Ok(registration)
}

/// The one Autopilot device whose serial is exactly `serial` (the client copes with graph-behaviour §6's
/// filter quirks); several is a tenant problem an admin must resolve.
pub async fn resolve_autopilot_device(
    graph: &GraphClient,
    serial: &SerialNumber,
) -> Result<Option<AutopilotDevice>, DevicePurchasedError> {
    let mut found = graph.autopilot_devices_by_serial(serial).await?;
    match found.len() {
        0 | 1 => Ok(found.pop()),
        count => Err(DevicePurchasedError::AmbiguousSerial {
            serial: serial.clone(),
            count,
        }),
    }
}

/// Our import exists but the device is not listed: read how far the import got.
async fn follow_import(
    graph: &GraphClient,
    ledger: &ImportLedger,
    known: &mut KnownImports,
    serial: &SerialNumber,
    ours: Vec<ImportedDevice>,
    import_deadline: OffsetDateTime,
) -> Result<Registration, DevicePurchasedError> {
    let Some(record) = most_telling(&ours) else {
        unreachable!("follow_import is called with at least one record")
    };
    match record.outcome() {
        ImportOutcome::InProgress if OffsetDateTime::now_utc() >= import_deadline => {
            // Not terminal: the record stays, as it may still complete.
            Err(DevicePurchasedError::ImportTooSlow {
                serial: serial.clone(),
            })
        }
        ImportOutcome::InProgress => Err(DevicePurchasedError::ImportInProgress(serial.clone())),
        ImportOutcome::Complete { device: Some(id) } => match graph.autopilot_device(&id).await? {
            Some(device) => Ok(Registration::Registered {
                device: Box::new(device),
                how: How::Imported,
                ours,
            }),
            None => Err(DevicePurchasedError::DeviceNotListed(serial.clone())),
        },
        // Imported (or already here, 806), yet not listed by serial: Autopilot lags; look
        // again, until the deadline says the serial will not appear (806 for a hash that is
        // registered under another serial, say).
        ImportOutcome::Complete { device: None } | ImportOutcome::AlreadyRegisteredHere
            if OffsetDateTime::now_utc() >= import_deadline =>
        {
            remove_finished_imports(graph, ledger, known, serial, &ours).await?;
            Err(DevicePurchasedError::DeviceNeverListed {
                serial: serial.clone(),
                outcome: record.outcome(),
            })
        }
        ImportOutcome::Complete { device: None } | ImportOutcome::AlreadyRegisteredHere => {
            Err(DevicePurchasedError::DeviceNotListed(serial.clone()))
        }
        ImportOutcome::StorageError => {
            // Terminal: remove it, so the next delivery imports afresh.
            remove_finished_imports(graph, ledger, known, serial, &ours).await?;
            Err(DevicePurchasedError::ImportStorageError(serial.clone()))
        }
        rejected => {
            remove_finished_imports(graph, ledger, known, serial, &ours).await?;
            Err(DevicePurchasedError::ImportRejected {
                serial: serial.clone(),
                code: record.state.device_error_code,
                outcome: rejected,
            })
        }
    }
}

/// Deletes our import records once all of them are terminal (complete or error); a record
/// still in progress makes the delivery come back later rather than leave it behind.
#[tracing::instrument(skip_all, fields(serial = %serial, deleted = Empty))]
pub async fn remove_finished_imports(
    graph: &GraphClient,
    ledger: &ImportLedger,
    known: &mut KnownImports,
    serial: &SerialNumber,
    ours: &[ImportedDevice],
) -> Result<usize, DevicePurchasedError> {
    if ours
        .iter()
        .any(|r| r.outcome() == ImportOutcome::InProgress)
    {
        return Err(DevicePurchasedError::ImportInProgress(serial.clone()));
    }
    let deleted = ledger.delete(graph, known, ours).await?;
    Span::current().record("deleted", deleted);
    Ok(deleted)
}

/// Of several records of ours (two processes raced, or a retry), the one that says most:
/// a completed import, then one in progress, then 806, then a retryable failure, then the rest.
fn most_telling(ours: &[ImportedDevice]) -> Option<&ImportedDevice> {
    let rank = |r: &ImportedDevice| match r.outcome() {
        ImportOutcome::Complete { device: Some(_) } => 0,
        ImportOutcome::Complete { device: None } => 1,
        ImportOutcome::InProgress => 2,
        ImportOutcome::AlreadyRegisteredHere => 3,
        ImportOutcome::StorageError => 4,
        _ => 5,
    };
    ours.iter().min_by_key(|r| rank(r))
}

fn how_registered(ours: &[ImportedDevice]) -> How {
    match most_telling(ours).map(ImportedDevice::outcome) {
        Some(ImportOutcome::Complete { .. }) => How::Imported,
        Some(ImportOutcome::AlreadyRegisteredHere) => How::AlreadyRegisteredHere,
        _ => How::AlreadyRegistered,
    }
}

fn new_import(purchase: &DevicePurchased, hash: &HardwareHash, import_id: ImportId) -> NewImport {
    NewImport {
        serial: purchase.serial_number.clone(),
        hardware_hash: hash.as_str().to_owned(),
        group_tag: purchase.group_tag.as_ref().map(|t| t.as_str().to_owned()),
        product_key: purchase.product_key.clone(),
        // Assigning the user is device-shipped's step, once the device is on its way.
        assigned_upn: None,
        import_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn import_ids_depend_on_the_serial_only_and_ignore_case() {
        let a = import_id_for(&"PF-2X3Y4Z".parse().unwrap());
        assert_eq!(a, import_id_for(&"pf-2x3y4z".parse().unwrap()));
        assert_ne!(a, import_id_for(&"PF-2X3Y40".parse().unwrap()));
        assert!(uuid::Uuid::parse_str(a.as_str()).is_ok());
    }

    fn record(status: &str, name: &str) -> ImportedDevice {
        serde_json::from_value(serde_json::json!({
            "id": format!("{status}-{name}"),
            "state": { "deviceImportStatus": status, "deviceRegistrationId": "dev-1", "deviceErrorName": name }
        }))
        .unwrap()
    }

    #[test]
    fn a_completed_import_wins_over_a_failed_duplicate() {
        let ours = [
            record("error", "ZtdDeviceAlreadyAssigned"),
            record("complete", ""),
        ];
        assert_eq!(most_telling(&ours).unwrap().id.as_str(), "complete-");
        assert_eq!(how_registered(&ours), How::Imported);
        assert_eq!(
            how_registered(&[record("error", "ZtdDeviceAlreadyAssigned")]),
            How::AlreadyRegisteredHere
        );
        assert_eq!(how_registered(&[]), How::AlreadyRegistered);
    }
}

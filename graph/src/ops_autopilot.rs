//! Autopilot and corporate-identifier operations (graph-behaviour §5–§7, §9): finding devices by
//! serial despite Graph's filter quirks, import records we created, the tenant-wide sync, user
//! assignment and device properties. Shadow-mode results are documented on each write.
//!
//! Not for: following an import over time (handlers park that wait on the broker).

use reqwest::Method;

use super::call::{Call, Sent, Version};
use super::client::{Core, GraphClient};
use super::error::{GraphError, Operation};
use super::escape::{filter_literal, segment};
use super::model::{
    AutopilotDevice, AutopilotDeviceId, AutopilotSettings, DeviceProperties, ImportId, ImportState,
    ImportStatus, ImportedDevice, ImportedDeviceId, NewImport, Removal, SyncOutcome,
};
use super::ops_directory::found;
use shared::ids::{SerialNumber, Upn};

const READ_AUTOPILOT: Operation = Operation {
    name: "read Autopilot devices",
    permission: "DeviceManagementServiceConfig.Read.All",
};
const WRITE_AUTOPILOT: Operation = Operation {
    name: "change Autopilot devices",
    permission: "DeviceManagementServiceConfig.ReadWrite.All",
};
/// One record of a bulk status read: the id asked for, and what Graph answered for it.
pub type ImportStatusRead = (ImportedDeviceId, Result<Option<ImportedDevice>, GraphError>);

const DEVICES: &str = "/deviceManagement/windowsAutopilotDeviceIdentities";
const IMPORTS: &str = "/deviceManagement/importedWindowsAutopilotDeviceIdentities";

/// How to ask Graph for a serial (graph-behaviour §6): `eq` is a 400, `contains` is a 400 with a hyphen and
/// misses serials with spaces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SerialQuery {
    /// `$filter=contains(serialNumber,'…')` with this needle, then an exact compare.
    Contains(String),
    /// List every page and compare locally.
    ListAll,
}

pub fn serial_query(serial: &SerialNumber) -> SerialQuery {
    let raw = serial.as_str();
    let needle = raw.split(' ').next().unwrap_or(raw);
    if needle.contains('-') || needle.is_empty() {
        SerialQuery::ListAll
    } else {
        SerialQuery::Contains(needle.to_owned())
    }
}

impl GraphClient {
    /// Autopilot devices whose serial is exactly `serial`: `GET /v1.0/deviceManagement/windowsAutopilotDeviceIdentities`
    /// with `$filter=contains(serialNumber,'…')` (the part before the first space), falling back
    /// to listing every page when the serial has a hyphen or Graph answers 400.
    pub async fn autopilot_devices_by_serial(
        &self,
        serial: &SerialNumber,
    ) -> Result<Vec<AutopilotDevice>, GraphError> {
        let list = Call::get(Version::V1, DEVICES, DEVICES.into(), READ_AUTOPILOT);
        let candidates = match serial_query(serial) {
            SerialQuery::Contains(needle) => {
                let filtered = list.clone().query(
                    "$filter",
                    format!("contains(serialNumber,{})", filter_literal(&needle)),
                );
                match self.core.read_all::<AutopilotDevice>(&filtered).await {
                    Err(GraphError::BadRequest { status: 400, .. }) => {
                        tracing::warn!(url.template = %list.route, "contains() filter refused; listing all Autopilot devices.");
                        self.core.read_all(&list).await?
                    }
                    other => other?,
                }
            }
            SerialQuery::ListAll => self.core.read_all(&list).await?,
        };
        // contains() is a substring match: only the whole serial is ours. Compared without ASCII
        // case: Graph's filter ignores case too, and a serial typed in lower case by procurement
        // must still find the device Intune stores in upper case.
        Ok(candidates
            .into_iter()
            .filter(|d| d.serial_number.eq_ignore_ascii_case(serial.as_str()))
            .collect())
    }

    /// `GET /v1.0/deviceManagement/windowsAutopilotDeviceIdentities/{id}`; 404 → `None`.
    pub async fn autopilot_device(
        &self,
        id: &AutopilotDeviceId,
    ) -> Result<Option<AutopilotDevice>, GraphError> {
        let call = Call::get(
            Version::V1,
            "/deviceManagement/windowsAutopilotDeviceIdentities/{id}",
            format!("{DEVICES}/{}", segment(id.as_str())),
            READ_AUTOPILOT,
        );
        found(
            self.core
                .read(&call)
                .await
                .and_then(|r| Core::json(&call, &r)),
        )
    }

    /// `POST /v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities` → 201 + record.
    /// Not retried after a timeout (a second POST would duplicate the import): the caller finds
    /// the record by `import_id` instead. Shadow mode: a record with id `dry-run:{import_id}`
    /// in state `unknown`.
    pub async fn import_autopilot_device(
        &self,
        new: &NewImport,
    ) -> Result<ImportedDevice, GraphError> {
        let body = serde_json::json!({
            "@odata.type": "#microsoft.graph.importedWindowsAutopilotDeviceIdentity",
            "serialNumber": new.serial.as_str(),
            "hardwareIdentifier": new.hardware_hash,
            "groupTag": new.group_tag.clone().unwrap_or_default(),
            "productKey": new.product_key.clone().unwrap_or_default(),
            "importId": new.import_id,
            "assignedUserPrincipalName": new.assigned_upn.clone().unwrap_or_default(),
            "state": { "deviceImportStatus": "pending", "deviceRegistrationId": "", "deviceErrorCode": 0, "deviceErrorName": "" }
        });
        let op = Operation {
            name: "import Autopilot device",
            ..WRITE_AUTOPILOT
        };
        let call = Call::new(Method::POST, Version::V1, IMPORTS, IMPORTS.into(), op)
            .body(body)
            .not_idempotent();
        let written = self.core.write(&call).await;
        match written.map_err(|e| e.without_echo_of(&new.hardware_hash, "the hardware hash"))? {
            Sent::Reply(r) => Core::json(&call, &r),
            Sent::Shadowed => Ok(ImportedDevice {
                id: ImportedDeviceId::shadow(&new.import_id),
                serial_number: new.serial.as_str().to_owned(),
                group_tag: new.group_tag.clone(),
                import_id: Some(new.import_id.clone()),
                assigned_user_principal_name: new.assigned_upn.clone(),
                state: ImportState {
                    device_import_status: ImportStatus::Unknown,
                    ..Default::default()
                },
            }),
        }
    }

    /// `GET /v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/{id}`; 404 → `None`.
    /// A shadow-mode record id (`dry-run:…`) is never sent to Graph and answers `None`.
    pub async fn imported_device(
        &self,
        id: &ImportedDeviceId,
    ) -> Result<Option<ImportedDevice>, GraphError> {
        if id.is_shadow() {
            return Ok(None);
        }
        let path = format!("{IMPORTS}/{}", segment(id.as_str()));
        let call = Call::get(
            Version::V1,
            "/deviceManagement/importedWindowsAutopilotDeviceIdentities/{id}",
            path,
            READ_AUTOPILOT,
        );
        found(
            self.core
                .read(&call)
                .await
                .and_then(|r| Core::json(&call, &r)),
        )
    }

    /// `GET /v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities`, all pages.
    pub async fn imported_devices(&self) -> Result<Vec<ImportedDevice>, GraphError> {
        self.core
            .read_all(&Call::get(
                Version::V1,
                IMPORTS,
                IMPORTS.into(),
                READ_AUTOPILOT,
            ))
            .await
    }

    /// Our import records: `imported_devices()` filtered locally on `importId` (no documented
    /// `$filter` for it), so we never touch other admins' imports (graph-behaviour §15).
    pub async fn imported_devices_with_import_id(
        &self,
        import_id: &ImportId,
    ) -> Result<Vec<ImportedDevice>, GraphError> {
        let all = self.imported_devices().await?;
        Ok(all
            .into_iter()
            .filter(|d| d.import_id.as_ref() == Some(import_id))
            .collect())
    }

    /// Bulk status read of import records: `POST /v1.0/$batch` with up to 20
    /// `GET /deviceManagement/importedWindowsAutopilotDeviceIdentities/{id}` items per request
    /// (throttled items re-sent after their Retry-After). Per record, 404 → `None`.
    pub async fn imported_devices_by_ids(
        &self,
        ids: &[ImportedDeviceId],
    ) -> Result<Vec<ImportStatusRead>, GraphError> {
        let urls: Vec<String> = ids
            .iter()
            .map(|id| format!("{IMPORTS}/{}", segment(id.as_str())))
            .collect();
        let answers = self
            .core
            .batch_get(Version::V1, READ_AUTOPILOT, &urls)
            .await?;
        Ok(ids
            .iter()
            .cloned()
            .zip(answers)
            .map(|(id, answer)| {
                let record = answer.and_then(|body| {
                    serde_json::from_value(body).map_err(|e| GraphError::InvalidResponse {
                        operation: READ_AUTOPILOT.name,
                        detail: format!("cannot decode an import record: {e}"),
                    })
                });
                (id, found(record))
            })
            .collect())
    }

    /// `DELETE /v1.0/deviceManagement/importedWindowsAutopilotDeviceIdentities/{id}`; 404 →
    /// `AlreadyGone`. Shadow mode: `Deleted`; a shadow-mode record id answers `AlreadyGone`.
    pub async fn delete_imported_device(
        &self,
        id: &ImportedDeviceId,
    ) -> Result<Removal, GraphError> {
        if id.is_shadow() {
            return Ok(Removal::AlreadyGone);
        }
        let path = format!("{IMPORTS}/{}", segment(id.as_str()));
        let op = Operation {
            name: "delete Autopilot import record",
            ..WRITE_AUTOPILOT
        };
        let call = Call::new(
            Method::DELETE,
            Version::V1,
            "/deviceManagement/importedWindowsAutopilotDeviceIdentities/{id}",
            path,
            op,
        );
        match found(self.core.write(&call).await)? {
            Some(_) => Ok(Removal::Deleted),
            None => Ok(Removal::AlreadyGone),
        }
    }

    /// `POST /beta/deviceManagement/windowsAutopilotSettings/sync`: 204 `Started`, 409
    /// `AlreadyRunning`, 429 `TooSoon` (the 10-minute guard; never retried in-call). Shadow
    /// mode: `Started`.
    pub async fn sync_autopilot(&self) -> Result<SyncOutcome, GraphError> {
        let op = Operation {
            name: "sync Autopilot",
            ..WRITE_AUTOPILOT
        };
        let path = "/deviceManagement/windowsAutopilotSettings/sync";
        let call = Call::new(Method::POST, Version::Beta, path, path.into(), op)
            .accept(&[409, 429])
            .not_idempotent();
        Ok(match self.core.write(&call).await? {
            Sent::Shadowed => SyncOutcome::Started,
            Sent::Reply(r) if r.status == 409 => SyncOutcome::AlreadyRunning,
            Sent::Reply(r) if r.status == 429 => SyncOutcome::TooSoon,
            Sent::Reply(_) => SyncOutcome::Started,
        })
    }

    /// `GET /beta/deviceManagement/windowsAutopilotSettings`.
    pub async fn autopilot_settings(&self) -> Result<AutopilotSettings, GraphError> {
        let path = "/deviceManagement/windowsAutopilotSettings";
        let call = Call::get(Version::Beta, path, path.into(), READ_AUTOPILOT);
        Core::json(&call, &self.core.read(&call).await?)
    }

    /// `POST /v1.0/deviceManagement/windowsAutopilotDeviceIdentities/{id}/assignUserToDevice`.
    /// Shadow mode: `Ok(())`.
    pub async fn assign_user_to_device(
        &self,
        id: &AutopilotDeviceId,
        upn: &Upn,
        addressable_user_name: &str,
    ) -> Result<(), GraphError> {
        let path = format!("{DEVICES}/{}/assignUserToDevice", segment(id.as_str()));
        let op = Operation {
            name: "assign user to Autopilot device",
            ..WRITE_AUTOPILOT
        };
        let call = Call::new(Method::POST, Version::V1, "/deviceManagement/windowsAutopilotDeviceIdentities/{id}/assignUserToDevice", path, op)
            .body(serde_json::json!({ "userPrincipalName": upn.as_str(), "addressableUserName": addressable_user_name }));
        self.core.write(&call).await.map(|_| ())
    }

    /// `POST /v1.0/deviceManagement/windowsAutopilotDeviceIdentities/{id}/updateDeviceProperties`
    /// with only the fields set in `props` (nothing set: nothing sent). Shadow mode: `Ok(())`.
    pub async fn update_device_properties(
        &self,
        id: &AutopilotDeviceId,
        props: &DeviceProperties,
    ) -> Result<(), GraphError> {
        if *props == DeviceProperties::default() {
            return Ok(());
        }
        let path = format!("{DEVICES}/{}/updateDeviceProperties", segment(id.as_str()));
        let op = Operation {
            name: "update Autopilot device properties",
            ..WRITE_AUTOPILOT
        };
        let body = serde_json::to_value(props).unwrap_or_default();
        let call = Call::new(
            Method::POST,
            Version::V1,
            "/deviceManagement/windowsAutopilotDeviceIdentities/{id}/updateDeviceProperties",
            path,
            op,
        )
        .body(body);
        self.core.write(&call).await.map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(s: &str) -> SerialQuery {
        serial_query(&s.parse().unwrap())
    }

    #[test]
    fn serial_query_avoids_graph_filter_quirks() {
        assert_eq!(q("PF2X3Y4Z"), SerialQuery::Contains("PF2X3Y4Z".into()));
        assert_eq!(q("PF-2X3Y4Z"), SerialQuery::ListAll);
        assert_eq!(q("VMware 56 4d 12"), SerialQuery::Contains("VMware".into()));
        assert_eq!(q("VMware-56 4d 12"), SerialQuery::ListAll);
    }
}

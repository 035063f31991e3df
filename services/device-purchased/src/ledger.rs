//! Reading our import records reliably. Graph has no filter on `importId`, so finding our
//! records means listing every import record page by page — and the pages are offsets: a record
//! deleted while another delivery lists shifts the rest, and that listing silently skips one.
//! A skipped record means a second import or an orphaned record. So:
//!
//! - each serial is listed at most once per process; after that the ids this process learned
//!   (from the listing or the import's answer) are read one by one;
//! - listings and deletions of this process exclude each other (a read/write lock), so no
//!   listing of ours sees our own deletions half-way.
//!
//! Not for: deciding what a record means (`import.rs`). Deletions by another replica can still
//! shift a listing; the worst outcome is an 806 (taken as success) or a terminal record left.

use std::collections::HashMap;
use std::sync::Mutex;

use graph::GraphClient;
use graph::GraphError;
use graph::model::{ImportId, ImportedDevice, ImportedDeviceId, Removal};
use shared::ids::SerialNumber;

use crate::serial_lock::SerialLocks;

#[derive(Debug, Default)]
pub struct ImportLedger {
    /// Per serial, the ids of our records this process knows; absent = list to find out.
    known: Mutex<HashMap<String, Vec<ImportedDeviceId>>>,
    /// Read: a listing is paging. Write: a deletion is being sent.
    paging: tokio::sync::RwLock<()>,
}

impl ImportLedger {
    /// Our import records for `serial`, as Graph holds them now.
    pub async fn ours(
        &self,
        graph: &GraphClient,
        serial: &SerialNumber,
        import_id: &ImportId,
    ) -> Result<Vec<ImportedDevice>, GraphError> {
        let known = self.known_ids(serial);
        let records = match known {
            Some(ids) => {
                let mut records = Vec::with_capacity(ids.len());
                for id in &ids {
                    records.extend(graph.imported_device(id).await?);
                }
                records
            }
            None => {
                let _listing = self.paging.read().await;
                graph.imported_devices_with_import_id(import_id).await?
            }
        };
        self.set_known(serial, records.iter().map(|r| r.id.clone()).collect());
        Ok(records)
    }

    /// Records the answer of our import POST.
    pub fn remember(&self, serial: &SerialNumber, id: ImportedDeviceId) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.entry(SerialLocks::key(serial)).or_default().push(id);
    }

    /// After an import POST failed: it may have been applied, so list next time.
    pub fn forget(&self, serial: &SerialNumber) {
        self.forget_key(&SerialLocks::key(serial));
    }

    /// [`ImportLedger::forget`] by the serial's key ([`SerialLocks::key`]).
    pub fn forget_key(&self, key: &str) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.remove(key);
    }

    /// How many serials have ids on record; for tests.
    pub fn tracked(&self) -> usize {
        self.known.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    /// Deletes `records`; Graph's 404 (already gone) counts as done.
    pub async fn delete(
        &self,
        graph: &GraphClient,
        serial: &SerialNumber,
        records: &[ImportedDevice],
    ) -> Result<usize, GraphError> {
        let mut deleted = 0;
        for record in records {
            let _deleting = self.paging.write().await;
            if graph.delete_imported_device(&record.id).await? == Removal::Deleted {
                deleted += 1;
            }
        }
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(ids) = known.get_mut(&SerialLocks::key(serial)) {
            ids.retain(|id| records.iter().all(|r| r.id != *id));
        }
        Ok(deleted)
    }

    fn known_ids(&self, serial: &SerialNumber) -> Option<Vec<ImportedDeviceId>> {
        let known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.get(&SerialLocks::key(serial)).cloned()
    }

    fn set_known(&self, serial: &SerialNumber, ids: Vec<ImportedDeviceId>) {
        let mut known = self.known.lock().unwrap_or_else(|p| p.into_inner());
        known.insert(SerialLocks::key(serial), ids);
    }
}

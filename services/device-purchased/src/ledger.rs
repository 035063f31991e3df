//! Reading our import records reliably. Graph has no filter on `importId`, so finding our
//! records means listing every import record page by page — and the pages are offsets: a record
//! deleted while another delivery lists shifts the rest, and that listing silently skips one.
//! A skipped record means a second import or an orphaned record. So:
//!
//! - each serial is listed at most once per process; after that the ids this process learned
//!   (from the listing or the import's answer) are read one by one. They are kept per serial in
//!   [`KnownImports`], part of the serial's state in `memory.rs`;
//! - listings and deletions of this process exclude each other (a read/write lock), so no
//!   listing of ours sees our own deletions half-way.
//!
//! Not for: deciding what a record means (`import.rs`). Deletions by another replica can still
//! shift a listing; the worst outcome is an 806 (taken as success) or a terminal record left.

use graph::GraphClient;
use graph::GraphError;
use graph::model::{ImportId, ImportedDevice, ImportedDeviceId, Removal};

/// The ids of one serial's import records of ours that this process knows.
#[derive(Debug, Default)]
pub struct KnownImports(
    /// `None`: not known, list to find out.
    Option<Vec<ImportedDeviceId>>,
);

impl KnownImports {
    /// Records the answer of our import POST.
    pub fn remember(&mut self, id: ImportedDeviceId) {
        self.0.get_or_insert_default().push(id);
    }

    /// After an import POST failed: it may have been applied, so list next time.
    pub fn forget(&mut self) {
        self.0 = None;
    }
}

/// Process-wide: keeps our listings and our deletions apart.
#[derive(Debug, Default)]
pub struct ImportLedger {
    /// Read: a listing is paging. Write: a deletion is being sent.
    paging: tokio::sync::RwLock<()>,
}

impl ImportLedger {
    /// Our import records (those of `known`, or all carrying `import_id`), as Graph holds them
    /// now; `known` is updated to what was found.
    pub async fn ours(
        &self,
        graph: &GraphClient,
        known: &mut KnownImports,
        import_id: &ImportId,
    ) -> Result<Vec<ImportedDevice>, GraphError> {
        let records = match &known.0 {
            Some(ids) => {
                let mut records = Vec::with_capacity(ids.len());
                for id in ids {
                    records.extend(graph.imported_device(id).await?);
                }
                records
            }
            None => {
                let _listing = self.paging.read().await;
                graph.imported_devices_with_import_id(import_id).await?
            }
        };
        known.0 = Some(records.iter().map(|r| r.id.clone()).collect());
        Ok(records)
    }

    /// Deletes `records`; Graph's 404 (already gone) counts as done.
    pub async fn delete(
        &self,
        graph: &GraphClient,
        known: &mut KnownImports,
        records: &[ImportedDevice],
    ) -> Result<usize, GraphError> {
        let mut deleted = 0;
        for record in records {
            let _deleting = self.paging.write().await;
            if graph.delete_imported_device(&record.id).await? == Removal::Deleted {
                deleted += 1;
            }
        }
        if let Some(ids) = &mut known.0 {
            ids.retain(|id| records.iter().all(|r| r.id != *id));
        }
        Ok(deleted)
    }
}

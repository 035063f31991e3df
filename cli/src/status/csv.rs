//! `status --from-csv FILE`: every row of an HR CSV (each hire, start dates judged) or of a
//! hardware-hash CSV (each device, against its assigned user), told apart by the header.
//!
//! Not for: publishing the rows (`publish --from-csv` reads the same files).

use std::path::Path;

use anyhow::Context as _;
use graph::GraphClient;
use shared::config::Settings;
use time::Date;

use super::{Subject, device::device, user::user};
use crate::intake::{self, autopilot, hr};

/// The subjects of every valid row, and the rows that did not parse.
pub(super) async fn subjects(
    graph: &GraphClient,
    settings: &Settings,
    path: &Path,
    today: Date,
) -> anyhow::Result<(Vec<Subject>, Vec<intake::RowError>)> {
    let bytes = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let mut subjects = Vec::new();
    if is_hr_csv(&bytes) {
        let parsed = hr::parse(&bytes).with_context(|| path.display().to_string())?;
        for row in &parsed.rows {
            let department = row.department.as_deref();
            subjects.push(user(graph, settings, &row.upn, department, row.start_date, today).await);
        }
        Ok((subjects, parsed.rejected))
    } else {
        let parsed = autopilot::parse(&bytes).with_context(|| path.display().to_string())?;
        for row in &parsed.rows {
            subjects.push(device(graph, settings, &row.serial, row.assigned_user.as_ref()).await);
        }
        Ok((subjects, parsed.rejected))
    }
}

/// An HR CSV has an `employeeId` column (in any spelling `intake` accepts).
fn is_hr_csv(bytes: &[u8]) -> bool {
    let header = intake::decode::decode_text(bytes)
        .map(|(text, _)| text.lines().next().unwrap_or("").to_owned())
        .unwrap_or_default();
    intake::columns::fold(&header).contains("employeeid")
}

//! Bulk intake: reads the CSV files admins already have, validates every row before anything is
//! published, and reports each bad row with its line number and reason. A file is never
//! half-published: rows that fail are skipped and counted, the rest go out.
//!
//! Not for: publishing (`publish.rs`) or the event model (`shared::events`).

pub mod autopilot;
pub mod columns;
pub mod decode;
pub mod events;
pub mod hr;

use std::fmt;

/// A row that was skipped, and why, in an admin's words.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RowError {
    /// 1-based line in the file, header included, as an editor shows it.
    pub line: u64,
    /// What is wrong with the row, naming the column as the file's header does.
    pub reason: String,
}

impl fmt::Display for RowError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}: {}", self.line, self.reason)
    }
}

/// What a file held: the rows that passed, the rows that did not, and facts worth reporting.
#[derive(Debug)]
pub struct Parsed<R> {
    /// The rows that passed every check, in file order; blank lines are not rows.
    pub rows: Vec<R>,
    /// The rows that were skipped, each with its line and reason, in file order.
    pub rejected: Vec<RowError>,
    /// The encoding the file's bytes turned out to be in.
    pub encoding: decode::SourceEncoding,
    /// Header cells that matched no known column (ignored).
    pub unknown_columns: Vec<String>,
}

/// The file as a whole cannot be read: nothing in it is published.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    /// The bytes are not valid text in the encoding their BOM names.
    #[error(transparent)]
    Decode(#[from] decode::DecodeError),
    /// The file is empty, or its first line has only blank cells.
    #[error("the file has no header row")]
    Empty,
    /// A required column is absent: the column as admins spell it, and the header cells found.
    #[error("the header has no {0:?} column (found: {1})")]
    MissingColumn(&'static str, String),
    /// The CSV reader could not read the file's structure.
    #[error("line {line}: {source}")]
    Csv {
        /// The 1-based line where reading failed.
        line: u64,
        /// The CSV reader's error.
        source: csv::Error,
    },
}

/// Reads a CSV text into records with their line numbers; shared by both file kinds.
fn records(text: &str) -> Result<(csv::StringRecord, Vec<(u64, csv::StringRecord)>), FileError> {
    // The csv crate counts a CRLF file's lines one short (seen with csv 1.4); Windows tools write
    // CRLF, and the line numbers we report must match the admin's editor, so read LF only.
    let text = text.replace("\r\n", "\n");
    let mut reader = csv::ReaderBuilder::new()
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let headers = reader.headers().map_err(|e| csv_error(e, 1))?.clone();
    if headers.iter().all(|h| h.trim().is_empty()) {
        return Err(FileError::Empty);
    }
    let mut out = Vec::new();
    for result in reader.records() {
        let record = result.map_err(|e| csv_error(e, 0))?;
        let line = record.position().map_or(0, |p| p.line());
        if record.iter().all(|cell| cell.is_empty()) {
            continue; // blank lines (a trailing CRLF, an Excel export) are not rows
        }
        out.push((line, record));
    }
    Ok((headers, out))
}

fn csv_error(e: csv::Error, fallback_line: u64) -> FileError {
    let line = e.position().map_or(fallback_line, |p| p.line());
    FileError::Csv { line, source: e }
}

/// Fails the whole file when a required column is absent; `shown` is the column as admins spell it.
fn require(
    cols: &columns::Columns,
    canonical: &str,
    shown: &'static str,
    headers: &csv::StringRecord,
) -> Result<(), FileError> {
    if cols.has(canonical) {
        Ok(())
    } else {
        let found = headers.iter().collect::<Vec<_>>().join(", ");
        Err(FileError::MissingColumn(shown, found))
    }
}

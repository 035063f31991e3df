//! `--output table|json`: every verb prints through here, so scripts can parse any of them.
//! Under `json`, stdout carries exactly one JSON document: the verb's report, or the error
//! object `failure` prints when it failed.

use serde::Serialize;

/// How results (and, under `json`, errors) are printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Lines for a person.
    Table,
    /// One JSON document on stdout, for scripts.
    Json,
}

impl Output {
    /// Prints `value` as JSON, or the text `table` makes, on stdout.
    pub fn print<T: Serialize>(self, value: &T, table: impl FnOnce() -> String) {
        match self {
            Output::Json => println!(
                "{}",
                serde_json::to_string_pretty(value).expect("output serialises")
            ),
            Output::Table => println!("{}", table()),
        }
    }
}

/// Writes `bytes` as they are on stdout (a completion script, a manual page). Unlike
/// `println!`, a reader that went away is an error to return, not a panic.
pub fn write_stdout(bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()
}

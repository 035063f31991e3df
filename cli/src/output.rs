//! `--output table|json`: every verb prints through here, so scripts can parse any of them.

use serde::Serialize;

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

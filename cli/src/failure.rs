//! The error a run failed with, reported once, at the top, with its whole cause chain: for a
//! person `onboardctl: <error>: <cause>: ...` on stderr, always (as clap's own usage errors
//! are); under `--output json` also one JSON object on stdout, where the report would have
//! been, so a script reads exactly one document either way and the exit code says which it
//! got:
//!
//! ```json
//! { "error": "connecting to the broker (amqp.url)", "causes": ["Connection refused (os error 111)"], "exit_code": 1 }
//! ```
//!
//! Not for: choosing which errors exist (each verb's), or exit codes of finished runs (`exit`).

use std::ffi::OsString;

use serde::Serialize;

use crate::exit::Exit;
use crate::output::Output;

/// An error as `--output json` prints it.
#[derive(Debug, Serialize)]
pub struct ErrorReport {
    /// What failed, in the verb's words.
    pub error: String,
    /// Why, outermost first (the error's `source()` chain); empty when it says it all.
    pub causes: Vec<String>,
    /// The code the process exits with: 1 failed, 2 usage error.
    pub exit_code: u8,
}

impl ErrorReport {
    /// `err` and its sources.
    pub fn from_error(err: &anyhow::Error) -> ErrorReport {
        ErrorReport {
            error: err.to_string(),
            causes: err.chain().skip(1).map(ToString::to_string).collect(),
            exit_code: Exit::Failed.code(),
        }
    }

    /// clap's usage error: its first line without clap's `error: ` prefix, and as causes the
    /// lines clap adds to it (`[possible values: ...]`, a suggestion), not the usage or the
    /// pointer to `--help`.
    pub fn from_usage(err: &clap::Error) -> ErrorReport {
        let rendered = err.render().to_string();
        let mut lines = rendered.lines().map(str::trim).filter(|l| !l.is_empty());
        let error = lines.next().unwrap_or("").trim_start_matches("error: ");
        let causes = lines
            .filter(|l| !l.starts_with("Usage:") && !l.starts_with("For more information"))
            .map(str::to_owned)
            .collect();
        ErrorReport {
            error: error.to_owned(),
            causes,
            exit_code: Exit::Usage.code(),
        }
    }
}

/// Prints `err` as `output` says; returns the exit it means.
pub fn report(err: &anyhow::Error, output: Output) -> Exit {
    if is_broken_pipe(err) {
        // The reader stopped reading (`onboardctl completions bash | head`): as in ripgrep and
        // by Unix convention, that is not our failure, and there is nobody left to tell.
        return Exit::Done;
    }
    eprintln!("onboardctl: {err:#}");
    if output == Output::Json {
        print_json(&ErrorReport::from_error(err));
    }
    Exit::Failed
}

/// A command line clap refused (or `--help`/`--version`, which clap prints and exits 0 on).
/// clap prints the refusal on stderr as always; under `--output json` it is also printed as an
/// [`ErrorReport`] on stdout.
pub fn usage(err: clap::Error, args: impl IntoIterator<Item = OsString>) -> Exit {
    if err.use_stderr() && asks_for_json(args) {
        // Best effort, as clap's own `exit` does: stderr may be closed.
        let _ = err.print();
        print_json(&ErrorReport::from_usage(&err));
        return Exit::Usage;
    }
    err.exit()
}

/// Whether a command line that did not parse still said `--output json` (or `--output=json`).
pub fn asks_for_json(args: impl IntoIterator<Item = OsString>) -> bool {
    let args: Vec<OsString> = args.into_iter().collect();
    args.iter().enumerate().any(|(i, arg)| {
        arg == "--output=json"
            || (arg == "--output" && args.get(i + 1).is_some_and(|v| v == "json"))
    })
}

fn print_json(report: &ErrorReport) {
    println!(
        "{}",
        serde_json::to_string_pretty(report).expect("an error report serialises")
    );
}

fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_error_report_carries_the_cause_chain_outermost_first() {
        let root = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = anyhow::Error::new(root)
            .context("connecting to the broker (amqp.url)")
            .context("dead list");

        let report = ErrorReport::from_error(&err);

        assert_eq!(report.error, "dead list");
        assert_eq!(
            report.causes,
            ["connecting to the broker (amqp.url)", "refused"]
        );
        assert_eq!(report.exit_code, 1);
    }

    #[test]
    fn json_is_asked_for_with_a_space_or_an_equals_sign() {
        let args = |line: &str| line.split(' ').map(OsString::from).collect::<Vec<_>>();
        assert!(asks_for_json(args("onboardctl --output json dead list")));
        assert!(asks_for_json(args("onboardctl dead list --output=json")));
        assert!(!asks_for_json(args("onboardctl dead list --output table")));
        assert!(!asks_for_json(args("onboardctl publish json")));
    }
}

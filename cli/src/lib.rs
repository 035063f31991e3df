//! `onboardctl`, the operator's tool, as a library: each verb is a module that owns its flags
//! (`Args`) and its `run`, so `main.rs` only parses, dispatches and picks the exit code, and
//! tests can call the verbs' operations directly.
//!
//! The verbs:
//! - [`publish_cmd`]: `publish`'s flags; [`publish`] publishes events, one or a whole file,
//!   with confirms, and [`intake`] reads the CSV files admins have, row by row.
//! - [`dead`]: the dead-letter queues: `list`, `show`, `replay` (or plan it with `--dry-run`:
//!   [`dry_run`]), `purge`, one module each.
//! - [`preflight`]: is the tenant ready for the flow, and what to fix, step by step.
//! - [`status`]: how far one hire or device is along the steps (ready / pending / blocked).
//! - [`trace`]: a trace store without Jaeger: `collect` (an OTLP receiver to a file) and `show`
//!   (one event's trace printed as a tree).
//! - [`completions`] and [`man`]: shell completions and the manual page, from the same clap
//!   definitions.
//!
//! What they share:
//! - [`args`]: the command line as a whole (global flags, one variant per verb).
//! - [`context`]: settings and telemetry for the verbs that need them (`NO_COLOR`, `RUST_LOG`).
//! - [`output`]: `--output table|json`; [`failure`]: errors, as text or JSON; [`exit`]: the
//!   exit codes.
//! - [`readiness`]: the step/state vocabulary `preflight` and `status` report in.
//!
//! The demo is not here: it links the Graph emulator (a token issuer), so it is its own binary,
//! `onboard-demo` in `tools/demo`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod args;
pub mod completions;
pub mod context;
pub mod dead;
pub mod dry_run;
pub mod exit;
pub mod failure;
pub mod intake;
pub mod man;
pub mod output;
pub mod preflight;
pub mod publish;
pub mod publish_cmd;
pub mod readiness;
pub mod status;
pub mod trace;

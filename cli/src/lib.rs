//! `onboardctl`, the operator's tool, as a library: each verb is a module, so the binary stays a
//! thin argument parser and tests can call the verbs directly.
//!
//! - [`intake`]: reading the CSV files admins have (hardware hashes, HR), row by row.
//! - [`publish`]: publishing events, one or a whole file, with confirms.
//! - [`demo`]: the README's main job: broker, emulator and services in one process, sample
//!   events, and a summary of the tenant's final state.
//! - [`dead`]: the dead-letter queues: list, show, replay (or plan it with `--dry-run`), purge.
//! - [`dry_run`]: a service's handler in shadow mode, for the Graph writes a replay would make.
//! - [`preflight`]: is the tenant ready for the flow, and what to fix, step by step.
//! - [`status`]: how far one hire or device is along the steps (ready / pending / blocked).
//! - [`readiness`]: the step/state vocabulary `preflight` and `status` report in.
//! - [`trace`]: a trace store without Jaeger: an OTLP receiver to a file, and one event's trace
//!   printed as a tree.
//! - [`output`]: `--output table|json`.
#![forbid(unsafe_code)]

pub mod dead;
pub mod demo;
pub mod dry_run;
pub mod intake;
pub mod output;
pub mod preflight;
pub mod publish;
pub mod readiness;
pub mod status;
pub mod trace;

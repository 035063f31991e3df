//! Plumbing that two or more onboarding binaries need, and nothing else. A map:
//!
//! - [`error`]: `ErrorClass` and `Classify`, our transient/permanent vocabulary.
//! - [`config`]: the typed settings tree, loaded and validated once at start.
//! - [`ids`]: newtypes for values that arrive in events (`Upn`, `EmployeeId`, `SerialNumber`).
//! - [`graph`]: the Graph client (`GraphClient`, one per process: token, retries, shadow mode,
//!   policy rails) and the `GraphApi` trait handlers are written against.
#![forbid(unsafe_code)]

pub mod config;
pub mod error;
pub mod graph;
pub mod ids;

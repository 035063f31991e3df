//! Plumbing that two or more onboarding binaries need, and nothing else. A map:
//!
//! - [`backoff`]: the one jittered exponential backoff (Graph in-call retries, broker reconnects).
//! - [`keyed_lock`]: `KeyedLocks`, one async lock per key (per serial) that cleans up after itself.
//! - [`error`]: `ErrorClass` and `Classify`, our transient/permanent vocabulary.
//! - [`config`]: the typed settings tree, loaded and validated once at start.
//! - [`ids`]: newtypes for values that arrive in events (`Upn`, `EmployeeId`, `SerialNumber`).
//! - [`events`]: the CloudEvents envelope, the typed data of each event, `parse_event`.
//! - [`amqp`]: topology, the consumer runtime (`run_consumer`), confirmed publishing, retries.
//! - [`telemetry`]: JSON logs with trace ids, OTLP export, traceparent in AMQP headers, `Metrics`.
//! - [`health`]: the `/healthz`, `/readyz` and `/metrics` listener.
//!
//! Not here: the Graph client (crate `graph`) and the wiring every service binary shares
//! around its handler (crate `runner`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod amqp;
pub mod backoff;
pub mod config;
pub mod error;
pub mod events;
pub mod health;
pub mod ids;
pub mod keyed_lock;
pub mod telemetry;

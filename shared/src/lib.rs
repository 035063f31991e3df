//! Plumbing that two or more onboarding binaries need, and nothing else. A map:
//!
//! - [`error`]: `ErrorClass` and `Classify`, our transient/permanent vocabulary.
//! - [`config`]: the typed settings tree, loaded and validated once at start.
//! - [`ids`]: newtypes for values that arrive in events (`Upn`, `EmployeeId`, `SerialNumber`).
//! - [`events`]: the CloudEvents envelope, the typed data of each event, `parse_event`.
//! - [`amqp`]: topology, the consumer runtime (`run_consumer`), confirmed publishing, retries.
//! - [`telemetry`]: JSON logs with trace ids, OTLP export, traceparent in AMQP headers, `Metrics`.
//! - [`health`]: the `/healthz`, `/readyz` and `/metrics` listener.
//! - [`graph`]: the Graph client (`GraphClient`, one per process: token, retries, shadow mode,
//!   policy rails) and the `GraphApi` trait handlers are written against.
//! - [`service`]: what every service does around its handler (metrics, Graph client, health,
//!   consumer, shutdown on SIGTERM) — a service's `run` is its handler plus [`service::serve`].
#![forbid(unsafe_code)]

pub mod amqp;
pub mod config;
pub mod error;
pub mod events;
pub mod graph;
pub mod health;
pub mod ids;
pub mod service;
pub mod telemetry;

//! Plumbing that two or more onboarding binaries need, and nothing else. A map:
//!
//! - [`error`]: `ErrorClass` and `Classify`, our transient/permanent vocabulary.
//! - [`config`]: the typed settings tree, loaded and validated once at start.
//! - [`ids`]: newtypes for values that arrive in events (`Upn`, `EmployeeId`, `SerialNumber`).
//! - [`events`]: the CloudEvents envelope, the typed data of each event, `parse_event`.
//! - [`amqp`]: topology, the consumer runtime (`run_consumer`), confirmed publishing, retries.
//! - [`telemetry`]: JSON logs with trace ids, OTLP export, traceparent in AMQP headers, `Metrics`.
//! - [`health`]: the `/healthz`, `/readyz` and `/metrics` listener.
//! - [`graph`]: the Graph client and the `GraphApi` trait handlers are written against.
//!
//! # Wiring a service
//!
//! `main` loads and validates settings, installs telemetry, serves health and metrics, and runs
//! the consumer until SIGTERM; the handler is the service's own code.
//!
//! ```no_run
//! use std::sync::Arc;
//!
//! use shared::amqp::{ConsumerSpec, DeliveryInfo, Handler, Outcome, run_consumer};
//! use shared::config::Service;
//! use shared::error::{Classify, ErrorClass};
//! use shared::events::{EmployeeHired, Envelope, USER_READY};
//! use shared::health::{Readiness, ReadinessFlag};
//! use shared::telemetry::Metrics;
//! use tokio_util::sync::CancellationToken;
//!
//! struct NewHire;
//!
//! #[derive(Debug, thiserror::Error)]
//! #[error("no Entra user yet")]
//! struct NotProvisioned;
//!
//! impl Classify for NotProvisioned {
//!     fn class(&self) -> ErrorClass {
//!         ErrorClass::TRANSIENT
//!     }
//! }
//!
//! impl Handler for NewHire {
//!     type Data = EmployeeHired;
//!     type Error = NotProvisioned;
//!     async fn handle(&self, event: &Envelope<EmployeeHired>, _: &DeliveryInfo) -> Result<Outcome, NotProvisioned> {
//!         let upn = event.data.user_principal_name.to_string();
//!         Ok(Outcome { event_type: USER_READY, subject: Some(upn), data: serde_json::json!({}) })
//!     }
//! }
//!
//! #[tokio::main]
//! async fn main() -> Result<(), Box<dyn std::error::Error>> {
//!     let service = Service::NewHire;
//!     let settings = shared::config::load(None, std::env::vars().collect())?;
//!     settings.validate(service)?;
//!     let _telemetry = shared::telemetry::init(service.name(), &settings.telemetry, std::io::stdout)?;
//!     let metrics = Metrics::new(service.name()); // also the Graph client's GraphObserver
//!     let broker = ReadinessFlag::new();
//!     let shutdown = CancellationToken::new();
//!
//!     let readiness = Readiness::new().flag("broker", broker.clone());
//!     let listener = tokio::net::TcpListener::bind(settings.http.listen).await?;
//!     let (_addr, health) = shared::health::spawn(listener, readiness, metrics.clone(), shutdown.clone())?;
//!
//!     let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
//!     tokio::spawn({
//!         let shutdown = shutdown.clone();
//!         async move {
//!             tokio::select! { _ = sigterm.recv() => {}, _ = tokio::signal::ctrl_c() => {} }
//!             shutdown.cancel();
//!         }
//!     });
//!
//!     let spec = ConsumerSpec::for_service(service, &settings.amqp).expect("new-hire consumes a queue");
//!     let consumed = run_consumer(&settings.amqp, spec, Arc::new(NewHire), metrics, broker, shutdown.clone()).await;
//!     shutdown.cancel(); // the consumer may have returned on its own (an unrecoverable error)
//!     health.await??;
//!     Ok(consumed?)
//! }
//! ```
#![forbid(unsafe_code)]

pub mod amqp;
pub mod config;
pub mod error;
pub mod events;
pub mod graph;
pub mod health;
pub mod ids;
pub mod telemetry;

//! The Graph client: one instance per process, every Graph call of a service goes through it.
//! Handlers take a [`GraphClient`] and call its operations directly; each operation is one
//! method, written once, documented with its Graph URL and its shadow-mode result.
//!
//! Public:
//! - [`client`]: `GraphClient` — building it, its token probes, shadow mode.
//! - `ops_directory`, `ops_autopilot`, `ops_corporate`, `ops_readiness`, `ops_status`,
//!   `ops_access` (Temporary Access Pass), `ops_mail` (manager, sendMail), `ops_deployment`
//!   (profile assignment, deployment events), `ops_preparation` (device preparation): the
//!   operations, as `impl GraphClient` blocks, one file per area.
//! - [`error`]: `GraphError` and its classification.
//! - [`model`]: id newtypes and the objects Graph returns.
//! - [`permissions`]: the application permissions each feature needs, for the CLI's preflight.
//! - `policy` / `policy_writer`: the device registration policy, its rails, its one writer
//!   (their public types are re-exported here).
//!
//! Private (how a call is made, not what it does):
//! - `call`: one request described as data; `credential`: tokens, CA, the HTTP client.
//! - `budget`: the process-wide Retry-After gate per throttling family.
//! - `escape`, `pages`, `retry`: URL escaping, `@odata.nextLink` paging, in-call retries.
//! - `batch`: `$batch` for bulk reads (≤ 20 items, throttled items re-sent).
//! - `span`: each request as an OpenTelemetry HTTP client span (`GET /v1.0/users/{upn}`).
//!
//! The client reports each request to a `shared::telemetry::GraphObserver`.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod budget;
mod call;
pub mod client;
mod credential;
pub mod error;
mod escape;
pub mod model;
mod ops_access;
mod ops_autopilot;
mod ops_corporate;
mod ops_deployment;
mod ops_directory;
mod ops_mail;
mod ops_preparation;
mod ops_readiness;
mod ops_status;
mod pages;
pub mod permissions;
mod policy;
mod policy_writer;
mod retry;
mod span;

pub use client::GraphClient;
pub use credential::{claims_from_jwt, graph_scope};
pub use error::GraphError;
pub use model::*;
pub use ops_autopilot::ImportStatusRead;
pub use policy::{AzureAdJoin, JoinScope, RailViolation, RegistrationPolicy};
pub use policy_writer::JoinOutcome;
pub use shared::telemetry::{GraphObserver, NoopObserver};

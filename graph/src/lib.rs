//! The Graph client: one instance per process, every Graph call of a service goes through it.
//!
//! - [`api`]: the `GraphApi` trait handlers are written against (operations in our words).
//! - [`client`]: `GraphClient` — token, `client-request-id`, spans, observer, shadow mode.
//! - `ops_directory`, `ops_autopilot`, `ops_corporate`, `ops_readiness`: the operations, one
//!   file per area; each documents its Graph URL and its shadow-mode result.
//! - [`error`]: `GraphError` and its classification.
//! - [`model`]: id newtypes and the objects Graph returns.
//! - [`policy`] / [`policy_writer`]: the device registration policy, its rails, its one writer.
//! - `budget`: the process-wide Retry-After gate per throttling family.
//! - `escape`, `pages`, `retry`: URL escaping, `@odata.nextLink` paging, in-call retries.
//! - `batch`: `$batch` for bulk reads (≤ 20 items, throttled items re-sent).
//! - [`permissions`]: the application permissions each feature needs, for the CLI's preflight.
//! - observer: the client reports each request to `shared::telemetry::GraphObserver`.
#![forbid(unsafe_code)]

pub mod api;
mod batch;
mod budget;
mod call;
pub mod client;
mod credential;
pub mod error;
mod escape;
pub mod model;
mod ops_autopilot;
mod ops_corporate;
mod ops_directory;
mod ops_readiness;
mod ops_status;
mod pages;
pub mod permissions;
pub mod policy;
pub mod policy_writer;
mod retry;

pub use api::GraphApi;
pub use client::GraphClient;
pub use credential::{claims_from_jwt, graph_scope, roles_from_jwt};
pub use error::GraphError;
pub use model::*;
pub use ops_autopilot::{ImportStatusRead, SerialQuery, serial_query};
pub use policy::{JoinScope, RailViolation, RegistrationPolicy, check_rails};
pub use policy_writer::{JoinOutcome, PolicyStore, PolicyWriter, Written};
pub use shared::telemetry::{GraphObserver, NoopObserver};

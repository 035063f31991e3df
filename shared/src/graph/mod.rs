//! The Graph client: one instance per process, every Graph call of a service goes through it.
//!
//! - [`api`]: the `GraphApi` trait handlers are written against (operations in our words).
//! - [`client`]: `GraphClient` — token, `client-request-id`, spans, observer, shadow mode.
//! - `ops_directory`, `ops_autopilot`, `ops_corporate`, `ops_readiness`: the operations, one
//!   file per area; each documents its Graph URL and its shadow-mode result.
//! - [`error`]: `GraphError` and its classification.
//! - [`model`]: id newtypes and the objects Graph returns.
//! - [`policy`] / [`policy_writer`]: the device registration policy, its rails, its one writer.
//! - [`budget`]: the process-wide Retry-After gate per throttling family.
//! - [`escape`], [`pages`], [`retry`]: URL escaping, `@odata.nextLink` paging, in-call retries.
//! - `batch`: `$batch` for bulk reads (≤ 20 items, throttled items re-sent).
//! - [`permissions`]: the application permissions each feature needs, for the CLI's preflight.
//! - [`observer`]: the seam to telemetry.

pub mod api;
mod batch;
pub mod budget;
mod call;
pub mod client;
mod credential;
pub mod error;
pub mod escape;
pub mod model;
pub mod observer;
mod ops_autopilot;
mod ops_corporate;
mod ops_directory;
mod ops_readiness;
mod ops_status;
pub mod pages;
pub mod permissions;
pub mod policy;
pub mod policy_writer;
pub mod retry;

pub use api::GraphApi;
pub use client::GraphClient;
pub use credential::{claims_from_jwt, graph_scope, roles_from_jwt};
pub use error::GraphError;
pub use model::*;
pub use observer::{GraphObserver, NoopObserver};
pub use ops_autopilot::{ImportStatusRead, SerialQuery, serial_query};
pub use policy::{JoinScope, RailViolation, RegistrationPolicy, check_rails};
pub use policy_writer::{JoinOutcome, PolicyStore, PolicyWriter, Written};

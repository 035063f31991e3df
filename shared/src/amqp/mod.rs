//! The AMQP runtime every service consumes through, on lapin 4. A one-way stack: each module
//! uses only the modules on the lines below it, never one above.
//!
//! 1. `consumer`: the supervisor. [`Runtime`], made once, and [`Runtime::run`], which keeps a
//!    session alive and rebuilds it after a jittered backoff when lapin's recovery cannot.
//! 2. `session`: one connection's lifetime: consume with bounded concurrency, drain on
//!    shutdown.
//! 3. `settle`: what happens to one delivery (parse and handle, then publish the outcome, retry
//!    or dead-letter, then ack), each step in an OpenTelemetry messaging span.
//! 4. `retry` (the pure decision from an error's class to a delay tier or a dead letter),
//!    `publish` (confirmed publishing, [`Publisher`]; a nack or a return is an error),
//!    `topology` (exchange, quorum work queue, delay tiers, `<queue>.dead`), `headers` (every
//!    header name we write or read, documented once). None of these four uses another.
//! 5. `handler`: the vocabulary between a service and the runtime ([`Handler`],
//!    [`DeliveryInfo`], [`ConsumerSpec`] and its queue names, [`parse_and_handle`]), and
//!    `connection` ([`AmqpError`], [`connect`]). Neither uses any other module of `amqp`.
//!
//! Check: `grep -n 'use super::' shared/src/amqp/*.rs` lists every edge; each points down.
//!
//! Not for: what a handler does (services) or the event contract (`events`).

pub mod connection;
pub mod consumer;
pub mod handler;
pub mod headers;
pub mod publish;
pub mod retry;
mod session;
mod settle;
pub mod topology;

pub use connection::{AmqpError, connect};
pub use consumer::Runtime;
pub use handler::{
    Body, ConsumerSpec, DeliveryInfo, Handler, Rejected, parse_and_handle, tier_label,
};
pub use publish::{Publisher, send_span};
pub use retry::{Disposition, RetryPolicy};
pub use topology::{Topology, declare_topology};

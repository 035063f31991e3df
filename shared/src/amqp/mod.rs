//! The AMQP runtime every service consumes through, on lapin 4:
//!
//! - `topology`: exchange, quorum work queue, delay tiers `<queue>.delay.<tier>`, `<queue>.dead`.
//! - `consumer`: the [`Handler`] trait and [`run_consumer`], which acks a message only once its
//!   outcome is durable, and rebuilds the connection when lapin's own recovery cannot.
//! - `session`: one connection's lifetime: consume with bounded concurrency, drain on shutdown.
//! - `settle`: what happens to one delivery (parse, handle, retry or dead-letter, ack).
//! - `retry`: the pure decision from an error's class to a delay tier or a dead letter.
//! - `publish`: confirmed publishing ([`Publisher`]); a nack or a return is an error.
//! - `headers`: every header name we write or read, documented once.
//!
//! Not for: what a handler does (services) or the event contract (`events`).

pub mod consumer;
pub mod headers;
pub mod publish;
pub mod retry;
mod session;
mod settle;
pub mod topology;

pub use consumer::{ConsumerSpec, DeliveryInfo, Handler, Outcome, run_consumer};
pub use publish::Publisher;
pub use retry::{Disposition, RetryPolicy};
pub use topology::{Topology, declare_topology};

use lapin::{Connection, ConnectionProperties};
use secrecy::ExposeSecret as _;

use crate::config::AmqpSettings;
use crate::error::{Classify, ErrorClass};

/// What can go wrong talking to the broker.
#[derive(Debug, thiserror::Error)]
pub enum AmqpError {
    /// Connection or channel failure, refused declare, timeout: lapin's own error. Its text is
    /// in the message and it is deliberately not the `source`: lapin's message already holds
    /// its own causes, and printing the chain (`{:#}`) repeated them two more times.
    #[error("broker: {0}")]
    Broker(lapin::Error),
    /// The broker could not take responsibility for the message (e.g. a full quorum queue
    /// with `reject-publish`).
    #[error("publish to exchange {exchange:?} with key {routing_key:?} was nacked by the broker")]
    Nacked {
        exchange: String,
        routing_key: String,
    },
    /// A mandatory publish reached no queue: the topology is missing a queue or binding.
    #[error("publish to exchange {exchange:?} with key {routing_key:?} was unroutable: {reply}")]
    Unroutable {
        exchange: String,
        routing_key: String,
        reply: String,
    },
    /// The channel was not in confirm mode, so nothing says the broker has the message.
    #[error("publish was not confirmed: the channel is not in confirm mode")]
    NotConfirmed,
    #[error("cannot serialize the event: {0}")]
    Serialize(#[from] serde_json::Error),
    #[error("amqp.ca_file {path}: {source}")]
    CaFile {
        path: String,
        source: std::io::Error,
    },
}

impl From<lapin::Error> for AmqpError {
    fn from(e: lapin::Error) -> Self {
        AmqpError::Broker(e)
    }
}

impl Classify for AmqpError {
    fn class(&self) -> ErrorClass {
        match self {
            AmqpError::Broker(e) if e.can_be_recovered() || e.is_io_error() => {
                ErrorClass::TRANSIENT
            }
            // Authentication, protocol and runtime errors do not go away by waiting.
            AmqpError::Broker(_) => ErrorClass::Permanent,
            AmqpError::Nacked { .. } => ErrorClass::TRANSIENT,
            AmqpError::Unroutable { .. } => ErrorClass::Permanent,
            AmqpError::NotConfirmed => ErrorClass::Permanent,
            AmqpError::Serialize(_) => ErrorClass::Permanent,
            AmqpError::CaFile { .. } => ErrorClass::Permanent,
        }
    }
}

/// Opens a connection named `connection_name` (shown by `rabbitmqctl list_connections
/// client_properties`) with lapin's automatic recovery on, trusting `amqp.ca_file` if set.
pub async fn connect(amqp: &AmqpSettings, connection_name: &str) -> Result<Connection, AmqpError> {
    let properties = ConnectionProperties::default()
        .with_connection_name(connection_name.into())
        .enable_auto_recover();
    let uri = amqp.url.expose_secret();
    if amqp.ca_file.is_empty() {
        return Ok(Connection::connect(uri, properties).await?);
    }
    let pem = std::fs::read_to_string(&amqp.ca_file).map_err(|source| AmqpError::CaFile {
        path: amqp.ca_file.clone(),
        source,
    })?;
    let tls = lapin::tcp::OwnedTLSConfig {
        identity: None,
        cert_chain: Some(pem),
    };
    let runtime = lapin::runtime::default_runtime()?;
    Ok(Connection::connect_with_config(uri, properties, tls, runtime).await?)
}

//! The bottom of the runtime: [`AmqpError`], what can go wrong talking to the broker, and
//! [`connect`], which opens a connection. Every other module of `amqp` may use these; this one
//! uses none of them.
//!
//! Not for: channels, topology or consuming (the modules above).

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
        /// The exchange published to.
        exchange: String,
        /// The routing key published with.
        routing_key: String,
    },
    /// A mandatory publish reached no queue: the topology is missing a queue or binding.
    #[error("publish to exchange {exchange:?} with key {routing_key:?} was unroutable: {reply}")]
    Unroutable {
        /// The exchange published to.
        exchange: String,
        /// The routing key published with.
        routing_key: String,
        /// The broker's reply text.
        reply: String,
    },
    /// The channel was not in confirm mode, so nothing says the broker has the message.
    #[error("publish was not confirmed: the channel is not in confirm mode")]
    NotConfirmed,
    /// An outcome event could not be serialised (a bug in its `Serialize`, never input).
    #[error("cannot serialize the event: {0}")]
    Serialize(#[from] serde_json::Error),
    /// `amqp.ca_file` could not be read.
    #[error("amqp.ca_file {path}: {source}")]
    CaFile {
        /// The configured path.
        path: String,
        /// Why it could not be read.
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

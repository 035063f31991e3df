//! Confirmed publishing. A publish counts only when the broker confirmed it: a nack, or a
//! mandatory publish returned as unroutable (`Ack(Some(returned))`, stack §2), is an
//! error, so the caller never acks a message whose outcome may be lost.
//!
//! Every publish of the runtime runs in a [`send_span`]: an OpenTelemetry producer span.
//!
//! Not for: retries. A publish that fails during a reconnect has an unknown outcome; the
//! consumer answers that by leaving its message for redelivery, and handlers are idempotent.

use lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, Confirmation, Connection};
use serde::Serialize;

use super::connection::{AmqpError, connect};
use crate::config::AmqpSettings;
use crate::events::{CONTENT_TYPE, Envelope, Event};

/// AMQP delivery mode 2: the broker writes the message to disk.
const PERSISTENT: u8 = 2;

/// Properties of an event message: CloudEvents content type, `message_id` = event id,
/// persistent, and the given headers.
pub fn event_properties(message_id: &str, headers: FieldTable) -> BasicProperties {
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    BasicProperties::default()
        .with_content_type(CONTENT_TYPE.into())
        .with_message_id(message_id.into())
        .with_delivery_mode(PERSISTENT)
        .with_timestamp(u64::try_from(now).unwrap_or_default())
        .with_headers(headers)
}

/// The producer span of one publish, in the OpenTelemetry messaging conventions: named
/// `publish <destination>`, kind producer, operation type `send` (`publish` is the deprecated
/// name of the type; it remains the operation's *name*). The destination is the exchange, or the
/// queue when publishing through the default exchange (the routing key is then the queue).
/// `cloudevents.event_type` and `cloudevents.event_subject` are declared empty, for callers
/// that know the event to record them.
pub fn send_span(exchange: &str, routing_key: &str, message_id: &str) -> tracing::Span {
    let destination = if exchange.is_empty() {
        routing_key
    } else {
        exchange
    };
    tracing::info_span!(
        "send",
        otel.name = %format!("publish {destination}"),
        otel.kind = "producer",
        messaging.system = "rabbitmq",
        messaging.operation.type = "send",
        messaging.operation.name = "publish",
        messaging.destination.name = %destination,
        messaging.rabbitmq.destination.routing_key = %routing_key,
        messaging.message.id = %message_id,
        cloudevents.event_type = tracing::field::Empty,
        cloudevents.event_subject = tracing::field::Empty,
    )
}

/// Publishes on a channel in confirm mode and waits for the broker's confirm.
pub async fn publish_confirmed(
    channel: &Channel,
    exchange: &str,
    routing_key: &str,
    mandatory: bool,
    body: &[u8],
    properties: BasicProperties,
) -> Result<(), AmqpError> {
    let options = BasicPublishOptions {
        mandatory,
        ..BasicPublishOptions::default()
    };
    let confirmation = channel
        .basic_publish(
            exchange.into(),
            routing_key.into(),
            options,
            body,
            properties,
        )
        .await?
        .await?;
    match confirmation {
        Confirmation::Ack(None) => Ok(()),
        Confirmation::Ack(Some(returned)) => Err(AmqpError::Unroutable {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
            reply: returned.reply_text.to_string(),
        }),
        Confirmation::Nack(_) => Err(AmqpError::Nacked {
            exchange: exchange.to_owned(),
            routing_key: routing_key.to_owned(),
        }),
        Confirmation::NotRequested => Err(AmqpError::NotConfirmed),
    }
}

/// A connection with one confirm-mode channel, for the CLI, tools and tests.
pub struct Publisher {
    connection: Connection,
    channel: Channel,
}

impl Publisher {
    /// Connects as `name` (the connection name the broker shows) and enables confirms.
    pub async fn connect(amqp: &AmqpSettings, name: &str) -> Result<Self, AmqpError> {
        let connection = connect(amqp, name).await?;
        let channel = connection.create_channel().await?;
        channel
            .confirm_select(ConfirmSelectOptions::default())
            .await?;
        Ok(Publisher {
            connection,
            channel,
        })
    }

    /// Publishes `event` with routing key `E::TYPE`, like [`Publisher::publish_event`].
    pub async fn publish<E: Event>(
        &self,
        exchange: &str,
        event: &Envelope<E>,
    ) -> Result<(), AmqpError> {
        self.publish_event(exchange, E::TYPE, event).await
    }

    /// Publishes `event` as structured CloudEvents JSON, mandatory (no bound queue is an
    /// error), with `traceparent` of the current span, and waits for the confirm. The routing
    /// key is given for data already erased to JSON; typed events go through
    /// [`Publisher::publish`].
    pub async fn publish_event<T: Serialize>(
        &self,
        exchange: &str,
        routing_key: &str,
        event: &Envelope<T>,
    ) -> Result<(), AmqpError> {
        let body = serde_json::to_vec(event)?;
        let mut headers = FieldTable::default();
        crate::telemetry::inject_trace_context(&mut headers);
        let properties = event_properties(&event.id, headers);
        publish_confirmed(
            &self.channel,
            exchange,
            routing_key,
            true,
            &body,
            properties,
        )
        .await
    }

    /// Publishes bytes as given (a dead-letter replay, or a deliberately malformed test event).
    pub async fn publish_raw(
        &self,
        exchange: &str,
        routing_key: &str,
        mandatory: bool,
        body: &[u8],
        properties: BasicProperties,
    ) -> Result<(), AmqpError> {
        publish_confirmed(
            &self.channel,
            exchange,
            routing_key,
            mandatory,
            body,
            properties,
        )
        .await
    }

    /// The confirm-mode channel, for declares and reads the typed API does not cover.
    pub fn channel(&self) -> &Channel {
        &self.channel
    }

    /// Closes the channel and connection cleanly.
    pub async fn close(self) -> Result<(), AmqpError> {
        self.channel.close(200, "done".into()).await?;
        self.connection.close(200, "done".into()).await?;
        Ok(())
    }
}

//! The one integration-test binary of `shared`. Broker tests use the real RabbitMQ at
//! 127.0.0.1:5672 (guest/guest); each owns objects named `t.<test>.<8 hex>`.

/// TestBroker, the scripted handler, waits with deadlines.
mod helpers;

/// Loading, layering and validating settings.
mod config;
/// Happy path, delay tiers, Retry-After, trace propagation.
mod consumer;
/// Dead letters and their reason headers; invalid events; unroutable publishes.
mod dead_letters;
/// The AMQP runtime's modules form a one-way stack (no cycle).
mod layers;
/// Forced connection close, graceful shutdown.
mod resilience;
/// JSON Schemas, examples and the typed parser agree; the AsyncAPI document is valid.
mod schemas;
/// The messaging spans of one message: names, kinds and attributes.
mod spans;
/// JSON logs with trace ids, metric names, the health listener.
mod telemetry;
/// Declaring the topology and the queue arguments the broker holds.
mod topology;

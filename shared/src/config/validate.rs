//! The checks serde cannot make: values that must agree with each other, and the keys a given
//! service needs. Each check names its key, so an operator knows what to edit. Not for
//! defaults (those live in `config/defaults.toml`) or for reaching the network.

use secrecy::ExposeSecret;

use super::{AmqpSettings, ConfigError, GraphSettings, JoinMode, Service, Settings};
use crate::config::CredentialKind;

pub(super) fn settings(s: &Settings, service: Service) -> Result<(), ConfigError> {
    amqp(&s.amqp, service)?;
    graph(&s.graph, service)?;
    telemetry(s)?;
    match service {
        Service::NewHire => new_hire(s),
        Service::DevicePurchased => device_purchased(s),
        Service::DeviceShipped | Service::Cli => Ok(()),
    }
}

fn require(ok: bool, key: &'static str, problem: &str) -> Result<(), ConfigError> {
    if ok {
        Ok(())
    } else {
        Err(ConfigError::invalid(key, problem))
    }
}

fn amqp(a: &AmqpSettings, service: Service) -> Result<(), ConfigError> {
    let url = url::Url::parse(a.url.expose_secret())
        // Not the parser's message: it may quote the URL, and the URL holds the password.
        .map_err(|_| ConfigError::invalid("amqp.url", "not a URL"))?;
    require(
        matches!(url.scheme(), "amqp" | "amqps"),
        "amqp.url",
        "must be amqp:// or amqps://",
    )?;
    require(
        a.ca_file.is_empty() || std::path::Path::new(&a.ca_file).is_file(),
        "amqp.ca_file",
        "no such file",
    )?;
    require(!a.exchange.is_empty(), "amqp.exchange", "must not be empty")?;
    require(a.prefetch >= 1, "amqp.prefetch", "must be at least 1")?;
    require(a.concurrency >= 1, "amqp.concurrency", "must be at least 1")?;
    require(
        a.concurrency <= a.prefetch,
        "amqp.concurrency",
        "must not exceed amqp.prefetch (handlers beyond prefetch would never get a message)",
    )?;
    require(
        !a.delay_tiers.is_empty(),
        "amqp.delay_tiers",
        "must not be empty",
    )?;
    require(
        a.delay_tiers.iter().all(|t| t.as_millis() >= 1),
        "amqp.delay_tiers",
        "every tier must be at least 1ms",
    )?;
    require(
        a.delay_tiers.windows(2).all(|w| w[0] < w[1]),
        "amqp.delay_tiers",
        "must be strictly ascending",
    )?;
    require(!a.max_age.is_zero(), "amqp.max_age", "must be more than 0")?;
    require(
        a.delivery_limit >= 1,
        "amqp.delivery_limit",
        "must be at least 1",
    )?;
    require(
        a.max_body_bytes >= 1,
        "amqp.max_body_bytes",
        "must be at least 1",
    )?;
    require(
        !a.queue_depth_interval.is_zero(),
        "amqp.queue_depth_interval",
        "must be more than 0",
    )?;
    if let Some(queue) = service.queue(a) {
        let key = match service {
            Service::NewHire => "amqp.queues.new_hire",
            Service::DevicePurchased => "amqp.queues.device_purchased",
            _ => "amqp.queues.device_shipped",
        };
        require(!queue.is_empty(), key, "must not be empty")?;
    }
    Ok(())
}

fn graph(g: &GraphSettings, service: Service) -> Result<(), ConfigError> {
    require(
        g.base_url.scheme() == "https",
        "graph.base_url",
        "must be https",
    )?;
    require(
        g.authority_host.scheme() == "https",
        "graph.authority_host",
        "must be https",
    )?;
    require(
        g.ca_file.is_empty() || std::path::Path::new(&g.ca_file).is_file(),
        "graph.ca_file",
        "no such file",
    )?;
    // The CLI publishes and inspects queues without Graph; its preflight verb checks Graph itself.
    if service == Service::Cli {
        return Ok(());
    }
    require(
        g.tenant_id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-'),
        "graph.tenant_id",
        "may only contain letters, digits, '.' and '-'",
    )?;
    if g.credential == CredentialKind::ClientSecret {
        let needs = "required when graph.credential = client_secret";
        require(!g.tenant_id.is_empty(), "graph.tenant_id", needs)?;
        require(!g.client_id.is_empty(), "graph.client_id", needs)?;
        require(
            !g.client_secret.expose_secret().is_empty(),
            "graph.client_secret",
            needs,
        )?;
    }
    Ok(())
}

fn telemetry(s: &Settings) -> Result<(), ConfigError> {
    let t = &s.telemetry;
    tracing_subscriber::EnvFilter::try_new(&t.log_filter)
        .map_err(|e| ConfigError::invalid("telemetry.log_filter", e.to_string()))?;
    if !t.otlp_endpoint.is_empty() {
        let ok = url::Url::parse(&t.otlp_endpoint)
            .map(|u| matches!(u.scheme(), "http" | "https"))
            .unwrap_or(false);
        require(
            ok,
            "telemetry.otlp_endpoint",
            "must be an http:// or https:// URL (or empty)",
        )?;
    }
    Ok(())
}

fn new_hire(s: &Settings) -> Result<(), ConfigError> {
    let n = &s.new_hire;
    if n.join_mode == JoinMode::Group {
        require(
            !n.join_group_id.is_empty(),
            "new_hire.join_group_id",
            "required when new_hire.join_mode = group",
        )?;
    }
    Ok(())
}

fn device_purchased(s: &Settings) -> Result<(), ConfigError> {
    let d = &s.device_purchased;
    // Without a hash the only way to register a device is a corporate identifier.
    require(
        d.require_hardware_hash || d.corporate_identifier,
        "device_purchased.require_hardware_hash",
        "may be false only when device_purchased.corporate_identifier = true",
    )
}

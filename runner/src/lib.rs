//! What every onboarding service does around its handler, in one place: metrics, the Graph
//! client (reporting to those metrics), the health listener with its readiness checks, and the
//! consumer loop until shutdown. A service crate's `run` builds its handler and calls
//! [`serve`]; its `main.rs` only loads settings, installs telemetry and waits for a signal.
//!
//! Not for: anything one service does differently (its handler, its start-up checks).
//!
//! - [`probe`]: `<service> --probe live|ready`, a health check without shell or curl.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod probe;
pub use probe::{ProbeKind, probe_exit};

use std::process::ExitCode;
use std::sync::Arc;

use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use graph::{GraphClient, GraphError};
use shared::amqp::{AmqpError, ConsumerSpec, Handler, Runtime};
use shared::config::{Service, Settings};
use shared::error::{Classify, ErrorClass};
use shared::health::{self, Readiness, ReadinessFlag};
use shared::telemetry::Metrics;

/// Why a service could not start or stopped with an error. `main` prints it and exits non-zero.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    /// The service has no work queue in the settings (a configuration error).
    #[error("{0} consumes no queue")]
    NoQueue(&'static str),
    /// The Graph client could not be built from `graph.*` (a bad credential setting, CA file).
    #[error("the Graph client cannot be built: {0}")]
    Graph(#[from] GraphError),
    /// A start-up check of the service failed; the text says what to fix.
    #[error("start-up check failed: {0}")]
    Preflight(String),
    /// The `/healthz`, `/readyz`, `/metrics` listener failed.
    #[error("the health listener failed: {0}")]
    Http(#[from] std::io::Error),
    /// The broker refused something reconnecting cannot fix (credentials, a queue's arguments).
    #[error(transparent)]
    Amqp(#[from] AmqpError),
}

impl Classify for ServiceError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::NoQueue(_) | Self::Preflight(_) | Self::Http(_) => ErrorClass::Permanent,
            Self::Graph(e) => e.class(),
            Self::Amqp(e) => e.class(),
        }
    }
}

/// The parts a service builds its handler from, created once per process.
pub struct Parts {
    /// The process's Prometheus metrics, served on `/metrics`.
    pub metrics: Metrics,
    /// The process's one Graph client: every Graph call of the service goes through it.
    pub graph: GraphClient,
}

impl Parts {
    /// Metrics named after `service`, and the Graph client reporting to them.
    pub fn new(settings: &Settings, service: Service) -> Result<Self, ServiceError> {
        let metrics = Metrics::new(service.name());
        let graph = GraphClient::new(&settings.graph, Arc::new(metrics.clone()))?;
        Ok(Parts { metrics, graph })
    }
}

/// Serves `/healthz`, `/readyz` and `/metrics` on `http`, and consumes the service's queue with
/// `handler` until `shutdown` is cancelled. Ready means: the broker session is up and a Graph
/// token can be obtained.
pub async fn serve<H: Handler>(
    settings: &Settings,
    service: Service,
    parts: Parts,
    handler: Arc<H>,
    http: TcpListener,
    shutdown: CancellationToken,
) -> Result<(), ServiceError> {
    let spec = ConsumerSpec::for_handler::<H>(service, &settings.amqp)
        .ok_or(ServiceError::NoQueue(service.name()))?;
    let broker_ready = ReadinessFlag::new();
    let graph = parts.graph.clone();
    let readiness =
        Readiness::new()
            .flag("broker", broker_ready.clone())
            .check("graph_token", move || {
                let graph = graph.clone();
                async move { graph.token_obtainable().await }
            });
    let (addr, http_task) =
        health::spawn(http, readiness, parts.metrics.clone(), shutdown.clone())?;
    tracing::info!(service = service.name(), http.address = %addr, queue = %spec.queue, "Service started.");
    let runtime = Runtime::new(
        &settings.amqp,
        spec,
        parts.metrics,
        broker_ready,
        shutdown.clone(),
    );
    let consumed = runtime.run(handler).await;
    // The listener stops with the same token; wait for it so the port is free on return.
    shutdown.cancel();
    let served = http_task.await.unwrap_or(Ok(()));
    consumed?;
    served?;
    tracing::info!(service = service.name(), "Service stopped.");
    Ok(())
}

/// A token cancelled on SIGTERM or SIGINT: what Kubernetes and a terminal send to stop us.
/// Off Unix (onboardctl on Windows links this crate), Ctrl-C alone.
pub fn shutdown_on_signal() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        wait_for_stop_signal().await;
        cancel.cancel();
    });
    token
}

#[cfg(unix)]
async fn wait_for_stop_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = match signal(SignalKind::terminate()) {
        Ok(term) => term,
        Err(e) => {
            tracing::error!(error = %e, "Cannot listen for SIGTERM; stopping.");
            return;
        }
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received; draining."),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received; draining."),
    }
}

#[cfg(not(unix))]
async fn wait_for_stop_signal() {
    if let Err(e) = tokio::signal::ctrl_c().await {
        tracing::error!(error = %e, "Cannot listen for Ctrl-C; stopping.");
        return;
    }
    tracing::info!("Ctrl-C received; draining.");
}

/// Why a service binary stopped with an error, for `main` to print with its causes.
#[derive(Debug, thiserror::Error)]
pub enum MainError {
    /// The settings did not load or validate; the message names the key.
    #[error(transparent)]
    Config(#[from] shared::config::ConfigError),
    /// Logging or the OTLP exporter could not be set up.
    #[error("telemetry: {0}")]
    Telemetry(#[from] shared::telemetry::TelemetryError),
    /// `http.listen` could not be bound (in use, not permitted).
    #[error("http.listen: cannot bind {addr}: {source}")]
    Bind {
        /// The address from `http.listen`.
        addr: std::net::SocketAddr,
        /// Why the bind failed.
        source: std::io::Error,
    },
    /// The service started and then stopped with an error.
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// The body of every service binary's `main`: loads settings (`config` file, then the
/// environment), validates them for `service`, installs telemetry, binds the health listener and
/// runs `run` until SIGTERM or SIGINT. Printing the error and choosing the exit code stay in
/// `main`, so each binary keeps its own `--help`.
pub async fn run_binary<F, Fut>(
    service: Service,
    config: Option<&std::path::Path>,
    run: F,
) -> Result<(), MainError>
where
    F: FnOnce(Settings, TcpListener, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), ServiceError>>,
{
    let settings = shared::config::load(config, std::env::vars().collect())?;
    settings.validate(service)?;
    let _telemetry = shared::telemetry::init(service.name(), &settings.telemetry, std::io::stdout)?;
    let addr = settings.http.listen;
    let http = TcpListener::bind(addr)
        .await
        .map_err(|source| MainError::Bind { addr, source })?;
    run(settings, http, shutdown_on_signal()).await?;
    Ok(())
}

/// The command line every service binary takes.
#[derive(Debug, clap::Parser)]
struct ServiceArgs {
    /// TOML file overriding the embedded defaults (environment ONBOARDING__SECTION__KEY overrides both).
    #[arg(long, env = "ONBOARDING_CONFIG")]
    config: Option<std::path::PathBuf>,
    /// Check the service running on this machine instead of starting one: GET /readyz (ready,
    /// the default) or /healthz (live) at http.listen; exit 0 if healthy, 1 if not.
    #[arg(long, value_name = "live|ready", num_args = 0..=1, default_missing_value = "ready")]
    probe: Option<ProbeKind>,
}

/// The whole `main` of a service binary: parses `--config` and `--probe` (the help names the
/// binary, says `about` and shows `version`), then either probes the running service or runs
/// it with [`run_binary`] until SIGTERM/SIGINT; an error is printed with its causes on stderr.
pub async fn main<F, Fut>(
    service: Service,
    about: &'static str,
    version: &'static str,
    run: F,
) -> ExitCode
where
    F: FnOnce(Settings, TcpListener, CancellationToken) -> Fut,
    Fut: std::future::Future<Output = Result<(), ServiceError>>,
{
    use clap::{CommandFactory as _, FromArgMatches as _};
    let matches = ServiceArgs::command()
        .name(service.name())
        .bin_name(service.name())
        .about(about)
        .version(version)
        .get_matches();
    let args = ServiceArgs::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    if let Some(kind) = args.probe {
        return probe_exit(service, args.config.as_deref(), kind).await;
    }
    match run_binary(service, args.config.as_deref(), run).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("{}: {}", service.name(), error_chain(&err));
            ExitCode::FAILURE
        }
    }
}

/// An error and its causes on one line, as `anyhow`'s `{:#}` prints them.
pub fn error_chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        // `#[error(transparent)]` layers repeat their source's message: print it once.
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

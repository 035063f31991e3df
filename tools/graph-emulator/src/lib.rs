//! A stateful local twin of Microsoft Graph, the Entra token endpoint and Autopilot, written
//! from `docs/graph-behaviour.md` alone (it shares no types with the services' client, so
//! the two sides cannot share a mistake). Real HTTPS, real tokens, Graph's quirks included.
//!
//! Map of the modules:
//! - [`fixture`]: the tenant as data (what `--fixture` loads and `/_emulator/state` dumps); [`demo`]: its constants.
//! - `tls`: the CA generated at start and the serving certificate it signs.
//! - `token`: `POST /{tenant}/oauth2/v2.0/token` and the managed-identity endpoint;
//!   `password_grant`: users of public clients (delegated tokens); `jwt`: the tokens.
//! - `http` → `pipeline`: every Graph call (auth, permissions, throttling, faults, handler, log);
//!   `routes`: the route table and handlers; `permissions`: the permission table; `batch`: `$batch`.
//! - `lifecycle`: the asynchronous tenant (imports settle, devices appear, syncs end), scaled by `clock`.
//! - `throttle`, `faults`: 429s by budget, injected 503s/hangs/latency; `log`: request log and counters.
//! - `admin`: `/_emulator/*`; `state`: the shared state and in-process helpers ([`AppState`]).
//! - [`outbox`]: mail accepted by `sendMail` (graph-behaviour §17); `clock` also keeps the emulated
//!   calendar that TAP validity runs on (graph-behaviour §16).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod admin;
mod admin_enrollment;
mod batch;
mod clock;
pub mod demo;
pub mod faults;
pub mod fixture;
mod http;
mod jwt;
mod lifecycle;
pub mod log;
pub mod outbox;
mod password_grant;
mod permissions;
mod pipeline;
mod query;
mod reply;
mod routes;
mod state;
pub mod throttle;
mod tls;
mod token;

use std::net::SocketAddr;
use std::time::Duration;

use axum::Router;
use axum::routing::{any, get, post};

pub use faults::{FaultConfig, FaultRule};
pub use fixture::Fixture;
pub use log::{Counters, RequestRecord};
pub use state::{AppState, Timings};
pub use throttle::{Budget, Family, Kind, Scope, ThrottleConfig};

/// Everything an emulator is started with.
#[derive(Debug, Clone)]
pub struct EmulatorConfig {
    /// Address to bind (port 0 = any free port; [`RunningEmulator::addr`] tells which).
    pub listen: SocketAddr,
    /// The tenant served at start and restored by [`AppState::reset`].
    pub fixture: Fixture,
    /// Seeds every random choice (ids, fault draws, batch response order).
    pub seed: u64,
    /// Emulated delays last `nominal / speed` real seconds. Token lifetime is not scaled.
    pub speed: f64,
    /// Default page size of collections (small, so clients must follow `@odata.nextLink`).
    pub page_size: usize,
    /// Nominal durations of the tenant's asynchronous behaviour (imports, syncs, device appearance).
    pub timings: Timings,
    /// The throttling model at start (graph-behaviour §11); [`AppState::set_throttle`] replaces it.
    pub throttle: ThrottleConfig,
    /// Faults at start; `None` = the fixture's (if any).
    pub faults: Option<FaultConfig>,
    /// `expires_in` of issued tokens (3599 as Entra; azure_identity refreshes 300 s before expiry).
    pub token_lifetime_secs: i64,
    /// Refuse `/_emulator/*` to non-loopback peers.
    pub admin_loopback_only: bool,
    /// Extra DNS names on the serving certificate (e.g. `graph-emulator` in compose).
    pub tls_names: Vec<String>,
    /// The real instant the emulated calendar is scaled from (`emulated = epoch + (real −
    /// epoch) × speed`); `None` = start. Services that scale their clock share it.
    pub clock_epoch: Option<std::time::SystemTime>,
}

impl Default for EmulatorConfig {
    fn default() -> Self {
        EmulatorConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 0)),
            fixture: Fixture::demo(),
            seed: 0,
            speed: 1.0,
            page_size: 5,
            timings: Timings::default(),
            throttle: ThrottleConfig::default(),
            faults: None,
            token_lifetime_secs: 3599,
            admin_loopback_only: true,
            tls_names: Vec::new(),
            clock_epoch: None,
        }
    }
}

/// The whole HTTP surface: token endpoints, Graph (`/v1.0`, `/beta`) and `/_emulator`.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/{tenant}/oauth2/v2.0/token", post(token::token))
        .route("/msi/token", get(token::managed_identity))
        .route("/v1.0/{*rest}", any(http::graph))
        .route("/beta/{*rest}", any(http::graph))
        .nest("/_emulator", admin::router(state.clone()))
        .with_state(state)
}

/// An emulator serving HTTPS on its own task.
pub struct RunningEmulator {
    addr: SocketAddr,
    ca_pem: String,
    state: AppState,
    handle: axum_server::Handle<SocketAddr>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl RunningEmulator {
    /// Generates the CA, binds `cfg.listen` and starts serving before returning.
    pub async fn start(cfg: EmulatorConfig) -> anyhow::Result<RunningEmulator> {
        let identity = tls::generate(&cfg.tls_names)?;
        let listener = std::net::TcpListener::bind(cfg.listen)?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let mut fixture = cfg.fixture;
        if let Some(f) = cfg.faults {
            fixture.faults = Some(f);
        }
        if let Some(epoch) = cfg.clock_epoch {
            let clock = clock::EmulatedClock::new(clock::Speed::new(cfg.speed), Some(epoch));
            // A day of headroom: the emulated calendar must stay representable for a while.
            let later = std::time::Instant::now() + Duration::from_secs(86_400);
            anyhow::ensure!(
                clock.checked_at(later).is_some(),
                "the clock epoch is too far in the past for speed {}: emulated time would pass year 9999",
                cfg.speed
            );
        }
        let state = AppState::new(state::StateSeed {
            fixture,
            seed: cfg.seed,
            speed: cfg.speed,
            page_size: cfg.page_size,
            timings: cfg.timings,
            throttle: cfg.throttle,
            token_lifetime_secs: cfg.token_lifetime_secs,
            admin_loopback_only: cfg.admin_loopback_only,
            clock_epoch: cfg.clock_epoch,
        });
        let tls = axum_server::tls_rustls::RustlsConfig::from_config(identity.server_config);
        let handle = axum_server::Handle::new();
        let server = axum_server::from_tcp_rustls(listener, tls)?.handle(handle.clone());
        let app = router(state.clone()).into_make_service_with_connect_info::<SocketAddr>();
        let task = tokio::spawn(server.serve(app));
        tracing::info!(%addr, "Graph emulator listening.");
        Ok(RunningEmulator {
            addr,
            ca_pem: identity.ca_pem,
            state,
            handle,
            task,
        })
    }

    /// The address actually bound (the port chosen when `listen` asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// Graph root (`https://127.0.0.1:PORT`); clients append `/v1.0/...` or `/beta/...`.
    pub fn base_url(&self) -> String {
        format!("https://{}", self.addr)
    }
    /// Entra authority host (same origin): the token is at `{authority}/{tenant}/oauth2/v2.0/token`.
    pub fn authority_host(&self) -> String {
        self.base_url()
    }
    /// `IDENTITY_ENDPOINT` for App Service managed identity.
    pub fn identity_endpoint(&self) -> String {
        format!("{}/msi/token", self.base_url())
    }
    /// PEM of the CA that signed the serving certificate.
    pub fn ca_pem(&self) -> String {
        self.ca_pem.clone()
    }
    /// The request log, oldest first (the same records as `GET /_emulator/requests`).
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.state.requests()
    }
    /// Aggregates over every request since start or reset (`GET /_emulator/counters`).
    pub fn counters(&self) -> Counters {
        self.state.counters()
    }
    /// State-changing requests whose template ends with `template_suffix` (any version).
    pub fn writes_to(&self, template_suffix: &str) -> usize {
        self.state.writes_to(template_suffix)
    }
    /// A handle on the live state, to inspect or change the tenant, faults and throttling in-process.
    pub fn state(&self) -> AppState {
        self.state.clone()
    }
    /// Stops accepting, lets in-flight requests finish (up to a second), and waits.
    pub async fn shutdown(self) {
        self.handle.graceful_shutdown(Some(Duration::from_secs(1)));
        let _ = self.task.await;
    }
}

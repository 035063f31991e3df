//! The operations listener: `/healthz` (the process runs), `/readyz` (every named readiness
//! check passes, listed as JSON) and `/metrics` (OpenMetrics text). Handed its listener and its
//! stop signal, so tests bind `127.0.0.1:0`.
//!
//! Not for: anything a user or an integrator calls; events arrive only through the broker.

use std::collections::BTreeMap;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use futures::future::BoxFuture;
use tokio_util::sync::CancellationToken;

use crate::telemetry::Metrics;

/// A readiness check that takes longer than this counts as failed: `/readyz` must answer
/// before the orchestrator's probe times out.
const CHECK_TIMEOUT: Duration = Duration::from_secs(3);

/// A yes/no fact another task keeps up to date, e.g. "the broker connection is up".
#[derive(Debug, Clone, Default)]
pub struct ReadinessFlag(Arc<AtomicBool>);

impl ReadinessFlag {
    /// A flag that is not set.
    pub fn new() -> Self {
        Self::default()
    }
    /// Sets or clears the flag.
    pub fn set(&self, ready: bool) {
        self.0.store(ready, Ordering::Release);
    }
    /// Whether the flag is set now.
    pub fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

type CheckFn = Arc<dyn Fn() -> BoxFuture<'static, bool> + Send + Sync>;

/// Named readiness checks; `/readyz` is 200 only when every one passes.
#[derive(Clone, Default)]
pub struct Readiness {
    checks: Vec<(String, CheckFn)>,
}

impl Readiness {
    /// No checks yet: ready until one is added.
    pub fn new() -> Self {
        Self::default()
    }

    /// A check that reads a flag, e.g. `("broker", flag)` kept by `amqp::run_consumer`.
    pub fn flag(self, name: &str, flag: ReadinessFlag) -> Self {
        self.check(name, move || {
            let ready = flag.is_set();
            async move { ready }
        })
    }

    /// A check that must be computed, e.g. "a Graph token can be obtained".
    pub fn check<F, Fut>(mut self, name: &str, check: F) -> Self
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = bool> + Send + 'static,
    {
        let check: CheckFn = Arc::new(move || Box::pin(check()));
        self.checks.push((name.to_owned(), check));
        self
    }

    /// Runs every check (each bounded by a timeout); `true` when all passed.
    pub async fn evaluate(&self) -> (bool, BTreeMap<String, bool>) {
        let runs = self.checks.iter().map(|(name, check)| async move {
            let ok = tokio::time::timeout(CHECK_TIMEOUT, check())
                .await
                .unwrap_or(false);
            (name.clone(), ok)
        });
        let results: BTreeMap<String, bool> =
            futures::future::join_all(runs).await.into_iter().collect();
        (results.values().all(|ok| *ok), results)
    }
}

#[derive(Clone)]
struct AppState {
    readiness: Readiness,
    metrics: Metrics,
}

/// The routes, without a server: tests can call it with `tower::ServiceExt::oneshot`.
pub fn router(readiness: Readiness, metrics: Metrics) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(readyz))
        .route("/metrics", get(metrics_text))
        .with_state(AppState { readiness, metrics })
}

async fn readyz(State(state): State<AppState>) -> Response {
    let (ready, checks) = state.readiness.evaluate().await;
    let status = if ready {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    let body = serde_json::json!({ "ready": ready, "checks": checks });
    (status, axum::Json(body)).into_response()
}

async fn metrics_text(State(state): State<AppState>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        )],
        state.metrics.render(),
    )
        .into_response()
}

/// Serves the routes on `listener` until `shutdown` is cancelled.
pub async fn serve(
    listener: tokio::net::TcpListener,
    readiness: Readiness,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router(readiness, metrics))
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
}

/// Starts [`serve`] on a task and returns the bound address (useful with port 0).
pub fn spawn(
    listener: tokio::net::TcpListener,
    readiness: Readiness,
    metrics: Metrics,
    shutdown: CancellationToken,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<std::io::Result<()>>)> {
    let addr = listener.local_addr()?;
    let task = tokio::spawn(serve(listener, readiness, metrics, shutdown));
    Ok((addr, task))
}

//! The admin API under `/_emulator/`: inspect the tenant, the request log and counters; change
//! faults, throttling and timings; reset or load another fixture. No Graph token, but refused
//! to non-loopback peers unless the emulator was started with `--admin-anywhere`.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

mod onboarding;

use crate::faults::FaultConfig;
use crate::fixture::Fixture;
use crate::state::{AppState, Timings};
use crate::throttle::ThrottleConfig;

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route(
            "/state",
            get(|State(s): State<AppState>| async move { Json(s.snapshot()) }),
        )
        .route(
            "/requests",
            get(|State(s): State<AppState>| async move { Json(s.requests()) }),
        )
        .route(
            "/counters",
            get(|State(s): State<AppState>| async move { Json(s.counters()) }),
        )
        .route(
            "/faults",
            get(|State(s): State<AppState>| async move { Json(s.faults()) }).put(put_faults),
        )
        .route(
            "/throttle",
            get(|State(s): State<AppState>| async move { Json(s.throttle()) }).put(put_throttle),
        )
        .route(
            "/timings",
            get(|State(s): State<AppState>| async move { Json(s.world().timings.clone()) })
                .put(put_timings),
        )
        .route(
            "/reset",
            post(|State(s): State<AppState>| async move {
                s.reset();
                StatusCode::NO_CONTENT
            }),
        )
        .route("/fixture", post(post_fixture))
        .route("/token", post(post_token))
        .merge(crate::admin_enrollment::router())
        .merge(onboarding::router())
        .layer(middleware::from_fn_with_state(state, loopback_only))
}

async fn put_faults(State(s): State<AppState>, Json(f): Json<FaultConfig>) -> StatusCode {
    s.set_faults(f);
    StatusCode::NO_CONTENT
}

async fn put_throttle(State(s): State<AppState>, Json(t): Json<ThrottleConfig>) -> StatusCode {
    s.set_throttle(t);
    StatusCode::NO_CONTENT
}

async fn put_timings(State(s): State<AppState>, Json(t): Json<Timings>) -> StatusCode {
    s.set_timings(t);
    StatusCode::NO_CONTENT
}

/// Takes the text, not `Json<Fixture>`, so a bad fixture's error names the field.
async fn post_fixture(State(s): State<AppState>, body: String) -> Response {
    match Fixture::from_json(&body) {
        Ok(f) => {
            s.load_fixture(f);
            StatusCode::NO_CONTENT.into_response()
        }
        Err(e) => (
            StatusCode::BAD_REQUEST,
            Json(json!({ "error": e.to_string() })),
        )
            .into_response(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct TokenRequest {
    client_id: String,
    #[serde(default = "default_lifetime")]
    lifetime_secs: i64,
}

fn default_lifetime() -> i64 {
    3599
}

/// A token without the token endpoint; a negative lifetime gives an expired one.
async fn post_token(State(s): State<AppState>, Json(t): Json<TokenRequest>) -> Response {
    match s.issue_token(&t.client_id, t.lifetime_secs) {
        Some(token) => Json(json!({ "access_token": token })).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            Json(json!({ "error": "unknown client id" })),
        )
            .into_response(),
    }
}

async fn loopback_only(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0);
    if s.0.admin_loopback_only && peer.is_some_and(|p| !p.ip().is_loopback()) {
        return (
            StatusCode::FORBIDDEN,
            Json(json!({ "error": "the admin API answers loopback clients only" })),
        )
            .into_response();
    }
    next.run(req).await
}

//! Admin routes for the first-day flow: the emulated calendar, the outbox of sent mail
//! (graph-behaviour §17), and the Temporary Access Pass policy, known pass values and a stand-in
//! for signing in with a pass (graph-behaviour §16).

use std::time::Instant;

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::json;

use crate::clock::rfc3339;
use crate::fixture::TemporaryAccessPassPolicy;
use crate::state::AppState;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/clock", get(clock))
        .route(
            "/mail",
            get(|State(s): State<AppState>| async move { Json(s.sent_mail()) }),
        )
        .route(
            "/temporaryAccessPassPolicy",
            get(|State(s): State<AppState>| async move {
                Json(s.world().tenant.temporary_access_pass_policy.clone())
            })
            .put(put_policy),
        )
        .route("/temporaryAccessPassValues", put(put_values))
        .route("/temporaryAccessPassSignIn", post(sign_in))
}

/// `{ "speed", "epoch", "now", "realNow" }`: a service clock scaled as
/// `epoch + (real − epoch) × speed` agrees with `now`.
async fn clock(State(s): State<AppState>) -> Response {
    let w = s.world();
    Json(json!({
        "speed": w.speed.factor(),
        "epoch": rfc3339(w.clock.epoch()),
        "now": rfc3339(w.clock.now()),
        "realNow": rfc3339(time::OffsetDateTime::now_utc()),
    }))
    .into_response()
}

fn bad(message: String) -> Response {
    (StatusCode::BAD_REQUEST, Json(json!({ "error": message }))).into_response()
}

/// Replaces the policy; 400 `{ "error" }` naming a value outside graph-behaviour §16's ranges.
async fn put_policy(
    State(s): State<AppState>,
    Json(p): Json<TemporaryAccessPassPolicy>,
) -> Response {
    if let Err(e) = p.validate() {
        return bad(e);
    }
    s.world().tenant.temporary_access_pass_policy = p;
    StatusCode::NO_CONTENT.into_response()
}

/// The values the next creates hand out, in order (replaces any still queued).
async fn put_values(State(s): State<AppState>, Json(values): Json<Vec<String>>) -> Response {
    if values.iter().any(|v| v.is_empty()) {
        return bad("a pass value may not be empty".into());
    }
    s.world().tenant.temporary_access_pass_values = values;
    StatusCode::NO_CONTENT.into_response()
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct SignIn {
    /// Object id or UPN.
    user: String,
    pass: String,
}

/// `{ "accepted", "methodUsabilityReason" }`: whether the pass is the user's current, usable
/// one (a one-time pass is used up). Reasons besides graph-behaviour §16's: `NoPass`, `WrongPass`.
async fn sign_in(State(s): State<AppState>, Json(req): Json<SignIn>) -> Response {
    let mut w = s.world();
    let now = Instant::now();
    crate::lifecycle::advance(&mut w, now);
    match crate::routes::tap_sign_in(&mut w, &req.user, &req.pass, now) {
        Ok((accepted, reason)) => {
            Json(json!({ "accepted": accepted, "methodUsabilityReason": reason })).into_response()
        }
        Err(e) => (StatusCode::NOT_FOUND, Json(json!({ "error": e }))).into_response(),
    }
}

//! One Graph request, start to finish: token (401), route (400/405), permission (403),
//! throttling (429), injected faults (503/hang/latency), then the handler — and exactly one
//! request-log record per request. `$batch` items re-enter here with `in_batch = true`.

use std::time::Instant;

use serde_json::Value;

use crate::clock::{format_retry_after, now_rfc3339, now_rfc3339_millis};
use crate::faults::{FaultAction, FaultPlan};
use crate::jwt::Claims;
use crate::log::{Flags, RequestRecord};
use crate::permissions;
use crate::query::Query;
use crate::reply::{ApiError, ErrorIds, Reply};
use crate::routes::{Call, Matched, NoMatch, match_route};
use crate::state::{AppState, World};
use crate::throttle::{Charge, Family, Verdict};

/// A Graph request, independent of HTTP framing (a `$batch` item is one too).
#[derive(Debug, Clone, Default)]
pub struct GraphRequest {
    pub method: String,
    /// Path as sent, starting with `/v1.0` or `/beta`.
    pub path: String,
    pub query: Option<String>,
    pub authorization: Option<String>,
    pub client_request_id: Option<String>,
    pub traceparent: Option<String>,
    /// `ConsistencyLevel: eventual` sent (advanced queries, graph-behaviour §2).
    pub eventual: bool,
    pub body: Vec<u8>,
    /// `https://host:port` the client used.
    pub base_url: String,
    pub in_batch: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GraphResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Option<Value>,
    pub changed: bool,
}

/// What the pipeline learns about a request on its way: its template, caller, error dialect.
/// (Its `request-id` is drawn from the seeded RNG when it is answered, in [`finish`].)
pub(crate) struct Ctx {
    pub intune: bool,
    pub template: String,
    pub app: Option<String>,
    pub early: bool,
    pub flags: Flags,
}

pub async fn serve(state: &AppState, req: GraphRequest) -> GraphResponse {
    let (version, rest) = split_version(&req.path);
    let mut ctx = Ctx {
        intune: rest.to_ascii_lowercase().starts_with("/devicemanagement"),
        template: format!("/{version}{rest}"),
        app: None,
        early: false,
        flags: Flags::default(),
    };
    let claims = match state
        .0
        .keys
        .validate(req.authorization.as_deref(), &state.tenant_id())
    {
        Ok(c) => c,
        Err(e) => {
            return finish_alone(
                state,
                &req,
                &mut ctx,
                Err(ApiError::Unauthorized(e.to_string())),
            );
        }
    };
    ctx.app = Some(claims.appid.clone());
    let matched = match match_route(&req.method, rest, version == "beta") {
        Ok(m) => m,
        Err(e) => return finish_alone(state, &req, &mut ctx, Err(no_match_error(e))),
    };
    ctx.template = format!("/{version}{}", matched.route.template);
    if !authorised(state, &req.method, matched.route.template, &claims) {
        let denied = permissions::denial(matched.route.template);
        return finish_alone(state, &req, &mut ctx, Err(denied));
    }
    let body = match parse_body(&req.body) {
        Ok(b) => b,
        Err(e) => return finish_alone(state, &req, &mut ctx, Err(e)),
    };
    if matched.route.template == "/$batch" {
        return crate::batch::serve(state, &req, ctx, version, body).await;
    }
    serve_matched(state, &req, ctx, &claims, matched, version, body).await
}

/// The permission table's verdict: an app-only token by its `roles`, a delegated one by its
/// `scp` and, where the row names roles, by the signed-in user's directory roles.
fn authorised(state: &AppState, method: &str, template: &str, claims: &Claims) -> bool {
    let Some(needed) = permissions::requirement(method, template) else {
        return false;
    };
    let delegated = claims.is_delegated();
    if !permissions::satisfied(needed.for_token(delegated), &claims.permissions()) {
        return false;
    }
    if !delegated || needed.user_roles.is_empty() {
        return true;
    }
    let w = state.world();
    w.tenant
        .users
        .iter()
        .find(|u| u.id.eq_ignore_ascii_case(&claims.oid))
        .is_some_and(|u| {
            u.directory_roles.iter().any(|held| {
                needed
                    .user_roles
                    .iter()
                    .any(|r| r.eq_ignore_ascii_case(held))
            })
        })
}

/// A routed, authorised request, ready for the handler.
struct Prepared<'a> {
    req: &'a GraphRequest,
    claims: &'a Claims,
    m: Matched,
    version: &'a str,
    query: Query,
    body: Option<Value>,
}

impl Prepared<'_> {
    fn handle(&self, w: &mut World, now: Instant) -> Result<Reply, ApiError> {
        let call = Call {
            version: self.version,
            template: self.m.route.template,
            params: self.m.params.clone(),
            raw_params: self.m.raw_params.clone(),
            query: &self.query,
            body: self.body.as_ref(),
            eventual: self.req.eventual,
            granted: &self.claims.permissions(),
            delegated: self.claims.is_delegated(),
            base_url: &self.req.base_url,
            raw_path: &self.req.path,
            now,
        };
        (self.m.route.handler)(w, &call)
    }
}

async fn serve_matched(
    state: &AppState,
    req: &GraphRequest,
    mut ctx: Ctx,
    claims: &Claims,
    m: Matched,
    version: &str,
    body: Option<Value>,
) -> GraphResponse {
    let query = Query::parse(req.query.as_deref());
    let p = Prepared {
        req,
        claims,
        m,
        version,
        query,
        body,
    };
    let plan = {
        let mut w = state.world();
        match admit(&mut w, &p, &mut ctx) {
            Ok(plan) => plan,
            Err(done) => return done,
        }
    };
    tokio::time::sleep(plan.delay).await;
    ctx.flags.fault = plan.action.is_some();
    let reply = match plan.action {
        Some(FaultAction::Unavailable { retry_after_secs }) => unavailable(state, retry_after_secs),
        Some(FaultAction::Hang(d)) => {
            tokio::time::sleep(d).await;
            Err(ApiError::GatewayTimeout)
        }
        None => {
            let mut w = state.world();
            let now = Instant::now();
            crate::lifecycle::advance(&mut w, now);
            p.handle(&mut w, now)
        }
    };
    finish(&mut state.world(), req, &ctx, reply)
}

/// Under the lock: advance time, throttle, draw faults, and serve at once when nothing
/// delays the request (the common path takes the lock once). `Err` = already answered.
fn admit(w: &mut World, p: &Prepared<'_>, ctx: &mut Ctx) -> Result<FaultPlan, GraphResponse> {
    let now = Instant::now();
    crate::lifecycle::advance(w, now);
    let request = format!("{} {}", p.req.method, p.req.path);
    let charge = Charge {
        app: &p.claims.appid,
        tenant: &p.claims.tid,
        family: if ctx.intune {
            Family::Intune
        } else {
            Family::Identity
        },
        write: p.req.method != "GET",
        resource_units: resource_units(&p.req.method, p.m.route.template),
        request: &request,
    };
    if let Verdict::Throttled {
        retry_after,
        early,
        scope,
    } = w
        .throttle
        .decide(&w.throttle_config, w.speed, &charge, now, &mut w.rng)
    {
        ctx.early = early;
        ctx.flags.throttled = true;
        return Err(finish(
            w,
            p.req,
            ctx,
            throttled(retry_after, scope, charge.write),
        ));
    }
    let plan = if w.faults.is_empty() {
        FaultPlan::default()
    } else {
        w.faults
            .plan(&p.req.method, &ctx.template, &p.req.path, &mut w.rng)
    };
    if plan.delay.is_zero() && plan.action.is_none() {
        let reply = p.handle(w, now);
        return Err(finish(w, p.req, ctx, reply));
    }
    Ok(plan)
}

fn throttled(retry_after: Option<String>, scope: String, write: bool) -> Result<Reply, ApiError> {
    let mut reply = Reply {
        status: 429,
        body: None,
        headers: vec![("x-ms-throttle-scope".into(), scope)],
        changed: false,
    };
    // graph-behaviour §11's reasons; the emulator models no CPU limit.
    let reason = if write {
        "WriteLimitExceeded"
    } else {
        "ResourceUnitLimitExceeded"
    };
    reply
        .headers
        .push(("x-ms-throttle-information".into(), reason.into()));
    if let Some(ra) = retry_after {
        reply.headers.push(("Retry-After".into(), ra));
    }
    reply.body = Some(Value::Null); // marker: filled with the 429 envelope in `finish`
    Ok(reply)
}

fn unavailable(state: &AppState, retry_after_secs: Option<f64>) -> Result<Reply, ApiError> {
    let Some(secs) = retry_after_secs else {
        return Err(ApiError::Unavailable("Service unavailable.".into()));
    };
    let w = state.world();
    let text = format_retry_after(
        w.speed.scaled_secs(secs),
        w.throttle_config.fractional_at(w.speed),
    );
    let mut reply = Reply {
        status: 503,
        body: Some(Value::Null),
        headers: vec![("Retry-After".into(), text)],
        changed: false,
    };
    reply.changed = false;
    Ok(reply)
}

/// Resource units (graph-behaviour §11) for identity calls; Intune budgets count requests instead.
fn resource_units(method: &str, template: &str) -> u64 {
    match (method, template) {
        ("GET", "/users") => 2,
        ("GET", "/groups/{id}/members") => 3,
        ("POST", t) if t.ends_with("/checkMemberGroups") => 4,
        _ => 1,
    }
}

fn split_version(path: &str) -> (&str, &str) {
    for v in ["v1.0", "beta"] {
        if let Some(rest) = path.strip_prefix('/').and_then(|p| p.strip_prefix(v)) {
            return (v, rest);
        }
    }
    ("v1.0", path)
}

fn no_match_error(e: NoMatch) -> ApiError {
    match e {
        NoMatch::UnknownSegment(s) => {
            ApiError::bad(format!("Resource not found for the segment '{s}'."))
        }
        NoMatch::Method => ApiError::MethodNotAllowed,
        NoMatch::DollarKey(s) => {
            ApiError::bad(format!("Unsupported segment type. ODataQuery: {s}"))
        }
    }
}

fn parse_body(bytes: &[u8]) -> Result<Option<Value>, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(bytes).map(Some).map_err(|_| ApiError::bad("Unable to read JSON request payload. Please ensure Content-Type header is set and payload is of valid JSON format."))
}

/// Records and shapes a request that never reached the world lock (401/400/403).
fn finish_alone(
    state: &AppState,
    req: &GraphRequest,
    ctx: &mut Ctx,
    reply: Result<Reply, ApiError>,
) -> GraphResponse {
    finish(&mut state.world(), req, ctx, reply)
}

/// The only place a Graph response is shaped and logged.
pub(crate) fn finish(
    w: &mut World,
    req: &GraphRequest,
    ctx: &Ctx,
    reply: Result<Reply, ApiError>,
) -> GraphResponse {
    let seq = w.log.next_seq();
    let request_id = w.new_id();
    let ids = ErrorIds {
        request_id: &request_id,
        // Graph echoes the caller's id, or repeats its own when none was sent.
        client_request_id: req.client_request_id.as_deref().unwrap_or(&request_id),
        date: &now_rfc3339(),
    };
    let resp = shape(req, ctx, &ids, reply);
    let record = RequestRecord {
        seq,
        time: now_rfc3339_millis(),
        app_id: ctx.app.clone(),
        method: req.method.clone(),
        path: req.path.clone(),
        template: ctx.template.clone(),
        status: resp.status,
        changed_state: resp.changed,
        early: ctx.early,
        in_batch: req.in_batch,
        request_id: request_id.clone(),
        client_request_id: req.client_request_id.clone(),
        traceparent: req.traceparent.clone(),
    };
    tracing::info!(method = %req.method, template = %ctx.template, status = resp.status, app = ?ctx.app, request_id = %request_id, traceparent = ?req.traceparent, "Graph request served.");
    w.log.record(record, ctx.flags);
    resp
}

/// Error envelopes (graph-behaviour §13, Intune dialect on Intune routes) and the headers every answer carries.
fn shape(
    req: &GraphRequest,
    ctx: &Ctx,
    ids: &ErrorIds<'_>,
    reply: Result<Reply, ApiError>,
) -> GraphResponse {
    let mut resp = match reply {
        // A `Null` body marks a 429/503 whose envelope is built here, with this request's ids.
        Ok(r) if r.body == Some(Value::Null) => {
            let err = if r.status == 429 {
                ApiError::TooManyRequests("Please retry again later.".into())
            } else {
                ApiError::Unavailable("Service unavailable.".into())
            };
            GraphResponse {
                status: r.status,
                headers: r.headers,
                body: Some(err.envelope(ctx.intune, ids)),
                changed: false,
            }
        }
        Ok(r) => GraphResponse {
            status: r.status,
            headers: r.headers,
            body: r.body,
            changed: r.changed,
        },
        Err(e) => GraphResponse {
            status: e.status(),
            headers: Vec::new(),
            body: Some(e.envelope(ctx.intune, ids)),
            changed: false,
        },
    };
    resp.headers
        .push(("request-id".into(), ids.request_id.to_string()));
    resp.headers.push((
        "client-request-id".into(),
        ids.client_request_id.to_string(),
    ));
    resp.headers
        .push(("x-ms-ags-diagnostic".into(), AGS_DIAGNOSTIC.into()));
    if !ctx.intune {
        let template = ctx
            .template
            .trim_start_matches("/v1.0")
            .trim_start_matches("/beta");
        resp.headers.push((
            "x-ms-resource-unit".into(),
            resource_units(&req.method, template).to_string(),
        ));
    }
    resp
}

const AGS_DIAGNOSTIC: &str = r#"{"ServerInfo":{"DataCenter":"Emulated","Slice":"E","Ring":"0","ScaleUnit":"000","RoleInstance":"graph-emulator"}}"#;

//! JSON batching (graph-behaviour §4): up to 20 requests with relative URLs, run in order through the same
//! pipeline as single requests (so each item is authorised, throttled and logged on its own),
//! `dependsOn` failures answered 424, and the responses returned in a shuffled order — Graph
//! does not guarantee order, so a client must correlate by `id`.

use std::collections::HashMap;

use rand::seq::SliceRandom;
use serde_json::{Map, Value, json};

use crate::pipeline::{Ctx, GraphRequest, GraphResponse, finish};
use crate::reply::{ApiError, Reply};
use crate::state::AppState;

const MAX_REQUESTS: usize = 20;

pub(crate) async fn serve(
    state: &AppState,
    outer: &GraphRequest,
    ctx: Ctx,
    version: &str,
    body: Option<Value>,
) -> GraphResponse {
    let items = match parse(body.as_ref()) {
        Ok(items) => items,
        Err(e) => return finish(&mut state.world(), outer, &ctx, Err(e)),
    };
    let mut statuses: HashMap<String, u16> = HashMap::new();
    let mut responses = Vec::with_capacity(items.len());
    let mut changed = false;
    for item in &items {
        let id = item
            .get("id")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string();
        let resp = match failed_dependency(item, &statuses) {
            Some(early) => early,
            None => match sub_request(outer, version, item) {
                Ok(sub) => Box::pin(crate::pipeline::serve(state, sub)).await,
                Err(e) => item_error(e),
            },
        };
        changed |= resp.changed;
        statuses.insert(id.to_ascii_lowercase(), resp.status);
        responses.push(item_json(&id, resp));
    }
    responses.shuffle(&mut state.world().rng);
    let reply = Reply {
        status: 200,
        body: Some(json!({ "responses": responses })),
        headers: Vec::new(),
        changed,
    };
    finish(&mut state.world(), outer, &ctx, Ok(reply))
}

/// Validates the envelope: a `requests` array of ≤ 20 objects with unique (case-insensitive) ids.
fn parse(body: Option<&Value>) -> Result<Vec<Map<String, Value>>, ApiError> {
    let requests = body
        .and_then(|b| b.get("requests"))
        .and_then(Value::as_array)
        .ok_or_else(|| ApiError::bad("Invalid batch payload format."))?;
    if requests.len() > MAX_REQUESTS {
        return Err(ApiError::bad(format!(
            "Number of individual requests in the batch exceeded the max limit of {MAX_REQUESTS}."
        )));
    }
    let mut seen = Vec::new();
    let mut out = Vec::new();
    for r in requests {
        let obj = r
            .as_object()
            .ok_or_else(|| ApiError::bad("Invalid batch payload format."))?;
        let id = obj
            .get("id")
            .and_then(Value::as_str)
            .ok_or_else(|| ApiError::bad("Batch request id is missing."))?;
        if seen.contains(&id.to_ascii_lowercase()) {
            return Err(ApiError::bad(format!(
                "Request id '{id}' is used more than once in the batch."
            )));
        }
        seen.push(id.to_ascii_lowercase());
        out.push(obj.clone());
    }
    Ok(out)
}

/// 424 when a request this one depends on failed (or never ran before it).
fn failed_dependency(
    item: &Map<String, Value>,
    statuses: &HashMap<String, u16>,
) -> Option<GraphResponse> {
    let deps = item.get("dependsOn")?.as_array()?;
    let failed = deps.iter().filter_map(Value::as_str).any(|d| {
        !statuses
            .get(&d.to_ascii_lowercase())
            .is_some_and(|s| (200..300).contains(s))
    });
    failed.then(|| GraphResponse {
        status: 424,
        headers: Vec::new(),
        body: Some(json!({ "error": { "code": "FailedDependency", "message": "Dependent request failed or did not run." } })),
        changed: false,
    })
}

fn sub_request(
    outer: &GraphRequest,
    version: &str,
    item: &Map<String, Value>,
) -> Result<GraphRequest, ApiError> {
    let method = item
        .get("method")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad("Batch request method is missing."))?;
    let url = item
        .get("url")
        .and_then(Value::as_str)
        .ok_or_else(|| ApiError::bad("Batch request url is missing."))?;
    // graph-behaviour §4: URLs are relative to the version root; absolute URLs and version prefixes are refused.
    if url.contains("://")
        || url.starts_with("/v1.0/")
        || url.starts_with("/beta/")
        || url.starts_with("v1.0/")
    {
        return Err(ApiError::bad(format!(
            "Invalid request URI '{url}': batch request URLs must be relative."
        )));
    }
    let headers = item.get("headers").and_then(Value::as_object);
    let header = |name: &str| {
        headers
            .and_then(|h| h.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
            .and_then(|(_, v)| v.as_str())
            .map(str::to_string)
    };
    let body = match item.get("body") {
        None | Some(Value::Null) => Vec::new(),
        Some(b) => {
            if header("Content-Type").is_none() {
                return Err(ApiError::bad(
                    "Content-Type header must be specified when a body is present.",
                ));
            }
            serde_json::to_vec(b).unwrap_or_default()
        }
    };
    let rel = url.trim_start_matches('/');
    let (path, query) = match rel.split_once('?') {
        Some((p, q)) => (p, Some(q.to_string())),
        None => (rel, None),
    };
    Ok(GraphRequest {
        method: method.to_ascii_uppercase(),
        path: format!("/{version}/{path}"),
        query,
        authorization: outer.authorization.clone(),
        client_request_id: header("client-request-id"),
        traceparent: outer.traceparent.clone(),
        eventual: header("ConsistencyLevel").is_some_and(|v| v.eq_ignore_ascii_case("eventual")),
        body,
        base_url: outer.base_url.clone(),
        in_batch: true,
    })
}

fn item_error(e: ApiError) -> GraphResponse {
    let ids = crate::reply::ErrorIds {
        request_id: "",
        client_request_id: "",
        date: &crate::clock::now_rfc3339(),
    };
    GraphResponse {
        status: e.status(),
        headers: Vec::new(),
        body: Some(e.envelope(false, &ids)),
        changed: false,
    }
}

fn item_json(id: &str, resp: GraphResponse) -> Value {
    let mut headers: Map<String, Value> = resp
        .headers
        .into_iter()
        .map(|(k, v)| (k, Value::String(v)))
        .collect();
    if resp.body.is_some() {
        headers.insert("Content-Type".into(), json!("application/json"));
    }
    let mut item = json!({ "id": id, "status": resp.status, "headers": headers });
    if let Some(b) = resp.body {
        item["body"] = b;
    }
    item
}

//! HTTP framing for Graph calls: turns an axum request into a [`GraphRequest`] and the
//! pipeline's [`GraphResponse`] back into a response. Nothing Graph-specific happens here.

use axum::body::{Body, to_bytes};
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use crate::pipeline::{GraphRequest, GraphResponse, serve};
use crate::state::AppState;

/// Graph's JSON content type.
const JSON: &str = "application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8";
const MAX_BODY: usize = 8 * 1024 * 1024;

pub async fn graph(State(state): State<AppState>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = to_bytes(body, MAX_BODY).await else {
        return (StatusCode::PAYLOAD_TOO_LARGE, "request body too large").into_response();
    };
    let header = |name: &str| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    // HTTP/2 carries the host in :authority (the URI), HTTP/1.1 in Host.
    let host = parts
        .uri
        .authority()
        .map(|a| a.to_string())
        .or_else(|| header("host"))
        .unwrap_or_else(|| "localhost".into());
    let greq = GraphRequest {
        method: parts.method.as_str().to_string(),
        path: parts.uri.path().to_string(),
        query: parts.uri.query().map(str::to_string),
        authorization: header("authorization"),
        client_request_id: header("client-request-id"),
        traceparent: header("traceparent"),
        eventual: header("consistencylevel").is_some_and(|v| v.eq_ignore_ascii_case("eventual")),
        body: bytes.to_vec(),
        base_url: format!("https://{host}"),
        in_batch: false,
    };
    into_response(serve(&state, greq).await)
}

fn into_response(resp: GraphResponse) -> Response {
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = match resp.body {
        Some(b) => {
            let mut r = Response::new(Body::from(serde_json::to_vec(&b).unwrap_or_default()));
            r.headers_mut()
                .insert("content-type", HeaderValue::from_static(JSON));
            r
        }
        None => Response::new(Body::empty()),
    };
    *out.status_mut() = status;
    for (k, v) in resp.headers {
        if let (Ok(name), Ok(value)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            out.headers_mut().append(name, value);
        }
    }
    out
}

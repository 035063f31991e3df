//! The operations of the first-day pass and the registration paths (graph-behaviour §16–§21) over
//! a real HTTPS exchange with the scripted server of `graph_http/server.rs`: what each one puts
//! on the wire (method, path and query as sent, escaping, body) and how it reads each documented
//! answer, errors and their transient/permanent class included.

#[path = "graph_http/server.rs"]
mod server;

// The Temporary Access Pass and its policy (graph-behaviour §16); the pass value's absence from
// every log, span and error lives here too.
#[path = "graph_lifecycle/tap.rs"]
mod tap;
// The manager and sendMail (graph-behaviour §17).
#[path = "graph_lifecycle/mail.rs"]
mod mail;
// Profile assignment, deployment profiles, autopilotEvents, updateDeviceProperties
// (graph-behaviour §18, §19, §21).
#[path = "graph_lifecycle/deployment.rs"]
mod deployment;
// Device preparation reads (graph-behaviour §20).
#[path = "graph_lifecycle/preparation.rs"]
mod preparation;

use std::sync::Arc;

use graph::{GraphClient, NoopObserver};
use server::{GOOD_SECRET, Recorded, TestServer};

fn client(server: &TestServer) -> GraphClient {
    GraphClient::new(&server.settings(GOOD_SECRET), Arc::new(NoopObserver)).unwrap()
}

fn shadow_client(server: &TestServer) -> GraphClient {
    let mut settings = server.settings(GOOD_SECRET);
    settings.dry_run = true;
    GraphClient::new(&settings, Arc::new(NoopObserver)).unwrap()
}

/// The request's JSON body.
fn json_body(r: &Recorded) -> serde_json::Value {
    serde_json::from_slice(&r.body).unwrap()
}

/// Graph's error envelope (graph-behaviour §13).
fn graph_error(code: &str, message: &str) -> String {
    serde_json::json!({ "error": { "code": code, "message": message,
        "innerError": { "date": "2026-05-01T10:00:00", "request-id": "r", "client-request-id": "c" } } })
    .to_string()
}

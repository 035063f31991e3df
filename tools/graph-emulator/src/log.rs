//! The request log and counters behind `GET /_emulator/requests` and `GET /_emulator/counters`:
//! what tests assert on ("one write to members/$ref", "no early retries"). Recorded in one
//! place, by the pipeline, so the log and the counters cannot disagree.

use std::collections::{BTreeMap, VecDeque};

use serde::{Deserialize, Serialize};

/// The log keeps this many records (oldest dropped first); counters are never dropped.
const LOG_CAPACITY: usize = 200_000;

/// One request as the emulator saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestRecord {
    /// Position in arrival order (restarts at 0 on reset).
    pub seq: u64,
    /// Wall-clock time, RFC 3339 with milliseconds.
    pub time: String,
    /// `appid` of the caller's token (or the `client_id` posted to the token endpoint).
    pub app_id: Option<String>,
    /// HTTP method (`GET`, `POST`, …).
    pub method: String,
    /// Path as sent (percent-encoding kept), without the query.
    pub path: String,
    /// Route template with version, e.g. `/v1.0/groups/{id}/members/$ref`.
    pub template: String,
    /// HTTP status answered (for a `$batch` item, the item's own status).
    pub status: u16,
    /// The request changed tenant state; what [`Counters::writes`] counts.
    pub changed_state: bool,
    /// Arrived before the Retry-After it was given had elapsed.
    pub early: bool,
    /// An item of a `$batch` request (graph-behaviour §4), logged as a request of its own.
    pub in_batch: bool,
    /// The `request-id` the emulator answered with (also in the error envelope's `innerError`, graph-behaviour §13).
    pub request_id: String,
    /// The caller's `client-request-id` header, if it sent one.
    pub client_request_id: Option<String>,
    /// The caller's W3C `traceparent` header, if it sent one.
    pub traceparent: Option<String>,
}

/// Aggregates over every request since start or reset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    /// Requests logged: Graph calls (each `$batch` item as well) and token requests; `/_emulator` calls are not.
    pub total: u64,
    /// `"GET /v1.0/users/{id}"` → status → count.
    pub by_route: BTreeMap<String, BTreeMap<u16, u64>>,
    /// Requests answered 429 by the throttling model (graph-behaviour §11).
    pub throttled: u64,
    /// Requests that came back before the Retry-After they were given had elapsed.
    pub early_retries: u64,
    /// Requests answered by an injected fault (503 or hang, see [`crate::FaultRule`]).
    pub faults_injected: u64,
    /// State-changing requests by `"METHOD template"`.
    pub writes: BTreeMap<String, u64>,
}

/// The bounded log of [`RequestRecord`]s and the [`Counters`] kept beside it.
#[derive(Debug, Default)]
pub(crate) struct RequestLog {
    records: VecDeque<RequestRecord>,
    next_seq: u64,
    counters: Counters,
}

/// How the pipeline classifies a record for the counters.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Flags {
    /// Answered 429 by the throttling model.
    pub throttled: bool,
    /// Answered by an injected fault.
    pub fault: bool,
}

impl RequestLog {
    /// Hands out the next sequence number (arrival order).
    pub(crate) fn next_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    /// Appends a record (dropping the oldest past capacity) and updates the counters.
    pub(crate) fn record(&mut self, rec: RequestRecord, flags: Flags) {
        let key = format!("{} {}", rec.method, rec.template);
        let c = &mut self.counters;
        c.total += 1;
        *c.by_route
            .entry(key.clone())
            .or_default()
            .entry(rec.status)
            .or_default() += 1;
        c.throttled += u64::from(flags.throttled);
        c.early_retries += u64::from(rec.early);
        c.faults_injected += u64::from(flags.fault);
        if rec.changed_state {
            *c.writes.entry(key).or_default() += 1;
        }
        if self.records.len() == LOG_CAPACITY {
            self.records.pop_front();
        }
        self.records.push_back(rec);
    }

    /// The records kept, oldest first.
    pub(crate) fn records(&self) -> Vec<RequestRecord> {
        self.records.iter().cloned().collect()
    }

    /// A copy of the counters.
    pub(crate) fn counters(&self) -> Counters {
        self.counters.clone()
    }
}

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
    pub method: String,
    /// Path as sent (percent-encoding kept), without the query.
    pub path: String,
    /// Route template with version, e.g. `/v1.0/groups/{id}/members/$ref`.
    pub template: String,
    pub status: u16,
    pub changed_state: bool,
    /// Arrived before the Retry-After it was given had elapsed.
    pub early: bool,
    pub in_batch: bool,
    pub request_id: String,
    pub client_request_id: Option<String>,
    pub traceparent: Option<String>,
}

/// Aggregates over every request since start or reset.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Counters {
    pub total: u64,
    /// `"GET /v1.0/users/{id}"` → status → count.
    pub by_route: BTreeMap<String, BTreeMap<u16, u64>>,
    pub throttled: u64,
    pub early_retries: u64,
    pub faults_injected: u64,
    /// State-changing requests by `"METHOD template"`.
    pub writes: BTreeMap<String, u64>,
}

#[derive(Debug, Default)]
pub struct RequestLog {
    records: VecDeque<RequestRecord>,
    next_seq: u64,
    counters: Counters,
}

/// How the pipeline classifies a record for the counters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Flags {
    pub throttled: bool,
    pub fault: bool,
}

impl RequestLog {
    pub fn next_seq(&mut self) -> u64 {
        let s = self.next_seq;
        self.next_seq += 1;
        s
    }

    pub fn record(&mut self, rec: RequestRecord, flags: Flags) {
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

    pub fn records(&self) -> Vec<RequestRecord> {
        self.records.iter().cloned().collect()
    }

    pub fn counters(&self) -> Counters {
        self.counters.clone()
    }
}

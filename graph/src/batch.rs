//! JSON batching (graph-behaviour §4) for bulk reads: up to 20 GETs with relative URLs in one
//! `POST /{version}/$batch`. Items are throttled one by one (status 429 with their own
//! Retry-After inside the batch answer), and no SDK retries them, so this module re-sends only
//! the throttled items after the longest of their Retry-Afters, within `in_call_max_wait`.
//!
//! Not for: writes. A batch of writes fails item by item with no rollback; our writes each go
//! through their own call (and shadow mode) instead.

use std::collections::HashMap;
use std::time::{Duration, SystemTime};

use reqwest::Method;
use serde::Deserialize;
use serde_json::Value;

use super::call::{Call, Version};
use super::client::Core;
use super::error::{self, GraphError, Operation};
use super::retry::parse_retry_after;

/// Graph's limit per batch.
pub const MAX_BATCH: usize = 20;

/// The answer to one item: its status and JSON body, or the error it maps to.
pub(crate) type ItemResult = Result<Value, GraphError>;

#[derive(Debug, Deserialize)]
struct Envelope {
    #[serde(default)]
    responses: Vec<ItemResponse>,
}

#[derive(Debug, Deserialize)]
struct ItemResponse {
    id: String,
    status: u16,
    #[serde(default)]
    headers: HashMap<String, String>,
    #[serde(default)]
    body: Value,
}

impl ItemResponse {
    /// Header names in a batch answer are not guaranteed to be lower-case.
    fn retry_after(&self) -> Option<Duration> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("retry-after"))
            .and_then(|(_, v)| parse_retry_after(v, SystemTime::now()))
    }
}

/// The batch body for `urls` (relative, without version), item ids being their indexes.
pub(crate) fn request_body(items: &[(usize, &str)]) -> Value {
    let requests: Vec<Value> = items
        .iter()
        .map(|(i, url)| serde_json::json!({ "id": i.to_string(), "method": "GET", "url": url }))
        .collect();
    serde_json::json!({ "requests": requests })
}

/// What one round of a batch left: answers by index, and the throttled indexes with the wait.
#[derive(Debug)]
pub(crate) struct Round {
    pub answered: Vec<(usize, ItemResult)>,
    pub throttled: Vec<usize>,
    pub wait: Option<Duration>,
}

/// Correlates a batch answer with the indexes sent (answers come in any order). An index
/// missing from the answer counts as throttled: resending it is the only safe move.
pub(crate) fn read_round(op: Operation, sent: &[usize], body: &[u8]) -> Result<Round, GraphError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| GraphError::InvalidResponse {
        operation: op.name,
        detail: format!("cannot decode the $batch answer: {e}"),
    })?;
    let mut by_id: HashMap<String, ItemResponse> = env
        .responses
        .into_iter()
        .map(|r| (r.id.clone(), r))
        .collect();
    let mut round = Round {
        answered: Vec::new(),
        throttled: Vec::new(),
        wait: None,
    };
    for &i in sent {
        match by_id.remove(&i.to_string()) {
            Some(item) if item.status == 429 => {
                round.wait = round.wait.max(item.retry_after());
                round.throttled.push(i);
            }
            Some(item) if (200..300).contains(&item.status) => {
                round.answered.push((i, Ok(item.body)))
            }
            Some(item) => {
                let retry_after = item.retry_after();
                let body = serde_json::to_vec(&item.body).unwrap_or_default();
                round.answered.push((
                    i,
                    Err(error::from_status(op, item.status, retry_after, &body)),
                ));
            }
            None => round.throttled.push(i),
        }
    }
    Ok(round)
}

impl Core {
    /// GETs every relative URL through `$batch`, 20 at a time, re-sending throttled items after
    /// their Retry-After (at most `in_call_retries` times, each wait ≤ `in_call_max_wait`);
    /// items still throttled then answer `Throttled`. Results are in the order of `urls`.
    pub(crate) async fn batch_get(
        &self,
        version: Version,
        op: Operation,
        urls: &[String],
    ) -> Result<Vec<ItemResult>, GraphError> {
        let mut results: Vec<Option<ItemResult>> = (0..urls.len()).map(|_| None).collect();
        let indexes: Vec<usize> = (0..urls.len()).collect();
        for chunk in indexes.chunks(MAX_BATCH) {
            let mut pending = chunk.to_vec();
            let mut rounds = 0;
            while !pending.is_empty() {
                let items: Vec<(usize, &str)> =
                    pending.iter().map(|&i| (i, urls[i].as_str())).collect();
                // The envelope is 200 even when items fail; an older doc says 424 when items are
                // throttled, so both are read as an envelope.
                let call = Call::new(Method::POST, version, "/$batch", "/$batch".into(), op)
                    .body(request_body(&items))
                    .accept(&[424])
                    .reads();
                let round = read_round(op, &pending, &self.read(&call).await?.body)?;
                for (i, r) in round.answered {
                    results[i] = Some(r);
                }
                pending = round.throttled;
                rounds += 1;
                if pending.is_empty() {
                    break;
                }
                let wait = round.wait.unwrap_or(Duration::from_secs(1) * rounds);
                if rounds > self.retry_settings().max_retries
                    || wait > self.retry_settings().max_wait
                {
                    for &i in &pending {
                        results[i] = Some(Err(GraphError::Throttled {
                            operation: op.name,
                            retry_after: round.wait,
                        }));
                    }
                    break;
                }
                tracing::warn!(
                    items = pending.len(),
                    wait_ms = wait.as_millis() as u64,
                    "Retrying throttled $batch items."
                );
                tokio::time::sleep(wait).await;
            }
        }
        Ok(results
            .into_iter()
            .map(|r| {
                r.unwrap_or(Err(GraphError::InvalidResponse {
                    operation: op.name,
                    detail: "no answer for a $batch item".into(),
                }))
            })
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OP: Operation = Operation {
        name: "read import records",
        permission: "DeviceManagementServiceConfig.Read.All",
    };

    #[test]
    fn items_are_relative_gets_keyed_by_index() {
        let body = request_body(&[(0, "/users/a"), (7, "/users/b")]);
        assert_eq!(
            body,
            serde_json::json!({"requests":[{"id":"0","method":"GET","url":"/users/a"},{"id":"7","method":"GET","url":"/users/b"}]})
        );
    }

    #[test]
    fn answers_are_correlated_by_id_and_throttled_items_kept_with_the_longest_wait() {
        let body = br#"{"responses":[
            {"id":"2","status":429,"headers":{"Retry-After":"3"},"body":{"error":{"code":"TooManyRequests"}}},
            {"id":"0","status":200,"body":{"id":"r0"}},
            {"id":"1","status":429,"headers":{"retry-after":"5"}},
            {"id":"3","status":404,"body":{"error":{"code":"ResourceNotFound","message":"gone"}}}
        ]}"#;
        let round = read_round(OP, &[0, 1, 2, 3, 4], body).unwrap();
        assert_eq!(round.throttled, vec![1, 2, 4], "4 had no answer at all");
        assert_eq!(round.wait, Some(Duration::from_secs(5)));
        assert_eq!(round.answered.len(), 2);
        assert_eq!(round.answered[0], (0, Ok(serde_json::json!({"id": "r0"}))));
        assert!(matches!(
            round.answered[1],
            (3, Err(GraphError::NotFound { .. }))
        ));
    }

    #[test]
    fn an_unreadable_envelope_is_an_error() {
        assert!(read_round(OP, &[0], b"<html>").is_err());
    }
}

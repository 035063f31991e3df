//! The process's one answer to "may I call Graph now?": after Graph throttles any request of a
//! workload family (directory or Intune, which Graph budgets separately, graph-behaviour §11) with a
//! Retry-After, no request of that family leaves the process before it has elapsed — not only
//! the retry of the throttled one. Without this, concurrent handlers keep knocking during the
//! wait, which Graph counts against the app and answers with more 429s (graph-behaviour §15: "one request
//! budget per process honours Retry-After before anything else").
//!
//! Not for: retrying (`retry.rs`) or deciding what a 429 means to a handler (`error.rs`).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

use super::error::GraphError;

/// Graph's throttling families: separate budgets, separate Retry-After gates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Users, groups, devices, policies: the identity and access budget.
    Directory,
    /// `/deviceManagement/...`: Intune's budget.
    Intune,
}

impl Family {
    /// The family of a route template (`/v1.0/deviceManagement/...` is Intune).
    pub fn of(route: &str) -> Family {
        let unversioned = route
            .trim_start_matches('/')
            .split_once('/')
            .map_or(route, |(_, rest)| rest);
        if unversioned.starts_with("deviceManagement") {
            Family::Intune
        } else {
            Family::Directory
        }
    }
}

/// The "not before" instant of each family, shared by every request of the process.
#[derive(Debug, Default)]
pub struct RetryAfterGate {
    not_before: Mutex<HashMap<Family, Instant>>,
}

impl RetryAfterGate {
    /// Waits until `family` may be called again. A wait longer than `max_wait` is not waited
    /// here: the caller gets `Throttled` with the remaining time, and the message goes back to
    /// the broker's delay tiers instead of holding a consumer slot.
    pub async fn wait_turn(
        &self,
        family: Family,
        operation: &'static str,
        max_wait: Duration,
    ) -> Result<(), GraphError> {
        let remaining = {
            let gates = self.not_before.lock().expect("gate lock");
            gates
                .get(&family)
                .map(|nb| nb.saturating_duration_since(Instant::now()))
        };
        match remaining {
            Some(wait) if wait > max_wait => Err(GraphError::Throttled {
                operation,
                retry_after: Some(wait),
            }),
            Some(wait) if !wait.is_zero() => {
                tracing::debug!(
                    ?family,
                    wait_ms = wait.as_millis() as u64,
                    "Holding the request until Graph's Retry-After has elapsed."
                );
                tokio::time::sleep(wait).await;
                Ok(())
            }
            _ => Ok(()),
        }
    }

    /// Graph said "not before `retry_after` from now" for `family`; later answers only extend it.
    pub fn hold(&self, family: Family, retry_after: Duration) {
        let until = Instant::now() + retry_after;
        let mut gates = self.not_before.lock().expect("gate lock");
        let entry = gates.entry(family).or_insert(until);
        if *entry < until {
            *entry = until;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_fall_into_their_throttling_family() {
        assert_eq!(
            Family::of("/v1.0/deviceManagement/windowsAutopilotDeviceIdentities"),
            Family::Intune
        );
        assert_eq!(
            Family::of("/beta/deviceManagement/windowsAutopilotSettings/sync"),
            Family::Intune
        );
        assert_eq!(
            Family::of("/v1.0/groups/{id}/members/$ref"),
            Family::Directory
        );
        assert_eq!(
            Family::of("/v1.0/policies/deviceRegistrationPolicy"),
            Family::Directory
        );
    }

    #[tokio::test(start_paused = true)]
    async fn a_throttled_family_holds_every_request_until_retry_after_has_elapsed() {
        let gate = RetryAfterGate::default();
        gate.hold(Family::Directory, Duration::from_millis(1500));
        let started = Instant::now();
        gate.wait_turn(Family::Directory, "test", Duration::from_secs(10))
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_millis(1500));
        // Another family is not held.
        let started = Instant::now();
        gate.wait_turn(Family::Intune, "test", Duration::from_secs(10))
            .await
            .unwrap();
        assert_eq!(started.elapsed(), Duration::ZERO);
    }

    #[tokio::test(start_paused = true)]
    async fn a_wait_longer_than_the_in_call_limit_goes_back_to_the_caller() {
        let gate = RetryAfterGate::default();
        gate.hold(Family::Intune, Duration::from_secs(60));
        let err = gate
            .wait_turn(Family::Intune, "sync", Duration::from_secs(10))
            .await
            .unwrap_err();
        match err {
            GraphError::Throttled {
                retry_after: Some(d),
                ..
            } => assert!(d > Duration::from_secs(59)),
            other => panic!("expected Throttled, got {other:?}"),
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_shorter_retry_after_never_shortens_the_hold() {
        let gate = RetryAfterGate::default();
        gate.hold(Family::Directory, Duration::from_secs(5));
        gate.hold(Family::Directory, Duration::from_secs(1));
        let started = Instant::now();
        gate.wait_turn(Family::Directory, "test", Duration::from_secs(10))
            .await
            .unwrap();
        assert!(started.elapsed() >= Duration::from_secs(5));
    }
}

//! Injected faults: 503s (with or without Retry-After), requests that hang, added latency —
//! for all routes or those matching a pattern. Decides with the emulator's seeded RNG, so a
//! run with the same `--seed` and the same requests draws the same faults. Throttling is not
//! a fault: it is modelled in `throttle.rs`.

use std::time::Duration;

use rand::Rng;
use serde::{Deserialize, Serialize};

/// The whole fault set; `PUT /_emulator/faults` replaces it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultConfig {
    /// The rules, all of which are checked against every Graph request (empty: no faults).
    #[serde(default)]
    pub rules: Vec<FaultRule>,
}

/// One rule. Every matching rule applies: latencies add up, the first 503 or hang drawn wins.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct FaultRule {
    /// `*`-glob matched against the route template (`/v1.0/groups/{id}/members/$ref`) or the
    /// raw path; `None` = every Graph route.
    #[serde(default)]
    pub path: Option<String>,
    /// Only these methods (e.g. `["POST"]`); `None` = all.
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    /// Share of matching requests answered `503 ServiceUnavailable` (0.0–1.0).
    #[serde(default)]
    pub error_503_rate: f64,
    /// Share of those 503s that carry a Retry-After header.
    #[serde(default)]
    pub retry_after_share: f64,
    /// Nominal Retry-After seconds on a 503 (scaled by speed).
    #[serde(default = "one")]
    pub retry_after_secs: f64,
    /// Share of matching requests that hang for `hang_ms` (real time), then get a 504.
    #[serde(default)]
    pub hang_rate: f64,
    /// How long a hanging request waits before its 504, in real milliseconds (default 60 000).
    #[serde(default = "default_hang_ms")]
    pub hang_ms: u64,
    /// Added latency in real milliseconds: `[fixed]` or `[min, max]`.
    #[serde(default)]
    pub latency_ms: Option<Vec<u64>>,
}

fn one() -> f64 {
    1.0
}
fn default_hang_ms() -> u64 {
    60_000
}

/// What the pipeline must do to one request before (or instead of) serving it.
#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct FaultPlan {
    /// Added latency (real time), the sum over the matching rules.
    pub delay: Duration,
    /// A 503 or a hang instead of the handler's answer; `None` = serve normally.
    pub action: Option<FaultAction>,
}

/// The fault a request gets instead of being served.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum FaultAction {
    /// Answer 503; `retry_after_secs` is nominal (the pipeline scales it).
    Unavailable {
        /// Retry-After to send, in nominal seconds; `None` = no header.
        retry_after_secs: Option<f64>,
    },
    /// Wait this long, then answer 504 (a client with a shorter timeout gives up first).
    Hang(Duration),
}

impl FaultConfig {
    /// No rules: the pipeline skips drawing faults altogether.
    pub(crate) fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Draws the faults for one request. Consumes RNG only for matching rules.
    pub(crate) fn plan(
        &self,
        method: &str,
        template: &str,
        path: &str,
        rng: &mut impl Rng,
    ) -> FaultPlan {
        let mut plan = FaultPlan::default();
        for rule in self
            .rules
            .iter()
            .filter(|r| r.matches(method, template, path))
        {
            plan.delay += rule.draw_latency(rng);
            if plan.action.is_none() {
                plan.action = rule.draw_action(rng);
            }
        }
        plan
    }
}

impl FaultRule {
    fn matches(&self, method: &str, template: &str, path: &str) -> bool {
        let method_ok = self
            .methods
            .as_ref()
            .is_none_or(|ms| ms.iter().any(|m| m.eq_ignore_ascii_case(method)));
        let path_ok = self
            .path
            .as_deref()
            .is_none_or(|p| glob_match(p, template) || glob_match(p, path));
        method_ok && path_ok
    }

    fn draw_latency(&self, rng: &mut impl Rng) -> Duration {
        match self.latency_ms.as_deref() {
            Some([fixed]) => Duration::from_millis(*fixed),
            Some([lo, hi, ..]) if hi > lo => Duration::from_millis(rng.random_range(*lo..=*hi)),
            Some([lo, ..]) => Duration::from_millis(*lo),
            _ => Duration::ZERO,
        }
    }

    fn draw_action(&self, rng: &mut impl Rng) -> Option<FaultAction> {
        if self.error_503_rate > 0.0 && rng.random_bool(self.error_503_rate.clamp(0.0, 1.0)) {
            let with_header = self.retry_after_share > 0.0
                && rng.random_bool(self.retry_after_share.clamp(0.0, 1.0));
            return Some(FaultAction::Unavailable {
                retry_after_secs: with_header.then_some(self.retry_after_secs),
            });
        }
        if self.hang_rate > 0.0 && rng.random_bool(self.hang_rate.clamp(0.0, 1.0)) {
            return Some(FaultAction::Hang(Duration::from_millis(self.hang_ms)));
        }
        None
    }
}

/// `*` matches any run of characters (including `/`); everything else literally, case-insensitively.
pub(crate) fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t) = (pattern.to_ascii_lowercase(), text.to_ascii_lowercase());
    let parts: Vec<&str> = p.split('*').collect();
    if parts.len() == 1 {
        return p == t;
    }
    let (first, last) = (parts[0], parts[parts.len() - 1]);
    if !t.starts_with(first)
        || !t[first.len()..].ends_with(last)
        || t.len() < first.len() + last.len()
    {
        return false;
    }
    let mut rest = &t[first.len()..t.len() - last.len()];
    for mid in &parts[1..parts.len() - 1] {
        match rest.find(mid) {
            Some(i) => rest = &rest[i + mid.len()..],
            None => return false,
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn glob_matches_templates() {
        assert!(glob_match(
            "/v1.0/groups/*",
            "/v1.0/groups/{id}/members/$ref"
        ));
        assert!(glob_match("*members*", "/beta/groups/{id}/members/$ref"));
        assert!(!glob_match("/v1.0/users*", "/v1.0/groups/{id}"));
        assert!(glob_match("/v1.0/users", "/V1.0/USERS"));
    }

    #[test]
    fn a_certain_503_rule_always_fires_and_only_where_it_matches() {
        let cfg = FaultConfig {
            rules: vec![FaultRule {
                path: Some("*/users*".into()),
                error_503_rate: 1.0,
                ..Default::default()
            }],
        };
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        let plan = cfg.plan("GET", "/v1.0/users/{id}", "/v1.0/users/x", &mut rng);
        assert_eq!(
            plan.action,
            Some(FaultAction::Unavailable {
                retry_after_secs: None
            })
        );
        assert_eq!(
            cfg.plan("GET", "/v1.0/groups/{id}", "/v1.0/groups/x", &mut rng)
                .action,
            None
        );
    }
}

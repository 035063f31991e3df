//! Throttling the way Graph does it: request budgets per workload family (identity = users,
//! groups, devices; Intune = deviceManagement) per app per tenant in fixed windows (graph-behaviour §11), scaled
//! by `speed`. A request over budget gets 429 + Retry-After (the rest of the window), and the
//! whole scope (app × family) stays refused until then, as Graph's throttle scope does. A retry
//! of the *same* request (method + path) that arrives before the Retry-After it was given is
//! marked early, like Dev Proxy's RetryAfterPlugin; other requests that were merely in flight
//! are refused but not blamed. Decisions only; the pipeline writes the response.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use rand::Rng;
use serde::{Deserialize, Serialize};

use crate::clock::{Speed, format_retry_after, retry_after_as_sent};

/// The workload a request belongs to; each has its own budgets (graph-behaviour §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Family {
    /// Directory: users, groups, devices, directoryObjects, policies.
    Identity,
    /// deviceManagement/* (Autopilot, enrollment configuration).
    Intune,
}

/// What a budget counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Kind {
    /// POST/PUT/PATCH/DELETE, one each.
    Writes,
    /// Every request, one each.
    Requests,
    /// Resource units (identity): GET users 2, members 3, checkMemberGroups 4, else 1.
    ResourceUnits,
}

/// Whose requests a budget counts together; named as in Graph's `x-ms-throttle-scope` header (graph-behaviour §11).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub enum Scope {
    /// Per app per tenant (`Tenant_Application`).
    #[default]
    App,
    /// All apps in the tenant (`Tenant`).
    Tenant,
}

/// One budget: at most `limit` units of `kind` per `window_secs` (nominal; scaled by speed).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Budget {
    /// The workload whose requests are charged.
    pub family: Family,
    /// What one request costs: a write, a request, or its resource units.
    pub kind: Kind,
    /// Per app (the default) or for all apps of the tenant.
    #[serde(default)]
    pub scope: Scope,
    /// Units allowed per window; the request that would exceed it gets 429.
    pub limit: u64,
    /// Length of the fixed window in nominal seconds (divided by speed).
    pub window_secs: f64,
}

/// The throttling model; `PUT /_emulator/throttle` replaces it (counters restart).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ThrottleConfig {
    /// `false` = nothing is throttled (`--no-throttle`).
    pub enabled: bool,
    /// Every budget a request of the matching family is charged against.
    pub budgets: Vec<Budget>,
    /// Share of 429s sent without a Retry-After header (the client must back off by itself).
    #[serde(default)]
    pub retry_after_absent_share: f64,
    /// At speed ≠ 1, send fractional seconds (`0.02`); else round up to whole seconds (always at speed 1).
    #[serde(default = "yes")]
    pub fractional_retry_after: bool,
}

fn yes() -> bool {
    true
}

impl ThrottleConfig {
    /// Real Graph sends whole seconds, so at real time (speed 1) so does the emulator; a scaled
    /// wait is a fraction of a second and is sent as one unless fractions are turned off.
    pub(crate) fn fractional_at(&self, speed: Speed) -> bool {
        self.fractional_retry_after && speed.factor() != 1.0
    }
}

impl Default for ThrottleConfig {
    /// graph-behaviour §11's published limits for a small tenant: per app per tenant, and per tenant for all apps.
    fn default() -> Self {
        let b = |family, kind, scope, limit, window_secs| Budget {
            family,
            kind,
            scope,
            limit,
            window_secs,
        };
        ThrottleConfig {
            enabled: true,
            budgets: vec![
                b(
                    Family::Identity,
                    Kind::ResourceUnits,
                    Scope::App,
                    3_500,
                    10.0,
                ),
                b(Family::Identity, Kind::Writes, Scope::App, 3_000, 150.0),
                b(Family::Identity, Kind::Writes, Scope::Tenant, 18_000, 300.0),
                b(Family::Intune, Kind::Writes, Scope::App, 100, 20.0),
                b(Family::Intune, Kind::Requests, Scope::App, 1_000, 20.0),
                b(Family::Intune, Kind::Writes, Scope::Tenant, 200, 20.0),
                b(Family::Intune, Kind::Requests, Scope::Tenant, 2_000, 20.0),
            ],
            retry_after_absent_share: 0.0,
            fractional_retry_after: true,
        }
    }
}

/// What the throttle decided for one request.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Within every budget: serve it.
    Pass,
    /// 429. `retry_after` is the header text, if any; `early` = came before its last Retry-After.
    Throttled {
        /// Retry-After header value; `None` = sent without one.
        retry_after: Option<String>,
        /// A retry of the same request before the Retry-After it was given.
        early: bool,
        /// `x-ms-throttle-scope` value, e.g. `Tenant_Application/Write/{app}/{tenant}`.
        scope: String,
    },
}

/// Window counters and the "not before" instants handed out with each 429.
#[derive(Debug, Default)]
pub(crate) struct ThrottleState {
    windows: HashMap<(usize, String), (Instant, u64)>,
    not_before: HashMap<(String, Family), Instant>,
    /// When each refused request (`app method path`) may come back.
    retry_due: HashMap<String, Instant>,
}

/// One request as the throttle sees it.
pub(crate) struct Charge<'a> {
    /// Caller's app id (`appid` of the token): the key of per-app budgets.
    pub app: &'a str,
    /// Caller's tenant id, shown in the throttle scope.
    pub tenant: &'a str,
    /// Which family's budgets apply.
    pub family: Family,
    /// Any method but GET: charged against `writes` budgets too.
    pub write: bool,
    /// Cost against `resourceUnits` budgets (graph-behaviour §11).
    pub resource_units: u64,
    /// `METHOD /path` — what identifies a retry of the same request.
    pub request: &'a str,
}

impl ThrottleState {
    /// Charges the request against the budgets, or refuses it while its scope is throttled.
    pub(crate) fn decide(
        &mut self,
        cfg: &ThrottleConfig,
        speed: Speed,
        c: &Charge<'_>,
        now: Instant,
        rng: &mut impl Rng,
    ) -> Verdict {
        if !cfg.enabled {
            return Verdict::Pass;
        }
        let key = (c.app.to_string(), c.family);
        let retry_key = format!("{} {}", c.app, c.request);
        if let Some(&nb) = self.not_before.get(&key)
            && now < nb
        {
            let early = self.retry_due.get(&retry_key).is_some_and(|due| now < *due);
            self.retry_due.insert(retry_key, nb);
            let retry_after = Some(format_retry_after(nb - now, cfg.fractional_at(speed)));
            return Verdict::Throttled {
                retry_after,
                early,
                scope: scope_text(c, Scope::App),
            };
        }
        match self.charge_budgets(cfg, speed, c, now) {
            None => Verdict::Pass,
            Some((wait, scope)) => {
                let absent = cfg.retry_after_absent_share > 0.0
                    && rng.random_bool(cfg.retry_after_absent_share.clamp(0.0, 1.0));
                let retry_after =
                    (!absent).then(|| format_retry_after(wait, cfg.fractional_at(speed)));
                // An early retry is judged against what the client was told, not the exact window.
                if let Some(text) = &retry_after {
                    let due = now + retry_after_as_sent(text);
                    self.not_before.insert(key, due);
                    self.forget_past_retries(now);
                    self.retry_due.insert(retry_key, due);
                }
                Verdict::Throttled {
                    retry_after,
                    early: false,
                    scope: scope_text(c, scope),
                }
            }
        }
    }

    /// Keeps the retry map small: entries whose time has passed can no longer be early.
    fn forget_past_retries(&mut self, now: Instant) {
        if self.retry_due.len() > 10_000 {
            self.retry_due.retain(|_, due| *due > now);
        }
    }

    /// Charges every applicable budget, or none if one is exhausted (returns its wait).
    fn charge_budgets(
        &mut self,
        cfg: &ThrottleConfig,
        speed: Speed,
        c: &Charge<'_>,
        now: Instant,
    ) -> Option<(Duration, Scope)> {
        let mut charges = Vec::new();
        for (i, b) in cfg
            .budgets
            .iter()
            .enumerate()
            .filter(|(_, b)| b.family == c.family)
        {
            let cost = match b.kind {
                Kind::Writes if !c.write => continue,
                Kind::Writes | Kind::Requests => 1,
                Kind::ResourceUnits => c.resource_units,
            };
            let who = match b.scope {
                Scope::App => c.app.to_string(),
                Scope::Tenant => String::from("*"),
            };
            let window = speed.scaled_secs(b.window_secs);
            let entry = self.windows.entry((i, who.clone())).or_insert((now, 0));
            if now >= entry.0 + window {
                *entry = (now, 0);
            }
            if entry.1 + cost > b.limit {
                return Some(((entry.0 + window).saturating_duration_since(now), b.scope));
            }
            charges.push(((i, who), cost));
        }
        for (k, cost) in charges {
            if let Some(e) = self.windows.get_mut(&k) {
                e.1 += cost;
            }
        }
        None
    }
}

fn scope_text(c: &Charge<'_>, scope: Scope) -> String {
    let limit = if c.write { "Write" } else { "Read" };
    match scope {
        Scope::App => format!("Tenant_Application/{limit}/{}/{}", c.app, c.tenant),
        Scope::Tenant => format!("Tenant/{limit}/{}/{}", c.app, c.tenant),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    fn intune_write<'a>(app: &'a str) -> Charge<'a> {
        Charge {
            app,
            request: "POST /x",
            tenant: "t",
            family: Family::Intune,
            write: true,
            resource_units: 1,
        }
    }

    #[test]
    fn the_101st_intune_write_in_a_window_is_throttled_and_an_early_retry_is_flagged() {
        let (cfg, speed) = (ThrottleConfig::default(), Speed::new(1.0));
        let mut st = ThrottleState::default();
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(1);
        let t0 = Instant::now();
        for _ in 0..100 {
            assert_eq!(
                st.decide(&cfg, speed, &intune_write("a"), t0, &mut rng),
                Verdict::Pass
            );
        }
        let Verdict::Throttled {
            retry_after: Some(ra),
            early: false,
            ..
        } = st.decide(&cfg, speed, &intune_write("a"), t0, &mut rng)
        else {
            panic!("expected a 429");
        };
        assert_eq!(ra, "20");
        // Another app has its own budget.
        assert_eq!(
            st.decide(&cfg, speed, &intune_write("b"), t0, &mut rng),
            Verdict::Pass
        );
        // A different request in flight is refused, but it is not a retry: not early.
        let other = Charge {
            request: "GET /y",
            ..intune_write("a")
        };
        let refused = st.decide(&cfg, speed, &other, t0, &mut rng);
        assert!(
            matches!(refused, Verdict::Throttled { early: false, .. }),
            "{refused:?}"
        );
        let early = st.decide(
            &cfg,
            speed,
            &intune_write("a"),
            t0 + Duration::from_secs(5),
            &mut rng,
        );
        assert!(
            matches!(early, Verdict::Throttled { early: true, .. }),
            "{early:?}"
        );
        let later = st.decide(
            &cfg,
            speed,
            &intune_write("a"),
            t0 + Duration::from_secs(21),
            &mut rng,
        );
        assert_eq!(later, Verdict::Pass);
    }
}

//! Shared emulator state: the tenant (a [`Fixture`]), the seeded RNG, throttling and fault
//! settings, and the request log — all behind one `std::sync::Mutex`. A std mutex, not a
//! tokio one, because nothing awaits while holding it: handlers are synchronous functions
//! over `&mut World`, and every wait (latency, hangs) happens outside the lock.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};

use crate::clock::{EmulatedClock, Speed};
use crate::faults::FaultConfig;
use crate::fixture::Fixture;
use crate::jwt::TokenKeys;
use crate::log::{Counters, RequestLog, RequestRecord};
use crate::throttle::{ThrottleConfig, ThrottleState};

/// Nominal durations of the tenant's asynchronous behaviour (divided by `speed`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Timings {
    /// Import record `unknown` → `complete`/`error` (graph-behaviour §5: "≈ 1 min").
    pub import_secs: f64,
    /// Completed import → its Entra device object (and `azureActiveDirectoryDeviceId`) appears (graph-behaviour §8).
    pub entra_device_secs: f64,
    /// How long a triggered Autopilot sync stays `inProgress` (409 meanwhile, graph-behaviour §7).
    pub sync_secs: f64,
    /// Minimum interval between syncs (429 inside it, graph-behaviour §7).
    pub sync_guard_secs: f64,
    /// After `POST /groups`, member adds answer 400 "…do not exist" for this long (graph-behaviour §3's
    /// replication quirk). 0 (the default) turns the quirk off.
    #[serde(default)]
    pub group_replication_secs: f64,
    /// A device's Entra object joins a group a deployment profile targets → its
    /// `deploymentProfileAssignmentStatus` goes `pending` → `assignedInSync` after this long
    /// (graph-behaviour §18: "about 15 minutes" seen; no documented figure).
    #[serde(default = "default_profile_assignment_secs")]
    pub profile_assignment_secs: f64,
}

fn default_profile_assignment_secs() -> f64 {
    900.0
}

impl Default for Timings {
    fn default() -> Self {
        Timings {
            import_secs: 60.0,
            entra_device_secs: 120.0,
            sync_secs: 30.0,
            sync_guard_secs: 600.0,
            group_replication_secs: 0.0,
            profile_assignment_secs: default_profile_assignment_secs(),
        }
    }
}

/// Everything the routes read and write.
pub struct World {
    pub tenant: Fixture,
    pub rng: ChaCha8Rng,
    pub speed: Speed,
    pub timings: Timings,
    pub page_size: usize,
    pub faults: FaultConfig,
    pub throttle_config: ThrottleConfig,
    pub(crate) throttle: ThrottleState,
    pub(crate) log: RequestLog,
    /// The emulated calendar (TAP validity, graph-behaviour §16; sent mail, graph-behaviour §17).
    pub clock: EmulatedClock,
    /// Every mail accepted by `sendMail`, oldest first (`GET /_emulator/mail`).
    pub(crate) outbox: Vec<crate::outbox::SentMail>,
}

impl World {
    /// A fresh id from the seeded RNG, so ids repeat with the seed.
    pub fn new_id(&mut self) -> String {
        uuid::Builder::from_random_bytes(self.rng.random())
            .into_uuid()
            .to_string()
    }

    /// Starts the fixture's clocks (provisioning lags) from `now`.
    fn arm_fixture(&mut self, now: Instant) {
        let speed = self.speed;
        for u in &mut self.tenant.users {
            u.visible_at = (u.provision_after_seconds > 0.0)
                .then(|| now + speed.scaled_secs(u.provision_after_seconds));
        }
        self.faults = self.tenant.faults.clone().unwrap_or_default();
        crate::routes::deployment::arm(&mut self.tenant, now, speed);
    }
}

pub(crate) struct Shared {
    pub world: Mutex<World>,
    pub keys: TokenKeys,
    pub seed: u64,
    pub initial: Fixture,
    pub token_lifetime_secs: i64,
    /// Refuse admin calls from non-loopback peers (the default).
    pub admin_loopback_only: bool,
}

/// A cheap, cloneable handle on a running emulator's state.
#[derive(Clone)]
pub struct AppState(pub(crate) Arc<Shared>);

/// Knobs the state is built from (a subset of `EmulatorConfig`).
pub(crate) struct StateSeed {
    pub fixture: Fixture,
    pub seed: u64,
    pub speed: f64,
    pub page_size: usize,
    pub timings: Timings,
    pub throttle: ThrottleConfig,
    pub token_lifetime_secs: i64,
    pub admin_loopback_only: bool,
    /// Real instant emulated time is scaled from; `None` = start.
    pub clock_epoch: Option<std::time::SystemTime>,
}

impl AppState {
    pub(crate) fn new(s: StateSeed) -> AppState {
        let mut world = World {
            tenant: s.fixture.clone(),
            rng: ChaCha8Rng::seed_from_u64(s.seed),
            speed: Speed::new(s.speed),
            timings: s.timings,
            page_size: s.page_size.max(1),
            faults: FaultConfig::default(),
            throttle_config: s.throttle,
            throttle: ThrottleState::default(),
            log: RequestLog::default(),
            clock: EmulatedClock::new(Speed::new(s.speed), s.clock_epoch),
            outbox: Vec::new(),
        };
        world.arm_fixture(Instant::now());
        AppState(Arc::new(Shared {
            world: Mutex::new(world),
            keys: TokenKeys::from_seed(s.seed),
            seed: s.seed,
            initial: s.fixture,
            token_lifetime_secs: s.token_lifetime_secs,
            admin_loopback_only: s.admin_loopback_only,
        }))
    }

    /// Locks the world. A panic in a handler poisons nothing we cannot keep using.
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.0.world.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The current tenant's id (the `tid` tokens must carry).
    pub fn tenant_id(&self) -> String {
        self.world().tenant.tenant.id.clone()
    }

    /// The whole tenant as it is now (timers advanced first), with the faults now in force.
    pub fn snapshot(&self) -> Fixture {
        let mut w = self.world();
        crate::lifecycle::advance(&mut w, Instant::now());
        let mut f = w.tenant.clone();
        f.faults = Some(w.faults.clone()).filter(|faults| !faults.is_empty());
        f
    }

    /// Replaces the tenant; the log, counters, sent mail, throttle windows and RNG restart too
    /// (the emulated clock does not: services share its epoch).
    pub fn load_fixture(&self, fixture: Fixture) {
        let mut w = self.world();
        w.tenant = fixture;
        w.rng = ChaCha8Rng::seed_from_u64(self.0.seed);
        w.throttle = ThrottleState::default();
        w.log = RequestLog::default();
        w.outbox.clear();
        w.arm_fixture(Instant::now());
    }

    /// Back to the fixture the emulator started with.
    pub fn reset(&self) {
        self.load_fixture(self.0.initial.clone());
    }

    /// Replaces the fault set (as `PUT /_emulator/faults`).
    pub fn set_faults(&self, faults: FaultConfig) {
        self.world().faults = faults;
    }

    /// The faults now in force (as `GET /_emulator/faults`).
    pub fn faults(&self) -> FaultConfig {
        self.world().faults.clone()
    }

    /// Replaces the throttling model; its windows restart.
    pub fn set_throttle(&self, cfg: ThrottleConfig) {
        let mut w = self.world();
        w.throttle_config = cfg;
        w.throttle = ThrottleState::default();
    }

    /// The throttling model now in force (as `GET /_emulator/throttle`).
    pub fn throttle(&self) -> ThrottleConfig {
        self.world().throttle_config.clone()
    }

    /// Replaces the nominal durations (as `PUT /_emulator/timings`).
    pub fn set_timings(&self, timings: Timings) {
        self.world().timings = timings;
    }

    /// The request log, oldest first.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.world().log.records()
    }

    /// Aggregates over every request since start or the last reset.
    pub fn counters(&self) -> Counters {
        self.world().log.counters()
    }

    /// State-changing requests whose template ends with `template_suffix`
    /// (`"/groups/{id}/members/$ref"` matches both versions).
    pub fn writes_to(&self, template_suffix: &str) -> usize {
        self.requests()
            .iter()
            .filter(|r| r.changed_state && r.template.ends_with(template_suffix))
            .count()
    }

    /// Logs a non-Graph request (token endpoints), so token fetches are countable too.
    pub(crate) fn record_plain(
        &self,
        method: &str,
        path: &str,
        template: &str,
        app_id: Option<String>,
        status: u16,
    ) {
        let mut w = self.world();
        let seq = w.log.next_seq();
        let rec = RequestRecord {
            seq,
            time: crate::clock::now_rfc3339_millis(),
            app_id,
            method: method.into(),
            path: path.into(),
            template: template.into(),
            status,
            changed_state: false,
            early: false,
            in_batch: false,
            request_id: w.new_id(),
            client_request_id: None,
            traceparent: None,
        };
        w.log.record(rec, crate::log::Flags::default());
    }

    /// Issues a token for an app of the current tenant without the token endpoint
    /// (negative `lifetime_secs` gives an expired one). `None` if the app is unknown.
    pub fn issue_token(&self, client_id: &str, lifetime_secs: i64) -> Option<String> {
        let w = self.world();
        let app = w.tenant.apps.iter().find(|a| a.client_id == client_id)?;
        Some(self.0.keys.issue(
            &w.tenant.tenant.id,
            client_id,
            &app.permissions,
            lifetime_secs,
        ))
    }
}

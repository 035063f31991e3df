//! The tenant-wide Autopilot sync, coalesced (graph-behaviour §7): Graph refuses a second sync within
//! 10 minutes (429) and while one runs (409), and imports usually appear without one. So a
//! handler asks for a sync only when a device is late, and at most once per
//! `device_purchased.sync_interval` — remembered in-process and read from Graph's
//! `lastManualSyncTriggerDateTime`, so another replica's recent sync counts too.
//!
//! Not for: deciding whether a device is late (`handler.rs` does, from `sync_after`).

use std::time::{Duration, Instant};

use graph::GraphClient;
use graph::GraphError;
use graph::model::{SyncOutcome, SyncStatus};
use serde::Serialize;
use time::OffsetDateTime;

/// What asking for a sync came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum SyncRequest {
    /// We triggered a sync (204, or shadow mode's "would").
    Started,
    /// This process asked within the interval; nothing sent.
    RecentlyRequested,
    /// Graph says a sync ran or was triggered within the interval, or is running.
    RecentInTenant,
    /// Graph answered 409 (running) or 429 (too soon): already coalesced, not an error.
    RefusedAsCoalesced,
}

/// Serialises sync requests of this process and remembers the last one.
#[derive(Debug)]
pub struct SyncCoalescer {
    interval: Duration,
    // A tokio mutex: it is held across the settings read and the sync call, so two late
    // devices at once cannot both decide to sync.
    last: tokio::sync::Mutex<Option<Instant>>,
}

impl SyncCoalescer {
    /// A coalescer that asks for at most one sync per `interval`
    /// (`device_purchased.sync_interval`), having asked for none yet.
    pub fn new(interval: Duration) -> Self {
        SyncCoalescer {
            interval,
            last: tokio::sync::Mutex::new(None),
        }
    }

    /// Makes sure a sync was asked for within the interval: ours, another replica's, or one
    /// we trigger now.
    #[tracing::instrument(skip_all, fields(outcome = tracing::field::Empty))]
    pub async fn ensure_recent_sync(&self, graph: &GraphClient) -> Result<SyncRequest, GraphError> {
        let mut last = self.last.lock().await;
        let outcome = if last.is_some_and(|at| at.elapsed() < self.interval) {
            SyncRequest::RecentlyRequested
        } else {
            let settings = graph.autopilot_settings().await?;
            // How long ago the tenant's last manual sync was triggered, if within the interval.
            let recent = settings
                .last_manual_sync_trigger_date_time
                .map(|at| (OffsetDateTime::now_utc() - at).unsigned_abs())
                .filter(|age| *age < self.interval);
            let (outcome, age) = match recent {
                Some(age) => (SyncRequest::RecentInTenant, age),
                None if settings.sync_status == SyncStatus::InProgress => {
                    (SyncRequest::RecentInTenant, Duration::ZERO)
                }
                None => match graph.sync_autopilot().await? {
                    SyncOutcome::Started => (SyncRequest::Started, Duration::ZERO),
                    SyncOutcome::AlreadyRunning | SyncOutcome::TooSoon => {
                        (SyncRequest::RefusedAsCoalesced, Duration::ZERO)
                    }
                },
            };
            // Counted from the tenant's sync when there was one, so its window is not doubled.
            let now = Instant::now();
            *last = Some(now.checked_sub(age).unwrap_or(now));
            outcome
        };
        tracing::Span::current().record("outcome", tracing::field::debug(&outcome));
        if outcome == SyncRequest::Started {
            tracing::info!("Autopilot sync triggered for a late device.");
        }
        Ok(outcome)
    }
}

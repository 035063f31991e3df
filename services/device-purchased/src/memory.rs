//! What this process remembers about each serial between deliveries — in one map — and the
//! per-serial lock that makes one delivery at a time the only reader and writer of a serial's
//! entry. Two deliveries of the same purchase in flight at once (prefetch and concurrency
//! above 1) run one after the other, so the second reads what the first wrote instead of
//! importing the same hash again. Losing it all (a restart) costs at most a later sync and one
//! listing of import records; everything that matters is re-read from Graph.
//!
//! Not for: coordinating processes. Across processes the read-first steps, the shared `importId`
//! and Graph's `ZtdDeviceAlreadyAssigned` (806, taken as success) cover a race.

use std::collections::HashMap;
use std::ops::{Deref, DerefMut};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use shared::ids::SerialNumber;
use shared::keyed_lock::{KeyGuard, KeyedLocks};

use crate::ledger::KnownImports;
use crate::sync::SyncRequest;

/// How often, at most, [`SerialMemory::enter`] looks for state to drop: it runs on every
/// delivery.
const SWEEP_EVERY: Duration = Duration::from_secs(60);

/// The per-serial state of this process and the lock that guards each entry.
#[derive(Debug)]
pub struct SerialMemory {
    locks: KeyedLocks<String>,
    // A std mutex: held only to move an entry in or out, never across an await. An entry is
    // taken out by the delivery holding the serial's lock and put back when it is done.
    entries: Mutex<Entries>,
    /// No delivery is handled once older than `amqp.max_age`: state older than that belongs to
    /// a purchase the runtime dead-lettered after a transient failure, which never reached
    /// [`SerialEntry::forget`].
    forget_after: Duration,
}

#[derive(Debug)]
struct Entries {
    by_serial: HashMap<String, SerialState>,
    last_sweep: Instant,
}

/// Everything earlier deliveries of one serial left behind for later ones.
#[derive(Debug)]
pub struct SerialState {
    /// When this process first handled the serial.
    first_use: Instant,
    /// Set once the import is complete.
    seen: Option<Seen>,
    /// Our import records this process knows of (`ledger.rs`).
    pub imports: KnownImports,
}

/// What this process learnt once the device was registered.
#[derive(Debug, Clone, Copy)]
pub struct Seen {
    /// When this process first saw the import complete: the `sync_after` clock.
    pub registered_at: Instant,
    /// An earlier delivery updated the group tag; the outcome should still report it.
    pub group_tag_updated: bool,
    /// The sync an earlier delivery asked for.
    pub sync: Option<SyncRequest>,
}

/// One delivery's exclusive hold on a serial and its state. Dropping it puts the state back
/// for the next delivery; [`SerialEntry::forget`] drops the state instead.
pub struct SerialEntry<'a> {
    memory: &'a SerialMemory,
    // Fields are dropped after `Drop::drop` has put the state back, so the next delivery of
    // the serial cannot enter before its state is there.
    lock: KeyGuard<'a, String>,
    state: Option<SerialState>,
}

// === impl SerialMemory ===

impl SerialMemory {
    /// `forget_after` is `amqp.max_age`: no delivery of a purchase is handled after that.
    pub fn new(forget_after: Duration) -> Self {
        SerialMemory {
            locks: KeyedLocks::default(),
            entries: Mutex::new(Entries {
                by_serial: HashMap::new(),
                last_sweep: Instant::now(),
            }),
            forget_after,
        }
    }

    fn entries(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Waits until no other delivery of this process handles `serial`, then hands out its
    /// state. Now and then it first drops the state of serials first handled longer ago than a
    /// delivery can live — this serial's own old state included, so a new purchase of an old
    /// serial starts afresh.
    pub async fn enter(&self, serial: &SerialNumber) -> SerialEntry<'_> {
        let lock = self.locks.lock(serial.key()).await;
        let mut entries = self.entries();
        if entries.last_sweep.elapsed() >= self.forget_after.min(SWEEP_EVERY) {
            entries.last_sweep = Instant::now();
            let forget_after = self.forget_after;
            entries
                .by_serial
                .retain(|_, state| state.first_use.elapsed() <= forget_after);
        }
        let state = entries
            .by_serial
            .remove(lock.key())
            .unwrap_or_else(|| SerialState {
                first_use: Instant::now(),
                seen: None,
                imports: KnownImports::default(),
            });
        drop(entries);
        SerialEntry {
            memory: self,
            lock,
            state: Some(state),
        }
    }

    /// How many serials this process keeps state for (deliveries in progress not counted);
    /// for tests.
    pub fn tracked(&self) -> usize {
        self.entries().by_serial.len()
    }
}

// === impl SerialEntry ===

impl SerialEntry<'_> {
    /// No further delivery will need this serial's state: drop it instead of putting it back.
    pub fn forget(mut self) {
        self.state = None;
    }
}

impl SerialState {
    /// What this process learnt once the device was registered, noting now as that moment if
    /// this is the first time it is asked.
    pub fn seen(&mut self) -> &mut Seen {
        self.seen.get_or_insert(Seen {
            registered_at: Instant::now(),
            group_tag_updated: false,
            sync: None,
        })
    }
}

impl Deref for SerialEntry<'_> {
    type Target = SerialState;
    fn deref(&self) -> &SerialState {
        self.state.as_ref().expect("present until dropped")
    }
}

impl DerefMut for SerialEntry<'_> {
    fn deref_mut(&mut self) -> &mut SerialState {
        self.state.as_mut().expect("present until dropped")
    }
}

impl Drop for SerialEntry<'_> {
    fn drop(&mut self) {
        if let Some(state) = self.state.take() {
            let key = self.lock.key().clone();
            self.memory.entries().by_serial.insert(key, state);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial(s: &str) -> SerialNumber {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn state_outlives_the_delivery_until_forgotten_and_ignores_case() {
        let memory = SerialMemory::new(Duration::from_secs(3600));
        {
            let mut entry = memory.enter(&serial("pf-1")).await;
            entry.seen().group_tag_updated = true;
        }
        assert_eq!(memory.tracked(), 1);
        let entry = memory.enter(&serial("PF-1")).await;
        assert!(entry.seen.is_some_and(|s| s.group_tag_updated));
        entry.forget();
        assert_eq!(memory.tracked(), 0);
        assert!(memory.locks.is_empty(), "no lock entry left behind");
    }

    #[tokio::test]
    async fn a_second_delivery_of_the_serial_waits_for_the_first_to_put_its_state_back() {
        let memory = std::sync::Arc::new(SerialMemory::new(Duration::from_secs(3600)));
        let mut first = memory.enter(&serial("PF-2")).await;
        let second = tokio::spawn({
            let memory = memory.clone();
            async move {
                let entry = memory.enter(&serial("PF-2")).await;
                entry.seen.map(|s| s.group_tag_updated)
            }
        });
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!second.is_finished(), "the same serial must wait");
        first.seen().group_tag_updated = true;
        drop(first);
        assert_eq!(
            second.await.unwrap(),
            Some(true),
            "it sees what the first wrote"
        );
    }
}

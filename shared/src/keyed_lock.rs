//! `KeyedLocks<K>`: one async mutex per key, inside one process. Two deliveries about the same
//! key (a serial number) run one after the other; deliveries about different keys never wait
//! for each other. An entry exists only while someone holds or waits for its key, so the map
//! holds the keys being handled right now and never grows with the keys ever seen.
//!
//! Not for: coordinating processes or replicas (each has its own locks), nor keeping state
//! between deliveries — a caller that needs per-key state keeps it in its own map and changes
//! an entry only while holding that key's lock.

use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;
use std::sync::{Arc, Mutex, MutexGuard};

use tokio::sync::OwnedMutexGuard;

type Slot = Arc<tokio::sync::Mutex<()>>;

/// Per-key async exclusivity; see the module doc.
pub struct KeyedLocks<K> {
    // A std mutex: nothing awaits while it is held, only the map is read or changed.
    slots: Mutex<HashMap<K, Slot>>,
}

/// Held while its key is being handled; dropping it lets the next waiter for the key in (and
/// removes the key's entry when nobody waits).
#[must_use = "the key is unlocked as soon as the guard is dropped"]
pub struct KeyGuard<'a, K: Eq + Hash> {
    locks: &'a KeyedLocks<K>,
    key: K,
    held: Option<OwnedMutexGuard<()>>,
}

// === impl KeyedLocks ===

impl<K> Default for KeyedLocks<K> {
    fn default() -> Self {
        KeyedLocks {
            slots: Mutex::new(HashMap::new()),
        }
    }
}

impl<K> fmt::Debug for KeyedLocks<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeyedLocks")
            .field("keys", &self.map().len())
            .finish()
    }
}

impl<K> KeyedLocks<K> {
    fn map(&self) -> MutexGuard<'_, HashMap<K, Slot>> {
        // A panic elsewhere cannot leave the map half-changed: every change is one call.
        self.slots.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// How many keys are held or awaited right now.
    pub fn len(&self) -> usize {
        self.map().len()
    }

    /// Whether no key is held or awaited.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl<K: Eq + Hash + Clone> KeyedLocks<K> {
    /// Waits until nobody else in this process holds `key`, then holds it until the guard is
    /// dropped. Waiters for one key are served in the order they asked (tokio's mutex is fair).
    pub async fn lock(&self, key: K) -> KeyGuard<'_, K> {
        let slot = self.map().entry(key.clone()).or_default().clone();
        // If this future is dropped while waiting, `slot` (our clone) goes with it, and the
        // holder's guard then sees no other interest and removes the entry.
        let held = slot.lock_owned().await;
        KeyGuard {
            locks: self,
            key,
            held: Some(held),
        }
    }
}

// === impl KeyGuard ===

impl<K: Eq + Hash> KeyGuard<'_, K> {
    /// The key this guard holds.
    pub fn key(&self) -> &K {
        &self.key
    }
}

impl<K: Eq + Hash> Drop for KeyGuard<'_, K> {
    fn drop(&mut self) {
        let mut slots = self.locks.map();
        // Release first: the guard holds a clone of the slot. Waiters clone it under the map
        // lock, which we hold, so a count of 1 (the map's own) means nobody else wants it.
        drop(self.held.take());
        if slots
            .get(&self.key)
            .is_some_and(|s| Arc::strong_count(s) == 1)
        {
            slots.remove(&self.key);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicBool, Ordering};

    use super::*;

    #[tokio::test]
    async fn a_second_holder_of_the_same_key_waits_and_other_keys_do_not() {
        let locks = Arc::new(KeyedLocks::default());
        let first = locks.lock("A").await;
        let other = locks.lock("B").await; // returns at once: another key
        let got_a = Arc::new(AtomicBool::new(false));
        let waiter = tokio::spawn({
            let (locks, got_a) = (locks.clone(), got_a.clone());
            async move {
                let _a = locks.lock("A").await;
                got_a.store(true, Ordering::SeqCst);
            }
        });
        // Let the waiter run until it blocks on "A"; it cannot get further while we hold it.
        for _ in 0..10 {
            tokio::task::yield_now().await;
        }
        assert!(!got_a.load(Ordering::SeqCst), "same key must wait");
        assert_eq!(locks.len(), 2);

        drop(first);
        waiter.await.unwrap();

        assert!(got_a.load(Ordering::SeqCst));
        drop(other);
        assert!(locks.is_empty(), "no entry left behind");
    }

    #[tokio::test]
    async fn an_abandoned_wait_leaves_no_entry_behind() {
        let locks = KeyedLocks::default();
        let held = locks.lock(7_u32).await;
        {
            let wait = std::pin::pin!(locks.lock(7));
            // Polled once (it registers interest and blocks), then dropped unfinished.
            assert!(futures::poll!(wait).is_pending());
        }
        assert_eq!(locks.len(), 1, "the holder's entry only");
        drop(held);
        assert!(locks.is_empty());
    }

    #[tokio::test]
    async fn a_key_is_handed_on_in_the_order_it_was_asked_for() {
        let locks = Arc::new(KeyedLocks::default());
        let order = Arc::new(Mutex::new(Vec::new()));
        let first = locks.lock("serial").await;
        let mut waiters = Vec::new();
        for n in 1..=3 {
            let (locks, order) = (locks.clone(), order.clone());
            waiters.push(tokio::spawn(async move {
                let _g = locks.lock("serial").await;
                order.lock().unwrap().push(n);
            }));
            // Each waiter queues before the next one is spawned.
            for _ in 0..10 {
                tokio::task::yield_now().await;
            }
        }
        drop(first);
        for w in waiters {
            w.await.unwrap();
        }
        assert_eq!(*order.lock().unwrap(), vec![1, 2, 3]);
        assert!(locks.is_empty());
    }
}

//! One async lock per serial number, inside this process: two deliveries of the same purchase
//! in flight at once (prefetch and concurrency above 1) run one after the other, so the second
//! reads what the first wrote instead of importing the same hash again. Entries are removed when
//! nobody holds or waits for them, so the map holds only serials being handled right now.
//!
//! Not for: coordinating processes. Across processes the read-first steps, the shared `importId`
//! and Graph's `ZtdDeviceAlreadyAssigned` (806, taken as success) cover a race.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use shared::ids::SerialNumber;
use tokio::sync::OwnedMutexGuard;

type Slot = Arc<tokio::sync::Mutex<()>>;

#[derive(Debug, Default)]
pub struct SerialLocks {
    // A std mutex: nothing awaits while it is held, only the map is read or changed.
    slots: Mutex<HashMap<String, Slot>>,
}

/// Held while one delivery handles its serial; dropping it lets the next one in.
pub struct SerialGuard<'a> {
    locks: &'a SerialLocks,
    key: String,
    held: Option<OwnedMutexGuard<()>>,
}

impl SerialLocks {
    /// The key of a serial: Graph compares serials without ASCII case, so do we.
    pub fn key(serial: &SerialNumber) -> String {
        serial.as_str().to_ascii_uppercase()
    }

    /// Waits until no other delivery of this process handles `serial`.
    pub async fn lock(&self, serial: &SerialNumber) -> SerialGuard<'_> {
        let key = Self::key(serial);
        let slot = {
            let mut slots = self.slots.lock().unwrap_or_else(|p| p.into_inner());
            slots.entry(key.clone()).or_default().clone()
        };
        let held = slot.lock_owned().await;
        SerialGuard {
            locks: self,
            key,
            held: Some(held),
        }
    }

    /// How many serials have an entry (held or awaited); for tests.
    pub fn len(&self) -> usize {
        self.slots.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Drop for SerialGuard<'_> {
    fn drop(&mut self) {
        let mut slots = self.locks.slots.lock().unwrap_or_else(|p| p.into_inner());
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
    use std::time::Duration;

    use super::*;

    fn serial(s: &str) -> SerialNumber {
        s.parse().unwrap()
    }

    #[tokio::test]
    async fn the_same_serial_waits_and_entries_are_removed_after_use() {
        let locks = Arc::new(SerialLocks::default());
        let first = locks.lock(&serial("ABC1")).await;
        let other = locks.lock(&serial("XYZ9")).await; // another serial is not blocked
        let waiter = {
            let locks = locks.clone();
            tokio::spawn(async move {
                let _g = locks.lock(&serial("abc1")).await;
            })
        };
        tokio::task::yield_now().await;
        let blocked = tokio::time::timeout(Duration::from_millis(50), async {
            while !waiter.is_finished() {
                tokio::task::yield_now().await;
            }
        })
        .await;
        assert!(blocked.is_err(), "same serial (any case) must wait");
        drop(first);
        waiter.await.unwrap();
        drop(other);
        assert!(locks.is_empty(), "no entry left behind");
    }
}

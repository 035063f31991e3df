//! One shipment per device at a time in this process. Duplicate deliveries of a shipment can
//! run at once (`amqp.concurrency`); each would read "unassigned" and write. Holding the
//! device's lock from the first read to the write makes the second one read the first's result.
//!
//! Not for: several replicas of the service (each has its own locks; a duplicate handled by
//! two replicas at the same instant can still write the same assignment twice, which is
//! harmless), nor waiting for anything but another handler of the same serial.

use std::hash::{DefaultHasher, Hash, Hasher};

use shared::ids::SerialNumber;
use tokio::sync::{Mutex, MutexGuard};

/// A fixed set of locks, a serial hashed onto one: bounded memory and nothing to clean up.
/// Two serials sharing a stripe only wait for each other a little.
pub struct SerialLocks {
    stripes: Vec<Mutex<()>>,
}

impl SerialLocks {
    pub fn new(stripes: usize) -> Self {
        SerialLocks {
            stripes: (0..stripes.max(1)).map(|_| Mutex::new(())).collect(),
        }
    }

    /// Waits until no other handler of this process holds `serial`'s stripe.
    pub async fn lock(&self, serial: &SerialNumber) -> MutexGuard<'_, ()> {
        self.stripes[self.stripe(serial)].lock().await
    }

    // Upper-cased: the device lookup ignores ASCII case, so "czc1" and "CZC1" are one device.
    fn stripe(&self, serial: &SerialNumber) -> usize {
        let mut hasher = DefaultHasher::new();
        serial.as_str().to_ascii_uppercase().hash(&mut hasher);
        (hasher.finish() % self.stripes.len() as u64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_serial_in_any_case_takes_the_same_lock() {
        let locks = SerialLocks::new(64);
        let lower: SerialNumber = "czc-0001".parse().unwrap();
        let upper: SerialNumber = "CZC-0001".parse().unwrap();
        assert_eq!(locks.stripe(&lower), locks.stripe(&upper));
    }

    #[tokio::test]
    async fn a_second_handler_of_the_same_serial_waits_for_the_first() {
        let locks = SerialLocks::new(64);
        let serial: SerialNumber = "CZC1".parse().unwrap();
        let first = locks.lock(&serial).await;
        assert!(locks.stripes[locks.stripe(&serial)].try_lock().is_err());
        drop(first);
        assert!(locks.stripes[locks.stripe(&serial)].try_lock().is_ok());
    }
}

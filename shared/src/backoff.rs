//! The one backoff policy of the workspace: exponential, doubling, with jitter, from the
//! `backoff` crate the design card names. The Graph client's in-call retries and the broker
//! reconnect loop both take their schedule from [`jittered`], so that replicas which fail
//! together (a broker restart, a Graph throttling burst) do not retry in lockstep.
//!
//! Not for: waits a server dictated. A Retry-After is honoured exactly by the caller and never
//! passes through this jitter; only the waits nobody told us take this schedule.

use std::time::Duration;

use ::backoff::{ExponentialBackoff, ExponentialBackoffBuilder};

/// Each wait is the previous one times this (before jitter).
pub const MULTIPLIER: f64 = 2.0;

/// Each wait is drawn uniformly from ±50 % around the schedule's current interval: enough to
/// spread replicas apart after a shared failure, small enough that the doubling stays visible.
pub const JITTER: f64 = 0.5;

/// An exponential schedule starting at `initial`, doubling up to `max` (a `max` below `initial`
/// is raised to `initial`), each wait jittered by ±[`JITTER`] — so a single wait may reach
/// 1.5 × `max`. It never gives up by itself (no elapsed-time limit): callers bound it by their
/// own attempt count or shutdown signal.
pub fn jittered(initial: Duration, max: Duration) -> ExponentialBackoff {
    ExponentialBackoffBuilder::new()
        .with_initial_interval(initial)
        .with_multiplier(MULTIPLIER)
        .with_randomization_factor(JITTER)
        .with_max_interval(max.max(initial))
        .with_max_elapsed_time(None)
        .build()
}

#[cfg(test)]
mod tests {
    use ::backoff::backoff::Backoff;

    use super::*;

    /// The bounds a jittered wait around `interval` must fall in (a microsecond of slack for
    /// the crate's float arithmetic).
    fn around(interval: Duration) -> (Duration, Duration) {
        let slack = Duration::from_micros(1);
        (
            interval.mul_f64(1.0 - JITTER).saturating_sub(slack),
            interval.mul_f64(1.0 + JITTER) + slack,
        )
    }

    #[test]
    fn waits_double_within_the_jitter_band_and_stop_growing_at_max() {
        let initial = Duration::from_millis(200);
        let max = Duration::from_secs(30);
        let mut schedule = jittered(initial, max);
        let mut interval = initial;
        for attempt in 0..20 {
            let wait = schedule.next_backoff().expect("never gives up by itself");
            let (low, high) = around(interval);
            assert!(
                low <= wait && wait <= high,
                "attempt {attempt}: {wait:?} outside {low:?}..={high:?}"
            );
            interval = interval.mul_f64(MULTIPLIER).min(max);
        }
    }

    #[test]
    fn jitter_is_on_and_a_max_below_initial_is_raised() {
        let schedule = jittered(Duration::from_secs(1), Duration::ZERO);
        assert!(schedule.randomization_factor > 0.0);
        assert_eq!(schedule.max_interval, Duration::from_secs(1));
        assert_eq!(schedule.max_elapsed_time, None);
    }
}

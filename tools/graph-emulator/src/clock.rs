//! Emulated time: every nominal delay (import, device appearance, sync, throttling windows,
//! Retry-After) is divided by `speed` here, and only here, so no module scales twice.
//! Timestamps shown to clients are real wall-clock time, except the emulated calendar of
//! [`EmulatedClock`] (TAP validity, sent mail), which runs `speed` times faster from an epoch.

use std::time::{Duration, Instant, SystemTime};

use time::format_description::well_known::Rfc3339;

/// How much faster than real time the emulated tenant runs (100.0 = a 60 s import takes 0.6 s).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Speed(f64);

impl Speed {
    /// Non-positive or non-finite speeds fall back to real time rather than dividing by zero.
    pub fn new(factor: f64) -> Speed {
        if factor.is_finite() && factor > 0.0 {
            Speed(factor)
        } else {
            Speed(1.0)
        }
    }
    /// The factor itself (1.0 = real time).
    pub fn factor(self) -> f64 {
        self.0
    }
    /// Real time an emulated delay of `nominal_secs` lasts.
    pub fn scaled_secs(self, nominal_secs: f64) -> Duration {
        Duration::from_secs_f64((nominal_secs.max(0.0)) / self.0)
    }
}

/// The emulated calendar: `emulated = epoch + (real − epoch) × speed`, where `epoch` is a
/// wall-clock instant (the emulator's start unless configured). A service that scales its own
/// clock the same way, with the same epoch and speed (`GET /_emulator/clock`), sees the same
/// emulated time as the emulator. Used where the reference has calendar semantics the tests
/// must compress (TAP validity, graph-behaviour §16; sent mail, graph-behaviour §17); the other
/// timestamps shown to clients stay real wall-clock time.
#[derive(Debug, Clone, Copy)]
pub struct EmulatedClock {
    speed: Speed,
    epoch: time::OffsetDateTime,
    /// A monotonic instant and the wall-clock time it was taken at.
    anchor: (Instant, time::OffsetDateTime),
}

impl EmulatedClock {
    /// `epoch = None`: now (emulated time starts equal to real time).
    pub fn new(speed: Speed, epoch: Option<SystemTime>) -> EmulatedClock {
        let wall = time::OffsetDateTime::now_utc();
        let epoch = epoch.map(time::OffsetDateTime::from).unwrap_or(wall);
        EmulatedClock {
            speed,
            epoch,
            anchor: (Instant::now(), wall),
        }
    }
    /// The real wall-clock instant emulated time is scaled from.
    pub fn epoch(&self) -> time::OffsetDateTime {
        self.epoch
    }
    /// Emulated time at the (monotonic) instant `at`, or `None` past year 9999 (an epoch far
    /// in the past at a high speed).
    pub fn checked_at(&self, at: Instant) -> Option<time::OffsetDateTime> {
        let real = match at.checked_duration_since(self.anchor.0) {
            Some(d) => self.anchor.1 + d,
            None => self.anchor.1 - self.anchor.0.duration_since(at),
        };
        let since_epoch = (real - self.epoch).as_seconds_f64() * self.speed.factor();
        self.epoch
            .checked_add(time::Duration::checked_seconds_f64(since_epoch)?)
    }
    /// Emulated time at the (monotonic) instant `at`; the last representable instant when out
    /// of range ([`RunningEmulator::start`](crate::RunningEmulator::start) refuses such an epoch).
    pub fn at(&self, at: Instant) -> time::OffsetDateTime {
        self.checked_at(at)
            .unwrap_or_else(|| time::PrimitiveDateTime::MAX.assume_utc())
    }
    /// Emulated time now.
    pub fn now(&self) -> time::OffsetDateTime {
        self.at(Instant::now())
    }
}

/// RFC 3339 in UTC with `Z`, sub-seconds (at most microseconds, as graph-behaviour §16's
/// `createdDateTime` sample) only when there are any.
pub fn rfc3339(t: time::OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    let micros = t
        .replace_nanosecond(t.nanosecond() / 1_000 * 1_000)
        .unwrap_or(t);
    micros.format(&Rfc3339).unwrap_or_default()
}

/// Formats a Retry-After value in seconds. Real Graph sends whole seconds; at high speed the
/// scaled wait is a fraction of a second, which an old Graph doc also shows (`2.128`), so a
/// client must parse fractions. With `fractional = false` it is rounded up to whole seconds.
pub fn format_retry_after(wait: Duration, fractional: bool) -> String {
    if !fractional {
        return wait.as_secs_f64().ceil().max(1.0).to_string();
    }
    let millis = wait.as_millis().max(1);
    if millis.is_multiple_of(1000) {
        return (millis / 1000).to_string();
    }
    let text = format!("{:.3}", millis as f64 / 1000.0);
    text.trim_end_matches('0').to_string()
}

/// The wait a formatted Retry-After actually told the client (what an early retry is judged by).
pub fn retry_after_as_sent(text: &str) -> Duration {
    Duration::from_secs_f64(text.parse::<f64>().unwrap_or(0.0))
}

/// `2026-11-25T10:17:05Z`-style wall-clock time, as Graph's `innerError.date` and timestamps.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc()
        .replace_nanosecond(0)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    now.format(&Rfc3339).unwrap_or_default()
}

/// Same, with milliseconds, for the request log.
pub fn now_rfc3339_millis() -> String {
    let now = time::OffsetDateTime::now_utc();
    let ms = now.millisecond();
    let whole = now.replace_nanosecond(0).unwrap_or(now);
    let text = whole.format(&Rfc3339).unwrap_or_default();
    format!("{}.{ms:03}Z", text.trim_end_matches('Z'))
}

/// Wall-clock seconds since the Unix epoch (`iat`, `nbf`, `exp` of tokens; 0 if the clock is before 1970).
pub fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_is_fractional_at_high_speed_and_whole_at_real_time() {
        let speed = Speed::new(100.0);
        assert_eq!(format_retry_after(speed.scaled_secs(2.0), true), "0.02");
        assert_eq!(
            format_retry_after(Speed::new(1.0).scaled_secs(20.0), true),
            "20"
        );
        assert_eq!(format_retry_after(Duration::from_millis(1500), false), "2");
        assert_eq!(retry_after_as_sent("0.02"), Duration::from_millis(20));
    }

    #[test]
    fn emulated_time_runs_speed_times_faster_from_the_epoch() {
        let clock = EmulatedClock::new(Speed::new(86_400.0), None);
        let start = Instant::now();
        let t0 = clock.at(start);
        let one_sec = clock.at(start + Duration::from_secs(1));
        let day = (one_sec - t0).whole_seconds();
        assert!((86_399..=86_401).contains(&day), "{day}");
        let past = SystemTime::now() - Duration::from_secs(10);
        let late = EmulatedClock::new(Speed::new(2.0), Some(past));
        let ahead = (late.now() - time::OffsetDateTime::now_utc()).as_seconds_f64();
        assert!(
            (9.0..11.0).contains(&ahead),
            "10 real s since the epoch = 20 emulated: {ahead}"
        );
        let year_ago = SystemTime::now() - Duration::from_secs(365 * 86_400);
        let absurd = EmulatedClock::new(Speed::new(86_400.0), Some(year_ago));
        assert!(
            absurd.checked_at(Instant::now()).is_none(),
            "beyond year 9999"
        );
        assert_eq!(absurd.now().year(), 9999, "saturates rather than panics");
    }

    #[test]
    fn nonsense_speed_means_real_time() {
        assert_eq!(Speed::new(0.0).factor(), 1.0);
        assert_eq!(Speed::new(f64::NAN).factor(), 1.0);
    }
}

//! Emulated time: every nominal delay (import, device appearance, sync, throttling windows,
//! Retry-After) is divided by `speed` here, and only here, so no module scales twice.
//! Timestamps shown to clients are real wall-clock time.

use std::time::Duration;

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
    fn nonsense_speed_means_real_time() {
        assert_eq!(Speed::new(0.0).factor(), 1.0);
        assert_eq!(Speed::new(f64::NAN).factor(), 1.0);
    }
}

//! Decides what happens to a message whose handler failed: a delay tier, or the dead-letter
//! queue with a reason. Pure functions only; acting on the decision is `settle`'s job.

use std::time::Duration;

use super::handler::tier_label;
use crate::config::AmqpSettings;
use crate::error::{Classify, ErrorClass};

/// When to stop retrying and how long to wait between tries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Delay-tier TTLs, ascending, non-empty (validated in `config`).
    pub tiers: Vec<Duration>,
    /// Dead-letter after this many failed attempts; 0 = no limit.
    pub max_attempts: u32,
    /// Dead-letter once this long has passed since the event was first seen.
    pub max_age: Duration,
}

impl RetryPolicy {
    /// The policy `[amqp]` configures.
    pub fn from_settings(amqp: &AmqpSettings) -> Self {
        RetryPolicy {
            tiers: amqp.delay_tiers.clone(),
            max_attempts: amqp.max_attempts,
            max_age: amqp.max_age,
        }
    }

    /// The tier to wait in before attempt `attempt + 1`. A server's `Retry-After` picks the
    /// smallest tier that waits at least that long (the longest tier if none does); otherwise
    /// attempt 1 waits in the first tier, attempt 2 in the second, and so on, staying in the last.
    pub fn tier_for(&self, attempt: u32, retry_after: Option<Duration>) -> Duration {
        let last = *self
            .tiers
            .last()
            .expect("validated: delay_tiers is non-empty");
        match retry_after {
            Some(wait) => self
                .tiers
                .iter()
                .copied()
                .find(|t| *t >= wait)
                .unwrap_or(last),
            None => {
                let index = usize::try_from(attempt.saturating_sub(1)).unwrap_or(usize::MAX);
                self.tiers.get(index).copied().unwrap_or(last)
            }
        }
    }
}

/// What to do with a message whose handler failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Disposition {
    /// Republish to the delay tier with this TTL; it comes back to the work queue after it.
    Retry {
        /// The TTL of the tier to wait in.
        tier: Duration,
    },
    /// Publish to `<queue>.dead` with this reason.
    DeadLetter {
        /// The dead-letter class label (`transient`, `permanent`, `invalid`).
        class: &'static str,
        /// Why, in words an admin can act on.
        reason: String,
    },
}

/// The dead-letter class of an event that did not parse.
pub const CLASS_INVALID: &str = "invalid";

/// Turns a failed attempt into a disposition. `attempt` is 1 on the first delivery; `age` is
/// the time since the event was first seen.
pub fn disposition(
    err: &impl Classify,
    attempt: u32,
    age: Duration,
    p: &RetryPolicy,
) -> Disposition {
    match err.class() {
        ErrorClass::Permanent => Disposition::DeadLetter {
            class: ErrorClass::Permanent.label(),
            reason: err.to_string(),
        },
        ErrorClass::Transient { .. } if p.max_attempts > 0 && attempt >= p.max_attempts => {
            Disposition::DeadLetter {
                class: ErrorClass::TRANSIENT.label(),
                reason: format!("gave up after {attempt} attempts: {err}"),
            }
        }
        ErrorClass::Transient { .. } if age >= p.max_age => Disposition::DeadLetter {
            class: ErrorClass::TRANSIENT.label(),
            reason: format!(
                "gave up after {attempt} attempts in {} (amqp.max_age {}): {err}",
                tier_label(age),
                tier_label(p.max_age)
            ),
        },
        ErrorClass::Transient { retry_after } => Disposition::Retry {
            tier: p.tier_for(attempt, retry_after),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, thiserror::Error)]
    #[error("{0}")]
    struct Failure(&'static str, ErrorClass);
    impl Classify for Failure {
        fn class(&self) -> ErrorClass {
            self.1
        }
    }

    fn policy(max_attempts: u32) -> RetryPolicy {
        let s = Duration::from_secs;
        RetryPolicy {
            tiers: vec![s(5), s(30), s(300), s(1800)],
            max_attempts,
            max_age: s(86_400),
        }
    }

    fn transient(after: Option<u64>) -> Failure {
        let retry_after = after.map(Duration::from_secs);
        Failure("throttled", ErrorClass::Transient { retry_after })
    }

    #[test]
    fn disposition_table() {
        let s = Duration::from_secs;
        let retry = |t: u64| Disposition::Retry { tier: s(t) };
        #[rustfmt::skip]
        let cases: Vec<(&str, Failure, u32, u64, u32, Disposition)> = vec![
            // what,                                 error,           attempt, age, max_attempts, expected
            ("first transient failure: first tier",  transient(None),      1,     0, 0, retry(5)),
            ("second failure: second tier",          transient(None),      2,    10, 0, retry(30)),
            ("beyond the tiers: stays in the last",  transient(None),      9,   100, 0, retry(1800)),
            ("Retry-After 20s: smallest tier >= 20", transient(Some(20)),  1,     0, 0, retry(30)),
            ("Retry-After equal to a tier",          transient(Some(300)), 1,     0, 0, retry(300)),
            ("Retry-After beyond all: last tier",    transient(Some(7200)),1,     0, 0, retry(1800)),
            ("Retry-After 0: first tier",            transient(Some(0)),   3,     0, 0, retry(5)),
            ("attempt limit reached",                transient(None),      3,     0, 3, Disposition::DeadLetter { class: "transient", reason: "gave up after 3 attempts: throttled".into() }),
            ("under the attempt limit",              transient(None),      2,     0, 3, retry(30)),
        ];
        for (what, err, attempt, age, max_attempts, expected) in cases {
            let got = disposition(&err, attempt, s(age), &policy(max_attempts));
            assert_eq!(got, expected, "{what}");
        }
    }

    #[test]
    fn permanent_errors_dead_letter_at_once_with_their_message() {
        let err = Failure("user has no licence", ErrorClass::Permanent);
        let got = disposition(&err, 1, Duration::ZERO, &policy(0));
        let expected = Disposition::DeadLetter {
            class: "permanent",
            reason: "user has no licence".into(),
        };
        assert_eq!(got, expected);
    }

    #[test]
    fn transient_errors_past_max_age_dead_letter_naming_the_limit() {
        let got = disposition(
            &transient(None),
            40,
            Duration::from_secs(90_000),
            &policy(0),
        );
        let Disposition::DeadLetter { class, reason } = got else {
            panic!("expected a dead letter")
        };
        assert_eq!(class, "transient");
        assert!(reason.contains("amqp.max_age 1day"), "{reason}");
        assert!(reason.ends_with(": throttled"), "{reason}");
    }
}

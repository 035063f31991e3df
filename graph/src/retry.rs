//! Short in-call retries and Retry-After parsing. A Retry-After Graph sent is waited exactly
//! (never shortened or stretched by jitter); every other wait comes from the workspace's one
//! jittered schedule, `shared::backoff::jittered`. The `backoff` crate (mandated, but
//! unmaintained: RUSTSEC-2025-0012, recorded in `deny.toml`) is touched only here and in
//! `shared::backoff`, so swapping it for `backon` later is a change to those two files.
//!
//! Not for: long waits. A Retry-After longer than `graph.in_call_max_wait` is returned to the
//! caller as `Throttled`/`Unavailable` so the message goes back to the broker's delay tiers
//! instead of holding a consumer slot.

use std::future::Future;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime};

use super::error::GraphError;

/// Longest Retry-After we believe. A larger (or absurd) value is capped rather than trusted
/// blindly; 30 minutes is the longest default delay tier.
pub const MAX_RETRY_AFTER: Duration = Duration::from_secs(30 * 60);

/// Parses a Retry-After value: whole or fractional seconds (`2.128` appears in an older Graph
/// doc) or an HTTP-date. Capped at [`MAX_RETRY_AFTER`]; a date in the past means "now".
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<f64>() {
        if !secs.is_finite() || secs < 0.0 {
            return None;
        }
        return Some(Duration::from_secs_f64(
            secs.min(MAX_RETRY_AFTER.as_secs_f64()),
        ));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    let wait = when.duration_since(now).unwrap_or(Duration::ZERO);
    Some(wait.min(MAX_RETRY_AFTER))
}

/// The first wait the schedule draws around when Graph gave no Retry-After.
const FIRST_BACKOFF: Duration = Duration::from_millis(250);

/// How much retrying one call may do (from `[graph]`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InCallRetry {
    /// Retries after the first attempt (`graph.in_call_retries`).
    pub max_retries: u32,
    /// Longest single wait, Retry-After included (`graph.in_call_max_wait`).
    pub max_wait: Duration,
}

/// What to do after one failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    /// Wait exactly this long (Graph said so) and try again.
    WaitExactly(Duration),
    /// Try again after an exponential, jittered pause.
    Backoff,
    /// Return the error to the caller.
    GiveUp,
}

/// The retry table. `idempotent` is false for writes that must not be repeated blindly (an
/// import POST that timed out may have been applied; a second one would duplicate it).
pub fn decide(err: &GraphError, idempotent: bool, max_wait: Duration) -> Decision {
    match err {
        GraphError::Throttled { retry_after, .. } | GraphError::Unavailable { retry_after, .. } => {
            match retry_after {
                // Never retry before Graph's Retry-After has elapsed; if it is long, the broker
                // waits instead of us.
                Some(d) if *d <= max_wait => Decision::WaitExactly(*d),
                Some(_) => Decision::GiveUp,
                None => Decision::Backoff,
            }
        }
        GraphError::Transport {
            request_sent: false,
            ..
        } => Decision::Backoff,
        GraphError::Timeout { .. } | GraphError::Transport { .. } if idempotent => {
            Decision::Backoff
        }
        GraphError::NotReplicatedYet { .. } => Decision::Backoff,
        // Token failures were already retried by the credential's own pipeline.
        _ => Decision::GiveUp,
    }
}

/// How far a request may be repeated within one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Repeat {
    /// Repeating cannot duplicate anything (reads, PUTs, deletes, replacing writes).
    Safe,
    /// Not after a timeout or a dropped connection: it may have been applied.
    NotAfterTimeout,
    /// Only when Graph certainly did not act on it (429, or no connection at all): a 5xx may
    /// come after the work was done, and a second `sendMail` is a second mail.
    AtMostOnce,
}

/// [`decide`] for a request that may be repeated only as far as `repeat` allows.
pub fn decide_for(err: &GraphError, repeat: Repeat, max_wait: Duration) -> Decision {
    let certainly_not_acted_on = matches!(
        err,
        GraphError::Throttled { .. }
            | GraphError::Transport {
                request_sent: false,
                ..
            }
    );
    if repeat == Repeat::AtMostOnce && !certainly_not_acted_on {
        return Decision::GiveUp;
    }
    decide(err, repeat == Repeat::Safe, max_wait)
}

/// `attempt` must be lazy (an `async` block or fn): backoff creates the next attempt's future
/// right after a failure and only polls it once the wait is over.
///
/// Runs `attempt` until it succeeds, `decide` says give up, or `policy.max_retries` retries
/// were spent. `on_retry` is told each error and the wait before the next attempt.
pub async fn retry_in_call<T, F, Fut>(
    policy: InCallRetry,
    repeat: Repeat,
    mut attempt: F,
    mut on_retry: impl FnMut(&GraphError, Duration),
) -> Result<T, GraphError>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Result<T, GraphError>>,
{
    let retries = AtomicU32::new(0);
    // The workspace's one jittered schedule, for the waits Graph did not dictate; it never
    // gives up by itself: the attempt count below bounds it.
    let schedule = shared::backoff::jittered(FIRST_BACKOFF, policy.max_wait);
    let operation = || {
        let fut = attempt();
        let retries = &retries;
        async move {
            let err = match fut.await {
                Ok(v) => return Ok(v),
                Err(e) => e,
            };
            if retries.fetch_add(1, Ordering::Relaxed) >= policy.max_retries {
                return Err(backoff::Error::permanent(err));
            }
            match decide_for(&err, repeat, policy.max_wait) {
                Decision::WaitExactly(d) => Err(backoff::Error::retry_after(err, d)),
                Decision::Backoff => Err(backoff::Error::transient(err)),
                Decision::GiveUp => Err(backoff::Error::permanent(err)),
            }
        }
    };
    backoff::future::retry_notify(schedule, operation, |err: GraphError, wait| {
        on_retry(&err, wait)
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    fn throttled(secs: Option<f64>) -> GraphError {
        GraphError::Throttled {
            operation: "test",
            retry_after: secs.map(Duration::from_secs_f64),
        }
    }

    #[test]
    fn retry_after_accepts_seconds_fractions_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480); // 2015-10-21 07:28:00 UTC
        assert_eq!(parse_retry_after("5", now), Some(Duration::from_secs(5)));
        assert_eq!(
            parse_retry_after(" 2.128 ", now),
            Some(Duration::from_millis(2128))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("86400", now), Some(MAX_RETRY_AFTER));
        assert_eq!(parse_retry_after("-1", now), None);
        assert_eq!(parse_retry_after("soon", now), None);
    }

    #[test]
    fn decisions_follow_the_table() {
        let max = Duration::from_secs(10);
        assert_eq!(
            decide(&throttled(Some(3.0)), true, max),
            Decision::WaitExactly(Duration::from_secs(3))
        );
        assert_eq!(decide(&throttled(Some(11.0)), true, max), Decision::GiveUp);
        assert_eq!(decide(&throttled(None), false, max), Decision::Backoff);
        let timeout = GraphError::Timeout { operation: "t" };
        assert_eq!(decide(&timeout, true, max), Decision::Backoff);
        assert_eq!(decide(&timeout, false, max), Decision::GiveUp);
        let unsent = GraphError::Transport {
            operation: "t",
            detail: String::new(),
            request_sent: false,
        };
        assert_eq!(decide(&unsent, false, max), Decision::Backoff);
        let not_found = GraphError::NotFound {
            operation: "t",
            code: String::new(),
            message: String::new(),
        };
        assert_eq!(decide(&not_found, true, max), Decision::GiveUp);
        let token = GraphError::Unauthorized {
            detail: String::new(),
            transient: true,
        };
        assert_eq!(decide(&token, true, max), Decision::GiveUp);
    }

    fn policy(max_retries: u32) -> InCallRetry {
        InCallRetry {
            max_retries,
            max_wait: Duration::from_secs(10),
        }
    }

    /// Runs `retry_in_call` over a script of answers; returns the result, how many attempts were
    /// made and the (virtual) time each attempt started at.
    async fn run_script(
        p: InCallRetry,
        script: Vec<Result<u8, GraphError>>,
    ) -> (Result<u8, GraphError>, Vec<Duration>) {
        let start = tokio::time::Instant::now();
        let script = Mutex::new(script.into_iter());
        let starts = Mutex::new(Vec::new());
        let res = retry_in_call(
            p,
            Repeat::Safe,
            // backoff builds the next future as soon as an attempt fails and polls it after
            // the wait, so the attempt must do its work (here: note the time) when polled.
            || async {
                starts.lock().unwrap().push(start.elapsed());
                script.lock().unwrap().next().expect("script too short")
            },
            |_, _| {},
        )
        .await;
        (res, starts.into_inner().unwrap())
    }

    #[test]
    fn at_most_once_repeats_only_what_graph_certainly_did_not_act_on() {
        let max = Duration::from_secs(10);
        let unavailable = GraphError::Unavailable {
            operation: "t",
            status: 503,
            retry_after: None,
        };
        let unsent = GraphError::Transport {
            operation: "t",
            detail: "refused".into(),
            request_sent: false,
        };
        let once = Repeat::AtMostOnce;
        assert_eq!(decide_for(&unavailable, once, max), Decision::GiveUp);
        assert_eq!(
            decide_for(&GraphError::Timeout { operation: "t" }, once, max),
            Decision::GiveUp
        );
        assert_eq!(
            decide_for(&throttled(Some(1.0)), once, max),
            Decision::WaitExactly(Duration::from_secs(1))
        );
        assert_eq!(decide_for(&unsent, once, max), Decision::Backoff);
        assert_eq!(
            decide_for(&unavailable, Repeat::NotAfterTimeout, max),
            Decision::Backoff
        );
    }

    #[tokio::test(start_paused = true)]
    async fn honours_retry_after_exactly_before_retrying() {
        let (res, starts) = run_script(policy(3), vec![Err(throttled(Some(3.0))), Ok(1)]).await;
        assert_eq!(res, Ok(1));
        assert_eq!(starts.len(), 2);
        assert!(starts[1] >= Duration::from_secs(3), "{starts:?}");
        assert!(starts[1] < Duration::from_millis(3100), "{starts:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn waits_graph_did_not_dictate_are_jittered_around_the_schedule() {
        let script = vec![Err(throttled(None)), Err(throttled(None)), Ok(1)];
        let (res, starts) = run_script(policy(3), script).await;
        assert_eq!(res, Ok(1));
        let (first, second) = (starts[1] - starts[0], starts[2] - starts[1]);
        // ±50 % around 250 ms, then around 500 ms (tokio's timer rounds up to the millisecond).
        let band = |centre: u64| {
            Duration::from_millis(centre / 2)..=Duration::from_millis(centre * 3 / 2 + 1)
        };
        assert!(band(250).contains(&first), "{starts:?}");
        assert!(band(500).contains(&second), "{starts:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn a_long_retry_after_goes_back_to_the_caller_at_once() {
        let (res, starts) = run_script(policy(3), vec![Err(throttled(Some(60.0)))]).await;
        assert_eq!(res, Err(throttled(Some(60.0))));
        assert_eq!(starts, vec![Duration::ZERO]);
    }

    #[tokio::test(start_paused = true)]
    async fn retries_are_bounded_by_the_setting() {
        let script = (0..5).map(|_| Err(throttled(None))).collect();
        let (res, starts) = run_script(policy(2), script).await;
        assert_eq!(res, Err(throttled(None)));
        assert_eq!(starts.len(), 3, "first attempt + 2 retries");
        assert!(starts.windows(2).all(|w| w[1] > w[0]), "{starts:?}");
    }

    #[tokio::test(start_paused = true)]
    async fn permanent_errors_are_not_retried() {
        let e = GraphError::BadRequest {
            operation: "t",
            status: 400,
            code: "BadRequest".into(),
            message: String::new(),
        };
        let (res, starts) = run_script(policy(3), vec![Err(e.clone())]).await;
        assert_eq!(res, Err(e));
        assert_eq!(starts.len(), 1);
    }
}

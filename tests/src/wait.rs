//! Waiting in tests without guessing: every wait is for a condition, with a deadline scaled by
//! `TEST_PATIENCE` (a float, default 1) for slow machines, and a message naming what never came.

use std::future::Future;
use std::time::{Duration, Instant};

/// The factor every deadline is multiplied by (`TEST_PATIENCE=3` on a loaded machine).
pub fn patience() -> f64 {
    std::env::var("TEST_PATIENCE")
        .ok()
        .and_then(|v| v.parse::<f64>().ok())
        .filter(|p| *p > 0.0)
        .unwrap_or(1.0)
}

/// Polls `probe` until it returns `Some`; panics naming `what` after `within` × patience.
pub async fn eventually<T, F, P>(what: &str, within: Duration, mut probe: P) -> T
where
    P: FnMut() -> F,
    F: Future<Output = Option<T>>,
{
    let limit = within.mul_f64(patience());
    let started = Instant::now();
    let poll = async {
        loop {
            if let Some(found) = probe().await {
                return found;
            }
            // The poll interval, not a guess at how long anything takes.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    };
    match tokio::time::timeout(limit, poll).await {
        Ok(found) => found,
        Err(_) => panic!("waited {:?} for {what}", started.elapsed()),
    }
}

/// Awaits `fut`, panicking naming `what` after `within` × patience.
pub async fn within<T>(what: &str, within: Duration, fut: impl Future<Output = T>) -> T {
    let limit = within.mul_f64(patience());
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("waited {limit:?} for {what}"))
}

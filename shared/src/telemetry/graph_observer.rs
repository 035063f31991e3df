//! The seam through which the Graph client reports what it did, so that metrics live in
//! `telemetry` and the client does not know about Prometheus. Not for logging: the client's
//! spans already carry the same facts.

use std::time::Duration;

/// Told about every Graph request the client finishes, and every write shadow mode held back.
pub trait GraphObserver: Send + Sync + 'static {
    /// A request finished. `route` is the URL template (`/v1.0/groups/{id}/members/$ref`), never
    /// the concrete URL, so metric labels stay bounded and carry no personal data. `status` is
    /// `None` when no response came (timeout, connection error).
    fn request_finished(&self, method: &str, route: &str, status: Option<u16>, elapsed: Duration);
    /// Shadow mode: this write would have been sent.
    fn would_write(&self, method: &str, route: &str);
}

/// Observes nothing; for tools that do not export metrics.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoopObserver;

impl GraphObserver for NoopObserver {
    fn request_finished(&self, _: &str, _: &str, _: Option<u16>, _: Duration) {}
    fn would_write(&self, _: &str, _: &str) {}
}

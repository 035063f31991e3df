//! Our transient/permanent vocabulary. Every error a handler can return says, through
//! [`Classify`], whether waiting can help; the AMQP runtime turns that into a delay tier or a
//! dead letter (`amqp::retry`). This module only names the classes; it decides nothing.

use std::time::Duration;

/// Whether waiting and trying again can change the outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Throttling, 5xx, timeouts, "not there yet": retry later. `retry_after` is the server's
    /// (or the handler's) own estimate and wins over the attempt-based schedule.
    Transient {
        /// How long to wait, when the server (or the handler) knows.
        retry_after: Option<Duration>,
    },
    /// Invalid input, missing permission, a state only an admin can change: dead-letter now.
    Permanent,
}

impl ErrorClass {
    /// A transient class with no estimate of when to retry.
    pub const TRANSIENT: ErrorClass = ErrorClass::Transient { retry_after: None };

    /// Waiting may help.
    pub fn is_transient(&self) -> bool {
        matches!(self, ErrorClass::Transient { .. })
    }

    /// `"transient"` or `"permanent"`: the value of the dead-letter class header and metric label.
    pub fn label(&self) -> &'static str {
        match self {
            ErrorClass::Transient { .. } => "transient",
            ErrorClass::Permanent => "permanent",
        }
    }
}

/// Implemented by every library error: the layer that knows what an error means classifies it.
/// The error's `Display` is the reason an admin reads in the dead-letter queue, so it must say
/// what is wrong and, where possible, what to do.
pub trait Classify: std::error::Error {
    /// Whether waiting can help, and how long to wait if the error knows.
    fn class(&self) -> ErrorClass;

    /// True for a transient "not there yet" that time resolves by itself (a user HR has not
    /// provisioned yet, an import still running): retrying is the plan, not trouble, so the
    /// runtime logs the retry at INFO. Everything else transient (throttling, 5xx, timeouts)
    /// keeps WARN. Default: false.
    fn is_pending(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_name_the_class() {
        assert_eq!(ErrorClass::TRANSIENT.label(), "transient");
        assert_eq!(ErrorClass::Permanent.label(), "permanent");
        assert!(
            ErrorClass::Transient {
                retry_after: Some(Duration::from_secs(2))
            }
            .is_transient()
        );
        assert!(!ErrorClass::Permanent.is_transient());
    }
}

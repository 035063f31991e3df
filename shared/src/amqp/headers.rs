//! The AMQP header names this runtime reads and writes, each defined once with what it means,
//! and the small functions that read them. Operators see these in the dead-letter queue; the
//! CLI's `dead` verb prints them. Not for CloudEvents attributes, which live in the body.

use lapin::types::{AMQPValue, FieldTable, LongString, ShortString};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Failed attempts so far (an integer). Absent on a first delivery.
/// Written on every retry republish and on a dead letter.
pub const ATTEMPTS: &str = "x-onboarding-attempts";
/// RFC 3339 time the runtime first received this event; kept across retries, so `max_age`
/// counts from here.
pub const FIRST_SEEN: &str = "x-onboarding-first-seen";
/// RFC 3339 time of the most recent failure.
pub const LAST_FAILURE: &str = "x-onboarding-last-failure";
/// The most recent failure's message, on a retry republish (so a parked message says why).
pub const LAST_ERROR: &str = "x-onboarding-last-error";
/// Dead letters only: why the message was given up, in words an admin can act on.
pub const REASON: &str = "x-onboarding-reason";
/// Dead letters only: `transient` (gave up retrying), `permanent`, or `invalid` (did not parse).
pub const ERROR_CLASS: &str = "x-onboarding-error-class";
/// Dead letters only: the service that gave up (`new-hire`, ...).
pub const SERVICE: &str = "x-onboarding-service";
/// Dead letters only: the work queue the message was taken from, for a replay.
pub const ORIGINAL_QUEUE: &str = "x-onboarding-original-queue";
/// W3C trace context; written by `telemetry::inject_trace_context`.
pub const TRACEPARENT: &str = "traceparent";
/// W3C vendor trace state, next to `traceparent`.
pub const TRACESTATE: &str = "tracestate";
/// Set by the broker on quorum-queue redeliveries; read for the span, never written.
pub const DELIVERY_COUNT: &str = "x-delivery-count";
/// Set by the broker when it dead-letters (a delay tier expiring). Never copied on republish:
/// RabbitMQ's dead-letter cycle detection reads it, and the tiers would look like a cycle.
pub const X_DEATH: &str = "x-death";

/// Reads a header as text (long or short string), if present.
pub fn text<'a>(headers: &'a FieldTable, name: &str) -> Option<&'a str> {
    match headers.inner().get(name)? {
        AMQPValue::LongString(s) => std::str::from_utf8(s.as_bytes()).ok(),
        AMQPValue::ShortString(s) => Some(s.as_str()),
        _ => None,
    }
}

/// Reads a header as an unsigned number, whichever integer or string type carried it.
pub fn number(headers: &FieldTable, name: &str) -> Option<u64> {
    match headers.inner().get(name)? {
        AMQPValue::LongLongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongInt(n) => u64::try_from(*n).ok(),
        AMQPValue::LongUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::ShortShortInt(n) => u64::try_from(*n).ok(),
        AMQPValue::ShortShortUInt(n) => Some(u64::from(*n)),
        AMQPValue::Timestamp(n) => Some(*n),
        AMQPValue::LongString(_) | AMQPValue::ShortString(_) => text(headers, name)?.parse().ok(),
        _ => None,
    }
}

/// Reads an RFC 3339 time header.
pub fn time(headers: &FieldTable, name: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text(headers, name)?, &Rfc3339).ok()
}

/// Writes a text header (as a long string, which every client reads).
pub fn set_text(headers: &mut FieldTable, name: &str, value: impl Into<String>) {
    headers.insert(
        ShortString::from(name),
        AMQPValue::LongString(LongString::from(value.into())),
    );
}

/// Writes an RFC 3339 time header.
pub fn set_time(headers: &mut FieldTable, name: &str, at: OffsetDateTime) {
    set_text(headers, name, at.format(&Rfc3339).unwrap_or_default());
}

/// Writes an unsigned number header as `long long` (signed on the wire, as AMQP 0-9-1 wants).
pub fn set_number(headers: &mut FieldTable, name: &str, value: u32) {
    headers.insert(
        ShortString::from(name),
        AMQPValue::LongLongInt(i64::from(value)),
    );
}

/// A copy of `headers` fit to republish: without the broker's `x-death` and `x-delivery-count`.
pub fn republishable(headers: &FieldTable) -> FieldTable {
    let mut copy = FieldTable::default();
    for (k, v) in headers.inner() {
        if k.as_str() != X_DEATH && k.as_str() != DELIVERY_COUNT {
            copy.insert(k.clone(), v.clone());
        }
    }
    copy
}

/// A dead letter's headers fit to replay as a new event: without the runtime's `x-onboarding-*`
/// bookkeeping (so attempts and `max_age` start afresh) and without the broker's headers.
pub fn for_replay(headers: &FieldTable) -> FieldTable {
    let mut copy = FieldTable::default();
    for (k, v) in republishable(headers).inner() {
        if !k.as_str().starts_with("x-onboarding-") {
            copy.insert(k.clone(), v.clone());
        }
    }
    copy
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replay_keeps_the_publishers_headers_and_drops_our_bookkeeping() {
        let mut dead = FieldTable::default();
        set_text(
            &mut dead,
            TRACEPARENT,
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        );
        set_text(&mut dead, REASON, "gave up");
        set_number(&mut dead, ATTEMPTS, 3);
        dead.insert(X_DEATH.into(), AMQPValue::FieldArray(Default::default()));

        let replay = for_replay(&dead);

        let keys: Vec<&str> = replay.inner().keys().map(|k| k.as_str()).collect();
        assert_eq!(keys, [TRACEPARENT]);
    }

    #[test]
    fn numbers_read_back_whatever_integer_type_carried_them() {
        let mut headers = FieldTable::default();
        set_number(&mut headers, ATTEMPTS, 4);
        headers.insert("x-delivery-count".into(), AMQPValue::LongInt(2));
        set_text(&mut headers, "as-text", "7");
        assert_eq!(number(&headers, ATTEMPTS), Some(4));
        assert_eq!(number(&headers, DELIVERY_COUNT), Some(2));
        assert_eq!(number(&headers, "as-text"), Some(7));
    }
}

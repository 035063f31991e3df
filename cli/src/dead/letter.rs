//! One dead letter as an operator sees it: what the runtime's headers (and the body's `type`)
//! say about it, every header as text, and the body with the hardware hash masked.
//!
//! Not for: taking messages from the broker or putting them back (`broker.rs`).

use lapin::message::Delivery;
use lapin::types::{AMQPValue, FieldTable};
use serde::Serialize;
use shared::amqp::headers;
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// One dead letter as `dead list` prints it: what the runtime's headers say about it.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    /// The AMQP `message_id` (= the CloudEvents `id`): what `show` and `replay --id` take.
    pub id: String,
    /// The CloudEvents `type` from the body, if the body parsed.
    #[serde(rename = "type")]
    pub event_type: Option<String>,
    /// Why it died, in the runtime's words (`x-onboarding-reason`).
    pub reason: Option<String>,
    /// `transient`, `permanent` or `invalid`.
    pub error_class: Option<String>,
    /// Deliveries the runtime made before giving up.
    pub attempts: Option<u64>,
    /// RFC 3339 time the runtime first saw the event.
    pub first_seen: Option<String>,
    /// Seconds since first seen (or since the broker timestamp, if no first-seen header).
    pub age_secs: Option<u64>,
}

/// One dead letter in full, as `dead show` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Shown {
    /// What `dead list` shows of it.
    #[serde(flatten)]
    pub summary: Summary,
    /// The trace the event belongs to (from `traceparent`): every attempt, Graph call and
    /// replay of it is in this trace (Jaeger: `/trace/<id>`), and in the logs as `trace_id`.
    pub trace_id: Option<String>,
    /// Every AMQP header, as text.
    pub headers: serde_json::Map<String, serde_json::Value>,
    /// The body as JSON (with `data.hardwareHash` masked), or as text if it is not JSON.
    pub body: serde_json::Value,
}

pub(crate) fn content_type(d: &Delivery) -> Option<&str> {
    d.properties.content_type().as_ref().map(|c| c.as_str())
}

pub(crate) fn message_id(d: &Delivery) -> String {
    d.properties
        .message_id()
        .as_ref()
        .map(|m| m.to_string())
        .unwrap_or_default()
}

/// The trace id of a W3C `traceparent` header (`00-<trace id>-<span id>-<flags>`).
pub(crate) fn trace_id(h: &FieldTable) -> Option<String> {
    let parent = headers::text(h, headers::TRACEPARENT)?;
    let id = parent.split('-').nth(1)?;
    (id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit())).then(|| id.to_owned())
}

/// What the headers (and the body's `type`) say about one dead letter.
pub fn summarize(d: &Delivery) -> Summary {
    let h = d.properties.headers().clone().unwrap_or_default();
    let first_seen = headers::time(&h, headers::FIRST_SEEN).or_else(|| {
        d.properties
            .timestamp()
            .and_then(|t| OffsetDateTime::from_unix_timestamp(t as i64).ok())
    });
    let age_secs = first_seen.map(|t| {
        let age = OffsetDateTime::now_utc() - t;
        age.whole_seconds().max(0) as u64
    });
    let event_type = serde_json::from_slice::<serde_json::Value>(&d.data)
        .ok()
        .and_then(|v| v.get("type")?.as_str().map(str::to_owned));
    Summary {
        id: message_id(d),
        event_type,
        reason: headers::text(&h, headers::REASON)
            .map(str::to_owned)
            .or_else(|| broker_reason(&h)),
        error_class: headers::text(&h, headers::ERROR_CLASS).map(str::to_owned),
        attempts: headers::number(&h, headers::ATTEMPTS),
        first_seen: first_seen.and_then(|t| t.format(&Rfc3339).ok()),
        age_secs,
    }
}

/// A message the broker dead-lettered itself (e.g. `x-delivery-limit` after repeated crashes)
/// has no reason header of ours, only `x-death`: its first entry's reason and queue.
fn broker_reason(h: &FieldTable) -> Option<String> {
    let AMQPValue::FieldArray(deaths) = h.inner().get(headers::X_DEATH)? else {
        return None;
    };
    let AMQPValue::FieldTable(first) = deaths.as_slice().first()? else {
        return None;
    };
    let reason = headers::text(first, "reason").unwrap_or("unknown");
    let queue = headers::text(first, "queue").unwrap_or("?");
    Some(format!(
        "dead-lettered by the broker ({reason}) from {queue}; no handler reason was recorded"
    ))
}

pub(crate) fn header_map(h: &FieldTable) -> serde_json::Map<String, serde_json::Value> {
    h.inner()
        .iter()
        .map(|(k, v)| (k.to_string(), header_value(v)))
        .collect()
}

fn header_value(v: &AMQPValue) -> serde_json::Value {
    match v {
        AMQPValue::LongString(s) => String::from_utf8_lossy(s.as_bytes()).into_owned().into(),
        AMQPValue::ShortString(s) => s.as_str().into(),
        AMQPValue::Boolean(b) => (*b).into(),
        AMQPValue::LongLongInt(n) => (*n).into(),
        AMQPValue::LongInt(n) => (*n).into(),
        AMQPValue::LongUInt(n) => (*n).into(),
        AMQPValue::ShortInt(n) => (*n).into(),
        AMQPValue::ShortUInt(n) => (*n).into(),
        AMQPValue::Timestamp(n) => (*n).into(),
        AMQPValue::FieldArray(a) => a.as_slice().iter().map(header_value).collect(),
        AMQPValue::FieldTable(t) => header_map(t).into(),
        other => format!("{other:?}").into(),
    }
}

/// The body for a person to read: JSON with `data.hardwareHash` replaced by its length (a hash
/// identifies a physical machine), or lossy text when it is not JSON.
pub fn masked_body(body: &[u8]) -> serde_json::Value {
    match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(mut v) => {
            if let Some(hash) = v.pointer_mut("/data/hardwareHash")
                && let Some(len) = hash.as_str().map(str::len)
            {
                *hash = format!("<masked: {len} chars>").into();
            }
            v
        }
        Err(_) => String::from_utf8_lossy(body).into_owned().into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_is_read_from_traceparent_and_a_malformed_one_gives_none() {
        let mut h = FieldTable::default();
        assert_eq!(trace_id(&h), None);
        headers::set_text(
            &mut h,
            headers::TRACEPARENT,
            "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
        );
        assert_eq!(
            trace_id(&h).as_deref(),
            Some("0af7651916cd43dd8448eb211c80319c")
        );
        headers::set_text(&mut h, headers::TRACEPARENT, "00-not-hex-01");
        assert_eq!(trace_id(&h), None);
    }

    #[test]
    fn shown_bodies_never_carry_a_hardware_hash() {
        let body = br#"{"type":"procurement.device.purchased","data":{"serialNumber":"X1","hardwareHash":"QUJDRA=="}}"#;
        let shown = masked_body(body);
        assert_eq!(shown["data"]["hardwareHash"], "<masked: 8 chars>");
        assert_eq!(shown["data"]["serialNumber"], "X1");
        assert!(!shown.to_string().contains("QUJDRA"));
    }

    #[test]
    fn a_letter_the_broker_dead_lettered_says_so_from_x_death() {
        let mut death = FieldTable::default();
        headers::set_text(&mut death, "reason", "delivery_limit");
        headers::set_text(&mut death, "queue", "onboarding.new-hire");
        let mut h = FieldTable::default();
        h.insert(
            headers::X_DEATH.into(),
            AMQPValue::FieldArray(vec![AMQPValue::FieldTable(death)].into()),
        );
        let reason = broker_reason(&h).unwrap();
        assert!(reason.contains("delivery_limit") && reason.contains("onboarding.new-hire"));
        assert_eq!(broker_reason(&FieldTable::default()), None);
    }
}

//! The event contract: CloudEvents 1.0 in structured JSON mode over the one topic exchange,
//! the typed `data` of each event we consume, and [`parse_event`], which turns a delivery into
//! a typed envelope or an [`InvalidEvent`] naming the field. The JSON Schemas in `schemas/` say
//! the same thing for integrators; `tests/schemas.rs` keeps the two in agreement.
//!
//! Not for: AMQP properties and headers (`amqp`), or what a handler does with the data.
//! Unknown `data` fields are ignored, so a publisher may add fields before we read them;
//! CloudEvents extension attributes on the envelope are ignored likewise.

use serde::{Deserialize, Serialize, de::DeserializeOwned};
use time::OffsetDateTime;

use crate::error::{Classify, ErrorClass};
use crate::ids::{EmployeeId, GroupTag, HardwareHash, OrderId, SerialNumber, Upn};

/// AMQP `content_type` of every message: CloudEvents structured mode.
pub const CONTENT_TYPE: &str = "application/cloudevents+json";
/// The only CloudEvents version we speak.
pub const SPEC_VERSION: &str = "1.0";

/// One event type = one Rust type: the CloudEvents `type` (which is also the routing key it is
/// published with), the `data` struct and the `subject` are tied here and nowhere else. The
/// runtime parses a delivery for a handler's input type, publishes its output type under
/// [`Event::TYPE`], and fills the envelope's `subject` from [`Event::subject`].
///
/// Only `Serialize` is required: an outcome is written by its service and read by nobody in
/// this workspace. The runtime adds `DeserializeOwned` where it parses (a handler's input).
pub trait Event: Serialize + Send + Sync + 'static {
    /// The CloudEvents `type`, e.g. `hr.employee.hired`; also the routing key.
    const TYPE: &'static str;
    /// The CloudEvents `subject`: the identifier operators search by (an employee id, a serial
    /// number, a user id), never personal data.
    fn subject(&self) -> Option<String>;
}

/// A CloudEvents 1.0 envelope in structured JSON mode. `type` is the routing key.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope<T> {
    /// The CloudEvents version, always `1.0`.
    pub specversion: String,
    /// Unique per event; also the AMQP `message_id`. Redeliveries keep it.
    pub id: String,
    /// URI-reference of the producer, e.g. `urn:onboarding:new-hire` or `https://hr.example/`.
    pub source: String,
    #[serde(rename = "type")]
    /// The CloudEvents `type`; also the routing key.
    pub event_type: String,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    /// When the event happened, if the producer says.
    pub time: Option<OffsetDateTime>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// What the event is about (an employee id, a serial number): searchable, never personal data.
    pub subject: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The media type of `data`: `application/json` or absent.
    pub datacontenttype: Option<String>,
    /// The typed event data.
    pub data: T,
}

impl<E: Event> Envelope<E> {
    /// A new event of `E`'s type, with its subject, a fresh id and the current time.
    pub fn of(source: &str, data: E) -> Self {
        let subject = data.subject();
        Envelope::new(E::TYPE, source, subject, data)
    }
}

impl<T> Envelope<T> {
    /// A new event with a fresh id, the current time and JSON data. For typed data prefer
    /// [`Envelope::of`]; this is for data without a type of its own (a deliberately malformed
    /// test event, a batch already erased to JSON).
    pub fn new(event_type: &str, source: &str, subject: Option<String>, data: T) -> Self {
        Envelope {
            specversion: SPEC_VERSION.to_owned(),
            id: uuid::Uuid::new_v4().to_string(),
            source: source.to_owned(),
            event_type: event_type.to_owned(),
            time: Some(OffsetDateTime::now_utc()),
            subject,
            datacontenttype: Some("application/json".to_owned()),
            data,
        }
    }
}

time::serde::format_description!(ymd, Date, "[year]-[month]-[day]");

/// `hr.employee.hired`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EmployeeHired {
    /// The HR system's employee id; also the CloudEvents subject.
    pub employee_id: EmployeeId,
    /// The user's UPN in Entra (`userPrincipalName`).
    pub user_principal_name: Upn,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Display name, for logs an admin reads.
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Department: chooses the groups (`new_hire.groups_by_department`).
    pub department: Option<String>,
    /// First working day, `YYYY-MM-DD`.
    #[serde(default, with = "ymd::option", skip_serializing_if = "Option::is_none")]
    pub start_date: Option<time::Date>,
}

impl Event for EmployeeHired {
    const TYPE: &'static str = "hr.employee.hired";
    fn subject(&self) -> Option<String> {
        Some(self.employee_id.to_string())
    }
}

/// `procurement.device.purchased`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DevicePurchased {
    /// The purchase order.
    pub order_id: OrderId,
    /// The device's serial number; also the CloudEvents subject.
    pub serial_number: SerialNumber,
    /// Optional in the contract: a tenant that registers by corporate identifier only does not
    /// need it (`device_purchased.require_hardware_hash`), so the service enforces it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hardware_hash: Option<HardwareHash>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Windows product key, if procurement has it.
    pub product_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Manufacturer as the device reports it (for the corporate identifier).
    pub manufacturer: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Model as the device reports it (for the corporate identifier).
    pub model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// Autopilot group tag to set on the device.
    pub group_tag: Option<GroupTag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The user the device is meant for, if known at purchase.
    pub intended_user_principal_name: Option<Upn>,
}

impl Event for DevicePurchased {
    const TYPE: &'static str = "procurement.device.purchased";
    fn subject(&self) -> Option<String> {
        Some(self.serial_number.to_string())
    }
}

/// `procurement.device.shipped`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceShipped {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The purchase order, if the shipment names it.
    pub order_id: Option<OrderId>,
    /// The device's serial number; also the CloudEvents subject.
    pub serial_number: SerialNumber,
    /// The user the device was shipped to.
    pub user_principal_name: Upn,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The carrier, for the record.
    pub carrier: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    /// The carrier's tracking number, for the record.
    pub tracking_number: Option<String>,
    #[serde(
        default,
        with = "time::serde::rfc3339::option",
        skip_serializing_if = "Option::is_none"
    )]
    /// When the device left the warehouse.
    pub shipped_at: Option<OffsetDateTime>,
}

impl Event for DeviceShipped {
    const TYPE: &'static str = "procurement.device.shipped";
    fn subject(&self) -> Option<String> {
        Some(self.serial_number.to_string())
    }
}

/// A delivery that is not a valid event of the expected type. Always permanent: the same bytes
/// will fail the same way, so the runtime dead-letters it at once with this message as reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEvent {
    /// The AMQP content type, when it is not CloudEvents structured JSON.
    #[error("content_type: expected {CONTENT_TYPE}, got {}", .0.as_deref().unwrap_or("none"))]
    ContentType(Option<String>),
    /// The body is over the size limit (checked before it is read).
    #[error("body: {size} bytes is over the {max}-byte limit")]
    TooLarge {
        /// The body's size in bytes.
        size: usize,
        /// `amqp.max_body_bytes`.
        max: usize,
    },
    /// The body is not a JSON object; why.
    #[error("body: not a JSON object ({0})")]
    NotJson(String),
    /// An event of another type than the queue carries.
    #[error("type: expected {expected}, got {got}")]
    WrongType {
        /// The type the queue carries.
        expected: String,
        /// The type the event has.
        got: String,
    },
    /// A missing or malformed attribute or data field, named by its JSON path.
    #[error("{field}: {problem}")]
    Field {
        /// The JSON path of the field (`data.userPrincipalName`).
        field: String,
        /// What is wrong with it.
        problem: String,
    },
}

impl Classify for InvalidEvent {
    fn class(&self) -> ErrorClass {
        match self {
            InvalidEvent::ContentType(_)
            | InvalidEvent::TooLarge { .. }
            | InvalidEvent::NotJson(_)
            | InvalidEvent::WrongType { .. }
            | InvalidEvent::Field { .. } => ErrorClass::Permanent,
        }
    }
}

fn field(field: impl Into<String>, problem: impl Into<String>) -> InvalidEvent {
    InvalidEvent::Field {
        field: field.into(),
        problem: problem.into(),
    }
}

/// Parses a delivery into an envelope of `E`, checking in order: the content type, the size
/// (before reading the body), JSON, `type` (must be `E::TYPE`), the envelope attributes, then
/// `data`.
pub fn parse_event<E: Event + DeserializeOwned>(
    content_type: Option<&str>,
    body: &[u8],
    max_bytes: usize,
) -> Result<Envelope<E>, InvalidEvent> {
    let event_type_expected = E::TYPE;
    let media_type = content_type.map(|ct| ct.split(';').next().unwrap_or("").trim());
    if !media_type.is_some_and(|mt| mt.eq_ignore_ascii_case(CONTENT_TYPE)) {
        return Err(InvalidEvent::ContentType(content_type.map(str::to_owned)));
    }
    if body.len() > max_bytes {
        return Err(InvalidEvent::TooLarge {
            size: body.len(),
            max: max_bytes,
        });
    }
    let mut object = match serde_json::from_slice::<serde_json::Value>(body) {
        Ok(serde_json::Value::Object(object)) => object,
        Ok(_) => return Err(InvalidEvent::NotJson("not an object".to_owned())),
        Err(e) => return Err(InvalidEvent::NotJson(e.to_string())),
    };
    match object.get("type") {
        Some(serde_json::Value::String(t)) if t == event_type_expected => {}
        Some(serde_json::Value::String(t)) => {
            return Err(InvalidEvent::WrongType {
                expected: event_type_expected.to_owned(),
                got: t.clone(),
            });
        }
        _ => return Err(field("type", "required string is missing")),
    }
    let data = object
        .remove("data")
        .ok_or_else(|| field("data", "required object is missing"))?;
    // The attributes are read on their own so that their errors and the data's are named apart.
    object.insert("data".to_owned(), serde_json::Value::Null);
    let head: Envelope<()> = deserialize_at("", serde_json::Value::Object(object))?;
    check_attributes(&head)?;
    let data: E = deserialize_at("data", data)?;
    Ok(Envelope {
        specversion: head.specversion,
        id: head.id,
        source: head.source,
        event_type: head.event_type,
        time: head.time,
        subject: head.subject,
        datacontenttype: head.datacontenttype,
        data,
    })
}

fn check_attributes(head: &Envelope<()>) -> Result<(), InvalidEvent> {
    if head.specversion != SPEC_VERSION {
        return Err(field("specversion", format!("expected {SPEC_VERSION}")));
    }
    if head.id.is_empty() {
        return Err(field("id", "must not be empty"));
    }
    if head.source.is_empty() {
        return Err(field("source", "must not be empty"));
    }
    match head.datacontenttype.as_deref() {
        None | Some("application/json") => Ok(()),
        Some(_) => Err(field("datacontenttype", "expected application/json")),
    }
}

/// Deserializes `value`, naming the failing field by its path under `prefix`.
fn deserialize_at<T: DeserializeOwned>(
    prefix: &str,
    value: serde_json::Value,
) -> Result<T, InvalidEvent> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let message = e.inner().to_string();
        let mut name = match (prefix, path.as_str()) {
            (p, ".") => p.to_owned(),
            ("", p) => p.to_owned(),
            (pre, p) => format!("{pre}.{p}"),
        };
        // "missing field `employeeId`" is reported at the parent; name the field itself.
        if let Some(missing) = message
            .strip_prefix("missing field `")
            .and_then(|m| m.strip_suffix('`'))
        {
            name = if name.is_empty() {
                missing.to_owned()
            } else {
                format!("{name}.{missing}")
            };
            return field(name, "required field is missing");
        }
        // Newtype errors (`ids::InvalidField`) already start with the field's own name.
        let problem = match message.split_once(": ") {
            Some((head, rest)) if !head.contains(' ') => rest.to_owned(),
            _ => message,
        };
        field(
            if name.is_empty() {
                "body".to_owned()
            } else {
                name
            },
            problem,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hire_json() -> Vec<u8> {
        let data = serde_json::json!({"employeeId": "E1", "userPrincipalName": "ada@contoso.com", "startDate": "2026-12-01"});
        serde_json::to_vec(&Envelope::new(EmployeeHired::TYPE, "urn:test", None, data)).unwrap()
    }

    #[test]
    fn an_event_we_build_parses_back_with_its_typed_data() {
        let ct = Some("application/cloudevents+json; charset=utf-8");
        let event: Envelope<EmployeeHired> = parse_event(ct, &hire_json(), 65_536).unwrap();
        assert_eq!(event.data.user_principal_name.as_str(), "ada@contoso.com");
        assert_eq!(
            event.data.start_date,
            Some(time::macros::date!(2026 - 12 - 01))
        );
        assert_eq!(event.specversion, SPEC_VERSION);
    }

    #[test]
    fn size_is_checked_before_the_body_is_read() {
        let garbage = vec![b'{'; 100];
        let err = parse_event::<EmployeeHired>(Some(CONTENT_TYPE), &garbage, 99).unwrap_err();
        assert_eq!(err, InvalidEvent::TooLarge { size: 100, max: 99 });
    }

    #[test]
    fn a_missing_content_type_is_named() {
        let err = parse_event::<EmployeeHired>(None, &hire_json(), 65_536).unwrap_err();
        assert_eq!(
            err.to_string(),
            "content_type: expected application/cloudevents+json, got none"
        );
    }
}

//! Manager and mail (graph-behaviour §17): `GET /users/{id}/manager` and `POST
//! /users/{id}/sendMail`. Sent mail is not delivered; it is kept in the outbox
//! ([`crate::outbox`]) for `GET /_emulator/mail`.
//!
//! sendMail is served by Exchange, not the directory, so its errors use Exchange's codes
//! (`ErrorInvalidUser`, `MailboxNotEnabledForRESTAPI`, `ErrorInvalidRecipients`,
//! `ErrorAccessDenied`); a user "has a mailbox" when it has a `mail` address.

use serde_json::{Map, Value};

use super::Call;
use crate::clock::{now_rfc3339_millis, rfc3339};
use crate::fixture::User;
use crate::outbox::{Mailbox, Recipient, SentMail};
use crate::reply::{ApiError, Reply};
use crate::state::World;

/// graph-behaviour §17: the 403 without `Mail.Send` (observed).
pub const ACCESS_DENIED: &str = "Access is denied. Check credentials and try again.";
/// graph-behaviour §17: a sender without an Exchange Online mailbox (observed; status UNVERIFIED, we answer 404).
pub const NO_MAILBOX: &str =
    "The mailbox is either inactive, soft-deleted, or is hosted on-premise.";

/// `GET /users/{id|upn}/manager` → the manager as a `#microsoft.graph.user` directoryObject
/// (default properties or `$select`). No manager, or a manager not (yet) visible, → 404 with
/// the literal `'manager'` (graph-behaviour §17); no such user → the graph-behaviour §2 404 quoting the key.
pub fn manager(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let u = super::users::find(w, call.param(0))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))?;
    let m = u
        .manager
        .as_deref()
        .and_then(|id| super::users::find(w, id))
        .ok_or_else(|| ApiError::NotFound("manager".into()))?;
    let mut body = super::users::project(m, call);
    body["@odata.type"] = Value::from("#microsoft.graph.user");
    Ok(Reply::ok(body))
}

fn exchange(status: u16, code: &'static str, message: impl Into<String>) -> ApiError {
    ApiError::Coded {
        status,
        code,
        message: message.into(),
    }
}

/// A malformed request: Exchange's generic code (wording ours; the reference gives none).
fn invalid(message: impl Into<String>) -> ApiError {
    exchange(400, "ErrorInvalidRequest", message)
}

/// The sender: a visible user by object id, UPN or primary SMTP address (Exchange resolves all three).
fn sender<'a>(w: &'a World, key: &str) -> Option<&'a User> {
    w.tenant.users.iter().find(|u| {
        u.visible_at.is_none()
            && (u.id.eq_ignore_ascii_case(key)
                || u.user_principal_name.eq_ignore_ascii_case(key)
                || u.mail
                    .as_deref()
                    .is_some_and(|m| m.eq_ignore_ascii_case(key)))
    })
}

fn recipients(message: &Map<String, Value>, field: &str) -> Result<Vec<Recipient>, ApiError> {
    let Some(list) = message.get(field).filter(|v| !v.is_null()) else {
        return Ok(Vec::new());
    };
    let list = list
        .as_array()
        .ok_or_else(|| invalid(format!("'{field}' must be a collection of recipients.")))?;
    list.iter()
        .map(|r| {
            let email = &r["emailAddress"];
            let address = email["address"].as_str().unwrap_or("").trim();
            // An address Exchange cannot resolve: observed wording (third-party issues).
            if !address.contains('@') || address.starts_with('@') || address.ends_with('@') {
                return Err(exchange(
                    400,
                    "ErrorInvalidRecipients",
                    format!("At least one recipient isn't valid., Recipient '{address}' isn't resolved. All recipients must be resolved before a message can be submitted."),
                ));
            }
            Ok(Recipient {
                address: address.to_string(),
                name: email["name"].as_str().map(str::to_string),
            })
        })
        .collect()
}

/// graph-behaviour §17: `saveToSentItems` is `true` unless given; the GD example sends a string.
fn save_to_sent_items(b: &Map<String, Value>) -> Result<bool, ApiError> {
    match b.get("saveToSentItems") {
        None | Some(Value::Null) => Ok(true),
        Some(Value::Bool(v)) => Ok(*v),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("true") => Ok(true),
        Some(Value::String(s)) if s.eq_ignore_ascii_case("false") => Ok(false),
        Some(_) => Err(invalid("Invalid value for 'saveToSentItems'.")),
    }
}

/// `POST /users/{id|upn}/sendMail` → `202` with no body; the message goes to the outbox.
pub fn send_mail(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let key = call.param(0);
    let from = sender(w, key).ok_or_else(|| {
        exchange(
            404,
            "ErrorInvalidUser",
            format!("The requested user '{key}' is invalid."),
        )
    })?;
    let mail = from
        .mail
        .clone()
        .filter(|m| !m.trim().is_empty())
        .ok_or_else(|| exchange(404, "MailboxNotEnabledForRESTAPI", NO_MAILBOX))?;
    let mailbox = Mailbox {
        id: from.id.clone(),
        user_principal_name: from.user_principal_name.clone(),
        mail,
    };
    let b = call
        .body
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("Cannot read the request body."))?;
    let message = b
        .get("message")
        .and_then(Value::as_object)
        .ok_or_else(|| invalid("The 'message' parameter is missing or is not a message."))?;
    let save = save_to_sent_items(b)?;
    let (to, cc, bcc) = (
        recipients(message, "toRecipients")?,
        recipients(message, "ccRecipients")?,
        recipients(message, "bccRecipients")?,
    );
    if to.is_empty() && cc.is_empty() && bcc.is_empty() {
        return Err(exchange(
            400,
            "ErrorInvalidRecipients",
            "At least one recipient isn't valid., A message can't be sent because it contains no recipients.",
        ));
    }
    let body = message.get("body").and_then(Value::as_object);
    let content_type = match body
        .and_then(|b| b.get("contentType"))
        .and_then(Value::as_str)
    {
        None => "Text".to_string(),
        Some(t) if t.eq_ignore_ascii_case("text") => "Text".to_string(),
        Some(t) if t.eq_ignore_ascii_case("html") => "HTML".to_string(),
        Some(t) => return Err(invalid(format!("Invalid body contentType '{t}'."))),
    };
    let sent = SentMail {
        seq: w.outbox.len() as u64 + 1,
        sender: mailbox,
        to_recipients: to,
        cc_recipients: cc,
        bcc_recipients: bcc,
        subject: message
            .get("subject")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        content_type,
        body: body
            .and_then(|b| b.get("content"))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        save_to_sent_items: save,
        sent_date_time: rfc3339(w.clock.at(call.now)),
        real_time: now_rfc3339_millis(),
    };
    w.outbox.push(sent);
    Ok(Reply::accepted())
}

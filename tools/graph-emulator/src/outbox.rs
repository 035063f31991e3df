//! Mail accepted by `POST /users/{id}/sendMail` (graph-behaviour §17). Nothing is delivered: every
//! accepted message is kept here, oldest first, so a test can read what a recipient (a new
//! starter's manager) received — through `GET /_emulator/mail` or [`AppState::sent_mail`].

use serde::{Deserialize, Serialize};

use crate::state::AppState;

/// One message as the sender's `sendMail` submitted it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentMail {
    /// 1, 2, … in the order the messages were accepted (restarts with a reset).
    pub seq: u64,
    /// The mailbox it was sent from (the `{id}` of the path, resolved).
    pub sender: Mailbox,
    /// `toRecipients`.
    pub to_recipients: Vec<Recipient>,
    /// `ccRecipients`.
    pub cc_recipients: Vec<Recipient>,
    /// `bccRecipients`.
    pub bcc_recipients: Vec<Recipient>,
    /// `subject` (empty when none was given).
    pub subject: String,
    /// `body.contentType`: `Text` or `HTML`.
    pub content_type: String,
    /// `body.content`.
    pub body: String,
    /// `saveToSentItems` as understood (`true` unless given false, graph-behaviour §17).
    pub save_to_sent_items: bool,
    /// When it was accepted, on the emulated calendar (`GET /_emulator/clock`).
    pub sent_date_time: String,
    /// When it was accepted, real wall-clock time (RFC 3339 with milliseconds).
    pub real_time: String,
}

/// The sending mailbox.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Mailbox {
    /// The sender's object id.
    pub id: String,
    /// The sender's `userPrincipalName`.
    pub user_principal_name: String,
    /// The sender's `mail` (its SMTP address).
    pub mail: String,
}

/// A recipient (`emailAddress` of a `recipient`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Recipient {
    /// `address`.
    pub address: String,
    /// `name`, if one was given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

impl SentMail {
    /// Whether `address` is among the To, Cc or Bcc recipients (case-insensitive).
    pub fn is_addressed_to(&self, address: &str) -> bool {
        self.to_recipients
            .iter()
            .chain(&self.cc_recipients)
            .chain(&self.bcc_recipients)
            .any(|r| r.address.eq_ignore_ascii_case(address))
    }
}

impl AppState {
    /// Every mail accepted by `sendMail` since start or the last reset, oldest first.
    pub fn sent_mail(&self) -> Vec<SentMail> {
        self.world().outbox.clone()
    }

    /// Now on the emulated calendar (`epoch + (real − epoch) × speed`).
    pub fn emulated_now(&self) -> time::OffsetDateTime {
        self.world().clock.now()
    }

    /// The real instant the emulated calendar is scaled from.
    pub fn clock_epoch(&self) -> time::OffsetDateTime {
        self.world().clock.epoch()
    }
}

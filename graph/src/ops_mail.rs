//! A user's manager and mail sent on the organisation's behalf (graph-behaviour §17): who receives a
//! new hire's Temporary Access Pass, and the `sendMail` that delivers it.
//!
//! Not for: composing the message (the new-hire service writes it) or deciding whether to send
//! again after an unclear answer: `sendMail` has no idempotency key, so that is the caller's call.

use reqwest::Method;
use secrecy::ExposeSecret;

use super::call::{Call, Version};
use super::client::{Core, GraphClient};
use super::error::{GraphError, Operation};
use super::escape::{segment, user_key};
use super::model::{Manager, OutgoingMail, UserId};
use shared::ids::Upn;

const READ_MANAGER: Operation = Operation {
    name: "read manager",
    permission: "User.Read.All",
};
const READ_USER: Operation = Operation {
    name: "read user",
    permission: "User.Read.All",
};
const SEND_MAIL: Operation = Operation {
    name: "send mail",
    permission: "Mail.Send",
};
const MANAGER_SELECT: &str = "id,displayName,mail,userPrincipalName";

impl GraphClient {
    /// `GET /v1.0/users/{id}/manager?$select=id,displayName,mail,userPrincipalName` → the
    /// manager, a user or an orgContact (graph-behaviour §17).
    ///
    /// No manager is a 404 whose code is the same as a missing user's, so after a 404 the user
    /// is read (`GET /v1.0/users/{id}?$select=id`): the user exists → `Ok(None)`; the user is
    /// missing → that read's `NotFound`.
    pub async fn manager(&self, user: &UserId) -> Result<Option<Manager>, GraphError> {
        let call = Call::get(
            Version::V1,
            "/users/{id}/manager",
            format!("/users/{}/manager", segment(user.as_str())),
            READ_MANAGER,
        )
        .query("$select", MANAGER_SELECT);
        match self.core.read(&call).await {
            Ok(reply) => Core::json(&call, &reply).map(Some),
            Err(GraphError::NotFound { .. }) => {
                let user_call = Call::get(
                    Version::V1,
                    "/users/{id}",
                    format!("/users/{}", segment(user.as_str())),
                    READ_USER,
                )
                .query("$select", "id");
                self.core.read(&user_call).await?;
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// `POST /v1.0/users/{sender}/sendMail` with `mail` as plain text (`contentType: Text`) and
    /// `saveToSentItems: false` → `202 Accepted`, which means accepted, not delivered
    /// (graph-behaviour §17). Repeated in-call only after a 429 or a failed connection, never
    /// after a timeout or a 5xx, which may come after the mail went out (no idempotency key: at
    /// most once is our choice). A Graph message that echoes the text is
    /// withheld from the error. Shadow mode: `Ok(())`, unsent.
    pub async fn send_mail(&self, sender: &Upn, mail: &OutgoingMail) -> Result<(), GraphError> {
        let text = mail.text.expose_secret();
        let call = Call::new(
            Method::POST,
            Version::V1,
            "/users/{upn}/sendMail",
            format!("/users{}/sendMail", user_key(sender)),
            SEND_MAIL,
        )
        .body(mail_body(mail, text))
        .at_most_once();
        self.core
            .write(&call)
            .await
            .map(|_| ())
            .map_err(|e| e.without_echo_of(text, "the mail's text"))
    }
}

/// The `sendMail` body. Not saved to Sent Items: the text carries a pass, and a copy in the
/// sender's mailbox would outlive it.
fn mail_body(mail: &OutgoingMail, text: &str) -> serde_json::Value {
    let to: Vec<serde_json::Value> = mail
        .to
        .iter()
        .map(|r| {
            let mut address = serde_json::json!({ "address": r.address });
            if let Some(name) = &r.name {
                address["name"] = name.as_str().into();
            }
            serde_json::json!({ "emailAddress": address })
        })
        .collect();
    serde_json::json!({
        "message": {
            "subject": mail.subject,
            "body": { "contentType": "Text", "content": text },
            "toRecipients": to,
        },
        "saveToSentItems": false,
    })
}

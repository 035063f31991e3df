//! What a route handler returns: a `Reply`, or an `ApiError` that the pipeline turns into
//! Graph's error envelope (graph-behaviour §13) — with Intune's JSON-inside-a-string `message` on
//! `/deviceManagement` routes (graph-behaviour §6), because that is what real Intune sends.

use serde_json::{Value, json};

/// A successful (or deliberately shaped) answer from a handler.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub status: u16,
    pub body: Option<Value>,
    pub headers: Vec<(String, String)>,
    /// Whether tenant state changed: feeds the request log and the writes counters.
    pub changed: bool,
}

impl Reply {
    pub fn ok(body: Value) -> Reply {
        Reply {
            status: 200,
            body: Some(body),
            headers: Vec::new(),
            changed: false,
        }
    }
    pub fn created(body: Value) -> Reply {
        Reply {
            status: 201,
            body: Some(body),
            headers: Vec::new(),
            changed: true,
        }
    }
    pub fn no_content() -> Reply {
        Reply {
            status: 204,
            body: None,
            headers: Vec::new(),
            changed: false,
        }
    }
    /// `202 Accepted` with no body (sendMail, graph-behaviour §17); state changed.
    pub fn accepted() -> Reply {
        Reply {
            status: 202,
            body: None,
            headers: Vec::new(),
            changed: true,
        }
    }
    /// Marks the reply as having changed tenant state.
    pub fn changed(mut self) -> Reply {
        self.changed = true;
        self
    }
}

/// A Graph error, before it is wrapped for the route's backend (directory or Intune).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ApiError {
    /// graph-behaviour §2: the message quotes the key as sent in the path.
    #[error(
        "Resource '{0}' does not exist or one of its queried reference-property objects are not present."
    )]
    NotFound(String),
    #[error("{0}")]
    BadRequest(String),
    /// A 400 with a specific code (`Request_UnsupportedQuery`, …).
    #[error("{message}")]
    BadRequestCode { code: &'static str, message: String },
    #[error("Insufficient privileges to complete the operation.")]
    Forbidden,
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    TooManyRequests(String),
    #[error("No HTTP resource was found that matches the request URI.")]
    MethodNotAllowed,
    #[error("{0}")]
    Unavailable(String),
    #[error("The operation timed out.")]
    GatewayTimeout,
    /// A 500 (graph-behaviour §20: `setEnrollmentTimeDeviceMembershipTarget` with an application token).
    #[error("{0}")]
    Internal(String),
    /// Any status with a code of its own backend: Exchange's `ErrorAccessDenied` or
    /// `ErrorInvalidUser` (graph-behaviour §17), the authentication methods' `badRequest` (graph-behaviour §16).
    #[error("{message}")]
    Coded {
        status: u16,
        code: &'static str,
        message: String,
    },
}

impl ApiError {
    pub fn bad(message: impl Into<String>) -> ApiError {
        ApiError::BadRequest(message.into())
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::NotFound(_) => 404,
            ApiError::BadRequest(_) | ApiError::BadRequestCode { .. } => 400,
            ApiError::Forbidden => 403,
            ApiError::Unauthorized(_) => 401,
            ApiError::Conflict(_) => 409,
            ApiError::TooManyRequests(_) => 429,
            ApiError::MethodNotAllowed => 405,
            ApiError::Unavailable(_) => 503,
            ApiError::GatewayTimeout => 504,
            ApiError::Internal(_) => 500,
            ApiError::Coded { status, .. } => *status,
        }
    }

    /// The `error.code`: directory (`Request_*`) or Intune (plain) vocabulary.
    pub fn code(&self, intune: bool) -> &'static str {
        match (self, intune) {
            (ApiError::NotFound(_), false) => "Request_ResourceNotFound",
            (ApiError::NotFound(_), true) => "ResourceNotFound",
            (ApiError::BadRequest(_), false) => "Request_BadRequest",
            (ApiError::BadRequest(_), true) => "BadRequest",
            (ApiError::BadRequestCode { code, .. }, _) => code,
            (ApiError::Forbidden, _) => "Authorization_RequestDenied",
            (ApiError::Unauthorized(_), _) => "InvalidAuthenticationToken",
            (ApiError::Conflict(_), _) => "Conflict",
            (ApiError::TooManyRequests(_), _) => "TooManyRequests",
            (ApiError::MethodNotAllowed, _) => "Request_BadRequest",
            (ApiError::Unavailable(_), _) => "ServiceUnavailable",
            (ApiError::GatewayTimeout, _) => "GatewayTimeout",
            (ApiError::Internal(_), _) => "InternalServerError",
            (ApiError::Coded { code, .. }, _) => code,
        }
    }

    /// The full envelope. `ids` = (request-id, client-request-id, date).
    pub fn envelope(&self, intune: bool, ids: &ErrorIds<'_>) -> Value {
        let text = self.to_string();
        let message = if intune {
            intune_message(&text, ids.request_id)
        } else {
            text
        };
        let mut inner = json!({ "date": ids.date, "request-id": ids.request_id, "client-request-id": ids.client_request_id });
        if matches!(self, ApiError::TooManyRequests(_)) {
            // graph-behaviour §11's sample body also nests the code and status.
            inner["code"] = json!("429");
            inner["status"] = json!("429");
            inner["message"] = json!("Please retry after");
        }
        if let ApiError::Coded {
            code: "badRequest", ..
        } = self
        {
            // graph-behaviour §16's observed body repeats the message inside innerError.
            inner["message"] = json!(&message);
        }
        json!({ "error": { "code": self.code(intune), "message": message, "innerError": inner } })
    }
}

pub struct ErrorIds<'a> {
    pub request_id: &'a str,
    pub client_request_id: &'a str,
    pub date: &'a str,
}

/// graph-behaviour §6: Intune's `message` is itself a JSON document, serialised with CRLF indentation.
fn intune_message(text: &str, activity_id: &str) -> String {
    let inner = json!({
        "_version": 3,
        "Message": format!("{text} - Operation ID (for customer support): 00000000-0000-0000-0000-000000000000 - Activity ID: {activity_id} - Url: https://fef.emulator.manage.microsoft.com/"),
        "CustomApiErrorPhrase": "",
        "RetryAfter": null,
        "ErrorSourceService": "",
        "HttpHeaders": "{}"
    });
    serde_json::to_string_pretty(&inner)
        .unwrap_or_default()
        .replace('\n', "\r\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn intune_errors_carry_json_inside_the_message_string() {
        let ids = ErrorIds {
            request_id: "r",
            client_request_id: "c",
            date: "d",
        };
        let body = ApiError::bad("Invalid filter").envelope(true, &ids);
        let message = body["error"]["message"].as_str().unwrap();
        let inner: Value = serde_json::from_str(message).unwrap();
        assert!(
            inner["Message"]
                .as_str()
                .unwrap()
                .starts_with("Invalid filter")
        );
        assert_eq!(body["error"]["code"], "BadRequest");
        let dir = ApiError::NotFound("x".into()).envelope(false, &ids);
        assert_eq!(dir["error"]["code"], "Request_ResourceNotFound");
        assert_eq!(dir["error"]["innerError"]["request-id"], "r");
    }
}

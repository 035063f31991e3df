//! `GraphError`: every way a Graph call can fail, typed and classified. The client turns an
//! HTTP status plus Graph's error envelope (or a token / transport failure) into one variant
//! here, so that handlers match on meaning, not on status codes or message prose.
//!
//! Not for: deciding whether to retry inside a call (`retry.rs`) or what a handler makes of a
//! 404 (a missing user is "not provisioned yet" to the new-hire handler, not to us).
//!
//! Messages are what an admin reads in the dead-letter queue: they name the operation and,
//! for a 403, the permission to grant. They never carry secrets, tokens or hardware hashes:
//! only Graph's own `code`/`message` (truncated) and our operation names go in.

use std::time::Duration;

use serde::Deserialize;

use super::policy::RailViolation;
use shared::error::{Classify, ErrorClass};

/// Longest Graph message we copy into an error; the rest is noise (and could be large).
const MAX_MESSAGE_CHARS: usize = 400;

/// Why a Graph operation failed, in causes a caller can act on; [`GraphError::class`] says
/// which are worth retrying.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum GraphError {
    /// 429. `retry_after` is Graph's own estimate (already capped), if it sent one.
    #[error("Graph throttled {operation} (429){}", after(retry_after))]
    Throttled {
        /// What we were doing, in our words (`read user`).
        operation: &'static str,
        /// Graph's Retry-After, if it sent one (already capped).
        retry_after: Option<Duration>,
    },
    /// 5xx (and 423): Graph or the Intune backend is having trouble. 503/504 may carry Retry-After.
    #[error(
        "Graph was unavailable for {operation} (HTTP {status}){}",
        after(retry_after)
    )]
    Unavailable {
        /// What we were doing, in our words (`read user`).
        operation: &'static str,
        /// The HTTP status Graph answered.
        status: u16,
        /// Graph's Retry-After, if it sent one (already capped).
        retry_after: Option<Duration>,
    },
    /// No answer within `graph.request_timeout` (or a 408). The request may have been applied.
    #[error("Graph did not answer {operation} in time")]
    Timeout {
        /// What we were doing, in our words (`read user`).
        operation: &'static str,
    },
    /// The connection failed. `request_sent` says whether Graph may have seen the request.
    #[error("could not talk to Graph for {operation}: {detail}")]
    Transport {
        /// What we were doing, in our words (`read user`).
        operation: &'static str,
        /// What went wrong, without URLs or tokens.
        detail: String,
        /// Whether Graph may have received the request (false: it certainly did not).
        request_sent: bool,
    },
    /// 404 `Request_ResourceNotFound` (or any 404). Permanent to the client: a handler that
    /// expects the object to appear later reclassifies it.
    #[error("{operation}: not found ({code}: {message})")]
    NotFound {
        /// What we were doing, in our words (`read user`).
        operation: &'static str,
        /// Graph's error `code`.
        code: String,
        /// Graph's error `message` (shortened).
        message: String,
    },
    /// 400 `Request_BadRequest` "One or more added object references already exist": the
    /// membership (or reference) we tried to add is already there. Callers turn it into success.
    #[error("{operation}: the reference already exists")]
    AlreadyExists {
        /// What we were doing, in our words (`read user`).
        operation: &'static str,
    },
    /// 400 "The source resource object or one of the objects being referenced do not exist"
    /// right after a group or user was created: directory replication lag, worth retrying.
    #[error("{operation}: a referenced object is not replicated yet ({message})")]
    NotReplicatedYet {
        /// What we were doing, in our words (`read user`).
        operation: &'static str,
        /// Graph's error `message` (shortened).
        message: String,
    },
    /// 403: the app registration lacks an application permission (or admin consent).
    #[error(
        "{operation} was denied (403 {code}): grant the application permission {permission} \
         to this app registration and give admin consent. Graph said: {message}"
    )]
    PermissionDenied {
        /// What we were doing, in our words (`read user`).
        operation: &'static str,
        /// The least application permission the operation needs.
        permission: &'static str,
        /// Graph's error `code`.
        code: String,
        /// Graph's error `message` (shortened).
        message: String,
    },
    /// No usable token: a 401 from Graph, or the token endpoint refused or could not be reached.
    /// `transient` is true only when the token endpoint was unreachable or overloaded.
    #[error("not authorised to call Graph: {detail}")]
    Unauthorized {
        /// What went wrong, without URLs or tokens.
        detail: String,
        /// Whether asking again later may succeed (token endpoint unreachable or overloaded).
        transient: bool,
    },
    /// Any other 4xx: the request itself is wrong for Graph (`BadRequest`, `Request_UnsupportedQuery`,
    /// 409, 412, ...). For Intune, `message` is the inner `Message` of the JSON-in-a-string envelope.
    #[error("{operation}: Graph refused the request (HTTP {status} {code}): {message}")]
    BadRequest {
        /// What we were doing, in our words (`read user`).
        operation: &'static str,
        /// The HTTP status Graph answered.
        status: u16,
        /// Graph's error `code`.
        code: String,
        /// Graph's error `message` (shortened).
        message: String,
    },
    /// A device-registration-policy write the client refused to send (see `policy.rs`).
    #[error("refused to write the device registration policy: {0}")]
    RailRefused(#[from] RailViolation),
    /// Our additions to the join list kept disappearing (another replica's PUT won each time).
    #[error(
        "device registration policy: {missing} user(s) still missing from the join list after \
         {rounds} write rounds (a concurrent writer replaced the policy each time)"
    )]
    PolicyWriteLost {
        /// How many users are still not on the join list.
        missing: usize,
        /// How many write rounds were spent.
        rounds: u32,
    },
    /// Graph answered, but not in a shape we understand (or a nextLink pointed elsewhere).
    #[error("{operation}: unexpected answer from Graph: {detail}")]
    InvalidResponse {
        /// What we were doing, in our words (`read user`).
        operation: &'static str,
        /// What went wrong, without URLs or tokens.
        detail: String,
    },
    /// The client could not be built from `[graph]` settings.
    #[error("Graph client configuration: {0}")]
    Config(String),
}

fn after(retry_after: &Option<Duration>) -> String {
    match retry_after {
        Some(d) => format!(", retry after {:.1}s", d.as_secs_f64()),
        None => String::new(),
    }
}

impl Classify for GraphError {
    fn class(&self) -> ErrorClass {
        match self {
            Self::Throttled { retry_after, .. } | Self::Unavailable { retry_after, .. } => {
                ErrorClass::Transient {
                    retry_after: *retry_after,
                }
            }
            Self::Timeout { .. } | Self::Transport { .. } | Self::NotReplicatedYet { .. } => {
                ErrorClass::TRANSIENT
            }
            Self::PolicyWriteLost { .. } => ErrorClass::TRANSIENT,
            Self::Unauthorized { transient, .. } => {
                if *transient {
                    ErrorClass::TRANSIENT
                } else {
                    ErrorClass::Permanent
                }
            }
            // AlreadyExists reaching a handler means it did not expect it: a logic error.
            Self::NotFound { .. }
            | Self::AlreadyExists { .. }
            | Self::PermissionDenied { .. }
            | Self::BadRequest { .. }
            | Self::RailRefused(_)
            | Self::InvalidResponse { .. }
            | Self::Config(_) => ErrorClass::Permanent,
        }
    }
}

impl GraphError {
    /// A short, bounded name of the cause, for a span's `error.type` when there is no HTTP
    /// status to name it (the request was not answered, or was held back before sending).
    pub(crate) fn kind(&self) -> &'static str {
        match self {
            Self::Throttled { .. } => "throttled",
            Self::Unavailable { .. } => "unavailable",
            Self::Timeout { .. } => "timeout",
            Self::Transport { .. } => "transport",
            Self::NotFound { .. } => "not_found",
            Self::AlreadyExists { .. } => "already_exists",
            Self::NotReplicatedYet { .. } => "not_replicated_yet",
            Self::PermissionDenied { .. } => "permission_denied",
            Self::Unauthorized { .. } => "unauthorized",
            Self::BadRequest { .. } => "bad_request",
            Self::RailRefused(_) => "rail_refused",
            Self::PolicyWriteLost { .. } => "policy_write_lost",
            Self::InvalidResponse { .. } => "invalid_response",
            Self::Config(_) => "config",
        }
    }

    /// Withholds Graph's message if it echoes part of `sensitive` (a hardware hash, a mail's
    /// text we sent), named `what` in the replacement: a dead-letter reason must not carry it.
    /// Any 32-character stretch of it counts.
    pub(crate) fn without_echo_of(self, sensitive: &str, what: &str) -> GraphError {
        const WINDOW: usize = 32;
        let echoes = |text: &str| {
            sensitive.len() >= WINDOW
                && (0..=sensitive.len() - WINDOW)
                    .step_by(WINDOW / 2)
                    .filter_map(|i| sensitive.get(i..i + WINDOW))
                    .any(|w| text.contains(w))
        };
        let withheld = || format!("(Graph's message withheld: it echoed {what})");
        match self {
            Self::BadRequest {
                operation,
                status,
                code,
                message,
            } if echoes(&message) => Self::BadRequest {
                operation,
                status,
                code,
                message: withheld(),
            },
            Self::NotFound {
                operation,
                code,
                message,
            } if echoes(&message) => Self::NotFound {
                operation,
                code,
                message: withheld(),
            },
            Self::InvalidResponse { operation, detail } if echoes(&detail) => {
                Self::InvalidResponse {
                    operation,
                    detail: withheld(),
                }
            }
            other => other,
        }
    }
}

/// What a request was for, so that an error can say it: our operation name and the least
/// application permission it needs.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Operation {
    pub name: &'static str,
    pub permission: &'static str,
}

// === Graph's error envelope ===

#[derive(Debug, Default, Deserialize)]
struct Envelope {
    #[serde(default)]
    error: EnvelopeError,
}

#[derive(Debug, Default, Deserialize)]
struct EnvelopeError {
    #[serde(default)]
    code: String,
    #[serde(default)]
    message: String,
}

/// `code` and readable `message` of an error body; empty strings when the body is not Graph's
/// envelope (a proxy's HTML page, an empty 503).
pub(crate) fn parse_envelope(body: &[u8]) -> (String, String) {
    let env: Envelope = serde_json::from_slice(body).unwrap_or_default();
    let message = intune_inner_message(&env.error.message).unwrap_or(env.error.message);
    (env.error.code, truncate(message.trim()))
}

/// Intune's backend puts a JSON document inside `message` (graph-behaviour §6); its `Message` is the part an
/// admin can use (it carries the Activity ID support asks for).
fn intune_inner_message(message: &str) -> Option<String> {
    if !message.trim_start().starts_with('{') {
        return None;
    }
    let inner: serde_json::Value = serde_json::from_str(message).ok()?;
    inner.get("Message")?.as_str().map(str::to_owned)
}

fn truncate(s: &str) -> String {
    match s.char_indices().nth(MAX_MESSAGE_CHARS) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_owned(),
    }
}

const ALREADY_EXISTS_TEXT: &str = "One or more added object references already exist";
const NOT_REPLICATED_TEXT: &str = "objects being referenced do not exist";

/// The one table from an unsuccessful HTTP answer to a `GraphError`.
pub(crate) fn from_status(
    op: Operation,
    status: u16,
    retry_after: Option<Duration>,
    body: &[u8],
) -> GraphError {
    let (code, message) = parse_envelope(body);
    let operation = op.name;
    match status {
        429 => GraphError::Throttled {
            operation,
            retry_after,
        },
        408 => GraphError::Timeout { operation },
        423 | 500 | 502..=504 | 507 | 509 => GraphError::Unavailable {
            operation,
            status,
            retry_after,
        },
        404 => GraphError::NotFound {
            operation,
            code,
            message,
        },
        // Code and prose together: the code alone covers every bad request, and the prose alone
        // "can change at any time" (Graph errors doc), so neither is enough by itself.
        400 if code == "Request_BadRequest" && message.contains(ALREADY_EXISTS_TEXT) => {
            GraphError::AlreadyExists { operation }
        }
        400 if code == "Request_BadRequest" && message.contains(NOT_REPLICATED_TEXT) => {
            GraphError::NotReplicatedYet { operation, message }
        }
        401 => GraphError::Unauthorized {
            detail: format!("Graph rejected the token for {operation} (401 {code}): {message}"),
            transient: false,
        },
        403 => GraphError::PermissionDenied {
            operation,
            permission: op.permission,
            code,
            message,
        },
        400..=499 | 501 => GraphError::BadRequest {
            operation,
            status,
            code,
            message,
        },
        _ => GraphError::InvalidResponse {
            operation,
            detail: format!("HTTP {status} {code} {message}"),
        },
    }
}

/// Classifies a failure to obtain a token. Walks the azure_core error chain: an HTTP answer from
/// the token endpoint (bad secret, unknown tenant: `AADSTS...`) is permanent unless it is a
/// 408/429/5xx; a connection or I/O failure means the endpoint was unreachable, which is
/// transient (the credential's own pipeline already retried it briefly).
pub(crate) fn from_token_error(err: &azure_core::Error) -> GraphError {
    use azure_core::error::ErrorKind;
    let mut transient = false;
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = cur {
        if let Some(az) = e.downcast_ref::<azure_core::Error>() {
            match az.kind() {
                ErrorKind::HttpResponse { status, .. } => {
                    let s = u16::from(*status);
                    transient = s == 408 || s == 429 || s >= 500;
                    break;
                }
                ErrorKind::Connection | ErrorKind::Io => {
                    transient = true;
                    break;
                }
                _ => {}
            }
        }
        if e.downcast_ref::<reqwest::Error>().is_some() {
            transient = true;
            break;
        }
        cur = e.source();
    }
    GraphError::Unauthorized {
        detail: truncate(&format!("could not obtain a token: {err}")),
        transient,
    }
}

#[cfg(test)]
#[path = "error_tests.rs"]
mod tests;

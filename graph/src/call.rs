//! One Graph request described as data: method, version, route template, escaped path, query,
//! body, what it is for (operation + permission), and whether it writes. Operations build a
//! `Call`; `client.rs` sends it. Keeping the description apart from sending lets shadow mode,
//! retries and metrics treat every operation the same way.
//!
//! Not for: escaping (`escape.rs`) or sending (`client.rs`).

use reqwest::Method;
use serde_json::Value;

use super::error::Operation;
use super::escape;
use super::retry::Repeat;

/// `/v1.0` or `/beta`, chosen per operation (several Intune APIs exist only in beta).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Version {
    V1,
    Beta,
}

impl Version {
    fn prefix(self) -> &'static str {
        match self {
            Version::V1 => "/v1.0",
            Version::Beta => "/beta",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Effect {
    /// Changes nothing (GET, or a POST such as `checkMemberGroups`): sent in shadow mode.
    Read,
    /// Changes Graph. `idempotent` = repeating it after a timeout cannot duplicate anything.
    Write { idempotent: bool },
}

#[derive(Debug, Clone)]
pub(crate) struct Call {
    pub method: Method,
    /// `/v1.0/groups/{id}/members/$ref`: bounded, free of personal data; the metric label.
    pub route: String,
    /// Concrete path without version, already escaped.
    path: String,
    query: Vec<(&'static str, String)>,
    pub body: Option<Value>,
    pub op: Operation,
    pub effect: Effect,
    /// Repeated in-call only when Graph certainly did not act on it (`retry::Repeat::AtMostOnce`).
    at_most_once: bool,
    /// Non-2xx statuses that are answers, not errors, for this call (e.g. 409/429 on sync).
    pub accept: &'static [u16],
    version: Version,
}

impl Call {
    pub fn new(
        method: Method,
        version: Version,
        template: &'static str,
        path: String,
        op: Operation,
    ) -> Call {
        let effect = if method == Method::GET {
            Effect::Read
        } else {
            Effect::Write { idempotent: true }
        };
        Call {
            method,
            route: format!("{}{template}", version.prefix()),
            path,
            query: Vec::new(),
            body: None,
            op,
            effect,
            accept: &[],
            at_most_once: false,
            version,
        }
    }

    pub fn get(version: Version, template: &'static str, path: String, op: Operation) -> Call {
        Call::new(Method::GET, version, template, path, op)
    }

    pub fn query(mut self, key: &'static str, value: impl Into<String>) -> Call {
        self.query.push((key, value.into()));
        self
    }

    pub fn body(mut self, body: Value) -> Call {
        self.body = Some(body);
        self
    }

    /// A POST that only reads (`checkMemberGroups`, `searchExistingIdentities`).
    pub fn reads(mut self) -> Call {
        self.effect = Effect::Read;
        self
    }

    /// A write that must not be repeated after a timeout (it may have been applied).
    pub fn not_idempotent(mut self) -> Call {
        self.effect = Effect::Write { idempotent: false };
        self
    }

    /// A write with no idempotency key whose repeat would be seen (a second mail): never
    /// repeated in-call unless Graph certainly did not act on it (429, no connection).
    pub fn at_most_once(mut self) -> Call {
        self.effect = Effect::Write { idempotent: false };
        self.at_most_once = true;
        self
    }

    pub fn accept(mut self, statuses: &'static [u16]) -> Call {
        self.accept = statuses;
        self
    }

    pub fn writes(&self) -> bool {
        matches!(self.effect, Effect::Write { .. })
    }

    pub fn idempotent(&self) -> bool {
        !matches!(self.effect, Effect::Write { idempotent: false })
    }

    /// How far `client.rs` may repeat this request within one call.
    pub fn repeat(&self) -> Repeat {
        if self.at_most_once {
            Repeat::AtMostOnce
        } else if self.idempotent() {
            Repeat::Safe
        } else {
            Repeat::NotAfterTimeout
        }
    }

    pub fn path_and_query(&self) -> String {
        format!(
            "{}{}{}",
            self.version.prefix(),
            self.path,
            escape::query_string(&self.query)
        )
    }
}

/// A received answer (2xx, or a status listed in `Call::accept`).
#[derive(Debug, Clone)]
pub(crate) struct Reply {
    pub status: u16,
    pub body: Vec<u8>,
}

/// The result of a write: sent and answered, or held back by shadow mode.
#[derive(Debug, Clone)]
pub(crate) enum Sent {
    Reply(Reply),
    Shadowed,
}

#[cfg(test)]
mod tests {
    use super::*;

    const OP: Operation = Operation {
        name: "list users",
        permission: "User.Read.All",
    };

    #[test]
    fn route_is_the_template_and_path_is_concrete() {
        let c = Call::get(Version::V1, "/users", "/users".into(), OP)
            .query("$filter", "employeeId eq 'E1'")
            .query("$select", "id");
        assert_eq!(c.route, "/v1.0/users");
        assert_eq!(
            c.path_and_query(),
            "/v1.0/users?$filter=employeeId%20eq%20%27E1%27&$select=id"
        );
        assert!(!c.writes());
    }

    #[test]
    fn posts_write_unless_marked_as_reads() {
        let post = Call::new(Method::POST, Version::Beta, "/x", "/x".into(), OP);
        assert!(post.writes() && post.idempotent());
        assert!(!post.clone().reads().writes());
        assert!(!post.not_idempotent().idempotent());
    }
}

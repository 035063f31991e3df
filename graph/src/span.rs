//! The span of one Graph request, as an OpenTelemetry HTTP *client* span under the current
//! semantic conventions, so Jaeger, Tempo and Azure Monitor show Graph as a dependency: named
//! `{METHOD} {route template}` (`GET /v1.0/users/{upn}`: bounded, the metric's label, never the
//! concrete URL), with `http.request.method`, `http.response.status_code`, `url.full`,
//! `url.template`, `server.address`, `server.port` (only when not the scheme's default) and,
//! on failure, `error.type` and `otel.status_code = ERROR`. Graph's `request-id` and our
//! `client-request-id` ride along for support cases.
//!
//! Not for: deciding what failed (`client.rs`, `error.rs`) or logging retries (`client.rs`).

use tracing::Span;
use tracing::field::Empty;
use url::Url;

use super::call::Call;
use super::error::GraphError;

/// What stands in for a redacted part of `url.full`, as the conventions spell it.
const REDACTED: &str = "REDACTED";

/// Query keys whose values are credentials or opaque tokens, never put on a span. Graph's own
/// URLs carry none but `$skiptoken` (a paging cursor); the rest guard a redirect or a signed
/// link. Compared without ASCII case.
const SECRET_QUERY_KEYS: &[&str] = &[
    "$skiptoken",
    "access_token",
    "api-key",
    "client_secret",
    "code",
    "sig",
    "signature",
    "token",
    "x-goog-signature",
    "awsaccesskeyid",
];

/// A new request span; the `tracing` name stays `graph.request` (what log lines carry), and
/// `otel.name` gives the exported span its conventional name.
pub(crate) fn request_span(call: &Call, url: &Url) -> Span {
    let span = tracing::info_span!(
        "graph.request",
        otel.name = %format_args!("{} {}", call.method, call.route),
        otel.kind = "client",
        otel.status_code = Empty,
        http.request.method = %call.method,
        http.response.status_code = Empty,
        url.full = %url_full(url),
        url.template = %call.route,
        server.address = url.host_str().unwrap_or_default(),
        server.port = Empty,
        "error.type" = Empty,
        graph.request_id = Empty,
        graph.client_request_id = Empty,
    );
    if let Some(port) = url.port() {
        span.record("server.port", port);
    }
    span
}

/// Marks the span failed when the attempt failed: `error.type` is the HTTP status when Graph
/// answered with an error status, otherwise the kind of failure (`timeout`, `transport`, …).
/// A status the operation accepts as an answer (409 on sync, say) is not a failure.
pub(crate) fn record_failure<T>(span: &Span, status: Option<u16>, result: &Result<T, GraphError>) {
    let Err(err) = result else { return };
    let error_type = match status {
        Some(status) if status >= 400 => status.to_string(),
        _ => err.kind().to_owned(),
    };
    span.record("error.type", error_type.as_str());
    span.record("otel.status_code", "ERROR");
}

/// The URL as sent, minus anything secret: user info and the values of [`SECRET_QUERY_KEYS`]
/// become `REDACTED`. Path segments and other query values (a UPN, a `$filter` on an
/// employeeId) stay: they say which object was asked for.
pub(crate) fn url_full(url: &Url) -> String {
    let mut url = url.clone();
    if !url.username().is_empty() {
        let _ = url.set_username(REDACTED);
    }
    if url.password().is_some() {
        let _ = url.set_password(Some(REDACTED));
    }
    let is_secret = |key: &str| {
        SECRET_QUERY_KEYS
            .iter()
            .any(|s| s.eq_ignore_ascii_case(key))
    };
    if url.query_pairs().any(|(key, _)| is_secret(&key)) {
        let pairs: Vec<(String, String)> = url
            .query_pairs()
            .map(|(key, value)| {
                let value = if is_secret(&key) {
                    REDACTED.to_owned()
                } else {
                    value.into_owned()
                };
                (key.into_owned(), value)
            })
            .collect();
        url.query_pairs_mut().clear().extend_pairs(pairs);
    }
    url.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_full_keeps_the_address_and_redacts_credentials_and_tokens() {
        let plain =
            Url::parse("https://graph.microsoft.com/v1.0/users/ada%40contoso.com?$select=id")
                .unwrap();
        assert_eq!(url_full(&plain), plain.as_str());

        let secret = Url::parse(
            "https://me:pw@graph.example/v1.0/x?$filter=employeeId%20eq%20%27E1%27&$skiptoken=abc&SIG=s3cr3t",
        )
        .unwrap();
        let shown = url_full(&secret);
        assert!(
            !shown.contains("me:pw") && !shown.contains("abc") && !shown.contains("s3cr3t"),
            "{shown}"
        );
        assert!(
            shown.starts_with("https://REDACTED:REDACTED@graph.example/v1.0/x?"),
            "{shown}"
        );
        assert!(shown.contains("employeeId+eq+%27E1%27"), "{shown}");
        assert!(
            shown.contains("%24skiptoken=REDACTED&SIG=REDACTED"),
            "{shown}"
        );
    }
}

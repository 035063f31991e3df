//! `GraphClient`: the one object through which a process talks to Graph. Every request goes
//! through `Core::send`: a token from the configured credential, a fresh `client-request-id`,
//! an HTTP client span (`span.rs`) carrying Graph's `request-id`, the observer told the
//! outcome, short in-call retries, and shadow mode holding writes back. The operations themselves live in `ops_*.rs`.
//!
//! Not for: knowing whether it talks to real Graph or the emulator. Base URL, authority host
//! and extra CA come from settings; there is no test-only path.

use std::fmt;
use std::sync::Arc;
use std::time::{Instant, SystemTime};

use azure_core::credentials::TokenCredential;
use reqwest::Method;
use serde::de::DeserializeOwned;
use tracing::Instrument;
use url::Url;

use super::budget::{Family, RetryAfterGate};
use super::call::{Call, Reply, Sent};
use super::credential;
use super::error::{self, GraphError};
use super::pages::{self, Page};
use super::policy_writer::PolicyWriter;
use super::retry::{self, InCallRetry};
use super::span;
use shared::config::GraphSettings;
use shared::telemetry::GraphObserver;

/// Cheap to clone (an `Arc` inside): build one per process and hand clones around, so a later
/// request budget and request coalescing in `Core::send` see all Graph traffic.
#[derive(Clone)]
pub struct GraphClient {
    pub(crate) core: Arc<Core>,
    pub(crate) join_writer: PolicyWriter<Arc<Core>>,
}

pub(crate) struct Core {
    http: reqwest::Client,
    credential: Arc<dyn TokenCredential>,
    scope: String,
    /// Graph root without version and without trailing slash.
    base: Url,
    retry: InCallRetry,
    pub(crate) dry_run: bool,
    observer: Arc<dyn GraphObserver>,
    /// Retry-After honoured process-wide, per throttling family.
    gate: RetryAfterGate,
}

impl fmt::Debug for GraphClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GraphClient")
            .field("base", &self.core.base.as_str())
            .field("dry_run", &self.core.dry_run)
            .finish_non_exhaustive()
    }
}

// === impl GraphClient ===

impl GraphClient {
    /// Builds the client from `[graph]`. Fails (permanently) on a non-https URL, an unreadable
    /// CA file or a credential that cannot be configured; it does not fetch a token yet.
    pub fn new(
        settings: &GraphSettings,
        observer: Arc<dyn GraphObserver>,
    ) -> Result<GraphClient, GraphError> {
        check_https(settings)?;
        let extra_ca = credential::load_extra_ca(&settings.ca_file)?;
        let built = credential::build_credential(settings, &extra_ca)?;
        Self::assemble(settings, built, &extra_ca, observer)
    }

    /// The same client, but every request carries a token from `credential` instead of the one
    /// `graph.credential` chooses. For `onboardctl preflight`'s one read that application
    /// permissions cannot make (a person's delegated sign-in); services never call this.
    pub fn with_credential(
        settings: &GraphSettings,
        credential: Arc<dyn TokenCredential>,
        observer: Arc<dyn GraphObserver>,
    ) -> Result<GraphClient, GraphError> {
        check_https(settings)?;
        let extra_ca = credential::load_extra_ca(&settings.ca_file)?;
        Self::assemble(settings, credential, &extra_ca, observer)
    }

    fn assemble(
        settings: &GraphSettings,
        token_source: Arc<dyn TokenCredential>,
        extra_ca: &[reqwest::Certificate],
        observer: Arc<dyn GraphObserver>,
    ) -> Result<GraphClient, GraphError> {
        let mut base = settings.base_url.clone();
        base.set_path(settings.base_url.path().trim_end_matches('/'));
        let core = Arc::new(Core {
            http: credential::http_client(settings.request_timeout, extra_ca)?,
            credential: token_source,
            scope: credential::graph_scope(&settings.base_url),
            base,
            retry: InCallRetry {
                max_retries: settings.in_call_retries,
                max_wait: settings.in_call_max_wait,
            },
            dry_run: settings.dry_run,
            observer,
            gate: RetryAfterGate::default(),
        });
        Ok(GraphClient {
            join_writer: PolicyWriter::new(core.clone()),
            core,
        })
    }

    /// Readiness probe: can we obtain a token right now? (Served from the credential's cache
    /// while the token is valid, so it is cheap to call from `/readyz`.)
    pub async fn token_obtainable(&self) -> bool {
        match self.core.token().await {
            Ok(_) => true,
            Err(e) => {
                tracing::warn!(error = %e, "Graph token not obtainable.");
                false
            }
        }
    }

    /// The application permissions granted to us (`roles` claim of our own token), for the
    /// CLI's preflight. The token is decoded, not verified: it is ours, fresh from Entra.
    pub async fn granted_roles(&self) -> Result<Vec<String>, GraphError> {
        let token = self.core.token().await?;
        credential::roles_from_jwt(&token).map_err(|detail| GraphError::InvalidResponse {
            operation: "read granted roles",
            detail,
        })
    }

    /// Whether writes are held back (`graph.dry_run`).
    pub fn is_shadow(&self) -> bool {
        self.core.dry_run
    }
}

fn check_https(settings: &GraphSettings) -> Result<(), GraphError> {
    for (key, url) in [
        ("graph.base_url", &settings.base_url),
        ("graph.authority_host", &settings.authority_host),
    ] {
        if url.scheme() != "https" {
            return Err(GraphError::Config(format!("{key}: must be https")));
        }
    }
    Ok(())
}

// === impl Core ===

impl Core {
    pub(crate) async fn token(&self) -> Result<String, GraphError> {
        let t = self
            .credential
            .get_token(&[self.scope.as_str()], None)
            .await
            .map_err(|e| error::from_token_error(&e))?;
        Ok(t.token.secret().to_owned())
    }

    pub(crate) fn retry_settings(&self) -> InCallRetry {
        self.retry
    }

    /// `{base}/v1.0/directoryObjects/{id}`: the `@odata.id` Graph expects in `$ref` bodies.
    pub(crate) fn directory_object_url(&self, id: &str) -> String {
        format!(
            "{}/v1.0/directoryObjects/{}",
            self.base.as_str().trim_end_matches('/'),
            super::escape::segment(id)
        )
    }

    fn url(&self, call: &Call) -> Result<Url, GraphError> {
        let raw = format!(
            "{}{}",
            self.base.as_str().trim_end_matches('/'),
            call.path_and_query()
        );
        Url::parse(&raw).map_err(|e| GraphError::InvalidResponse {
            operation: call.op.name,
            detail: format!("cannot build a URL: {e}"),
        })
    }

    /// A read (GET, or a POST that only reads such as `checkMemberGroups`).
    pub(crate) async fn read(&self, call: &Call) -> Result<Reply, GraphError> {
        debug_assert!(!call.writes());
        self.send(call, self.url(call)?).await
    }

    /// A write; in shadow mode it is logged and counted, not sent.
    pub(crate) async fn write(&self, call: &Call) -> Result<Sent, GraphError> {
        if self.dry_run && call.writes() {
            tracing::info!(http.method = %call.method, url.template = %call.route, "Shadow mode: would write, not sent.");
            self.observer.would_write(call.method.as_str(), &call.route);
            return Ok(Sent::Shadowed);
        }
        Ok(Sent::Reply(self.send(call, self.url(call)?).await?))
    }

    /// Decodes a JSON reply.
    pub(crate) fn json<T: DeserializeOwned>(call: &Call, reply: &Reply) -> Result<T, GraphError> {
        serde_json::from_slice(&reply.body).map_err(|e| GraphError::InvalidResponse {
            operation: call.op.name,
            detail: format!("cannot decode the answer: {e}"),
        })
    }

    /// GETs a collection and every following page.
    pub(crate) async fn read_all<T: DeserializeOwned>(
        &self,
        call: &Call,
    ) -> Result<Vec<T>, GraphError> {
        let first: Page<T> = Self::json(call, &self.read(call).await?)?;
        pages::collect_pages(&self.base, call.op.name, first, |url| async move {
            Self::json(call, &self.send(call, url).await?)
        })
        .await
    }

    // Every Graph call of the process passes here: the Retry-After gate is checked on each
    // attempt (in `attempt`); request coalescing (a later issue) belongs here too.
    async fn send(&self, call: &Call, url: Url) -> Result<Reply, GraphError> {
        retry::retry_in_call(
            self.retry,
            call.repeat(),
            || self.attempt(call, url.clone()),
            |err, wait| {
                tracing::warn!(url.template = %call.route, error = %err, wait_ms = wait.as_millis() as u64, "Retrying Graph request.");
            },
        )
        .await
    }

    /// One request and its answer, in its own client span (`span.rs`).
    async fn attempt(&self, call: &Call, url: Url) -> Result<Reply, GraphError> {
        let span = span::request_span(call, &url);
        let mut status = None;
        let result = self
            .exchange(call, url, &mut status)
            .instrument(span.clone())
            .await;
        span::record_failure(&span, status, &result);
        result
    }

    /// Sends one request and reads its answer; `status` is set once Graph answered.
    async fn exchange(
        &self,
        call: &Call,
        url: Url,
        status_seen: &mut Option<u16>,
    ) -> Result<Reply, GraphError> {
        let span = tracing::Span::current();
        let family = Family::of(&call.route);
        self.gate
            .wait_turn(family, call.op.name, self.retry.max_wait)
            .await?;
        let token = self.token().await?;
        let client_request_id = uuid::Uuid::new_v4().to_string();
        span.record("graph.client_request_id", client_request_id.as_str());
        let mut req = self
            .http
            .request(call.method.clone(), url)
            .bearer_auth(token)
            .header("client-request-id", &client_request_id)
            .header("Accept", "application/json");
        for (name, value) in shared::telemetry::trace_context_http_headers() {
            req = req.header(name, value);
        }
        if let Some(body) = &call.body {
            req = req.json(body);
        } else if call.method == Method::POST {
            req = req.header("Content-Length", "0");
        }
        let started = Instant::now();
        let result = req.send().await;
        let elapsed = started.elapsed();
        let resp = match result {
            Ok(r) => r,
            Err(e) => {
                self.observer
                    .request_finished(call.method.as_str(), &call.route, None, elapsed);
                return Err(from_reqwest(call.op.name, e));
            }
        };
        let status = resp.status().as_u16();
        *status_seen = Some(status);
        span.record("http.response.status_code", status);
        let header = |name: &str| {
            resp.headers()
                .get(name)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        };
        if let Some(id) = header("request-id") {
            span.record("graph.request_id", id.as_str());
        }
        let retry_after =
            header("retry-after").and_then(|v| retry::parse_retry_after(&v, SystemTime::now()));
        if let (429 | 503, Some(wait)) = (status, retry_after) {
            self.gate.hold(family, wait);
        }
        let body = resp.bytes().await.map(|b| b.to_vec());
        self.observer.request_finished(
            call.method.as_str(),
            &call.route,
            Some(status),
            started.elapsed(),
        );
        let body = body.map_err(|e| from_reqwest(call.op.name, e))?;
        if status == 202 && body.is_empty() && !call.writes() {
            // "202 Accepted when the server requires more time to complete related background
            // operations" (user-get): nothing to read yet, so it is worth asking again later.
            return Err(GraphError::Unavailable {
                operation: call.op.name,
                status,
                retry_after,
            });
        }
        if (200..300).contains(&status) || call.accept.contains(&status) {
            Ok(Reply { status, body })
        } else {
            Err(error::from_status(call.op, status, retry_after, &body))
        }
    }
}

/// Transport failures, without the URL (it may carry a UPN or a serial) but with the cause chain.
fn from_reqwest(operation: &'static str, e: reqwest::Error) -> GraphError {
    if e.is_timeout() {
        return GraphError::Timeout { operation };
    }
    let request_sent = !e.is_connect();
    let e = e.without_url();
    let mut detail = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(cause) = source {
        detail.push_str(": ");
        detail.push_str(&cause.to_string());
        source = cause.source();
    }
    GraphError::Transport {
        operation,
        detail,
        request_sent,
    }
}

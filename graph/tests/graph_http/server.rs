//! A tiny HTTPS stand-in for the Entra token endpoint and Graph, for the few tests where a real
//! HTTP exchange matters. Its own CA (rcgen) signs a 127.0.0.1 certificate; the CA PEM goes to
//! a file the client reads through `graph.ca_file`, exactly as with the emulator. Every request
//! is recorded; Graph answers come from the test's responder. Not an emulator: it knows no Graph.

// Shared by two test binaries (graph_http, graph_ops); each uses only part of it.
#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, Response, Uri};
use base64::Engine;
use secrecy::SecretString;
use shared::config::{CredentialKind, GraphSettings};

pub const GOOD_SECRET: &str = "right-secret-value";
/// The federated (Kubernetes service-account) token the endpoint accepts as `client_assertion`.
pub const GOOD_ASSERTION: &str = "k8s-service-account-token";
pub const ROLES: [&str; 2] = ["User.Read.All", "GroupMember.ReadWrite.All"];

/// One request as the server saw it (path and query exactly as sent, still percent-encoded).
#[derive(Debug, Clone)]
pub struct Recorded {
    pub method: Method,
    pub target: String,
    /// `host:port` the client addressed (HTTP/2 carries it in `:authority`, not `Host`).
    pub authority: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    pub at: Instant,
}

impl Recorded {
    pub fn header(&self, name: &str) -> Option<String> {
        self.headers.get(name)?.to_str().ok().map(str::to_owned)
    }
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

/// A Graph answer: status, extra headers, JSON body (empty = none).
pub struct Answer(pub u16, pub Vec<(&'static str, String)>, pub String);

/// Given a Graph request and how many earlier requests had the same method and path.
type Responder = dyn Fn(&Recorded, usize) -> Answer + Send + Sync;

struct Shared {
    log: Mutex<Vec<Recorded>>,
    responder: Box<Responder>,
}

pub struct TestServer {
    pub base: String,
    pub ca_file: PathBuf,
    shared: Arc<Shared>,
}

impl TestServer {
    pub async fn start(
        responder: impl Fn(&Recorded, usize) -> Answer + Send + Sync + 'static,
    ) -> TestServer {
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
        let (ca_pem, cert_pem, key_pem) = certificates();
        let ca_file =
            std::env::temp_dir().join(format!("graph-test-ca-{}.pem", uuid::Uuid::new_v4()));
        std::fs::write(&ca_file, ca_pem).unwrap();
        let shared = Arc::new(Shared {
            log: Mutex::new(Vec::new()),
            responder: Box::new(responder),
        });
        let app = axum::Router::new()
            .fallback(handle)
            .with_state(shared.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let port = listener.local_addr().unwrap().port();
        let tls = axum_server::tls_rustls::RustlsConfig::from_pem(
            cert_pem.into_bytes(),
            key_pem.into_bytes(),
        )
        .await
        .unwrap();
        let server = axum_server::from_tcp_rustls(listener, tls).unwrap();
        tokio::spawn(server.serve(app.into_make_service()));
        TestServer {
            base: format!("https://127.0.0.1:{port}"),
            ca_file,
            shared,
        }
    }

    /// Requests to Graph (the token endpoint's are left out).
    pub fn graph_requests(&self) -> Vec<Recorded> {
        self.all_requests()
            .into_iter()
            .filter(|r| !r.target.contains("/oauth2/"))
            .collect()
    }

    pub fn all_requests(&self) -> Vec<Recorded> {
        self.shared.log.lock().unwrap().clone()
    }

    /// `[graph]` settings pointing both Graph and the authority at this server.
    pub fn settings(&self, secret: &str) -> GraphSettings {
        GraphSettings {
            base_url: self.base.parse().unwrap(),
            authority_host: self.base.parse().unwrap(),
            tenant_id: "contoso.test".into(),
            client_id: "00000000-0000-0000-0000-0000000000c1".into(),
            credential: CredentialKind::ClientSecret,
            client_secret: SecretString::from(secret.to_owned()),
            federated_token_file: String::new(),
            managed_identity_client_id: String::new(),
            ca_file: self.ca_file.display().to_string(),
            request_timeout: Duration::from_secs(10),
            in_call_retries: 3,
            in_call_max_wait: Duration::from_secs(10),
            dry_run: false,
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.ca_file);
    }
}

async fn handle(
    State(shared): State<Arc<Shared>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response<Body> {
    let rec = Recorded {
        method,
        target: uri
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        authority: uri
            .authority()
            .map(|a| a.to_string())
            .or_else(|| {
                headers
                    .get("host")
                    .and_then(|h| h.to_str().ok())
                    .map(str::to_owned)
            })
            .unwrap_or_default(),
        headers,
        body: body.to_vec(),
        at: Instant::now(),
    };
    let (answer, n) = {
        let mut log = shared.log.lock().unwrap();
        let earlier = log
            .iter()
            .filter(|r| r.method == rec.method && r.path() == rec.path())
            .count();
        log.push(rec.clone());
        (
            if rec.target.ends_with("/oauth2/v2.0/token") {
                token_answer(&rec)
            } else {
                (shared.responder)(&rec, earlier)
            },
            log.len(),
        )
    };
    let Answer(status, extra, body) = answer;
    let mut resp = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("request-id", format!("req-{n}"));
    for (k, v) in extra {
        resp = resp.header(k, v);
    }
    resp.body(Body::from(body)).unwrap()
}

/// Entra's client-credentials answer: a JWT-shaped token with `roles`, or the 401 a wrong
/// secret really gets (graph-behaviour §12).
fn token_answer(rec: &Recorded) -> Answer {
    let form = String::from_utf8_lossy(&rec.body);
    let accepted = [
        format!("client_secret={GOOD_SECRET}"),
        format!("client_assertion={GOOD_ASSERTION}"),
    ];
    if form.split('&').any(|kv| accepted.iter().any(|a| a == kv)) {
        let enc = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = serde_json::json!({ "aud": "https://graph.microsoft.com", "roles": ROLES });
        let token = format!(
            "{}.{}.sig",
            enc.encode(r#"{"alg":"none"}"#),
            enc.encode(payload.to_string())
        );
        let body = serde_json::json!({ "token_type": "Bearer", "expires_in": 3599, "ext_expires_in": 3599, "access_token": token });
        Answer(200, vec![], body.to_string())
    } else {
        let body = serde_json::json!({
            "error": "invalid_client",
            "error_description": "AADSTS7000215: Invalid client secret is provided.\r\nTrace ID: t\r\nCorrelation ID: c\r\nTimestamp: 2026-11-25 10:00:00Z",
            "error_codes": [7000215], "timestamp": "2026-11-25 10:00:00Z", "trace_id": "t", "correlation_id": "c"
        });
        Answer(401, vec![], body.to_string())
    }
}

/// (CA PEM, leaf certificate PEM, leaf key PEM): a private CA, and 127.0.0.1/localhost signed by it.
fn certificates() -> (String, String, String) {
    use rcgen::{
        BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, KeyUsagePurpose,
    };
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "graph client test CA");
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca, &ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_owned(), "localhost".to_owned()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    (ca_cert.pem(), leaf.pem(), leaf_key.serialize_pem())
}

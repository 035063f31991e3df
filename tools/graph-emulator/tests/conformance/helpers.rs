use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::Duration;

use graph_emulator::demo::{DemoApp, GRAPH_SCOPE, TENANT_ID};
use graph_emulator::{EmulatorConfig, RunningEmulator};
use reqwest::header::HeaderMap;
use serde_json::Value;

/// A running emulator with an HTTPS client that trusts its CA.
pub struct Emu {
    pub emu: RunningEmulator,
    pub http: reqwest::Client,
    tokens: Mutex<HashMap<&'static str, String>>,
}

/// A Graph answer, body parsed (Null when empty).
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Value,
}

impl Resp {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
    pub fn code(&self) -> &str {
        self.body["error"]["code"].as_str().unwrap_or("")
    }
    pub fn message(&self) -> &str {
        self.body["error"]["message"].as_str().unwrap_or("")
    }
}

pub async fn spawn() -> Emu {
    spawn_with(|_| {}).await
}

/// The permissions a first-day pass needs (graph-behaviour §16, §17), granted to the demo's
/// new-hire apps and onboardctl for the TAP and mail tests only: the demo tenant itself stays
/// least-privilege for what the services do today, which `onboardctl preflight` checks.
pub fn grant_first_day_permissions(cfg: &mut EmulatorConfig) {
    use graph_emulator::demo::{NEW_HIRE, NEW_HIRE_NO_GROUPWRITE, ONBOARDCTL};
    for app in &mut cfg.fixture.apps {
        let extra: &[&str] = if app.client_id == NEW_HIRE.client_id
            || app.client_id == NEW_HIRE_NO_GROUPWRITE.client_id
        {
            &[
                "UserAuthenticationMethod.ReadWrite.All",
                "Policy.Read.AuthenticationMethod",
                "Mail.Send",
            ]
        } else if app.client_id == ONBOARDCTL.client_id {
            &["Policy.Read.AuthenticationMethod"]
        } else {
            &[]
        };
        app.permissions.extend(extra.iter().map(|p| p.to_string()));
    }
}

/// An emulator whose config `tweak` adjusts (from the default: demo tenant, speed 1).
pub async fn spawn_with(tweak: impl FnOnce(&mut EmulatorConfig)) -> Emu {
    let mut cfg = EmulatorConfig::default();
    tweak(&mut cfg);
    let emu = RunningEmulator::start(cfg).await.expect("emulator starts");
    let http = client_for(&emu.ca_pem(), None);
    Emu {
        emu,
        http,
        tokens: Mutex::new(HashMap::new()),
    }
}

pub fn client_for(ca_pem: &str, timeout: Option<Duration>) -> reqwest::Client {
    let certs = reqwest::Certificate::from_pem_bundle(ca_pem.as_bytes()).expect("CA PEM parses");
    let mut b = reqwest::Client::builder().tls_certs_merge(certs);
    if let Some(t) = timeout {
        b = b.timeout(t);
    }
    b.build().expect("client builds")
}

impl Emu {
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.emu.base_url())
    }

    /// POSTs the token endpoint with a client secret; returns (status, JSON).
    pub async fn token_request(&self, tenant: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(self.url(&format!("/{tenant}/oauth2/v2.0/token")))
            .form(form)
            .send()
            .await
            .expect("token POST");
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// A (cached) token for a demo app, through the token endpoint.
    pub async fn token(&self, app: DemoApp) -> String {
        if let Some(t) = self.tokens.lock().unwrap().get(app.client_id) {
            return t.clone();
        }
        let form = [
            ("client_id", app.client_id),
            ("client_secret", app.client_secret),
            ("grant_type", "client_credentials"),
            ("scope", GRAPH_SCOPE),
        ];
        let (status, body) = self.token_request(TENANT_ID, &form).await;
        assert_eq!(status, 200, "token for {}: {body}", app.name);
        let t = body["access_token"]
            .as_str()
            .expect("access_token")
            .to_string();
        self.tokens.lock().unwrap().insert(app.client_id, t.clone());
        t
    }

    pub async fn call(&self, app: DemoApp, method: &str, path: &str, body: Option<Value>) -> Resp {
        let token = self.token(app).await;
        self.call_with_token(Some(&token), method, path, body, &[])
            .await
    }

    pub async fn get(&self, app: DemoApp, path: &str) -> Resp {
        self.call(app, "GET", path, None).await
    }

    pub async fn call_with_token(
        &self,
        token: Option<&str>,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> Resp {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method, self.url(path));
        if let Some(t) = token {
            req = req.bearer_auth(t);
        }
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("request sent");
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Resp {
            status,
            headers,
            body,
        }
    }

    /// Admin API GET (no token).
    pub async fn admin(&self, path: &str) -> Value {
        self.http
            .get(self.url(&format!("/_emulator/{path}")))
            .send()
            .await
            .expect("admin GET")
            .json()
            .await
            .expect("admin JSON")
    }
}

/// Polls `probe` until it yields `Some`, failing the test after `within`.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    within: Duration,
    mut probe: impl FnMut() -> F,
) -> T {
    let poll = async {
        loop {
            if let Some(found) = probe().await {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(10)).await; // poll interval, not a guess at a duration
        }
    };
    tokio::time::timeout(within, poll)
        .await
        .unwrap_or_else(|_| panic!("waited {within:?} for {what}"))
}

/// The JSON payload of a JWT (no signature check: the test only reads claims).
pub fn jwt_claims(token: &str) -> Value {
    use base64::Engine;
    let payload = token.split('.').nth(1).expect("three-part JWT");
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload)
        .expect("base64url payload");
    serde_json::from_slice(&bytes).expect("JSON payload")
}

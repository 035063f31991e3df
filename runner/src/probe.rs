//! `<service> --probe live|ready`: the service binary checks a running instance of itself on
//! this machine, so a health check needs no shell and no curl (the production image is
//! distroless). It reads the same settings as the service (`--config`, then
//! `ONBOARDING__*`), GETs `/healthz` (live) or `/readyz` (ready) at `http.listen`, and exits 0
//! when the answer is 200, 1 otherwise, with one line saying what it saw.
//!
//! Not for: Kubernetes, whose kubelet GETs the same paths itself (httpGet probes), nor for
//! anything but the loopback: a listener on `0.0.0.0` is probed on `127.0.0.1`.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::Path;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

use shared::config::Service;

/// Below Docker's and compose's usual 3 s healthcheck timeout, so the probe reports its own
/// reason instead of being killed without one.
const PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Which endpoint a probe asks: `live` = `/healthz` (the process serves HTTP), `ready` =
/// `/readyz` (broker connected and a Graph token obtainable).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeKind {
    /// `/healthz`: the process serves HTTP (a liveness check).
    Live,
    /// `/readyz`: the service can do its work (a readiness check).
    Ready,
}

impl ProbeKind {
    /// The health endpoint this kind asks.
    pub fn path(self) -> &'static str {
        match self {
            ProbeKind::Live => "/healthz",
            ProbeKind::Ready => "/readyz",
        }
    }
}

impl FromStr for ProbeKind {
    type Err = String;
    fn from_str(raw: &str) -> Result<Self, String> {
        match raw {
            "live" => Ok(ProbeKind::Live),
            "ready" => Ok(ProbeKind::Ready),
            _ => Err(format!("expected live or ready, got {raw:?}")),
        }
    }
}

/// Why a probe did not find the service healthy.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The settings did not load, so the address to probe is unknown.
    #[error(transparent)]
    Config(#[from] shared::config::ConfigError),
    /// `http.listen` names port 0: nothing fixed to probe.
    #[error(
        "http.listen {0} has port 0: the service picks any free port, there is nothing fixed to probe"
    )]
    NoFixedPort(SocketAddr),
    /// Nothing answered at the address (the service is not running or not listening yet).
    #[error("GET {url}: {source}")]
    Unreachable {
        /// The URL probed.
        url: String,
        /// The connection error.
        source: reqwest::Error,
    },
    /// The connection opened but no response came in time.
    #[error("GET {url}: no answer within {PROBE_TIMEOUT:?}")]
    Timeout {
        /// The URL probed.
        url: String,
    },
    /// Something else listens there: the answer is not HTTP.
    #[error("GET {url}: not an HTTP response: {head}")]
    NotHttp {
        /// The URL probed.
        url: String,
        /// What the HTTP client made of the answer.
        head: String,
    },
    /// The service answered but is not healthy (for `/readyz`: the body says which check failed).
    #[error("GET {url}: {status} {body}")]
    Unhealthy {
        /// The URL probed.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The answer's body.
        body: String,
    },
}

/// The body of `main` for `--probe`: loads the settings as the service would, probes, prints
/// one line (stdout when healthy, stderr when not) and returns the exit code.
pub async fn probe_exit(service: Service, config: Option<&Path>, kind: ProbeKind) -> ExitCode {
    let probed = match shared::config::load(config, std::env::vars().collect()) {
        Ok(settings) => probe(settings.http.listen, kind).await,
        Err(e) => Err(e.into()),
    };
    let name = service.name();
    match probed {
        Ok(url) => {
            println!("{name}: healthy: GET {url}: 200");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("{name}: unhealthy: {}", crate::error_chain(&e));
            ExitCode::FAILURE
        }
    }
}

/// GETs `kind`'s path from the listener at `listen`; `Ok` with the URL when it answered 200.
pub async fn probe(listen: SocketAddr, kind: ProbeKind) -> Result<String, ProbeError> {
    let url = format!("http://{}{}", probe_address(listen)?, kind.path());
    let answer = async {
        // No proxy: the target is this machine's loopback, whatever HTTP_PROXY says.
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(PROBE_TIMEOUT)
            .user_agent("onboarding-probe")
            .build()?;
        let response = client.get(&url).send().await?;
        let status = response.status().as_u16();
        Ok::<_, reqwest::Error>((status, response.text().await.unwrap_or_default()))
    };
    match answer.await {
        Ok((200, _)) => Ok(url),
        Ok((status, body)) => Err(ProbeError::Unhealthy {
            url,
            status,
            body: one_line(&body),
        }),
        Err(e) if e.is_timeout() => Err(ProbeError::Timeout { url }),
        Err(source) if source.is_connect() => Err(ProbeError::Unreachable { url, source }),
        Err(e) => Err(ProbeError::NotHttp {
            url,
            head: crate::error_chain(&e),
        }),
    }
}

/// Where a client on this machine reaches a listener bound to `listen`.
fn probe_address(listen: SocketAddr) -> Result<SocketAddr, ProbeError> {
    if listen.port() == 0 {
        return Err(ProbeError::NoFixedPort(listen));
    }
    let ip = match listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    Ok(SocketAddr::new(ip, listen.port()))
}

/// The body on one line, short enough for `docker inspect`'s health log.
fn one_line(body: &str) -> String {
    let line: String = body.split_whitespace().collect::<Vec<_>>().join(" ");
    line.chars().take(300).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpListener;

    /// A listener that answers every connection with `response`, then closes it.
    async fn answering(response: &'static str) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("bound");
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = [0u8; 1024];
                let _ = socket.read(&mut request).await;
                let _ = socket.write_all(response.as_bytes()).await;
            }
        });
        addr
    }

    #[tokio::test]
    async fn ready_probe_succeeds_on_200() {
        let addr = answering("HTTP/1.1 200 OK\r\ncontent-length: 3\r\n\r\nok\n").await;

        let probed = probe(addr, ProbeKind::Ready).await;

        assert_eq!(probed.expect("healthy"), format!("http://{addr}/readyz"));
    }

    #[tokio::test]
    async fn ready_probe_fails_on_503_and_reports_the_checks() {
        let body = r#"{"ready":false,"checks":{"broker":false}}"#;
        let addr = answering(
            "HTTP/1.1 503 Service Unavailable\r\n\r\n{\"ready\":false,\"checks\":{\"broker\":false}}",
        )
        .await;

        let err = probe(addr, ProbeKind::Ready).await.expect_err("unhealthy");

        assert!(
            matches!(&err, ProbeError::Unhealthy { status: 503, body: b, .. } if b == body),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn probe_fails_when_nothing_listens() {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("bound");
        drop(listener);

        let err = probe(addr, ProbeKind::Live)
            .await
            .expect_err("nothing there");

        assert!(matches!(err, ProbeError::Unreachable { .. }), "{err:?}");
    }

    #[test]
    fn unspecified_listen_address_is_probed_on_loopback_and_port_0_is_refused() {
        let any: SocketAddr = "0.0.0.0:9464".parse().expect("addr");
        let any6: SocketAddr = "[::]:9464".parse().expect("addr");
        assert_eq!(
            probe_address(any).expect("fixed").to_string(),
            "127.0.0.1:9464"
        );
        assert_eq!(
            probe_address(any6).expect("fixed").to_string(),
            "[::1]:9464"
        );
        let zero: SocketAddr = "127.0.0.1:0".parse().expect("addr");
        assert!(matches!(
            probe_address(zero),
            Err(ProbeError::NoFixedPort(_))
        ));
    }

    #[test]
    fn probe_kind_parses_live_and_ready_only() {
        assert_eq!("live".parse(), Ok(ProbeKind::Live));
        assert_eq!("ready".parse(), Ok(ProbeKind::Ready));
        assert!("healthz".parse::<ProbeKind>().is_err());
    }
}

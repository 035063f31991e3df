//! `<service> --probe live|ready` as a container health check runs it: the built binary, the
//! service's own environment, against a service binary running on a fixed port.

use std::collections::HashMap;
use std::time::Duration;

use e2e::{TestEnv, binary, wait};
use graph_emulator::demo;
use shared::config::Service;

/// Runs `new-hire --probe <kind>` with exactly `env`; returns its exit code and what it printed.
async fn run_probe(env: &HashMap<String, String>, kind: &str) -> (Option<i32>, String) {
    let out = tokio::process::Command::new(binary(Service::NewHire.name()))
        .args(["--probe", kind])
        .env_clear()
        .envs(env)
        .output()
        .await
        .expect("the probe runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// A port nothing listens on right now (bound, then released), for a fixed `http.listen`.
async fn free_port() -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind a free port");
    listener.local_addr().expect("bound").port()
}

#[tokio::test]
async fn probe_exits_0_while_the_service_is_up_and_1_when_nothing_listens() {
    let env = TestEnv::spawn("probe_exit_codes").await;
    let listen = format!("127.0.0.1:{}", free_port().await);
    let vars = env.service_env(demo::NEW_HIRE, &[("http.listen", &listen)]);

    let (before, said) = run_probe(&vars, "live").await;
    assert_eq!(before, Some(1), "nothing listens yet: {said}");
    assert!(said.contains("unhealthy"), "{said}");

    let mut service = env.start_binary(Service::NewHire, vars.clone()).await;
    // Ready needs the broker session and a Graph token: wait for it, as a healthcheck retries.
    let said = wait::eventually(
        "new-hire --probe ready to exit 0",
        Duration::from_secs(20),
        || async {
            let (code, said) = run_probe(&vars, "ready").await;
            (code == Some(0)).then_some(said)
        },
    )
    .await;
    assert!(said.contains("healthy: GET"), "{said}");
    let (live, said) = run_probe(&vars, "live").await;
    assert_eq!(live, Some(0), "{said}");

    service.kill().await.expect("stop the service");
    let (after, said) = run_probe(&vars, "ready").await;
    assert_eq!(after, Some(1), "the service is gone: {said}");
    env.finish().await;
}

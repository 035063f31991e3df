use std::process::Stdio;
use std::time::{Duration, Instant};

use graph_emulator::demo::{GRAPH_SCOPE, NEW_HIRE, TENANT_ID};
use tokio::io::{AsyncBufReadExt, BufReader};

use crate::helpers::client_for;

/// The binary: `--listen 127.0.0.1:0` prints the bound address on one line in under a second,
/// `--ca-out` writes a CA that verifies its certificate, and SIGTERM stops it cleanly.
#[tokio::test]
async fn the_binary_starts_in_under_a_second_prints_its_address_and_writes_its_ca() {
    let ca = std::env::temp_dir().join(format!("emu-ca-{}.pem", uuid::Uuid::new_v4()));
    let start = Instant::now();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_graph-emulator"))
        .args(["--listen", "127.0.0.1:0", "--speed", "100", "--ca-out"])
        .arg(&ca)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("binary starts");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
        .await
        .expect("a line within 10 s")
        .unwrap()
        .unwrap();
    let startup = start.elapsed();
    assert!(startup < Duration::from_secs(1), "started in {startup:?}");
    let base = line
        .strip_prefix("graph-emulator listening on ")
        .expect("the address line")
        .to_string();
    let pem = std::fs::read_to_string(&ca).expect("CA written");
    std::fs::remove_file(&ca).ok();
    let form = [
        ("client_id", NEW_HIRE.client_id),
        ("client_secret", NEW_HIRE.client_secret),
        ("grant_type", "client_credentials"),
        ("scope", GRAPH_SCOPE),
    ];
    let r = client_for(&pem, None)
        .post(format!("{base}/{TENANT_ID}/oauth2/v2.0/token"))
        .form(&form)
        .send()
        .await
        .expect("TLS verified by the written CA");
    assert_eq!(r.status(), 200);
    let pid = child.id().unwrap().to_string();
    tokio::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .await
        .unwrap();
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("exits on SIGTERM")
        .unwrap();
    assert!(status.success(), "{status}");
}

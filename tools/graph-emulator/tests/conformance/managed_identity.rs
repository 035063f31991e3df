use std::sync::Arc;
use std::time::Duration;

use azure_core::credentials::TokenCredential;
use azure_core::http::{RetryOptions, Transport};
use graph_emulator::demo::{self, DEVICE_PURCHASED, GRAPH_SCOPE};

use crate::helpers::{client_for, jwt_claims, spawn};

#[tokio::test]
async fn stack_notes_3_managed_identity_endpoint_has_the_app_service_shape() {
    let e = spawn().await;
    let url = format!(
        "{}?api-version=2019-08-01&resource=https://graph.microsoft.com",
        e.emu.identity_endpoint()
    );
    let r = e
        .http
        .get(&url)
        .header("x-identity-header", demo::IDENTITY_HEADER)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    let body: serde_json::Value = r.json().await.unwrap();
    assert!(
        body["expires_on"].is_string(),
        "expires_on must be a string of epoch seconds: {body}"
    );
    assert_eq!(
        jwt_claims(body["access_token"].as_str().unwrap())["appid"],
        DEVICE_PURCHASED.client_id
    );
    let wrong = e
        .http
        .get(&url)
        .header("x-identity-header", "nope")
        .send()
        .await
        .unwrap();
    assert_eq!(wrong.status(), 401);
}

/// `ManagedIdentityCredential` reads IDENTITY_ENDPOINT/IDENTITY_HEADER from the environment
/// only, and setting variables in this multi-threaded process is banned; so the credential
/// runs in a child copy of this test binary with those variables set.
#[tokio::test]
async fn stack_notes_3_managed_identity_credential_gets_a_token() {
    let e = spawn().await;
    let exe = std::env::current_exe().unwrap();
    let out = tokio::process::Command::new(exe)
        .args([
            "--ignored",
            "--exact",
            "managed_identity::managed_identity_credential_child",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("IDENTITY_ENDPOINT", e.emu.identity_endpoint())
        .env("IDENTITY_HEADER", demo::IDENTITY_HEADER)
        .env("EMU_CA_PEM", e.emu.ca_pem())
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), out)
        .await
        .expect("child finishes")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed: {stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains(&format!("MI-TOKEN-APPID {}", DEVICE_PURCHASED.client_id)),
        "{stdout}"
    );
}

#[tokio::test]
#[ignore = "run by stack_notes_3_managed_identity_credential_gets_a_token in a child process"]
async fn managed_identity_credential_child() {
    let Ok(pem) = std::env::var("EMU_CA_PEM") else {
        return;
    };
    let mut options = azure_identity::ManagedIdentityCredentialOptions::default();
    options.client_options.transport = Some(Transport::new(Arc::new(client_for(&pem, None))));
    options.client_options.retry = RetryOptions::none();
    let cred = azure_identity::ManagedIdentityCredential::new(Some(options)).unwrap();
    let tok = cred
        .get_token(&[GRAPH_SCOPE], None)
        .await
        .expect("managed identity token");
    println!(
        "MI-TOKEN-APPID {}",
        jwt_claims(tok.token.secret())["appid"].as_str().unwrap()
    );
}

use std::sync::Arc;

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::{Secret, TokenCredential};
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_identity::{
    ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions,
    WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use graph_emulator::demo::{DEVICE_SHIPPED, DOMAIN, GRAPH_SCOPE, NEW_HIRE, TENANT_ID, WIF_ISSUER};

use crate::helpers::{client_for, jwt_claims, spawn};

/// stack §3: custom authority + the emulator's CA, and no retries so failures are quick.
fn client_options(authority: &str, ca_pem: &str) -> ClientOptions {
    let mut cloud = CustomConfiguration::default();
    cloud.authority_host = authority.to_string();
    ClientOptions {
        transport: Some(Transport::new(Arc::new(client_for(ca_pem, None)))),
        cloud: Some(Arc::new(CloudConfiguration::from(cloud))),
        retry: RetryOptions::none(),
        ..Default::default()
    }
}

#[tokio::test]
async fn s12_azure_identity_client_secret_credential_gets_a_graph_token() {
    let e = spawn().await;
    let opts = ClientSecretCredentialOptions {
        client_options: client_options(&e.emu.authority_host(), &e.emu.ca_pem()),
    };
    let cred = ClientSecretCredential::new(
        TENANT_ID,
        NEW_HIRE.client_id.into(),
        Secret::new(NEW_HIRE.client_secret),
        Some(opts),
    )
    .unwrap();
    let tok = cred
        .get_token(&[GRAPH_SCOPE], None)
        .await
        .expect("token from the emulator");
    let again = cred.get_token(&[GRAPH_SCOPE], None).await.unwrap();
    assert_eq!(
        tok.token.secret(),
        again.token.secret(),
        "3599 s tokens are cached (refresh only 300 s before expiry)"
    );
    let claims = jwt_claims(tok.token.secret());
    assert_eq!(claims["tid"], TENANT_ID);
    assert_eq!(claims["appid"], NEW_HIRE.client_id);
    let roles: Vec<&str> = claims["roles"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap())
        .collect();
    assert_eq!(
        roles,
        [
            "User.Read.All",
            "GroupMember.ReadWrite.All",
            "Policy.ReadWrite.DeviceConfiguration"
        ]
    );
    let remaining = tok.expires_on - time::OffsetDateTime::now_utc();
    assert!(
        remaining > time::Duration::seconds(3500),
        "expires_in 3599 honoured, got {remaining}"
    );
    let posts = e
        .emu
        .requests()
        .iter()
        .filter(|r| r.template == "/{tenant}/oauth2/v2.0/token")
        .count();
    assert_eq!(posts, 1, "one token POST for two get_token calls");
}

#[tokio::test]
async fn s12_azure_identity_reports_aadsts7000215_for_a_wrong_secret() {
    let e = spawn().await;
    let opts = ClientSecretCredentialOptions {
        client_options: client_options(&e.emu.authority_host(), &e.emu.ca_pem()),
    };
    let cred = ClientSecretCredential::new(
        TENANT_ID,
        NEW_HIRE.client_id.into(),
        Secret::new("wrong"),
        Some(opts),
    )
    .unwrap();
    let err = cred
        .get_token(&[GRAPH_SCOPE], None)
        .await
        .expect_err("wrong secret fails");
    assert!(format!("{err}").contains("AADSTS7000215"), "{err}");
}

#[tokio::test]
async fn s12_a_wrong_secret_is_401_invalid_client() {
    let e = spawn().await;
    let (status, body) = e
        .token_request(
            TENANT_ID,
            &[
                ("client_id", NEW_HIRE.client_id),
                ("client_secret", "nope"),
                ("grant_type", "client_credentials"),
                ("scope", GRAPH_SCOPE),
            ],
        )
        .await;
    assert_eq!(
        (status, body["error"].as_str()),
        (401, Some("invalid_client"))
    );
    assert_eq!(body["error_codes"][0], 7000215);
    assert!(
        body["error_description"]
            .as_str()
            .unwrap()
            .starts_with("AADSTS7000215:")
    );
}

#[tokio::test]
async fn s12_the_secret_may_come_by_http_basic_auth() {
    let e = spawn().await;
    let r = e
        .http
        .post(e.url(&format!("/{TENANT_ID}/oauth2/v2.0/token")))
        .basic_auth(NEW_HIRE.client_id, Some(NEW_HIRE.client_secret))
        .form(&[("grant_type", "client_credentials"), ("scope", GRAPH_SCOPE)])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
}

#[tokio::test]
async fn s12_an_expired_secret_is_aadsts7000222_and_several_resources_aadsts700022() {
    let e = crate::helpers::spawn_with(|c| {
        c.fixture
            .apps
            .iter_mut()
            .find(|a| a.client_id == NEW_HIRE.client_id)
            .unwrap()
            .client_secret_expired = true
    })
    .await;
    let form = |scope| {
        [
            ("client_id", NEW_HIRE.client_id),
            ("client_secret", NEW_HIRE.client_secret),
            ("grant_type", "client_credentials"),
            ("scope", scope),
        ]
    };
    let (status, body) = e.token_request(TENANT_ID, &form(GRAPH_SCOPE)).await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (401, Some(7000222))
    );
    let (status, body) = e
        .token_request(
            TENANT_ID,
            &form("https://graph.microsoft.com/.default https://vault.azure.net/.default"),
        )
        .await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (401, Some(7000222)),
        "the credential is judged first"
    );
    let ok = crate::helpers::spawn().await;
    let (status, body) = ok
        .token_request(
            TENANT_ID,
            &form("https://graph.microsoft.com/.default https://vault.azure.net/.default"),
        )
        .await;
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_codes"][0].as_u64()
        ),
        (400, Some("invalid_scope"), Some(700022))
    );
}

#[tokio::test]
async fn s12_an_unknown_app_is_unauthorized_client_aadsts700016() {
    let e = spawn().await;
    let (status, body) = e
        .token_request(
            TENANT_ID,
            &[
                ("client_id", "00000000-1111-2222-3333-444444444444"),
                ("client_secret", "x"),
                ("grant_type", "client_credentials"),
                ("scope", GRAPH_SCOPE),
            ],
        )
        .await;
    assert_eq!(
        (
            status,
            body["error"].as_str(),
            body["error_codes"][0].as_u64()
        ),
        (400, Some("unauthorized_client"), Some(700016))
    );
}

#[tokio::test]
async fn s12_an_unknown_tenant_is_aadsts90002_and_the_domain_is_a_tenant_name() {
    let e = spawn().await;
    let form = [
        ("client_id", NEW_HIRE.client_id),
        ("client_secret", NEW_HIRE.client_secret),
        ("grant_type", "client_credentials"),
        ("scope", GRAPH_SCOPE),
    ];
    let (status, body) = e.token_request("fabrikam.test", &form).await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (400, Some(90002))
    );
    let (status, body) = e.token_request(DOMAIN, &form).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["expires_in"], 3599);
    assert_eq!(body["token_type"], "Bearer");
}

#[tokio::test]
async fn s12_a_scope_that_is_not_graph_default_is_invalid_scope() {
    let e = spawn().await;
    for scope in [
        "https://graph.microsoft.com/User.Read.All",
        "https://management.azure.com/.default",
        "https://graph.microsoft.com/.default https://vault.azure.net/.default",
    ] {
        let (status, body) = e
            .token_request(
                TENANT_ID,
                &[
                    ("client_id", NEW_HIRE.client_id),
                    ("client_secret", NEW_HIRE.client_secret),
                    ("grant_type", "client_credentials"),
                    ("scope", scope),
                ],
            )
            .await;
        assert_eq!(
            (status, body["error"].as_str()),
            (400, Some("invalid_scope")),
            "{scope}"
        );
    }
}

fn federated_jwt(subject: &str) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let claims = serde_json::json!({ "iss": WIF_ISSUER, "sub": subject, "aud": ["api://AzureADTokenExchange"], "iat": now, "exp": now + 600 });
    jsonwebtoken::encode(
        &jsonwebtoken::Header::default(),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(b"k8s"),
    )
    .unwrap()
}

#[tokio::test]
async fn s12_workload_identity_credential_exchanges_a_federated_assertion() {
    let e = spawn().await;
    let path = std::env::temp_dir().join(format!("emu-wif-{}.jwt", uuid::Uuid::new_v4()));
    std::fs::write(&path, federated_jwt(DEVICE_SHIPPED.wif_subject.unwrap())).unwrap();
    let opts = WorkloadIdentityCredentialOptions {
        credential_options: ClientAssertionCredentialOptions {
            client_options: client_options(&e.emu.authority_host(), &e.emu.ca_pem()),
        },
        client_id: Some(DEVICE_SHIPPED.client_id.into()),
        tenant_id: Some(TENANT_ID.into()),
        token_file_path: Some(path.clone()),
    };
    let cred = WorkloadIdentityCredential::new(Some(opts)).unwrap();
    let tok = cred
        .get_token(&[GRAPH_SCOPE], None)
        .await
        .expect("federated token");
    std::fs::remove_file(&path).ok();
    assert_eq!(
        jwt_claims(tok.token.secret())["appid"],
        DEVICE_SHIPPED.client_id
    );
}

#[tokio::test]
async fn s12_an_assertion_with_an_unknown_subject_is_aadsts70021() {
    let e = spawn().await;
    let jwt = federated_jwt("system:serviceaccount:other:intruder");
    let form = [
        ("client_id", DEVICE_SHIPPED.client_id),
        ("client_assertion", jwt.as_str()),
        (
            "client_assertion_type",
            "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        ),
        ("grant_type", "client_credentials"),
        ("scope", GRAPH_SCOPE),
    ];
    let (status, body) = e.token_request(TENANT_ID, &form).await;
    assert_eq!(
        (status, body["error_codes"][0].as_u64()),
        (401, Some(70021)),
        "{body}"
    );
}

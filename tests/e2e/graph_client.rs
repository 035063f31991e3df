//! Our Graph client against the emulator over HTTPS, through the real azure_identity
//! credentials: the escaping, paging and credential paths a unit test cannot prove, because
//! only a server written independently from the same reference can disagree with us.

use std::sync::Arc;

use base64::Engine as _;
use e2e::TestEnv;
use graph::{GraphClient, NoopObserver};
use graph_emulator::{EmulatorConfig, demo};
use shared::ids::{EmployeeId, SerialNumber, Upn};

fn client(env: &TestEnv, app: demo::DemoApp, overrides: &[(&str, &str)]) -> GraphClient {
    let settings = env.settings(app, overrides);
    GraphClient::new(&settings.graph, Arc::new(NoopObserver)).expect("client builds")
}

#[tokio::test]
async fn guest_and_dollar_upns_reach_their_users_through_the_emulator() {
    let env = TestEnv::spawn("graph_client_upn_escaping").await;
    let graph = client(&env, demo::NEW_HIRE, &[]);

    for (upn, id) in [
        (demo::UPN_GUEST, demo::USER_GUEST),
        (demo::UPN_DOLLAR, demo::USER_DOLLAR),
        (demo::UPN_ADA, demo::USER_ADA),
    ] {
        let user = graph
            .user_by_upn(&upn.parse::<Upn>().unwrap())
            .await
            .expect("lookup answers");
        assert_eq!(
            user.map(|u| u.id.as_str().to_owned()),
            Some(id.to_owned()),
            "{upn}"
        );
    }
    let nobody = graph
        .user_by_upn(&"nobody@contoso.test".parse().unwrap())
        .await
        .expect("404 is an answer");
    assert!(nobody.is_none());
    let by_employee = graph
        .users_by_employee_id(&"E1001".parse::<EmployeeId>().unwrap())
        .await
        .expect("filter answers");
    assert_eq!(
        by_employee
            .iter()
            .map(|u| u.id.as_str())
            .collect::<Vec<_>>(),
        vec![demo::USER_ADA]
    );
    env.finish().await;
}

#[tokio::test]
async fn serials_with_hyphens_and_spaces_are_found_across_pages() {
    let mut cfg = EmulatorConfig {
        speed: e2e::TEST_SPEED,
        ..Default::default()
    };
    let template = cfg.fixture.autopilot_devices[0].clone();
    // More devices than one page (5), so the hyphen fallback must follow @odata.nextLink.
    let serials = [
        "PF-0001",
        "PF-0002",
        "VMware-56 4d 12",
        "VMware 56 4d 13",
        "CZC9",
        "CZC99",
        "CZC999",
        "ABC-7",
        "XY 1",
    ];
    for (i, serial) in serials.iter().enumerate() {
        let mut device = template.clone();
        device.id = format!("f2000000-0000-4000-8000-{i:012}");
        device.serial_number = (*serial).to_owned();
        device.hardware_identifier = Some(demo::hardware_hash(serial));
        device.azure_active_directory_device_id = None;
        cfg.fixture.autopilot_devices.push(device);
    }
    let env = TestEnv::spawn_with("graph_client_serials", cfg).await;
    let graph = client(&env, demo::DEVICE_PURCHASED, &[]);

    for (i, serial) in serials.iter().enumerate() {
        let found = graph
            .autopilot_devices_by_serial(&serial.parse::<SerialNumber>().unwrap())
            .await
            .expect("lookup answers");
        let ids: Vec<&str> = found.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(
            ids,
            vec![format!("f2000000-0000-4000-8000-{i:012}")],
            "{serial}: contains() is a substring match; only the exact serial may come back"
        );
    }
    let refused = env
        .emulator
        .requests()
        .iter()
        .filter(|r| r.status == 400)
        .count();
    assert_eq!(refused, 0, "the client never sends a filter Graph refuses");
    env.finish().await;
}

/// A Kubernetes-style service-account token: the emulator checks issuer, subject, audience
/// and expiry of a federated assertion (not its signature, which needs the cluster's keys).
fn service_account_token(subject: &str) -> String {
    let b64 = |v: serde_json::Value| {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
    };
    let exp = time::OffsetDateTime::now_utc().unix_timestamp() + 3600;
    let header = b64(serde_json::json!({ "alg": "RS256", "typ": "JWT" }));
    let claims = b64(serde_json::json!({
        "iss": demo::WIF_ISSUER, "sub": subject, "aud": ["api://AzureADTokenExchange"], "exp": exp, "iat": exp - 3600,
    }));
    format!("{header}.{claims}.c2lnbmF0dXJl")
}

#[tokio::test]
async fn workload_identity_obtains_a_token_and_reads_graph() {
    let env = TestEnv::spawn("graph_client_workload_identity").await;
    let token_file = std::env::temp_dir().join(format!("{}.sa-token", env.prefix));
    std::fs::write(
        &token_file,
        service_account_token(demo::NEW_HIRE.wif_subject.unwrap()),
    )
    .unwrap();
    let path = token_file.display().to_string();
    let graph = client(
        &env,
        demo::NEW_HIRE,
        &[
            ("graph.credential", "workload_identity"),
            ("graph.client_secret", ""),
            ("graph.federated_token_file", &path),
        ],
    );

    assert!(
        graph.token_obtainable().await,
        "federated token exchanged for a Graph token"
    );
    let roles = graph.granted_roles().await.expect("roles readable");
    assert!(
        roles.iter().any(|r| r == "GroupMember.ReadWrite.All"),
        "{roles:?}"
    );
    let ada = graph
        .user_by_upn(&demo::UPN_ADA.parse().unwrap())
        .await
        .expect("read with the federated token");
    assert!(ada.is_some());
    let tokens = env
        .emulator
        .requests()
        .iter()
        .filter(|r| r.template.ends_with("/oauth2/v2.0/token"))
        .count();
    assert_eq!(tokens, 1, "the credential caches its token");
    let _ = std::fs::remove_file(token_file);
    env.finish().await;
}

#[tokio::test]
async fn a_wrong_secret_is_refused_permanently_and_the_secret_never_shows() {
    let env = TestEnv::spawn("graph_client_wrong_secret").await;
    let graph = client(
        &env,
        demo::NEW_HIRE,
        &[("graph.client_secret", "not-the-secret-123")],
    );

    let err = graph
        .user_by_upn(&demo::UPN_ADA.parse().unwrap())
        .await
        .expect_err("refused");
    let text = err.to_string();
    assert!(text.contains("AADSTS7000215"), "{text}");
    assert!(!text.contains("not-the-secret-123"), "{text}");
    assert!(
        !shared::error::Classify::class(&err).is_transient(),
        "a bad secret does not heal by waiting"
    );
    env.finish().await;
}

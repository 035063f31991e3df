//! Settings: embedded defaults, a file over them, the environment over both, and validation
//! errors that name the key.

use std::collections::HashMap;
use std::time::Duration;

use secrecy::ExposeSecret as _;
use shared::config::{ConfigError, JoinMode, Service, load};

fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Settings a real new-hire deployment would have on top of the defaults.
fn deployable() -> HashMap<String, String> {
    env(&[
        ("ONBOARDING__GRAPH__TENANT_ID", "contoso.onmicrosoft.com"),
        (
            "ONBOARDING__GRAPH__CLIENT_ID",
            "11111111-2222-3333-4444-555555555555",
        ),
        ("ONBOARDING__GRAPH__CLIENT_SECRET", "007"),
        ("ONBOARDING__NEW_HIRE__JOIN_GROUP_ID", "g-join"),
    ])
}

fn invalid_key(err: ConfigError) -> String {
    match err {
        ConfigError::Invalid { key, .. } => key.to_owned(),
        other => panic!("expected a validation error, got {other}"),
    }
}

#[test]
fn defaults_load_as_documented() {
    let s = load(None, HashMap::new()).unwrap();

    assert_eq!(s.amqp.exchange, "onboarding");
    assert_eq!(s.amqp.queues.new_hire, "onboarding.new-hire");
    assert_eq!(
        s.amqp.delay_tiers,
        [5, 30, 300, 1800].map(Duration::from_secs)
    );
    assert_eq!(s.amqp.max_age, Duration::from_secs(86_400));
    assert_eq!(
        (s.amqp.prefetch, s.amqp.concurrency, s.amqp.max_body_bytes),
        (32, 8, 65_536)
    );
    assert_eq!(s.new_hire.join_mode, JoinMode::Group);
    assert!(s.new_hire.department_groups.is_empty());
    assert_eq!(s.http.listen.port(), 9464);
}

#[test]
fn a_file_overrides_defaults_and_the_environment_overrides_the_file() {
    let dir = std::env::temp_dir().join(format!(
        "onboarding-config-{}",
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("local.toml");
    std::fs::write(
        &file,
        "[amqp]\nprefetch = 10\nexchange = \"from-file\"\n[new_hire]\ngroups = [\"g1\"]\n[new_hire.department_groups]\nSales = [\"g-sales\"]\n",
    )
    .unwrap();

    let s = load(
        Some(&file),
        env(&[
            ("ONBOARDING__AMQP__EXCHANGE", "from-env"),
            ("ONBOARDING__NEW_HIRE__GROUPS", "g2, g3"),
            ("ONBOARDING__AMQP__DELAY_TIERS", "1s,10s"),
            ("ONBOARDING__GRAPH__CLIENT_SECRET", "007"),
            (
                "ONBOARDING__NEW_HIRE__DEPARTMENT_GROUPS__FINANCE",
                "g-fin1,g-fin2",
            ),
            ("UNRELATED", "ignored"),
        ]),
    )
    .unwrap();

    assert_eq!(s.amqp.prefetch, 10, "file over defaults");
    assert_eq!(s.amqp.exchange, "from-env", "environment over file");
    assert_eq!(
        s.new_hire.groups,
        ["g2", "g3"],
        "comma-separated list from the environment"
    );
    assert_eq!(s.amqp.delay_tiers, [1, 10].map(Duration::from_secs));
    assert_eq!(
        s.graph.client_secret.expose_secret(),
        "007",
        "no numeric parsing of strings"
    );
    assert_eq!(s.new_hire.department_groups["Sales"], ["g-sales"]);
    assert_eq!(
        s.new_hire.department_groups["finance"],
        ["g-fin1", "g-fin2"]
    );
    std::fs::remove_dir_all(dir).unwrap();
}

#[test]
fn load_errors_name_the_key() {
    let err = load(None, env(&[("ONBOARDING__AMQP__PREFETCH", "lots")])).unwrap_err();
    assert!(err.to_string().contains("amqp.prefetch"), "{err}");

    let err = load(None, env(&[("ONBOARDING__AMQP__PREFECTH", "3")])).unwrap_err();
    assert!(
        err.to_string().contains("prefecth"),
        "unknown keys are refused: {err}"
    );

    let err = load(None, env(&[("ONBOARDING__AMQP__MAX_AGE", "a while")])).unwrap_err();
    assert!(err.to_string().contains("amqp.max_age"), "{err}");
}

#[test]
fn validation_errors_name_the_key() {
    let with = |extra: &[(&str, &str)]| {
        let mut e = deployable();
        e.extend(env(extra));
        load(None, e).unwrap()
    };
    with(&[])
        .validate(Service::NewHire)
        .expect("a deployable configuration");

    type Case<'a> = (&'a [(&'a str, &'a str)], Service, &'a str);
    let cases: &[Case] = &[
        (
            &[("ONBOARDING__GRAPH__BASE_URL", "http://graph.local")],
            Service::NewHire,
            "graph.base_url",
        ),
        (
            &[("ONBOARDING__GRAPH__AUTHORITY_HOST", "http://login.local")],
            Service::Cli,
            "graph.authority_host",
        ),
        (
            &[("ONBOARDING__GRAPH__CLIENT_SECRET", "")],
            Service::NewHire,
            "graph.client_secret",
        ),
        (
            &[("ONBOARDING__GRAPH__TENANT_ID", "")],
            Service::DeviceShipped,
            "graph.tenant_id",
        ),
        (
            &[("ONBOARDING__NEW_HIRE__JOIN_GROUP_ID", "")],
            Service::NewHire,
            "new_hire.join_group_id",
        ),
        (
            &[("ONBOARDING__AMQP__CONCURRENCY", "64")],
            Service::NewHire,
            "amqp.concurrency",
        ),
        (
            &[("ONBOARDING__AMQP__DELAY_TIERS", "30s,5s")],
            Service::NewHire,
            "amqp.delay_tiers",
        ),
        (
            &[("ONBOARDING__AMQP__DELAY_TIERS", "")],
            Service::NewHire,
            "amqp.delay_tiers",
        ),
        (
            &[("ONBOARDING__GRAPH__CA_FILE", "/nonexistent/emulator-ca.pem")],
            Service::NewHire,
            "graph.ca_file",
        ),
        (
            &[("ONBOARDING__AMQP__URL", "http://broker")],
            Service::NewHire,
            "amqp.url",
        ),
        (
            &[("ONBOARDING__TELEMETRY__LOG_FILTER", "info,[[")],
            Service::NewHire,
            "telemetry.log_filter",
        ),
        (
            &[(
                "ONBOARDING__DEVICE_PURCHASED__REQUIRE_HARDWARE_HASH",
                "false",
            )],
            Service::DevicePurchased,
            "device_purchased.require_hardware_hash",
        ),
    ];
    for (extra, service, key) in cases {
        let err = with(extra).validate(*service).unwrap_err();
        let message = err.to_string();
        assert_eq!(invalid_key(err), *key, "{extra:?}");
        assert!(message.starts_with(&format!("{key}: ")), "{message}");
    }
    // The CLI needs no Graph credentials; the other services do.
    with(&[("ONBOARDING__GRAPH__CLIENT_SECRET", "")])
        .validate(Service::Cli)
        .unwrap();
}

#[test]
fn secrets_do_not_appear_in_debug_output() {
    let s = load(
        None,
        env(&[
            ("ONBOARDING__GRAPH__CLIENT_SECRET", "hunter2-very-secret"),
            ("ONBOARDING__AMQP__URL", "amqp://u:p4ssw0rd@h/%2f"),
        ]),
    )
    .unwrap();

    let debug = format!("{s:?}");

    assert!(!debug.contains("hunter2-very-secret"), "{debug}");
    assert!(!debug.contains("p4ssw0rd"), "{debug}");
    assert!(debug.contains("REDACTED"));
}

#[test]
fn services_know_their_queue_and_name_and_events_their_routing_key() {
    use shared::events::{DeviceShipped, Event as _};
    let s = load(None, HashMap::new()).unwrap();
    let queue = Service::DeviceShipped.queue(&s.amqp).unwrap();
    assert_eq!(queue, "onboarding.device-shipped");
    assert_eq!(DeviceShipped::TYPE, "procurement.device.shipped");
    assert_eq!(Service::NewHire.name(), "new-hire");
    assert!(Service::Cli.queue(&s.amqp).is_none());
}

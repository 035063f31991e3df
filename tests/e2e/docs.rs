//! The README's promises that can drift from the code: every configuration key is documented.

const DEFAULTS: &str = include_str!("../../config/defaults.toml");
const README: &str = include_str!("../../README.md");

/// `section.key` for every key line of the embedded defaults.
fn config_keys() -> Vec<String> {
    let mut section = String::new();
    let mut keys = Vec::new();
    for line in DEFAULTS.lines() {
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.to_owned();
        } else if let Some((key, _)) = line.split_once(" = ")
            && !line.starts_with('#')
        {
            keys.push(format!("{section}.{}", key.trim()));
        }
    }
    keys
}

#[test]
fn the_readme_documents_every_configuration_key() {
    let keys = config_keys();
    assert!(keys.len() > 30, "parsed the defaults: {keys:?}");
    let missing: Vec<&String> = keys
        .iter()
        .filter(|k| !README.contains(&format!("`{k}`")))
        .collect();
    assert!(missing.is_empty(), "README lacks {missing:?}");
}

/// The compose env file and `scripts/stack` carry the emulator's demo tenant by value (they are
/// not Rust); if the tenant changes, they must too, or the stack starts and every token fails.
#[test]
fn compose_env_and_the_stack_script_name_the_emulators_demo_tenant() {
    use graph_emulator::demo;
    const DEMO_ENV: &str = include_str!("../../deploy/compose/demo.env");
    const STACK: &str = include_str!("../../scripts/stack");
    let env: std::collections::HashMap<&str, &str> = DEMO_ENV
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .collect();
    let expected = [
        ("EMULATOR_TENANT_ID", demo::TENANT_ID),
        ("NEW_HIRE_CLIENT_ID", demo::NEW_HIRE.client_id),
        ("NEW_HIRE_CLIENT_SECRET", demo::NEW_HIRE.client_secret),
        (
            "DEVICE_PURCHASED_CLIENT_ID",
            demo::DEVICE_PURCHASED.client_id,
        ),
        (
            "DEVICE_PURCHASED_CLIENT_SECRET",
            demo::DEVICE_PURCHASED.client_secret,
        ),
        ("DEVICE_SHIPPED_CLIENT_ID", demo::DEVICE_SHIPPED.client_id),
        (
            "DEVICE_SHIPPED_CLIENT_SECRET",
            demo::DEVICE_SHIPPED.client_secret,
        ),
        ("ONBOARDCTL_CLIENT_ID", demo::ONBOARDCTL.client_id),
        ("ONBOARDCTL_CLIENT_SECRET", demo::ONBOARDCTL.client_secret),
        ("NEW_HIRE_JOIN_GROUP_ID", demo::GROUP_JOIN),
        ("DEVICE_GROUP_ID", demo::GROUP_AUTOPILOT_DEVICES),
    ];
    for (key, value) in expected {
        assert_eq!(env.get(key).copied(), Some(value), "demo.env {key}");
    }
    for app in [
        demo::NEW_HIRE,
        demo::DEVICE_PURCHASED,
        demo::DEVICE_SHIPPED,
        demo::ONBOARDCTL,
    ] {
        let line = format!(
            "{}) echo \"{} {}\"",
            app.name, app.client_id, app.client_secret
        );
        assert!(STACK.contains(&line), "scripts/stack lacks {line}");
    }
    for (name, id) in [
        ("TENANT_ID", demo::TENANT_ID),
        ("GROUP_JOIN", demo::GROUP_JOIN),
        ("GROUP_ENGINEERING", demo::GROUP_ENGINEERING),
        ("GROUP_SALES", demo::GROUP_SALES),
        ("GROUP_AUTOPILOT_DEVICES", demo::GROUP_AUTOPILOT_DEVICES),
    ] {
        assert!(
            STACK.contains(&format!("\n{name}={id}\n")),
            "scripts/stack {name}"
        );
    }
}

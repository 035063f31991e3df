//! `onboardctl preflight --delegated azure-cli`: MDM user scope read with a person's sign-in,
//! through a stand-in `az` (tests/fixtures/az-standin/az) first on the child's PATH that
//! performs the real password grant against this test's emulator.

use std::time::Duration;

use e2e::{TestEnv, wait};
use graph_emulator::Fixture;
use graph_emulator::demo;
use graph_emulator::fixture::PolicyScope;
use onboardctl::preflight;

use super::DEVICE_GROUP;

/// How the stand-in `az` (tests/fixtures/az-standin/az) is set up for one run.
#[derive(Debug, Clone, Copy)]
enum Az {
    /// On PATH, signed in as the demo admin.
    SignedIn,
    /// On PATH, signed in with a password that no longer works.
    StalePassword,
    /// On PATH, nobody signed in: it prints az's own message and exits 1.
    SignedOut,
    /// No `az` on PATH at all.
    Missing,
}

/// What azure_identity 1.0.0's AzureCliCredential must pass to `az` for our tenant.
fn expected_az_args() -> Vec<String> {
    [
        "account",
        "get-access-token",
        "-o",
        "json",
        "--scope",
        demo::GRAPH_SCOPE,
        "--tenant",
        demo::TENANT_ID,
    ]
    .map(String::from)
    .to_vec()
}

/// A run of `onboardctl preflight --delegated azure-cli --output json` as onboardctl's app, with
/// the stand-in `az` first on the child's PATH; returns the exit code, the JSON report and the
/// arguments `az` received (empty if it never ran).
async fn preflight_delegated(
    env: &TestEnv,
    az: Az,
    overrides: &[(&str, &str)],
) -> (i32, serde_json::Value, Vec<String>) {
    let scratch = scratch_dir(env);
    std::fs::create_dir_all(&scratch).expect("scratch dir");
    let (ca_file, args_file) = (scratch.join("ca.pem"), scratch.join("args"));
    std::fs::write(&ca_file, env.emulator.ca_pem()).expect("CA written");
    let _ = std::fs::remove_file(&args_file);
    let standin = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/az-standin");
    let path = match az {
        Az::Missing => scratch.display().to_string(),
        _ => format!(
            "{}:{}",
            standin.display(),
            std::env::var("PATH").unwrap_or_default()
        ),
    };
    let mut cmd = tokio::process::Command::new(e2e::binary("onboardctl"));
    cmd.args(["preflight", "--delegated", "azure-cli", "--output", "json"])
        .envs(env.service_env(demo::ONBOARDCTL, overrides))
        .env("PATH", path)
        .env("AZ_STANDIN_AUTHORITY", env.emulator.authority_host())
        .env("AZ_STANDIN_CA_FILE", &ca_file)
        .env("AZ_STANDIN_TENANT", demo::TENANT_ID)
        .env("AZ_STANDIN_ARGS_FILE", &args_file)
        .env_remove("AZ_STANDIN_USERNAME")
        .stdin(std::process::Stdio::null());
    match az {
        Az::SignedIn | Az::StalePassword => {
            let password = match az {
                Az::SignedIn => demo::ADMIN_PASSWORD,
                _ => "an-old-password",
            };
            cmd.env("AZ_STANDIN_USERNAME", demo::UPN_ADMIN)
                .env("AZ_STANDIN_PASSWORD", password);
        }
        Az::SignedOut | Az::Missing => {}
    }
    let out = wait::within(
        "onboardctl preflight",
        Duration::from_secs(60),
        cmd.output(),
    )
    .await
    .expect("onboardctl runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "JSON output ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    let args = std::fs::read_to_string(&args_file)
        .map(|a| a.lines().map(str::to_owned).collect())
        .unwrap_or_default();
    (out.status.code().unwrap_or(-1), report, args)
}

/// Where a test keeps the stand-in's CA file and argument log; removed when the test passed.
fn scratch_dir(env: &TestEnv) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("{}.az", env.prefix))
}

/// The `automatic-enrollment` step of a JSON report: state, found, fix.
fn enrollment_step(report: &serde_json::Value) -> (String, String, String) {
    let step = report["steps"]
        .as_array()
        .expect("steps")
        .iter()
        .find(|s| s["step"] == "automatic-enrollment")
        .unwrap_or_else(|| panic!("no automatic-enrollment step in {report:#}"));
    let text = |k: &str| step[k].as_str().unwrap_or_default().to_owned();
    (text("state"), text("found"), text("fix"))
}

#[tokio::test]
async fn cli_preflight_delegated_judges_mdm_user_scope_all_selected_and_none() {
    let env = TestEnv::spawn("cli_preflight_delegated_scope").await;
    type Change = Box<dyn Fn(&mut Fixture)>;
    let join_group = format!("{} (the join group)", demo::GROUP_JOIN);
    // (case, tenant change, state, exit code, what `found` says, what `fix` says)
    let cases: Vec<(&str, Change, &str, i32, String, String)> = vec![
        (
            "all",
            Box::new(|f| f.mobile_device_management_policies[0].applies_to = PolicyScope::All),
            "ready",
            0,
            "MDM user scope: All".into(),
            String::new(),
        ),
        (
            "selected with the join group (the demo tenant)",
            Box::new(|_| {}),
            "ready",
            0,
            format!("Some, including {join_group}"),
            String::new(),
        ),
        (
            "selected with Sales only",
            Box::new(|f| {
                f.mobile_device_management_policies[0].included_group_ids =
                    vec![demo::GROUP_SALES.into()];
            }),
            "blocked",
            4,
            format!("Some ({}), but not {join_group}", demo::GROUP_SALES),
            format!("add {join_group} to MDM user scope > Some"),
        ),
        (
            "none",
            Box::new(|f| f.mobile_device_management_policies[0].applies_to = PolicyScope::None),
            "blocked",
            4,
            "MDM user scope: None".into(),
            "Automatic Enrollment".into(),
        ),
    ];

    for (case, change, state, code, found_says, fix_says) in cases {
        env.emulator.state().reset();
        change(&mut env.emulator.state().world().tenant);

        let (exit, report, args) = preflight_delegated(&env, Az::SignedIn, &[DEVICE_GROUP]).await;

        let (got_state, found, fix) = enrollment_step(&report);
        assert_eq!(
            (got_state.as_str(), exit),
            (state, code),
            "{case}: {found} -> {fix}"
        );
        assert!(found.contains(&found_says), "{case}: {found}");
        assert!(fix.contains(&fix_says), "{case}: {fix}");
        assert!(
            found.ends_with("(read as admin@contoso.test through the Azure CLI)"),
            "{case}: {found}"
        );
        assert_eq!(report["ready"], code == 0, "{case}");
        assert_eq!(args, expected_az_args(), "{case}: what az was asked");
        // The person's sign-in made the MDM read and nothing else; the app made every other read.
        let log = env.emulator.requests();
        let graph_reads: Vec<_> = log
            .iter()
            .filter(|r| r.template.starts_with("/v1.0") || r.template.starts_with("/beta"))
            .collect();
        let mdm_read = graph_reads
            .iter()
            .find(|r| r.template == "/beta/policies/mobileDeviceManagementPolicies/{id}")
            .unwrap_or_else(|| panic!("{case}: no MDM read in {log:#?}"));
        assert_eq!(
            (mdm_read.app_id.as_deref(), mdm_read.status),
            (Some(demo::AZURE_CLI), 200),
            "{case}"
        );
        assert!(
            graph_reads
                .iter()
                .filter(|r| r.seq != mdm_read.seq)
                .all(|r| r.app_id.as_deref() == Some(demo::ONBOARDCTL.client_id)),
            "{case}: {graph_reads:#?}"
        );
    }
    let _ = std::fs::remove_dir_all(scratch_dir(&env));
    env.finish().await;
}

#[tokio::test]
async fn cli_preflight_delegated_without_a_usable_az_sign_in_is_manual_and_names_the_cause() {
    let env = TestEnv::spawn("cli_preflight_delegated_manual").await;
    type Change = Box<dyn Fn(&mut Fixture)>;
    // (case, az, tenant change, what `found` says, what `fix` says)
    let cases: Vec<(&str, Az, Change, &str, &str)> = vec![
        (
            "signed out",
            Az::SignedOut,
            Box::new(|_| {}),
            "the Azure CLI is not signed in (az: Please run 'az login' to setup account.)",
            "run `az login --tenant 8f2d5c1e-4b7a-4e9c-9a31-6d0c2b7e5f10`",
        ),
        (
            "no az on PATH",
            Az::Missing,
            Box::new(|_| {}),
            "the Azure CLI (az) was not found",
            "install the Azure CLI",
        ),
        (
            "stale password",
            Az::StalePassword,
            Box::new(|_| {}),
            "AADSTS50126",
            "az account get-access-token",
        ),
        (
            "no Policy.Read.All consented for the Azure CLI",
            Az::SignedIn,
            Box::new(|f| {
                let cli = f
                    .apps
                    .iter_mut()
                    .find(|a| a.client_id == demo::AZURE_CLI)
                    .unwrap();
                cli.delegated_permissions = vec!["User.Read".into()];
            }),
            "(403): the token's delegated permissions (User.Read) lack Policy.Read.All",
            "consents Policy.Read.All (delegated) for the Azure CLI",
        ),
        (
            "an account without a reader role",
            Az::SignedIn,
            Box::new(|f| {
                let admin = f
                    .users
                    .iter_mut()
                    .find(|u| u.id == demo::USER_ADMIN)
                    .unwrap();
                admin.directory_roles.clear();
            }),
            "(403): the account needs a role that may read it",
            "Global Reader",
        ),
    ];

    for (case, az, change, found_says, fix_says) in cases {
        env.emulator.state().reset();
        change(&mut env.emulator.state().world().tenant);

        let (exit, report, _) = preflight_delegated(&env, az, &[DEVICE_GROUP]).await;

        let (state, found, fix) = enrollment_step(&report);
        assert_eq!(state, "manual", "{case}: {found} -> {fix}");
        assert!(found.contains(found_says), "{case}: {found}");
        assert!(fix.contains(fix_says), "{case}: {fix}");
        assert!(fix.contains(preflight::MDM_PORTAL_PATH), "{case}: {fix}");
        // A manual step is not something to fix: the ready demo tenant still exits 0.
        assert_eq!(
            (exit, &report["ready"]),
            (0, &serde_json::Value::Bool(true)),
            "{case}"
        );
    }
    let _ = std::fs::remove_dir_all(scratch_dir(&env));
    env.finish().await;
}

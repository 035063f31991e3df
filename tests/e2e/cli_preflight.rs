// MDM user scope through `--delegated azure-cli` and a stand-in `az`.
mod delegated;

use e2e::TestEnv;
use graph_emulator::Fixture;
use graph_emulator::demo;
use onboardctl::preflight::{self, AppRole};
use onboardctl::readiness::State;

/// The settings a ready demo tenant is checked with: the demo's join group and user group
/// (from the harness) and the Autopilot device group.
const DEVICE_GROUP: (&str, &str) = (
    "device_purchased.device_group_id",
    demo::GROUP_AUTOPILOT_DEVICES,
);

/// A gap: its name, how the tenant changes, setting overrides, the step that must be
/// blocked, and what its report must say.
type Case = (
    &'static str,
    Box<dyn Fn(&mut Fixture)>,
    Vec<(&'static str, &'static str)>,
    &'static str,
    &'static str,
);

fn state_of(report: &preflight::Preflight, step: &str) -> (State, String) {
    let s = report
        .steps
        .iter()
        .find(|s| s.step == step)
        .unwrap_or_else(|| panic!("no step {step} in {:#?}", report.steps));
    (s.state, format!("{} -> {:?}", s.found, s.fix))
}

#[tokio::test]
async fn cli_preflight_on_the_ready_demo_tenant_exits_0_and_names_the_manual_enrollment_check() {
    let env = TestEnv::spawn("cli_preflight_ready").await;

    let (code, stdout, stderr) = env
        .onboardctl(
            demo::ONBOARDCTL,
            &[DEVICE_GROUP],
            &["preflight", "--output", "json"],
        )
        .await;

    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(report["ready"], true);
    let steps = report["steps"].as_array().unwrap();
    for step in steps {
        assert!(
            step["state"] == "ready" || step["state"] == "manual",
            "{step}"
        );
    }
    let mdm = steps
        .iter()
        .find(|s| s["step"] == "automatic-enrollment")
        .expect("enrollment step");
    assert_eq!(mdm["state"], "manual");
    let fix = mdm["fix"].as_str().unwrap();
    assert!(
        fix.contains("Devices > Enrollment > Windows > Automatic Enrollment"),
        "{mdm}"
    );
    assert!(fix.contains("--delegated azure-cli"), "how to check: {mdm}");
    for name in [
        "join-setting",
        "user-device-quota",
        "join-group",
        "user-group",
        "device-group",
        "deployment-profile",
        "enrollment-status-page",
        "app-permissions",
    ] {
        assert!(
            steps
                .iter()
                .any(|s| s["step"] == name && s["state"] == "ready"),
            "{name} ready in {steps:#?}"
        );
    }
    env.finish().await;
}

#[tokio::test]
async fn cli_preflight_reports_each_missing_piece_of_the_tenant_and_exits_4() {
    let env = TestEnv::spawn("cli_preflight_gaps").await;
    type Change = fn(&mut Fixture);
    let enumerated = |groups: Vec<&str>| {
        serde_json::json!({
            "@odata.type": "#microsoft.graph.enumeratedDeviceRegistrationMembership",
            "users": [], "groups": groups
        })
    };
    let policy_none: Change = |f| {
        f.device_registration_policy.azure_ad_join["allowedToJoin"] =
            serde_json::json!({ "@odata.type": "#microsoft.graph.noDeviceRegistrationMembership" });
    };
    let unlisted = enumerated(vec![]);
    let cases: Vec<Case> = vec![
        (
            "policy none",
            Box::new(policy_none),
            vec![DEVICE_GROUP],
            "join-setting",
            "None",
        ),
        (
            "join group not listed",
            Box::new(move |f: &mut Fixture| {
                f.device_registration_policy.azure_ad_join["allowedToJoin"] = unlisted.clone();
            }),
            vec![DEVICE_GROUP],
            "join-setting",
            "not listed",
        ),
        (
            "low quota",
            Box::new(|f: &mut Fixture| f.device_registration_policy.user_device_quota = 2),
            vec![DEVICE_GROUP],
            "user-device-quota",
            "2",
        ),
        (
            "missing device group",
            Box::new(|_: &mut Fixture| {}),
            vec![(
                "device_purchased.device_group_id",
                "c1000000-0000-4000-8000-0000000000ff",
            )],
            "device-group",
            "does not exist",
        ),
        (
            "M365 group as device group",
            Box::new(|_: &mut Fixture| {}),
            vec![("device_purchased.device_group_id", demo::GROUP_M365)],
            "device-group",
            "not a security group",
        ),
        (
            "no deployment profile assignment",
            Box::new(|f: &mut Fixture| f.deployment_profiles[0].assigned_group_ids.clear()),
            vec![DEVICE_GROUP],
            "deployment-profile",
            "none assigned",
        ),
        (
            "no ESP assignment",
            Box::new(|f: &mut Fixture| f.enrollment_status_pages[0].assigned_group_ids.clear()),
            vec![DEVICE_GROUP],
            "enrollment-status-page",
            "no Enrollment Status Page",
        ),
        (
            "excess permission",
            Box::new(|f: &mut Fixture| {
                let app = f
                    .apps
                    .iter_mut()
                    .find(|a| a.client_id == demo::ONBOARDCTL.client_id)
                    .unwrap();
                app.permissions.push("Group.ReadWrite.All".into());
            }),
            vec![DEVICE_GROUP],
            "app-permissions",
            "more than needed: Group.ReadWrite.All",
        ),
    ];

    for (case, change, overrides, step, needle) in cases {
        // Arrange: the demo tenant with one piece missing.
        env.emulator.state().reset();
        change(&mut env.emulator.state().world().tenant);
        let settings = env.settings(demo::ONBOARDCTL, &overrides);

        let report = preflight::check(&settings, &[AppRole::Onboardctl], None)
            .await
            .expect("preflight ran");

        let (state, said) = state_of(&report, step);
        assert_eq!(state, State::Blocked, "{case}: {said}");
        assert!(said.contains(needle), "{case}: {said}");
        assert!(!report.ready, "{case}");
    }

    // The exit code and JSON of one gap, from the binary.
    env.emulator.state().reset();
    policy_none(&mut env.emulator.state().world().tenant);
    let (code, stdout, stderr) = env
        .onboardctl(
            demo::ONBOARDCTL,
            &[DEVICE_GROUP],
            &["preflight", "--output", "json"],
        )
        .await;
    assert_eq!(code, 4, "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(report["ready"], false);
    env.finish().await;
}

#[tokio::test]
async fn cli_preflight_judges_a_service_registration_against_that_services_needs() {
    let env = TestEnv::spawn("cli_preflight_service_app").await;
    // new-hire's demo app in join mode group: Policy.ReadWrite is more than the Read it needs.
    let settings = env.settings(demo::NEW_HIRE, &[DEVICE_GROUP]);

    let report = preflight::check(&settings, &[AppRole::NewHire], None)
        .await
        .expect("preflight ran");

    let (state, said) = state_of(&report, "app-permissions");
    assert_eq!(state, State::Blocked, "{said}");
    assert!(
        said.contains("more than needed: Policy.ReadWrite.DeviceConfiguration"),
        "{said}"
    );
    // In join mode users the same app holds exactly what it needs.
    let users_mode = env.settings(
        demo::NEW_HIRE,
        &[DEVICE_GROUP, ("new_hire.join_mode", "users")],
    );
    let report = preflight::check(&users_mode, &[AppRole::NewHire], None)
        .await
        .expect("preflight ran");
    assert_eq!(state_of(&report, "app-permissions").0, State::Ready);
    // What new-hire's app may not read (Intune configuration) is left to onboardctl's app.
    let (state, said) = state_of(&report, "deployment-profile");
    assert_eq!(state, State::Manual, "{said}");
    assert!(report.ready, "{:#?}", report.steps);
    env.finish().await;
}

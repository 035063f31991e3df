use e2e::TestEnv;
use graph_emulator::{EmulatorConfig, demo};
use onboardctl::readiness::State;
use onboardctl::status::{self, Query, Subject};

/// Katherine is in the join group and in Sales: with Sales as every hire's group, she is ready.
const SALES: (&str, &str) = ("new_hire.groups", demo::GROUP_SALES);
const DEVICE_GROUP: (&str, &str) = (
    "device_purchased.device_group_id",
    demo::GROUP_AUTOPILOT_DEVICES,
);

fn step<'a>(s: &'a Subject, name: &str) -> &'a onboardctl::readiness::Step {
    s.steps
        .iter()
        .find(|x| x.step == name)
        .unwrap_or_else(|| panic!("no step {name} in {:#?}", s.steps))
}

/// An emulator at real speed, so Alan's provisioning lag (300 s) outlasts the test.
async fn spawn_real_time(name: &str) -> TestEnv {
    TestEnv::spawn_with(
        name,
        EmulatorConfig {
            speed: 1.0,
            ..EmulatorConfig::default()
        },
    )
    .await
}

#[tokio::test]
async fn cli_status_of_a_ready_user_exits_0_with_every_step_ready() {
    let env = spawn_real_time("cli_status_ready_user").await;

    let (code, stdout, stderr) = env
        .onboardctl(
            demo::ONBOARDCTL,
            &[SALES],
            &["status", "--user", demo::UPN_KATHERINE, "--output", "json"],
        )
        .await;

    assert_eq!(code, 0, "{stdout}\n{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).expect("JSON output");
    assert_eq!(report["ready"], true);
    let subject = &report["subjects"][0];
    assert_eq!(subject["state"], "ready");
    let steps: Vec<&str> = subject["steps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["step"].as_str().unwrap())
        .collect();
    assert_eq!(
        steps,
        [
            "user-exists",
            "may-join-devices",
            &format!("member-of {}", demo::GROUP_SALES)
        ]
    );
    let found = subject["steps"][0]["found"].as_str().unwrap();
    assert!(
        found.contains("employeeId E1004"),
        "the id her trace is found by: {found}"
    );
    env.finish().await;
}

#[tokio::test]
async fn cli_status_says_pending_for_a_user_not_provisioned_or_not_yet_handled() {
    let env = spawn_real_time("cli_status_pending_user").await;
    let settings = env.settings(demo::ONBOARDCTL, &[]);

    let alan = status::report(
        &settings,
        Query::User(demo::UPN_ALAN.parse().unwrap()),
        status::today(),
    )
    .await
    .expect("status");
    let ada = status::report(
        &settings,
        Query::User(demo::UPN_ADA.parse().unwrap()),
        status::today(),
    )
    .await
    .expect("status");

    let alan = &alan.subjects[0];
    assert_eq!(alan.state, State::Pending);
    assert_eq!(step(alan, "user-exists").state, State::Pending);
    assert!(
        step(alan, "user-exists")
            .fix
            .as_deref()
            .unwrap()
            .contains("lag")
    );
    let ada = &ada.subjects[0];
    assert_eq!(ada.state, State::Pending);
    assert_eq!(step(ada, "user-exists").state, State::Ready);
    assert_eq!(step(ada, "may-join-devices").state, State::Pending);
    let (code, _, stderr) = env
        .onboardctl(demo::ONBOARDCTL, &[], &["status", "--user", demo::UPN_ADA])
        .await;
    assert_eq!(code, 4, "not ready exits 4: {stderr}");
    env.finish().await;
}

#[tokio::test]
async fn cli_status_says_blocked_when_the_policy_lets_nobody_join() {
    let env = spawn_real_time("cli_status_blocked_user").await;
    env.emulator
        .state()
        .world()
        .tenant
        .device_registration_policy
        .azure_ad_join["allowedToJoin"] =
        serde_json::json!({ "@odata.type": "#microsoft.graph.noDeviceRegistrationMembership" });
    let settings = env.settings(demo::ONBOARDCTL, &[SALES]);

    let report = status::report(
        &settings,
        Query::User(demo::UPN_KATHERINE.parse().unwrap()),
        status::today(),
    )
    .await
    .expect("status");

    let k = &report.subjects[0];
    assert_eq!(k.state, State::Blocked);
    let join = step(k, "may-join-devices");
    assert_eq!(join.state, State::Blocked);
    assert!(join.found.contains("None"), "{}", join.found);
    assert!(
        join.fix.as_deref().unwrap().contains("Device settings"),
        "{join:?}"
    );
    env.finish().await;
}

#[tokio::test]
async fn cli_status_from_an_hr_csv_judges_each_hire_against_their_start_date() {
    let env = spawn_real_time("cli_status_hr_csv").await;
    let settings = env.settings(demo::ONBOARDCTL, &[SALES]);
    let today = time::macros::date!(2026 - 11 - 25);
    let csv = "employeeId,userPrincipalName,displayName,department,startDate\n\
               E1004,katherine@contoso.test,Katherine Johnson,Sales,2026-12-01\n\
               E1001,ada@contoso.test,Ada Lovelace,Engineering,2026-12-01\n\
               E1003,alan@contoso.test,Alan Turing,Engineering,2026-11-20\n\
               E1009,not-a-upn,Bad Row,Sales,2026-12-01\n";
    let path = std::env::temp_dir().join(format!("{}.hires.csv", env.prefix));
    std::fs::write(&path, csv).unwrap();

    let report = status::report(&settings, Query::Csv(path.clone()), today)
        .await
        .expect("status");

    let in_time: Vec<(&str, Option<&str>)> = report
        .subjects
        .iter()
        .map(|s| (s.id.as_str(), s.in_time.as_deref()))
        .collect();
    assert_eq!(in_time[0], (demo::UPN_KATHERINE, Some("ready")));
    assert_eq!(in_time[1].0, demo::UPN_ADA);
    assert!(
        in_time[1].1.unwrap().starts_with("on track: 6 days"),
        "{in_time:?}"
    );
    assert_eq!(in_time[2].0, demo::UPN_ALAN);
    assert!(in_time[2].1.unwrap().starts_with("late"), "{in_time:?}");
    assert_eq!(report.rejected.len(), 1, "the bad row is reported by line");
    assert!(!report.ready);
    let _ = std::fs::remove_file(&path);
    env.finish().await;
}

#[tokio::test]
async fn cli_status_of_devices_registered_and_unknown() {
    let env = spawn_real_time("cli_status_devices").await;
    let settings = env.settings(demo::ONBOARDCTL, &[DEVICE_GROUP]);

    let known = status::report(
        &settings,
        Query::Serial(demo::AUTOPILOT_SERIAL.parse().unwrap()),
        status::today(),
    )
    .await
    .expect("status");
    let unknown = status::report(
        &settings,
        Query::Serial("NOPE0001".parse().unwrap()),
        status::today(),
    )
    .await
    .expect("status");

    let d = &known.subjects[0];
    assert_eq!(d.state, State::Ready, "{:#?}", d.steps);
    for name in [
        "autopilot-registered",
        "group-tag",
        "entra-device",
        "device-group",
        "deployment-profile",
        "assigned-user",
    ] {
        assert_eq!(step(d, name).state, State::Ready, "{name}");
    }
    assert!(step(d, "group-tag").found.contains("Sales"));
    assert!(step(d, "assigned-user").found.contains(demo::UPN_KATHERINE));
    let u = &unknown.subjects[0];
    assert_eq!(u.state, State::Pending);
    assert_eq!(step(u, "autopilot-registered").state, State::Pending);
    env.finish().await;
}

#[tokio::test]
async fn cli_status_from_a_hardware_hash_csv_checks_each_device_and_its_assigned_user() {
    let env = spawn_real_time("cli_status_hash_csv").await;
    let settings = env.settings(demo::ONBOARDCTL, &[DEVICE_GROUP]);
    let csv = format!(
        "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User\r\n\
         {serial},,{hash},Sales,{upn}\r\n\
         NEW0000001,,{new_hash},Sales,{upn}\r\n",
        serial = demo::AUTOPILOT_SERIAL,
        hash = demo::hardware_hash(demo::AUTOPILOT_SERIAL),
        new_hash = demo::hardware_hash("NEW0000001"),
        upn = demo::UPN_ADA,
    );
    let path = std::env::temp_dir().join(format!("{}.hashes.csv", env.prefix));
    std::fs::write(&path, csv).unwrap();

    let report = status::report(&settings, Query::Csv(path.clone()), status::today())
        .await
        .expect("status");

    assert_eq!(report.subjects.len(), 2, "{:#?}", report.rejected);
    // Registered, but assigned to Katherine while the CSV says Ada: an admin must decide.
    let known = &report.subjects[0];
    assert_eq!(known.id, demo::AUTOPILOT_SERIAL);
    let assigned = step(known, "assigned-user");
    assert_eq!(assigned.state, State::Blocked, "{assigned:?}");
    assert!(assigned.found.contains(demo::UPN_KATHERINE));
    // Not imported yet: pending on the purchase.
    let new = &report.subjects[1];
    assert_eq!(new.state, State::Pending);
    assert_eq!(step(new, "autopilot-registered").state, State::Pending);
    let _ = std::fs::remove_file(&path);
    env.finish().await;
}

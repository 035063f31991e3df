//! The README's main job, run as a test: the sample files go through every service and the
//! summary shows every hire ready and every device registered and assigned, even with a
//! message an earlier run left in the queues.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use onboard_demo::{DemoOptions, run};
use onboardctl::output::Output;
use shared::amqp::{Publisher, topology};
use shared::config::Service;
use shared::events::{EmployeeHired, Envelope};

/// A hire an earlier run left in the new-hire queue (as `scripts/stack down` can, with retries
/// still parked): the demo's services handle it too, and its outcome is not one of the demo's.
async fn leave_a_stale_hire(prefix: &str) {
    let env: HashMap<String, String> = [
        ("ONBOARDING__AMQP__EXCHANGE", prefix.to_owned()),
        (
            "ONBOARDING__AMQP__QUEUES__NEW_HIRE",
            format!("{prefix}.new-hire"),
        ),
        ("ONBOARDING__AMQP__DELAY_TIERS", "1s,5s".to_owned()), // the demo's
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let settings = shared::config::load(None, env).expect("settings");
    let publisher = Publisher::connect(&settings.amqp, &format!("{prefix}.stale"))
        .await
        .expect("broker");
    topology::declare_exchange(publisher.channel(), prefix)
        .await
        .expect("exchange");
    let spec = e2e::consumer_spec(Service::NewHire, &settings.amqp).expect("a consumer");
    topology::declare_topology(publisher.channel(), &settings.amqp, &spec)
        .await
        .expect("topology");
    let hire = EmployeeHired {
        employee_id: "E1001".parse().unwrap(),
        user_principal_name: "ada@contoso.test".parse().unwrap(),
        display_name: None,
        department: Some("Engineering".into()),
        start_date: None,
    };
    let stale = Envelope::of("urn:e2e:stale", hire);
    publisher.publish(prefix, &stale).await.expect("published");
    publisher.close().await.ok();
}

#[tokio::test]
async fn the_demo_registers_and_assigns_every_sample_device_and_readies_every_hire() {
    let prefix = format!("t.demo.{:08x}", rand::random::<u32>());
    let opts = DemoOptions {
        examples: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples")),
        speed: e2e::TEST_SPEED,
        prefix: prefix.clone(),
        timeout: Duration::from_secs(60).mul_f64(e2e::wait::patience()),
    };

    leave_a_stale_hire(&prefix).await;

    let summary = run(opts, Output::Json).await.expect("the demo runs");

    assert_eq!(summary.published, 11, "4 hires, 4 purchases, 3 shipments");
    assert_eq!(summary.without_outcome, 0, "{summary:?}");
    assert_eq!(summary.outcomes.get("onboarding.user.ready"), Some(&4));
    assert_eq!(
        summary.outcomes.get("onboarding.device.registered"),
        Some(&4)
    );
    assert_eq!(summary.outcomes.get("onboarding.device.assigned"), Some(&3));
    let hire = |upn: &str| {
        summary
            .hires
            .iter()
            .find(|h| h.user_principal_name == upn)
            .expect(upn)
    };
    let hired = [
        "ada@contoso.test",
        "grace@contoso.test",
        "katherine@contoso.test",
        "alan@contoso.test",
    ];
    for upn in hired {
        assert!(hire(upn).may_join_devices, "{upn}");
    }
    assert_eq!(
        summary.hires.len(),
        hired.len(),
        "the HR file's hires, no other user: {:?}",
        summary.hires
    );
    let device = |serial: &str| {
        summary
            .devices
            .iter()
            .find(|d| d.serial_number == serial)
            .expect(serial)
    };
    for (serial, user) in [
        ("CZC2401A7Q", "ada@contoso.test"),
        ("PF-3A7K2M", "grace@contoso.test"),
        ("5CG3301XYZ", "katherine@contoso.test"),
    ] {
        assert_eq!(device(serial).assigned_user, user);
        assert!(
            device(serial).in_device_group,
            "{serial} in the device group"
        );
    }
    assert!(
        device("MXL4412QRS").in_device_group,
        "unassigned devices are registered too"
    );
    e2e::broker::delete_prefixed(&prefix).await;
}

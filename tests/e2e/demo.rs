//! The README's main job, run as a test: the sample files go through every service and the
//! summary shows every hire ready and every device registered and assigned.

use std::path::PathBuf;
use std::time::Duration;

use onboardctl::demo::{DemoOptions, run};
use onboardctl::output::Output;

#[tokio::test]
async fn the_demo_registers_and_assigns_every_sample_device_and_readies_every_hire() {
    let prefix = format!("t.demo.{:08x}", rand::random::<u32>());
    let opts = DemoOptions {
        examples: PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples")),
        speed: e2e::TEST_SPEED,
        prefix: prefix.clone(),
        timeout: Duration::from_secs(60).mul_f64(e2e::wait::patience()),
    };

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
    for upn in [
        "ada@contoso.test",
        "grace@contoso.test",
        "katherine@contoso.test",
        "alan@contoso.test",
    ] {
        assert!(hire(upn).may_join_devices, "{upn}");
    }
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

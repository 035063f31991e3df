//! The three services together, events in the worst order: a shipment before its purchase, a
//! hire after the shipment of their device, a user provisioned late. Everything converges and
//! nothing is dead-lettered, because every step waits on the broker for what it needs.

use std::collections::BTreeMap;
use std::time::Duration;

use device_purchased::handler::DeviceRegistered;
use device_shipped::handler::DeviceAssigned;
use e2e::TestEnv;
use graph_emulator::demo;
use new_hire::handler::UserReady;
use shared::config::Service;
use shared::events::Event as _;

const WITHIN: Duration = Duration::from_secs(60);

#[tokio::test]
async fn shipment_before_purchase_and_hire_after_shipment_all_converge() {
    let env = TestEnv::spawn("events_out_of_order").await;
    let hires = env.start_new_hire(env.settings(demo::NEW_HIRE, &[])).await;
    let shipped = env
        .start_device_shipped(env.settings(demo::DEVICE_SHIPPED, &[]))
        .await;
    let purchased = env
        .start_device_purchased(env.purchased_settings(&[]))
        .await;
    let dead: Vec<_> = futures::future::join_all(
        [
            Service::NewHire,
            Service::DevicePurchased,
            Service::DeviceShipped,
        ]
        .map(|s| env.dead_letters(s)),
    )
    .await;

    // Alan is not provisioned yet (a lag) and his device is not bought yet.
    env.publish_shipment(TestEnv::shipment("PF-ORDER-77", demo::UPN_ALAN))
        .await;
    e2e::wait::eventually(
        "the shipment to be retried at least once",
        WITHIN,
        || async {
            let lookups = env
                .emulator
                .requests()
                .iter()
                .filter(|r| r.template.ends_with("/windowsAutopilotDeviceIdentities"))
                .count();
            (lookups >= 2).then_some(())
        },
    )
    .await;
    env.publish_purchase(TestEnv::purchase("PF-ORDER-77", "ORDER-77"))
        .await;
    env.publish_hire(TestEnv::hire(demo::UPN_ALAN, "E1003", Some("Engineering")))
        .await;

    let outcomes = env.outcomes.take(3, "one outcome per event", WITHIN).await;
    let mut by_type = BTreeMap::new();
    for o in &outcomes {
        by_type.insert(o.routing_key.clone(), o.json()["data"].clone());
    }
    assert_eq!(
        by_type.keys().map(String::as_str).collect::<Vec<_>>(),
        [
            DeviceAssigned::TYPE,
            DeviceRegistered::TYPE,
            UserReady::TYPE
        ]
    );
    assert_eq!(
        by_type[DeviceAssigned::TYPE]["userPrincipalName"],
        demo::UPN_ALAN
    );
    assert_eq!(by_type[UserReady::TYPE]["userId"], demo::USER_ALAN);
    let tenant = env.emulator.state().snapshot();
    let device = tenant
        .autopilot_devices
        .iter()
        .find(|d| d.serial_number == "PF-ORDER-77")
        .expect("registered");
    assert_eq!(device.user_principal_name, demo::UPN_ALAN);
    for tap in &dead {
        assert!(tap.drain().await.is_empty(), "nothing dead-lettered");
    }
    for service in [hires, shipped, purchased] {
        service.stop().await.expect("clean stop");
    }
    env.finish().await;
}

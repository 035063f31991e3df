use graph_emulator::demo::{GROUP_JOIN, GROUP_SALES, NEW_HIRE, ONBOARDCTL, USER_DEVICE_QUOTA};
use serde_json::{Value, json};

use crate::helpers::spawn;

const POLICY: &str = "/v1.0/policies/deviceRegistrationPolicy";

/// GET → keep only the updatable properties (what a careful client PUTs back).
fn updatable(mut p: Value) -> Value {
    let o = p.as_object_mut().unwrap();
    for k in ["@odata.context", "id", "displayName", "description"] {
        o.remove(k);
    }
    p
}

#[tokio::test]
async fn s1_get_returns_the_current_shape_and_no_legacy_fields() {
    let e = spawn().await;
    let r = e.get(ONBOARDCTL, POLICY).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["userDeviceQuota"], USER_DEVICE_QUOTA);
    assert_eq!(
        r.body["azureADJoin"]["allowedToJoin"]["@odata.type"],
        "#microsoft.graph.enumeratedDeviceRegistrationMembership"
    );
    assert_eq!(
        r.body["azureADJoin"]["allowedToJoin"]["groups"],
        json!([GROUP_JOIN])
    );
    for legacy in ["appliesTo", "allowedUsers", "allowedGroups"] {
        assert!(
            !r.body.to_string().contains(legacy),
            "{legacy} must not be emitted"
        );
    }
    assert!(
        r.body["description"].as_str().unwrap().contains("intial"),
        "the real typo is kept"
    );
    assert!(r.header("etag").is_none(), "no ETag: last writer wins");
}

#[tokio::test]
async fn s1_a_put_without_user_device_quota_resets_it_to_zero() {
    let e = spawn().await;
    let mut p = updatable(e.get(NEW_HIRE, POLICY).await.body);
    p.as_object_mut().unwrap().remove("userDeviceQuota");
    let r = e.call(NEW_HIRE, "PUT", POLICY, Some(p)).await;
    assert_eq!(r.status, 200);
    assert_eq!(r.body["userDeviceQuota"], 0);
    assert_eq!(e.get(NEW_HIRE, POLICY).await.body["userDeviceQuota"], 0);
}

#[tokio::test]
async fn s1_get_modify_put_keeps_everything_else() {
    let e = spawn().await;
    let mut p = updatable(e.get(NEW_HIRE, POLICY).await.body);
    p["azureADJoin"]["allowedToJoin"]["groups"] = json!([GROUP_JOIN, GROUP_SALES]);
    let r = e.call(NEW_HIRE, "PUT", POLICY, Some(p)).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let after = e.get(NEW_HIRE, POLICY).await.body;
    assert_eq!(after["userDeviceQuota"], USER_DEVICE_QUOTA);
    assert_eq!(
        after["azureADJoin"]["allowedToJoin"]["groups"],
        json!([GROUP_JOIN, GROUP_SALES])
    );
    assert_eq!(
        e.emu
            .state()
            .writes_to("/policies/deviceRegistrationPolicy"),
        1
    );
}

#[tokio::test]
async fn s1_azure_ad_registration_cannot_be_changed_and_legacy_fields_are_refused() {
    let e = spawn().await;
    let base = updatable(e.get(NEW_HIRE, POLICY).await.body);
    let mut changed = base.clone();
    changed["azureADRegistration"]["allowedToRegister"] =
        json!({ "@odata.type": "#microsoft.graph.noDeviceRegistrationMembership" });
    assert_eq!(
        e.call(NEW_HIRE, "PUT", POLICY, Some(changed)).await.status,
        400
    );
    let mut legacy = base.clone();
    legacy["azureADJoin"]["appliesTo"] = json!("2");
    legacy["appliesTo"] = json!("2");
    assert_eq!(
        e.call(NEW_HIRE, "PUT", POLICY, Some(legacy)).await.status,
        400
    );
    let mut bad_type = base;
    bad_type["azureADJoin"]["allowedToJoin"] =
        json!({ "@odata.type": "#microsoft.graph.someDeviceRegistrationMembership" });
    assert_eq!(
        e.call(NEW_HIRE, "PUT", POLICY, Some(bad_type)).await.status,
        400
    );
}

use graph_emulator::demo::{
    DEVICE_SHIPPED, DemoApp, GROUP_JOIN, GROUP_SALES, NEW_HIRE, ONBOARDCTL, UPN_KATHERINE,
    USER_ADA, USER_GUEST, USER_KATHERINE,
};
use graph_emulator::fixture::{AppRegistration, TapTarget};
use serde_json::{Value, json};

use crate::helpers::{Emu, grant_first_day_permissions, spawn_with};

const POLICY: &str = "/v1.0/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass";

fn taps(user: &str) -> String {
    format!("/v1.0/users/{user}/authentication/temporaryAccessPassMethods")
}

/// An admin API write (`PUT`/`POST /_emulator/{path}`): status and JSON body (Null when empty).
pub async fn admin_send(e: &Emu, method: &str, path: &str, body: Value) -> (u16, Value) {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
    let r = e
        .http
        .request(method, e.url(&format!("/_emulator/{path}")))
        .json(&body)
        .send()
        .await
        .expect("admin request");
    let status = r.status().as_u16();
    (status, r.json().await.unwrap_or(Value::Null))
}

/// The emulated clock's `now` (`GET /_emulator/clock`).
pub async fn emulated_now(e: &Emu) -> time::OffsetDateTime {
    let clock = e.admin("clock").await;
    parse(clock["now"].as_str().unwrap())
}

pub fn parse(text: &str) -> time::OffsetDateTime {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|e| panic!("{text}: {e}"))
}

pub fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap()
}

/// An app holding only the per-method permission (graph-behaviour §16: UNVERIFIED that it suffices).
const TAP_ONLY: DemoApp = DemoApp {
    name: "tap-only",
    client_id: "a1000000-0000-4000-8000-0000000000f1",
    client_secret: "emu-tap-only-secret",
    wif_subject: None,
};

#[tokio::test]
async fn s16_a_pass_shows_its_value_only_on_create_and_a_second_create_replaces_it() {
    let e = spawn_with(|c| {
        grant_first_day_permissions(c);
        c.fixture.apps.push(AppRegistration {
            display_name: TAP_ONLY.name.into(),
            client_id: TAP_ONLY.client_id.into(),
            client_secret: Some(TAP_ONLY.client_secret.into()),
            permissions: vec!["UserAuthMethod-TAP.ReadWrite.All".into()],
            public_client: false,
            delegated_permissions: Vec::new(),
            client_secret_expired: false,
            federated_credentials: Vec::new(),
        })
    })
    .await;
    let start = (emulated_now(&e).await + time::Duration::days(3))
        .replace_nanosecond(0)
        .unwrap();
    let body =
        json!({ "startDateTime": rfc3339(start), "lifetimeInMinutes": 60, "isUsableOnce": false });
    let first = e.call(NEW_HIRE, "POST", &taps(USER_ADA), Some(body)).await;
    assert_eq!(first.status, 201, "{}", first.body);
    assert_eq!(
        first.body["@odata.type"],
        "#microsoft.graph.temporaryAccessPassAuthenticationMethod"
    );
    let value = first.body["temporaryAccessPass"].as_str().unwrap();
    assert_eq!(value.chars().count(), 8, "the policy's defaultLength");
    assert_eq!(first.body["startDateTime"], rfc3339(start));
    assert_eq!(
        (
            &first.body["lifetimeInMinutes"],
            &first.body["isUsableOnce"],
            &first.body["isUsable"],
            &first.body["methodUsabilityReason"]
        ),
        (
            &json!(60),
            &json!(false),
            &json!(false),
            &json!("NotYetValid")
        )
    );
    let id = first.body["id"].as_str().unwrap().to_string();

    let list = e.get(NEW_HIRE, &taps(USER_ADA)).await;
    assert_eq!(list.status, 200);
    let items = list.body["value"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], id.as_str());
    assert_eq!(
        items[0]["temporaryAccessPass"],
        Value::Null,
        "value on create only"
    );
    let one = e.get(NEW_HIRE, &format!("{}/{id}", taps(USER_ADA))).await;
    assert_eq!(
        (one.status, &one.body["temporaryAccessPass"]),
        (200, &Value::Null)
    );

    // graph-behaviour §16: a second create replaces the pass (201, new id and value, one item).
    let second = e.call(NEW_HIRE, "POST", &taps(USER_ADA), None).await;
    assert_eq!(second.status, 201, "{}", second.body);
    let (id2, value2) = (
        second.body["id"].as_str().unwrap(),
        second.body["temporaryAccessPass"].as_str().unwrap(),
    );
    assert_ne!((id2, value2), (id.as_str(), value));
    assert_eq!(
        (
            &second.body["isUsable"],
            &second.body["methodUsabilityReason"]
        ),
        (&json!(true), &json!("EnabledByPolicy")),
        "without a start the pass works at once"
    );
    assert_eq!(second.body["startDateTime"], second.body["createdDateTime"]);
    assert_eq!(second.body["lifetimeInMinutes"], 60, "the policy's default");
    let list = e.get(NEW_HIRE, &taps(USER_ADA)).await;
    assert_eq!(list.body["value"].as_array().unwrap().len(), 1);
    assert_eq!(list.body["value"][0]["id"], id2);
    let old = e.get(NEW_HIRE, &format!("{}/{id}", taps(USER_ADA))).await;
    assert_eq!(old.status, 404);

    // The per-method permission alone is accepted (UNVERIFIED in graph-behaviour §16).
    let by_upn = e.call(TAP_ONLY, "POST", &taps(UPN_KATHERINE), None).await;
    assert_eq!(by_upn.status, 201, "{}", by_upn.body);
    let del = e
        .call(
            NEW_HIRE,
            "DELETE",
            &format!("{}/{id2}", taps(USER_ADA)),
            None,
        )
        .await;
    assert_eq!((del.status, &del.body), (204, &Value::Null));
    assert_eq!(
        e.get(NEW_HIRE, &taps(USER_ADA)).await.body["value"],
        json!([])
    );
    let again = e
        .call(
            NEW_HIRE,
            "DELETE",
            &format!("{}/{id2}", taps(USER_ADA)),
            None,
        )
        .await;
    assert_eq!(
        (again.status, again.code()),
        (404, "Request_ResourceNotFound")
    );

    for (method, app) in [
        ("POST", ONBOARDCTL),
        ("GET", ONBOARDCTL),
        ("POST", DEVICE_SHIPPED),
    ] {
        let denied = e.call(app, method, &taps(USER_KATHERINE), None).await;
        assert_eq!(
            (denied.status, denied.code()),
            (403, "Authorization_RequestDenied"),
            "{method} as {}",
            app.name
        );
    }
    let nobody = e
        .call(NEW_HIRE, "POST", &taps("nobody%40contoso.test"), None)
        .await;
    assert_eq!(
        (nobody.status, nobody.code()),
        (404, "Request_ResourceNotFound")
    );
    assert!(
        nobody
            .message()
            .starts_with("Resource 'nobody%40contoso.test'")
    );
    assert_eq!(e.emu.writes_to("/temporaryAccessPassMethods"), 3);
}

#[tokio::test]
async fn s16_the_policy_states_its_bounds_and_a_lifetime_outside_them_is_400_bad_request() {
    let e = spawn_with(grant_first_day_permissions).await;
    let expected = json!({
        "@odata.type": "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration",
        "id": "TemporaryAccessPass", "state": "enabled", "defaultLifetimeInMinutes": 60,
        "defaultLength": 8, "minimumLifetimeInMinutes": 60, "maximumLifetimeInMinutes": 480,
        "isUsableOnce": false,
        "includeTargets": [{ "targetType": "group", "id": "all_users", "isRegistrationRequired": false }],
        "excludeTargets": []
    });
    for (app, path) in [
        (ONBOARDCTL, POLICY.to_string()),
        (
            NEW_HIRE,
            POLICY.replace("TemporaryAccessPass", "temporaryAccessPass"),
        ),
    ] {
        let r = e.get(app, &path).await;
        assert_eq!((r.status, &r.body), (200, &expected), "{path}");
    }
    assert_eq!(e.get(DEVICE_SHIPPED, POLICY).await.status, 403);
    let other = e
        .get(ONBOARDCTL, &POLICY.replace("TemporaryAccessPass", "Fido2"))
        .await;
    assert_eq!(other.status, 404, "only TAP's configuration is modelled");

    let short = e
        .call(
            NEW_HIRE,
            "POST",
            &taps(USER_ADA),
            Some(json!({ "lifetimeInMinutes": 30 })),
        )
        .await;
    let message = "Invalid LifetimeInMinutes specified. The valid range between 60 and 480.";
    assert_eq!(
        (short.status, short.code(), short.message()),
        (400, "badRequest", message)
    );
    assert_eq!(short.body["error"]["innerError"]["message"], message);
    assert!(short.body["error"]["innerError"]["request-id"].is_string());

    // The admin API changes the policy; the bounds and defaults follow.
    let mut policy = e.admin("temporaryAccessPassPolicy").await;
    policy["minimumLifetimeInMinutes"] = json!(120);
    policy["maximumLifetimeInMinutes"] = json!(1440);
    policy["defaultLifetimeInMinutes"] = json!(240);
    policy["isUsableOnce"] = json!(true);
    policy["defaultLength"] = json!(12);
    let (status, _) = admin_send(&e, "PUT", "temporaryAccessPassPolicy", policy.clone()).await;
    assert_eq!(status, 204);
    let served = e.get(ONBOARDCTL, POLICY).await.body;
    assert_eq!(
        (
            &served["minimumLifetimeInMinutes"],
            &served["maximumLifetimeInMinutes"],
            &served["defaultLifetimeInMinutes"],
            &served["isUsableOnce"]
        ),
        (&json!(120), &json!(1440), &json!(240), &json!(true))
    );
    let defaults = e
        .call(NEW_HIRE, "POST", &taps(USER_ADA), Some(json!({})))
        .await;
    assert_eq!(defaults.status, 201, "{}", defaults.body);
    assert_eq!(
        (
            &defaults.body["lifetimeInMinutes"],
            &defaults.body["isUsableOnce"]
        ),
        (&json!(240), &json!(true))
    );
    assert_eq!(
        defaults.body["temporaryAccessPass"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        12
    );
    let sixty = e
        .call(
            NEW_HIRE,
            "POST",
            &taps(USER_ADA),
            Some(json!({ "lifetimeInMinutes": 60 })),
        )
        .await;
    assert_eq!(
        (sixty.status, sixty.message()),
        (
            400,
            "Invalid LifetimeInMinutes specified. The valid range between 120 and 1440."
        )
    );
    let multi = e
        .call(
            NEW_HIRE,
            "POST",
            &taps(USER_ADA),
            Some(json!({ "isUsableOnce": false })),
        )
        .await;
    assert_eq!(
        (multi.status, multi.code()),
        (400, "badRequest"),
        "policy makes passes one-time"
    );
    let typo = e
        .call(
            NEW_HIRE,
            "POST",
            &taps(USER_ADA),
            Some(json!({ "lifetimeInMinute": 240 })),
        )
        .await;
    assert_eq!(
        (typo.status, typo.code()),
        (400, "badRequest"),
        "unknown property"
    );

    policy["minimumLifetimeInMinutes"] = json!(5);
    let (status, err) = admin_send(&e, "PUT", "temporaryAccessPassPolicy", policy).await;
    assert_eq!(status, 400);
    assert!(
        err["error"]
            .as_str()
            .unwrap()
            .contains("minimumLifetimeInMinutes"),
        "{err}"
    );
}

#[tokio::test]
async fn s16_a_disabled_policy_or_a_user_outside_its_targets_refuses_the_create_and_guests_get_no_pass()
 {
    let e = spawn_with(|c| {
        grant_first_day_permissions(c);
        let p = &mut c.fixture.temporary_access_pass_policy;
        p.include_targets = vec![TapTarget {
            target_type: "group".into(),
            id: GROUP_JOIN.into(),
            is_registration_required: false,
        }];
    })
    .await;
    let refusal = "Converged UserCredentialPolicy does not allow creating or updating this authentication method. AuthMethodType [TemporaryAccessPass].";
    let member = e.call(NEW_HIRE, "POST", &taps(USER_KATHERINE), None).await;
    assert_eq!(
        member.status, 201,
        "Katherine is in the join group: {}",
        member.body
    );
    let outside = e.call(NEW_HIRE, "POST", &taps(USER_ADA), None).await;
    assert_eq!(
        (outside.status, outside.code(), outside.message()),
        (400, "badRequest", refusal)
    );
    let guest = e.call(NEW_HIRE, "POST", &taps(USER_GUEST), None).await;
    assert_eq!(
        (guest.status, guest.message()),
        (
            400,
            "Temporary Access Pass cannot be added to an external guest user."
        )
    );

    let mut policy = e.admin("temporaryAccessPassPolicy").await;
    policy["excludeTargets"] = json!([{ "targetType": "group", "id": GROUP_SALES }]);
    assert_eq!(
        admin_send(&e, "PUT", "temporaryAccessPassPolicy", policy.clone())
            .await
            .0,
        204
    );
    let excluded = e.call(NEW_HIRE, "POST", &taps(USER_KATHERINE), None).await;
    assert_eq!(
        (excluded.status, excluded.message()),
        (400, refusal),
        "Katherine is in Sales"
    );
    let list = e.get(NEW_HIRE, &taps(USER_KATHERINE)).await;
    assert_eq!(
        (
            &list.body["value"][0]["isUsable"],
            &list.body["value"][0]["methodUsabilityReason"]
        ),
        (&json!(false), &json!("DisabledByPolicy")),
        "the earlier pass stays, unusable"
    );

    policy["excludeTargets"] = json!([]);
    policy["state"] = json!("disabled");
    assert_eq!(
        admin_send(&e, "PUT", "temporaryAccessPassPolicy", policy)
            .await
            .0,
        204
    );
    let disabled = e.call(NEW_HIRE, "POST", &taps(USER_KATHERINE), None).await;
    assert_eq!((disabled.status, disabled.message()), (400, refusal));
    assert_eq!(e.get(ONBOARDCTL, POLICY).await.body["state"], "disabled");
}

#[tokio::test]
async fn s16_a_known_value_is_handed_out_and_a_one_time_pass_is_used_up_by_its_sign_in() {
    let e = spawn_with(grant_first_day_permissions).await;
    const KNOWN: &str = "KnownTap!42";
    let (status, _) = admin_send(&e, "PUT", "temporaryAccessPassValues", json!([KNOWN])).await;
    assert_eq!(status, 204);
    let created = e
        .call(
            NEW_HIRE,
            "POST",
            &taps(USER_ADA),
            Some(json!({ "isUsableOnce": true })),
        )
        .await;
    assert_eq!(
        created.body["temporaryAccessPass"], KNOWN,
        "{}",
        created.body
    );
    let sign_in = |pass: &'static str| {
        let e = &e;
        async move {
            admin_send(
                e,
                "POST",
                "temporaryAccessPassSignIn",
                json!({ "user": USER_ADA, "pass": pass }),
            )
            .await
            .1
        }
    };
    assert_eq!(
        sign_in("wrong").await,
        json!({ "accepted": false, "methodUsabilityReason": "WrongPass" })
    );
    assert_eq!(
        sign_in(KNOWN).await,
        json!({ "accepted": true, "methodUsabilityReason": "EnabledByPolicy" })
    );
    assert_eq!(
        sign_in(KNOWN).await,
        json!({ "accepted": false, "methodUsabilityReason": "OneTimeUsed" })
    );
    let list = e.get(NEW_HIRE, &taps(USER_ADA)).await;
    assert_eq!(
        list.body["value"][0]["methodUsabilityReason"],
        "OneTimeUsed"
    );
    let next = e.call(NEW_HIRE, "POST", &taps(USER_ADA), None).await;
    assert_ne!(
        next.body["temporaryAccessPass"], KNOWN,
        "the queue held one value"
    );
    let log = serde_json::to_string(&e.admin("requests").await).unwrap();
    assert!(!log.contains(KNOWN), "the request log never carries a pass");
}

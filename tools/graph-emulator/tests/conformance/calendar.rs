use std::time::{Duration, Instant, SystemTime};

use graph_emulator::demo::{NEW_HIRE, USER_ADA};
use graph_emulator::fixture::User;
use serde_json::json;

use crate::auth_methods::{admin_send, emulated_now, parse, rfc3339};
use crate::helpers::{eventually, grant_first_day_permissions, spawn_with};

const DAY: f64 = 86_400.0;

fn hire(n: u32, provision_after_days: f64) -> User {
    let json = json!({
        "id": format!("b1000000-0000-4000-8000-0000000009{n:02}"),
        "userPrincipalName": format!("hire{n}@contoso.test"),
        "displayName": format!("Hire {n}"),
        "employeeId": format!("H{n:03}"),
        "provisionAfterSeconds": provision_after_days * DAY,
    });
    serde_json::from_value(json).expect("a fixture user")
}

fn days(d: time::Duration) -> f64 {
    d.as_seconds_f64() / DAY
}

#[tokio::test]
async fn s2_provisioning_lags_of_days_pass_in_seconds_at_one_emulated_day_per_second() {
    let e = spawn_with(|c| {
        grant_first_day_permissions(c);
        c.speed = DAY;
        c.fixture.users.push(hire(1, 2.0));
        c.fixture.users.push(hire(2, 14.0));
    })
    .await;
    let real_start = Instant::now();
    let clock = e.admin("clock").await;
    assert_eq!(clock["speed"], DAY);
    let epoch = parse(clock["epoch"].as_str().unwrap());
    let first = e.get(NEW_HIRE, "/v1.0/users/hire1@contoso.test").await;
    assert_eq!(first.status, 404, "two emulated days have not passed");
    eventually(
        "hire 1 to be provisioned",
        Duration::from_secs(20),
        || async {
            (e.get(NEW_HIRE, "/v1.0/users/hire1@contoso.test")
                .await
                .status
                == 200)
                .then_some(())
        },
    )
    .await;
    let real = real_start.elapsed();
    let emulated = emulated_now(&e).await - epoch;
    assert!(
        days(emulated) >= 2.0,
        "visible only after 2 emulated days: {}",
        days(emulated)
    );
    let still = e
        .get(NEW_HIRE, "/v1.0/users?$filter=employeeId%20eq%20'H002'")
        .await;
    assert_eq!(
        still.body["value"],
        json!([]),
        "the 14-day hire is not there yet"
    );
    println!(
        "provisionAfterSeconds = 2 days at speed {DAY}: visible after {:.2} s real = {:.2} emulated days",
        real.as_secs_f64(),
        days(emulated)
    );
    assert!(real < Duration::from_secs(15), "{real:?}");
}

#[tokio::test]
async fn s16_tap_validity_runs_on_the_emulated_clock_from_not_yet_valid_to_expired() {
    let e = spawn_with(|c| {
        grant_first_day_permissions(c);
        c.speed = DAY;
        let p = &mut c.fixture.temporary_access_pass_policy;
        p.maximum_lifetime_in_minutes = 43_200;
    })
    .await;
    let taps = format!("/v1.0/users/{USER_ADA}/authentication/temporaryAccessPassMethods");
    let start = (emulated_now(&e).await + time::Duration::days(1))
        .replace_nanosecond(0)
        .unwrap();
    let body = json!({ "startDateTime": rfc3339(start), "lifetimeInMinutes": 1440 });
    let real_start = Instant::now();
    let created = e.call(NEW_HIRE, "POST", &taps, Some(body)).await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["methodUsabilityReason"], "NotYetValid");
    let value = created.body["temporaryAccessPass"]
        .as_str()
        .unwrap()
        .to_string();
    let reason = |want: &'static str| {
        let (e, taps) = (&e, &taps);
        async move {
            let r = e.get(NEW_HIRE, taps).await;
            (r.body["value"][0]["methodUsabilityReason"] == want).then_some(())
        }
    };
    eventually("the pass to become valid", Duration::from_secs(20), || {
        reason("EnabledByPolicy")
    })
    .await;
    let valid_at = emulated_now(&e).await;
    let real_valid = real_start.elapsed();
    assert!(valid_at >= start, "not valid before its start");
    eventually("the pass to expire", Duration::from_secs(20), || {
        reason("Expired")
    })
    .await;
    let expired_at = emulated_now(&e).await;
    assert!(
        expired_at >= start + time::Duration::days(1),
        "valid for its whole lifetime"
    );
    let (_, late) = admin_send(
        &e,
        "POST",
        "temporaryAccessPassSignIn",
        json!({ "user": USER_ADA, "pass": value }),
    )
    .await;
    assert_eq!(
        late,
        json!({ "accepted": false, "methodUsabilityReason": "Expired" })
    );
    println!(
        "TAP start +1 day, lifetime 1 day at speed {DAY}: valid after {:.2} s real (emulated {}), expired by {:.2} s real (emulated {})",
        real_valid.as_secs_f64(),
        rfc3339(valid_at),
        real_start.elapsed().as_secs_f64(),
        rfc3339(expired_at)
    );
}

#[tokio::test]
async fn s16_the_emulated_calendar_is_scaled_from_a_configured_epoch() {
    let epoch = SystemTime::now() - Duration::from_secs(60);
    let e = spawn_with(|c| {
        grant_first_day_permissions(c);
        c.speed = 10.0;
        c.clock_epoch = Some(epoch);
    })
    .await;
    let clock = e.admin("clock").await;
    let shown = parse(clock["epoch"].as_str().unwrap());
    assert_eq!(
        shown.unix_timestamp(),
        time::OffsetDateTime::from(epoch).unix_timestamp()
    );
    let ahead = parse(clock["now"].as_str().unwrap()) - parse(clock["realNow"].as_str().unwrap());
    // 60 real seconds since the epoch at speed 10 = 600 emulated: 540 s ahead of real time.
    assert!((530.0..560.0).contains(&ahead.as_seconds_f64()), "{ahead}");
    let taps = format!("/v1.0/users/{USER_ADA}/authentication/temporaryAccessPassMethods");
    let created = e.call(NEW_HIRE, "POST", &taps, None).await;
    let at = parse(created.body["createdDateTime"].as_str().unwrap());
    let skew = (at - parse(clock["now"].as_str().unwrap())).as_seconds_f64();
    assert!(
        (0.0..30.0).contains(&skew),
        "createdDateTime is emulated time: {skew}"
    );
}

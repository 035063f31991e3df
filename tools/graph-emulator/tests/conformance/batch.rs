use graph_emulator::demo::{GROUP_ENGINEERING, NEW_HIRE, UPN_ADA, USER_ADA};
use graph_emulator::{Budget, Family, Kind, Scope, ThrottleConfig};
use serde_json::{Value, json};

use crate::helpers::{spawn, spawn_with};

fn by_id<'a>(body: &'a Value, id: &str) -> &'a Value {
    body["responses"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == id)
        .unwrap_or_else(|| panic!("no response {id}: {body}"))
}

#[tokio::test]
async fn s4_a_batch_answers_each_item_with_its_own_status_and_headers() {
    let e = spawn().await;
    let add = json!({ "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{USER_ADA}") });
    let body = json!({ "requests": [
        { "id": "1", "method": "GET", "url": format!("/users/{UPN_ADA}") },
        { "id": "2", "method": "GET", "url": "/users/nobody@contoso.test" },
        { "id": "3", "method": "POST", "url": format!("/groups/{GROUP_ENGINEERING}/members/$ref"), "headers": { "Content-Type": "application/json" }, "body": add },
        { "id": "4", "method": "POST", "url": format!("/groups/{GROUP_ENGINEERING}/members/$ref"), "body": { "@odata.id": "x" } },
        { "id": "5", "method": "GET", "url": "https://graph.microsoft.com/v1.0/users" }
    ]});
    let r = e.call(NEW_HIRE, "POST", "/v1.0/$batch", Some(body)).await;
    assert_eq!(r.status, 200);
    assert_eq!(by_id(&r.body, "1")["status"], 200);
    assert_eq!(by_id(&r.body, "1")["body"]["id"], USER_ADA);
    assert!(by_id(&r.body, "1")["headers"]["request-id"].is_string());
    assert_eq!(by_id(&r.body, "2")["status"], 404);
    assert_eq!(by_id(&r.body, "3")["status"], 204);
    assert_eq!(
        by_id(&r.body, "4")["status"],
        400,
        "a body needs a Content-Type header"
    );
    assert_eq!(by_id(&r.body, "5")["status"], 400, "URLs are relative");
    let items: Vec<_> = e
        .emu
        .requests()
        .into_iter()
        .filter(|r| r.in_batch)
        .collect();
    assert_eq!(
        items.len(),
        3,
        "items that reached the pipeline are logged as in_batch"
    );
}

#[tokio::test]
async fn s4_more_than_20_requests_or_duplicate_ids_are_400() {
    let e = spawn().await;
    let many: Vec<Value> = (0..21)
        .map(|i| json!({ "id": i.to_string(), "method": "GET", "url": "/users" }))
        .collect();
    assert_eq!(
        e.call(
            NEW_HIRE,
            "POST",
            "/v1.0/$batch",
            Some(json!({ "requests": many }))
        )
        .await
        .status,
        400
    );
    let dup = json!({ "requests": [{ "id": "a", "method": "GET", "url": "/users" }, { "id": "A", "method": "GET", "url": "/users" }] });
    assert_eq!(
        e.call(NEW_HIRE, "POST", "/v1.0/$batch", Some(dup))
            .await
            .status,
        400
    );
}

#[tokio::test]
async fn s4_a_failed_dependency_gives_424() {
    let e = spawn().await;
    let body = json!({ "requests": [
        { "id": "1", "method": "GET", "url": "/users/nobody@contoso.test" },
        { "id": "2", "method": "GET", "url": format!("/users/{USER_ADA}"), "dependsOn": ["1"] },
        { "id": "3", "method": "GET", "url": format!("/users/{USER_ADA}") },
        { "id": "4", "method": "GET", "url": format!("/users/{USER_ADA}"), "dependsOn": ["3"] }
    ]});
    let r = e.call(NEW_HIRE, "POST", "/v1.0/$batch", Some(body)).await;
    assert_eq!(by_id(&r.body, "2")["status"], 424);
    assert_eq!(by_id(&r.body, "4")["status"], 200);
}

#[tokio::test]
async fn s4_a_throttled_item_is_429_with_its_own_retry_after() {
    let e = spawn_with(|c| {
        c.speed = 10.0;
        c.throttle = ThrottleConfig {
            budgets: vec![Budget {
                family: Family::Identity,
                kind: Kind::Requests,
                scope: Scope::App,
                limit: 2,
                window_secs: 10.0,
            }],
            ..ThrottleConfig::default()
        };
    })
    .await;
    let reqs: Vec<Value> = (0..3).map(|i| json!({ "id": i.to_string(), "method": "GET", "url": format!("/users/{USER_ADA}") })).collect();
    let r = e
        .call(
            NEW_HIRE,
            "POST",
            "/v1.0/$batch",
            Some(json!({ "requests": reqs })),
        )
        .await;
    assert_eq!(
        r.status, 200,
        "the envelope is 200 even when items are throttled"
    );
    let third = by_id(&r.body, "2");
    assert_eq!(third["status"], 429);
    let ra: f64 = third["headers"]["Retry-After"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!(ra > 0.0 && ra <= 1.0, "window 10 s at speed 10: {ra}");
    assert_eq!(third["body"]["error"]["code"], "TooManyRequests");
}

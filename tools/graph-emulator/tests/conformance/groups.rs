use graph_emulator::demo::*;
use serde_json::{Value, json};

use crate::helpers::{spawn, spawn_with};

fn odata_id(id: &str) -> Value {
    json!({ "@odata.id": format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}") })
}

#[tokio::test]
async fn s3_add_member_is_204_and_adding_again_is_the_exact_400() {
    let e = spawn().await;
    let path = format!("/v1.0/groups/{GROUP_ENGINEERING}/members/$ref");
    let first = e
        .call(NEW_HIRE, "POST", &path, Some(odata_id(USER_ADA)))
        .await;
    assert_eq!((first.status, &first.body), (204, &Value::Null));
    let second = e
        .call(NEW_HIRE, "POST", &path, Some(odata_id(USER_ADA)))
        .await;
    assert_eq!((second.status, second.code()), (400, "Request_BadRequest"));
    assert_eq!(
        second.message(),
        "One or more added object references already exist for the following modified properties: 'members'."
    );
    assert_eq!(e.emu.state().writes_to("/groups/{id}/members/$ref"), 1);
}

#[tokio::test]
async fn s3_adding_an_object_that_does_not_exist_is_404() {
    let e = spawn().await;
    let r = e
        .call(
            NEW_HIRE,
            "POST",
            &format!("/v1.0/groups/{GROUP_ENGINEERING}/members/$ref"),
            Some(odata_id("0badc0de-0000-4000-8000-000000000000")),
        )
        .await;
    assert_eq!((r.status, r.code()), (404, "Request_ResourceNotFound"));
    let no_group = e
        .call(
            NEW_HIRE,
            "POST",
            "/v1.0/groups/0badc0de-0000-4000-8000-000000000001/members/$ref",
            Some(odata_id(USER_ADA)),
        )
        .await;
    assert_eq!(no_group.status, 404);
}

#[tokio::test]
async fn s3_devices_join_security_groups_only_and_need_device_readwrite() {
    let e = spawn().await;
    let m365 = e
        .call(
            DEVICE_PURCHASED,
            "POST",
            &format!("/v1.0/groups/{GROUP_M365}/members/$ref"),
            Some(odata_id(ENTRA_DEVICE_OBJECT)),
        )
        .await;
    assert_eq!(m365.status, 400, "a device in a Microsoft 365 group");
    let no_device_write = e
        .call(
            NEW_HIRE,
            "POST",
            &format!("/v1.0/groups/{GROUP_SALES}/members/$ref"),
            Some(odata_id(ENTRA_DEVICE_OBJECT)),
        )
        .await;
    assert_eq!(
        no_device_write.status, 403,
        "GroupMember.ReadWrite.All alone cannot add a device"
    );
    let ok = e
        .call(
            DEVICE_PURCHASED,
            "POST",
            &format!("/v1.0/groups/{GROUP_SALES}/members/$ref"),
            Some(odata_id(ENTRA_DEVICE_OBJECT)),
        )
        .await;
    assert_eq!(ok.status, 204);
}

#[tokio::test]
async fn s3_patch_members_bind_adds_all_or_nothing_and_at_most_20() {
    let e = spawn().await;
    let url = |id: &str| format!("https://graph.microsoft.com/v1.0/directoryObjects/{id}");
    let path = format!("/v1.0/groups/{GROUP_SALES}");
    // Katherine is already in Sales: the whole request fails and Ada is not added.
    let mixed = e
        .call(
            NEW_HIRE,
            "PATCH",
            &path,
            Some(json!({ "members@odata.bind": [url(USER_ADA), url(USER_KATHERINE)] })),
        )
        .await;
    assert_eq!(mixed.status, 400);
    let missing = e.call(NEW_HIRE, "PATCH", &path, Some(json!({ "members@odata.bind": [url(USER_ADA), url("0badc0de-0000-4000-8000-000000000000")] }))).await;
    assert_eq!(missing.status, 404);
    let member = e
        .get(
            NEW_HIRE,
            &format!("/v1.0/groups/{GROUP_SALES}/members/{USER_ADA}"),
        )
        .await;
    assert_eq!(member.status, 404, "nothing was added");
    let too_many: Vec<String> = (0..21).map(|_| url(USER_ADA)).collect();
    assert_eq!(
        e.call(
            NEW_HIRE,
            "PATCH",
            &path,
            Some(json!({ "members@odata.bind": too_many }))
        )
        .await
        .status,
        400
    );
    let ok = e
        .call(
            NEW_HIRE,
            "PATCH",
            &path,
            Some(json!({ "members@odata.bind": [url(USER_ADA), url(USER_GRACE)] })),
        )
        .await;
    assert_eq!(ok.status, 204);
    assert_eq!(
        e.get(
            NEW_HIRE,
            &format!("/v1.0/groups/{GROUP_SALES}/members/{USER_GRACE}")
        )
        .await
        .status,
        200
    );
}

#[tokio::test]
async fn s3_check_member_groups_is_transitive() {
    let e = spawn_with(|c| {
        // Sales nested in Engineering: Katherine (in Sales) is transitively in Engineering.
        let eng = c
            .fixture
            .groups
            .iter_mut()
            .find(|g| g.id == GROUP_ENGINEERING)
            .unwrap();
        eng.members.push(GROUP_SALES.into());
    })
    .await;
    let body = json!({ "groupIds": [GROUP_ENGINEERING, GROUP_JOIN, GROUP_M365] });
    let r = e
        .call(
            NEW_HIRE,
            "POST",
            &format!("/v1.0/users/{UPN_KATHERINE}/checkMemberGroups"),
            Some(body),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.body["value"], json!([GROUP_ENGINEERING, GROUP_JOIN]));
    let denied = e
        .call(
            DEVICE_SHIPPED,
            "POST",
            &format!("/v1.0/users/{USER_KATHERINE}/checkMemberGroups"),
            Some(json!({ "groupIds": [GROUP_JOIN] })),
        )
        .await;
    assert_eq!(
        denied.status, 403,
        "User.Read.All without GroupMember.Read.All"
    );
}

#[tokio::test]
async fn s3_direct_member_reads_404_naming_the_group_and_member_of_lists_direct_groups() {
    let e = spawn().await;
    let no = e
        .get(
            ONBOARDCTL,
            &format!("/v1.0/groups/{GROUP_ENGINEERING}/members/{USER_KATHERINE}"),
        )
        .await;
    assert_eq!(no.status, 404);
    assert!(
        no.message().contains(GROUP_ENGINEERING),
        "message names the group: {}",
        no.message()
    );
    let yes = e
        .get(
            ONBOARDCTL,
            &format!("/v1.0/groups/{GROUP_JOIN}/members/{USER_KATHERINE}"),
        )
        .await;
    assert_eq!(
        (yes.status, yes.body["@odata.type"].as_str()),
        (200, Some("#microsoft.graph.user"))
    );
    let member_of = e
        .get(
            ONBOARDCTL,
            &format!("/v1.0/users/{USER_KATHERINE}/memberOf"),
        )
        .await;
    let ids: Vec<&str> = member_of.body["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [GROUP_JOIN, GROUP_SALES]);
    assert_eq!(
        e.get(
            ONBOARDCTL,
            &format!("/v1.0/users/{USER_KATHERINE}/memberOf/{GROUP_ENGINEERING}")
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn s3_collections_page_with_next_link_on_small_pages() {
    let e = spawn_with(|c| c.page_size = 2).await;
    let mut url = "/v1.0/groups".to_string();
    let mut seen = Vec::new();
    let mut pages = 0;
    loop {
        let r = e.get(ONBOARDCTL, &url).await;
        assert_eq!(r.status, 200);
        seen.extend(
            r.body["value"]
                .as_array()
                .unwrap()
                .iter()
                .map(|g| g["id"].as_str().unwrap().to_string()),
        );
        pages += 1;
        match r.body["@odata.nextLink"].as_str() {
            Some(next) => {
                url = next
                    .strip_prefix(&e.emu.base_url())
                    .expect("absolute nextLink on the emulator")
                    .to_string()
            }
            None => break,
        }
    }
    assert_eq!((pages, seen.len()), (4, 8));
}

#[tokio::test]
async fn s8_dynamic_groups_compute_device_members_and_refuse_writes() {
    let e = spawn().await;
    let r = e
        .get(ONBOARDCTL, &format!("/v1.0/groups/{GROUP_DYNAMIC}/members"))
        .await;
    assert_eq!(
        r.body["value"][0]["id"], ENTRA_DEVICE_OBJECT,
        "the [ZTDID] device matches the rule"
    );
    let write = e
        .call(
            DEVICE_PURCHASED,
            "POST",
            &format!("/v1.0/groups/{GROUP_DYNAMIC}/members/$ref"),
            Some(odata_id(ENTRA_DEVICE_OBJECT)),
        )
        .await;
    assert_eq!(write.status, 400);
}

#[tokio::test]
async fn s3_post_groups_creates_a_group_and_remove_member_deletes_the_ref() {
    let e = spawn().await;
    let body = json!({ "displayName": "Pilot", "mailNickname": "pilot", "mailEnabled": false, "securityEnabled": true });
    let g = e
        .call(TENANT_ADMIN, "POST", "/v1.0/groups", Some(body))
        .await;
    assert_eq!(g.status, 201);
    let gid = g.body["id"].as_str().unwrap();
    assert_eq!(
        e.call(
            NEW_HIRE,
            "POST",
            &format!("/v1.0/groups/{gid}/members/$ref"),
            Some(odata_id(USER_ADA))
        )
        .await
        .status,
        204
    );
    assert_eq!(
        e.call(
            NEW_HIRE,
            "DELETE",
            &format!("/v1.0/groups/{gid}/members/{USER_ADA}/$ref"),
            None
        )
        .await
        .status,
        204
    );
    assert_eq!(
        e.call(
            NEW_HIRE,
            "DELETE",
            &format!("/v1.0/groups/{gid}/members/{USER_ADA}/$ref"),
            None
        )
        .await
        .status,
        404
    );
}

#[tokio::test]
async fn s3_a_just_created_group_refuses_adds_until_replicated_when_the_quirk_is_on() {
    let e = spawn_with(|c| {
        c.speed = 100.0;
        c.timings.group_replication_secs = 50.0; // 0.5 s real
    })
    .await;
    let body = json!({ "displayName": "Fresh", "mailNickname": "fresh", "mailEnabled": false, "securityEnabled": true });
    let gid = e
        .call(TENANT_ADMIN, "POST", "/v1.0/groups", Some(body))
        .await
        .body["id"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/v1.0/groups/{gid}/members/$ref");
    let early = e
        .call(NEW_HIRE, "POST", &path, Some(odata_id(USER_ADA)))
        .await;
    assert_eq!(early.status, 400);
    assert_eq!(
        early.message(),
        "The source resource object or one of the objects being referenced do not exist."
    );
    crate::helpers::eventually(
        "the group to replicate",
        std::time::Duration::from_secs(10),
        || async {
            (e.call(NEW_HIRE, "POST", &path, Some(odata_id(USER_ADA)))
                .await
                .status
                == 204)
                .then_some(())
        },
    )
    .await;
}

#[tokio::test]
async fn s3_role_assignable_groups_also_need_role_management_readwrite() {
    let e = spawn_with(|c| {
        let g = c
            .fixture
            .groups
            .iter_mut()
            .find(|g| g.id == GROUP_ENGINEERING)
            .unwrap();
        g.is_assignable_to_role = true;
    })
    .await;
    let r = e
        .call(
            NEW_HIRE,
            "POST",
            &format!("/v1.0/groups/{GROUP_ENGINEERING}/members/$ref"),
            Some(odata_id(USER_ADA)),
        )
        .await;
    assert_eq!((r.status, r.code()), (403, "Authorization_RequestDenied"));
}

//! Round-trip and rail tests for the device registration policy (kept apart from `policy.rs`
//! so each file stays one screenful of concern).

use super::*;

/// The v1.0 GET example from the reference (graph-behaviour §1), with one field we do not model added.
fn example() -> Value {
    serde_json::json!({
      "@odata.context": "https://graph.microsoft.com/v1.0/$metadata#deviceRegistrationPolicy",
      "id": "deviceRegistrationPolicy",
      "displayName": "Device Registration Policy",
      "description": "Tenant-wide policy that manages intial provisioning controls using quota restrictions, additional authentication and authorization checks",
      "userDeviceQuota": 50,
      "multiFactorAuthConfiguration": "notRequired",
      "azureADRegistration": {
        "isAdminConfigurable": false,
        "allowedToRegister": { "@odata.type": "#microsoft.graph.noDeviceRegistrationMembership" }
      },
      "azureADJoin": {
        "isAdminConfigurable": true,
        "allowedToJoin": {
          "@odata.type": "#microsoft.graph.enumeratedDeviceRegistrationMembership",
          "users": ["u1"], "groups": ["g1"]
        },
        "localAdmins": {
          "enableGlobalAdmins": true,
          "registeringUsers": {
            "@odata.type": "#microsoft.graph.enumeratedDeviceRegistrationMembership",
            "users": ["3c8ef067-8b96-44de-b2ae-557dfa0f97a0"], "groups": []
          }
        }
      },
      "localAdminPassword": { "isEnabled": false },
      "someFutureField": { "x": 1 }
    })
}

fn policy() -> RegistrationPolicy {
    serde_json::from_value(example()).unwrap()
}

fn set_scope(p: &mut RegistrationPolicy, scope: JoinScope) {
    p.azure_ad_join.as_mut().unwrap().allowed_to_join = Some(scope);
}

#[test]
fn put_body_keeps_every_field_but_annotations() {
    let body = policy().to_put_body();
    let mut expected = example();
    expected.as_object_mut().unwrap().remove("@odata.context");
    assert_eq!(body, expected);
}

#[test]
fn adding_a_user_touches_only_the_selected_list() {
    let p = policy();
    let next = p
        .with_users_added(&[UserId::new("u2"), UserId::new("u1")])
        .unwrap();
    assert_eq!(
        next.join_scope(),
        Some(&JoinScope::Selected {
            users: vec![UserId::new("u1"), UserId::new("u2")],
            groups: vec![GroupId::new("g1")],
        })
    );
    assert_eq!(check_rails(&p, &next), Ok(()));
    assert!(next.selected_groups().contains(&GroupId::new("g1")));
    assert_eq!(next.selected_users().len(), 2);
    let mut all = p.clone();
    set_scope(&mut all, JoinScope::All);
    assert_eq!(all.with_users_added(&[UserId::new("u2")]), None);
}

#[test]
fn dropping_or_lowering_the_quota_is_refused() {
    let p = policy();
    let mut d = p.clone();
    d.user_device_quota = None;
    assert_eq!(check_rails(&p, &d), Err(RailViolation::QuotaDropped));
    d.user_device_quota = Some(10);
    assert_eq!(
        check_rails(&p, &d),
        Err(RailViolation::QuotaLowered {
            before: 50,
            after: 10
        })
    );
    d.user_device_quota = Some(60);
    assert_eq!(check_rails(&p, &d), Ok(()));
}

#[test]
fn changing_azure_ad_registration_is_refused() {
    let p = policy();
    let mut d = p.clone();
    d.azure_ad_registration = Some(serde_json::json!({"isAdminConfigurable": true}));
    assert_eq!(check_rails(&p, &d), Err(RailViolation::RegistrationChanged));
}

#[test]
fn removing_a_user_or_a_group_from_selected_is_refused() {
    let p = policy();
    for (users, groups, removed) in [
        (vec![], vec!["g1"], (1, 0)),
        (vec!["u1"], vec![], (0, 1)),
        (vec!["u9"], vec!["g9"], (1, 1)),
    ] {
        let mut d = p.clone();
        set_scope(
            &mut d,
            JoinScope::Selected {
                users: users.into_iter().map(UserId::new).collect(),
                groups: groups.into_iter().map(GroupId::new).collect(),
            },
        );
        assert_eq!(
            check_rails(&p, &d),
            Err(RailViolation::MembersRemoved {
                users: removed.0,
                groups: removed.1
            })
        );
    }
}

#[test]
fn switching_the_join_scope_is_refused() {
    let p = policy();
    for scope in [JoinScope::All, JoinScope::Nobody] {
        let mut d = p.clone();
        set_scope(&mut d, scope);
        assert!(matches!(
            check_rails(&p, &d),
            Err(RailViolation::JoinScopeChanged {
                before: "selected",
                ..
            })
        ));
    }
    let mut all = p.clone();
    set_scope(&mut all, JoinScope::All);
    let mut selected = p.clone();
    set_scope(
        &mut selected,
        JoinScope::Selected {
            users: vec![],
            groups: vec![],
        },
    );
    assert!(matches!(
        check_rails(&all, &selected),
        Err(RailViolation::JoinScopeChanged {
            before: "all",
            after: "selected"
        })
    ));
}

#[test]
fn dropping_an_unmodelled_property_is_refused() {
    let p = policy();
    let mut d = p.clone();
    d.other.remove("someFutureField");
    assert_eq!(
        check_rails(&p, &d),
        Err(RailViolation::PropertyDropped("someFutureField".into()))
    );
    let mut d = p.clone();
    d.azure_ad_join
        .as_mut()
        .unwrap()
        .other
        .remove("localAdmins");
    assert_eq!(
        check_rails(&p, &d),
        Err(RailViolation::PropertyDropped(
            "azureADJoin.localAdmins".into()
        ))
    );
}

#[test]
fn unknown_scopes_round_trip_verbatim() {
    let v = serde_json::json!({"@odata.type": "#microsoft.graph.futureMembership", "x": [1]});
    let scope: JoinScope = serde_json::from_value(v.clone()).unwrap();
    assert_eq!(scope, JoinScope::Unknown(v.clone()));
    assert_eq!(Value::from(scope), v);
}

//! `status --user` (and each row of an HR CSV): a hire's steps, from the Entra user to may
//! join devices and each group of their department.
//!
//! Not for: the tenant-wide join setting itself (`preflight`), only what it means for this user.

use graph::model::{GroupId, MemberRef, UserId};
use graph::{GraphClient, JoinScope};
use shared::config::{JoinMode, Settings};
use shared::ids::Upn;
use time::Date;

use super::{Subject, worst};
use crate::readiness::{State, Step};

const DEVICE_SETTINGS_PATH: &str = "Entra admin center > Devices > Device settings";

/// The readiness of the hire `upn`; `start` (from an HR CSV) is judged against `today`.
pub(super) async fn user(
    graph: &GraphClient,
    settings: &Settings,
    upn: &Upn,
    department: Option<&str>,
    start: Option<Date>,
    today: Date,
) -> Subject {
    let cfg = &settings.new_hire;
    let mut steps = Vec::new();
    let found = match graph.user_by_upn(upn).await {
        Ok(u) => u,
        Err(e) => {
            steps.push(Step::unreadable("user-exists", &format!("user {upn}"), &e));
            None
        }
    };
    match &found {
        // The employee id is what the hire's trace is found by (its CloudEvents subject):
        // traces never carry a UPN.
        Some(u) => steps.push(Step::ready(
            "user-exists",
            format!(
                "Entra user {} ({}, employeeId {})",
                u.id,
                u.display_name.as_deref().unwrap_or("?"),
                u.employee_id.as_deref().unwrap_or("not set")
            ),
        )),
        None if steps.is_empty() => steps.push(Step::pending(
            "user-exists",
            format!("no Entra user {upn} yet"),
            "HR provisioning may lag; if it persists, check the UPN in HR and Entra",
        )),
        None => {}
    }
    let groups = new_hire::handler::groups_for(cfg, department);
    if let Some(u) = &found {
        let mut ask: Vec<GroupId> = groups.clone();
        let join_group = GroupId::new(cfg.join_group_id.clone());
        if cfg.join_mode == JoinMode::Group && !join_group.as_str().is_empty() {
            ask.push(join_group.clone());
        }
        let policy = graph.registration_policy().await;
        let member_of = graph
            .check_member_groups(MemberRef::User(&u.id), &ask)
            .await;
        steps.push(match (&policy, &member_of) {
            (Err(e), _) => Step::unreadable(JOIN, "the device registration policy", e),
            (_, Err(e)) => Step::unreadable(JOIN, "group memberships", e),
            (Ok(p), Ok(member_of)) => {
                join_step(cfg.join_mode, &join_group, p.join_scope(), &u.id, member_of)
            }
        });
        for g in &groups {
            let step = format!("member-of {g}");
            steps.push(match &member_of {
                Err(e) => Step::unreadable(&step, "group memberships", e),
                Ok(m) if m.contains(g) => Step::ready(&step, "member"),
                Ok(_) => match graph.group(g).await {
                    Ok(None) => Step::blocked(
                        &step,
                        format!("group {g} does not exist"),
                        "create it, or correct new_hire groups",
                    ),
                    _ => Step::pending(
                        &step,
                        "not yet a member",
                        "the new-hire service adds them when their hire event is handled",
                    ),
                },
            });
        }
    }
    let state = worst(&steps);
    let in_time = start.map(|d| match state {
        State::Ready => "ready".to_owned(),
        State::Blocked | State::Manual => {
            format!("will not be ready for {d} unless the BLOCKED steps are fixed")
        }
        State::Pending if d <= today => format!("late: started {d} and not ready yet"),
        State::Pending => format!("on track: {} days before {d}", (d - today).whole_days()),
    });
    Subject {
        kind: "user",
        id: upn.to_string(),
        state,
        steps,
        start_date: start.map(|d| d.to_string()),
        in_time,
    }
}

const JOIN: &str = "may-join-devices";

/// Whether the user may join devices now, and if not, whether the new-hire service will get
/// them there (`pending`) or an admin must act (`blocked`). Pure: `member_of` is the user's
/// transitive membership among the groups that matter.
fn join_step(
    mode: JoinMode,
    join_group: &GroupId,
    scope: Option<&JoinScope>,
    user: &UserId,
    member_of: &[GroupId],
) -> Step {
    const BY_SERVICE: &str = "the new-hire service adds them when their hire event is handled";
    let (users, listed) = match scope {
        Some(JoinScope::Nobody) => {
            return Step::blocked(
                JOIN,
                "Users may join devices to Microsoft Entra: None",
                format!("an admin must choose All or Selected under {DEVICE_SETTINGS_PATH}"),
            );
        }
        Some(JoinScope::All) => return Step::ready(JOIN, "the policy lets all users join"),
        Some(JoinScope::Selected { users, groups }) => (users, groups),
        Some(JoinScope::Unknown(_)) | None => {
            return Step::blocked(
                JOIN,
                "the policy's allowedToJoin has a shape this tool does not know",
                format!("check {DEVICE_SETTINGS_PATH} by hand"),
            );
        }
    };
    if users.contains(user) {
        return Step::ready(JOIN, "listed in Selected users");
    }
    if let Some(g) = member_of.iter().find(|g| listed.contains(g)) {
        return Step::ready(JOIN, format!("member of {g}, which the policy lists"));
    }
    match mode {
        JoinMode::All => Step::blocked(
            JOIN,
            "join_mode is all, but the policy is Selected and does not list the user",
            format!("choose All under {DEVICE_SETTINGS_PATH}, or set new_hire.join_mode to group"),
        ),
        JoinMode::Group if !listed.contains(join_group) => Step::blocked(
            JOIN,
            format!("the join group {join_group} is not in the policy's Selected list"),
            format!("add it under {DEVICE_SETTINGS_PATH} > Users may join devices > Selected"),
        ),
        JoinMode::Group => Step::pending(
            JOIN,
            format!("not yet a member of the join group {join_group}"),
            BY_SERVICE,
        ),
        JoinMode::Users => {
            Step::pending(JOIN, "not yet in the policy's Selected users", BY_SERVICE)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn joining_is_judged_per_mode_and_policy() {
        let user = UserId::new("u1");
        let join = GroupId::new("g-join");
        let selected = |users: Vec<&str>, groups: Vec<&str>| JoinScope::Selected {
            users: users.into_iter().map(UserId::new).collect(),
            groups: groups.into_iter().map(GroupId::new).collect(),
        };
        let listed = selected(vec![], vec!["g-join"]);
        let unlisted = selected(vec![], vec![]);
        let cases = [
            (
                JoinMode::Group,
                Some(JoinScope::Nobody),
                vec![],
                State::Blocked,
            ),
            (JoinMode::Group, Some(JoinScope::All), vec![], State::Ready),
            (
                JoinMode::Group,
                Some(listed.clone()),
                vec![join.clone()],
                State::Ready,
            ),
            (
                JoinMode::Group,
                Some(listed.clone()),
                vec![],
                State::Pending,
            ),
            (
                JoinMode::Group,
                Some(unlisted.clone()),
                vec![],
                State::Blocked,
            ),
            (
                JoinMode::Users,
                Some(unlisted.clone()),
                vec![],
                State::Pending,
            ),
            (
                JoinMode::Users,
                Some(selected(vec!["u1"], vec![])),
                vec![],
                State::Ready,
            ),
            (JoinMode::All, Some(unlisted), vec![], State::Blocked),
            (JoinMode::All, None, vec![], State::Blocked),
        ];
        for (mode, scope, member_of, want) in cases {
            let got = join_step(mode, &join, scope.as_ref(), &user, &member_of);
            assert_eq!(got.state, want, "{mode:?} {scope:?} {member_of:?}: {got:?}");
        }
    }
}

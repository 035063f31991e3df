//! `onboardctl status --user UPN | --serial SERIAL | --from-csv FILE`: how far one hire or one
//! device is along the steps admins follow (seeds: user may join devices, groups; device
//! registered, profile assigned, Entra device, device group, assigned user), from Graph's
//! current state. Each step is `ready`, `pending` (the services or Intune will get there) or
//! `blocked` (an admin must act, and the step says how). For hires with a start date (HR CSV),
//! whether they will be ready in time.
//!
//! Not for: changing anything (reads only, with the read-only `onboardctl` registration), or
//! the tenant-wide prerequisites (`preflight`).

use std::sync::Arc;

use anyhow::Context as _;
use graph::model::{AutopilotDevice, GroupId, MemberRef, UserId};
use graph::{GraphClient, JoinScope, NoopObserver};
use serde::Serialize;
use shared::config::{JoinMode, Settings};
use shared::ids::{SerialNumber, Upn};
use time::Date;

use crate::intake::{self, autopilot, hr};
use crate::readiness::{self, State, Step};

const DEVICE_SETTINGS_PATH: &str = "Entra admin center > Devices > Device settings";

/// The readiness of one hire or one device.
#[derive(Debug, Serialize)]
pub struct Subject {
    /// `user` or `device`.
    pub kind: &'static str,
    /// The UPN or the serial number.
    pub id: String,
    /// The worst state among the steps.
    pub state: State,
    pub steps: Vec<Step>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// For hires with a start date: `ready`, `on track`, `late` or `will not be ready`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_time: Option<String>,
}

/// Everything `status` reported.
#[derive(Debug, Serialize)]
pub struct Report {
    pub ready: bool,
    pub subjects: Vec<Subject>,
    /// CSV rows that did not parse (by line), when reading a file.
    pub rejected: Vec<intake::RowError>,
}

/// What to look up: one user, one device, or every row of a CSV file.
#[derive(Debug, Clone)]
pub enum Query {
    User(Upn),
    Serial(SerialNumber),
    Csv(std::path::PathBuf),
}

pub async fn run(settings: &Settings, query: Query, today: Date) -> anyhow::Result<Report> {
    let graph = GraphClient::new(&settings.graph, Arc::new(NoopObserver))
        .context("building the Graph client ([graph])")?;
    let mut subjects = Vec::new();
    let mut rejected = Vec::new();
    match query {
        Query::User(upn) => subjects.push(user(&graph, settings, &upn, None, None, today).await),
        Query::Serial(serial) => subjects.push(device(&graph, settings, &serial, None).await),
        Query::Csv(path) => {
            let bytes =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            if is_hr_csv(&bytes) {
                let parsed = hr::parse(&bytes).with_context(|| path.display().to_string())?;
                rejected = parsed.rejected;
                for row in &parsed.rows {
                    let s = user(
                        &graph,
                        settings,
                        &row.upn,
                        row.department.as_deref(),
                        row.start_date,
                        today,
                    )
                    .await;
                    subjects.push(s);
                }
            } else {
                let parsed =
                    autopilot::parse(&bytes).with_context(|| path.display().to_string())?;
                rejected = parsed.rejected;
                for row in &parsed.rows {
                    subjects.push(
                        device(&graph, settings, &row.serial, row.assigned_user.as_ref()).await,
                    );
                }
            }
        }
    }
    Ok(Report {
        ready: subjects.iter().all(|s| s.state == State::Ready),
        subjects,
        rejected,
    })
}

fn is_hr_csv(bytes: &[u8]) -> bool {
    let header = intake::decode::decode_text(bytes)
        .map(|(text, _)| text.lines().next().unwrap_or("").to_owned())
        .unwrap_or_default();
    intake::columns::fold(&header).contains("employeeid")
}

fn worst(steps: &[Step]) -> State {
    if steps.iter().any(|s| s.state == State::Blocked) {
        State::Blocked
    } else if steps.iter().any(|s| s.state == State::Pending) {
        State::Pending
    } else {
        State::Ready
    }
}

// === users ===

async fn user(
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

// === devices ===

async fn device(
    graph: &GraphClient,
    settings: &Settings,
    serial: &SerialNumber,
    expected_user: Option<&Upn>,
) -> Subject {
    let mut steps = Vec::new();
    let done = |steps: Vec<Step>| Subject {
        kind: "device",
        id: serial.to_string(),
        state: worst(&steps),
        steps,
        start_date: None,
        in_time: None,
    };
    let devices = match graph.autopilot_devices_by_serial(serial).await {
        Ok(d) => d,
        Err(e) => {
            return done(vec![Step::unreadable(
                "autopilot-registered",
                "Autopilot devices",
                &e,
            )]);
        }
    };
    let ap: AutopilotDevice = match devices.len() {
        0 => {
            return done(vec![Step::pending(
                "autopilot-registered",
                format!("{serial} is not registered with Autopilot"),
                "the device-purchased service imports it from the purchase event; if none was sent, publish it (or upload the hash CSV)",
            )]);
        }
        1 => devices.into_iter().next().expect("one"),
        n => {
            return done(vec![Step::blocked(
                "autopilot-registered",
                format!("{n} Autopilot devices carry serial {serial}"),
                "delete the stale registrations: Intune admin center > Devices > Enrollment > Windows > Devices",
            )]);
        }
    };
    steps.push(Step::ready(
        "autopilot-registered",
        format!("Autopilot device {}", ap.id),
    ));
    steps.push(Step::ready(
        "group-tag",
        match ap.group_tag.as_deref().filter(|t| !t.is_empty()) {
            Some(t) => format!("group tag {t}"),
            None => "no group tag".to_owned(),
        },
    ));
    // Entra device and device group first: the profile step depends on the group.
    let (entra, in_group) = entra_and_group(graph, settings, &ap).await;
    steps.extend(entra);
    steps.push(
        match graph.autopilot_profile_assignment_status(&ap.id).await {
            Ok(Some(status)) => profile_step(&status, in_group),
            Ok(None) => Step::pending(PROFILE, "the Autopilot device is gone", "re-run status"),
            Err(e) => Step::unreadable(PROFILE, "the profile assignment", &e),
        },
    );
    steps.push(assigned_user_step(ap.assigned_upn(), expected_user));
    done(steps)
}

/// The Entra device step, and the device-group step once the device exists; also whether
/// the device is in the group (`None` when unknown).
async fn entra_and_group(
    graph: &GraphClient,
    settings: &Settings,
    ap: &AutopilotDevice,
) -> (Vec<Step>, Option<bool>) {
    const ENTRA: &str = "entra-device";
    const GROUP: &str = "device-group";
    let Some(device_id) = ap.entra_device_id() else {
        let step = Step::pending(
            ENTRA,
            "no Entra device object yet",
            "it appears after the import and an Autopilot sync; \
             the device-purchased service syncs when it is overdue",
        );
        return (vec![step], None);
    };
    let device = match graph.entra_device_by_device_id(&device_id).await {
        Ok(Some(d)) => d,
        Ok(None) => {
            let found = format!("Autopilot names Entra deviceId {device_id}, not visible yet");
            return (
                vec![Step::pending(
                    ENTRA,
                    found,
                    "wait for directory replication",
                )],
                None,
            );
        }
        Err(e) => return (vec![Step::unreadable(ENTRA, "Entra devices", &e)], None),
    };
    let mut steps = vec![Step::ready(ENTRA, format!("Entra device {}", device.id))];
    let group = GroupId::new(settings.device_purchased.device_group_id.clone());
    if group.as_str().is_empty() {
        return (steps, None);
    }
    let member = graph
        .check_member_groups(MemberRef::Device(&device.id), std::slice::from_ref(&group))
        .await;
    let how = if settings.device_purchased.device_group_dynamic {
        "the dynamic group's rule adds it (Entra evaluates rules with a delay)"
    } else {
        "the device-purchased service adds it"
    };
    let (step, in_group) = match member {
        Ok(g) if g.contains(&group) => {
            (Step::ready(GROUP, format!("member of {group}")), Some(true))
        }
        Ok(_) => (
            Step::pending(GROUP, format!("not yet in {group}"), how),
            Some(false),
        ),
        Err(e) => (Step::unreadable(GROUP, "group memberships", &e), None),
    };
    steps.push(step);
    (steps, in_group)
}

const PROFILE: &str = "deployment-profile";

/// `deploymentProfileAssignmentStatus` judged; `in_group` says whether the device is in the
/// device group the profile should target.
fn profile_step(status: &str, in_group: Option<bool>) -> Step {
    let found = format!(
        "deploymentProfileAssignmentStatus {}",
        if status.is_empty() { "unknown" } else { status }
    );
    match status {
        // "assignedUnkownSyncState" [sic] is the real value (graph-behaviour §6).
        "assignedInSync" | "assignedUnkownSyncState" | "assignedUnknownSyncState" => {
            Step::ready(PROFILE, found)
        }
        "failed" => Step::blocked(
            PROFILE,
            "profile assignment failed",
            "check the profile's assignment: Intune admin center > Devices > Enrollment > \
             Windows > Deployment profiles",
        ),
        "notAssigned" if in_group == Some(true) => Step::blocked(
            PROFILE,
            "in the device group, but no deployment profile is assigned",
            "assign a profile to the device group (onboardctl preflight checks this)",
        ),
        _ => Step::pending(
            PROFILE,
            found,
            "Intune assigns the profile once the device is in the group the profile targets",
        ),
    }
}

/// The assigned user against the one the hardware-hash CSV names (if any).
fn assigned_user_step(assigned: Option<&str>, expected: Option<&Upn>) -> Step {
    const STEP: &str = "assigned-user";
    match (assigned, expected) {
        (Some(u), Some(want)) if !u.eq_ignore_ascii_case(want.as_str()) => Step::blocked(
            STEP,
            format!("assigned to {u}, the CSV says {want}"),
            "reassign it (device_shipped.allow_reassign) or correct the CSV",
        ),
        (Some(u), _) => Step::ready(STEP, format!("assigned to {u}")),
        (None, Some(want)) => Step::pending(
            STEP,
            format!("not yet assigned to {want}"),
            "the device-shipped service assigns it when the shipment event arrives",
        ),
        (None, None) => Step::ready(STEP, "no user assigned (optional; assigned when shipped)"),
    }
}

pub fn render(r: &Report) -> String {
    let mut out = Vec::new();
    for s in &r.subjects {
        let state = format!("{:?}", s.state).to_lowercase();
        let mut title = format!("{} {}: {state}", s.kind, s.id);
        if let Some(t) = &s.in_time {
            title.push_str(&format!(
                " (start {}: {t})",
                s.start_date.as_deref().unwrap_or("?")
            ));
        }
        out.push(readiness::render(&title, &s.steps));
    }
    out.extend(r.rejected.iter().map(|e| format!("rejected {e}")));
    out.join("\n")
}

/// Today in UTC, the date start dates are compared with.
pub fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn profile_and_user_assignment_are_judged() {
        assert_eq!(
            profile_step("assignedUnkownSyncState", None).state,
            State::Ready
        );
        assert_eq!(
            profile_step("assignedOutOfSync", Some(true)).state,
            State::Pending
        );
        assert_eq!(
            profile_step("notAssigned", Some(false)).state,
            State::Pending
        );
        assert_eq!(
            profile_step("notAssigned", Some(true)).state,
            State::Blocked
        );
        assert_eq!(profile_step("failed", None).state, State::Blocked);
        let ada: Upn = "ada@contoso.test".parse().unwrap();
        assert_eq!(
            assigned_user_step(Some("ADA@contoso.test"), Some(&ada)).state,
            State::Ready
        );
        assert_eq!(
            assigned_user_step(Some("bob@contoso.test"), Some(&ada)).state,
            State::Blocked
        );
        assert_eq!(assigned_user_step(None, Some(&ada)).state, State::Pending);
        assert_eq!(assigned_user_step(None, None).state, State::Ready);
    }

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

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
use serde::Serialize;
use shared::config::{JoinMode, Settings};
use shared::graph::model::{AutopilotDevice, GroupId, MemberRef};
use shared::graph::{GraphClient, JoinScope, NoopObserver};
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
        Some(u) => steps.push(Step::ready(
            "user-exists",
            format!(
                "Entra user {} ({})",
                u.id,
                u.display_name.as_deref().unwrap_or("?")
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
            (Err(e), _) => Step::unreadable("may-join-devices", "the device registration policy", e),
            (_, Err(e)) => Step::unreadable("may-join-devices", "group memberships", e),
            (Ok(p), Ok(member_of)) => match p.join_scope() {
                Some(JoinScope::Nobody) => Step::blocked(
                    "may-join-devices",
                    "Users may join devices to Microsoft Entra: None",
                    format!("an admin must choose All or Selected under {DEVICE_SETTINGS_PATH}"),
                ),
                Some(JoinScope::All) => Step::ready("may-join-devices", "the policy lets all users join"),
                Some(JoinScope::Selected { users, groups: listed }) => {
                    if users.contains(&u.id) {
                        Step::ready("may-join-devices", "listed in Selected users")
                    } else if let Some(g) = member_of.iter().find(|g| listed.contains(g)) {
                        Step::ready("may-join-devices", format!("member of {g}, which the policy lists"))
                    } else {
                        match cfg.join_mode {
                            JoinMode::All => Step::blocked(
                                "may-join-devices",
                                "join_mode is all, but the policy is Selected and does not list the user",
                                format!("choose All under {DEVICE_SETTINGS_PATH}, or set new_hire.join_mode to group"),
                            ),
                            JoinMode::Group if !listed.contains(&join_group) => Step::blocked(
                                "may-join-devices",
                                format!("the join group {join_group} is not in the policy's Selected list"),
                                format!("add it under {DEVICE_SETTINGS_PATH} > Users may join devices > Selected"),
                            ),
                            JoinMode::Group => Step::pending(
                                "may-join-devices",
                                format!("not yet a member of the join group {join_group}"),
                                "the new-hire service adds them when their hire event is handled",
                            ),
                            JoinMode::Users => Step::pending(
                                "may-join-devices",
                                "not yet in the policy's Selected users",
                                "the new-hire service adds them when their hire event is handled",
                            ),
                        }
                    }
                }
                Some(JoinScope::Unknown(_)) | None => Step::blocked(
                    "may-join-devices",
                    "the policy's allowedToJoin has a shape this tool does not know",
                    format!("check {DEVICE_SETTINGS_PATH} by hand"),
                ),
            },
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
    let device_group = GroupId::new(settings.device_purchased.device_group_id.clone());
    let mut in_group = None;
    match ap.entra_device_id() {
        None => steps.push(Step::pending(
            "entra-device",
            "no Entra device object yet",
            "it appears after the import and an Autopilot sync; the device-purchased service syncs when it is overdue",
        )),
        Some(device_id) => match graph.entra_device_by_device_id(&device_id).await {
            Ok(Some(d)) => {
                steps.push(Step::ready("entra-device", format!("Entra device {}", d.id)));
                if !device_group.as_str().is_empty() {
                    let m = graph.check_member_groups(MemberRef::Device(&d.id), std::slice::from_ref(&device_group)).await;
                    steps.push(match m {
                        Ok(g) if g.contains(&device_group) => {
                            in_group = Some(true);
                            Step::ready("device-group", format!("member of {device_group}"))
                        }
                        Ok(_) => {
                            in_group = Some(false);
                            Step::pending("device-group", format!("not yet in {device_group}"), if settings.device_purchased.device_group_dynamic {
                                "the dynamic group's rule adds it (Entra evaluates rules with a delay)"
                            } else {
                                "the device-purchased service adds it"
                            })
                        }
                        Err(e) => Step::unreadable("device-group", "group memberships", &e),
                    });
                }
            }
            Ok(None) => steps.push(Step::pending("entra-device", format!("Autopilot names Entra deviceId {device_id}, not visible yet"), "wait for directory replication")),
            Err(e) => steps.push(Step::unreadable("entra-device", "Entra devices", &e)),
        },
    }
    steps.push(match graph.autopilot_profile_assignment_status(&ap.id).await {
        Ok(Some(s)) if s.starts_with("assigned") && s != "assignedOutOfSync" => {
            Step::ready("deployment-profile", format!("deploymentProfileAssignmentStatus {s}"))
        }
        Ok(Some(s)) if s == "failed" => Step::blocked(
            "deployment-profile",
            "profile assignment failed",
            "check the profile's assignment in Intune admin center > Devices > Enrollment > Windows > Deployment profiles",
        ),
        Ok(Some(s)) if s == "notAssigned" && in_group == Some(true) => Step::blocked(
            "deployment-profile",
            "in the device group, but no deployment profile is assigned",
            "assign a profile to the device group (onboardctl preflight checks this)",
        ),
        Ok(Some(s)) => Step::pending(
            "deployment-profile",
            format!("deploymentProfileAssignmentStatus {}", if s.is_empty() { "unknown" } else { &s }),
            "Intune assigns the profile once the device is in the group the profile targets",
        ),
        Ok(None) => Step::pending("deployment-profile", "the Autopilot device is gone", "re-run status"),
        Err(e) => Step::unreadable("deployment-profile", "the profile assignment", &e),
    });
    steps.push(match (ap.assigned_upn(), expected_user) {
        (Some(u), Some(want)) if !u.eq_ignore_ascii_case(want.as_str()) => Step::blocked(
            "assigned-user",
            format!("assigned to {u}, the CSV says {want}"),
            "reassign it (device_shipped.allow_reassign) or correct the CSV",
        ),
        (Some(u), _) => Step::ready("assigned-user", format!("assigned to {u}")),
        (None, Some(want)) => Step::pending(
            "assigned-user",
            format!("not yet assigned to {want}"),
            "the device-shipped service assigns it when the shipment event arrives",
        ),
        (None, None) => Step::ready(
            "assigned-user",
            "no user assigned (optional; assigned when shipped)",
        ),
    });
    done(steps)
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

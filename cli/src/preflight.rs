//! `onboardctl preflight`: is the tenant ready for the Autopilot user-driven Entra join flow
//! the services automate, and if not, what to fix, step by step (the seeds' steps 1–6): MDM
//! automatic enrollment (`mdm.rs`: manual, since application permissions cannot read it,
//! graph-behaviour §10, unless a person's delegated sign-in reads it: `delegated.rs`), who may join
//! devices (per `new_hire.join_mode`), the per-user device quota, the configured user and
//! device groups, a deployment profile and an Enrollment Status Page assigned to the device
//! group, and the app registration's permissions (each one needed, none more).
//!
//! Not for: changing anything. Every call here is a read; the report says what an admin does.

mod delegated;
mod mdm;

pub use mdm::{DelegatedSignIn, MDM_PORTAL_PATH};

use std::collections::BTreeSet;
use std::sync::Arc;

use anyhow::Context as _;
use graph::model::{Assignment, GroupId};
use graph::permissions::{self, Needed};
use graph::{GraphClient, JoinScope, NoopObserver};
use serde::Serialize;
use shared::config::{JoinMode, Settings};

use crate::context::Context;
use crate::exit::Exit;
use crate::readiness::{self, State, Step};

const DEVICE_SETTINGS_PATH: &str = "Entra admin center > Devices > Device settings";
const NOT_THIS_APPS_TO_READ: &str = "this app may not read it (by design): \
    run preflight with onboardctl's read-only app to check this step";

/// What `onboardctl` itself needs to read for `preflight` and `status`: read-only.
pub const ONBOARDCTL: &[Needed] = &[
    Needed {
        permission: "User.Read.All",
        why: "status: read users",
    },
    Needed {
        permission: "GroupMember.Read.All",
        why: "read groups and memberships",
    },
    Needed {
        permission: "Policy.Read.DeviceConfiguration",
        why: "read the device registration policy",
    },
    Needed {
        permission: "DeviceManagementServiceConfig.Read.All",
        why: "read Autopilot devices, deployment profiles, ESPs",
    },
    Needed {
        permission: "Device.Read.All",
        why: "status: read Entra devices",
    },
];

/// Whose permissions the credential in `[graph]` is checked against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AppRole {
    /// onboardctl's own read-only registration.
    Onboardctl,
    /// The new-hire service's registration.
    NewHire,
    /// The device-purchased service's registration.
    DevicePurchased,
    /// The device-shipped service's registration.
    DeviceShipped,
}

/// The report: every step in order, and whether the tenant is ready.
#[derive(Debug, Serialize)]
pub struct Preflight {
    /// Whether no step is blocked (pending and manual steps do not count).
    pub ready: bool,
    /// Every step, in the order an admin follows them.
    pub steps: Vec<Step>,
}

/// `onboardctl preflight`'s flags.
#[derive(clap::Args)]
pub struct Args {
    /// Judge the [graph] credential's permissions against these apps' needs (repeatable;
    /// default: onboardctl's own read-only set). Run it with a service's config and
    /// `--permissions-for new-hire` to check that service's registration.
    #[arg(long, value_enum, default_values_t = [AppRole::Onboardctl])]
    permissions_for: Vec<AppRole>,
    /// Also read what no application may read (MDM user scope, for automatic enrollment)
    /// with a person's sign-in: `azure-cli` = the account signed in to `az` (delegated
    /// Policy.Read.All and a reader role such as Global Reader). Used for that read only.
    #[arg(long, value_enum, value_name = "SIGN_IN")]
    delegated: Option<DelegatedSignIn>,
}

/// Checks and reports; `NotReady` when a step is blocked.
pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Exit> {
    let report = check(&ctx.settings, &args.permissions_for, args.delegated).await?;
    ctx.output.print(&report, || render(&report));
    Ok(Exit::unless(report.ready, Exit::NotReady))
}

/// Runs every check with the credential in `[graph]`, judging its permissions as `roles`
/// (the union of their needs). With `sign_in`, MDM user scope (which no application may
/// read) is read with that person's delegated sign-in, and only that.
pub async fn check(
    settings: &Settings,
    roles: &[AppRole],
    sign_in: Option<DelegatedSignIn>,
) -> anyhow::Result<Preflight> {
    let graph = GraphClient::new(&settings.graph, Arc::new(NoopObserver))
        .context("building the Graph client ([graph])")?;
    let mut steps = Vec::new();
    steps.push(mdm::step(settings, sign_in).await);
    steps.extend(join_and_quota(&graph, settings).await);
    steps.extend(user_groups(&graph, settings).await);
    let (device_step, device_group) = device_group(&graph, settings).await;
    steps.push(device_step);
    steps.push(deployment_profile(&graph, device_group.as_ref()).await);
    steps.push(enrollment_status_page(&graph, device_group.as_ref()).await);
    steps.push(permission_step(&graph, settings, roles).await);
    if !roles.contains(&AppRole::Onboardctl) {
        // Judging a service's registration: it is not meant to read everything preflight
        // reads, so a refused read is for onboardctl's own app to check, not a finding.
        for s in steps.iter_mut().filter(|s| s.denied) {
            s.state = State::Manual;
            s.fix = Some(NOT_THIS_APPS_TO_READ.to_owned());
        }
    }
    Ok(Preflight {
        ready: !readiness::any_not_ready(&steps, false),
        steps,
    })
}

/// Every step with what was found and what to do, as a person reads it.
pub fn render(p: &Preflight) -> String {
    let title = if p.ready {
        "preflight: the tenant is ready"
    } else {
        "preflight: fix the BLOCKED steps"
    };
    readiness::render(title, &p.steps)
}

async fn join_and_quota(graph: &GraphClient, settings: &Settings) -> Vec<Step> {
    let cfg = &settings.new_hire;
    let policy = match graph.registration_policy().await {
        Ok(p) => p,
        Err(e) => {
            return vec![Step::unreadable(
                "join-setting",
                "the device registration policy",
                &e,
            )];
        }
    };
    let join_group = GroupId::new(cfg.join_group_id.clone());
    let join = match (cfg.join_mode, policy.join_scope()) {
        (_, Some(JoinScope::Nobody)) => Step::blocked(
            "join-setting",
            "Users may join devices to Microsoft Entra: None: nobody can join a device",
            format!("choose All, or Selected with the join group, under {DEVICE_SETTINGS_PATH}"),
        ),
        (_, Some(JoinScope::All)) => Step::ready(
            "join-setting",
            "Users may join devices to Microsoft Entra: All",
        ),
        (JoinMode::All, Some(JoinScope::Selected { .. })) => Step::blocked(
            "join-setting",
            "join_mode is all, but Users may join devices is Selected",
            format!("choose All under {DEVICE_SETTINGS_PATH}, or set new_hire.join_mode to group"),
        ),
        (JoinMode::Group, Some(JoinScope::Selected { groups, .. })) => {
            if groups.contains(&join_group) {
                Step::ready(
                    "join-setting",
                    format!("Selected, and the join group {join_group} is listed"),
                )
            } else {
                Step::blocked(
                    "join-setting",
                    format!("Selected, but the join group {join_group} is not listed"),
                    format!(
                        "add the group under {DEVICE_SETTINGS_PATH} > Users may join devices > Selected"
                    ),
                )
            }
        }
        (JoinMode::Users, Some(JoinScope::Selected { .. })) => Step::ready(
            "join-setting",
            "Selected: the new-hire service adds each hire to the list",
        ),
        (_, Some(JoinScope::Unknown(_)) | None) => Step::blocked(
            "join-setting",
            "the policy's allowedToJoin has a shape this tool does not know",
            format!("check {DEVICE_SETTINGS_PATH} by hand"),
        ),
    };
    let floor = cfg.min_user_device_quota;
    let quota = match policy.user_device_quota {
        Some(q) if q >= floor => Step::ready(
            "user-device-quota",
            format!("Maximum number of devices per user: {q} (at least {floor})"),
        ),
        Some(q) => Step::blocked(
            "user-device-quota",
            format!("Maximum number of devices per user is {q}, below {floor}: joins past it fail"),
            format!(
                "raise it under {DEVICE_SETTINGS_PATH}, or lower new_hire.min_user_device_quota"
            ),
        ),
        None => Step::blocked(
            "user-device-quota",
            "the policy has no userDeviceQuota",
            format!("set Maximum number of devices per user under {DEVICE_SETTINGS_PATH}"),
        ),
    };
    vec![join, quota]
}

/// The join group (mode `group`), then every hire's groups and each department's.
async fn user_groups(graph: &GraphClient, settings: &Settings) -> Vec<Step> {
    let cfg = &settings.new_hire;
    let mut wanted: Vec<(String, String)> = Vec::new();
    if cfg.join_mode == JoinMode::Group {
        wanted.push(("join-group".into(), cfg.join_group_id.clone()));
    }
    for g in &cfg.groups {
        wanted.push(("user-group".into(), g.clone()));
    }
    for (dept, ids) in &cfg.department_groups {
        for g in ids {
            wanted.push((format!("user-group ({dept})"), g.clone()));
        }
    }
    let mut seen = BTreeSet::new();
    let mut steps = Vec::new();
    for (step, id) in wanted {
        if !seen.insert(id.clone()) {
            continue;
        }
        if id.is_empty() {
            steps.push(Step::blocked(
                &step,
                "new_hire.join_group_id is empty",
                "set it to the object id of the group the policy's Selected list holds",
            ));
            continue;
        }
        steps.push(match graph.group(&GroupId::new(id.clone())).await {
            Ok(Some(g)) => Step::ready(
                &step,
                format!("{id} exists ({})", g.display_name.as_deref().unwrap_or("?")),
            ),
            Ok(None) => Step::blocked(
                &step,
                format!("group {id} does not exist"),
                "create it, or correct the id in new_hire settings",
            ),
            Err(e) => Step::unreadable(&step, &format!("group {id}"), &e),
        });
    }
    steps
}

async fn device_group(graph: &GraphClient, settings: &Settings) -> (Step, Option<GroupId>) {
    const STEP: &str = "device-group";
    let cfg = &settings.device_purchased;
    if cfg.device_group_id.is_empty() {
        return (
            Step::blocked(
                STEP,
                "device_purchased.device_group_id is empty: no group to assign the profile and ESP to",
                "create a security group for Autopilot devices and set device_purchased.device_group_id",
            ),
            None,
        );
    }
    let id = GroupId::new(cfg.device_group_id.clone());
    let step = match graph.group(&id).await {
        Ok(None) => Step::blocked(
            STEP,
            format!("device group {id} does not exist"),
            "create a security group for Autopilot devices, or correct device_purchased.device_group_id",
        ),
        Ok(Some(g)) if !g.can_hold_devices() => Step::blocked(
            STEP,
            format!(
                "{id} ({}) is not a security group (Microsoft 365 or mail group): devices cannot be members",
                g.display_name.as_deref().unwrap_or("?")
            ),
            "use a security group for devices",
        ),
        Ok(Some(g)) if g.is_dynamic() != cfg.device_group_dynamic => Step::blocked(
            STEP,
            format!(
                "{id} is {}, but device_purchased.device_group_dynamic is {}",
                if g.is_dynamic() {
                    "dynamic"
                } else {
                    "assigned (static)"
                },
                cfg.device_group_dynamic
            ),
            "set device_purchased.device_group_dynamic to match the group",
        ),
        Ok(Some(g)) if g.is_dynamic() => Step::ready(
            STEP,
            format!(
                "{id} is a dynamic security group (rule: {}); the service does not write its members",
                g.membership_rule.as_deref().unwrap_or("?")
            ),
        ),
        Ok(Some(g)) => Step::ready(
            STEP,
            format!(
                "{id} ({}) is a security group",
                g.display_name.as_deref().unwrap_or("?")
            ),
        ),
        Err(e) => Step::unreadable(STEP, &format!("group {id}"), &e),
    };
    (step, Some(id))
}

/// Whether `assignments` reach the device group (or all devices).
fn reaches(assignments: &[Assignment], group: &GroupId) -> bool {
    assignments.iter().any(|a| {
        let exclusion = a.target_type.contains("exclusion");
        !exclusion
            && (a.group.as_ref() == Some(group)
                || a.target_type.ends_with("allDevicesAssignmentTarget"))
    })
}

async fn deployment_profile(graph: &GraphClient, group: Option<&GroupId>) -> Step {
    const STEP: &str = "deployment-profile";
    let profiles = match graph.deployment_profiles().await {
        Ok(p) => p,
        Err(e) => return Step::unreadable(STEP, "Autopilot deployment profiles", &e),
    };
    let Some(group) = group else {
        return Step::blocked(
            STEP,
            format!("{} profiles; no device group to check", profiles.len()),
            "configure the device group first",
        );
    };
    match profiles.iter().find(|p| reaches(&p.assignments, group)) {
        Some(p) => Step::ready(
            STEP,
            format!("\"{}\" is assigned to the device group", p.display_name),
        ),
        None if profiles.is_empty() => Step::blocked(
            STEP,
            "no Autopilot deployment profile exists",
            "create a user-driven Entra join profile and assign it to the device group: Intune admin center > Devices > Enrollment > Windows > Deployment profiles",
        ),
        None => Step::blocked(
            STEP,
            format!(
                "{} deployment profile(s), none assigned to the device group {group}",
                profiles.len()
            ),
            "assign a profile to the device group: Intune admin center > Devices > Enrollment > Windows > Deployment profiles > Assignments",
        ),
    }
}

async fn enrollment_status_page(graph: &GraphClient, group: Option<&GroupId>) -> Step {
    const STEP: &str = "enrollment-status-page";
    let pages = match graph.esp_configurations().await {
        Ok(p) => p,
        Err(e) => return Step::unreadable(STEP, "Enrollment Status Page configurations", &e),
    };
    let Some(group) = group else {
        return Step::blocked(
            STEP,
            format!("{} ESPs; no device group to check", pages.len()),
            "configure the device group first",
        );
    };
    if let Some(p) = pages
        .iter()
        .find(|p| !p.is_default && reaches(&p.assignments, group))
    {
        return Step::ready(
            STEP,
            format!("\"{}\" is assigned to the device group", p.display_name),
        );
    }
    Step::blocked(
        STEP,
        format!("no Enrollment Status Page is assigned to the device group {group}"),
        "create an ESP and assign it to the device group: Intune admin center > Devices > Enrollment > Windows > Enrollment Status Page",
    )
}

/// The permissions `roles` need (union, in order, once each).
pub fn needed_for(settings: &Settings, roles: &[AppRole]) -> Vec<Needed> {
    let mut out: Vec<Needed> = Vec::new();
    for role in roles {
        let lists: Vec<&[Needed]> = match role {
            AppRole::Onboardctl => vec![ONBOARDCTL],
            AppRole::NewHire if settings.new_hire.join_mode == JoinMode::Users => {
                vec![permissions::NEW_HIRE, permissions::NEW_HIRE_USERS_JOIN_MODE]
            }
            AppRole::NewHire => vec![permissions::NEW_HIRE],
            AppRole::DevicePurchased => vec![permissions::DEVICE_PURCHASED],
            AppRole::DeviceShipped => vec![permissions::DEVICE_SHIPPED],
        };
        for n in lists.into_iter().flatten() {
            if !out.iter().any(|o| o.permission == n.permission) {
                out.push(*n);
            }
        }
    }
    // A ReadWrite need makes the Read of the same resource redundant.
    let all = out.clone();
    out.retain(|n| {
        !all.iter()
            .any(|o| o.permission != n.permission && covers(o.permission, n.permission))
    });
    out
}

/// `X.ReadWrite.Y` covers `X.Read.Y` (as `permissions::missing` judges).
fn covers(granted: &str, needed: &str) -> bool {
    granted == needed
        || needed
            .split_once(".Read.")
            .is_some_and(|(res, scope)| granted == format!("{res}.ReadWrite.{scope}"))
}

/// Granted roles no need asks for, or broader than the need (ReadWrite where Read does).
pub fn excess(granted: &[String], needed: &[Needed]) -> Vec<String> {
    granted
        .iter()
        .filter(|g| !needed.iter().any(|n| n.permission == g.as_str()))
        .cloned()
        .collect()
}

async fn permission_step(graph: &GraphClient, settings: &Settings, roles: &[AppRole]) -> Step {
    const STEP: &str = "app-permissions";
    let granted = match graph.granted_roles().await {
        Ok(g) => g,
        Err(e) => return Step::unreadable(STEP, "the token's roles", &e),
    };
    let needed = needed_for(settings, roles);
    let missing = permissions::missing(&granted, &needed);
    let extra = excess(&granted, &needed);
    let app = &settings.graph.client_id;
    if missing.is_empty() && extra.is_empty() {
        return Step::ready(
            STEP,
            format!("app {app} holds exactly: {}", granted.join(", ")),
        );
    }
    let mut found = Vec::new();
    if !missing.is_empty() {
        found.push(format!(
            "missing {}",
            missing
                .iter()
                .map(|n| format!("{} ({})", n.permission, n.why))
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !extra.is_empty() {
        found.push(format!("more than needed: {}", extra.join(", ")));
    }
    Step::blocked(
        STEP,
        format!("app {app}: {}", found.join("; ")),
        "grant the missing and remove the excess application permissions (with admin consent): Entra admin center > App registrations > API permissions",
    )
}

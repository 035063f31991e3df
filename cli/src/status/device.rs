//! `status --serial` (and each row of a hardware-hash CSV): a device's steps, from its
//! Autopilot registration to the Entra device, the device group, the deployment profile and
//! its assigned user.
//!
//! Not for: the tenant's profiles and ESP themselves (`preflight`), only this device's.

use graph::GraphClient;
use graph::model::{AutopilotDevice, GroupId, MemberRef};
use shared::config::Settings;
use shared::ids::{SerialNumber, Upn};

use super::{Subject, worst};
use crate::readiness::Step;

/// The readiness of the device `serial`; `expected_user` is the CSV's assigned user, if any.
pub(super) async fn device(
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::readiness::State;

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
}

//! Autopilot deployment profiles reaching devices (graph-behaviour §18) and devices registered by an
//! OEM, reseller or Partner Center (graph-behaviour §21).
//!
//! Profile assignment is evaluated lazily with the rest of the tenant ([`advance_assignments`],
//! called from `lifecycle::advance` before every request and admin change): a device whose Entra
//! object is a direct member of a group some profile targets becomes `pending`, and
//! `assignedInSync` `Timings::profile_assignment_secs` (emulated) after it became a member. A
//! device no profile targets stays (or becomes) `notAssigned`. Since evaluation runs before every
//! request, a membership seen now began at the previous evaluation at the earliest — or when the
//! Entra device appeared, if that is later — and that is when the delay starts.
//!
//! Partner registrations ([`register_partner_devices`]) turn into `windowsAutopilotDeviceIdentity`
//! records when their emulated delay has passed, without any import record, and their Entra
//! device appears `Timings::entra_device_secs` later, as for an import (graph-behaviour §8).

use std::collections::HashMap;
use std::time::{Instant, SystemTime};

use serde_json::Value;

use super::Call;
use super::directory::members_of;
use crate::clock::Speed;
use crate::fixture::{AutopilotDevice, DeploymentProfile, Fixture, Group, PartnerRegistration};
use crate::reply::{ApiError, Reply};
use crate::state::World;

/// Starts the fixture's clocks: partner registrations count from load, and so does the
/// membership of devices that a profile targets but that are not assigned yet.
pub(crate) fn arm(tenant: &mut Fixture, now: Instant, speed: Speed) {
    tenant.assignments_checked_at = Some(now);
    for r in &mut tenant.partner_registrations {
        r.due_at = Some(now + speed.scaled_secs(r.after_seconds));
    }
    for d in &mut tenant.autopilot_devices {
        d.profile_pending = None;
    }
}

/// Queues a partner registration at run time (`POST /_emulator/partner-registrations`);
/// returns the id the device will have.
pub(crate) fn queue_partner_registration(
    w: &mut World,
    mut r: PartnerRegistration,
    now: Instant,
) -> String {
    let id = r.id.clone().unwrap_or_else(|| w.new_id());
    r.id = Some(id.clone());
    r.due_at = Some(now + w.speed.scaled_secs(r.after_seconds));
    w.tenant.partner_registrations.push(r);
    id
}

/// Registers every partner device whose time has come (graph-behaviour §21).
pub(crate) fn register_partner_devices(w: &mut World, now: Instant) {
    let (due, waiting): (Vec<_>, Vec<_>) = std::mem::take(&mut w.tenant.partner_registrations)
        .into_iter()
        .partition(|r| r.due_at.is_some_and(|t| t <= now));
    w.tenant.partner_registrations = waiting;
    for r in due {
        // Our choice: a serial already registered in this tenant is not registered twice.
        if w.tenant
            .autopilot_devices
            .iter()
            .any(|d| d.serial_number.eq_ignore_ascii_case(&r.serial_number))
        {
            continue;
        }
        let at = r.due_at.unwrap_or(now);
        let id = r.id.clone().unwrap_or_else(|| w.new_id());
        let hash = r
            .hardware_identifier
            .clone()
            .unwrap_or_else(|| crate::demo::hardware_hash(&r.serial_number));
        crate::lifecycle::register_device(
            w,
            AutopilotDevice {
                id,
                serial_number: r.serial_number.clone(),
                hardware_identifier: Some(hash),
                group_tag: r.group_tag.clone(),
                purchase_order_identifier: r.purchase_order_identifier.clone(),
                manufacturer: r.manufacturer.clone(),
                model: r.model.clone(),
                enrollment_state: "notContacted".into(),
                ..Default::default()
            },
            at,
        );
    }
}

/// Which groups each visible Entra device is a direct member of (lower-case ids), computed once
/// per evaluation: dynamic groups evaluate their rule over every device, so per-device lookups
/// would cost devices × groups × devices on every request.
fn device_groups(w: &World) -> HashMap<String, Vec<String>> {
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    let targeted = |g: &Group| {
        w.tenant.deployment_profiles.iter().any(|p| {
            p.assigned_group_ids
                .iter()
                .any(|id| id.eq_ignore_ascii_case(&g.id))
        })
    };
    for g in w.tenant.groups.iter().filter(|g| targeted(g)) {
        for m in members_of(w, g) {
            map.entry(m.to_ascii_lowercase())
                .or_default()
                .push(g.id.to_ascii_lowercase());
        }
    }
    map
}

/// The profile that targets device `d` now, with when its Entra device appeared (if known).
/// Our choice where several target it: the first in the tenant's list (the oldest profile), and
/// only *direct* membership counts, as for the ESP.
fn targeting_profile(
    w: &World,
    groups_of: &HashMap<String, Vec<String>>,
    d: &AutopilotDevice,
) -> Option<(String, Option<Instant>)> {
    let aad = d.azure_active_directory_device_id.as_deref()?;
    let obj = w
        .tenant
        .entra_devices
        .iter()
        .find(|e| e.visible_at.is_none() && e.device_id.eq_ignore_ascii_case(aad))?;
    let groups = groups_of.get(&obj.id.to_ascii_lowercase())?;
    w.tenant
        .deployment_profiles
        .iter()
        .find(|p| {
            p.assigned_group_ids
                .iter()
                .any(|g| groups.contains(&g.to_ascii_lowercase()))
        })
        .map(|p| (p.id.clone(), obj.appeared_at))
}

/// Moves every device's profile assignment along (graph-behaviour §18).
pub(crate) fn advance_assignments(w: &mut World, now: Instant) {
    let since = w.tenant.assignments_checked_at.unwrap_or(now);
    let delay = w.speed.scaled_secs(w.timings.profile_assignment_secs);
    let groups_of = device_groups(w);
    for i in 0..w.tenant.autopilot_devices.len() {
        let target = targeting_profile(w, &groups_of, &w.tenant.autopilot_devices[i]);
        let d = &mut w.tenant.autopilot_devices[i];
        let Some((profile, appeared)) = target else {
            // Our choice: a device no profile targets any more loses its profile at once.
            d.profile_pending = None;
            d.deployment_profile_id = None;
            d.deployment_profile_assigned_date_time = None;
            continue;
        };
        if d.deployment_profile_id.as_deref() == Some(profile.as_str()) {
            d.profile_pending = None;
            continue;
        }
        let due = match &d.profile_pending {
            Some((p, due)) if *p == profile => *due,
            _ => {
                let start = appeared.map_or(since, |a| a.max(since)).min(now);
                start + delay
            }
        };
        if due <= now {
            d.deployment_profile_id = Some(profile);
            d.deployment_profile_assigned_date_time = Some(wall_clock_at(due, now));
            d.profile_pending = None;
        } else {
            d.profile_pending = Some((profile, due));
        }
    }
    w.tenant.assignments_checked_at = Some(now);
}

/// RFC 3339 wall-clock time of the instant `at` (≤ `now`).
fn wall_clock_at(at: Instant, now: Instant) -> String {
    let wall = SystemTime::now() - now.saturating_duration_since(at);
    let t = time::OffsetDateTime::from(wall);
    let t = t.replace_nanosecond(0).unwrap_or(t);
    t.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

/// A device's profile state as the beta device resource shows it (graph-behaviour §18).
pub(crate) struct ProfileState<'a> {
    /// `deploymentProfileAssignmentStatus`.
    pub status: &'static str,
    /// `deploymentProfile`: assigned now.
    pub assigned: Option<&'a DeploymentProfile>,
    /// `intendedDeploymentProfile`: about to be assigned (or, once assigned, the same).
    pub intended: Option<&'a DeploymentProfile>,
    /// `deploymentProfileAssignedDateTime`.
    pub assigned_at: String,
}

pub(crate) fn profile_state<'a>(w: &'a World, d: &AutopilotDevice) -> ProfileState<'a> {
    let find = |id: &str| w.tenant.deployment_profile(id);
    let assigned = d.deployment_profile_id.as_deref().and_then(find);
    let pending = d.profile_pending.as_ref().and_then(|(p, _)| find(p));
    // `assignedOutOfSync` (assigned, not in step) while another profile is on its way: our reading
    // of the enum's description; the reference does not say when it occurs.
    let status = match (assigned.is_some(), pending.is_some()) {
        (true, false) => "assignedInSync",
        (true, true) => "assignedOutOfSync",
        (false, true) => "pending",
        (false, false) => "notAssigned",
    };
    ProfileState {
        status,
        assigned,
        intended: pending.or(assigned),
        assigned_at: d
            .deployment_profile_assigned_date_time
            .clone()
            .filter(|_| assigned.is_some())
            .unwrap_or_else(|| "0001-01-01T00:00:00Z".into()),
    }
}

/// Adds `group` to profile `profile_id`'s assignments; `None` if the profile is unknown.
/// Re-assigning the same group changes nothing and answers the existing assignment.
pub(crate) fn assign_profile(
    w: &mut World,
    profile_id: &str,
    group: &str,
) -> Option<(Value, bool)> {
    let p = w.tenant.deployment_profile_mut(profile_id)?;
    let new = !p
        .assigned_group_ids
        .iter()
        .any(|g| g.eq_ignore_ascii_case(group));
    if new {
        p.assigned_group_ids.push(group.to_string());
    }
    Some((super::config::assignment(&p.id, group), new))
}

/// `POST /beta/deviceManagement/windowsAutopilotDeploymentProfiles/{id}/assignments`
/// (graph-behaviour §18) with a `groupAssignmentTarget` → 201 with the assignment.
pub fn create_assignment(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let target = call
        .body()?
        .get("target")
        .and_then(Value::as_object)
        .ok_or_else(|| ApiError::bad("The assignment needs a 'target'."))?;
    let ty = target
        .get("@odata.type")
        .and_then(Value::as_str)
        .unwrap_or("");
    if !ty.eq_ignore_ascii_case("#microsoft.graph.groupAssignmentTarget") {
        // Our choice: only group targets are modelled (the reference names no other).
        return Err(ApiError::bad(format!(
            "Unsupported assignment target type '{ty}'."
        )));
    }
    let group = target
        .get("groupId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    if !w
        .tenant
        .groups
        .iter()
        .any(|g| g.id.eq_ignore_ascii_case(&group))
    {
        // Our choice: Intune validates the group (a 400, as for other bad input).
        return Err(ApiError::bad(format!("Group '{group}' was not found.")));
    }
    let (body, _) = assign_profile(w, call.param(0), &group)
        .ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))?;
    Ok(Reply::created(body))
}

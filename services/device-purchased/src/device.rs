//! What is made true of a registered Autopilot device: its group tag (when configured), its
//! Entra device object found (graph-behaviour §8), and that object a direct member of the device
//! group. Memberships are only ever added: removing an Autopilot device from a group through
//! Graph has deleted its Entra device (graph-behaviour §15).
//!
//! Not for: waiting. A device whose Entra object is not there yet is an error the runtime parks.

use graph::GraphClient;
use graph::model::{
    AutopilotDevice, DeviceObjectId, DeviceProperties, EntraDevice, GroupId, MemberRef, Membership,
};
use serde::Serialize;
use shared::config::DevicePurchasedSettings;
use shared::events::DevicePurchased;
use tracing::Span;
use tracing::field::{Empty, debug};

use crate::error::DevicePurchasedError;

/// What the group-tag step found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum GroupTagUpdate {
    /// The device already carries the event's tag, or the event has none.
    Unchanged,
    /// `device_purchased.update_group_tag` is off and the tags differ: left as it was.
    DiffersNotUpdated,
    /// We set the event's tag on the device (or an earlier delivery of this purchase did; in
    /// shadow mode: would have).
    Updated,
}

/// What the device-group step found or did.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "how")]
pub enum DeviceGroupOutcome {
    /// No `device_purchased.device_group_id`.
    NotConfigured,
    /// The group is dynamic (e.g. on `[OrderID]:`): its rule adds the device.
    Dynamic {
        /// The configured device group.
        group_id: GroupId,
    },
    /// The Entra device object was already a direct member (or a concurrent delivery added it
    /// first); nothing was written.
    AlreadyMember {
        /// The configured device group.
        group_id: GroupId,
    },
    /// We added the Entra device object as a direct member (in shadow mode: would have).
    Added {
        /// The configured device group.
        group_id: GroupId,
    },
}

/// Sets the event's group tag on an already registered device when configured to.
#[tracing::instrument(skip_all, fields(autopilot.id = %device.id, outcome = Empty))]
pub async fn ensure_group_tag(
    graph: &GraphClient,
    cfg: &DevicePurchasedSettings,
    device: &AutopilotDevice,
    purchase: &DevicePurchased,
) -> Result<GroupTagUpdate, DevicePurchasedError> {
    let wanted = purchase.group_tag.as_ref().map(|t| t.as_str());
    let outcome = match wanted {
        None => GroupTagUpdate::Unchanged,
        Some(tag) if device.group_tag.as_deref() == Some(tag) => GroupTagUpdate::Unchanged,
        Some(_) if !cfg.update_group_tag => GroupTagUpdate::DiffersNotUpdated,
        Some(tag) => {
            let props = DeviceProperties {
                group_tag: Some(tag.to_owned()),
                ..Default::default()
            };
            graph.update_device_properties(&device.id, &props).await?;
            GroupTagUpdate::Updated
        }
    };
    Span::current().record("outcome", debug(&outcome));
    Ok(outcome)
}

/// The Entra device object of `device`, or `EntraDevicePending` while Autopilot has not filled
/// in `azureActiveDirectoryDeviceId` or the object is not visible yet.
#[tracing::instrument(skip_all, fields(autopilot.id = %device.id, entra.object_id = Empty))]
pub async fn resolve_entra_device(
    graph: &GraphClient,
    purchase: &DevicePurchased,
    device: &AutopilotDevice,
) -> Result<EntraDevice, DevicePurchasedError> {
    let pending = || DevicePurchasedError::EntraDevicePending(purchase.serial_number.clone());
    let device_id = device.entra_device_id().ok_or_else(pending)?;
    let entra = graph
        .entra_device_by_device_id(&device_id)
        .await?
        .ok_or_else(pending)?;
    Span::current().record("entra.object_id", entra.id.as_str());
    Ok(entra)
}

/// Makes the Entra device object a direct member of the configured device group.
#[tracing::instrument(skip_all, fields(group.id = %cfg.device_group_id, device.id = %object, outcome = Empty))]
pub async fn ensure_device_group_member(
    graph: &GraphClient,
    cfg: &DevicePurchasedSettings,
    object: &DeviceObjectId,
) -> Result<DeviceGroupOutcome, DevicePurchasedError> {
    if cfg.device_group_id.trim().is_empty() {
        return Ok(DeviceGroupOutcome::NotConfigured);
    }
    let group_id = GroupId::new(cfg.device_group_id.trim());
    if cfg.device_group_dynamic {
        return Ok(DeviceGroupOutcome::Dynamic { group_id });
    }
    check_device_group(graph, &group_id).await?;
    let member = MemberRef::Device(object);
    let outcome = if graph.is_direct_member(&group_id, member).await? {
        DeviceGroupOutcome::AlreadyMember { group_id }
    } else {
        // add_member folds Graph's "already exist" 400 (a concurrent delivery won) into AlreadyMember.
        match graph.add_member(&group_id, member).await? {
            Membership::Added => DeviceGroupOutcome::Added { group_id },
            Membership::AlreadyMember => DeviceGroupOutcome::AlreadyMember { group_id },
        }
    };
    Span::current().record("outcome", debug(&outcome));
    Ok(outcome)
}

/// The device group exists, is static, and can hold devices (a security group, graph-behaviour §3).
pub async fn check_device_group(
    graph: &GraphClient,
    group_id: &GroupId,
) -> Result<(), DevicePurchasedError> {
    let group = graph
        .group(group_id)
        .await?
        .ok_or_else(|| DevicePurchasedError::DeviceGroupMissing(group_id.clone()))?;
    if group.is_dynamic() {
        return Err(DevicePurchasedError::DeviceGroupIsDynamic(group_id.clone()));
    }
    if !group.can_hold_devices() {
        return Err(DevicePurchasedError::DeviceGroupNotSecurity(
            group_id.clone(),
        ));
    }
    Ok(())
}

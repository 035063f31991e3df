//! Checks made once at start, before consuming: a device group that cannot take devices is
//! better refused at start than discovered as one dead letter per purchase.
//!
//! Not for: per-purchase checks (`device.rs` checks the group again before adding a device).

use graph::GraphClient;
use graph::model::GroupId;
use shared::config::DevicePurchasedSettings;

use crate::device;

/// Refuses to start when `device_purchased.device_group_id` names a group that does not exist,
/// is dynamic (without `device_group_dynamic`), or is not a security group.
pub async fn check_device_group(
    graph: &GraphClient,
    cfg: &DevicePurchasedSettings,
) -> Result<(), String> {
    let id = cfg.device_group_id.trim();
    if id.is_empty() || cfg.device_group_dynamic {
        tracing::info!(
            group.id = id,
            dynamic = cfg.device_group_dynamic,
            "Device group membership is not written."
        );
        return Ok(());
    }
    device::check_device_group(graph, &GroupId::new(id))
        .await
        .map_err(|e| format!("device_purchased.device_group_id: {e}"))
}

//! Checks made once at start, before consuming: an app registration missing a permission is
//! better refused at start than discovered as a dead letter per shipment.
//!
//! Not for: per-shipment checks (`handler.rs`).

use graph::GraphClient;
use graph::permissions::{self, DEVICE_SHIPPED};

/// Refuses to start when our token lacks a permission the handler needs. Shadow mode needs the
/// write permission too, so turning it off changes nothing else.
pub async fn check_permissions(graph: &GraphClient) -> Result<(), String> {
    let granted = graph
        .granted_roles()
        .await
        .map_err(|e| format!("reading the app's granted permissions: {e}"))?;
    let missing = permissions::missing(&granted, DEVICE_SHIPPED);
    if missing.is_empty() {
        return Ok(());
    }
    let list: Vec<String> = missing
        .iter()
        .map(|n| format!("{} (to {})", n.permission, n.why))
        .collect();
    Err(format!(
        "the app registration lacks {}: grant these application permissions and admin consent",
        list.join(", ")
    ))
}

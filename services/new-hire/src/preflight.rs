//! Checks made once at start, before consuming: a misconfiguration an admin must fix is better
//! refused at start than discovered as a dead letter per hire.
//!
//! Not for: per-hire checks (`handler.rs` reads the policy where the join mode needs it).

use graph::GraphClient;
use graph::JoinScope;
use graph::model::GroupId;
use shared::config::{JoinMode, NewHireSettings};

/// What the start-up check found; logged by `run`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JoinSetup {
    /// The join group is in the policy's Selected groups: membership grants joining.
    JoinGroupListed,
    /// The policy lets everyone join; join-group membership is harmless but not needed.
    PolicyAllowsAll,
    /// Modes `all` and `users` need nothing from the policy at start.
    NotChecked,
}

/// Refuses to start in `group` mode when the join group cannot grant joining, and warns when
/// the per-user device quota is below the floor (Windows 365 Link guidance).
pub async fn check_join_setup(
    graph: &GraphClient,
    cfg: &NewHireSettings,
) -> Result<JoinSetup, String> {
    let policy = graph
        .registration_policy()
        .await
        .map_err(|e| format!("reading the device registration policy: {e}"))?;
    if let Some(quota) = policy.user_device_quota
        && quota < cfg.min_user_device_quota
    {
        tracing::warn!(
            user_device_quota = quota,
            floor = cfg.min_user_device_quota,
            "Maximum number of devices per user is below the configured floor; new devices may fail to join."
        );
    }
    if cfg.join_mode != JoinMode::Group {
        return Ok(JoinSetup::NotChecked);
    }
    let join_group = GroupId::new(cfg.join_group_id.clone());
    match policy.join_scope() {
        Some(JoinScope::Selected { groups, .. }) if groups.contains(&join_group) => {
            Ok(JoinSetup::JoinGroupListed)
        }
        Some(JoinScope::All) => Ok(JoinSetup::PolicyAllowsAll),
        Some(scope) => Err(format!(
            "new_hire.join_group_id {join_group} does not grant joining: the device registration policy allows {} \
             (add the group under Entra > Devices > Device settings > Users may join devices > Selected)",
            scope.label()
        )),
        None => Err("the device registration policy has no azureADJoin.allowedToJoin".to_owned()),
    }
}

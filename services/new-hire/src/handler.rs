//! The new-hire steps, in order: find the user, make sure they may join devices to Microsoft
//! Entra (in the configured join mode), and make sure they are a direct member of their groups.
//! Each step is an `ensure_*` that reads Graph first and writes only what is missing, so a
//! duplicate, late or replayed event writes nothing a second time.
//!
//! Not for: AMQP, retries or outcome publishing (the shared runtime does those with what
//! [`NewHireError::class`] says), nor start-up checks (`preflight.rs`).

use std::collections::BTreeSet;

use graph::GraphClient;
use graph::GraphError;
use graph::JoinOutcome;
use graph::JoinScope;
use graph::model::{GroupId, Membership, User, UserId};
use serde::Serialize;
use shared::config::{JoinMode, NewHireSettings};
use shared::error::{Classify, ErrorClass};
use shared::events::EmployeeHired;
use shared::ids::{EmployeeId, Upn};
use tracing::Span;
use tracing::field::{Empty, debug};

/// What is now true for the hire; the data of `onboarding.user.ready`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserReady {
    pub user_id: UserId,
    pub user_principal_name: String,
    pub employee_id: String,
    pub join: JoinReadiness,
    pub groups: Vec<GroupOutcome>,
}

/// How the hire came to be allowed to join devices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase", tag = "how")]
pub enum JoinReadiness {
    /// The policy lets every user join (mode `all`, or a Selected-mode setting met an All policy).
    EveryoneMayJoin,
    /// Mode `users`: the user was already in the policy's Selected users.
    AlreadyInPolicy,
    /// Mode `users`: we added the user to the policy's Selected users (verified by a re-read).
    AddedToPolicy,
    /// Mode `group`: membership of the join group, which the policy lists.
    JoinGroup {
        group_id: GroupId,
        membership: MembershipOutcome,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MembershipOutcome {
    AlreadyMember,
    Added,
}

impl From<Membership> for MembershipOutcome {
    fn from(m: Membership) -> Self {
        match m {
            Membership::Added => MembershipOutcome::Added,
            Membership::AlreadyMember => MembershipOutcome::AlreadyMember,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupOutcome {
    pub group_id: GroupId,
    pub membership: MembershipOutcome,
}

#[derive(Debug, thiserror::Error)]
pub enum NewHireError {
    #[error(
        "no Entra user with UPN {upn} or employeeId {employee_id} yet (HR provisioning may lag)"
    )]
    UserNotProvisioned { upn: Upn, employee_id: EmployeeId },
    #[error(
        "no Entra user with UPN {upn}, and employeeId {employee_id} matches {count} users: \
         fix the duplicate employeeId in Entra or HR, then replay"
    )]
    AmbiguousEmployeeId {
        upn: Upn,
        employee_id: EmployeeId,
        count: usize,
    },
    #[error(
        "new_hire.join_mode is \"all\" but the device registration policy allows {scope} to join: \
         allow All in Entra > Devices > Device settings, or set join_mode to group or users"
    )]
    PolicyNotAll { scope: &'static str },
    #[error(
        "the device registration policy lets nobody join devices (Users may join devices: None); \
         an admin must choose All or Selected in Entra > Devices > Device settings"
    )]
    JoiningSwitchedOff,
    #[error(
        "the device registration policy's allowedToJoin has a shape this service does not know; it was left unchanged"
    )]
    UnknownPolicyShape,
    #[error(transparent)]
    Graph(#[from] GraphError),
}

impl Classify for NewHireError {
    fn class(&self) -> ErrorClass {
        match self {
            // HR usually publishes before Entra provisioning finishes: wait for it.
            Self::UserNotProvisioned { .. } => ErrorClass::TRANSIENT,
            Self::AmbiguousEmployeeId { .. } => ErrorClass::Permanent,
            Self::PolicyNotAll { .. } => ErrorClass::Permanent,
            Self::JoiningSwitchedOff => ErrorClass::Permanent,
            Self::UnknownPolicyShape => ErrorClass::Permanent,
            Self::Graph(e) => e.class(),
        }
    }

    /// HR provisioning lagging behind the hire event is the expected wait.
    fn is_pending(&self) -> bool {
        matches!(self, Self::UserNotProvisioned { .. })
    }
}

/// Makes a new hire able to join devices and a member of their groups. Safe to repeat.
pub async fn handle(
    graph: &GraphClient,
    cfg: &NewHireSettings,
    hire: &EmployeeHired,
) -> Result<UserReady, NewHireError> {
    let user = resolve_user(graph, &hire.user_principal_name, &hire.employee_id).await?;
    let join = ensure_can_join_devices(graph, cfg, &user).await?;
    let mut groups = Vec::new();
    for group in groups_for(cfg, hire.department.as_deref()) {
        let membership = ensure_group_member(graph, &group, &user.id).await?;
        groups.push(GroupOutcome {
            group_id: group,
            membership,
        });
    }
    Ok(UserReady {
        user_id: user.id,
        user_principal_name: user.user_principal_name,
        employee_id: hire.employee_id.to_string(),
        join,
        groups,
    })
}

/// Finds the hire by UPN, then by employeeId (HR's UPN can differ from Entra's after a rename).
#[tracing::instrument(skip_all, fields(user.id = Empty))]
pub async fn resolve_user(
    graph: &GraphClient,
    upn: &Upn,
    employee_id: &EmployeeId,
) -> Result<User, NewHireError> {
    let user = match graph.user_by_upn(upn).await? {
        Some(user) => user,
        None => {
            let mut found = graph.users_by_employee_id(employee_id).await?;
            match found.len() {
                0 => {
                    return Err(NewHireError::UserNotProvisioned {
                        upn: upn.clone(),
                        employee_id: employee_id.clone(),
                    });
                }
                1 => found.remove(0),
                count => {
                    return Err(NewHireError::AmbiguousEmployeeId {
                        upn: upn.clone(),
                        employee_id: employee_id.clone(),
                        count,
                    });
                }
            }
        }
    };
    Span::current().record("user.id", user.id.as_str());
    Ok(user)
}

/// Makes the user able to join devices to Entra, the way `cfg.join_mode` says.
#[tracing::instrument(skip_all, fields(join.mode = ?cfg.join_mode, outcome = Empty))]
pub async fn ensure_can_join_devices(
    graph: &GraphClient,
    cfg: &NewHireSettings,
    user: &User,
) -> Result<JoinReadiness, NewHireError> {
    let readiness = match cfg.join_mode {
        JoinMode::All => {
            let policy = graph.registration_policy().await?;
            match policy.join_scope() {
                Some(JoinScope::All) => JoinReadiness::EveryoneMayJoin,
                Some(scope) => {
                    return Err(NewHireError::PolicyNotAll {
                        scope: scope.label(),
                    });
                }
                None => return Err(NewHireError::UnknownPolicyShape),
            }
        }
        JoinMode::Group => {
            let group = GroupId::new(cfg.join_group_id.clone());
            let membership = ensure_group_member(graph, &group, &user.id).await?;
            JoinReadiness::JoinGroup {
                group_id: group,
                membership,
            }
        }
        JoinMode::Users => match graph
            .ensure_users_allowed_to_join(std::slice::from_ref(&user.id))
            .await?
        {
            JoinOutcome::EveryoneMayJoin => JoinReadiness::EveryoneMayJoin,
            JoinOutcome::AlreadyAllowed => JoinReadiness::AlreadyInPolicy,
            JoinOutcome::Added => JoinReadiness::AddedToPolicy,
            JoinOutcome::NobodyMayJoin => return Err(NewHireError::JoiningSwitchedOff),
        },
    };
    Span::current().record("outcome", debug(&readiness));
    Ok(readiness)
}

/// Makes `user` a direct member of `group`: reads first, adds only when missing.
#[tracing::instrument(skip_all, fields(group.id = %group.as_str(), user.id = %user.as_str(), outcome = Empty))]
pub async fn ensure_group_member(
    graph: &GraphClient,
    group: &GroupId,
    user: &UserId,
) -> Result<MembershipOutcome, NewHireError> {
    let outcome = if graph.is_direct_member(group, user.into()).await? {
        MembershipOutcome::AlreadyMember
    } else {
        // add_member folds Graph's 400 "already exist" (a concurrent duplicate won) into AlreadyMember.
        graph.add_member(group, user.into()).await?.into()
    };
    Span::current().record("outcome", debug(&outcome));
    Ok(outcome)
}

/// The groups a hire joins: every hire's groups, then their department's, each once, in order.
/// Departments match case-insensitively, because HR systems disagree on case.
pub fn groups_for(cfg: &NewHireSettings, department: Option<&str>) -> Vec<GroupId> {
    let by_department = department.into_iter().flat_map(|dept| {
        cfg.department_groups
            .iter()
            .filter(move |(name, _)| name.eq_ignore_ascii_case(dept.trim()))
            .flat_map(|(_, ids)| ids.iter())
    });
    let mut seen = BTreeSet::new();
    cfg.groups
        .iter()
        .chain(by_department)
        .filter(|id| seen.insert(id.as_str()))
        .map(|id| GroupId::new(id.clone()))
        .collect()
}

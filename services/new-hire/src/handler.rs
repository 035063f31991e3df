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
    /// The hire's Entra object id; also the event's subject.
    pub user_id: UserId,
    /// The UPN as Entra has it, which may differ from HR's after a rename.
    pub user_principal_name: String,
    /// The employee id from the `hr.employee.hired` event.
    pub employee_id: String,
    /// How the hire came to be allowed to join devices to Entra.
    pub join: JoinReadiness,
    /// One entry per configured group (every hire's, then the department's), each now holding
    /// the hire as a direct member.
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
        /// The join group (`new_hire.join_group_id`).
        group_id: GroupId,
        /// Whether the hire was already a direct member or was added now.
        membership: MembershipOutcome,
    },
}

/// How the hire came to be a direct member of a group.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum MembershipOutcome {
    /// The hire was already a direct member (or a concurrent delivery added them first);
    /// nothing was written.
    AlreadyMember,
    /// We added the hire as a direct member (in shadow mode: would have).
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

/// One of the hire's groups, of which the hire is now a direct member.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GroupOutcome {
    /// The group's object id.
    pub group_id: GroupId,
    /// Whether the hire was already a member or was added now.
    pub membership: MembershipOutcome,
}

/// Why a hire could not be made ready; [`Classify`] says whether a retry can help.
#[derive(Debug, thiserror::Error)]
pub enum NewHireError {
    /// Neither the UPN nor the employeeId finds an Entra user yet. Transient (and pending): HR
    /// usually publishes before Entra provisioning finishes.
    #[error(
        "no Entra user with UPN {upn} or employeeId {employee_id} yet (HR provisioning may lag)"
    )]
    UserNotProvisioned {
        /// The UPN from the hire event.
        upn: Upn,
        /// The employee id from the hire event.
        employee_id: EmployeeId,
    },
    /// No user has the UPN and several share the employeeId, so we cannot tell which one is
    /// the hire. Permanent: the duplicate must be fixed in Entra or HR, then the event replayed.
    #[error(
        "no Entra user with UPN {upn}, and employeeId {employee_id} matches {count} users: \
         fix the duplicate employeeId in Entra or HR, then replay"
    )]
    AmbiguousEmployeeId {
        /// The UPN from the hire event, which found nobody.
        upn: Upn,
        /// The employee id that matched more than one user.
        employee_id: EmployeeId,
        /// How many users carry that employee id.
        count: usize,
    },
    /// `join_mode` is `all` but the device registration policy does not let every user join
    /// (graph-behaviour §1). Permanent: an admin must change the policy or the setting.
    #[error(
        "new_hire.join_mode is \"all\" but the device registration policy allows {scope} to join: \
         allow All in Entra > Devices > Device settings, or set join_mode to group or users"
    )]
    PolicyNotAll {
        /// Who the policy lets join instead: `"selected"`, `"none"` or `"unknown"`.
        scope: &'static str,
    },
    /// The device registration policy lets nobody join devices (graph-behaviour §1). Permanent:
    /// only an admin can switch joining on.
    #[error(
        "the device registration policy lets nobody join devices (Users may join devices: None); \
         an admin must choose All or Selected in Entra > Devices > Device settings"
    )]
    JoiningSwitchedOff,
    /// The policy's `allowedToJoin` has none of the three known forms (graph-behaviour §1), so
    /// nothing was written. Permanent.
    #[error(
        "the device registration policy's allowedToJoin has a shape this service does not know; it was left unchanged"
    )]
    UnknownPolicyShape,
    /// A Graph call failed; transient or permanent as the Graph error's own class says.
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

//! The tenant's device registration policy (graph-behaviour §1) and the rails that keep an
//! unattended writer from breaking it. Graph replaces the whole object on PUT, and a PUT
//! without `userDeviceQuota` silently resets it to 0 (nobody can join), so the policy type
//! keeps every field it does not model and `check_rails` compares each write with the policy
//! just read before anything is sent.
//!
//! Not for: serialising concurrent writers (`policy_writer.rs`) or sending (`ops_directory.rs`).

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::model::{GroupId, UserId};

/// `deviceRegistrationPolicy`. Unmodelled fields live in `other` and go back on PUT unchanged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RegistrationPolicy {
    /// How many devices a user may register or join; Graph resets a missing one to 0.
    #[serde(
        rename = "userDeviceQuota",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub user_device_quota: Option<u32>,
    /// Sent back exactly as read: "If Intune is enabled this property cannot be modified".
    #[serde(
        rename = "azureADRegistration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub azure_ad_registration: Option<Value>,
    /// Who may join devices to Entra ID.
    #[serde(
        rename = "azureADJoin",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub azure_ad_join: Option<AzureAdJoin>,
    /// Fields this client does not model, sent back unchanged.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// The policy's `azureADJoin` part. Unmodelled fields live in `other`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AzureAdJoin {
    /// Who `allowedToJoin` covers.
    #[serde(
        rename = "allowedToJoin",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub allowed_to_join: Option<JoinScope>,
    /// Fields this client does not model, sent back unchanged.
    #[serde(flatten)]
    pub other: Map<String, Value>,
}

/// `deviceRegistrationMembership`: who `allowedToJoin` covers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(try_from = "Value", into = "Value")]
pub enum JoinScope {
    /// `allDeviceRegistrationMembership`.
    All,
    /// `noDeviceRegistrationMembership`.
    Nobody,
    /// `enumeratedDeviceRegistrationMembership`: the portal's "Selected".
    Selected {
        /// Users allowed to join devices.
        users: Vec<UserId>,
        /// Groups whose members may join devices.
        groups: Vec<GroupId>,
    },
    /// A shape we do not know (a future type): kept verbatim, never modified.
    Unknown(Value),
}

const ALL: &str = "#microsoft.graph.allDeviceRegistrationMembership";
const NONE: &str = "#microsoft.graph.noDeviceRegistrationMembership";
const ENUMERATED: &str = "#microsoft.graph.enumeratedDeviceRegistrationMembership";

impl TryFrom<Value> for JoinScope {
    type Error = serde_json::Error;
    fn try_from(v: Value) -> Result<Self, Self::Error> {
        #[derive(Deserialize)]
        struct Lists {
            #[serde(default)]
            users: Vec<UserId>,
            #[serde(default)]
            groups: Vec<GroupId>,
        }
        let kind = v.get("@odata.type").and_then(Value::as_str).unwrap_or("");
        Ok(match kind {
            ALL => JoinScope::All,
            NONE => JoinScope::Nobody,
            ENUMERATED => {
                let Lists { users, groups } = serde_json::from_value(v)?;
                JoinScope::Selected { users, groups }
            }
            _ => JoinScope::Unknown(v),
        })
    }
}

impl From<JoinScope> for Value {
    fn from(s: JoinScope) -> Value {
        match s {
            JoinScope::All => serde_json::json!({ "@odata.type": ALL }),
            JoinScope::Nobody => serde_json::json!({ "@odata.type": NONE }),
            JoinScope::Selected { users, groups } => {
                serde_json::json!({ "@odata.type": ENUMERATED, "users": users, "groups": groups })
            }
            JoinScope::Unknown(v) => v,
        }
    }
}

impl JoinScope {
    /// A short name for logs and refusals: `all`, `none`, `selected` or `unknown`.
    pub fn label(&self) -> &'static str {
        match self {
            JoinScope::All => "all",
            JoinScope::Nobody => "none",
            JoinScope::Selected { .. } => "selected",
            JoinScope::Unknown(_) => "unknown",
        }
    }
}

impl RegistrationPolicy {
    /// Who may join devices, when the policy says.
    pub fn join_scope(&self) -> Option<&JoinScope> {
        self.azure_ad_join.as_ref()?.allowed_to_join.as_ref()
    }

    /// The users in the Selected list (empty unless the scope is Selected).
    pub fn selected_users(&self) -> BTreeSet<&UserId> {
        match self.join_scope() {
            Some(JoinScope::Selected { users, .. }) => users.iter().collect(),
            _ => BTreeSet::new(),
        }
    }

    /// The groups in the Selected list (empty unless the scope is Selected): in `group` join
    /// mode the join group must be one of them.
    pub fn selected_groups(&self) -> BTreeSet<&GroupId> {
        match self.join_scope() {
            Some(JoinScope::Selected { groups, .. }) => groups.iter().collect(),
            _ => BTreeSet::new(),
        }
    }

    /// A copy with `add` appended to the Selected users (those not already there); `None` when
    /// the scope is not Selected (nothing we may append to).
    pub fn with_users_added(&self, add: &[UserId]) -> Option<RegistrationPolicy> {
        let mut next = self.clone();
        let join = next.azure_ad_join.as_mut()?;
        match join.allowed_to_join.as_mut()? {
            JoinScope::Selected { users, .. } => {
                for u in add {
                    if !users.contains(u) {
                        users.push(u.clone());
                    }
                }
                Some(next)
            }
            _ => None,
        }
    }

    /// The JSON body of a PUT: every field we read, minus OData annotations (`@odata.context`),
    /// which describe a response and are not properties.
    pub fn to_put_body(&self) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or(Value::Null);
        if let Some(obj) = v.as_object_mut() {
            obj.retain(|k, _| !k.starts_with("@odata."));
        }
        v
    }
}

/// Why a policy write was refused. Each one would lock users out or undo an admin's choice.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RailViolation {
    /// The update has no `userDeviceQuota`.
    #[error("the update has no userDeviceQuota (Graph would reset it to 0 and nobody could join)")]
    QuotaDropped,
    /// The update lowers `userDeviceQuota`.
    #[error("the update lowers userDeviceQuota from {before} to {after}")]
    QuotaLowered {
        /// The quota read.
        before: u32,
        /// The quota the update would set.
        after: u32,
    },
    /// The update changes `azureADRegistration`.
    #[error("the update changes azureADRegistration, which must be sent back unchanged")]
    RegistrationChanged,
    /// The update changes the kind of join scope.
    #[error("the update changes who may join devices from '{before}' to '{after}'")]
    JoinScopeChanged {
        /// The scope read ([`JoinScope::label`]).
        before: &'static str,
        /// The scope the update would set.
        after: &'static str,
    },
    /// The update removes members of the Selected list.
    #[error("the update removes {users} user(s) and {groups} group(s) from the Selected join list")]
    MembersRemoved {
        /// Users the update would drop.
        users: usize,
        /// Groups the update would drop.
        groups: usize,
    },
    /// The update drops a property Graph returned.
    #[error("the update drops the property '{0}' that Graph returned")]
    PropertyDropped(String),
}

/// Compares a policy we are about to PUT with the policy just read. Only additions to the
/// Selected list and a higher quota pass; anything that could lock someone out is refused.
pub fn check_rails(
    read: &RegistrationPolicy,
    desired: &RegistrationPolicy,
) -> Result<(), RailViolation> {
    match (read.user_device_quota, desired.user_device_quota) {
        (_, None) => return Err(RailViolation::QuotaDropped),
        (Some(before), Some(after)) if after < before => {
            return Err(RailViolation::QuotaLowered { before, after });
        }
        _ => {}
    }
    if read.azure_ad_registration != desired.azure_ad_registration {
        return Err(RailViolation::RegistrationChanged);
    }
    check_no_property_dropped("", &read.other, &desired.other)?;
    let (Some(read_join), Some(desired_join)) = (&read.azure_ad_join, &desired.azure_ad_join)
    else {
        return match (&read.azure_ad_join, &desired.azure_ad_join) {
            (Some(_), None) => Err(RailViolation::PropertyDropped("azureADJoin".into())),
            _ => Ok(()),
        };
    };
    check_no_property_dropped("azureADJoin.", &read_join.other, &desired_join.other)?;
    check_join_scope(
        read_join.allowed_to_join.as_ref(),
        desired_join.allowed_to_join.as_ref(),
    )
}

fn check_no_property_dropped(
    prefix: &str,
    read: &Map<String, Value>,
    desired: &Map<String, Value>,
) -> Result<(), RailViolation> {
    match read
        .keys()
        .find(|k| !k.starts_with("@odata.") && !desired.contains_key(*k))
    {
        Some(k) => Err(RailViolation::PropertyDropped(format!("{prefix}{k}"))),
        None => Ok(()),
    }
}

fn check_join_scope(
    read: Option<&JoinScope>,
    desired: Option<&JoinScope>,
) -> Result<(), RailViolation> {
    let (read, desired) = match (read, desired) {
        (None, None) => return Ok(()),
        (Some(_), None) => {
            return Err(RailViolation::PropertyDropped(
                "azureADJoin.allowedToJoin".into(),
            ));
        }
        (None, Some(d)) => {
            return Err(RailViolation::JoinScopeChanged {
                before: "absent",
                after: d.label(),
            });
        }
        (Some(r), Some(d)) => (r, d),
    };
    match (read, desired) {
        (
            JoinScope::Selected {
                users: ru,
                groups: rg,
            },
            JoinScope::Selected {
                users: du,
                groups: dg,
            },
        ) => {
            let users = ru.iter().filter(|u| !du.contains(u)).count();
            let groups = rg.iter().filter(|g| !dg.contains(g)).count();
            if users + groups > 0 {
                return Err(RailViolation::MembersRemoved { users, groups });
            }
            Ok(())
        }
        // Switching scope is an admin's decision: all→selected or anything→none locks people
        // out, and none→selected opens joining that an admin turned off.
        (r, d) if r.label() != d.label() => Err(RailViolation::JoinScopeChanged {
            before: r.label(),
            after: d.label(),
        }),
        (r, d) if r != d => Err(RailViolation::JoinScopeChanged {
            before: r.label(),
            after: d.label(),
        }),
        _ => Ok(()),
    }
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;

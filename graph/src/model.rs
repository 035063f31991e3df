//! What Graph hands us, in our own types: id newtypes (so a device object id cannot be passed
//! where an Entra `deviceId` is meant) and the directory objects the handlers read. Field names
//! follow the Graph reference; every type tolerates extra fields and absent optional ones.
//!
//! Not for: wire types of the emulator (it writes its own from the reference, on purpose), or
//! the device registration policy (`policy.rs`, which must round-trip unknown fields).

use std::fmt;

use serde::{Deserialize, Serialize};

pub mod autopilot;
pub mod readiness;

pub use autopilot::*;
pub use readiness::*;

macro_rules! graph_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps an id Graph (or our configuration) gave us. Not validated: Graph owns it.
            pub fn new(raw: impl Into<String>) -> Self {
                $name(raw.into())
            }
            /// The id as Graph spells it.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl From<String> for $name {
            fn from(raw: String) -> Self {
                $name(raw)
            }
        }

        impl From<&str> for $name {
            fn from(raw: &str) -> Self {
                $name(raw.to_owned())
            }
        }
    };
}

graph_id!(
    /// Entra user object id (`user.id`).
    UserId
);
graph_id!(
    /// Entra group object id (`group.id`).
    GroupId
);
graph_id!(
    /// Entra device **object** id (`device.id`): the key for `$ref`, `checkMemberGroups`,
    /// `/devices/{id}`. Not the same as [`EntraDeviceId`].
    DeviceObjectId
);
graph_id!(
    /// Entra `device.deviceId`, set by Device Registration Service; Autopilot's
    /// `azureActiveDirectoryDeviceId` holds this value (graph-behaviour §8).
    EntraDeviceId
);
graph_id!(
    /// `windowsAutopilotDeviceIdentity.id` (also the ZTDID).
    AutopilotDeviceId
);
graph_id!(
    /// `importedWindowsAutopilotDeviceIdentity.id`: one import record.
    ImportedDeviceId
);
graph_id!(
    /// Our own correlation value in `importedWindowsAutopilotDeviceIdentity.importId`, so we can
    /// find (and delete) only the import records we created (graph-behaviour §15).
    ImportId
);

graph_id!(
    /// `temporaryAccessPassAuthenticationMethod.id`: one Temporary Access Pass of a user.
    TapMethodId
);
graph_id!(
    /// Any directory object's id where Graph may hand back more than one kind (a manager is a
    /// `user` or an `orgContact`, a group owner a `user` or a `servicePrincipal`).
    DirectoryObjectId
);

/// A Graph enum value read as text, matched without ASCII case (third-party code writes
/// `InProgress` where the reference writes `inProgress`); a value this client does not know is
/// kept, not an error, so a new enum member never makes a whole object unreadable.
macro_rules! wire_enum {
    ($(#[$doc:meta])* $name:ident {
        $($(#[$vdoc:meta])* $variant:ident = $wire:literal $(| $alias:literal)*,)+
    }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Deserialize)]
        #[serde(from = "String")]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
            /// A value this client does not know, as Graph sent it.
            Other(String),
        }

        impl From<String> for $name {
            fn from(raw: String) -> Self {
                let known = raw.trim();
                $(
                    if known.eq_ignore_ascii_case($wire) $(|| known.eq_ignore_ascii_case($alias))* {
                        return $name::$variant;
                    }
                )+
                $name::Other(raw)
            }
        }

        impl $name {
            /// The value as Graph spells it.
            pub fn as_str(&self) -> &str {
                match self {
                    $($name::$variant => $wire,)+
                    $name::Other(raw) => raw,
                }
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod access;
pub mod deployment;
pub mod preparation;

pub use access::*;
pub use deployment::*;
pub use preparation::*;

/// Prefix of the import-record ids shadow mode invents; such ids never reach Graph.
const SHADOW_PREFIX: &str = "dry-run:";

impl ImportedDeviceId {
    /// The id a shadow-mode import answers with: `dry-run:{import_id}`.
    pub fn shadow(import_id: &ImportId) -> Self {
        ImportedDeviceId(format!("{SHADOW_PREFIX}{import_id}"))
    }

    /// Whether this id was invented by shadow mode rather than returned by Graph.
    pub fn is_shadow(&self) -> bool {
        self.0.starts_with(SHADOW_PREFIX)
    }
}

// === Users ===

/// The `$select` every user read asks for.
pub(crate) const USER_SELECT: &str = "id,userPrincipalName,employeeId,displayName,accountEnabled";

/// An Entra user: the fields our reads `$select`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    /// The user's object id.
    pub id: UserId,
    /// As Graph stores it (not re-validated as a [`shared::ids::Upn`]: directory data can be dirty).
    pub user_principal_name: String,
    /// HR's `employeeId`, when set.
    #[serde(default)]
    pub employee_id: Option<String>,
    /// Display name, when set.
    #[serde(default)]
    pub display_name: Option<String>,
    /// Whether sign-in is allowed; `None` when Graph did not say.
    #[serde(default)]
    pub account_enabled: Option<bool>,
}

// === Groups ===

pub(crate) const GROUP_SELECT: &str =
    "id,displayName,securityEnabled,mailEnabled,groupTypes,membershipRule";

/// An Entra group: the fields our reads `$select`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Group {
    /// The group's object id.
    pub id: GroupId,
    /// Display name, when set.
    #[serde(default)]
    pub display_name: Option<String>,
    /// A security group (it can hold devices unless it is also `Unified`).
    #[serde(default)]
    pub security_enabled: bool,
    /// Mail-enabled (a distribution or Microsoft 365 group).
    #[serde(default)]
    pub mail_enabled: bool,
    /// `Unified` (Microsoft 365) and/or `DynamicMembership`.
    #[serde(default)]
    pub group_types: Vec<String>,
    /// The membership rule of a dynamic group.
    #[serde(default)]
    pub membership_rule: Option<String>,
}

impl Group {
    /// Members come from a rule; adding one by `$ref` is refused by Graph.
    pub fn is_dynamic(&self) -> bool {
        self.group_types.iter().any(|t| t == "DynamicMembership")
    }

    /// Devices can be members of security groups only (graph-behaviour §3).
    pub fn can_hold_devices(&self) -> bool {
        self.security_enabled && !self.group_types.iter().any(|t| t == "Unified")
    }
}

/// A directory object to add to (or look up in) a group. The kind matters for the path of
/// `checkMemberGroups` and for the permission named in a 403.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MemberRef<'a> {
    /// A user, by object id.
    User(&'a UserId),
    /// An Entra device, by object id (not its `deviceId`).
    Device(&'a DeviceObjectId),
    /// A group, by object id.
    Group(&'a GroupId),
}

impl MemberRef<'_> {
    /// The object id, whatever the kind.
    pub fn id(&self) -> &str {
        match self {
            MemberRef::User(id) => id.as_str(),
            MemberRef::Device(id) => id.as_str(),
            MemberRef::Group(id) => id.as_str(),
        }
    }

    /// The collection the object lives in (`users`, `devices`, `groups`).
    pub(crate) fn collection(&self) -> &'static str {
        match self {
            MemberRef::User(_) => "users",
            MemberRef::Device(_) => "devices",
            MemberRef::Group(_) => "groups",
        }
    }
}

impl<'a> From<&'a UserId> for MemberRef<'a> {
    fn from(id: &'a UserId) -> Self {
        MemberRef::User(id)
    }
}
impl<'a> From<&'a DeviceObjectId> for MemberRef<'a> {
    fn from(id: &'a DeviceObjectId) -> Self {
        MemberRef::Device(id)
    }
}
impl<'a> From<&'a GroupId> for MemberRef<'a> {
    fn from(id: &'a GroupId) -> Self {
        MemberRef::Group(id)
    }
}

/// What `add_member` found or did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Membership {
    /// We added it (or, in shadow mode, would have).
    Added,
    /// It was already a direct member (Graph's 400 "already exist" counts).
    AlreadyMember,
}

// === Entra devices ===

pub(crate) const DEVICE_SELECT: &str = "id,deviceId,displayName,physicalIds";

/// An Entra device object: the fields our reads `$select`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntraDevice {
    /// Object id: what group memberships refer to.
    pub id: DeviceObjectId,
    /// `deviceId`: the id the device itself knows (Autopilot's `azureActiveDirectoryDeviceId`).
    pub device_id: EntraDeviceId,
    /// Display name, when set.
    #[serde(default)]
    pub display_name: Option<String>,
    /// `[ZTDID]:…`, `[OrderID]:<group tag>`, `[PurchaseOrderId]:…` for Autopilot devices.
    #[serde(default)]
    pub physical_ids: Vec<String>,
}

impl EntraDevice {
    /// The value of a `[Name]:value` physical id, matching the name case-insensitively
    /// (Microsoft's docs spell `ZTDId` and `ZTDID`).
    pub fn physical_id(&self, name: &str) -> Option<&str> {
        self.physical_ids.iter().find_map(|p| {
            let (key, value) = p.strip_prefix('[')?.split_once("]:")?;
            key.eq_ignore_ascii_case(name).then_some(value)
        })
    }
}

/// What a removal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Removal {
    /// We deleted it (or, in shadow mode, would have).
    Deleted,
    /// 404: someone (or an earlier delivery of ours) already removed it.
    AlreadyGone,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_kinds_are_read_from_group_types() {
        let g: Group = serde_json::from_str(
            r#"{"id":"g1","displayName":"Autopilot","securityEnabled":true,"mailEnabled":false,
                "groupTypes":["DynamicMembership"],"membershipRule":"(device.devicePhysicalIDs -any (_ -contains \"[ZTDID]\"))"}"#,
        )
        .unwrap();
        assert!(g.is_dynamic());
        assert!(g.can_hold_devices());
        let m365: Group =
            serde_json::from_str(r#"{"id":"g2","securityEnabled":true,"groupTypes":["Unified"]}"#)
                .unwrap();
        assert!(!m365.is_dynamic());
        assert!(!m365.can_hold_devices());
    }

    #[test]
    fn physical_ids_are_looked_up_by_name_ignoring_case() {
        let d: EntraDevice = serde_json::from_str(
            r#"{"id":"obj","deviceId":"dev","physicalIds":["[ZTDId]:z-1","[OrderID]:Sales","[USER-GID]:x"]}"#,
        )
        .unwrap();
        assert_eq!(d.physical_id("ZTDID"), Some("z-1"));
        assert_eq!(d.physical_id("orderid"), Some("Sales"));
        assert_eq!(d.physical_id("PurchaseOrderId"), None);
    }

    #[test]
    fn users_tolerate_missing_optional_fields() {
        let u: User =
            serde_json::from_str(r#"{"id":"u1","userPrincipalName":"ada@contoso.com","extra":1}"#)
                .unwrap();
        assert_eq!(u.employee_id, None);
        assert_eq!(u.id, UserId::new("u1"));
    }
}

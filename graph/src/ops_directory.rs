//! Directory operations (graph-behaviour §1–§3, §8): users, groups and memberships, Entra devices,
//! and the device registration policy. Each method builds a `Call` and interprets the answer;
//! shadow-mode results are documented on each write.
//!
//! Not for: retries, tokens or spans (`client.rs`), which every operation gets for free.

use std::sync::Arc;

use reqwest::Method;
use serde::Deserialize;

use super::call::{Call, Sent, Version};
use super::client::{Core, GraphClient};
use super::error::{GraphError, Operation};
use super::escape::{filter_literal, segment, user_key};
use super::model::{
    DEVICE_SELECT, EntraDevice, EntraDeviceId, GROUP_SELECT, Group, GroupId, MemberRef, Membership,
    USER_SELECT, User, UserId,
};
use super::pages::Page;
use super::policy::{RegistrationPolicy, check_rails};
use super::policy_writer::{JoinOutcome, PolicyStore, Written};
use shared::ids::{EmployeeId, Upn};

const READ_USER: Operation = Operation {
    name: "read user",
    permission: "User.Read.All",
};
const READ_GROUP: Operation = Operation {
    name: "read group",
    permission: "GroupMember.Read.All",
};
const READ_DEVICE: Operation = Operation {
    name: "read Entra device",
    permission: "Device.Read.All",
};
const READ_POLICY: Operation = Operation {
    name: "read device registration policy",
    permission: "Policy.Read.DeviceConfiguration",
};
const WRITE_POLICY: Operation = Operation {
    name: "update device registration policy",
    permission: "Policy.ReadWrite.DeviceConfiguration",
};

/// Turns a 404 into `None`: for lookups, absence is an answer.
pub(crate) fn found<T>(r: Result<T, GraphError>) -> Result<Option<T>, GraphError> {
    match r {
        Ok(v) => Ok(Some(v)),
        Err(GraphError::NotFound { .. }) => Ok(None),
        Err(e) => Err(e),
    }
}

impl GraphClient {
    /// `GET /v1.0/users/{upn}?$select=…`; 404 → `None`.
    pub async fn user_by_upn(&self, upn: &Upn) -> Result<Option<User>, GraphError> {
        let call = Call::get(
            Version::V1,
            "/users/{upn}",
            format!("/users{}", user_key(upn)),
            READ_USER,
        )
        .query("$select", USER_SELECT);
        found(
            self.core
                .read(&call)
                .await
                .and_then(|r| Core::json(&call, &r)),
        )
    }

    /// `GET /v1.0/users?$filter=employeeId eq '…'&$select=…`, all pages. Usually 0 or 1 user;
    /// more means dirty HR data (employeeId is not unique in Entra) and is the caller's call.
    pub async fn users_by_employee_id(&self, id: &EmployeeId) -> Result<Vec<User>, GraphError> {
        let call = Call::get(Version::V1, "/users", "/users".into(), READ_USER)
            .query(
                "$filter",
                format!("employeeId eq {}", filter_literal(id.as_str())),
            )
            .query("$select", USER_SELECT);
        self.core.read_all(&call).await
    }

    /// `GET /v1.0/groups/{id}?$select=…`; 404 → `None`.
    pub async fn group(&self, id: &GroupId) -> Result<Option<Group>, GraphError> {
        let call = Call::get(
            Version::V1,
            "/groups/{id}",
            format!("/groups/{}", segment(id.as_str())),
            READ_GROUP,
        )
        .query("$select", GROUP_SELECT);
        found(
            self.core
                .read(&call)
                .await
                .and_then(|r| Core::json(&call, &r)),
        )
    }

    /// `GET /v1.0/groups/{gid}/members/{id}?$select=id`: 200 = direct member, 404 = not (the
    /// 404 also covers a missing group; `add_member` then reports it).
    pub async fn is_direct_member(
        &self,
        group: &GroupId,
        member: MemberRef<'_>,
    ) -> Result<bool, GraphError> {
        let path = format!(
            "/groups/{}/members/{}",
            segment(group.as_str()),
            segment(member.id())
        );
        let call = Call::get(
            Version::V1,
            "/groups/{id}/members/{member-id}",
            path,
            READ_GROUP,
        )
        .query("$select", "id");
        Ok(found(self.core.read(&call).await)?.is_some())
    }

    /// `POST /v1.0/groups/{gid}/members/$ref` with `@odata.id` = `{base}/v1.0/directoryObjects/{id}`.
    /// Graph's 400 "already exist" → `AlreadyMember`. Shadow mode: `Added`.
    pub async fn add_member(
        &self,
        group: &GroupId,
        member: MemberRef<'_>,
    ) -> Result<Membership, GraphError> {
        let op = Operation {
            name: "add group member",
            permission: match member {
                MemberRef::Device(_) => "GroupMember.ReadWrite.All and Device.ReadWrite.All",
                _ => "GroupMember.ReadWrite.All",
            },
        };
        let call = Call::new(
            Method::POST,
            Version::V1,
            "/groups/{id}/members/$ref",
            format!("/groups/{}/members/$ref", segment(group.as_str())),
            op,
        )
        .body(serde_json::json!({ "@odata.id": self.core.directory_object_url(member.id()) }));
        match self.core.write(&call).await {
            Ok(_) => Ok(Membership::Added),
            Err(GraphError::AlreadyExists { .. }) => Ok(Membership::AlreadyMember),
            Err(e) => Err(e),
        }
    }

    /// `POST /v1.0/{users|devices|groups}/{id}/checkMemberGroups` (transitive), in chunks of 20.
    /// Returns the subset of `groups` the member belongs to.
    pub async fn check_member_groups(
        &self,
        member: MemberRef<'_>,
        groups: &[GroupId],
    ) -> Result<Vec<GroupId>, GraphError> {
        #[derive(Deserialize)]
        struct Answer {
            #[serde(default)]
            value: Vec<GroupId>,
        }
        let template = match member {
            MemberRef::User(_) => "/users/{id}/checkMemberGroups",
            MemberRef::Device(_) => "/devices/{id}/checkMemberGroups",
            MemberRef::Group(_) => "/groups/{id}/checkMemberGroups",
        };
        let op = Operation {
            name: "check group memberships",
            permission: "GroupMember.Read.All",
        };
        let mut member_of = Vec::new();
        for chunk in groups.chunks(20) {
            let path = format!(
                "/{}/{}/checkMemberGroups",
                member.collection(),
                segment(member.id())
            );
            let call = Call::new(Method::POST, Version::V1, template, path, op)
                .body(serde_json::json!({ "groupIds": chunk }))
                .reads();
            let answer: Answer = Core::json(&call, &self.core.read(&call).await?)?;
            member_of.extend(answer.value);
        }
        Ok(member_of)
    }

    /// `GET /v1.0/devices?$filter=deviceId eq '…'&$select=id,deviceId,displayName,physicalIds`.
    pub async fn entra_device_by_device_id(
        &self,
        id: &EntraDeviceId,
    ) -> Result<Option<EntraDevice>, GraphError> {
        let call = Call::get(Version::V1, "/devices", "/devices".into(), READ_DEVICE)
            .query(
                "$filter",
                format!("deviceId eq {}", filter_literal(id.as_str())),
            )
            .query("$select", DEVICE_SELECT);
        let page: Page<EntraDevice> = Core::json(&call, &self.core.read(&call).await?)?;
        // deviceId is an alternate key: at most one object can match. A GUID's case carries no
        // meaning, and Autopilot and Entra need not print it the same way.
        Ok(page
            .value
            .into_iter()
            .find(|d| d.device_id.as_str().eq_ignore_ascii_case(id.as_str())))
    }

    /// `GET /v1.0/policies/deviceRegistrationPolicy`.
    pub async fn registration_policy(&self) -> Result<RegistrationPolicy, GraphError> {
        self.core.read_policy().await
    }

    /// Reads the policy, checks the rails against it, then `PUT /v1.0/policies/deviceRegistrationPolicy`
    /// with the whole object. Prefer [`GraphClient::ensure_users_allowed_to_join`] for additions:
    /// it serialises writers. Shadow mode: returns `desired` unsent.
    pub async fn put_registration_policy(
        &self,
        desired: &RegistrationPolicy,
    ) -> Result<RegistrationPolicy, GraphError> {
        let read = self.core.read_policy().await?;
        self.core.put_policy(&read, desired).await?;
        Ok(desired.clone())
    }

    /// Adds `users` to `azureADJoin.allowedToJoin` through the process's single policy writer
    /// (concurrent callers share one GET → PUT → verify). See `policy_writer.rs`.
    pub async fn ensure_users_allowed_to_join(
        &self,
        users: &[UserId],
    ) -> Result<JoinOutcome, GraphError> {
        self.join_writer.ensure_users_allowed_to_join(users).await
    }
}

impl Core {
    pub(crate) async fn read_policy(&self) -> Result<RegistrationPolicy, GraphError> {
        let call = Call::get(
            Version::V1,
            "/policies/deviceRegistrationPolicy",
            "/policies/deviceRegistrationPolicy".into(),
            READ_POLICY,
        );
        Core::json(&call, &self.read(&call).await?)
    }

    /// The only PUT of the policy: refused before sending if it breaks a rail.
    pub(crate) async fn put_policy(
        &self,
        read: &RegistrationPolicy,
        desired: &RegistrationPolicy,
    ) -> Result<Written, GraphError> {
        if let Err(violation) = check_rails(read, desired) {
            tracing::error!(reason = %violation, "Refused a device registration policy write.");
            return Err(violation.into());
        }
        // Graph replaces the whole policy on PUT, so send back every field we read
        // (userDeviceQuota included) and change only what the caller changed.
        let call = Call::new(
            Method::PUT,
            Version::V1,
            "/policies/deviceRegistrationPolicy",
            "/policies/deviceRegistrationPolicy".into(),
            WRITE_POLICY,
        )
        .body(desired.to_put_body());
        Ok(match self.write(&call).await? {
            Sent::Reply(_) => Written::Sent,
            Sent::Shadowed => Written::Shadowed,
        })
    }
}

impl PolicyStore for Arc<Core> {
    async fn read_policy(&self) -> Result<RegistrationPolicy, GraphError> {
        Core::read_policy(self).await
    }

    async fn write_policy(
        &self,
        read: &RegistrationPolicy,
        desired: &RegistrationPolicy,
    ) -> Result<Written, GraphError> {
        self.put_policy(read, desired).await
    }
}

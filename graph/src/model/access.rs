//! First sign-in access for a new hire (graph-behaviour §16, §17): the Temporary Access Pass, the
//! tenant's TAP policy, the hire's manager and the plain-text mail that carries the pass.
//!
//! Not for: deciding when a pass is due or who receives it (the new-hire service does that).
//! The pass value lives only in [`TemporaryAccessPass::value`] and [`OutgoingMail::text`], both
//! `SecretString`s: no `Debug` or `Display` here can print it.

use std::fmt;

use secrecy::SecretString;
use serde::Deserialize;
use time::OffsetDateTime;

use super::autopilot::lenient_time;
use super::{DirectoryObjectId, GroupId, TapMethodId};

/// The range Graph allows for `lifetimeInMinutes` whatever the policy says (graph-behaviour §16).
pub const TAP_LIFETIME_LIMITS: (u32, u32) = (10, 43_200);

// === Temporary Access Pass ===

/// What to ask for when creating a pass. Every field is optional on the wire: no start means
/// "usable at once", no lifetime means the policy's default (graph-behaviour §16).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct NewTemporaryAccessPass {
    /// When the pass starts to work (`startDateTime`); sent in UTC.
    pub start: Option<OffsetDateTime>,
    /// `lifetimeInMinutes`, counted from the start (10–43200, and inside the policy's bounds:
    /// see [`TapPolicy::clamp_lifetime`]).
    pub lifetime_in_minutes: Option<u32>,
    /// `isUsableOnce`; must be `true` when the policy makes every pass single-use.
    pub is_usable_once: Option<bool>,
}

/// A pass as Graph lists it: everything but the value, which Graph never shows after the create
/// call (the list answers `"temporaryAccessPass": null`, and this type has no field for it).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TapMethod {
    /// The pass's id (one per user: a new pass replaces the old one).
    pub id: TapMethodId,
    /// When Graph created it.
    #[serde(default, deserialize_with = "lenient_time")]
    pub created_date_time: Option<OffsetDateTime>,
    /// When it starts to work; `None` = from creation.
    #[serde(default, deserialize_with = "lenient_time")]
    pub start_date_time: Option<OffsetDateTime>,
    /// How long it works, in minutes from the start.
    #[serde(default)]
    pub lifetime_in_minutes: Option<u32>,
    /// Whether one sign-in uses it up.
    #[serde(default)]
    pub is_usable_once: Option<bool>,
    /// Whether it can be used right now.
    #[serde(default)]
    pub is_usable: Option<bool>,
    /// Why (not) usable now.
    #[serde(default)]
    pub method_usability_reason: Option<TapUsability>,
}

wire_enum!(
    /// `methodUsabilityReason` of a pass (graph-behaviour §16).
    TapUsability {
        /// Usable now.
        EnabledByPolicy = "EnabledByPolicy",
        /// The tenant policy disallows it.
        DisabledByPolicy = "DisabledByPolicy",
        /// Its lifetime has passed.
        Expired = "Expired",
        /// Its start is still ahead.
        NotYetValid = "NotYetValid",
        /// A single-use pass that was used.
        OneTimeUsed = "OneTimeUsed",
    }
);

impl TapMethod {
    /// When the pass starts to work: its start, or its creation when it has none.
    pub fn valid_from(&self) -> Option<OffsetDateTime> {
        self.start_date_time.or(self.created_date_time)
    }

    /// When it stops working, if Graph said enough to know.
    pub fn valid_until(&self) -> Option<OffsetDateTime> {
        let minutes = i64::from(self.lifetime_in_minutes?);
        Some(self.valid_from()? + time::Duration::minutes(minutes))
    }
}

/// Ids, times and flags only; never the value.
impl fmt::Display for TapMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Temporary Access Pass {}", self.id)?;
        if let Some(from) = self.valid_from() {
            write!(f, " valid from {from}")?;
        }
        if let Some(minutes) = self.lifetime_in_minutes {
            write!(f, " for {minutes} min")?;
        }
        if self.is_usable_once == Some(true) {
            f.write_str(" (one use)")?;
        }
        Ok(())
    }
}

/// A pass just created: what [`TapMethod`] says, plus the value, which only the create call
/// returns. `Debug` shows `[REDACTED]` for the value and `Display` leaves it out; read it once,
/// with `secrecy::ExposeSecret`, to put it into the mail.
#[derive(Debug, Clone)]
pub struct TemporaryAccessPass {
    /// The pass's id, times and flags.
    pub method: TapMethod,
    /// The pass itself. Empty for a shadow-mode pass (see [`TemporaryAccessPass::is_shadow`]).
    pub value: SecretString,
}

/// The id a shadow-mode create answers with; such a pass was never sent to Graph.
pub(crate) const SHADOW_TAP_ID: &str = "dry-run:temporary-access-pass";

impl TemporaryAccessPass {
    /// Whether shadow mode invented this pass (no request was sent; the value is empty).
    pub fn is_shadow(&self) -> bool {
        self.method.id.as_str() == SHADOW_TAP_ID
    }
}

impl fmt::Display for TemporaryAccessPass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.method, f)
    }
}

// === The tenant's TAP policy ===

/// `temporaryAccessPassAuthenticationMethodConfiguration` (graph-behaviour §16). Absent numbers
/// stay `None`: the checks below then fall back to Graph's own limits.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TapPolicy {
    /// `TemporaryAccessPass` (compare without case: GD's example path writes it in camelCase).
    #[serde(default)]
    pub id: String,
    /// `enabled` or `disabled`.
    #[serde(default)]
    pub state: Option<PolicyState>,
    /// Lifetime when a create names none.
    #[serde(default)]
    pub default_lifetime_in_minutes: Option<u32>,
    /// Characters in a pass (8–48).
    #[serde(default)]
    pub default_length: Option<u32>,
    /// Shortest lifetime a create may ask for.
    #[serde(default)]
    pub minimum_lifetime_in_minutes: Option<u32>,
    /// Longest lifetime a create may ask for.
    #[serde(default)]
    pub maximum_lifetime_in_minutes: Option<u32>,
    /// `true`: every pass is single-use, and a create must say so.
    #[serde(default)]
    pub is_usable_once: Option<bool>,
    /// Who may use passes: groups, or `all_users`.
    #[serde(default)]
    pub include_targets: Vec<TapPolicyTarget>,
    /// Groups excluded from passes.
    #[serde(default)]
    pub exclude_targets: Vec<TapPolicyTarget>,
}

wire_enum!(
    /// `state` of an authentication method configuration.
    PolicyState {
        /// The method is on for its targets.
        Enabled = "enabled",
        /// The method is off.
        Disabled = "disabled",
    }
);

/// One include or exclude target of the policy.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TapPolicyTarget {
    /// `group` (the only documented kind for TAP).
    #[serde(default)]
    pub target_type: Option<String>,
    /// A group id, or [`TapPolicy::ALL_USERS`].
    #[serde(default)]
    pub id: String,
    /// Whether users must register the method (include targets only).
    #[serde(default)]
    pub is_registration_required: Option<bool>,
}

impl TapPolicy {
    /// The include-target id that stands for every user.
    pub const ALL_USERS: &'static str = "all_users";

    /// `state == enabled`.
    pub fn is_enabled(&self) -> bool {
        self.state == Some(PolicyState::Enabled)
    }

    /// Whether a member of `group` is in scope: included directly or through `all_users`, and
    /// not excluded. (Membership of the hire in `group` is the caller's to check.)
    pub fn covers_group(&self, group: &GroupId) -> bool {
        let is = |t: &TapPolicyTarget, id: &str| t.id.eq_ignore_ascii_case(id);
        let included = self
            .include_targets
            .iter()
            .any(|t| is(t, Self::ALL_USERS) || is(t, group.as_str()));
        let excluded = self.exclude_targets.iter().any(|t| is(t, group.as_str()));
        included && !excluded
    }

    /// Whether every user is included (before exclusions).
    pub fn includes_all_users(&self) -> bool {
        self.include_targets
            .iter()
            .any(|t| t.id.eq_ignore_ascii_case(Self::ALL_USERS))
    }

    /// The lifetimes a create may ask for: the policy's bounds, or Graph's 10–43200 where the
    /// policy does not say.
    pub fn lifetime_bounds(&self) -> (u32, u32) {
        let (floor, ceiling) = TAP_LIFETIME_LIMITS;
        let min = self.minimum_lifetime_in_minutes.unwrap_or(floor).max(floor);
        let max = self
            .maximum_lifetime_in_minutes
            .unwrap_or(ceiling)
            .min(ceiling);
        (min, max.max(min))
    }

    /// `minutes` moved into [`TapPolicy::lifetime_bounds`]: Graph refuses a lifetime outside
    /// the policy's range with 400 `badRequest` (graph-behaviour §16), so ask only for one inside.
    pub fn clamp_lifetime(&self, minutes: u32) -> u32 {
        let (min, max) = self.lifetime_bounds();
        minutes.clamp(min, max)
    }

    /// Whether every pass must be single-use (a multi-use create would be refused).
    pub fn requires_usable_once(&self) -> bool {
        self.is_usable_once == Some(true)
    }
}

// === Manager and mail ===

/// A user's manager (graph-behaviour §17): a `user` or an `orgContact`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Manager {
    /// The manager's object id (what an outcome event names, never the address).
    pub id: DirectoryObjectId,
    /// `#microsoft.graph.user`, `#microsoft.graph.orgContact`; `None` when Graph leaves it out
    /// (GD's own example does).
    #[serde(rename = "@odata.type", default)]
    pub odata_type: Option<String>,
    /// Display name, when set.
    #[serde(default)]
    pub display_name: Option<String>,
    /// The mailbox; `None` (Graph's `null`) means the pass cannot be mailed to this manager.
    #[serde(default)]
    pub mail: Option<String>,
    /// UPN, for a user manager.
    #[serde(default)]
    pub user_principal_name: Option<String>,
}

impl Manager {
    /// The address to mail, when there is one. The UPN is not used in its place: it need not
    /// be a mailbox.
    pub fn mailbox(&self) -> Option<&str> {
        self.mail
            .as_deref()
            .map(str::trim)
            .filter(|m| !m.is_empty())
    }

    /// Whether Graph marked the manager as an organisational contact (not a member of the
    /// tenant: no directory sign-in, maybe no mail).
    pub fn is_org_contact(&self) -> bool {
        self.odata_type.as_deref().is_some_and(|t| {
            t.trim_start_matches('#')
                .eq_ignore_ascii_case("microsoft.graph.orgContact")
        })
    }
}

/// One `toRecipients` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailRecipient {
    /// The address.
    pub address: String,
    /// The name shown with it, when known.
    pub name: Option<String>,
}

/// A plain-text mail sent with `sendMail` (graph-behaviour §17). The text carries the pass, so it
/// is a `SecretString`: `Debug` shows `[REDACTED]`, and the client never logs request bodies.
#[derive(Debug, Clone)]
pub struct OutgoingMail {
    /// The subject (no secrets in it: mail gateways log subjects).
    pub subject: String,
    /// The body, sent as `contentType: Text`.
    pub text: SecretString,
    /// The recipients.
    pub to: Vec<MailRecipient>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy(json: &str) -> TapPolicy {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn policy_scope_counts_all_users_and_exclusions() {
        let p = policy(
            r#"{"id":"TemporaryAccessPass","state":"enabled","includeTargets":[{"targetType":"group","id":"all_users"}],
                "excludeTargets":[{"targetType":"group","id":"g-out"}]}"#,
        );
        assert!(p.is_enabled() && p.includes_all_users());
        assert!(p.covers_group(&GroupId::new("g-any")));
        assert!(!p.covers_group(&GroupId::new("g-out")));
        let only = policy(r#"{"state":"Disabled","includeTargets":[{"id":"g1"}]}"#);
        assert!(!only.is_enabled(), "state matched without case");
        assert!(only.covers_group(&GroupId::new("g1")) && !only.covers_group(&GroupId::new("g2")));
    }

    #[test]
    fn lifetimes_are_clamped_to_the_policy_then_to_graph_limits() {
        let p = policy(r#"{"minimumLifetimeInMinutes":60,"maximumLifetimeInMinutes":480}"#);
        assert_eq!(p.clamp_lifetime(30), 60);
        assert_eq!(p.clamp_lifetime(600), 480);
        assert_eq!(p.clamp_lifetime(120), 120);
        let silent = policy("{}");
        assert_eq!(silent.lifetime_bounds(), TAP_LIFETIME_LIMITS);
        assert_eq!(silent.clamp_lifetime(1), 10);
    }

    #[test]
    fn a_listed_pass_knows_its_window_and_never_holds_a_value() {
        let m: TapMethod = serde_json::from_str(
            r#"{"id":"t1","temporaryAccessPass":null,"createdDateTime":"2022-06-02T16:21:09.765173Z",
                "startDateTime":"2022-06-05T00:00:00Z","lifetimeInMinutes":60,"isUsableOnce":false,
                "isUsable":false,"methodUsabilityReason":"NotYetValid"}"#,
        )
        .unwrap();
        assert_eq!(m.method_usability_reason, Some(TapUsability::NotYetValid));
        assert_eq!(
            m.valid_until().unwrap() - m.valid_from().unwrap(),
            time::Duration::hours(1)
        );
        assert!(
            m.to_string()
                .starts_with("Temporary Access Pass t1 valid from 2022-06-05")
        );
    }

    #[test]
    fn a_manager_without_mail_has_no_mailbox() {
        let m: Manager = serde_json::from_str(
            r##"{"@odata.type":"#microsoft.graph.orgContact","id":"c1","mail":"  "}"##,
        )
        .unwrap();
        assert_eq!(m.mailbox(), None);
        assert!(m.is_org_contact());
    }
}

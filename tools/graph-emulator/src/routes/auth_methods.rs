//! Temporary Access Pass (graph-behaviour §16): create, list, get and delete a user's pass, and
//! the tenant's TAP policy (`authenticationMethodConfigurations/TemporaryAccessPass`).
//!
//! - A user has at most one pass: a second create replaces the first (new id, new value), as the
//!   reference states.
//! - The pass value is in the answer to the create only; list and get show `null`.
//! - Validity runs on the emulated calendar ([`crate::clock::EmulatedClock`]): `isUsable` and
//!   `methodUsabilityReason` are computed at each read from `startDateTime`, `lifetimeInMinutes`,
//!   the policy and (for one-time passes) whether the pass was used (`POST
//!   /_emulator/temporaryAccessPassSignIn`, the emulator's stand-in for a sign-in).
//! - A lifetime outside the policy's range is `400 badRequest` with the policy's bounds in the
//!   message; a disabled policy or a user outside its targets gets the "Converged
//!   UserCredentialPolicy" 400 (both as graph-behaviour §16 says).

use rand::Rng;
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use super::Call;
use super::directory::transitive_groups;
use crate::clock::rfc3339;
use crate::fixture::{TapTarget, TemporaryAccessPass, TemporaryAccessPassPolicy, User};
use crate::reply::{ApiError, Reply};
use crate::state::World;

const TAP_TYPE: &str = "#microsoft.graph.temporaryAccessPassAuthenticationMethod";
const POLICY_TYPE: &str = "#microsoft.graph.temporaryAccessPassAuthenticationMethodConfiguration";
/// The policy's id; the path may spell it `temporaryAccessPass` (compared without case, graph-behaviour §16).
pub const POLICY_ID: &str = "TemporaryAccessPass";
/// graph-behaviour §16's observed refusal for a disabled policy or a user outside its targets.
pub const POLICY_REFUSAL: &str = "Converged UserCredentialPolicy does not allow creating or updating this authentication method. AuthMethodType [TemporaryAccessPass].";
/// ED's troubleshooting text for guests (graph-behaviour §16); its status is UNVERIFIED, we answer 400.
pub const GUEST_REFUSAL: &str = "Temporary Access Pass cannot be added to an external guest user.";
/// Not in the reference (its body is UNVERIFIED there): our wording for a multi-use pass
/// requested while the policy makes every pass single-use.
pub const ONE_TIME_ONLY: &str =
    "Invalid IsUsableOnce specified. The policy only allows one-time use Temporary Access Pass.";
/// What generated passes are drawn from: the documented examples (`+drkzqAD`, `TAPRocks!`)
/// show letters and symbols; the exact alphabet is not documented.
const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz23456789+!@#$%&*?";

/// graph-behaviour §16's error code is the lower-case `badRequest`.
fn bad_request(message: impl Into<String>) -> ApiError {
    ApiError::Coded {
        status: 400,
        code: "badRequest",
        message: message.into(),
    }
}

fn user<'a>(w: &'a World, call: &Call<'_>) -> Result<&'a User, ApiError> {
    super::users::find(w, call.param(0)).ok_or_else(|| ApiError::NotFound(call.raw_param(0).into()))
}

/// The policy is enabled and the user is in its include targets and not in its exclude targets.
pub(crate) fn policy_allows(w: &World, user_id: &str) -> bool {
    let policy = &w.tenant.temporary_access_pass_policy;
    if !policy.is_enabled() {
        return false;
    }
    let groups = transitive_groups(w, user_id);
    let hits = |targets: &[TapTarget]| {
        targets.iter().any(|t| {
            t.id.eq_ignore_ascii_case("all_users") || groups.contains(&t.id.to_ascii_lowercase())
        })
    };
    hits(&policy.include_targets) && !hits(&policy.exclude_targets)
}

fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// `(isUsable, methodUsabilityReason)` at emulated time `now`. Where several reasons apply,
/// the policy is judged first, then one-time use, then the validity window (the reference
/// gives no order).
pub(crate) fn usability(
    w: &World,
    tap: &TemporaryAccessPass,
    now: OffsetDateTime,
) -> (bool, &'static str) {
    if !policy_allows(w, &tap.user_id) {
        return (false, "DisabledByPolicy");
    }
    if tap.is_usable_once && tap.used {
        return (false, "OneTimeUsed");
    }
    let Some(start) = parse_time(&tap.start_date_time) else {
        return (false, "Expired");
    };
    if now < start {
        return (false, "NotYetValid");
    }
    if now >= start + time::Duration::minutes(tap.lifetime_in_minutes) {
        return (false, "Expired");
    }
    (true, "EnabledByPolicy")
}

/// The Graph shape; `with_value` only in the answer to the create.
fn tap_json(w: &World, tap: &TemporaryAccessPass, now: OffsetDateTime, with_value: bool) -> Value {
    let (usable, reason) = usability(w, tap, now);
    json!({
        "@odata.type": TAP_TYPE,
        "id": tap.id,
        "temporaryAccessPass": if with_value { Value::from(tap.temporary_access_pass.clone()) } else { Value::Null },
        "createdDateTime": tap.created_date_time,
        "startDateTime": tap.start_date_time,
        "lifetimeInMinutes": tap.lifetime_in_minutes,
        "isUsableOnce": tap.is_usable_once,
        "isUsable": usable,
        "methodUsabilityReason": reason,
    })
}

/// The create's body, checked against the policy.
struct Requested {
    start: Option<OffsetDateTime>,
    lifetime: i64,
    once: bool,
}

fn requested(call: &Call<'_>, policy: &TemporaryAccessPassPolicy) -> Result<Requested, ApiError> {
    let empty = serde_json::Map::new();
    // No body at all is a create with every default (all three fields are optional).
    let b = match call.body {
        None => &empty,
        Some(v) => v
            .as_object()
            .ok_or_else(|| bad_request("Invalid request body."))?,
    };
    const KNOWN: [&str; 4] = [
        "@odata.type",
        "startDateTime",
        "lifetimeInMinutes",
        "isUsableOnce",
    ];
    if let Some(k) = b.keys().find(|k| !KNOWN.contains(&k.as_str())) {
        // OData refuses properties the type does not have (or may not be set); wording ours.
        return Err(bad_request(format!(
            "The property '{k}' does not exist on type 'microsoft.graph.temporaryAccessPassAuthenticationMethod' or cannot be set."
        )));
    }
    let start = match b.get("startDateTime") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_str()
                .and_then(parse_time)
                .ok_or_else(|| bad_request("Invalid StartDateTime specified."))?,
        ),
    };
    let lifetime = match b.get("lifetimeInMinutes") {
        None | Some(Value::Null) => policy.default_lifetime_in_minutes,
        Some(v) => v
            .as_i64()
            .filter(|n| i32::try_from(*n).is_ok())
            .ok_or_else(|| bad_request("Invalid LifetimeInMinutes specified."))?,
    };
    let (min, max) = (
        policy.minimum_lifetime_in_minutes,
        policy.maximum_lifetime_in_minutes,
    );
    if !(min..=max).contains(&lifetime) {
        return Err(bad_request(format!(
            "Invalid LifetimeInMinutes specified. The valid range between {min} and {max}."
        )));
    }
    let once = match b.get("isUsableOnce") {
        None | Some(Value::Null) => policy.is_usable_once,
        Some(v) => v
            .as_bool()
            .ok_or_else(|| bad_request("Invalid IsUsableOnce specified."))?,
    };
    if policy.is_usable_once && !once {
        return Err(bad_request(ONE_TIME_ONLY));
    }
    Ok(Requested {
        start,
        lifetime,
        once,
    })
}

/// A known value queued by the fixture or the admin API, else a random one of the policy's length.
fn next_value(w: &mut World) -> String {
    if !w.tenant.temporary_access_pass_values.is_empty() {
        return w.tenant.temporary_access_pass_values.remove(0);
    }
    let len = usize::try_from(w.tenant.temporary_access_pass_policy.default_length).unwrap_or(8);
    (0..len)
        .map(|_| char::from(ALPHABET[w.rng.random_range(0..ALPHABET.len())]))
        .collect()
}

/// `POST /users/{id}/authentication/temporaryAccessPassMethods` → 201 with the value.
pub fn create(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let u = user(w, call)?;
    let (user_id, guest) = (u.id.clone(), u.user_type.as_deref() == Some("Guest"));
    if guest {
        return Err(bad_request(GUEST_REFUSAL));
    }
    if !policy_allows(w, &user_id) {
        return Err(bad_request(POLICY_REFUSAL));
    }
    let req = requested(call, &w.tenant.temporary_access_pass_policy)?;
    let now = w.clock.at(call.now);
    let tap = TemporaryAccessPass {
        id: w.new_id(),
        user_id: user_id.clone(),
        temporary_access_pass: next_value(w),
        created_date_time: rfc3339(now),
        // Without a start the pass works at once: its start is its creation.
        start_date_time: rfc3339(
            req.start
                .map(|s| s.replace_nanosecond(0).unwrap_or(s))
                .unwrap_or(now),
        ),
        lifetime_in_minutes: req.lifetime,
        is_usable_once: req.once,
        used: false,
    };
    // graph-behaviour §16: at most one pass per user; a new one replaces the old.
    w.tenant
        .temporary_access_passes
        .retain(|t| !t.user_id.eq_ignore_ascii_case(&user_id));
    let body = tap_json(w, &tap, now, true);
    w.tenant.temporary_access_passes.push(tap);
    Ok(Reply::created(body))
}

fn passes_of<'a>(w: &'a World, user_id: &str) -> impl Iterator<Item = &'a TemporaryAccessPass> {
    w.tenant
        .temporary_access_passes
        .iter()
        .filter(move |t| t.user_id.eq_ignore_ascii_case(user_id))
}

/// `GET …/temporaryAccessPassMethods` → `{"value":[…]}`, at most one item, value `null`.
pub fn list(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let user_id = user(w, call)?.id.clone();
    let now = w.clock.at(call.now);
    let value: Vec<Value> = passes_of(w, &user_id)
        .map(|t| tap_json(w, t, now, false))
        .collect();
    Ok(Reply::ok(json!({ "value": value })))
}

/// `GET …/temporaryAccessPassMethods/{tapId}` → the pass, value `null`.
pub fn get(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let user_id = user(w, call)?.id.clone();
    let now = w.clock.at(call.now);
    let tap = passes_of(w, &user_id)
        .find(|t| t.id.eq_ignore_ascii_case(call.param(1)))
        .ok_or_else(|| ApiError::NotFound(call.raw_param(1).into()))?;
    Ok(Reply::ok(tap_json(w, tap, now, false)))
}

/// `DELETE …/temporaryAccessPassMethods/{tapId}` → 204.
pub fn delete(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    let user_id = user(w, call)?.id.clone();
    let before = w.tenant.temporary_access_passes.len();
    w.tenant.temporary_access_passes.retain(|t| {
        !(t.user_id.eq_ignore_ascii_case(&user_id) && t.id.eq_ignore_ascii_case(call.param(1)))
    });
    if w.tenant.temporary_access_passes.len() == before {
        return Err(ApiError::NotFound(call.raw_param(1).into()));
    }
    Ok(Reply::no_content().changed())
}

/// `GET /policies/authenticationMethodsPolicy/authenticationMethodConfigurations/TemporaryAccessPass`.
/// Only TAP's configuration is modelled; any other id is 404.
pub fn policy(w: &mut World, call: &Call<'_>) -> Result<Reply, ApiError> {
    if !call.param(0).eq_ignore_ascii_case(POLICY_ID) {
        return Err(ApiError::NotFound(call.raw_param(0).into()));
    }
    let p = &w.tenant.temporary_access_pass_policy;
    let include: Vec<Value> = p
        .include_targets
        .iter()
        .map(|t| json!({ "targetType": t.target_type, "id": t.id, "isRegistrationRequired": t.is_registration_required }))
        .collect();
    let exclude: Vec<Value> = p
        .exclude_targets
        .iter()
        .map(|t| json!({ "targetType": t.target_type, "id": t.id }))
        .collect();
    Ok(Reply::ok(json!({
        "@odata.type": POLICY_TYPE,
        "id": POLICY_ID,
        "state": p.state,
        "defaultLifetimeInMinutes": p.default_lifetime_in_minutes,
        "defaultLength": p.default_length,
        "minimumLifetimeInMinutes": p.minimum_lifetime_in_minutes,
        "maximumLifetimeInMinutes": p.maximum_lifetime_in_minutes,
        "isUsableOnce": p.is_usable_once,
        "includeTargets": include,
        "excludeTargets": exclude,
    })))
}

/// The emulator's stand-in for a sign-in with a pass (admin API): whether `pass` is the user's
/// current, usable pass; a one-time pass is used up by it. `Err` = no such user.
pub(crate) fn sign_in(
    w: &mut World,
    user_key: &str,
    pass: &str,
    now: std::time::Instant,
) -> Result<(bool, &'static str), String> {
    let user_id = super::users::find(w, user_key)
        .map(|u| u.id.clone())
        .ok_or_else(|| format!("no such user: {user_key}"))?;
    let at = w.clock.at(now);
    let Some(i) = w
        .tenant
        .temporary_access_passes
        .iter()
        .position(|t| t.user_id.eq_ignore_ascii_case(&user_id))
    else {
        return Ok((false, "NoPass"));
    };
    let tap = &w.tenant.temporary_access_passes[i];
    if tap.temporary_access_pass != pass {
        return Ok((false, "WrongPass"));
    }
    let (usable, reason) = usability(w, tap, at);
    if usable && tap.is_usable_once {
        w.tenant.temporary_access_passes[i].used = true;
    }
    Ok((usable, reason))
}

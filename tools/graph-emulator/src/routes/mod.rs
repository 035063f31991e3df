//! The Graph route table (method, version-less template, handler) and the `Call` a handler
//! receives. Handlers are plain synchronous functions over `&mut World`; matching is in
//! `matcher.rs`, and authorisation, throttling and logging in the pipeline.

mod auth_methods;
mod autopilot;
pub(crate) mod autopilot_events;
pub(crate) mod config;
mod corporate;
pub(crate) mod deployment;
pub(crate) mod device_preparation;
mod directory;
mod groups;
mod imports;
mod intune_filter;
mod mail;
mod matcher;
mod mdm;
mod policy;
mod users;

pub(crate) use auth_methods::sign_in as tap_sign_in;
pub(crate) use mail::ACCESS_DENIED as MAIL_ACCESS_DENIED;
pub use matcher::{Matched, NoMatch, match_route};

use std::time::Instant;

use serde_json::Value;

use crate::query::Query;
use crate::reply::{ApiError, Reply};
use crate::state::World;

pub type Handler = fn(&mut World, &Call<'_>) -> Result<Reply, ApiError>;

/// One operation: method, version-less template, whether only `/beta` serves it.
pub struct Route {
    pub method: &'static str,
    pub template: &'static str,
    pub beta_only: bool,
    pub handler: Handler,
}

const fn route(method: &'static str, template: &'static str, handler: Handler) -> Route {
    Route {
        method,
        template,
        beta_only: false,
        handler,
    }
}
const fn beta(method: &'static str, template: &'static str, handler: Handler) -> Route {
    Route {
        method,
        template,
        beta_only: true,
        handler,
    }
}

const IMPORTS: &str = "/deviceManagement/importedWindowsAutopilotDeviceIdentities";
const AP: &str = "/deviceManagement/windowsAutopilotDeviceIdentities";
pub(crate) const TAP: &str = "/users/{id}/authentication/temporaryAccessPassMethods";
pub(crate) const TAP_ONE: &str = "/users/{id}/authentication/temporaryAccessPassMethods/{id}";
pub(crate) const AUTH_METHOD_CONFIG: &str =
    "/policies/authenticationMethodsPolicy/authenticationMethodConfigurations/{id}";

pub static ROUTES: &[Route] = &[
    route("GET", "/users", users::list),
    route("POST", "/users", users::create),
    route("GET", "/users/{id}", users::get),
    route("GET", "/users/{id}/memberOf", directory::user_member_of),
    route(
        "GET",
        "/users/{id}/memberOf/{id}",
        directory::user_member_of_one,
    ),
    route(
        "POST",
        "/users/{id}/checkMemberGroups",
        directory::check_member_groups,
    ),
    // graph-behaviour §16 Temporary Access Pass; graph-behaviour §17 manager and mail
    route("POST", TAP, auth_methods::create),
    route("GET", TAP, auth_methods::list),
    route("GET", TAP_ONE, auth_methods::get),
    route("DELETE", TAP_ONE, auth_methods::delete),
    route("GET", "/users/{id}/manager", mail::manager),
    route("POST", "/users/{id}/sendMail", mail::send_mail),
    route("GET", "/groups", groups::list),
    route("POST", "/groups", groups::create),
    route("GET", "/groups/{id}", groups::get),
    route("PATCH", "/groups/{id}", groups::patch),
    route("GET", "/groups/{id}/members", groups::members),
    route("GET", "/groups/{id}/members/{id}", groups::member),
    route("POST", "/groups/{id}/members/$ref", groups::add_member),
    route(
        "DELETE",
        "/groups/{id}/members/{id}/$ref",
        groups::remove_member,
    ),
    route(
        "POST",
        "/groups/{id}/checkMemberGroups",
        directory::check_member_groups,
    ),
    route(
        "POST",
        "/directoryObjects/{id}/checkMemberGroups",
        directory::check_member_groups,
    ),
    route("GET", "/devices", directory::list_devices),
    route("GET", "/devices/{id}", directory::get_device),
    route(
        "GET",
        "/devices(deviceId='{id}')",
        directory::get_device_by_device_id,
    ),
    route("GET", "/devices/{id}/memberOf", directory::device_member_of),
    route(
        "POST",
        "/devices/{id}/checkMemberGroups",
        directory::check_member_groups,
    ),
    route("GET", "/policies/deviceRegistrationPolicy", policy::get),
    route("PUT", "/policies/deviceRegistrationPolicy", policy::put),
    beta("GET", "/policies/mobileDeviceManagementPolicies", mdm::list),
    beta(
        "GET",
        "/policies/mobileDeviceManagementPolicies/{id}",
        mdm::get,
    ),
    route("GET", AUTH_METHOD_CONFIG, auth_methods::policy),
    route("GET", IMPORTS, imports::list),
    route("POST", IMPORTS, imports::create),
    route(
        "POST",
        "/deviceManagement/importedWindowsAutopilotDeviceIdentities/import",
        imports::bulk,
    ),
    route(
        "GET",
        "/deviceManagement/importedWindowsAutopilotDeviceIdentities/{id}",
        imports::get,
    ),
    route(
        "DELETE",
        "/deviceManagement/importedWindowsAutopilotDeviceIdentities/{id}",
        imports::delete,
    ),
    route("GET", AP, autopilot::list),
    route(
        "GET",
        "/deviceManagement/windowsAutopilotDeviceIdentities/{id}",
        autopilot::get,
    ),
    route(
        "DELETE",
        "/deviceManagement/windowsAutopilotDeviceIdentities/{id}",
        autopilot::delete,
    ),
    route(
        "POST",
        "/deviceManagement/windowsAutopilotDeviceIdentities/{id}/assignUserToDevice",
        autopilot::assign_user,
    ),
    route(
        "POST",
        "/deviceManagement/windowsAutopilotDeviceIdentities/{id}/unassignUserFromDevice",
        autopilot::unassign_user,
    ),
    route(
        "POST",
        "/deviceManagement/windowsAutopilotDeviceIdentities/{id}/updateDeviceProperties",
        autopilot::update_properties,
    ),
    beta(
        "GET",
        "/deviceManagement/windowsAutopilotSettings",
        autopilot::settings,
    ),
    beta(
        "POST",
        "/deviceManagement/windowsAutopilotSettings/sync",
        autopilot::sync,
    ),
    beta(
        "GET",
        "/deviceManagement/importedDeviceIdentities",
        corporate::list,
    ),
    beta(
        "GET",
        "/deviceManagement/importedDeviceIdentities/{id}",
        corporate::get,
    ),
    beta(
        "DELETE",
        "/deviceManagement/importedDeviceIdentities/{id}",
        corporate::delete,
    ),
    beta(
        "POST",
        "/deviceManagement/importedDeviceIdentities/importDeviceIdentityList",
        corporate::import,
    ),
    beta(
        "POST",
        "/deviceManagement/importedDeviceIdentities/searchExistingIdentities",
        corporate::search,
    ),
    beta(
        "GET",
        "/deviceManagement/windowsAutopilotDeploymentProfiles",
        config::profiles,
    ),
    beta(
        "GET",
        "/deviceManagement/windowsAutopilotDeploymentProfiles/{id}",
        config::profile,
    ),
    beta(
        "GET",
        "/deviceManagement/windowsAutopilotDeploymentProfiles/{id}/assignments",
        config::profile_assignments,
    ),
    route(
        "GET",
        "/deviceManagement/deviceEnrollmentConfigurations",
        config::enrollment_configurations,
    ),
    route(
        "GET",
        "/deviceManagement/deviceEnrollmentConfigurations/{id}",
        config::enrollment_configuration,
    ),
    route(
        "GET",
        "/deviceManagement/deviceEnrollmentConfigurations/{id}/assignments",
        config::enrollment_assignments,
    ),
    route("POST", "/$batch", batch_is_served_by_the_pipeline),
    // graph-behaviour §18: assigning a profile to a group
    beta(
        "POST",
        "/deviceManagement/windowsAutopilotDeploymentProfiles/{id}/assignments",
        deployment::create_assignment,
    ),
    // graph-behaviour §19: deployment results
    beta(
        "GET",
        "/deviceManagement/autopilotEvents",
        autopilot_events::list,
    ),
    beta(
        "GET",
        "/deviceManagement/autopilotEvents/{id}",
        autopilot_events::get,
    ),
    beta(
        "GET",
        "/deviceManagement/autopilotEvents/{id}/policyStatusDetails",
        autopilot_events::policy_status_details,
    ),
    // graph-behaviour §20: device preparation policies, group owners, service principals
    beta(
        "GET",
        "/deviceManagement/configurationPolicies",
        device_preparation::list,
    ),
    beta(
        "GET",
        "/deviceManagement/configurationPolicies/{id}",
        device_preparation::get,
    ),
    beta(
        "GET",
        "/deviceManagement/configurationPolicies/{id}/assignments",
        device_preparation::policy_assignments,
    ),
    beta(
        "POST",
        "/deviceManagement/configurationPolicies/{id}/retrieveEnrollmentTimeDeviceMembershipTarget",
        device_preparation::retrieve_target,
    ),
    beta(
        "POST",
        "/deviceManagement/configurationPolicies/{id}/setEnrollmentTimeDeviceMembershipTarget",
        device_preparation::set_target,
    ),
    route(
        "GET",
        "/groups/{id}/owners",
        device_preparation::group_owners,
    ),
    route(
        "GET",
        "/servicePrincipals",
        device_preparation::list_service_principals,
    ),
    route(
        "GET",
        "/servicePrincipals/{id}",
        device_preparation::get_service_principal,
    ),
    route(
        "GET",
        "/servicePrincipals(appId='{id}')",
        device_preparation::get_service_principal_by_app_id,
    ),
];

/// `$batch` is asynchronous (it re-enters the pipeline per item); the pipeline intercepts it.
fn batch_is_served_by_the_pipeline(_: &mut World, _: &Call<'_>) -> Result<Reply, ApiError> {
    Err(ApiError::bad("$batch cannot be nested."))
}

/// One Graph request as a handler sees it.
pub struct Call<'a> {
    /// `v1.0` or `beta`.
    pub version: &'a str,
    pub template: &'static str,
    /// Keys from the path, percent-decoded, in order.
    pub params: Vec<String>,
    /// The same keys as sent (for error messages, graph-behaviour §2).
    pub raw_params: Vec<String>,
    pub query: &'a Query,
    pub body: Option<&'a Value>,
    /// `ConsistencyLevel: eventual` was sent.
    pub eventual: bool,
    /// The token's permission names: `roles` (app-only) or the words of `scp` (delegated).
    pub granted: &'a [String],
    /// A delegated token (a signed-in user), not an app-only one.
    pub delegated: bool,
    /// `https://host:port`, for `@odata.nextLink`.
    pub base_url: &'a str,
    /// Path as sent, version included, without the query.
    pub raw_path: &'a str,
    pub now: Instant,
}

impl Call<'_> {
    pub fn beta(&self) -> bool {
        self.version == "beta"
    }
    pub fn param(&self, i: usize) -> &str {
        self.params.get(i).map(String::as_str).unwrap_or("")
    }
    pub fn raw_param(&self, i: usize) -> &str {
        self.raw_params.get(i).map(String::as_str).unwrap_or("")
    }
    /// The JSON body, or Graph's 400 for a missing or non-object one.
    pub fn body(&self) -> Result<&serde_json::Map<String, Value>, ApiError> {
        self.body
            .and_then(Value::as_object)
            .ok_or_else(|| ApiError::bad("Empty Payload. JSON content expected."))
    }
    /// A page of `items` with a nextLink that keeps this request's query options.
    /// Directory collections honour `$count=true` only as an advanced query (graph-behaviour §2).
    pub fn page(&self, items: Vec<Value>, default_size: usize) -> Result<Reply, ApiError> {
        let size = self.query.top()?.unwrap_or(default_size);
        let offset = self.query.skip()?;
        let count = self.wants_count()?.then_some(items.len());
        let link = |next| {
            format!(
                "{}{}?{}",
                self.base_url,
                self.raw_path,
                self.query.with_skiptoken(next)
            )
        };
        let mut body = crate::query::page(items, offset, size, link);
        if let Some(n) = count {
            body["@odata.count"] = Value::from(n);
        }
        Ok(Reply::ok(body))
    }

    /// graph-behaviour §2: `$count` on a directory collection needs `ConsistencyLevel: eventual`.
    fn wants_count(&self) -> Result<bool, ApiError> {
        let wanted = self
            .query
            .get("$count")
            .is_some_and(|c| c.eq_ignore_ascii_case("true"));
        if wanted && !self.eventual && !self.template.starts_with("/deviceManagement") {
            let message = "$count is not currently supported.".to_string();
            return Err(ApiError::BadRequestCode {
                code: "Request_BadRequest",
                message,
            });
        }
        Ok(wanted)
    }
}

//! The device-shipped steps, in order: find the Autopilot device by serial, find the user it
//! was shipped to, and make sure the device is assigned to that user. Each step reads Graph
//! first and writes only what is missing, so a duplicate, late or replayed shipment writes
//! nothing a second time.
//!
//! Not for: AMQP, retries or outcome publishing (the shared runtime does those with what
//! [`DeviceShippedError::class`] says), nor keeping duplicate deliveries apart in time
//! (the per-serial lock in `lib.rs`).

use graph::GraphClient;
use graph::GraphError;
use graph::model::{AutopilotDevice, AutopilotDeviceId, User, UserId};
use serde::Serialize;
use shared::config::DeviceShippedSettings;
use shared::error::{Classify, ErrorClass};
use shared::events::DeviceShipped;
use shared::ids::{OrderId, SerialNumber, Upn};
use tracing::Span;
use tracing::field::{Empty, debug};

/// What is now true for the shipment; the data of `onboarding.device.assigned`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceAssigned {
    /// The serial number from the `device.shipped` event.
    pub serial_number: SerialNumber,
    /// The Autopilot device (`windowsAutopilotDeviceIdentity`) that carries the serial.
    pub autopilot_device_id: AutopilotDeviceId,
    /// The Entra object id of the user the device is now assigned to.
    pub user_id: UserId,
    /// The UPN as Entra spells it, which is what the device is now assigned to.
    pub user_principal_name: String,
    /// The name the user sees at OOBE: their display name, or the UPN when they have none.
    pub addressable_user_name: String,
    /// How the device came to be assigned to the user (flattened into the event data).
    #[serde(flatten)]
    pub assignment: Assignment,
    /// The order the shipment belongs to, when the event carried one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<OrderId>,
}

/// How the device came to be assigned to the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "assignment",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum Assignment {
    /// It already was (UPNs compared without case): nothing written.
    AlreadyAssigned,
    /// It was unassigned; we assigned it (shadow mode: would have).
    Assigned,
    /// It was assigned to someone else and `device_shipped.allow_reassign` let us overwrite it.
    Reassigned {
        /// Who the device was assigned to before, as Intune showed it.
        previous_user_principal_name: String,
    },
}

/// Why a shipped device could not be assigned; [`Classify`] says whether a retry can help.
#[derive(Debug, thiserror::Error)]
pub enum DeviceShippedError {
    /// No Autopilot device has the serial yet. Transient (and pending): a shipment often
    /// overtakes the import, or the purchase event itself.
    #[error(
        "no Autopilot device with serial {0} yet (its import may still be running, or its \
         procurement.device.purchased event has not arrived)"
    )]
    DeviceNotRegistered(SerialNumber),
    /// Several Autopilot devices have the serial, so we cannot tell which one shipped.
    /// Permanent: an admin must delete the duplicate registration, then replay.
    #[error(
        "{count} Autopilot devices have serial {serial}: delete the duplicate registration in \
         Intune, then replay"
    )]
    AmbiguousSerial {
        /// The serial from the event.
        serial: SerialNumber,
        /// How many Autopilot devices carry it.
        count: usize,
    },
    /// No Entra user has the UPN yet. Transient (and pending): the device may ship before HR's
    /// user is provisioned in Entra.
    #[error("no Entra user with UPN {0} yet (HR provisioning may lag)")]
    UserNotProvisioned(Upn),
    /// The device is assigned to another user and `device_shipped.allow_reassign` is off; nothing
    /// was written. Permanent: taking someone else's device is an admin's decision.
    #[error(
        "device {serial} is already assigned to {assigned_to}: unassign it in Intune or set \
         device_shipped.allow_reassign"
    )]
    AssignedToSomeoneElse {
        /// As Graph reports it.
        serial: String,
        /// The UPN the device is assigned to now, as Intune shows it.
        assigned_to: String,
    },
    /// A Graph call failed; transient or permanent as the Graph error's own class says.
    #[error(transparent)]
    Graph(#[from] GraphError),
}

impl Classify for DeviceShippedError {
    fn class(&self) -> ErrorClass {
        match self {
            // Shipping often overtakes the import, or the purchase event itself: wait for it.
            Self::DeviceNotRegistered(_) => ErrorClass::TRANSIENT,
            Self::AmbiguousSerial { .. } => ErrorClass::Permanent,
            // The device may ship before HR's user is provisioned in Entra.
            Self::UserNotProvisioned(_) => ErrorClass::TRANSIENT,
            // Someone else's device is a decision for an admin, not something time fixes.
            Self::AssignedToSomeoneElse { .. } => ErrorClass::Permanent,
            Self::Graph(e) => e.class(),
        }
    }

    /// A shipment overtaking its import, or HR's user, is the expected wait.
    fn is_pending(&self) -> bool {
        matches!(
            self,
            Self::DeviceNotRegistered(_) | Self::UserNotProvisioned(_)
        )
    }
}

/// Assigns the shipped device to its user. Safe to repeat.
pub async fn handle(
    graph: &GraphClient,
    cfg: &DeviceShippedSettings,
    shipped: &DeviceShipped,
) -> Result<DeviceAssigned, DeviceShippedError> {
    let device = resolve_device(graph, &shipped.serial_number).await?;
    let user = resolve_user(graph, &shipped.user_principal_name).await?;
    let upn = entra_upn(&user, &shipped.user_principal_name);
    let name = addressable_user_name(&user, &upn);
    let assignment = ensure_device_assigned(graph, cfg, &device, &upn, &name).await?;
    Ok(DeviceAssigned {
        serial_number: shipped.serial_number.clone(),
        autopilot_device_id: device.id,
        user_id: user.id,
        user_principal_name: upn.to_string(),
        addressable_user_name: name,
        assignment,
        order_id: shipped.order_id.clone(),
    })
}

/// The one Autopilot device with this serial (the client compares the whole serial, ASCII
/// case aside, and copes with the filter's hyphen and space quirks).
#[tracing::instrument(skip_all, fields(device.serial = %serial, autopilot.device.id = Empty))]
pub async fn resolve_device(
    graph: &GraphClient,
    serial: &SerialNumber,
) -> Result<AutopilotDevice, DeviceShippedError> {
    let mut found = graph.autopilot_devices_by_serial(serial).await?;
    let device = match found.len() {
        0 => return Err(DeviceShippedError::DeviceNotRegistered(serial.clone())),
        1 => found.remove(0),
        count => {
            return Err(DeviceShippedError::AmbiguousSerial {
                serial: serial.clone(),
                count,
            });
        }
    };
    Span::current().record("autopilot.device.id", device.id.as_str());
    Ok(device)
}

/// The user by UPN. Not by employeeId: a shipment carries none.
#[tracing::instrument(skip_all, fields(user.id = Empty))]
pub async fn resolve_user(graph: &GraphClient, upn: &Upn) -> Result<User, DeviceShippedError> {
    let user = graph
        .user_by_upn(upn)
        .await?
        .ok_or_else(|| DeviceShippedError::UserNotProvisioned(upn.clone()))?;
    Span::current().record("user.id", user.id.as_str());
    Ok(user)
}

/// The UPN as Entra spells it (Intune shows what we send); the event's if Entra's does not
/// parse, which only dirty directory data would cause.
fn entra_upn(user: &User, from_event: &Upn) -> Upn {
    Upn::try_from(user.user_principal_name.clone()).unwrap_or_else(|_| from_event.clone())
}

/// The name shown at OOBE: the display name, or the UPN when the user has none.
fn addressable_user_name(user: &User, upn: &Upn) -> String {
    user.display_name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .unwrap_or(upn.as_str())
        .to_owned()
}

/// Makes `device` assigned to `upn`: writes only when it is unassigned, or assigned to someone
/// else and reassigning is allowed.
#[tracing::instrument(skip_all, fields(autopilot.device.id = %device.id, outcome = Empty))]
pub async fn ensure_device_assigned(
    graph: &GraphClient,
    cfg: &DeviceShippedSettings,
    device: &AutopilotDevice,
    upn: &Upn,
    addressable_user_name: &str,
) -> Result<Assignment, DeviceShippedError> {
    let assignment = match plan_assignment(device.assigned_upn(), upn, cfg.allow_reassign) {
        Plan::Nothing => Assignment::AlreadyAssigned,
        Plan::Refuse { assigned_to } => {
            return Err(DeviceShippedError::AssignedToSomeoneElse {
                serial: device.serial_number.clone(),
                assigned_to,
            });
        }
        Plan::Assign => {
            graph
                .assign_user_to_device(&device.id, upn, addressable_user_name)
                .await?;
            Assignment::Assigned
        }
        Plan::Reassign { from } => {
            tracing::warn!(
                device.serial = %device.serial_number, previous.upn = %from, user.upn = %upn,
                "Reassigning an Autopilot device assigned to someone else (device_shipped.allow_reassign)."
            );
            graph
                .assign_user_to_device(&device.id, upn, addressable_user_name)
                .await?;
            Assignment::Reassigned {
                previous_user_principal_name: from,
            }
        }
    };
    Span::current().record("outcome", debug(&assignment));
    Ok(assignment)
}

/// What to do about a device's current assignment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Plan {
    /// Already assigned to the wanted user: write nothing.
    Nothing,
    /// Unassigned: assign it.
    Assign,
    /// Assigned to `from`, and reassigning is allowed: overwrite it.
    Reassign { from: String },
    /// Assigned to `assigned_to`, and reassigning is not allowed: refuse.
    Refuse { assigned_to: String },
}

/// Decides from what the device shows now. UPNs compare without case: Entra treats them so,
/// and Intune keeps whatever spelling was sent.
pub(crate) fn plan_assignment(current: Option<&str>, wanted: &Upn, allow_reassign: bool) -> Plan {
    match current.map(str::trim) {
        None => Plan::Assign,
        Some(now) if now.eq_ignore_ascii_case(wanted.as_str()) => Plan::Nothing,
        Some(now) if allow_reassign => Plan::Reassign {
            from: now.to_owned(),
        },
        Some(now) => Plan::Refuse {
            assigned_to: now.to_owned(),
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_follows_the_current_assignment() {
        let ada: Upn = "ada@contoso.test".parse().unwrap();
        let grace = || "grace@contoso.test".to_owned();
        #[rustfmt::skip]
        let cases = [
            ("unassigned",                        None,                       false, Plan::Assign),
            ("same user",                         Some("ada@contoso.test"),   false, Plan::Nothing),
            ("same user, other case",             Some("Ada@CONTOSO.test"),   false, Plan::Nothing),
            ("same user, padded",                 Some(" ada@contoso.test "), false, Plan::Nothing),
            ("someone else",                      Some("grace@contoso.test"), false, Plan::Refuse { assigned_to: grace() }),
            ("someone else, reassign allowed",    Some("grace@contoso.test"), true,  Plan::Reassign { from: grace() }),
            ("same user, reassign allowed",       Some("ADA@contoso.test"),   true,  Plan::Nothing),
        ];
        for (case, current, allow, want) in cases {
            assert_eq!(plan_assignment(current, &ada, allow), want, "{case}");
        }
    }

    #[test]
    fn the_outcome_names_how_the_device_was_assigned() {
        let assigned = DeviceAssigned {
            serial_number: "CZC-1".parse().unwrap(),
            autopilot_device_id: AutopilotDeviceId::new("f1"),
            user_id: UserId::new("b1"),
            user_principal_name: "ada@contoso.test".into(),
            addressable_user_name: "Ada Lovelace".into(),
            assignment: Assignment::Reassigned {
                previous_user_principal_name: "grace@contoso.test".into(),
            },
            order_id: None,
        };
        let json = serde_json::to_value(&assigned).unwrap();
        assert_eq!(json["assignment"], "reassigned");
        assert_eq!(json["previousUserPrincipalName"], "grace@contoso.test");
        assert_eq!(json["autopilotDeviceId"], "f1");
        assert_eq!(json["serialNumber"], "CZC-1");
        assert!(json.get("orderId").is_none());
        let already = serde_json::to_value(Assignment::AlreadyAssigned).unwrap();
        assert_eq!(
            already,
            serde_json::json!({ "assignment": "alreadyAssigned" })
        );
    }

    #[test]
    fn only_an_admin_decision_is_permanent() {
        let serial: SerialNumber = "CZC1".parse().unwrap();
        let upn: Upn = "ada@contoso.test".parse().unwrap();
        assert!(
            DeviceShippedError::UserNotProvisioned(upn)
                .class()
                .is_transient()
        );
        assert!(
            DeviceShippedError::DeviceNotRegistered(serial)
                .class()
                .is_transient()
        );
        let taken = DeviceShippedError::AssignedToSomeoneElse {
            serial: "CZC1".into(),
            assigned_to: "grace@contoso.test".into(),
        };
        assert_eq!(taken.class(), ErrorClass::Permanent);
        assert!(
            taken
                .to_string()
                .contains("device CZC1 is already assigned to grace@contoso.test")
        );
        assert!(taken.to_string().contains("device_shipped.allow_reassign"));
    }
}

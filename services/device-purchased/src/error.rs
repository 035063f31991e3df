//! Why a purchase is not (yet) registered, each cause classified: "not yet" is transient and
//! carries a wait hint the runtime turns into a delay tier; what only an admin can fix is
//! permanent and its message is the dead-letter reason. No message ever contains the hardware
//! hash (the Graph client strips any echo of it from import errors).
//!
//! Not for: deciding what to do about the error (`shared::amqp::retry`).

use std::time::Duration;

use graph::GraphError;
use graph::model::{GroupId, ImportOutcome};
use shared::error::{Classify, ErrorClass};
use shared::ids::{InvalidField, SerialNumber};

/// Re-check an import after this long: graph-behaviour §5 says imports take about a minute and tools poll
/// every 15–30 s. The runtime picks the smallest delay tier at least this long.
pub const IMPORT_RECHECK: Duration = Duration::from_secs(15);

/// Why a purchased device is not (yet) registered and converged; [`Classify`] says whether
/// waiting can help, and the message is the dead-letter reason.
#[derive(Debug, thiserror::Error)]
pub enum DevicePurchasedError {
    /// The event has no hardware hash and `device_purchased.require_hardware_hash` is on.
    /// Permanent: the hash must be collected, or the device registered by corporate identifier.
    #[error(
        "data.hardwareHash: required (device_purchased.require_hardware_hash = true); \
         collect it with Get-WindowsAutopilotInfo, or register by corporate identifier only"
    )]
    HardwareHashMissing,
    /// Our import of the serial's hardware hash was just sent or is still being processed
    /// (graph-behaviour §5). Transient (and pending): re-checked after [`IMPORT_RECHECK`].
    #[error("import of serial {0} still in progress")]
    ImportInProgress(SerialNumber),
    /// Our import was still being processed when `device_purchased.import_max_age` had passed
    /// since the purchase was first seen; its record is kept, as it may still complete.
    /// Permanent: an admin checks the import in Intune, then replays.
    #[error(
        "import of serial {serial} did not finish within device_purchased.import_max_age; \
         check it in Intune > Devices > Windows > Enrollment > Devices, then replay this event"
    )]
    ImportTooSlow {
        /// The purchase's serial.
        serial: SerialNumber,
    },
    /// Intune ended our import with an error only an admin can fix: registered to another
    /// tenant (808), an invalid hash, a duplicate, or an unknown error (graph-behaviour §5). Our
    /// import records were deleted. Permanent.
    #[error("serial {serial}: {outcome} (deviceErrorCode {})", code.map_or_else(|| "none".to_owned(), |c| c.to_string()))]
    ImportRejected {
        /// The purchase's serial.
        serial: SerialNumber,
        /// What the import record's `deviceErrorName` means, with what to do.
        outcome: ImportOutcome,
        /// The record's `deviceErrorCode`, when Intune sent one; shown, never decided on.
        code: Option<i64>,
    },
    /// Intune ended our import with `StorageError` (graph-behaviour §5); the record was
    /// removed, so the next delivery imports afresh. Transient: re-checked after
    /// [`IMPORT_RECHECK`].
    #[error("serial {0}: {outcome}; the import record was removed and will be sent again", outcome = ImportOutcome::StorageError)]
    ImportStorageError(SerialNumber),
    /// The serial is registered (our import completed, or answered `ZtdDeviceAlreadyAssigned`)
    /// but Autopilot does not list its device yet. Transient (and pending): listing lags the
    /// import, so the attempt schedule lengthens the waits.
    #[error("serial {0} is registered, but Autopilot does not list its device yet")]
    DeviceNotListed(SerialNumber),
    /// Our import completed, or answered `ZtdDeviceAlreadyAssigned`, yet no Autopilot device had
    /// the serial by `device_purchased.import_max_age`: the hash may be registered under another
    /// serial. Our import records were deleted. Permanent: an admin searches Intune, then replays.
    #[error(
        "serial {serial}: {outcome}, yet no Autopilot device has this serial within \
         device_purchased.import_max_age; the hash may be registered under another serial: \
         search Intune > Devices > Windows > Enrollment > Devices, then replay this event"
    )]
    DeviceNeverListed {
        /// The purchase's serial.
        serial: SerialNumber,
        /// How our import ended: complete, or already registered to this tenant.
        outcome: ImportOutcome,
    },
    /// The Autopilot device has no `azureActiveDirectoryDeviceId` yet, or its Entra device
    /// object is not visible yet (graph-behaviour §8). Transient (and pending).
    #[error("serial {0}: waiting for its Entra device object (Autopilot sync may lag)")]
    EntraDevicePending(SerialNumber),
    /// Several Autopilot devices have exactly this serial, so we cannot tell which one was
    /// bought. Permanent: an admin deletes the duplicates in Intune, then replays.
    #[error(
        "serial {serial} matches {count} Autopilot devices: delete the duplicates in Intune \
         (Devices > Windows > Enrollment > Devices), then replay this event"
    )]
    AmbiguousSerial {
        /// The purchase's serial.
        serial: SerialNumber,
        /// How many Autopilot devices carry it.
        count: usize,
    },
    /// `device_purchased.device_group_id` names no existing group. Permanent: a configuration
    /// error.
    #[error("device group {0} does not exist: fix device_purchased.device_group_id (an object id)")]
    DeviceGroupMissing(GroupId),
    /// The device group is not a security group, and only security groups can hold devices
    /// (graph-behaviour §3). Permanent: a configuration error.
    #[error(
        "device group {0} cannot hold devices: only security groups can (not Microsoft 365 \
         groups); point device_purchased.device_group_id at a security group"
    )]
    DeviceGroupNotSecurity(GroupId),
    /// The device group is dynamic, so members cannot be added, but
    /// `device_purchased.device_group_dynamic` is off. Permanent: a configuration error.
    #[error(
        "device group {0} is dynamic, so members cannot be added: set \
         device_purchased.device_group_dynamic = true"
    )]
    DeviceGroupIsDynamic(GroupId),
    /// The corporate identifier `Manufacturer,Model,Serial` (graph-behaviour §9) cannot be built:
    /// manufacturer or model is in neither the event nor the Autopilot device, or a part is
    /// invalid. Permanent.
    #[error(
        "corporate identifier of serial {serial}: {problem} \
         (device_purchased.corporate_identifier needs manufacturer and model as the device reports them)"
    )]
    CorporateIdentifierInvalid {
        /// The purchase's serial.
        serial: SerialNumber,
        /// Which part is missing or invalid, and why.
        problem: InvalidField,
    },
    /// Intune's import answered `status: false` for the corporate identifier
    /// (graph-behaviour §9), and a second search did not find it either. Permanent: an admin
    /// checks Intune's corporate device identifiers.
    #[error(
        "Intune did not accept the corporate identifier {0}: check Devices > Enrollment > \
         Corporate device identifiers"
    )]
    CorporateIdentifierRefused(String),
    /// A Graph call failed; transient or permanent as the Graph error's own class says.
    #[error(transparent)]
    Graph(#[from] GraphError),
}

impl Classify for DevicePurchasedError {
    fn class(&self) -> ErrorClass {
        let wait = |d| ErrorClass::Transient {
            retry_after: Some(d),
        };
        match self {
            Self::HardwareHashMissing => ErrorClass::Permanent,
            Self::ImportInProgress(_) => wait(IMPORT_RECHECK),
            Self::ImportTooSlow { .. } => ErrorClass::Permanent,
            // 808 (another tenant), an invalid hash, a duplicate, unknown names: an admin acts.
            Self::ImportRejected { .. } => ErrorClass::Permanent,
            Self::ImportStorageError(_) => wait(IMPORT_RECHECK),
            // Appearing after an import takes minutes: let the attempt schedule lengthen waits.
            Self::DeviceNotListed(_) | Self::EntraDevicePending(_) => ErrorClass::TRANSIENT,
            Self::DeviceNeverListed { .. } => ErrorClass::Permanent,
            Self::AmbiguousSerial { .. } => ErrorClass::Permanent,
            Self::DeviceGroupMissing(_) => ErrorClass::Permanent,
            Self::DeviceGroupNotSecurity(_) => ErrorClass::Permanent,
            Self::DeviceGroupIsDynamic(_) => ErrorClass::Permanent,
            Self::CorporateIdentifierInvalid { .. } => ErrorClass::Permanent,
            Self::CorporateIdentifierRefused(_) => ErrorClass::Permanent,
            Self::Graph(e) => e.class(),
        }
    }

    /// An import still running, a device or its Entra object not listed yet: the planned waits.
    fn is_pending(&self) -> bool {
        matches!(
            self,
            Self::ImportInProgress(_) | Self::DeviceNotListed(_) | Self::EntraDevicePending(_)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn serial() -> SerialNumber {
        "OT0000001".parse().unwrap()
    }

    #[test]
    fn another_tenant_is_permanent_and_says_what_to_do() {
        let e = DevicePurchasedError::ImportRejected {
            serial: serial(),
            outcome: ImportOutcome::AssignedToOtherTenant,
            code: Some(808),
        };
        assert_eq!(e.class(), ErrorClass::Permanent);
        let reason = e.to_string();
        for needle in ["OT0000001", "another tenant", "deregister", "808"] {
            assert!(reason.contains(needle), "{reason}");
        }
    }

    #[test]
    fn waits_are_transient_with_a_hint_and_storage_errors_retry() {
        let e = DevicePurchasedError::ImportInProgress(serial());
        assert_eq!(
            e.to_string(),
            "import of serial OT0000001 still in progress"
        );
        assert_eq!(
            e.class(),
            ErrorClass::Transient {
                retry_after: Some(IMPORT_RECHECK)
            }
        );
        assert!(
            DevicePurchasedError::ImportStorageError(serial())
                .class()
                .is_transient()
        );
        assert!(
            DevicePurchasedError::EntraDevicePending(serial())
                .class()
                .is_transient()
        );
    }
}

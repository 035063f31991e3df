//! Step 5, for Autopilot device preparation: the corporate identifier
//! `Manufacturer,Model,Serial` (periods removed from the serial, graph-behaviour §9) exists in Intune.
//! Searched first, imported only when missing, never overwritten.
//!
//! Not for: building the identifier (`CorporateIdentifier::manufacturer_model_serial`).

use graph::GraphClient;
use graph::model::{AutopilotDevice, CorporateIdentifier};
use serde::Serialize;
use shared::events::DevicePurchased;
use shared::ids::InvalidField;
use tracing::Span;
use tracing::field::{Empty, debug};

use crate::error::DevicePurchasedError;

/// The corporate identifier Intune now holds for the purchase, and how it got there.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CorporateIdentifierOutcome {
    /// The identifier, `Manufacturer,Model,Serial` with periods removed from the serial.
    pub identifier: String,
    /// Whether it was there already or we imported it.
    pub how: Presence,
}

/// How the corporate identifier came to be in Intune.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Presence {
    /// Intune already held it (found by search, or imported concurrently by another delivery
    /// or an admin); nothing was written.
    AlreadyPresent,
    /// Imported by us (or, in shadow mode, would have been).
    Imported,
}

/// Makes sure Intune holds the purchase's corporate identifier. Manufacturer and model come
/// from the event, else from what the Autopilot device reported.
#[tracing::instrument(skip_all, fields(serial = %purchase.serial_number, outcome = Empty))]
pub async fn ensure_corporate_identifier(
    graph: &GraphClient,
    purchase: &DevicePurchased,
    device: Option<&AutopilotDevice>,
) -> Result<CorporateIdentifierOutcome, DevicePurchasedError> {
    let id = corporate_identifier(purchase, device)?;
    let how = if graph.corporate_identifier_exists(&id).await? {
        Presence::AlreadyPresent
    } else {
        let imported = graph.import_corporate_identifier(&id).await?;
        match imported.status {
            Some(false) if graph.corporate_identifier_exists(&id).await? => {
                // Another delivery or admin imported it between our search and our import.
                Presence::AlreadyPresent
            }
            Some(false) => {
                return Err(DevicePurchasedError::CorporateIdentifierRefused(
                    id.to_string(),
                ));
            }
            Some(true) | None => Presence::Imported,
        }
    };
    Span::current().record("outcome", debug(&how));
    Ok(CorporateIdentifierOutcome {
        identifier: id.to_string(),
        how,
    })
}

fn corporate_identifier(
    purchase: &DevicePurchased,
    device: Option<&AutopilotDevice>,
) -> Result<CorporateIdentifier, DevicePurchasedError> {
    let invalid = |problem| DevicePurchasedError::CorporateIdentifierInvalid {
        serial: purchase.serial_number.clone(),
        problem,
    };
    let pick = |ours: &Option<String>, theirs: Option<&Option<String>>, field: &str| {
        ours.as_deref()
            .or(theirs.and_then(|t| t.as_deref()))
            .filter(|v| !v.trim().is_empty())
            .map(str::to_owned)
            .ok_or_else(|| invalid(InvalidField::new(field, "missing")))
    };
    let manufacturer = pick(
        &purchase.manufacturer,
        device.map(|d| &d.manufacturer),
        "data.manufacturer",
    )?;
    let model = pick(&purchase.model, device.map(|d| &d.model), "data.model")?;
    CorporateIdentifier::manufacturer_model_serial(&manufacturer, &model, &purchase.serial_number)
        .map_err(invalid)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn purchase(manufacturer: Option<&str>, model: Option<&str>) -> DevicePurchased {
        serde_json::from_value(serde_json::json!({
            "orderId": "PO-1", "serialNumber": "AB.12.34",
            "manufacturer": manufacturer, "model": model,
        }))
        .unwrap()
    }

    #[test]
    fn the_identifier_drops_periods_and_needs_manufacturer_and_model() {
        let id = corporate_identifier(&purchase(Some("Lenovo"), Some("T14")), None).unwrap();
        assert_eq!(id.as_str(), "Lenovo,T14,AB1234");
        let err = corporate_identifier(&purchase(Some("Lenovo"), None), None).unwrap_err();
        assert!(err.to_string().contains("data.model: missing"), "{err}");
    }
}

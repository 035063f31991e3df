//! Turns validated rows into events. Event ids are derived from the row's content, so
//! publishing the same file twice publishes the same ids, and the services' `ensure_*` steps
//! (which converge on Graph's state whatever the id) see nothing new to do.

use shared::events::{DevicePurchased, DeviceShipped, EmployeeHired, Envelope, Event};
use shared::ids::OrderId;

use super::autopilot::DeviceRow;
use super::hr::HireRow;

/// CloudEvents `source` of everything onboardctl publishes.
pub const SOURCE: &str = "urn:onboarding:onboardctl";

/// Namespace of derived event ids (a fixed random UUID; changing it changes every id).
const ID_NAMESPACE: uuid::Uuid = uuid::uuid!("5b1f7c52-3f0e-4c1e-9a43-0b8f6c2d9e71");

/// An event whose id is a UUIDv5 of its type and data.
pub fn derived<E: Event>(data: E) -> Envelope<E> {
    let mut event = Envelope::of(SOURCE, data);
    let canonical = serde_json::to_vec(&event.data).expect("event data serialises");
    let mut name = E::TYPE.as_bytes().to_vec();
    name.push(b'\n');
    name.extend_from_slice(&canonical);
    event.id = uuid::Uuid::new_v5(&ID_NAMESPACE, &name).to_string();
    event
}

/// The `hr.employee.hired` event of a row; its id derives from the row's values, not its line.
pub fn hire(row: &HireRow) -> Envelope<EmployeeHired> {
    let data = EmployeeHired {
        employee_id: row.employee_id.clone(),
        user_principal_name: row.upn.clone(),
        display_name: row.display_name.clone(),
        department: row.department.clone(),
        start_date: row.start_date,
    };
    derived(data)
}

/// The purchase of a row, and its shipment when the row names an `Assigned User`.
pub fn device(
    row: &DeviceRow,
    order: &OrderId,
) -> (Envelope<DevicePurchased>, Option<Envelope<DeviceShipped>>) {
    let purchase = DevicePurchased {
        order_id: order.clone(),
        serial_number: row.serial.clone(),
        hardware_hash: Some(row.hardware_hash.clone()),
        product_key: row.product_key.clone(),
        manufacturer: row.manufacturer.clone(),
        model: row.model.clone(),
        group_tag: row.group_tag.clone(),
        intended_user_principal_name: row.assigned_user.clone(),
    };
    let shipment = row.assigned_user.as_ref().map(|upn| {
        let data = DeviceShipped {
            order_id: Some(order.clone()),
            serial_number: row.serial.clone(),
            user_principal_name: upn.clone(),
            carrier: None,
            tracking_number: None,
            shipped_at: None,
        };
        derived(data)
    });
    (derived(purchase), shipment)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(upn: &str) -> HireRow {
        HireRow {
            line: 2,
            employee_id: "E1".parse().unwrap(),
            upn: upn.parse().unwrap(),
            display_name: None,
            department: None,
            start_date: None,
        }
    }

    #[test]
    fn the_same_row_gives_the_same_event_id_and_another_row_another() {
        assert_eq!(
            hire(&row("ada@contoso.test")).id,
            hire(&row("ada@contoso.test")).id
        );
        assert_ne!(
            hire(&row("ada@contoso.test")).id,
            hire(&row("bob@contoso.test")).id
        );
    }

    #[test]
    fn the_line_number_does_not_change_the_id() {
        let mut moved = row("ada@contoso.test");
        moved.line = 40;
        assert_eq!(hire(&row("ada@contoso.test")).id, hire(&moved).id);
    }
}

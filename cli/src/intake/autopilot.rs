//! The Autopilot hardware-hash CSV as Get-WindowsAutopilotInfo writes it (graph-behaviour §14):
//! `Device Serial Number,Windows Product ID,Hardware Hash[,Group Tag[,Assigned User]]`, or the
//! partner variant with `Manufacturer name,Device model`. The portal's 500-row limit does not
//! apply here. An `Assigned User` becomes a shipment after the purchase.

use std::collections::HashMap;

use shared::ids::{GroupTag, HardwareHash, InvalidField, SerialNumber, Upn};

use super::columns::Columns;
use super::{FileError, Parsed, RowError, decode, records, require};

/// Folded header spellings we accept, and the column each means. `OrderID` is the legacy name
/// of the group tag (the module falls back to it, AT-psm1).
const ALIASES: &[(&str, &str)] = &[
    ("deviceserialnumber", "serial"),
    ("serialnumber", "serial"),
    ("windowsproductid", "product_key"),
    ("productkey", "product_key"),
    ("hardwarehash", "hash"),
    ("grouptag", "group_tag"),
    ("orderid", "group_tag"),
    ("assigneduser", "assigned_user"),
    ("manufacturername", "manufacturer"),
    ("manufacturer", "manufacturer"),
    ("devicemodel", "model"),
    ("model", "model"),
];

/// One device from the file, every value already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceRow {
    /// 1-based line in the file, header included.
    pub line: u64,
    /// `Device Serial Number`; unique within the file (a repeat is a rejected row).
    pub serial: SerialNumber,
    /// `Windows Product ID`, when the row has one (Get-WindowsAutopilotInfo leaves it empty).
    pub product_key: Option<String>,
    /// Base64 exactly as in the file (Graph's `hardwareIdentifier`). Never logged.
    pub hardware_hash: HardwareHash,
    /// `Group Tag` (or the legacy `OrderID` column), when the row has one.
    pub group_tag: Option<GroupTag>,
    /// `Assigned User`: when present, the row's shipment to this user is published too.
    pub assigned_user: Option<Upn>,
    /// `Manufacturer name` (the partner variant), when the row has one.
    pub manufacturer: Option<String>,
    /// `Device model` (the partner variant), when the row has one.
    pub model: Option<String>,
}

/// Reads and validates a hardware-hash CSV file's bytes.
pub fn parse(bytes: &[u8]) -> Result<Parsed<DeviceRow>, FileError> {
    let (text, encoding) = decode::decode_text(bytes)?;
    let (headers, rows) = records(&text)?;
    let cols = Columns::locate(&headers, ALIASES);
    require(&cols, "serial", "Device Serial Number", &headers)?;
    require(&cols, "hash", "Hardware Hash", &headers)?;

    let mut parsed = Parsed {
        rows: Vec::new(),
        rejected: Vec::new(),
        encoding,
        unknown_columns: cols.unknown.clone(),
    };
    let mut first_line_of_serial: HashMap<String, u64> = HashMap::new();
    for (line, record) in rows {
        match device_row(&cols, &record, line) {
            Ok(row) => match first_line_of_serial.get(row.serial.as_str()) {
                Some(first) => parsed.rejected.push(RowError {
                    line,
                    reason: format!("serial number {} already on line {first}", row.serial),
                }),
                None => {
                    first_line_of_serial.insert(row.serial.as_str().to_owned(), line);
                    parsed.rows.push(row);
                }
            },
            Err(reason) => parsed.rejected.push(RowError { line, reason }),
        }
    }
    Ok(parsed)
}

fn device_row(cols: &Columns, record: &csv::StringRecord, line: u64) -> Result<DeviceRow, String> {
    let serial = cols
        .get(record, "serial")
        .ok_or("Device Serial Number is empty")?;
    let serial: SerialNumber = serial
        .parse()
        .map_err(|e| format!("Device Serial Number: {e}"))?;
    let hash = cols.get(record, "hash").ok_or("Hardware Hash is empty")?;
    // The newtype's reason never quotes the hash itself.
    let hardware_hash: HardwareHash = hash
        .parse()
        .map_err(|e: InvalidField| format!("Hardware Hash: {}", e.problem))?;
    let group_tag = match cols.get(record, "group_tag") {
        Some(tag) => Some(
            tag.parse::<GroupTag>()
                .map_err(|e| format!("Group Tag: {}", e.problem))?,
        ),
        None => None,
    };
    let assigned_user = match cols.get(record, "assigned_user") {
        Some(upn) => Some(
            upn.parse::<Upn>()
                .map_err(|e| format!("Assigned User: {e}"))?,
        ),
        None => None,
    };
    Ok(DeviceRow {
        line,
        serial,
        product_key: cols.get(record, "product_key").map(str::to_owned),
        hardware_hash,
        group_tag,
        assigned_user,
        manufacturer: cols.get(record, "manufacturer").map(str::to_owned),
        model: cols.get(record, "model").map(str::to_owned),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    use base64::Engine as _;

    fn hash(seed: u8) -> String {
        base64::engine::general_purpose::STANDARD.encode(vec![seed; 4000])
    }

    #[test]
    fn reads_the_file_get_windowsautopilotinfo_writes() {
        let text = format!(
            "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User\r\nPF1,,{},Sales,ada@contoso.test\r\nPF2,,{},,\r\n",
            hash(1),
            hash(2)
        );
        let parsed = parse(text.as_bytes()).unwrap();
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        assert_eq!(parsed.rows.len(), 2);
        assert_eq!(
            parsed.rows[0].group_tag.as_ref().map(|t| t.as_str()),
            Some("Sales")
        );
        assert_eq!(
            parsed.rows[0].assigned_user.as_ref().map(|u| u.as_str()),
            Some("ada@contoso.test")
        );
        assert_eq!(parsed.rows[1].line, 3);
        assert_eq!(parsed.rows[1].assigned_user, None);
    }

    #[test]
    fn tolerates_header_case_and_column_order() {
        let text = format!("hardware hash,DEVICE SERIAL NUMBER\n{},PF1\n", hash(1));
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.rows[0].serial.as_str(), "PF1");
    }

    #[test]
    fn bad_rows_are_reported_with_line_and_reason_and_the_rest_kept() {
        let text = format!(
            "Device Serial Number,Windows Product ID,Hardware Hash,Group Tag,Assigned User\n\
             PF1,,{h},,\n\
             ,,{h},,\n\
             PF3,,not base64!,,\n\
             PF4,,{h},,bob\n\
             PF1,,{h},,\n\
             PF6,,{short},,\n",
            h = hash(1),
            short = base64::engine::general_purpose::STANDARD.encode([1u8; 10])
        );
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.rows.len(), 1);
        let lines: Vec<u64> = parsed.rejected.iter().map(|r| r.line).collect();
        assert_eq!(lines, vec![3, 4, 5, 6, 7]);
        assert!(parsed.rejected[0].reason.contains("Serial Number is empty"));
        assert!(parsed.rejected[1].reason.contains("not standard base64"));
        assert!(parsed.rejected[2].reason.contains("Assigned User"));
        assert!(parsed.rejected[3].reason.contains("already on line 2"));
        assert!(parsed.rejected[4].reason.contains("decoded size"));
    }

    #[test]
    fn a_file_without_the_hash_column_is_refused_whole() {
        let err = parse(b"Device Serial Number,Windows Product ID\nPF1,\n").unwrap_err();
        assert!(err.to_string().contains("\"Hardware Hash\""), "{err}");
    }
}

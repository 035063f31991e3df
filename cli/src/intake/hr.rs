//! The HR CSV: one new hire per row, one column per field of `hr.employee.hired`
//! (`employeeId,userPrincipalName,displayName,department,startDate`; header case, spacing and
//! order tolerated). A sample is `examples/hires.csv`.

use std::collections::HashMap;

use shared::ids::{EmployeeId, Upn};
use time::{Date, macros::format_description};

use super::columns::Columns;
use super::{FileError, Parsed, RowError, decode, records, require};

const ALIASES: &[(&str, &str)] = &[
    ("employeeid", "employee_id"),
    ("userprincipalname", "upn"),
    ("upn", "upn"),
    ("displayname", "display_name"),
    ("department", "department"),
    ("startdate", "start_date"),
];

/// One hire from the file, every value already validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HireRow {
    /// 1-based line in the file, header included.
    pub line: u64,
    /// `employeeId`.
    pub employee_id: EmployeeId,
    /// `userPrincipalName`; unique within the file, compared without case (a repeat is a
    /// rejected row).
    pub upn: Upn,
    /// `displayName`, when the row has one.
    pub display_name: Option<String>,
    /// `department`, when the row has one; it picks the hire's department groups.
    pub department: Option<String>,
    /// `startDate` (`YYYY-MM-DD`), when the row has one.
    pub start_date: Option<Date>,
}

/// Reads and validates an HR CSV file's bytes.
pub fn parse(bytes: &[u8]) -> Result<Parsed<HireRow>, FileError> {
    let (text, encoding) = decode::decode_text(bytes)?;
    let (headers, rows) = records(&text)?;
    let cols = Columns::locate(&headers, ALIASES);
    require(&cols, "employee_id", "employeeId", &headers)?;
    require(&cols, "upn", "userPrincipalName", &headers)?;

    let mut parsed = Parsed {
        rows: Vec::new(),
        rejected: Vec::new(),
        encoding,
        unknown_columns: cols.unknown.clone(),
    };
    let mut first_line_of_upn: HashMap<String, u64> = HashMap::new();
    for (line, record) in rows {
        let row = hire_row(&cols, &record, line).and_then(|row| {
            let key = row.upn.as_str().to_lowercase(); // UPNs are case-insensitive in Entra
            match first_line_of_upn.get(&key) {
                Some(first) => Err(format!(
                    "userPrincipalName {} already on line {first}",
                    row.upn
                )),
                None => {
                    first_line_of_upn.insert(key, line);
                    Ok(row)
                }
            }
        });
        match row {
            Ok(row) => parsed.rows.push(row),
            Err(reason) => parsed.rejected.push(RowError { line, reason }),
        }
    }
    Ok(parsed)
}

fn hire_row(cols: &Columns, record: &csv::StringRecord, line: u64) -> Result<HireRow, String> {
    let employee_id = cols
        .get(record, "employee_id")
        .ok_or("employeeId is empty")?;
    let employee_id = employee_id
        .parse::<EmployeeId>()
        .map_err(|e| e.to_string())?;
    let upn: Upn = cols
        .get(record, "upn")
        .ok_or("userPrincipalName is empty")?
        .parse()
        .map_err(|e: shared::ids::InvalidField| e.to_string())?;
    let start_date = match cols.get(record, "start_date") {
        Some(raw) => Some(
            Date::parse(raw, format_description!("[year]-[month]-[day]"))
                .map_err(|_| format!("startDate: expected YYYY-MM-DD, got {raw:?}"))?,
        ),
        None => None,
    };
    Ok(HireRow {
        line,
        employee_id,
        upn,
        display_name: cols.get(record, "display_name").map(str::to_owned),
        department: cols.get(record, "department").map(str::to_owned),
        start_date,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_every_field_of_a_hire() {
        let text = "employeeId,userPrincipalName,displayName,department,startDate\r\nE1,ada@contoso.test,Ada Lovelace,Engineering,2026-12-01\r\n";
        let parsed = parse(text.as_bytes()).unwrap();
        assert!(parsed.rejected.is_empty(), "{:?}", parsed.rejected);
        let row = &parsed.rows[0];
        assert_eq!(
            (row.employee_id.as_str(), row.upn.as_str()),
            ("E1", "ada@contoso.test")
        );
        assert_eq!(row.department.as_deref(), Some("Engineering"));
        assert_eq!(
            row.start_date.map(|d| d.to_string()),
            Some("2026-12-01".to_owned())
        );
    }

    #[test]
    fn bad_rows_name_line_and_field() {
        let text = "UPN,Employee ID,Start Date\n\
                    ada@contoso.test,E1,2026-12-01\n\
                    bob,E2,\n\
                    cy@contoso.test,,\n\
                    dee@contoso.test,E4,01/12/2026\n\
                    ADA@contoso.test,E5,\n";
        let parsed = parse(text.as_bytes()).unwrap();
        assert_eq!(parsed.rows.len(), 1);
        let got: Vec<(u64, bool)> = parsed
            .rejected
            .iter()
            .map(|r| {
                (
                    r.line,
                    r.reason.contains(match r.line {
                        3 => "userPrincipalName",
                        4 => "employeeId",
                        5 => "startDate",
                        _ => "already on line 2",
                    }),
                )
            })
            .collect();
        assert_eq!(got, vec![(3, true), (4, true), (5, true), (6, true)]);
    }
}

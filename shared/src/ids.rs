//! Values that arrive in events and are used to address Graph: parsed once, at the edge, into
//! newtypes that cannot hold an invalid value. A failed parse is an [`InvalidField`] naming the
//! field, which the runtime dead-letters at once.
//!
//! Not for: Graph's own object ids (`graph::model`), which Graph hands us and we never validate.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A field of an incoming event that is missing or malformed. Always permanent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct InvalidField {
    /// The event field, in its wire spelling (`data.userPrincipalName`).
    pub field: String,
    /// What is wrong with it, and what is expected.
    pub problem: String,
}

impl InvalidField {
    /// The problem with `field`.
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        InvalidField {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

macro_rules! string_newtype {
    ($(#[$doc:meta])* $name:ident, $field:literal, $check:expr) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The value as it arrived (validated).
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = InvalidField;
            fn try_from(raw: String) -> Result<Self, InvalidField> {
                let check: fn(&str) -> Result<(), &'static str> = $check;
                check(&raw).map_err(|problem| InvalidField::new($field, problem))?;
                Ok($name(raw))
            }
        }

        impl std::str::FromStr for $name {
            type Err = InvalidField;
            fn from_str(raw: &str) -> Result<Self, InvalidField> {
                Self::try_from(raw.to_owned())
            }
        }

        impl From<$name> for String {
            fn from(v: $name) -> String {
                v.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_newtype!(
    /// A user principal name, `user@domain.tld`. Guest UPNs (`#EXT#`) and a leading `$` are
    /// valid: escaping them for a Graph path is the Graph client's job.
    Upn,
    "userPrincipalName",
    |raw| {
        if raw.len() > 113 {
            return Err("longer than 113 characters");
        }
        if raw.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("contains whitespace");
        }
        match raw.rsplit_once('@') {
            Some((user, domain))
                if !user.is_empty()
                    && domain.contains('.')
                    && !domain.starts_with('.')
                    && !domain.ends_with('.') =>
            {
                Ok(())
            }
            _ => Err("expected user@domain.tld"),
        }
    }
);

string_newtype!(
    /// HR's employee id (Entra `employeeId`: at most 16 characters).
    EmployeeId,
    "employeeId",
    |raw| match raw.chars().count() {
        0 => Err("must not be empty"),
        1..=16 => {
            if raw.chars().any(char::is_control) {
                Err("contains control characters")
            } else {
                Ok(())
            }
        }
        _ => Err("longer than 16 characters (Entra employeeId limit)"),
    }
);

string_newtype!(
    /// A device serial number as the firmware reports it (`Win32_BIOS.SerialNumber`). Hyphens
    /// and inner spaces are valid (Graph's `contains` filter chokes on them; the client copes).
    SerialNumber,
    "serialNumber",
    |raw| {
        if raw.is_empty() || raw.len() > 128 {
            return Err("must be 1 to 128 characters");
        }
        if raw != raw.trim() {
            return Err("has leading or trailing whitespace");
        }
        let ok = raw
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | ' ' | '/'));
        if ok {
            Ok(())
        } else {
            Err("only letters, digits, space and - _ . / are allowed")
        }
    }
);

impl SerialNumber {
    /// The serial as Graph compares serials, without ASCII case (`czc1` and `CZC1` are one
    /// device): the key of per-device locks and state.
    pub fn key(&self) -> String {
        self.as_str().to_ascii_uppercase()
    }
}

string_newtype!(
    /// Procurement's order id: 1 to 64 printable characters.
    OrderId,
    "orderId",
    |raw| {
        if raw.is_empty() || raw.chars().count() > 64 {
            return Err("must be 1 to 64 characters");
        }
        if raw.chars().any(char::is_control) {
            return Err("contains control characters");
        }
        Ok(())
    }
);

string_newtype!(
    /// An Autopilot group tag (`[OrderID]` in dynamic group rules). Microsoft publishes no length
    /// limit; we allow 1 to 128 characters without quotes or commas, which break the CSV form.
    GroupTag,
    "groupTag",
    |raw| {
        if raw.is_empty() || raw.chars().count() > 128 {
            return Err("must be 1 to 128 characters");
        }
        if raw.chars().any(|c| c.is_control() || matches!(c, '"' | ',')) {
            return Err("must not contain quotes, commas or control characters");
        }
        Ok(())
    }
);

/// Smallest and largest decoded hardware hash we accept. Real ones are about 4 KiB
/// (`DeviceHardwareData`); the bounds only reject truncation and garbage.
pub const HARDWARE_HASH_BYTES: std::ops::RangeInclusive<usize> = 100..=16 * 1024;

string_newtype!(
    /// The Autopilot hardware hash exactly as `Get-WindowsAutopilotInfo` writes it: standard
    /// base64 of `DeviceHardwareData`. Sent to Graph as `hardwareIdentifier` unchanged.
    HardwareHash,
    "hardwareHash",
    |raw| {
        use base64::Engine as _;
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(raw)
            .map_err(|_| "not standard base64")?;
        if HARDWARE_HASH_BYTES.contains(&decoded.len()) {
            Ok(())
        } else {
            Err("decoded size must be 100 to 16384 bytes")
        }
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upn_accepts_guest_and_dollar_forms() {
        for ok in [
            "ada@contoso.com",
            "$admin@contoso.com",
            "AdeleVance_adatum.com#EXT#@contoso.onmicrosoft.com",
            "o'brien@contoso.com",
        ] {
            assert!(ok.parse::<Upn>().is_ok(), "{ok}");
        }
    }

    #[test]
    fn upn_rejects_malformed_with_the_field_name() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@contoso.com",
            "ada@localhost",
            "a da@contoso.com",
        ] {
            let err = bad.parse::<Upn>().unwrap_err();
            assert_eq!(err.field, "userPrincipalName", "{bad}");
        }
    }

    #[test]
    fn employee_id_is_bounded_to_sixteen_characters() {
        assert!("E123".parse::<EmployeeId>().is_ok());
        assert!("1234567890123456".parse::<EmployeeId>().is_ok());
        assert!("12345678901234567".parse::<EmployeeId>().is_err());
        assert!("".parse::<EmployeeId>().is_err());
    }

    #[test]
    fn hardware_hash_must_be_base64_of_a_plausible_size() {
        use base64::Engine as _;
        let b64 = |n: usize| base64::engine::general_purpose::STANDARD.encode(vec![7u8; n]);
        assert!(b64(4096).parse::<HardwareHash>().is_ok());
        assert!(b64(99).parse::<HardwareHash>().is_err());
        assert!(b64(16 * 1024 + 1).parse::<HardwareHash>().is_err());
        let err = "not base64!".parse::<HardwareHash>().unwrap_err();
        assert_eq!(err.to_string(), "hardwareHash: not standard base64");
    }

    #[test]
    fn order_ids_and_group_tags_are_bounded() {
        assert!("PO-4711".parse::<OrderId>().is_ok());
        assert!("".parse::<OrderId>().is_err());
        assert!("Sales-EMEA".parse::<GroupTag>().is_ok());
        assert!("a,b".parse::<GroupTag>().is_err());
    }

    #[test]
    fn serial_numbers_allow_hyphens_and_spaces_but_not_quotes() {
        assert!("PF-2X3Y4Z".parse::<SerialNumber>().is_ok());
        assert!("VMware-56 4d 12".parse::<SerialNumber>().is_ok());
        assert!("abc'def".parse::<SerialNumber>().is_err());
        assert!(" lead".parse::<SerialNumber>().is_err());
    }
}

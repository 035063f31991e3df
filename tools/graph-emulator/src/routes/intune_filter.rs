//! `$filter` as the Intune collections this emulator serves beyond graph-behaviour §6 take it: clauses
//! `field op value` joined by `and`, each optionally in parentheses (`(technologies has
//! 'enrollment') and (platforms eq 'windows10')`, graph-behaviour §20; `deviceId eq '…'`, graph-behaviour §19).
//! Operators `eq`, `ne`, `has`, `ge`, `gt`, `le`, `lt`; values quoted strings or bare literals
//! (date-times). `or`, `not` and functions are refused with a 400.

use std::sync::LazyLock;

use regex::Regex;

use crate::reply::ApiError;

/// One `field op value` comparison.
#[derive(Debug, Clone, PartialEq)]
pub struct Clause {
    /// The property path as sent (`TemplateReference/templateId`).
    pub field: String,
    /// Lower-case operator.
    pub op: String,
    /// The value, unquoted.
    pub value: String,
}

static AND: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?i)\s+and\s+").expect("valid regex"));
static CLAUSE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?i)^([A-Za-z][A-Za-z0-9/]*)\s+(eq|ne|has|ge|gt|le|lt)\s+(.+)$")
        .expect("valid regex")
});

/// Parses a whole `$filter`; a clause it does not understand is a 400 naming it.
pub fn clauses(text: &str) -> Result<Vec<Clause>, ApiError> {
    AND.split(text.trim())
        .map(|raw| {
            let mut c = raw.trim();
            while let Some(inner) = c.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
                c = inner.trim();
            }
            let caps = CLAUSE
                .captures(c)
                .ok_or_else(|| ApiError::bad(format!("Invalid filter clause: '{raw}'.")))?;
            let lit = caps[3].trim();
            let value = if lit.starts_with('\'') {
                crate::query::string_literal(lit)
                    .ok_or_else(|| ApiError::bad(format!("Invalid filter clause: '{raw}'.")))?
            } else {
                lit.to_string()
            };
            Ok(Clause {
                field: caps[1].to_string(),
                op: caps[2].to_ascii_lowercase(),
                value,
            })
        })
        .collect()
}

/// Compares two strings the way Intune enum and id filters do (case-insensitively).
pub fn text_matches(op: &str, actual: &str, wanted: &str) -> Option<bool> {
    match op {
        "eq" => Some(actual.eq_ignore_ascii_case(wanted)),
        "ne" => Some(!actual.eq_ignore_ascii_case(wanted)),
        // `has` on a flags enum serialised as `a,b`.
        "has" => Some(
            actual
                .split(',')
                .any(|part| part.trim().eq_ignore_ascii_case(wanted)),
        ),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn and_clauses_with_parentheses_parse() {
        let c = clauses("(technologies has 'enrollment') and (platforms eq 'windows10')").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(
            (c[0].field.as_str(), c[0].op.as_str(), c[0].value.as_str()),
            ("technologies", "has", "enrollment")
        );
        let c = clauses("deploymentEndDateTime ge 2026-01-01T00:00:00Z").unwrap();
        assert_eq!(c[0].value, "2026-01-01T00:00:00Z");
        assert!(clauses("contains(x,'y')").is_err());
        assert!(clauses("a eq 'b' or c eq 'd'").is_err());
    }
}

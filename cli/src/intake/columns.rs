//! Finds the columns of a CSV header whatever their case, spacing or order, because admins' files
//! come from several tools (the portal is strict about header case; we are not — graph-behaviour §15).
//!
//! Not for: validating values; each file kind does that with its own rules.

use std::collections::HashMap;

/// A header cell folded for comparison: lowercase, without spaces, underscores or hyphens.
pub fn fold(header: &str) -> String {
    header
        .chars()
        .filter(|c| !matches!(c, ' ' | '_' | '-'))
        .flat_map(char::to_lowercase)
        .collect()
}

/// Where each known column sits in this file. `aliases` maps every accepted folded spelling to
/// the canonical column name.
#[derive(Debug)]
pub struct Columns {
    index: HashMap<&'static str, usize>,
    /// Header cells that matched nothing: reported, then ignored.
    pub unknown: Vec<String>,
}

impl Columns {
    /// Finds the known columns in `headers`: each cell is folded ([`fold`]) and looked up in
    /// `aliases`. The first cell of a column wins; a cell that matches nothing, or repeats a
    /// column already found, goes to [`Columns::unknown`] (blank cells are dropped).
    pub fn locate(headers: &csv::StringRecord, aliases: &[(&str, &'static str)]) -> Self {
        let mut index = HashMap::new();
        let mut unknown = Vec::new();
        for (i, cell) in headers.iter().enumerate() {
            let folded = fold(cell);
            match aliases.iter().find(|(alias, _)| *alias == folded) {
                // The first column of a name wins; a repeated one is as good as unknown.
                Some((_, canonical)) if !index.contains_key(canonical) => {
                    index.insert(*canonical, i);
                }
                _ if cell.trim().is_empty() => {}
                _ => unknown.push(cell.trim().to_owned()),
            }
        }
        Columns { index, unknown }
    }

    /// Whether the file has a column for `canonical`.
    pub fn has(&self, canonical: &str) -> bool {
        self.index.contains_key(canonical)
    }

    /// The trimmed cell of `canonical` in `record`; `None` when the column is absent or empty.
    pub fn get<'r>(&self, record: &'r csv::StringRecord, canonical: &str) -> Option<&'r str> {
        let i = *self.index.get(canonical)?;
        record.get(i).map(str::trim).filter(|v| !v.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_match_whatever_their_case_and_spacing() {
        let aliases = [("deviceserialnumber", "serial"), ("grouptag", "tag")];
        let headers = csv::StringRecord::from(vec!["GROUP_TAG", "device serial number", "Extra"]);
        let cols = Columns::locate(&headers, &aliases);
        let row = csv::StringRecord::from(vec![" T1 ", "PF1", "x"]);
        assert_eq!(cols.get(&row, "serial"), Some("PF1"));
        assert_eq!(cols.get(&row, "tag"), Some("T1"));
        assert_eq!(cols.unknown, vec!["Extra".to_owned()]);
    }
}

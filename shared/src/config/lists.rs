//! Lists that may come as a TOML sequence or as one comma-separated string, because the
//! environment can only hold strings and `try_parsing(false)` leaves them unsplit
//! (stack §6). Not for anything but `serde(deserialize_with)` in the settings tree.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Deserializer, de::Error as _};

#[derive(Deserialize)]
#[serde(untagged)]
enum SeqOrCsv {
    Seq(Vec<String>),
    Csv(String),
}

impl SeqOrCsv {
    fn into_items(self) -> Vec<String> {
        match self {
            SeqOrCsv::Seq(items) => items,
            // "" means an empty list, so `ONBOARDING__NEW_HIRE__GROUPS=` clears the default.
            SeqOrCsv::Csv(raw) => raw
                .split(',')
                .map(str::trim)
                .filter(|item| !item.is_empty())
                .map(str::to_owned)
                .collect(),
        }
    }
}

/// `["a", "b"]` or `"a,b"`.
pub(super) fn strings<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(SeqOrCsv::deserialize(d)?.into_items())
}

/// `["5s", "30s"]` or `"5s,30s"`, each a humantime duration.
pub(super) fn durations<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<Duration>, D::Error> {
    SeqOrCsv::deserialize(d)?
        .into_items()
        .iter()
        .map(|item| {
            humantime::parse_duration(item)
                .map_err(|e| D::Error::custom(format!("{item:?} is not a duration: {e}")))
        })
        .collect()
}

/// A table whose values are lists: `{ sales = ["g1", "g2"] }` or, from the environment,
/// `ONBOARDING__NEW_HIRE__DEPARTMENT_GROUPS__SALES=g1,g2`.
pub(super) fn string_map<'de, D: Deserializer<'de>>(
    d: D,
) -> Result<BTreeMap<String, Vec<String>>, D::Error> {
    let raw = BTreeMap::<String, SeqOrCsv>::deserialize(d)?;
    Ok(raw.into_iter().map(|(k, v)| (k, v.into_items())).collect())
}

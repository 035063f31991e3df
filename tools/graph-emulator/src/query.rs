//! OData query options as the emulated routes understand them: `$filter` (one comparison:
//! `eq`, `contains`, `startsWith`), `$select`, `$top`, and paging with `$skiptoken` /
//! `@odata.nextLink`. Anything richer is refused the way Graph refuses it, so a client that
//! relies on an unsupported query learns it here.

use base64::Engine;
use serde_json::{Map, Value};

use crate::reply::ApiError;

/// Decoded query pairs of one request (names keep their `$`).
#[derive(Debug, Clone, Default)]
pub struct Query {
    pairs: Vec<(String, String)>,
}

/// A single-comparison `$filter`.
#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Eq(String, String),
    Contains(String, String),
    StartsWith(String, String),
}

impl Query {
    pub fn parse(raw: Option<&str>) -> Query {
        let pairs = raw
            .map(|q| {
                url::form_urlencoded::parse(q.as_bytes())
                    .map(|(k, v)| (k.into_owned(), v.into_owned()))
                    .collect()
            })
            .unwrap_or_default();
        Query { pairs }
    }

    /// Option value by name; Graph accepts `$filter` and (v1.0) `filter` alike.
    pub fn get(&self, name: &str) -> Option<&str> {
        let bare = name.trim_start_matches('$');
        self.pairs
            .iter()
            .find(|(k, _)| k.trim_start_matches('$').eq_ignore_ascii_case(bare))
            .map(|(_, v)| v.as_str())
    }

    pub fn filter(&self) -> Result<Option<Filter>, ApiError> {
        self.get("$filter").map(parse_filter).transpose()
    }

    pub fn select(&self) -> Option<Vec<String>> {
        self.get("$select").map(|s| {
            s.split(',')
                .map(|f| f.trim().to_string())
                .filter(|f| !f.is_empty())
                .collect()
        })
    }

    pub fn top(&self) -> Result<Option<usize>, ApiError> {
        match self.get("$top") {
            None => Ok(None),
            Some(t) => match t.parse::<usize>() {
                Ok(n) if (1..=999).contains(&n) => Ok(Some(n)),
                _ => Err(ApiError::bad(format!(
                    "Invalid page size specified: '{t}'. Must be between 1 and 999 inclusive."
                ))),
            },
        }
    }

    /// Offset encoded in `$skiptoken` (opaque to clients: they must follow nextLink).
    pub fn skip(&self) -> Result<usize, ApiError> {
        match self.get("$skiptoken") {
            None => Ok(0),
            Some(tok) => decode_skiptoken(tok).ok_or_else(|| ApiError::bad("Invalid skip token.")),
        }
    }

    /// The query string for the next page: every option kept, `$skiptoken` replaced.
    pub fn with_skiptoken(&self, offset: usize) -> String {
        let mut ser = url::form_urlencoded::Serializer::new(String::new());
        for (k, v) in self
            .pairs
            .iter()
            .filter(|(k, _)| !k.trim_start_matches('$').eq_ignore_ascii_case("skiptoken"))
        {
            ser.append_pair(k, v);
        }
        ser.append_pair("$skiptoken", &encode_skiptoken(offset));
        ser.finish()
    }
}

fn encode_skiptoken(offset: usize) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("emu:{offset}"))
}

fn decode_skiptoken(tok: &str) -> Option<usize> {
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(tok)
        .ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("emu:")?
        .parse()
        .ok()
}

/// Parses `field eq 'v'`, `contains(field,'v')`, `startsWith(field,'v')`; `''` escapes a quote.
pub fn parse_filter(text: &str) -> Result<Filter, ApiError> {
    let unsupported = || ApiError::BadRequestCode {
        code: "Request_UnsupportedQuery",
        message: format!("Unsupported query: '{text}'."),
    };
    let t = text.trim();
    let lower = t.to_ascii_lowercase();
    for (name, make) in [
        (
            "contains(",
            Filter::Contains as fn(String, String) -> Filter,
        ),
        ("startswith(", Filter::StartsWith),
    ] {
        if let Some(args) = lower.strip_prefix(name).map(|_| &t[name.len()..]) {
            let args = args.strip_suffix(')').ok_or_else(unsupported)?;
            let (field, lit) = args.split_once(',').ok_or_else(unsupported)?;
            return Ok(make(
                field.trim().to_string(),
                string_literal(lit.trim()).ok_or_else(unsupported)?,
            ));
        }
    }
    let mut parts = t.splitn(3, ' ');
    let (field, op, lit) = (
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
        parts.next().unwrap_or(""),
    );
    if op.eq_ignore_ascii_case("eq") && !field.is_empty() {
        return Ok(Filter::Eq(
            field.to_string(),
            string_literal(lit.trim()).ok_or_else(unsupported)?,
        ));
    }
    Err(unsupported())
}

/// `'it''s'` → `it's`; `None` unless a properly quoted literal.
pub fn string_literal(lit: &str) -> Option<String> {
    let inner = lit.strip_prefix('\'')?.strip_suffix('\'')?;
    let mut out = String::with_capacity(inner.len());
    let mut chars = inner.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\'' {
            // A lone quote inside the literal ends it early: malformed.
            if chars.next() != Some('\'') {
                return None;
            }
        }
        out.push(c);
    }
    Some(out)
}

/// Keeps only `select`ed properties (plus OData annotations) of a JSON object.
pub fn apply_select(obj: Value, select: &[String]) -> Value {
    match obj {
        Value::Object(map) => {
            let kept: Map<String, Value> = map
                .into_iter()
                .filter(|(k, _)| {
                    k.starts_with('@') || select.iter().any(|s| s.eq_ignore_ascii_case(k))
                })
                .collect();
            Value::Object(kept)
        }
        other => other,
    }
}

/// One page of a collection: `{"value": [...], "@odata.nextLink": "..."}`.
pub fn page(
    items: Vec<Value>,
    offset: usize,
    size: usize,
    next_link: impl FnOnce(usize) -> String,
) -> Value {
    let total = items.len();
    let value: Vec<Value> = items.into_iter().skip(offset).take(size).collect();
    let mut body = serde_json::json!({ "value": value });
    if offset + size < total {
        body["@odata.nextLink"] = Value::String(next_link(offset + size));
    }
    body
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filters_parse_with_escaped_quotes() {
        assert_eq!(
            parse_filter("employeeId eq 'E1'").unwrap(),
            Filter::Eq("employeeId".into(), "E1".into())
        );
        assert_eq!(
            parse_filter("contains(serialNumber,'AB')").unwrap(),
            Filter::Contains("serialNumber".into(), "AB".into())
        );
        assert_eq!(
            parse_filter("startsWith(displayName,'o''b')").unwrap(),
            Filter::StartsWith("displayName".into(), "o'b".into())
        );
        assert!(parse_filter("employeeId ne 'E1'").is_err());
        assert!(parse_filter("employeeId eq 'a'b'").is_err());
    }

    #[test]
    fn skiptokens_round_trip_and_keep_other_options() {
        let q = Query::parse(Some("%24filter=a+eq+%27b%27&%24skiptoken=x"));
        let next = Query::parse(Some(&q.with_skiptoken(5)));
        assert_eq!(next.skip().unwrap(), 5);
        assert_eq!(next.get("$filter"), Some("a eq 'b'"));
    }
}

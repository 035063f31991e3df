//! Turning our values into Graph URL parts (graph-behaviour §2): path segments, the OData key syntax
//! for awkward UPNs, `$filter` string literals and percent-encoded query values. Pure functions,
//! all tested here, because a wrong escape is a 400 (or, worse, the wrong user) in a real tenant.
//!
//! Not for: building whole URLs (`client.rs`) or choosing a query strategy (`ops_autopilot.rs`).

use percent_encoding::{AsciiSet, CONTROLS, NON_ALPHANUMERIC, utf8_percent_encode};

use shared::ids::Upn;

/// Characters that must not appear raw in one path segment. `#` is the one guest UPNs
/// (`#EXT#`) carry; `/`, `?` and `%` would change the URL's meaning.
const SEGMENT: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'/')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'[')
    .add(b'\\')
    .add(b']')
    .add(b'^')
    .add(b'`')
    .add(b'{')
    .add(b'|')
    .add(b'}');

/// Inside the key syntax the quotes are OData syntax and stay literal (doubled by us).
const KEY_LITERAL: &AsciiSet = SEGMENT;

/// A query value: everything but RFC 3986 unreserved characters is percent-encoded, so a
/// space is `%20` (never `+`), quotes are `%27`, and non-ASCII becomes UTF-8 escapes.
const QUERY_VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// One path segment (an object id, a group id from config): percent-encoded so that it can
/// never escape its segment.
pub fn segment(raw: &str) -> String {
    utf8_percent_encode(raw, SEGMENT).to_string()
}

/// The part after `/users` that addresses a user by UPN: `/ada%23EXT%23@contoso.com` normally,
/// or the key syntax `('$x@contoso.com')` when the UPN starts with `$` (Graph answers the plain
/// form with 400) or contains an apostrophe (doubled inside the literal, the OData-safe form).
pub fn user_key(upn: &Upn) -> String {
    let raw = upn.as_str();
    if raw.starts_with('$') || raw.contains('\'') {
        let doubled = raw.replace('\'', "''");
        format!("('{}')", utf8_percent_encode(&doubled, KEY_LITERAL))
    } else {
        format!("/{}", segment(raw))
    }
}

/// An OData string literal for `$filter`: single-quoted, inner quotes doubled. Not yet
/// percent-encoded: the whole filter is encoded once with [`query_value`].
pub fn filter_literal(raw: &str) -> String {
    format!("'{}'", raw.replace('\'', "''"))
}

/// Percent-encodes one query value (a whole `$filter` expression, a `$select` list).
pub fn query_value(raw: &str) -> String {
    utf8_percent_encode(raw, QUERY_VALUE).to_string()
}

/// Builds `?k=v&k=v` from raw pairs. Keys are OData system options (`$filter`) written as is.
pub fn query_string(pairs: &[(&str, String)]) -> String {
    if pairs.is_empty() {
        return String::new();
    }
    let joined: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("{k}={}", query_value(v)))
        .collect();
    format!("?{}", joined.join("&"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upn(s: &str) -> Upn {
        s.parse().unwrap()
    }

    #[test]
    fn guest_upn_hash_is_percent_encoded_in_the_path() {
        assert_eq!(
            user_key(&upn("AdeleVance_adatum.com#EXT#@contoso.com")),
            "/AdeleVance_adatum.com%23EXT%23@contoso.com"
        );
    }

    #[test]
    fn plain_upn_is_a_plain_segment() {
        assert_eq!(user_key(&upn("ada@contoso.com")), "/ada@contoso.com");
    }

    #[test]
    fn dollar_upn_uses_key_syntax() {
        assert_eq!(user_key(&upn("$x@y.com")), "('$x@y.com')");
    }

    #[test]
    fn apostrophe_is_doubled_inside_key_syntax() {
        assert_eq!(user_key(&upn("o'brien@x.com")), "('o''brien@x.com')");
        assert_eq!(
            user_key(&upn("$o'b#EXT#@x.com")),
            "('$o''b%23EXT%23@x.com')"
        );
    }

    #[test]
    fn segments_cannot_escape_their_place() {
        assert_eq!(segment("a/b?c#d%e"), "a%2Fb%3Fc%23d%25e");
        assert_eq!(
            segment("0b9c-11e1-aaaa-bbbb"),
            "0b9c-11e1-aaaa-bbbb",
            "GUIDs pass through"
        );
    }

    #[test]
    fn filter_literals_double_quotes_then_encode_as_a_query_value() {
        let filter = format!("employeeId eq {}", filter_literal("O'Neil 7"));
        assert_eq!(filter, "employeeId eq 'O''Neil 7'");
        assert_eq!(
            query_value(&filter),
            "employeeId%20eq%20%27O%27%27Neil%207%27"
        );
    }

    #[test]
    fn unicode_is_utf8_percent_encoded() {
        assert_eq!(query_value("Zoë"), "Zo%C3%AB");
        assert_eq!(query_value("a+b&c=d"), "a%2Bb%26c%3Dd");
    }

    proptest::proptest! {
        /// Whatever the input, a segment or query value decodes back to it and never carries a
        /// raw character that would end it (`/`, `?`, `#`, `&`, `=`, space).
        #[test]
        fn escaping_round_trips_and_stays_in_its_place(raw in "\\PC{0,40}") {
            use percent_encoding::percent_decode_str;
            for (encoded, stoppers) in [(segment(&raw), "/?# "), (query_value(&raw), "/?#&= +'")] {
                proptest::prop_assert_eq!(percent_decode_str(&encoded).decode_utf8().unwrap(), raw.as_str());
                proptest::prop_assert!(!encoded.contains(|c| stoppers.contains(c)), "{}", encoded);
            }
        }
    }

    #[test]
    fn query_strings_keep_system_option_names() {
        let q = query_string(&[
            ("$filter", "contains(serialNumber,'AB12')".into()),
            ("$select", "id,serialNumber".into()),
        ]);
        assert_eq!(
            q,
            "?$filter=contains%28serialNumber%2C%27AB12%27%29&$select=id%2CserialNumber"
        );
        assert_eq!(query_string(&[]), "");
    }
}

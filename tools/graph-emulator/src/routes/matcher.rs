//! Matches a request path against [`ROUTES`]: segment by segment after percent-decoding (so
//! `%23EXT%23` reaches the user), with OData key syntax (`/users('$x@y')`, graph-behaviour §2) turned into an
//! ordinary key segment, and alternate keys (`/devices(deviceId='…')`, graph-behaviour §8) matched as one
//! segment with a prefix and suffix. A `$`-prefixed key in a plain segment is refused (graph-behaviour §2).

use std::sync::LazyLock;

use percent_encoding::percent_decode_str;

use super::{ROUTES, Route};

/// A matched route with its keys.
pub struct Matched {
    pub route: &'static Route,
    pub params: Vec<String>,
    pub raw_params: Vec<String>,
}

#[derive(Debug, PartialEq)]
pub enum NoMatch {
    /// No route has this shape: Graph's 400 "Resource not found for the segment".
    UnknownSegment(String),
    /// The shape exists for other methods.
    Method,
    /// A `$`-prefixed key in an ordinary path segment (graph-behaviour §2: use `('…')` key syntax).
    DollarKey(String),
}

struct Segment {
    decoded: String,
    raw: String,
    /// Came from `name('key')` syntax, so a leading `$` is legitimate.
    quoted: bool,
}

/// Matches `rest` (the path after `/v1.0` or `/beta`, still percent-encoded).
pub fn match_route(method: &str, rest: &str, beta: bool) -> Result<Matched, NoMatch> {
    let segments = split_segments(rest);
    let mut best: Option<(usize, &'static Route, &'static [&'static str], Vec<usize>)> = None;
    let mut shape_found = false;
    for (r, parts) in ROUTES
        .iter()
        .zip(PARTS.iter())
        .filter(|(r, _)| beta || !r.beta_only)
    {
        let Some((score, keys)) = match_template(parts, &segments) else {
            continue;
        };
        shape_found = true;
        if r.method == method && best.as_ref().is_none_or(|b| score > b.0) {
            best = Some((score, r, parts, keys));
        }
    }
    let Some((_, route, parts, keys)) = best else {
        return Err(if shape_found {
            NoMatch::Method
        } else {
            NoMatch::UnknownSegment(segments.last().map(|s| s.raw.clone()).unwrap_or_default())
        });
    };
    let mut m = Matched {
        route,
        params: Vec::new(),
        raw_params: Vec::new(),
    };
    for (i, kind) in keys.into_iter().enumerate().filter(|(_, kind)| *kind != 0) {
        let seg = &segments[i];
        let value = extract_key(parts[i], &seg.decoded).unwrap_or_default();
        if kind == 1 && !seg.quoted && value.starts_with('$') {
            return Err(NoMatch::DollarKey(seg.raw.clone()));
        }
        m.params.push(value);
        m.raw_params
            .push(extract_key(parts[i], &seg.raw).unwrap_or_default());
    }
    Ok(m)
}

fn split_segments(rest: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    for raw in rest.split('/').filter(|s| !s.is_empty()) {
        let decoded = percent_decode_str(raw).decode_utf8_lossy().into_owned();
        match key_syntax(&decoded) {
            Some((name, key)) => {
                let raw_key = key_syntax(raw)
                    .map(|(_, k)| k)
                    .unwrap_or_else(|| key.clone());
                out.push(Segment {
                    decoded: name.clone(),
                    raw: name,
                    quoted: false,
                });
                out.push(Segment {
                    decoded: key,
                    raw: raw_key,
                    quoted: true,
                });
            }
            None => out.push(Segment {
                decoded,
                raw: raw.to_string(),
                quoted: false,
            }),
        }
    }
    out
}

/// `users('a''b@x')` → (`users`, `a'b@x`). Alternate keys (`name(key='v')`) are left alone.
fn key_syntax(seg: &str) -> Option<(String, String)> {
    let open = seg.find("('")?;
    let (name, rest) = seg.split_at(open);
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric()) {
        return None;
    }
    let lit = rest.strip_prefix('(')?.strip_suffix(')')?;
    Some((name.to_string(), crate::query::string_literal(lit)?))
}

/// Each route's template split into segments once (matching runs on every request).
static PARTS: LazyLock<Vec<Vec<&'static str>>> = LazyLock::new(|| {
    ROUTES
        .iter()
        .map(|r| r.template.split('/').filter(|s| !s.is_empty()).collect())
        .collect()
});

/// Per template segment: 0 = literal, 1 = `{id}` key, 2 = `prefix{id}suffix`; plus a literal score.
fn match_template(parts: &[&str], segs: &[Segment]) -> Option<(usize, Vec<usize>)> {
    if parts.len() != segs.len() {
        return None;
    }
    let (mut score, mut kinds) = (0, Vec::with_capacity(parts.len()));
    for (p, s) in parts.iter().zip(segs) {
        if *p == "{id}" {
            kinds.push(1);
        } else if let Some((pre, post)) = p.split_once("{id}") {
            let ok = s.decoded.len() >= pre.len() + post.len()
                && s.decoded[..pre.len()].eq_ignore_ascii_case(pre)
                && s.decoded.ends_with(post);
            if !ok || s.quoted {
                return None;
            }
            kinds.push(2);
        } else if p.eq_ignore_ascii_case(&s.decoded) && !s.quoted {
            score += 1;
            kinds.push(0);
        } else {
            return None;
        }
    }
    Some((score, kinds))
}

/// The key carried by a template segment, if it is `{id}` or a `prefix{id}suffix` pattern.
fn extract_key(part: &str, text: &str) -> Option<String> {
    let (pre, post) = part.split_once("{id}")?;
    if pre.is_empty() && post.is_empty() {
        return Some(text.to_string());
    }
    text.get(pre.len()..text.len().checked_sub(post.len())?)
        .map(str::to_string)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_upns_are_percent_decoded_and_keep_the_raw_form() {
        let m = match_route("GET", "/users/adele_f.test%23EXT%23@contoso.test", false).unwrap();
        assert_eq!(m.route.template, "/users/{id}");
        assert_eq!(m.params, ["adele_f.test#EXT#@contoso.test"]);
        assert_eq!(m.raw_params, ["adele_f.test%23EXT%23@contoso.test"]);
    }

    #[test]
    fn dollar_upns_need_key_syntax() {
        assert_eq!(
            match_route("GET", "/users/$x@y.com", false).err(),
            Some(NoMatch::DollarKey("$x@y.com".into()))
        );
        let m = match_route("GET", "/users('$x@y.com')", false).unwrap();
        assert_eq!(
            (m.route.template, m.params[0].as_str()),
            ("/users/{id}", "$x@y.com")
        );
        let m = match_route("GET", "/users('o''brien@y.com')", false).unwrap();
        assert_eq!(m.params[0], "o'brien@y.com");
    }

    #[test]
    fn literals_beat_keys_and_alternate_keys_match() {
        let m = match_route("POST", "/groups/g1/members/$ref", false).unwrap();
        assert_eq!(m.route.template, "/groups/{id}/members/$ref");
        let m = match_route("GET", "/devices(deviceId='abc')", false).unwrap();
        assert_eq!(
            (m.route.template, m.params[0].as_str()),
            ("/devices(deviceId='{id}')", "abc")
        );
        assert_eq!(
            match_route("PUT", "/users/x", false).err(),
            Some(NoMatch::Method)
        );
        assert!(matches!(
            match_route("GET", "/nonsense", false),
            Err(NoMatch::UnknownSegment(_))
        ));
    }

    #[test]
    fn beta_only_routes_are_absent_from_v1() {
        assert!(
            match_route(
                "POST",
                "/deviceManagement/windowsAutopilotSettings/sync",
                false
            )
            .is_err()
        );
        assert!(
            match_route(
                "POST",
                "/deviceManagement/windowsAutopilotSettings/sync",
                true
            )
            .is_ok()
        );
    }
}

//! Keeps UPNs out of exported traces. Span fields never name a UPN, but log events inside a span
//! do: a dead letter's reason ("already assigned to anna@contoso.com"), the reassignment
//! warning. Those events are what makes a trace useful, so instead of dropping them, this span
//! processor sits in front of the exporter and replaces every UPN-shaped text in span and event
//! attributes (and event names) with `<upn>`. The JSON logs keep the UPNs: they stay in the
//! cluster, while a trace backend is often shared more widely.
//!
//! Not for: hardware hashes or secrets — they never reach a span or a log in the first place.

use std::borrow::Cow;
use std::sync::LazyLock;
use std::time::Duration;

use opentelemetry::{Context, KeyValue, StringValue, Value};
use opentelemetry_sdk::Resource;
use opentelemetry_sdk::error::OTelSdkResult;
use opentelemetry_sdk::trace::{Span, SpanData, SpanProcessor};
use regex::Regex;

/// What stands where a UPN was.
pub const MASK: &str = "<upn>";

/// A UPN or e-mail address, guests' `#EXT#` form included.
static UPN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"[A-Za-z0-9._%+'#$!&*=^`{|}~-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
        .expect("the UPN pattern compiles")
});

/// Wraps the processor that exports (the batch processor), redacting each span before it.
#[derive(Debug)]
pub struct RedactUpns<P>(pub P);

impl<P: SpanProcessor> SpanProcessor for RedactUpns<P> {
    fn on_start(&self, span: &mut Span, cx: &Context) {
        self.0.on_start(span, cx);
    }

    fn on_end(&self, mut span: SpanData) {
        redact_attributes(&mut span.attributes);
        for event in span.events.events.iter_mut() {
            if let Cow::Owned(name) = redact(&event.name) {
                event.name = Cow::Owned(name);
            }
            redact_attributes(&mut event.attributes);
        }
        self.0.on_end(span);
    }

    fn force_flush(&self) -> OTelSdkResult {
        self.0.force_flush()
    }

    fn shutdown_with_timeout(&self, timeout: Duration) -> OTelSdkResult {
        self.0.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.0.set_resource(resource);
    }
}

fn redact_attributes(attributes: &mut [KeyValue]) {
    for kv in attributes.iter_mut() {
        if let Value::String(text) = &kv.value
            && let Cow::Owned(masked) = redact(text.as_str())
        {
            kv.value = Value::String(StringValue::from(masked));
        }
    }
}

/// `text` with every UPN replaced by [`MASK`]; borrowed when there was none.
pub fn redact(text: &str) -> Cow<'_, str> {
    UPN.replace_all(text, MASK)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn upns_of_every_shape_are_masked_and_the_rest_kept() {
        let cases = [
            (
                "device CZC0000001 is already assigned to katherine@contoso.test: unassign it",
                "device CZC0000001 is already assigned to <upn>: unassign it",
            ),
            (
                "no Entra user with UPN anna_fabrikam.com#EXT#@contoso.onmicrosoft.com yet",
                "no Entra user with UPN <upn> yet",
            ),
            ("o'brien$1@sub.contoso.co.uk", "<upn>"),
            ("a@b.c and d@e.f", "<upn> and <upn>"),
            (
                "GET /v1.0/users/{upn} -> 404",
                "GET /v1.0/users/{upn} -> 404",
            ),
            ("serial PF-3A7K2M, order 1@2", "serial PF-3A7K2M, order 1@2"),
        ];
        for (text, want) in cases {
            assert_eq!(redact(text), want, "{text}");
        }
    }

    #[test]
    fn text_without_a_upn_is_not_copied() {
        assert!(matches!(redact("nothing personal"), Cow::Borrowed(_)));
    }
}

//! What a verb that talks to the broker or Graph runs with: the validated settings, the output
//! format, and logs and spans installed for the length of the run.
//!
//! Logs go to stderr (stdout is the report), warnings only and none of lapin's by default;
//! `ONBOARDCTL_LOG`, else `RUST_LOG`, gives another filter. Colours only on a terminal, and never
//! with `NO_COLOR` set (<https://no-color.org>): the writer is anstream's stderr, which strips the
//! escape codes then (and translates them for an old Windows console).
//!
//! Not for: `trace`, `completions` and `man`, which need no settings and export nothing.

use shared::config::{LogFormat, Service, Settings, TelemetrySettings};
use shared::telemetry::TelemetryGuard;

use crate::args::Global;
use crate::output::Output;

/// Settings, output format and telemetry for one run; dropping it flushes the spans still
/// batched for export, so hold it until the verb is done.
pub struct Context {
    /// `config/defaults.toml` < `--config FILE` < `ONBOARDING__SECTION__KEY`, validated.
    pub settings: Settings,
    /// `--output`.
    pub output: Output,
    _telemetry: TelemetryGuard,
}

impl Context {
    /// Loads and validates the settings and installs telemetry (the `publish` and `replay`
    /// spans are exported when `telemetry.otlp_endpoint` is set: they are the roots of the
    /// events' traces).
    pub fn load(global: &Global) -> anyhow::Result<Context> {
        let settings = shared::config::load(global.config.as_deref(), std::env::vars().collect())?;
        settings.validate(Service::Cli)?;
        let cfg = TelemetrySettings {
            log_filter: log_filter(
                std::env::var("ONBOARDCTL_LOG").ok(),
                std::env::var("RUST_LOG").ok(),
            ),
            log_format: LogFormat::Pretty,
            otlp_endpoint: settings.telemetry.otlp_endpoint.clone(),
        };
        let telemetry = shared::telemetry::init("onboardctl", &cfg, anstream::stderr)?;
        Ok(Context {
            settings,
            output: global.output,
            _telemetry: telemetry,
        })
    }
}

/// `ONBOARDCTL_LOG`, else `RUST_LOG`, else warnings only. lapin logs a refused publish or a
/// closed channel as an ERROR of its own; the verb reports the same failure once, with its
/// context, so lapin stays quiet by default.
pub fn log_filter(onboardctl_log: Option<String>, rust_log: Option<String>) -> String {
    [onboardctl_log, rust_log]
        .into_iter()
        .flatten()
        .find(|filter| !filter.trim().is_empty())
        .unwrap_or_else(|| "warn,lapin=off".to_owned())
}

#[cfg(test)]
mod tests {
    use super::log_filter;

    #[test]
    fn the_log_filter_prefers_onboardctl_log_then_rust_log() {
        let s = |v: &str| Some(v.to_owned());
        assert_eq!(log_filter(s("debug"), s("info")), "debug");
        assert_eq!(log_filter(None, s("info")), "info");
        assert_eq!(log_filter(s(""), s("info")), "info");
        assert_eq!(log_filter(None, None), "warn,lapin=off");
    }
}

//! `device-purchased`: loads settings, installs telemetry, and runs the service until SIGTERM/SIGINT.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use shared::config::Service;

/// Consumes procurement.device.purchased and registers each device with Autopilot.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// TOML file overriding the embedded defaults (environment ONBOARDING__SECTION__KEY overrides both).
    #[arg(long, env = "ONBOARDING_CONFIG")]
    config: Option<PathBuf>,
    /// Check the service running on this machine instead of starting one: GET /readyz (ready,
    /// the default) or /healthz (live) at http.listen; exit 0 if healthy, 1 if not.
    #[arg(long, value_name = "live|ready", num_args = 0..=1, default_missing_value = "ready")]
    probe: Option<runner::ProbeKind>,
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    if let Some(kind) = args.probe {
        return runner::probe_exit(Service::DevicePurchased, args.config.as_deref(), kind).await;
    }
    match runner::run_binary(
        Service::DevicePurchased,
        args.config.as_deref(),
        device_purchased::run,
    )
    .await
    {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("device-purchased: {}", runner::error_chain(&err));
            ExitCode::FAILURE
        }
    }
}

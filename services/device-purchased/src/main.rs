//! `device-purchased`: loads settings, installs telemetry, and runs the service until SIGTERM/SIGINT.
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::Parser;
use shared::config::Service;

/// Consumes procurement.device.purchased and registers each device with Autopilot.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// TOML file overriding the embedded defaults (environment ONBOARDING__SECTION__KEY overrides both).
    #[arg(long, env = "ONBOARDING_CONFIG")]
    config: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("device-purchased: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<()> {
    let settings = shared::config::load(args.config.as_deref(), std::env::vars().collect())?;
    settings.validate(Service::DevicePurchased)?;
    let _telemetry = shared::telemetry::init(
        Service::DevicePurchased.name(),
        &settings.telemetry,
        std::io::stdout,
    )?;
    let http = tokio::net::TcpListener::bind(&settings.http.listen)
        .await
        .with_context(|| format!("http.listen: cannot bind {}", settings.http.listen))?;
    device_purchased::run(settings, http, shared::service::shutdown_on_signal()).await?;
    Ok(())
}

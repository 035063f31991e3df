//! `device-purchased`: loads settings, installs telemetry, and runs the service until SIGTERM/SIGINT.
//! Everything around the handler is `runner::main`'s; this file only names the service.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use shared::config::Service;

#[tokio::main]
async fn main() -> ExitCode {
    runner::main(
        Service::DevicePurchased,
        "Consumes procurement.device.purchased and registers each device with Autopilot.",
        env!("CARGO_PKG_VERSION"),
        device_purchased::run,
    )
    .await
}

//! `device-shipped`: loads settings, installs telemetry, and runs the service until SIGTERM/SIGINT.
//! Everything around the handler is `runner::main`'s; this file only names the service.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use shared::config::Service;

#[tokio::main]
async fn main() -> ExitCode {
    runner::main(
        Service::DeviceShipped,
        "Consumes procurement.device.shipped and assigns each shipped Autopilot device to its user.",
        env!("CARGO_PKG_VERSION"),
        device_shipped::run,
    )
    .await
}

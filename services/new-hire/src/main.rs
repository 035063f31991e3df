//! `new-hire`: loads settings, installs telemetry, and runs the service until SIGTERM/SIGINT.
//! Everything around the handler is `runner::main`'s; this file only names the service.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use shared::config::Service;

#[tokio::main]
async fn main() -> ExitCode {
    runner::main(
        Service::NewHire,
        "Consumes hr.employee.hired and makes each hire able to join devices and a member of their groups.",
        env!("CARGO_PKG_VERSION"),
        new_hire::run,
    )
    .await
}

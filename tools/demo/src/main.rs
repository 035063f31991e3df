//! `onboard-demo`: parses its flags, runs the demo and turns the summary into an exit code
//! (0: every event has its outcome; 3: some have none, see `onboardctl dead list`; 1: failed).
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use onboard_demo::DemoOptions;
use onboardctl::output::Output;

/// Exit code for "done in part", as `onboardctl` uses it.
const PARTIAL: u8 = 3;

/// Run the whole product on this machine: the Graph emulator, every service, the sample files
/// in examples/ published, and the tenant's final state printed.
#[derive(Parser)]
#[command(version)]
struct Args {
    /// Folder with hires.csv and autopilot-hashes.csv.
    #[arg(long, default_value = "examples")]
    examples: PathBuf,
    /// Emulated time runs this many times faster than real time.
    #[arg(long, default_value_t = 60.0)]
    speed: f64,
    /// How the summary is printed.
    #[arg(long, value_enum, default_value = "table")]
    output: Output,
}

#[tokio::main]
async fn main() -> ExitCode {
    match run(Args::parse()).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("onboard-demo: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(args: Args) -> anyhow::Result<ExitCode> {
    // The services' logs, on stderr: warnings only unless DEMO_LOG says otherwise. anstream
    // drops the colours when NO_COLOR is set or stderr is not a terminal.
    let logs = shared::config::TelemetrySettings {
        log_filter: std::env::var("DEMO_LOG").unwrap_or_else(|_| "warn".to_owned()),
        log_format: shared::config::LogFormat::Pretty,
        otlp_endpoint: String::new(),
    };
    let _telemetry = shared::telemetry::init("onboardctl-demo", &logs, anstream::stderr)?;
    let opts = DemoOptions {
        examples: args.examples,
        speed: args.speed,
        ..DemoOptions::default()
    };
    let summary = onboard_demo::run(opts, args.output).await?;
    args.output
        .print(&summary, || onboard_demo::render(&summary));
    Ok(if summary.without_outcome == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(PARTIAL)
    })
}

//! `graph-emulator`: runs the Graph tenant emulator until Ctrl-C / SIGTERM. Parses flags,
//! sets up logging, and wires; everything else is in the library.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use graph_emulator::{EmulatorConfig, FaultConfig, Fixture, RunningEmulator};

/// A stateful local twin of Microsoft Graph, Entra token issuance and Autopilot.
#[derive(Debug, Parser)]
#[command(version)]
struct Cli {
    /// Address to listen on (port 0 = any free port; the bound address is printed).
    #[arg(long, env = "GRAPH_EMULATOR_LISTEN", default_value = "127.0.0.1:8443")]
    listen: SocketAddr,
    /// Write the PEM of the CA that signed the serving certificate to this file.
    #[arg(long, env = "GRAPH_EMULATOR_CA_OUT")]
    ca_out: Option<PathBuf>,
    /// Tenant fixture (JSON); without it, the built-in demo tenant.
    #[arg(long, env = "GRAPH_EMULATOR_FIXTURE")]
    fixture: Option<PathBuf>,
    /// Seed of every random choice (ids, fault draws, batch order).
    #[arg(long, env = "GRAPH_EMULATOR_SEED", default_value_t = 0)]
    seed: u64,
    /// Scales every emulated delay (import, device appearance, sync, throttling windows, Retry-After).
    #[arg(long, env = "GRAPH_EMULATOR_SPEED", default_value_t = 1.0)]
    speed: f64,
    /// Default page size of collections.
    #[arg(long, env = "GRAPH_EMULATOR_PAGE_SIZE", default_value_t = 5)]
    page_size: usize,
    /// Faults to inject from start (JSON, the `PUT /_emulator/faults` shape).
    #[arg(long, env = "GRAPH_EMULATOR_FAULTS")]
    faults: Option<PathBuf>,
    /// Turn the throttling model off.
    #[arg(long, env = "GRAPH_EMULATOR_NO_THROTTLE")]
    no_throttle: bool,
    /// Answer /_emulator/* from any peer, not only loopback.
    #[arg(long, env = "GRAPH_EMULATOR_ADMIN_ANYWHERE")]
    admin_anywhere: bool,
    /// Extra DNS names for the serving certificate, comma-separated (its compose or cluster hostname).
    #[arg(long, env = "GRAPH_EMULATOR_TLS_NAMES", value_delimiter = ',')]
    tls_names: Vec<String>,
    /// Real instant (RFC 3339) the emulated calendar is scaled from: emulated = epoch + (real −
    /// epoch) × speed. Default: start. Give services that scale their clock the same one.
    #[arg(long, env = "GRAPH_EMULATOR_CLOCK_EPOCH", value_parser = parse_epoch)]
    clock_epoch: Option<std::time::SystemTime>,
}

fn parse_epoch(text: &str) -> Result<std::time::SystemTime, String> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(std::time::SystemTime::from)
        .map_err(|e| format!("not an RFC 3339 time ({e})"))
}

#[tokio::main]
async fn main() -> ExitCode {
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "info".into()),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    match run(Cli::parse()).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("graph-emulator: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let fixture = match &cli.fixture {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("reading fixture {}", path.display()))?;
            Fixture::from_json(&text)
                .with_context(|| format!("parsing fixture {}", path.display()))?
        }
        None => Fixture::demo(),
    };
    let faults: Option<FaultConfig> = match &cli.faults {
        Some(path) => Some(
            serde_json::from_str(&std::fs::read_to_string(path)?)
                .with_context(|| format!("parsing faults {}", path.display()))?,
        ),
        None => None,
    };
    let mut cfg = EmulatorConfig {
        listen: cli.listen,
        fixture,
        seed: cli.seed,
        speed: cli.speed,
        page_size: cli.page_size,
        faults,
        ..Default::default()
    };
    cfg.throttle.enabled = !cli.no_throttle;
    cfg.admin_loopback_only = !cli.admin_anywhere;
    cfg.tls_names = cli.tls_names.clone();
    cfg.clock_epoch = cli.clock_epoch;
    let emu = RunningEmulator::start(cfg).await?;
    if let Some(path) = &cli.ca_out {
        std::fs::write(path, emu.ca_pem())
            .with_context(|| format!("writing CA to {}", path.display()))?;
    }
    println!("graph-emulator listening on {}", emu.base_url());
    shutdown_signal().await;
    emu.shutdown().await;
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .expect("installing a SIGTERM handler");
        tokio::select! { _ = ctrl_c => {}, _ = term.recv() => {} }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

//! `onboardctl trace collect`: an OTLP/gRPC receiver that appends every span it is sent to the
//! store, one JSON line each, until Ctrl-C (or, on Unix, SIGTERM: `scripts/stack down`, a
//! container runtime).
//!
//! Not for: reading the store (`show`).

use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::{STORE_ENV, serve};
use crate::exit::Exit;

/// `onboardctl trace collect`'s flags.
#[derive(clap::Args)]
pub struct Args {
    #[arg(long, default_value = "127.0.0.1:4317")]
    listen: std::net::SocketAddr,
    /// The JSON-lines file spans are appended to.
    #[arg(long, env = STORE_ENV)]
    store: PathBuf,
}

/// Collects until stopped.
pub async fn run(args: Args) -> anyhow::Result<Exit> {
    into_store(args.listen, &args.store, stop_signal()).await?;
    Ok(Exit::Done)
}

/// Receives spans on `listen` and appends them to `store` until `shutdown` completes.
pub async fn into_store(
    listen: std::net::SocketAddr,
    store: &Path,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(store)
        .with_context(|| format!("opening the trace store {}", store.display()))?;
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let file = std::sync::Mutex::new(std::io::LineWriter::new(file));
    eprintln!(
        "onboardctl trace: OTLP/gRPC on http://{}, spans appended to {}",
        listener.local_addr()?,
        store.display()
    );
    serve(
        listener,
        move |spans| {
            let mut file = file.lock().unwrap_or_else(|p| p.into_inner());
            for span in spans {
                // A span that cannot be written is lost to this store only; the exporter
                // must not be told to retry a batch the file half holds.
                if let Ok(line) = serde_json::to_string(&span) {
                    let _ = writeln!(file, "{line}");
                }
            }
        },
        shutdown,
    )
    .await
}

/// Completes on Ctrl-C, and on Unix also on SIGTERM. Windows has no SIGTERM (a service or
/// console is stopped with Ctrl-C / Ctrl-Break there), so only Ctrl-C is awaited.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
                return;
            }
            // Still stoppable with Ctrl-C; say why SIGTERM will not stop it.
            Err(e) => eprintln!("onboardctl trace: cannot listen for SIGTERM ({e}); Ctrl-C stops"),
        }
    }
    // A failure to listen for Ctrl-C stops the collector at once rather than leaving an
    // unstoppable one behind, as before.
    let _ = tokio::signal::ctrl_c().await;
}

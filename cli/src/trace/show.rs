//! `onboardctl trace show`: the traces in the store that match a trace id, a serial, a message
//! id or a CloudEvents subject, each printed as a tree.
//!
//! Not for: receiving spans (`collect`).

use std::path::PathBuf;

use super::{Query, STORE_ENV, Shown, read_store, render, select};
use crate::exit::Exit;
use crate::output::Output;

/// `onboardctl trace show`'s flags: exactly one way to find the traces.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("which").required(true).args(["trace_id", "serial", "message_id", "subject"])))]
pub struct Args {
    /// A trace id, as `dead show` prints it.
    trace_id: Option<String>,
    /// Every trace of this device.
    #[arg(long)]
    serial: Option<String>,
    /// The trace of this event (its CloudEvents id, as `dead list` shows it).
    #[arg(long)]
    message_id: Option<String>,
    /// Every trace of this CloudEvents subject (an employee id or a serial).
    #[arg(long)]
    subject: Option<String>,
    /// The file `trace collect` writes.
    #[arg(long, env = STORE_ENV)]
    store: PathBuf,
}

/// Prints the matching traces; fails when none matches.
pub fn run(args: Args, out: Output) -> anyhow::Result<Exit> {
    let query = match (args.trace_id, args.serial, args.message_id, args.subject) {
        (Some(id), ..) => Query::TraceId(id),
        (_, Some(serial), ..) => Query::Serial(serial),
        (_, _, Some(id), _) => Query::MessageId(id),
        (.., Some(subject)) => Query::Subject(subject),
        _ => unreachable!("clap requires one of them"),
    };
    let store = args.store;
    let traces = select(read_store(&store)?, &query);
    if traces.is_empty() {
        anyhow::bail!(
            "no trace matches {query:?} in {} (spans arrive a few seconds after they end)",
            store.display()
        );
    }
    let shown = Shown { store, traces };
    out.print(&shown, || render(&shown));
    Ok(Exit::Done)
}

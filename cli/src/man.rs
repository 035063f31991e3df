//! `onboardctl man`: the manual page in roff, generated from the same clap definitions as the
//! parser and `--help`. `onboardctl.1` on stdout (`onboardctl man | man -l -`), or with
//! `--dir DIR` every page, one per verb (`onboardctl-dead-replay.1`, ...), for a packager.
//!
//! Not for: prose beyond `--help` (docs/onboardctl.md has the guide).

use std::path::PathBuf;

use anyhow::Context as _;
use clap::CommandFactory as _;

use crate::args::Cli;
use crate::exit::Exit;
use crate::output;

/// `onboardctl man`'s flags.
#[derive(clap::Args)]
pub struct Args {
    /// Write every page (onboardctl.1 and one per verb) into this folder instead.
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
}

/// Prints `onboardctl.1`, or writes every page into `args.dir`.
pub fn run(args: Args) -> anyhow::Result<Exit> {
    match args.dir {
        Some(dir) => std::fs::create_dir_all(&dir)
            .and_then(|()| clap_mangen::generate_to(Cli::command(), &dir))
            .with_context(|| format!("writing the manual pages into {}", dir.display()))?,
        None => output::write_stdout(&page()?)?,
    }
    Ok(Exit::Done)
}

/// `onboardctl.1`: the synopsis, the global options and every verb with its summary.
pub fn page() -> std::io::Result<Vec<u8>> {
    let mut roff = Vec::new();
    clap_mangen::Man::new(Cli::command()).render(&mut roff)?;
    Ok(roff)
}

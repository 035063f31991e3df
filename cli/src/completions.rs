//! `onboardctl completions SHELL`: a completion script for bash, zsh, fish, PowerShell or
//! elvish on stdout, generated from the same clap definitions as the parser, so it cannot name
//! a verb or flag that does not exist. Where to put it: docs/onboardctl.md.
//!
//! Not for: installing it (the admin's shell setup decides where it goes).

use clap::CommandFactory as _;
use clap_complete::Shell;

use crate::args::Cli;
use crate::exit::Exit;
use crate::output;

/// `onboardctl completions`'s flags.
#[derive(clap::Args)]
pub struct Args {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: Shell,
}

/// Prints the script for `args.shell`.
pub fn run(args: Args) -> anyhow::Result<Exit> {
    output::write_stdout(&script(args.shell))?;
    Ok(Exit::Done)
}

/// The completion script for `shell`. Generated into memory first: the generator panics on a
/// failed write, and a closed pipe is not worth a panic.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "onboardctl", &mut script);
    script
}

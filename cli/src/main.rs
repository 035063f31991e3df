//! `onboardctl`: the operator's tool. `main` parses the command line, hands each verb its own
//! flags (and, for the verbs that talk to the broker or Graph, the settings), reports an error
//! once with its causes, and turns the outcome into the exit code scripts rely on
//! (`onboardctl::exit` has the table).
#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser as _;
use onboardctl::args::{Cli, Command};
use onboardctl::context::Context;
use onboardctl::exit::Exit;
use onboardctl::{completions, dead, failure, man, preflight, publish_cmd, status, trace};

#[tokio::main]
async fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(usage) => return failure::usage(usage, std::env::args_os()).into(),
    };
    let output = cli.global.output;
    match run(cli).await {
        Ok(exit) => exit.into(),
        Err(err) => failure::report(&err, output).into(),
    }
}

async fn run(cli: Cli) -> anyhow::Result<Exit> {
    let global = cli.global;
    match cli.command {
        Command::Publish(args) => publish_cmd::run(args, &Context::load(&global)?).await,
        Command::Preflight(args) => preflight::run(args, &Context::load(&global)?).await,
        Command::Status(args) => status::run(args, &Context::load(&global)?).await,
        Command::Dead { command } => dead::run(command, &Context::load(&global)?).await,
        Command::Trace { command } => trace::run(command, global.output).await,
        Command::Completions(args) => completions::run(args),
        Command::Man(args) => man::run(args),
    }
}

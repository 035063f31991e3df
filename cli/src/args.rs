//! The command line as a whole: the global flags and one variant per verb. Each verb's own
//! flags live in its module, next to the `run` that uses them; this file only names the verbs.
//!
//! Not for: validating beyond what clap checks, or building anything (that is each verb's
//! `run`): parsing must not need a broker, Graph or a settings file.

use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::output::Output;
use crate::{completions, dead, man, preflight, publish_cmd, status, trace};

/// Feed, inspect and repair the onboarding automation.
#[derive(Parser)]
#[command(
    name = "onboardctl",
    version,
    after_help = "Exit codes: 0 done, 1 failed, 2 usage error, 3 done in part (rows rejected, \
                  some replays failed), 4 not ready (preflight/status found something to fix or not yet done)."
)]
pub struct Cli {
    /// Flags every verb takes.
    #[command(flatten)]
    pub global: Global,
    /// The verb and its own flags.
    #[command(subcommand)]
    pub command: Command,
}

/// The flags every verb takes (`global = true`: before or after the verb).
#[derive(clap::Args)]
pub struct Global {
    /// TOML settings file (the services' format); ONBOARDING__SECTION__KEY variables override it.
    #[arg(long, global = true, env = "ONBOARDING_CONFIG")]
    pub config: Option<PathBuf>,
    /// How results are printed.
    #[arg(long, global = true, value_enum, default_value = "table")]
    pub output: Output,
}

/// The verbs; `main` hands each its own flags and the settings it needs.
#[derive(Subcommand)]
pub enum Command {
    /// Publish events: one from flags, or every valid row of a CSV file.
    #[command(args_conflicts_with_subcommands = true)]
    Publish(publish_cmd::Args),
    /// Check the tenant is ready for the flow (automatic enrollment, join setting, quota, groups,
    /// deployment profile, ESP, permissions) and say what to fix. Reads only.
    Preflight(preflight::Args),
    /// How far one hire or device (or every row of an HR / hardware-hash CSV) is along the
    /// onboarding steps, from Graph's current state: ready, pending or blocked, step by step.
    Status(status::Args),
    /// Inspect and repair a service's dead-letter queue.
    Dead {
        /// What to do with it.
        #[command(subcommand)]
        command: dead::Command,
    },
    /// Keep and read traces on a machine without Jaeger (`scripts/stack` runs the collector).
    Trace {
        /// What to do with them.
        #[command(subcommand)]
        command: trace::Command,
    },
    /// Print a shell completion script on stdout (bash, zsh, fish, powershell, elvish).
    Completions(completions::Args),
    /// Print the manual page (roff) on stdout, or write one page per verb into a folder.
    Man(man::Args),
}

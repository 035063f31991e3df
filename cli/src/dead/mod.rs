//! `onboardctl dead list|show|replay|purge`: the dead-letter queue `<queue>.dead` of one
//! service, read and repaired over plain AMQP (no management plugin). One module per verb, each
//! with its flags and its `run`; `broker` is what they share.
//!
//! Nothing is lost on the way: every message is taken with `basic_get` **without** ack and
//! held unacked while we look at it. A replayed message is acked only after the broker
//! confirmed its copy in the work queue; everything else (not selected, failed publish,
//! browsing) is nacked with requeue, or requeued by the broker when our channel closes. The
//! queue depth is read first and at most that many messages are taken, so requeued messages
//! are never taken twice in one run.
//!
//! Not for: deciding why a message died (the runtime wrote that in `x-onboarding-reason`), or
//! the Graph writes themselves (`replay --dry-run` asks the service's own handler, in shadow
//! mode, via [`crate::dry_run`]).

mod broker;
mod letter;
pub mod list;
pub mod purge;
pub mod replay;
pub mod show;

use anyhow::Context as _;
use clap::Subcommand;
use shared::config::{Service, Settings};

pub use letter::{Shown, Summary, masked_body, summarize};
pub use list::{Listing, list};
pub use purge::{Purged, purge};
pub use replay::{Failure, ReplayReport, Selection, replay};
pub use show::show;

use crate::context::Context;
use crate::exit::Exit;

/// The `dead` verbs.
#[derive(Subcommand)]
pub enum Command {
    /// Every dead letter of the service with its reason, attempts and age; nothing is removed.
    List(list::Args),
    /// One dead letter with its headers and body (hardware hashes masked).
    Show(show::Args),
    /// Republish dead letters to the service's work queue (attempts start afresh). A message is
    /// removed from the dead-letter queue only once the broker confirmed its copy.
    Replay(replay::Args),
    /// Delete dead letters for good: every one of the service, or one by message id.
    Purge(purge::Args),
}

/// Runs the `dead` verb the command line names.
pub async fn run(command: Command, ctx: &Context) -> anyhow::Result<Exit> {
    match command {
        Command::List(args) => list::run(args, ctx).await,
        Command::Show(args) => show::run(args, ctx).await,
        Command::Replay(args) => replay::run(args, ctx).await,
        Command::Purge(args) => purge::run(args, ctx).await,
    }
}

/// The services that have a dead-letter queue, as `--service` spells them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ServiceArg {
    /// The new-hire service (hr.employee.hired).
    NewHire,
    /// The device-purchased service (procurement.device.purchased).
    DevicePurchased,
    /// The device-shipped service (procurement.device.shipped).
    DeviceShipped,
}

impl From<ServiceArg> for Service {
    fn from(s: ServiceArg) -> Service {
        match s {
            ServiceArg::NewHire => Service::NewHire,
            ServiceArg::DevicePurchased => Service::DevicePurchased,
            ServiceArg::DeviceShipped => Service::DeviceShipped,
        }
    }
}

/// `(<work queue>.dead, <work queue>)` of `service`.
pub fn dead_queue(settings: &Settings, service: Service) -> anyhow::Result<(String, String)> {
    let work = service
        .queue(&settings.amqp)
        .with_context(|| format!("{} has no work queue", service.name()))?
        .to_owned();
    Ok((format!("{work}.dead"), work))
}

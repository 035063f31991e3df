//! `onboardctl dead purge`: deletes dead letters for good, every one of a service or one by
//! message id, after asking (or with `--yes`).

use std::io::{BufRead as _, IsTerminal as _, Write as _};

use anyhow::Context as _;
use lapin::options::{BasicAckOptions, QueuePurgeOptions};
use serde::Serialize;
use shared::config::{Service, Settings};

use super::broker::{connect, depth, requeue, take_all};
use super::letter::message_id;
use super::{ServiceArg, dead_queue};
use crate::context::Context;
use crate::exit::Exit;

/// `onboardctl dead purge`'s flags.
#[derive(clap::Args)]
pub struct Args {
    /// Only this message id (also accepted as `--id`); the others stay.
    #[arg(value_name = "MESSAGE_ID")]
    id: Option<String>,
    #[arg(
        long = "id",
        value_name = "MESSAGE_ID",
        conflicts_with = "id",
        hide = true
    )]
    id_flag: Option<String>,
    /// The service whose dead-letter queue (`<queue>.dead`) to use.
    #[arg(long, value_enum)]
    service: ServiceArg,
    /// Do not ask; required when stdin is not a terminal.
    #[arg(long)]
    yes: bool,
}

/// What `purge` removed.
#[derive(Debug, Serialize)]
pub struct Purged {
    /// The dead-letter queue purged.
    pub queue: String,
    /// How many letters were deleted.
    pub purged: u32,
}

/// Purges and says how many went.
pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Exit> {
    let only = args.id.or(args.id_flag);
    let purged = purge(
        &ctx.settings,
        args.service.into(),
        only.as_deref(),
        args.yes,
    )
    .await?;
    ctx.output.print(&purged, || {
        format!(
            "purged {} dead letters from {}",
            purged.purged, purged.queue
        )
    });
    Ok(Exit::Done)
}

/// Deletes every dead letter of `service`, or only the one with message id `only` (the others
/// are requeued untouched). `confirmed` is `--yes`; without it an interactive terminal is
/// asked, and anything else is refused.
pub async fn purge(
    settings: &Settings,
    service: Service,
    only: Option<&str>,
    confirmed: bool,
) -> anyhow::Result<Purged> {
    let (queue, _) = dead_queue(settings, service)?;
    let publisher = connect(settings).await?;
    let count = depth(publisher.channel(), &queue).await?;
    let what = match only {
        Some(id) => format!("dead letter {id} from {queue}"),
        None => format!("{count} dead letters from {queue}"),
    };
    if !confirmed {
        confirm(&what)?;
    }
    let purged = match only {
        None => publisher
            .channel()
            .queue_purge(queue.as_str().into(), QueuePurgeOptions::default())
            .await
            .with_context(|| format!("purging {queue}"))?,
        Some(id) => purge_one(&publisher, &queue, id).await?,
    };
    publisher.close().await.ok();
    Ok(Purged { queue, purged })
}

/// Asks on the terminal; refuses when there is none to ask on.
fn confirm(what: &str) -> anyhow::Result<()> {
    anyhow::ensure!(
        std::io::stdin().is_terminal(),
        "purge deletes {what} for good: pass --yes (no terminal to ask for confirmation)"
    );
    eprint!("Delete {what} for good? Type 'yes': ");
    std::io::stderr().flush().ok();
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    anyhow::ensure!(answer.trim() == "yes", "not confirmed; nothing purged");
    Ok(())
}

/// Acks the letter `id` away and requeues the others.
async fn purge_one(
    publisher: &shared::amqp::Publisher,
    queue: &str,
    id: &str,
) -> anyhow::Result<u32> {
    let mut taken = take_all(publisher.channel(), queue).await?;
    let found = taken.iter().position(|d| message_id(d) == id);
    let purged = match found {
        Some(i) => {
            let doomed = taken.remove(i);
            doomed
                .ack(BasicAckOptions::default())
                .await
                .with_context(|| format!("deleting {id}"))?;
            1
        }
        None => 0,
    };
    requeue(publisher.channel(), queue, taken).await;
    anyhow::ensure!(
        purged == 1,
        "no dead letter with message id {id} in {queue}"
    );
    Ok(purged)
}

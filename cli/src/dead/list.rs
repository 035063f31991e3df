//! `onboardctl dead list`: every dead letter of a service with its reason, attempts and age;
//! nothing is removed.

use std::time::Duration;

use serde::Serialize;
use shared::config::{Service, Settings};

use super::broker::{connect, requeue, take_all};
use super::{ServiceArg, Summary, dead_queue, summarize};
use crate::context::Context;
use crate::exit::Exit;

/// `onboardctl dead list`'s flags.
#[derive(clap::Args)]
pub struct Args {
    /// The service whose dead-letter queue (`<queue>.dead`) to use.
    #[arg(long, value_enum)]
    service: ServiceArg,
}

/// What `dead list` found.
#[derive(Debug, Serialize)]
pub struct Listing {
    /// The dead-letter queue read.
    pub queue: String,
    /// How many letters it holds.
    pub count: usize,
    /// Each letter, oldest first.
    pub messages: Vec<Summary>,
}

/// Lists and prints the service's dead letters.
pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Exit> {
    let listing = list(&ctx.settings, args.service.into()).await?;
    ctx.output.print(&listing, || render(&listing));
    Ok(Exit::Done)
}

/// Every dead letter of `service`, oldest first, left in place.
pub async fn list(settings: &Settings, service: Service) -> anyhow::Result<Listing> {
    let (queue, _) = dead_queue(settings, service)?;
    let publisher = connect(settings).await?;
    let taken = take_all(publisher.channel(), &queue).await?;
    let messages: Vec<Summary> = taken.iter().map(summarize).collect();
    requeue(publisher.channel(), &queue, taken).await;
    publisher.close().await.ok();
    Ok(Listing {
        count: messages.len(),
        queue,
        messages,
    })
}

/// One line per letter: id, type, attempts, age, class and reason.
pub fn render(l: &Listing) -> String {
    let mut lines = vec![format!("{}: {} dead letters", l.queue, l.count)];
    for m in &l.messages {
        lines.push(format!(
            "  {}  {}  attempts {}  age {}  [{}] {}",
            m.id,
            m.event_type.as_deref().unwrap_or("?"),
            m.attempts.map_or("-".to_owned(), |a| a.to_string()),
            m.age_secs
                .map_or("-".to_owned(), |s| humantime::format_duration(
                    Duration::from_secs(s)
                )
                .to_string()),
            m.error_class.as_deref().unwrap_or("-"),
            m.reason.as_deref().unwrap_or("(no reason header)"),
        ));
    }
    lines.join("\n")
}

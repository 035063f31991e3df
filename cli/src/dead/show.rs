//! `onboardctl dead show`: one dead letter with its headers and body (hardware hashes masked),
//! left in place.

use anyhow::Context as _;
use shared::config::{Service, Settings};

use super::broker::{connect, requeue, take_all};
use super::letter::{self, header_map, message_id};
use super::{ServiceArg, Shown, dead_queue, masked_body, summarize};
use crate::context::Context;
use crate::exit::Exit;

/// `onboardctl dead show`'s flags.
#[derive(clap::Args)]
pub struct Args {
    /// The service whose dead-letter queue (`<queue>.dead`) to use.
    #[arg(long, value_enum)]
    service: ServiceArg,
    /// The message id (= the event id), as `dead list` shows it.
    #[arg(value_name = "MESSAGE_ID", required_unless_present = "id_flag")]
    id: Option<String>,
    /// The same, as a flag.
    #[arg(long = "id", value_name = "MESSAGE_ID", conflicts_with = "id")]
    id_flag: Option<String>,
}

/// Finds and prints the letter.
pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Exit> {
    let id = args
        .id
        .or(args.id_flag)
        .expect("clap requires a message id");
    let shown = show(&ctx.settings, args.service.into(), &id).await?;
    // Headers and body are JSON already; the table is that JSON, pretty.
    ctx.output.print(&shown, || {
        serde_json::to_string_pretty(&shown).expect("dead letter serialises")
    });
    Ok(Exit::Done)
}

/// The dead letter `id` of `service` in full (hardware hashes masked), left in place.
pub async fn show(settings: &Settings, service: Service, id: &str) -> anyhow::Result<Shown> {
    let (queue, _) = dead_queue(settings, service)?;
    let publisher = connect(settings).await?;
    let taken = take_all(publisher.channel(), &queue).await?;
    let found = taken.iter().find(|d| message_id(d) == id).map(|d| {
        let headers = d.properties.headers().clone().unwrap_or_default();
        Shown {
            summary: summarize(d),
            trace_id: letter::trace_id(&headers),
            headers: header_map(&headers),
            body: masked_body(&d.data),
        }
    });
    requeue(publisher.channel(), &queue, taken).await;
    publisher.close().await.ok();
    found.with_context(|| format!("no dead letter with message id {id} in {queue}"))
}

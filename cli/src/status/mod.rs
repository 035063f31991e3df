//! `onboardctl status --user UPN | --serial SERIAL | --from-csv FILE`: how far one hire or one
//! device is along the steps admins follow (seeds: user may join devices, groups; device
//! registered, profile assigned, Entra device, device group, assigned user), from Graph's
//! current state. Each step is `ready`, `pending` (the services or Intune will get there) or
//! `blocked` (an admin must act, and the step says how). For hires with a start date (HR CSV),
//! whether they will be ready in time. `user.rs` judges a hire, `device.rs` a device, `csv.rs`
//! every row of a file.
//!
//! Not for: changing anything (reads only, with the read-only `onboardctl` registration), or
//! the tenant-wide prerequisites (`preflight`).

mod csv;
mod device;
mod user;

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use graph::{GraphClient, NoopObserver};
use serde::Serialize;
use shared::config::Settings;
use shared::ids::{SerialNumber, Upn};
use time::Date;

use crate::context::Context;
use crate::exit::Exit;
use crate::intake;
use crate::readiness::{self, State, Step};

/// `onboardctl status`'s flags: exactly one subject.
#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("subject").required(true).args(["user", "serial", "from_csv"])))]
pub struct Args {
    /// A hire's UPN.
    #[arg(long)]
    user: Option<Upn>,
    /// A device's serial number.
    #[arg(long)]
    serial: Option<SerialNumber>,
    /// An HR CSV (start dates judged) or a hardware-hash CSV.
    #[arg(long, value_name = "FILE")]
    from_csv: Option<PathBuf>,
}

/// Reports the subject's steps; `NotReady` unless every step is ready.
pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Exit> {
    let query = match (args.user, args.serial, args.from_csv) {
        (Some(upn), _, _) => Query::User(upn),
        (_, Some(serial), _) => Query::Serial(serial),
        (_, _, Some(path)) => Query::Csv(path),
        _ => unreachable!("clap requires one of --user, --serial, --from-csv"),
    };
    let report = report(&ctx.settings, query, today()).await?;
    ctx.output.print(&report, || render(&report));
    Ok(Exit::unless(report.ready, Exit::NotReady))
}

/// The readiness of one hire or one device.
#[derive(Debug, Serialize)]
pub struct Subject {
    /// `user` or `device`.
    pub kind: &'static str,
    /// The UPN or the serial number.
    pub id: String,
    /// The worst state among the steps.
    pub state: State,
    /// Each step in the order an admin follows them.
    pub steps: Vec<Step>,
    /// The hire's first working day, from the HR CSV.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start_date: Option<String>,
    /// For hires with a start date: `ready`, `on track`, `late` or `will not be ready`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub in_time: Option<String>,
}

/// Everything `status` reported.
#[derive(Debug, Serialize)]
pub struct Report {
    /// Whether every subject is ready.
    pub ready: bool,
    /// Each hire or device asked about.
    pub subjects: Vec<Subject>,
    /// CSV rows that did not parse (by line), when reading a file.
    pub rejected: Vec<intake::RowError>,
}

/// What to look up: one user, one device, or every row of a CSV file.
#[derive(Debug, Clone)]
pub enum Query {
    /// `--user UPN`.
    User(Upn),
    /// `--serial SERIAL`.
    Serial(SerialNumber),
    /// `--from-csv FILE`: an HR or a hardware-hash CSV.
    Csv(PathBuf),
}

/// Reads Graph for `query`; start dates are judged against `today`.
pub async fn report(settings: &Settings, query: Query, today: Date) -> anyhow::Result<Report> {
    let graph = GraphClient::new(&settings.graph, Arc::new(NoopObserver))
        .context("building the Graph client ([graph])")?;
    let (subjects, rejected) = match query {
        Query::User(upn) => {
            let hire = user::user(&graph, settings, &upn, None, None, today).await;
            (vec![hire], Vec::new())
        }
        Query::Serial(serial) => {
            let device = device::device(&graph, settings, &serial, None).await;
            (vec![device], Vec::new())
        }
        Query::Csv(path) => csv::subjects(&graph, settings, &path, today).await?,
    };
    Ok(Report {
        ready: subjects.iter().all(|s| s.state == State::Ready),
        subjects,
        rejected,
    })
}

/// Blocked if any step is, else pending if any step is, else ready.
fn worst(steps: &[Step]) -> State {
    if steps.iter().any(|s| s.state == State::Blocked) {
        State::Blocked
    } else if steps.iter().any(|s| s.state == State::Pending) {
        State::Pending
    } else {
        State::Ready
    }
}

/// Each subject with its steps, then the rejected rows, as a person reads them.
pub fn render(r: &Report) -> String {
    let mut out = Vec::new();
    for s in &r.subjects {
        let state = format!("{:?}", s.state).to_lowercase();
        let mut title = format!("{} {}: {state}", s.kind, s.id);
        if let Some(t) = &s.in_time {
            title.push_str(&format!(
                " (start {}: {t})",
                s.start_date.as_deref().unwrap_or("?")
            ));
        }
        out.push(readiness::render(&title, &s.steps));
    }
    out.extend(r.rejected.iter().map(|e| format!("rejected {e}")));
    out.join("\n")
}

/// Today in UTC, the date start dates are compared with.
pub fn today() -> Date {
    time::OffsetDateTime::now_utc().date()
}

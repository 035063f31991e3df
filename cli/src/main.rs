//! `onboardctl`: the operator's tool. `main` parses arguments, runs the verb, and turns the
//! result into an exit code scripts can rely on:
//!
//! | code | meaning |
//! |---|---|
//! | 0 | done; everything asked for was done |
//! | 1 | failed (the error is printed with its causes on stderr) |
//! | 2 | the command line was wrong (clap's usage error) |
//! | 3 | done in part: some CSV rows were rejected (each reported by line); the rest were published; or `dead replay` republished some selected messages and failed on others (those stay in the dead-letter queue) |
//! | 4 | `preflight`: something in the tenant must be fixed (each BLOCKED step says what); `status`: a user or device is not ready yet (pending) or blocked |
#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use onboardctl::dead::{self, ServiceArg};
use onboardctl::output::Output;
use onboardctl::{demo, intake, preflight, publish, status, trace};
use shared::config::{Service, Settings};
use shared::events::{DevicePurchased, DeviceShipped, EmployeeHired};
use shared::ids::{EmployeeId, GroupTag, HardwareHash, OrderId, SerialNumber, Upn};

/// Exit code for "done in part".
const PARTIAL: u8 = 3;
/// Exit code for "not ready: fix what the report says".
const NOT_READY: u8 = 4;

/// Feed, inspect and repair the onboarding automation.
#[derive(Parser)]
#[command(
    version,
    after_help = "Exit codes: 0 done, 1 failed, 2 usage error, 3 done in part (rows rejected, \
                  some replays failed), 4 not ready (preflight/status found something to fix or not yet done)."
)]
struct Cli {
    /// TOML settings file (the services' format); ONBOARDING__SECTION__KEY variables override it.
    #[arg(long, global = true, env = "ONBOARDING_CONFIG")]
    config: Option<PathBuf>,
    /// How results are printed.
    #[arg(long, global = true, value_enum, default_value = "table")]
    output: Output,
    #[command(subcommand)]
    command: Command,
}

// Parsed once per run; boxing the larger variant would only obscure the clap derive.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Run the whole product on this machine: the Graph emulator, every service, the sample
    /// files in examples/ published, and the tenant's final state printed.
    Demo {
        /// Folder with hires.csv and autopilot-hashes.csv.
        #[arg(long, default_value = "examples")]
        examples: PathBuf,
        /// Emulated time runs this many times faster than real time.
        #[arg(long, default_value_t = 60.0)]
        speed: f64,
    },
    /// Publish events: one from flags, or every valid row of a CSV file.
    #[command(args_conflicts_with_subcommands = true)]
    Publish {
        /// A hardware-hash CSV (Get-WindowsAutopilotInfo, any encoding) or an HR CSV.
        #[arg(long, value_name = "FILE")]
        from_csv: Option<PathBuf>,
        /// What the CSV is; `auto` decides from its header.
        #[arg(long, value_enum, default_value = "auto", requires = "from_csv")]
        kind: publish::CsvKind,
        /// Order id of a hardware-hash CSV's purchases (default: csv-<file name>).
        #[arg(long, requires = "from_csv")]
        order_id: Option<OrderId>,
        #[command(subcommand)]
        one: Option<PublishOne>,
    },
    /// Check the tenant is ready for the flow (automatic enrollment, join setting, quota, groups,
    /// deployment profile, ESP, permissions) and say what to fix. Reads only.
    Preflight {
        /// Judge the [graph] credential's permissions against these apps' needs (repeatable;
        /// default: onboardctl's own read-only set). Run it with a service's config and
        /// `--permissions-for new-hire` to check that service's registration.
        #[arg(long, value_enum, default_values_t = [preflight::AppRole::Onboardctl])]
        permissions_for: Vec<preflight::AppRole>,
        /// Also read what no application may read (MDM user scope, for automatic enrollment)
        /// with a person's sign-in: `azure-cli` = the account signed in to `az` (delegated
        /// Policy.Read.All and a reader role such as Global Reader). Used for that read only.
        #[arg(long, value_enum, value_name = "SIGN_IN")]
        delegated: Option<preflight::DelegatedSignIn>,
    },
    /// How far one hire or device (or every row of an HR / hardware-hash CSV) is along the
    /// onboarding steps, from Graph's current state: ready, pending or blocked, step by step.
    #[command(group(clap::ArgGroup::new("subject").required(true).args(["user", "serial", "from_csv"])))]
    Status {
        /// A hire's UPN.
        #[arg(long)]
        user: Option<Upn>,
        /// A device's serial number.
        #[arg(long)]
        serial: Option<SerialNumber>,
        /// An HR CSV (start dates judged) or a hardware-hash CSV.
        #[arg(long, value_name = "FILE")]
        from_csv: Option<PathBuf>,
    },
    /// Inspect and repair a service's dead-letter queue.
    Dead {
        #[command(subcommand)]
        command: DeadCommand,
    },
    /// Keep and read traces on a machine without Jaeger (`scripts/stack` runs the collector).
    Trace {
        #[command(subcommand)]
        command: TraceCommand,
    },
}

#[derive(Subcommand)]
enum TraceCommand {
    /// Receive OTLP/gRPC traces (point telemetry.otlp_endpoint here) and append every span to
    /// the store, until interrupted.
    Collect {
        #[arg(long, default_value = "127.0.0.1:4317")]
        listen: std::net::SocketAddr,
        /// The JSON-lines file spans are appended to.
        #[arg(long, env = trace::STORE_ENV)]
        store: PathBuf,
    },
    /// Print the traces that match, each as a tree: publish, consume, every step and Graph call,
    /// with retries and dead letters under the span they happened in.
    #[command(group(clap::ArgGroup::new("which").required(true).args(["trace_id", "serial", "message_id", "subject"])))]
    Show {
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
        #[arg(long, env = trace::STORE_ENV)]
        store: PathBuf,
    },
}

#[derive(Subcommand)]
enum DeadCommand {
    /// Every dead letter of the service with its reason, attempts and age; nothing is removed.
    List {
        /// The service whose dead-letter queue (`<queue>.dead`) to use.
        #[arg(long, value_enum)]
        service: ServiceArg,
    },
    /// One dead letter with its headers and body (hardware hashes masked).
    Show {
        /// The service whose dead-letter queue (`<queue>.dead`) to use.
        #[arg(long, value_enum)]
        service: ServiceArg,
        /// The message id (= the event id), as `dead list` shows it.
        #[arg(value_name = "MESSAGE_ID", required_unless_present = "id_flag")]
        id: Option<String>,
        /// The same, as a flag.
        #[arg(long = "id", value_name = "MESSAGE_ID", conflicts_with = "id")]
        id_flag: Option<String>,
    },
    /// Republish dead letters to the service's work queue (attempts start afresh). A message is
    /// removed from the dead-letter queue only once the broker confirmed its copy.
    Replay {
        /// The service whose dead-letter queue (`<queue>.dead`) to use.
        #[arg(long, value_enum)]
        service: ServiceArg,
        /// Only this message id (also accepted as `--id`).
        #[arg(value_name = "MESSAGE_ID")]
        id: Option<String>,
        #[arg(
            long = "id",
            value_name = "MESSAGE_ID",
            conflicts_with = "id",
            hide = true
        )]
        id_flag: Option<String>,
        /// Only messages whose reason contains this text (case-insensitive).
        #[arg(long)]
        reason_contains: Option<String>,
        /// Only messages first seen longer ago than this (e.g. 30m, 2h).
        #[arg(long, value_parser = humantime::parse_duration)]
        older_than: Option<std::time::Duration>,
        /// Only messages of this CloudEvents type.
        #[arg(long = "type")]
        event_type: Option<String>,
        /// Every dead letter of the service.
        #[arg(long, conflicts_with_all = ["id", "id_flag"])]
        all: bool,
        /// Republish nothing: print the Graph writes a replay would make (the handler runs in
        /// shadow mode: reads only).
        #[arg(long)]
        dry_run: bool,
    },
    /// Delete dead letters for good: every one of the service, or one by message id.
    Purge {
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
    },
}

#[derive(Subcommand)]
enum PublishOne {
    /// hr.employee.hired
    Hire {
        #[arg(long)]
        employee_id: EmployeeId,
        #[arg(long)]
        upn: Upn,
        #[arg(long)]
        display_name: Option<String>,
        #[arg(long)]
        department: Option<String>,
        /// First working day, YYYY-MM-DD.
        #[arg(long, value_parser = parse_date)]
        start_date: Option<time::Date>,
    },
    /// procurement.device.purchased
    Purchase {
        #[arg(long)]
        order_id: OrderId,
        #[arg(long)]
        serial: SerialNumber,
        /// Base64 hardware hash; never printed.
        #[arg(long)]
        hardware_hash: Option<HardwareHash>,
        #[arg(long)]
        group_tag: Option<GroupTag>,
        #[arg(long)]
        manufacturer: Option<String>,
        #[arg(long)]
        model: Option<String>,
        #[arg(long)]
        product_key: Option<String>,
        #[arg(long)]
        intended_user: Option<Upn>,
    },
    /// procurement.device.shipped
    Shipment {
        #[arg(long)]
        serial: SerialNumber,
        #[arg(long)]
        upn: Upn,
        #[arg(long)]
        order_id: Option<OrderId>,
        #[arg(long)]
        carrier: Option<String>,
        #[arg(long)]
        tracking_number: Option<String>,
    },
}

fn parse_date(raw: &str) -> Result<time::Date, String> {
    time::Date::parse(
        raw,
        time::macros::format_description!("[year]-[month]-[day]"),
    )
    .map_err(|_| format!("expected YYYY-MM-DD, got {raw:?}"))
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli).await {
        Ok(code) => code,
        Err(err) => {
            eprintln!("onboardctl: {err:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    if let Command::Demo { examples, speed } = cli.command {
        // The services' logs, on stderr: warnings only unless DEMO_LOG says otherwise.
        let logs = shared::config::TelemetrySettings {
            log_filter: std::env::var("DEMO_LOG").unwrap_or_else(|_| "warn".to_owned()),
            log_format: shared::config::LogFormat::Pretty,
            otlp_endpoint: String::new(),
        };
        let _telemetry = shared::telemetry::init("onboardctl-demo", &logs, std::io::stderr)?;
        let opts = demo::DemoOptions {
            examples,
            speed,
            ..demo::DemoOptions::default()
        };
        let summary = demo::run(opts, cli.output).await?;
        cli.output.print(&summary, || demo::render(&summary));
        return Ok(if summary.without_outcome == 0 {
            ExitCode::SUCCESS
        } else {
            ExitCode::from(PARTIAL)
        });
    }
    if let Command::Trace { command } = cli.command {
        // Needs no settings, and exports nothing: it is where spans are sent.
        return run_trace(command, cli.output).await;
    }
    let settings = load_settings(cli.config.as_deref())?;
    // Held to the end of `run`: dropping it flushes the spans still batched for export.
    let _telemetry = cli_telemetry(&settings)?;
    match cli.command {
        Command::Demo { .. } | Command::Trace { .. } => unreachable!("handled above"),
        Command::Publish {
            from_csv: Some(path),
            kind,
            order_id,
            ..
        } => {
            let report = publish::publish_csv(&settings, &path, kind, order_id, cli.output).await?;
            cli.output.print(&report, || publish_summary(&report));
            Ok(if report.rejected.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(PARTIAL)
            })
        }
        Command::Publish { one: Some(one), .. } => {
            publish_single(&settings, one, cli.output).await?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Publish { .. } => {
            anyhow::bail!("publish needs --from-csv FILE or one of: hire, purchase, shipment")
        }
        Command::Dead { command } => run_dead(&settings, command, cli.output).await,
        Command::Status {
            user,
            serial,
            from_csv,
        } => {
            let query = match (user, serial, from_csv) {
                (Some(upn), _, _) => status::Query::User(upn),
                (_, Some(serial), _) => status::Query::Serial(serial),
                (_, _, Some(path)) => status::Query::Csv(path),
                _ => unreachable!("clap requires one of --user, --serial, --from-csv"),
            };
            let report = status::run(&settings, query, status::today()).await?;
            cli.output.print(&report, || status::render(&report));
            Ok(if report.ready {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(NOT_READY)
            })
        }
        Command::Preflight {
            permissions_for,
            delegated,
        } => {
            let report = preflight::run(&settings, &permissions_for, delegated).await?;
            cli.output.print(&report, || preflight::render(&report));
            Ok(if report.ready {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(NOT_READY)
            })
        }
    }
}

async fn run_trace(command: TraceCommand, out: Output) -> anyhow::Result<ExitCode> {
    match command {
        TraceCommand::Collect { listen, store } => {
            // SIGTERM (`scripts/stack down`, a container runtime) or Ctrl-C.
            let stop = runner::shutdown_on_signal();
            trace::collect(listen, &store, stop.cancelled_owned()).await?;
            Ok(ExitCode::SUCCESS)
        }
        TraceCommand::Show {
            trace_id,
            serial,
            message_id,
            subject,
            store,
        } => {
            let query = match (trace_id, serial, message_id, subject) {
                (Some(id), ..) => trace::Query::TraceId(id),
                (_, Some(serial), ..) => trace::Query::Serial(serial),
                (_, _, Some(id), _) => trace::Query::MessageId(id),
                (.., Some(subject)) => trace::Query::Subject(subject),
                _ => unreachable!("clap requires one of them"),
            };
            let traces = trace::select(trace::read_store(&store)?, &query);
            if traces.is_empty() {
                anyhow::bail!(
                    "no trace matches {query:?} in {} (spans arrive a few seconds after they end)",
                    store.display()
                );
            }
            let shown = trace::Shown { store, traces };
            out.print(&shown, || trace::render(&shown));
            Ok(ExitCode::SUCCESS)
        }
    }
}

async fn run_dead(
    settings: &Settings,
    command: DeadCommand,
    out: Output,
) -> anyhow::Result<ExitCode> {
    match command {
        DeadCommand::List { service } => {
            let listing = dead::list(settings, service.into()).await?;
            out.print(&listing, || dead::render_list(&listing));
        }
        DeadCommand::Show {
            service,
            id,
            id_flag,
        } => {
            let id = id.or(id_flag).expect("clap requires a message id");
            let shown = dead::show(settings, service.into(), &id).await?;
            out.print(&shown, || dead::render_show(&shown));
        }
        DeadCommand::Replay {
            service,
            id,
            id_flag,
            reason_contains,
            older_than,
            event_type,
            all,
            dry_run,
        } => {
            let selection = dead::Selection {
                id: id.or(id_flag),
                reason_contains,
                older_than,
                event_type,
                all,
            };
            let report = dead::replay(settings, service.into(), &selection, dry_run).await?;
            out.print(&report, || dead::render_replay(&report));
            return Ok(
                match (report.failed.is_empty(), report.replayed.is_empty()) {
                    (true, _) => ExitCode::SUCCESS,
                    (false, false) => ExitCode::from(PARTIAL),
                    (false, true) => ExitCode::FAILURE,
                },
            );
        }
        DeadCommand::Purge {
            service,
            id,
            id_flag,
            yes,
        } => {
            let only = id.or(id_flag);
            let purged = dead::purge(settings, service.into(), only.as_deref(), yes).await?;
            out.print(&purged, || {
                format!(
                    "purged {} dead letters from {}",
                    purged.purged, purged.queue
                )
            });
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Logs on stderr (warnings only, lapin's none, unless `ONBOARDCTL_LOG` says otherwise; stdout
/// is the report)
/// and, when `telemetry.otlp_endpoint` is set, the `publish` and `replay` spans exported: they
/// are the roots of the events' traces.
fn cli_telemetry(settings: &Settings) -> anyhow::Result<shared::telemetry::TelemetryGuard> {
    let cfg = shared::config::TelemetrySettings {
        // lapin logs a refused publish or a closed channel as an ERROR of its own; the verb
        // reports the same failure once, with its context, so lapin stays quiet by default.
        log_filter: std::env::var("ONBOARDCTL_LOG").unwrap_or_else(|_| "warn,lapin=off".to_owned()),
        log_format: shared::config::LogFormat::Pretty,
        otlp_endpoint: settings.telemetry.otlp_endpoint.clone(),
    };
    Ok(shared::telemetry::init(
        "onboardctl",
        &cfg,
        std::io::stderr,
    )?)
}

fn load_settings(file: Option<&std::path::Path>) -> anyhow::Result<Settings> {
    let settings = shared::config::load(file, std::env::vars().collect())?;
    settings.validate(Service::Cli)?;
    Ok(settings)
}

async fn publish_single(settings: &Settings, one: PublishOne, out: Output) -> anyhow::Result<()> {
    use intake::events::derived;
    match one {
        PublishOne::Hire {
            employee_id,
            upn,
            display_name,
            department,
            start_date,
        } => {
            let data = EmployeeHired {
                employee_id,
                user_principal_name: upn,
                display_name,
                department,
                start_date,
            };
            publish::publish_one(settings, derived(data), out).await
        }
        PublishOne::Purchase {
            order_id,
            serial,
            hardware_hash,
            group_tag,
            manufacturer,
            model,
            product_key,
            intended_user,
        } => {
            let data = DevicePurchased {
                order_id,
                serial_number: serial,
                hardware_hash,
                product_key,
                manufacturer,
                model,
                group_tag,
                intended_user_principal_name: intended_user,
            };
            publish::publish_one(settings, derived(data), out).await
        }
        PublishOne::Shipment {
            serial,
            upn,
            order_id,
            carrier,
            tracking_number,
        } => {
            let data = DeviceShipped {
                order_id,
                serial_number: serial,
                user_principal_name: upn,
                carrier,
                tracking_number,
                shipped_at: Some(time::OffsetDateTime::now_utc()),
            };
            publish::publish_one(settings, derived(data), out).await
        }
    }
}

fn publish_summary(report: &publish::Report) -> String {
    let mut lines = vec![format!(
        "{}: {} rows ({} file, {}): {} events published, {} rows rejected",
        report.file,
        report.rows,
        report.kind,
        report.encoding,
        report.published,
        report.rejected.len()
    )];
    lines.extend(report.rejected.iter().map(|r| format!("  rejected {r}")));
    if !report.ignored_columns.is_empty() {
        lines.push(format!(
            "  ignored columns: {}",
            report.ignored_columns.join(", ")
        ));
    }
    lines.join("\n")
}

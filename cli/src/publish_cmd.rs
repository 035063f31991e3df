//! `onboardctl publish`'s command line: the flags, the event built from them, the report and
//! the exit code (3 when CSV rows were rejected). Publishing itself, with confirms, is
//! [`crate::publish`].
//!
//! Not for: reading CSV files (`intake`) or talking to the broker (`publish`).

use std::path::PathBuf;

use clap::Subcommand;
use shared::events::{DevicePurchased, DeviceShipped, EmployeeHired};
use shared::ids::{EmployeeId, GroupTag, HardwareHash, OrderId, SerialNumber, Upn};

use crate::context::Context;
use crate::exit::Exit;
use crate::intake::events::derived;
use crate::publish;

/// `onboardctl publish`'s flags: a CSV file, or one event as a subcommand.
#[derive(clap::Args)]
pub struct Args {
    /// A hardware-hash CSV (Get-WindowsAutopilotInfo, any encoding) or an HR CSV.
    #[arg(long, value_name = "FILE")]
    from_csv: Option<PathBuf>,
    /// What the CSV is; `auto` decides from its header.
    #[arg(long, value_enum, default_value = "auto", requires = "from_csv")]
    kind: publish::CsvKind,
    /// Order id of a hardware-hash CSV's purchases (default: `csv-<file name>`).
    #[arg(long, requires = "from_csv")]
    order_id: Option<OrderId>,
    #[command(subcommand)]
    one: Option<One>,
}

/// One event from flags.
#[derive(Subcommand)]
enum One {
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

/// Publishes what the flags say; `Partial` when CSV rows were rejected.
pub async fn run(args: Args, ctx: &Context) -> anyhow::Result<Exit> {
    match args {
        Args {
            from_csv: Some(path),
            kind,
            order_id,
            ..
        } => {
            let report =
                publish::publish_csv(&ctx.settings, &path, kind, order_id, ctx.output).await?;
            ctx.output.print(&report, || summary(&report));
            Ok(Exit::unless(report.rejected.is_empty(), Exit::Partial))
        }
        Args { one: Some(one), .. } => {
            publish_one(ctx, one).await?;
            Ok(Exit::Done)
        }
        Args { .. } => {
            anyhow::bail!("publish needs --from-csv FILE or one of: hire, purchase, shipment")
        }
    }
}

async fn publish_one(ctx: &Context, one: One) -> anyhow::Result<()> {
    let (settings, out) = (&ctx.settings, ctx.output);
    match one {
        One::Hire {
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
        One::Purchase {
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
        One::Shipment {
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

/// A bulk publish as a person reads it: the counts, then each rejected row.
fn summary(report: &publish::Report) -> String {
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

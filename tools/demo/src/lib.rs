//! `onboard-demo` (what `scripts/demo` runs): the whole product on one machine, on embedded
//! defaults. It starts the Graph emulator (the built-in demo tenant, emulated time sped up) and
//! every service in-process against the local RabbitMQ, publishes the sample files in
//! `examples/` exactly as `onboardctl publish --from-csv` would, waits until every event has an
//! outcome (or a dead letter), and prints what is now true in the tenant.
//!
//! Its own crate because it links the emulator, a token issuer: the production `onboardctl`
//! must not carry one (`cargo tree -p onboardctl -e normal` shows no `graph-emulator`).
//!
//! Not for: production (the services run as their own binaries there) or tests' assertions
//! (the e2e tests drive the same pieces with their own isolation).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use futures::StreamExt as _;
use graph_emulator::demo::{self as tenant, DemoApp};
use graph_emulator::{EmulatorConfig, Fixture, RunningEmulator};
use lapin::options::{BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use lapin::types::FieldTable;
use serde::Serialize;
use shared::amqp::Publisher;
use shared::config::{Service, Settings};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use onboardctl::output::Output;
use onboardctl::publish::{self, CsvKind};

/// What the demo is started with; the defaults are what `scripts/demo` runs.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// Folder with `hires.csv` and `autopilot-hashes.csv`.
    pub examples: PathBuf,
    /// Emulated time runs this many times faster (imports take ~60 s in a real tenant).
    pub speed: f64,
    /// Prefix for the exchange and queues; empty = the embedded defaults (`onboarding`, ...).
    pub prefix: String,
    /// Give up waiting for outcomes after this long.
    pub timeout: Duration,
}

impl Default for DemoOptions {
    fn default() -> Self {
        DemoOptions {
            examples: PathBuf::from("examples"),
            speed: 60.0,
            prefix: String::new(),
            timeout: Duration::from_secs(120),
        }
    }
}

/// The tenant after the demo: one line per hire and per device.
#[derive(Debug, Serialize)]
pub struct Summary {
    /// Events the sample files made and the broker confirmed.
    pub published: usize,
    /// Outcome events that answer the demo's own events, by routing key.
    pub outcomes: BTreeMap<String, usize>,
    /// Events still without an outcome at the end (dead-lettered, or still retrying).
    pub without_outcome: usize,
    /// The HR file's hires as the tenant has them now.
    pub hires: Vec<HireState>,
    /// Every Autopilot device of the tenant.
    pub devices: Vec<DeviceState>,
}

/// One Autopilot device of the tenant after the demo.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DeviceState {
    /// The serial number it was imported with.
    pub serial_number: String,
    /// Its Autopilot (windowsAutopilotDeviceIdentity) id.
    pub autopilot_device_id: String,
    /// The group tag (order id) it carries; empty if none.
    pub group_tag: String,
    /// The UPN it is assigned to; empty if none.
    pub assigned_user: String,
    /// The Entra device object's id, once Autopilot created one.
    pub entra_device_id: Option<String>,
    /// Whether that Entra device is in the device group.
    pub in_device_group: bool,
}

/// One hire of the HR file after the demo.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HireState {
    /// The hire's UPN.
    pub user_principal_name: String,
    /// Whether they are in the join group (the demo tenant's policy is Selected).
    pub may_join_devices: bool,
    /// Display names of the groups they are a direct member of.
    pub groups: Vec<String>,
}

/// Runs the demo and returns the summary (the caller prints it).
pub async fn run(opts: DemoOptions, out: Output) -> anyhow::Result<Summary> {
    let emulator = RunningEmulator::start(EmulatorConfig {
        speed: opts.speed,
        ..EmulatorConfig::default()
    })
    .await
    .context("starting the Graph emulator")?;
    let ca_file = std::env::temp_dir().join(format!("onboarding-demo-{}.pem", std::process::id()));
    std::fs::write(&ca_file, emulator.ca_pem()).context("writing the emulator's CA")?;
    let env = DemoEnv {
        emulator: &emulator,
        ca_file: &ca_file,
        prefix: &opts.prefix,
    };
    let stop = CancellationToken::new();
    let base = env.settings(tenant::ONBOARDCTL)?;
    let outcomes = OutcomeCounter::bind(&base).await?;
    let mut services = Vec::new();
    for (service, app) in [
        (Service::NewHire, tenant::NEW_HIRE),
        (Service::DevicePurchased, tenant::DEVICE_PURCHASED),
        (Service::DeviceShipped, tenant::DEVICE_SHIPPED),
    ] {
        services.push(spawn(service, env.settings(app)?, stop.clone()).await?);
    }
    progress(
        out,
        "Graph emulator and services started; publishing the sample files.",
    );

    let examples = [
        ("hires.csv", CsvKind::Hr),
        ("autopilot-hashes.csv", CsvKind::Autopilot),
    ];
    let mut ids = Vec::new();
    // The HR file's employee ids: the summary shows those users, not every user of the tenant
    // that has an employee id.
    let mut hired = BTreeSet::new();
    for (file, kind) in examples {
        let report =
            publish::publish_csv(&base, &opts.examples.join(file), kind, None, out).await?;
        for event in report.events {
            if kind == CsvKind::Hr {
                hired.extend(event.subject);
            }
            ids.push(event.id);
        }
    }
    let published = ids.len();
    progress(
        out,
        &format!("published {published} events; waiting for every outcome."),
    );
    let counts = outcomes.wait_for(ids, opts.timeout).await;
    stop.cancel();
    for service in services {
        service.await.context("service task")?.context("service")?;
    }
    let summary = summarise(&emulator.state().snapshot(), &hired, published, counts);
    let _ = std::fs::remove_file(&ca_file);
    emulator.shutdown().await;
    Ok(summary)
}

/// Human progress lines on stderr (never in JSON output).
fn progress(out: Output, line: &str) {
    if out == Output::Table {
        eprintln!("demo: {line}");
    }
}

struct DemoEnv<'a> {
    emulator: &'a RunningEmulator,
    ca_file: &'a Path,
    prefix: &'a str,
}

impl DemoEnv<'_> {
    /// Embedded defaults, pointed at the emulator as `app`; names prefixed when asked.
    fn settings(&self, app: DemoApp) -> anyhow::Result<Settings> {
        let mut env: HashMap<String, String> = [
            ("GRAPH__BASE_URL", self.emulator.base_url()),
            ("GRAPH__AUTHORITY_HOST", self.emulator.authority_host()),
            ("GRAPH__TENANT_ID", tenant::TENANT_ID.to_owned()),
            ("GRAPH__CLIENT_ID", app.client_id.to_owned()),
            ("GRAPH__CLIENT_SECRET", app.client_secret.to_owned()),
            ("GRAPH__CA_FILE", self.ca_file.display().to_string()),
            ("HTTP__LISTEN", "127.0.0.1:0".to_owned()),
            ("AMQP__DELAY_TIERS", "1s,5s".to_owned()),
            ("NEW_HIRE__JOIN_GROUP_ID", tenant::GROUP_JOIN.to_owned()),
            (
                "NEW_HIRE__DEPARTMENT_GROUPS__ENGINEERING",
                tenant::GROUP_ENGINEERING.to_owned(),
            ),
            (
                "NEW_HIRE__DEPARTMENT_GROUPS__SALES",
                tenant::GROUP_SALES.to_owned(),
            ),
            (
                "DEVICE_PURCHASED__DEVICE_GROUP_ID",
                tenant::GROUP_AUTOPILOT_DEVICES.to_owned(),
            ),
            (
                "TELEMETRY__LOG_FILTER",
                std::env::var("DEMO_LOG").unwrap_or_else(|_| "warn".to_owned()),
            ),
            ("TELEMETRY__LOG_FORMAT", "pretty".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (format!("ONBOARDING__{k}"), v))
        .collect();
        if !self.prefix.is_empty() {
            let p = self.prefix;
            env.insert("ONBOARDING__AMQP__EXCHANGE".into(), p.to_owned());
            for (key, name) in [
                ("NEW_HIRE", "new-hire"),
                ("DEVICE_PURCHASED", "device-purchased"),
                ("DEVICE_SHIPPED", "device-shipped"),
            ] {
                env.insert(
                    format!("ONBOARDING__AMQP__QUEUES__{key}"),
                    format!("{p}.{name}"),
                );
            }
        }
        Ok(shared::config::load(None, env)?)
    }
}

type ServiceTask = JoinHandle<Result<(), runner::ServiceError>>;

/// Starts one service in-process and waits until its topology is declared.
async fn spawn(
    service: Service,
    settings: Settings,
    stop: CancellationToken,
) -> anyhow::Result<ServiceTask> {
    settings.validate(service)?;
    let http = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = http.local_addr()?;
    let task = match service {
        Service::NewHire => tokio::spawn(new_hire::run(settings, http, stop)),
        Service::DevicePurchased => tokio::spawn(device_purchased::run(settings, http, stop)),
        Service::DeviceShipped => tokio::spawn(device_shipped::run(settings, http, stop)),
        Service::Cli => anyhow::bail!("onboardctl is not a service"),
    };
    wait_ready(addr)
        .await
        .with_context(|| format!("{} did not become ready", service.name()))?;
    Ok(task)
}

async fn wait_ready(addr: std::net::SocketAddr) -> anyhow::Result<()> {
    let url = format!("http://{addr}/readyz");
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while tokio::time::Instant::now() < deadline {
        if reqwest::get(&url)
            .await
            .is_ok_and(|r| r.status().is_success())
        {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(100)).await; // poll interval
    }
    anyhow::bail!("/readyz never answered 200 within 30 s")
}

/// Counts the outcome events that answer the demo's own events, as they arrive on an exclusive
/// queue. An outcome is matched by its `correlation_id` (the id of the event it answers), so
/// one for a message an earlier run left in the queues is not mistaken for the demo's.
struct OutcomeCounter {
    rx: tokio::sync::mpsc::UnboundedReceiver<(String, Option<String>)>,
    _publisher: Publisher,
}

impl OutcomeCounter {
    async fn bind(settings: &Settings) -> anyhow::Result<Self> {
        let publisher = Publisher::connect(&settings.amqp, "onboardctl-demo").await?;
        let channel = publisher.channel().clone();
        shared::amqp::topology::declare_exchange(&channel, &settings.amqp.exchange).await?;
        let opts = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        let queue = channel
            .queue_declare("".into(), opts, FieldTable::default())
            .await?;
        let name = queue.name().clone();
        channel
            .queue_bind(
                name.clone(),
                settings.amqp.exchange.as_str().into(),
                "onboarding.#".into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let mut consumer = channel
            .basic_consume(
                name,
                "".into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await?;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        tokio::spawn(async move {
            while let Some(Ok(delivery)) = consumer.next().await {
                let _ = delivery.ack(BasicAckOptions::default()).await;
                let answers = delivery
                    .properties
                    .correlation_id()
                    .as_ref()
                    .map(|id| id.to_string());
                if tx
                    .send((delivery.routing_key.to_string(), answers))
                    .is_err()
                {
                    break;
                }
            }
        });
        Ok(OutcomeCounter {
            rx,
            _publisher: publisher,
        })
    }

    /// Waits until each of `ids` has an outcome or `timeout` passed; returns counts by type.
    /// A repeated outcome (a redelivered event) counts once.
    async fn wait_for(mut self, ids: Vec<String>, timeout: Duration) -> BTreeMap<String, usize> {
        let mut waiting: HashSet<String> = ids.into_iter().collect();
        let mut counts = BTreeMap::new();
        let deadline = tokio::time::sleep(timeout);
        tokio::pin!(deadline);
        while !waiting.is_empty() {
            tokio::select! {
                Some((key, answers)) = self.rx.recv() => {
                    if answers.is_some_and(|id| waiting.remove(&id)) {
                        *counts.entry(key).or_insert(0) += 1;
                    }
                }
                _ = &mut deadline => break,
            }
        }
        counts
    }
}

fn summarise(
    tenant: &Fixture,
    hired: &BTreeSet<String>,
    published: usize,
    outcomes: BTreeMap<String, usize>,
) -> Summary {
    let group_name = |id: &str| {
        tenant
            .groups
            .iter()
            .find(|g| g.id == id)
            .map_or(id.to_owned(), |g| g.display_name.clone())
    };
    let hires = tenant
        .users
        .iter()
        .filter(|u| u.employee_id.as_ref().is_some_and(|id| hired.contains(id)))
        .map(|user| {
            let groups: Vec<String> = tenant
                .groups
                .iter()
                .filter(|g| g.members.contains(&user.id))
                .map(|g| group_name(&g.id))
                .collect();
            let may_join = tenant
                .groups
                .iter()
                .any(|g| g.id == tenant::GROUP_JOIN && g.members.contains(&user.id));
            HireState {
                user_principal_name: user.user_principal_name.clone(),
                may_join_devices: may_join,
                groups,
            }
        })
        .collect();
    let delivered: usize = outcomes.values().sum();
    Summary {
        published,
        without_outcome: published.saturating_sub(delivered),
        outcomes,
        hires,
        devices: devices(tenant),
    }
}

fn devices(tenant: &Fixture) -> Vec<DeviceState> {
    let device_group = tenant
        .groups
        .iter()
        .find(|g| g.id == tenant::GROUP_AUTOPILOT_DEVICES);
    tenant
        .autopilot_devices
        .iter()
        .map(|d| {
            let entra = d
                .azure_active_directory_device_id
                .as_ref()
                .and_then(|id| tenant.entra_devices.iter().find(|e| &e.device_id == id));
            DeviceState {
                serial_number: d.serial_number.clone(),
                autopilot_device_id: d.id.clone(),
                group_tag: d.group_tag.clone(),
                assigned_user: d.user_principal_name.clone(),
                entra_device_id: entra.map(|e| e.id.clone()),
                in_device_group: entra
                    .is_some_and(|e| device_group.is_some_and(|g| g.members.contains(&e.id))),
            }
        })
        .collect()
}

/// The summary as a person reads it.
pub fn render(summary: &Summary) -> String {
    let mut lines = vec![format!(
        "Published {} events; outcomes: {:?}",
        summary.published, summary.outcomes
    )];
    lines.push("Hires (user | may join devices | groups):".to_owned());
    for h in &summary.hires {
        lines.push(format!(
            "  {:<28} | {:<3} | {}",
            h.user_principal_name,
            if h.may_join_devices { "yes" } else { "no" },
            h.groups.join(", ")
        ));
    }
    lines.push(
        "Autopilot devices (serial | group tag | assigned user | Entra device | in device group):"
            .to_owned(),
    );
    for d in &summary.devices {
        lines.push(format!(
            "  {:<12} | {:<15} | {:<24} | {:<36} | {}",
            d.serial_number,
            d.group_tag,
            if d.assigned_user.is_empty() {
                "-"
            } else {
                &d.assigned_user
            },
            d.entra_device_id.as_deref().unwrap_or("-"),
            if d.in_device_group { "yes" } else { "no" }
        ));
    }
    if summary.without_outcome > 0 {
        lines.push(format!(
            "{} events have no outcome yet: see `onboardctl dead list`",
            summary.without_outcome
        ));
    }
    lines.join("\n")
}

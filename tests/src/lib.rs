//! The end-to-end test harness. [`TestEnv::spawn`] gives a test its own Graph emulator (over
//! HTTPS, its own CA) and its own broker names (`t.<name>.<hex>` exchange and queues on the real
//! RabbitMQ), so tests run in parallel; services run in-process against them, exactly as they
//! run in production but for the settings. Broker objects are deleted by [`TestEnv::finish`],
//! which a test calls last: a failed test leaves its queues for inspection.
//!
//! - [`wait`]: deadlines instead of sleeps.
//! - [`broker`]: taps on queues, cutting a test's own connections.
#![warn(missing_docs)]

pub mod broker;
pub mod metrics;
pub mod wait;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use graph_emulator::demo::{self, DemoApp};
use graph_emulator::{EmulatorConfig, RunningEmulator};
use lapin::options::{ExchangeDeleteOptions, QueueDeclareOptions, QueueDeleteOptions};
use runner::ServiceError;
use shared::amqp::topology::{self, Topology};
use shared::amqp::{ConsumerSpec, Publisher};
use shared::config::{Service, Settings};
use shared::events::{DevicePurchased, DeviceShipped, EmployeeHired, Envelope, Event};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use broker::Tap;

/// Delay tiers short enough for tests, long enough to show the message really left the queue.
pub const TEST_DELAY_TIERS: &str = "200ms,1s";
/// Emulated time runs this many times faster than real time in tests (import delays, lags).
pub const TEST_SPEED: f64 = 200.0;

/// One test's world: an emulator, broker names, a publisher, and a tap on every outcome event.
pub struct TestEnv {
    /// `t.<name>.<hex>`: this test's exchange name and the prefix of its queues and temp files.
    pub prefix: String,
    /// This test's own Graph emulator (demo tenant unless [`TestEnv::spawn_with`] said otherwise).
    pub emulator: RunningEmulator,
    /// A broker connection publishing to this test's exchange.
    pub publisher: Publisher,
    /// Every `onboarding.*` outcome event published on this test's exchange.
    pub outcomes: Tap,
    ca_file: PathBuf,
    _telemetry: Option<shared::telemetry::TelemetryGuard>,
}

impl TestEnv {
    /// A test world on the demo tenant, with emulated time [`TEST_SPEED`]× faster.
    pub async fn spawn(name: &str) -> TestEnv {
        Self::spawn_with(
            name,
            EmulatorConfig {
                speed: TEST_SPEED,
                ..EmulatorConfig::default()
            },
        )
        .await
    }

    /// A test world whose emulator starts with `emulator` (its fixture, speed, throttling, faults).
    pub async fn spawn_with(name: &str, emulator: EmulatorConfig) -> TestEnv {
        let telemetry = init_test_telemetry();
        let prefix = format!("t.{name}.{:08x}", rand::random::<u32>());
        let emulator = RunningEmulator::start(emulator)
            .await
            .expect("emulator starts");
        let ca_file = std::env::temp_dir().join(format!("{prefix}.ca.pem"));
        std::fs::write(&ca_file, emulator.ca_pem()).expect("CA file written");
        let base =
            shared::config::load(None, base_env(&prefix, &emulator, &ca_file, demo::NEW_HIRE))
                .expect("test settings load");
        let publisher = Publisher::connect(&base.amqp, &format!("{prefix}.publisher"))
            .await
            .expect("broker reachable");
        topology::declare_exchange(publisher.channel(), &prefix)
            .await
            .expect("exchange declared");
        let outcomes = Tap::bind(
            publisher.channel(),
            &prefix,
            &format!("{prefix}.outcomes"),
            "onboarding.#",
        )
        .await;
        TestEnv {
            prefix,
            emulator,
            publisher,
            outcomes,
            ca_file,
            _telemetry: telemetry,
        }
    }

    /// Settings for a service running as `app`, with `overrides` as `section.key = value`
    /// (e.g. `("new_hire.join_mode", "users")`), exactly as environment variables would give them.
    pub fn settings(&self, app: DemoApp, overrides: &[(&str, &str)]) -> Settings {
        shared::config::load(None, self.service_env(app, overrides)).expect("test settings load")
    }

    /// The `ONBOARDING__*` environment that [`TestEnv::settings`] loads, for running a binary.
    pub fn service_env(&self, app: DemoApp, overrides: &[(&str, &str)]) -> HashMap<String, String> {
        let mut env = base_env(&self.prefix, &self.emulator, &self.ca_file, app);
        for (key, value) in overrides {
            env.insert(
                format!("ONBOARDING__{}", key.replace('.', "__").to_uppercase()),
                (*value).to_owned(),
            );
        }
        env
    }

    /// Runs the new-hire service in-process until the handle is stopped.
    pub async fn start_new_hire(&self, settings: Settings) -> RunningService {
        settings
            .validate(Service::NewHire)
            .expect("valid new-hire settings");
        let service = RunningService::spawn(settings, |s, http, stop| {
            Box::pin(new_hire::run(s, http, stop))
        })
        .await;
        // Ready means the topology is declared: events published from now on are routed.
        service.wait_ready().await;
        service
    }

    // === device-shipped ===

    /// Runs the device-shipped service in-process until the handle is stopped.
    pub async fn start_device_shipped(&self, settings: Settings) -> RunningService {
        settings
            .validate(Service::DeviceShipped)
            .expect("valid device-shipped settings");
        let service = RunningService::spawn(settings, |s, http, stop| {
            Box::pin(device_shipped::run(s, http, stop))
        })
        .await;
        // Ready means the topology is declared: events published from now on are routed.
        service.wait_ready().await;
        service
    }

    /// Publishes a `procurement.device.shipped` event and returns it.
    pub async fn publish_shipment(&self, data: DeviceShipped) -> Envelope<DeviceShipped> {
        let event = Envelope::of("urn:e2e:procurement", data);
        self.publish(&event).await;
        event
    }

    /// A shipment of `serial` to `upn`, with the optional fields filled in as procurement would.
    pub fn shipment(serial: &str, upn: &str) -> DeviceShipped {
        serde_json::from_value(serde_json::json!({
            "orderId": format!("PO-{serial}"),
            "serialNumber": serial,
            "userPrincipalName": upn,
            "carrier": "DHL",
            "trackingNumber": "JD014600003SE",
            "shippedAt": "2026-11-25T08:30:00Z",
        }))
        .expect("valid shipment")
    }

    // === end device-shipped ===

    // === device-purchased ===

    /// Runs the device-purchased service in-process (as the `DEVICE_PURCHASED` app, with the
    /// demo Autopilot device group) until the handle is stopped.
    pub async fn start_device_purchased(&self, settings: Settings) -> RunningService {
        settings
            .validate(Service::DevicePurchased)
            .expect("valid device-purchased settings");
        let service = RunningService::spawn(settings, |s, http, stop| {
            Box::pin(device_purchased::run(s, http, stop))
        })
        .await;
        service.wait_ready().await;
        service
    }

    /// Settings for device-purchased: the demo device group, then `overrides`.
    pub fn purchased_settings(&self, overrides: &[(&str, &str)]) -> Settings {
        let mut all = vec![(
            "device_purchased.device_group_id",
            demo::GROUP_AUTOPILOT_DEVICES,
        )];
        all.extend_from_slice(overrides);
        self.settings(demo::DEVICE_PURCHASED, &all)
    }

    /// Publishes a `procurement.device.purchased` event and returns it.
    pub async fn publish_purchase(&self, data: DevicePurchased) -> Envelope<DevicePurchased> {
        let event = Envelope::of("urn:e2e:procurement", data);
        self.publish(&event).await;
        event
    }

    /// A purchase of `serial` with the emulator's valid-looking hash for it and a group tag.
    pub fn purchase(serial: &str, order_id: &str) -> DevicePurchased {
        serde_json::from_value(serde_json::json!({
            "orderId": order_id,
            "serialNumber": serial,
            "hardwareHash": demo::hardware_hash(serial),
            "manufacturer": "Contoso Hardware",
            "model": "Emulated Model",
            "groupTag": "Sales",
        }))
        .expect("valid purchase")
    }

    /// Runs `service`'s built binary with exactly `env` (nothing else from this process's
    /// environment) and waits until it has declared its work queue. Its logs show on stderr
    /// when `TEST_LOG` is set; the process is killed if the handle is dropped.
    pub async fn start_binary(
        &self,
        service: Service,
        env: HashMap<String, String>,
    ) -> tokio::process::Child {
        self.start_binary_with_stdout(service, env, std::process::Stdio::null())
            .await
    }

    /// [`TestEnv::start_binary`] with the service's stdout (its log) going to `stdout`, e.g.
    /// piped for a test that reads what the service logged at start.
    pub async fn start_binary_with_stdout(
        &self,
        service: Service,
        env: HashMap<String, String>,
        stdout: std::process::Stdio,
    ) -> tokio::process::Child {
        let stderr = if std::env::var_os("TEST_LOG").is_some() {
            std::process::Stdio::inherit()
        } else {
            std::process::Stdio::null()
        };
        let child = tokio::process::Command::new(binary(service.name()))
            .env_clear()
            .envs(env)
            .stdout(stdout)
            .stderr(stderr)
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|e| panic!("{} binary starts: {e}", service.name()));
        self.wait_for_queue(service).await;
        child
    }

    /// Waits until `service`'s work queue exists (a service started as a separate process
    /// declares it), as `rabbitmqctl list_queues` shows.
    pub async fn wait_for_queue(&self, service: Service) {
        let queue = self.queue(service);
        wait::eventually(
            &format!("queue {queue} to be declared"),
            Duration::from_secs(20),
            || async {
                let exists = tokio::process::Command::new("rabbitmqctl")
                    .args(["-q", "list_queues", "name"])
                    .output()
                    .await
                    .ok()
                    .is_some_and(|out| {
                        String::from_utf8_lossy(&out.stdout)
                            .lines()
                            .any(|l| l.trim() == queue)
                    });
                exists.then_some(())
            },
        )
        .await;
    }

    /// Publishes a `hr.employee.hired` event and returns it.
    pub async fn publish_hire(&self, data: EmployeeHired) -> Envelope<EmployeeHired> {
        let event = Envelope::of("urn:e2e:hr", data);
        self.publish(&event).await;
        event
    }

    /// Publishes `event` on this test's exchange under its own type (mandatory, confirmed).
    pub async fn publish<E: Event>(&self, event: &Envelope<E>) {
        self.publisher
            .publish(&self.prefix, event)
            .await
            .expect("publish confirmed");
    }

    /// Publishes an event whose data is raw JSON (deliberately not a valid `E`), confirmed.
    pub async fn publish_json(&self, routing_key: &str, event: &Envelope<serde_json::Value>) {
        self.publisher
            .publish_event(&self.prefix, routing_key, event)
            .await
            .expect("publish confirmed");
    }

    /// A tap on a service's dead-letter queue (declared here if the service has not yet).
    pub async fn dead_letters(&self, service: Service) -> Tap {
        let queue = format!("{}.dead", self.queue(service));
        let opts = QueueDeclareOptions {
            durable: true,
            ..Default::default()
        };
        let channel = self.publisher.channel();
        channel
            .queue_declare(
                queue.as_str().into(),
                opts,
                topology::dead_queue_arguments(),
            )
            .await
            .expect("dead queue");
        Tap::consume(channel, &queue).await
    }

    /// The work queue of `service` in this test.
    pub fn queue(&self, service: Service) -> String {
        format!("{}.{}", self.prefix, service.name())
    }

    /// A hire of a demo user, with a department.
    pub fn hire(upn: &str, employee_id: &str, department: Option<&str>) -> EmployeeHired {
        serde_json::from_value(serde_json::json!({
            "employeeId": employee_id,
            "userPrincipalName": upn,
            "displayName": upn.split('@').next(),
            "department": department,
        }))
        .expect("valid hire")
    }

    /// Deletes this test's exchange and queues; call it last, so a failure keeps the evidence.
    pub async fn finish(self) {
        let channel = self.publisher.channel();
        let settings = self.settings(demo::NEW_HIRE, &[]);
        for service in [
            Service::NewHire,
            Service::DevicePurchased,
            Service::DeviceShipped,
        ] {
            let Some(spec) = consumer_spec(service, &settings.amqp) else {
                continue;
            };
            for queue in Topology::plan(&settings.amqp, &spec).queues() {
                let _ = channel
                    .queue_delete(queue.into(), QueueDeleteOptions::default())
                    .await;
            }
        }
        let _ = channel
            .exchange_delete(
                self.prefix.as_str().into(),
                ExchangeDeleteOptions::default(),
            )
            .await;
        let _ = std::fs::remove_file(&self.ca_file);
        let _ = self.publisher.close().await;
        self.emulator.shutdown().await;
    }
}

/// Runs a service's `run` expecting a start-up check to refuse it; returns why it refused.
pub async fn refused_start(
    settings: Settings,
    run: impl FnOnce(Settings, tokio::net::TcpListener, CancellationToken) -> RunFuture,
) -> ServiceError {
    let http = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind health port");
    let ended = wait::within(
        "the service to refuse to start",
        Duration::from_secs(20),
        run(settings, http, CancellationToken::new()),
    )
    .await;
    match ended {
        Ok(()) => panic!("the service ran instead of refusing to start"),
        Err(why) => why,
    }
}

/// A binary of this workspace, built in the same profile as the running executable: next to it
/// (a bench in `target/<profile>/`) or one folder up (a test in `target/<profile>/deps/`).
pub fn binary(name: &str) -> PathBuf {
    let exe = std::env::current_exe().expect("running executable path");
    let candidates: Vec<PathBuf> = exe
        .ancestors()
        .skip(1)
        .take(2)
        .map(|dir| dir.join(name))
        .collect();
    candidates
        .iter()
        .find(|path| path.exists())
        .cloned()
        .unwrap_or_else(|| {
            panic!(
                "{name} is not built next to {}; run `cargo build -p {name}` first",
                exe.display()
            )
        })
}

/// The environment a service of this test would be started with.
fn base_env(
    prefix: &str,
    emulator: &RunningEmulator,
    ca_file: &std::path::Path,
    app: DemoApp,
) -> HashMap<String, String> {
    let pairs = [
        ("AMQP__EXCHANGE", prefix.to_owned()),
        ("AMQP__QUEUES__NEW_HIRE", format!("{prefix}.new-hire")),
        (
            "AMQP__QUEUES__DEVICE_PURCHASED",
            format!("{prefix}.device-purchased"),
        ),
        (
            "AMQP__QUEUES__DEVICE_SHIPPED",
            format!("{prefix}.device-shipped"),
        ),
        ("AMQP__DELAY_TIERS", TEST_DELAY_TIERS.to_owned()),
        ("AMQP__CONNECTION_NAME", format!("{prefix}.{}", app.name)),
        ("AMQP__SHUTDOWN_GRACE", "5s".to_owned()),
        ("GRAPH__BASE_URL", emulator.base_url()),
        ("GRAPH__AUTHORITY_HOST", emulator.authority_host()),
        ("GRAPH__TENANT_ID", demo::TENANT_ID.to_owned()),
        ("GRAPH__CLIENT_ID", app.client_id.to_owned()),
        ("GRAPH__CLIENT_SECRET", app.client_secret.to_owned()),
        ("GRAPH__CA_FILE", ca_file.display().to_string()),
        ("GRAPH__IN_CALL_MAX_WAIT", "2s".to_owned()),
        ("HTTP__LISTEN", "127.0.0.1:0".to_owned()),
        ("NEW_HIRE__JOIN_GROUP_ID", demo::GROUP_JOIN.to_owned()),
        ("NEW_HIRE__GROUPS", demo::GROUP_ENGINEERING.to_owned()),
        (
            "TELEMETRY__LOG_FILTER",
            std::env::var("TEST_LOG").unwrap_or_else(|_| "off".to_owned()),
        ),
    ];
    pairs
        .into_iter()
        .map(|(k, v)| (format!("ONBOARDING__{k}"), v))
        .collect()
}

/// Logs go nowhere unless `TEST_LOG` is set (to a filter, e.g. `TEST_LOG=debug`); spans are
/// always recorded, so trace context still flows through headers.
fn init_test_telemetry() -> Option<shared::telemetry::TelemetryGuard> {
    let filter = std::env::var("TEST_LOG").unwrap_or_else(|_| "off".to_owned());
    let cfg = shared::config::TelemetrySettings {
        log_filter: filter,
        log_format: shared::config::LogFormat::Json,
        otlp_endpoint: String::new(),
    };
    shared::telemetry::init("e2e", &cfg, std::io::stderr).ok()
}

type RunFuture =
    std::pin::Pin<Box<dyn std::future::Future<Output = Result<(), ServiceError>> + Send>>;

/// A service running in-process on its own task, with its health listener's address.
pub struct RunningService {
    /// Address of its HTTP listener (`/healthz`, `/readyz`, `/metrics`).
    pub http: SocketAddr,
    stop: CancellationToken,
    task: JoinHandle<Result<(), ServiceError>>,
}

impl RunningService {
    async fn spawn(
        settings: Settings,
        run: impl FnOnce(Settings, tokio::net::TcpListener, CancellationToken) -> RunFuture,
    ) -> RunningService {
        let http = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind health port");
        let addr = http.local_addr().expect("bound");
        let stop = CancellationToken::new();
        let task = tokio::spawn(run(settings, http, stop.clone()));
        RunningService {
            http: addr,
            stop,
            task,
        }
    }

    /// Asks the service to drain (as SIGTERM does) and returns how it ended.
    pub async fn stop(self) -> Result<(), ServiceError> {
        self.stop.cancel();
        wait::within("the service to stop", Duration::from_secs(30), self.task)
            .await
            .expect("service task did not panic")
    }

    /// Waits until `/readyz` answers 200: broker connected and a token obtainable.
    pub async fn wait_ready(&self) {
        let url = format!("http://{}/readyz", self.http);
        let client = reqwest::Client::new();
        wait::eventually("the service to be ready", Duration::from_secs(20), || {
            let request = client.get(&url).send();
            async move {
                request
                    .await
                    .ok()
                    .filter(|r| r.status().is_success())
                    .map(|_| ())
            }
        })
        .await;
    }

    /// `onboarding_would_writes_total` for `route` (shadow mode's held-back writes), 0 if none.
    pub async fn would_writes(&self, route: &str) -> f64 {
        let text = self.metrics().await;
        metrics::value(&text, "onboarding_would_writes_total", &[("route", route)]).unwrap_or(0.0)
    }

    /// The service's `/metrics` text.
    pub async fn metrics(&self) -> String {
        reqwest::get(format!("http://{}/metrics", self.http))
            .await
            .expect("metrics reachable")
            .text()
            .await
            .expect("metrics text")
    }
}

/// The spec `service` consumes with: its queue, and its handler's input event as routing key.
pub fn consumer_spec(
    service: Service,
    amqp: &shared::config::AmqpSettings,
) -> Option<ConsumerSpec> {
    match service {
        Service::NewHire => ConsumerSpec::for_handler::<new_hire::NewHire>(service, amqp),
        Service::DevicePurchased => {
            ConsumerSpec::for_handler::<device_purchased::DevicePurchasedService>(service, amqp)
        }
        Service::DeviceShipped => {
            ConsumerSpec::for_handler::<device_shipped::Shipments>(service, amqp)
        }
        Service::Cli => None,
    }
}

// === helpers for the onboardctl tests (tests/e2e/cli_*.rs) ===

impl TestEnv {
    /// Declares `service`'s topology (exchange binding, work queue, tiers, `.dead`) as the
    /// service would at start, without running it.
    pub async fn declare_service_topology(&self, service: Service) -> Topology {
        let settings = self.settings(demo::NEW_HIRE, &[]);
        let spec = consumer_spec(service, &settings.amqp).expect("a consuming service");
        topology::declare_topology(self.publisher.channel(), &settings.amqp, &spec)
            .await
            .expect("topology declared")
    }

    /// Puts a message straight into `service`'s dead-letter queue with the runtime's headers
    /// (`reason`, class `permanent`, 1 attempt, first seen now); returns its message id.
    pub async fn plant_dead_letter(&self, service: Service, body: &[u8], reason: &str) -> String {
        use shared::amqp::headers as h;
        let id = uuid::Uuid::new_v4().to_string();
        let mut headers = lapin::types::FieldTable::default();
        h::set_text(&mut headers, h::REASON, reason);
        h::set_text(&mut headers, h::ERROR_CLASS, "permanent");
        h::set_text(&mut headers, h::SERVICE, service.name());
        h::set_number(&mut headers, h::ATTEMPTS, 1);
        h::set_time(&mut headers, h::FIRST_SEEN, time_now());
        let props = shared::amqp::publish::event_properties(&id, headers);
        let queue = format!("{}.dead", self.queue(service));
        self.publisher
            .publish_raw("", &queue, true, body, props)
            .await
            .expect("dead letter planted");
        id
    }

    /// Messages ready in `queue` (passive declare).
    pub async fn queue_depth(&self, queue: &str) -> u32 {
        let opts = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        self.publisher
            .channel()
            .queue_declare(queue.into(), opts, lapin::types::FieldTable::default())
            .await
            .unwrap_or_else(|e| panic!("queue {queue}: {e}"))
            .message_count()
    }

    /// Runs the built `onboardctl` with `args` as `app` with settings `overrides` (stdin
    /// closed); returns the exit code, stdout and stderr.
    pub async fn onboardctl(
        &self,
        app: DemoApp,
        overrides: &[(&str, &str)],
        args: &[&str],
    ) -> (i32, String, String) {
        let out = tokio::process::Command::new(binary("onboardctl"))
            .args(args)
            .envs(self.service_env(app, overrides))
            .stdin(std::process::Stdio::null())
            .output()
            .await
            .expect("onboardctl runs");
        (
            out.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    }
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}

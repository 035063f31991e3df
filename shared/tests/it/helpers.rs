//! The harness every broker test uses: `TestBroker::new(name)` gives settings whose exchange
//! and queues are named `t.<name>.<8 hex>`, short delay tiers, and a connection of its own;
//! `cleanup()` deletes those objects and is called last, so a failed test leaves its queues
//! behind for inspection. Also a scripted handler and waits with deadlines.

use std::collections::HashMap;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use futures::future::BoxFuture;
use lapin::message::Delivery;
use lapin::options::{
    BasicAckOptions, BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions, QueueDeleteOptions,
};
use lapin::types::FieldTable;
use serde_json::json;
use shared::amqp::{ConsumerSpec, DeliveryInfo, Handler, Publisher, Runtime, Topology};
use shared::config::{Service, Settings};
use shared::error::{Classify, ErrorClass};
use shared::events::{EmployeeHired, Envelope, Event};
use shared::health::ReadinessFlag;
use shared::telemetry::Metrics;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Multiplies every deadline; set `TEST_PATIENCE=3` on a slow machine.
pub fn patience() -> u32 {
    std::env::var("TEST_PATIENCE")
        .ok()
        .and_then(|p| p.parse().ok())
        .unwrap_or(1)
}

/// Awaits `what` or fails the test naming it.
pub async fn within<T>(what: &str, limit: Duration, fut: impl Future<Output = T>) -> T {
    let limit = limit * patience();
    tokio::time::timeout(limit, fut)
        .await
        .unwrap_or_else(|_| panic!("waited {limit:?} for {what}"))
}

/// Polls `probe` until it returns `Some`; fails naming `what` after `limit`.
pub async fn eventually<T, F: Future<Output = Option<T>>>(
    what: &str,
    limit: Duration,
    mut probe: impl FnMut() -> F,
) -> T {
    within(what, limit, async {
        loop {
            if let Some(found) = probe().await {
                return found;
            }
            tokio::time::sleep(Duration::from_millis(20)).await; // poll interval, not a guess at duration
        }
    })
    .await
}

pub fn unique(name: &str) -> String {
    format!(
        "t.{name}.{}",
        &uuid::Uuid::new_v4().simple().to_string()[..8]
    )
}

/// Broker objects owned by one test.
pub struct TestBroker {
    pub prefix: String,
    pub settings: Settings,
    pub publisher: Publisher,
}

impl TestBroker {
    /// Settings named after the test; `overrides` are extra `ONBOARDING__...` entries.
    pub async fn new(name: &str, overrides: &[(&str, &str)]) -> Self {
        let prefix = unique(name);
        let mut env: HashMap<String, String> = [
            ("ONBOARDING__AMQP__EXCHANGE", prefix.clone()),
            ("ONBOARDING__AMQP__CONNECTION_NAME", prefix.clone()),
            (
                "ONBOARDING__AMQP__QUEUES__NEW_HIRE",
                format!("{prefix}.new-hire"),
            ),
            (
                "ONBOARDING__AMQP__QUEUES__DEVICE_PURCHASED",
                format!("{prefix}.device-purchased"),
            ),
            (
                "ONBOARDING__AMQP__QUEUES__DEVICE_SHIPPED",
                format!("{prefix}.device-shipped"),
            ),
            ("ONBOARDING__AMQP__DELAY_TIERS", "200ms,500ms".to_owned()),
            ("ONBOARDING__AMQP__SHUTDOWN_GRACE", "5s".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        for (k, v) in overrides {
            env.insert((*k).to_owned(), (*v).to_owned());
        }
        let settings = shared::config::load(None, env).expect("test settings load");
        let publisher = Publisher::connect(&settings.amqp, &format!("{prefix}.publisher"))
            .await
            .expect("broker reachable");
        shared::amqp::topology::declare_exchange(publisher.channel(), &prefix)
            .await
            .expect("exchange");
        TestBroker {
            prefix,
            settings,
            publisher,
        }
    }

    pub fn spec(&self) -> ConsumerSpec {
        ConsumerSpec::for_handler::<Scripted>(Service::NewHire, &self.settings.amqp)
            .expect("new-hire consumes")
    }

    pub fn topology(&self) -> Topology {
        Topology::plan(&self.settings.amqp, &self.spec())
    }

    /// Declares the consumer's topology up front, so the test can watch its queues at once.
    pub async fn declare(&self) -> Topology {
        shared::amqp::declare_topology(self.publisher.channel(), &self.settings.amqp, &self.spec())
            .await
            .expect("topology declares")
    }

    /// A fresh queue bound to `routing_key` on the test exchange, consumed with auto-ack.
    pub async fn watch(&self, routing_key: &str) -> Watch {
        let channel = self.publisher.channel();
        let queue = format!("{}.watch.{}", self.prefix, uuid::Uuid::new_v4().simple());
        let options = QueueDeclareOptions {
            exclusive: true,
            auto_delete: true,
            ..Default::default()
        };
        channel
            .queue_declare(queue.as_str().into(), options, FieldTable::default())
            .await
            .expect("watch queue");
        channel
            .queue_bind(
                queue.as_str().into(),
                self.prefix.as_str().into(),
                routing_key.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("watch binding");
        self.consume(&queue).await
    }

    /// Consumes an existing queue (e.g. `<queue>.dead`) with manual acks done by `Watch`.
    pub async fn consume(&self, queue: &str) -> Watch {
        let channel = self.publisher.channel();
        let tag = format!("watch-{}", uuid::Uuid::new_v4().simple());
        let consumer = channel
            .basic_consume(
                queue.into(),
                tag.into(),
                BasicConsumeOptions::default(),
                FieldTable::default(),
            )
            .await
            .expect("watch consume");
        Watch { consumer }
    }

    /// Publishes an `hr.employee.hired` event for `upn` and returns it.
    pub async fn publish_hire(&self, upn: &str) -> Envelope<EmployeeHired> {
        let event = hire(upn);
        self.publish(&event).await;
        event
    }

    /// Publishes `event` with its type as routing key, confirmed.
    pub async fn publish(&self, event: &Envelope<EmployeeHired>) {
        self.publisher
            .publish(&self.prefix, event)
            .await
            .expect("confirmed publish");
    }

    /// Ready messages in `queue` now.
    pub async fn depth(&self, queue: &str) -> u32 {
        let options = QueueDeclareOptions {
            passive: true,
            ..Default::default()
        };
        let q = self
            .publisher
            .channel()
            .queue_declare(queue.into(), options, FieldTable::default())
            .await
            .expect("queue exists");
        q.message_count()
    }

    /// Deletes the test's queues and exchange; call it last, so only a passing test cleans up.
    pub async fn cleanup(self) {
        let channel = self.publisher.channel();
        for queue in self.topology().queues() {
            let _ = channel
                .queue_delete(queue.into(), QueueDeleteOptions::default())
                .await;
        }
        let _ = channel
            .exchange_delete(self.prefix.as_str().into(), Default::default())
            .await;
        let _ = self.publisher.close().await;
    }
}

/// An `hr.employee.hired` event for `upn` (not yet published).
pub fn hire(upn: &str) -> Envelope<EmployeeHired> {
    let data: EmployeeHired =
        serde_json::from_value(json!({"employeeId": "E1", "userPrincipalName": upn}))
            .expect("valid hire");
    Envelope::new(EmployeeHired::TYPE, "urn:test", Some(upn.to_owned()), data)
}

/// Deliveries arriving on a watched queue.
pub struct Watch {
    consumer: lapin::Consumer,
}

impl Watch {
    /// The next delivery (acked), or a test failure naming `what`.
    pub async fn next(&mut self, what: &str) -> Delivery {
        let delivery = within(what, Duration::from_secs(10), self.consumer.next())
            .await
            .unwrap_or_else(|| panic!("watch ended waiting for {what}"))
            .expect("delivery");
        delivery.ack(BasicAckOptions::default()).await.expect("ack");
        delivery
    }
}

/// What the scripted handler answers for one attempt.
#[derive(Debug, Clone, Copy)]
pub enum Script {
    Succeed,
    Transient(Option<Duration>),
    Permanent,
}

#[derive(Debug, thiserror::Error)]
pub enum TestError {
    #[error("test says: try again later")]
    Transient(Option<Duration>),
    #[error("test says: this cannot work")]
    Permanent,
}

impl Classify for TestError {
    fn class(&self) -> ErrorClass {
        match self {
            TestError::Transient(retry_after) => ErrorClass::Transient {
                retry_after: *retry_after,
            },
            TestError::Permanent => ErrorClass::Permanent,
        }
    }
}

type Behaviour = Box<dyn Fn(&DeliveryInfo) -> BoxFuture<'static, Script> + Send + Sync>;

/// A handler that reports every call on a channel and answers as its behaviour says.
pub struct Scripted {
    behaviour: Behaviour,
    calls: mpsc::UnboundedSender<(DeliveryInfo, Option<String>)>,
}

impl Scripted {
    /// `behaviour` picks the answer from the delivery (attempt number, message id).
    pub fn new(
        behaviour: impl Fn(&DeliveryInfo) -> BoxFuture<'static, Script> + Send + Sync + 'static,
    ) -> (
        Arc<Self>,
        mpsc::UnboundedReceiver<(DeliveryInfo, Option<String>)>,
    ) {
        let (calls, rx) = mpsc::unbounded_channel();
        (
            Arc::new(Scripted {
                behaviour: Box::new(behaviour),
                calls,
            }),
            rx,
        )
    }

    pub fn always(
        script: Script,
    ) -> (
        Arc<Self>,
        mpsc::UnboundedReceiver<(DeliveryInfo, Option<String>)>,
    ) {
        Self::new(move |_| Box::pin(async move { script }))
    }
}

/// The scripted handler's outcome: published as `onboarding.user.ready`, like new-hire's.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Ready {
    employee_id: shared::ids::EmployeeId,
    attempt: u32,
    #[serde(skip)]
    upn: String,
}

impl Event for Ready {
    const TYPE: &'static str = USER_READY;
    fn subject(&self) -> Option<String> {
        Some(self.upn.clone())
    }
}

/// The outcome type the scripted handler publishes.
pub const USER_READY: &str = "onboarding.user.ready";

impl Handler for Scripted {
    type In = EmployeeHired;
    type Out = Ready;
    type Error = TestError;

    async fn handle(
        &self,
        event: &Envelope<EmployeeHired>,
        delivery: &DeliveryInfo,
    ) -> Result<Ready, TestError> {
        let _ = self
            .calls
            .send((delivery.clone(), shared::telemetry::current_trace_id()));
        match (self.behaviour)(delivery).await {
            Script::Succeed => Ok(Ready {
                employee_id: event.data.employee_id.clone(),
                attempt: delivery.attempt,
                upn: event.data.user_principal_name.to_string(),
            }),
            Script::Transient(after) => Err(TestError::Transient(after)),
            Script::Permanent => Err(TestError::Permanent),
        }
    }
}

/// A consumer running on a task, with its stop signal.
pub struct Running {
    pub shutdown: CancellationToken,
    pub ready: ReadinessFlag,
    pub metrics: Metrics,
    pub task: tokio::task::JoinHandle<Result<(), shared::amqp::AmqpError>>,
}

impl Running {
    pub fn start<H: Handler>(broker: &TestBroker, handler: Arc<H>) -> Running {
        let shutdown = CancellationToken::new();
        let ready = ReadinessFlag::new();
        let metrics = Metrics::new("new-hire");
        let amqp = broker.settings.amqp.clone();
        let spec = broker.spec();
        let task = tokio::spawn({
            let (metrics, ready, shutdown) = (metrics.clone(), ready.clone(), shutdown.clone());
            async move {
                Runtime::new(&amqp, spec, metrics, ready, shutdown)
                    .run(handler)
                    .await
            }
        });
        Running {
            shutdown,
            ready,
            metrics,
            task,
        }
    }

    /// Cancels and waits for `Runtime::run` to return.
    pub async fn stop(self) {
        self.shutdown.cancel();
        within("the consumer to stop", Duration::from_secs(10), self.task)
            .await
            .expect("consumer task")
            .expect("consumer stops cleanly");
    }
}

/// Text value of a header on a delivery.
pub fn header(delivery: &Delivery, name: &str) -> Option<String> {
    let headers = delivery.properties.headers().as_ref()?;
    shared::amqp::headers::text(headers, name).map(str::to_owned)
}

/// Numeric value of a header on a delivery.
pub fn header_number(delivery: &Delivery, name: &str) -> Option<u64> {
    shared::amqp::headers::number(delivery.properties.headers().as_ref()?, name)
}

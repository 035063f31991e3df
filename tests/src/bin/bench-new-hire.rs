//! Benchmark: N new hires through the real broker and the Graph emulator, handled by the built
//! `new-hire` binary in its own process, so its CPU time and peak RSS are its own (read from
//! `/proc/<pid>`). Prints throughput, CPU per message and peak RSS. A figure, not a test: it
//! asserts only that every hire got its outcome.
//!
//! `cargo build --release -p new-hire -p e2e --bins && target/release/bench-new-hire [N] [concurrency]`

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use e2e::TestEnv;
use graph_emulator::demo;
use graph_emulator::{EmulatorConfig, ThrottleConfig};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let n: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(500);
    let concurrency: u16 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(16);

    let mut cfg = EmulatorConfig {
        speed: e2e::TEST_SPEED,
        throttle: ThrottleConfig {
            enabled: false,
            ..Default::default()
        },
        ..Default::default()
    };
    for i in 0..n {
        let mut user = cfg.fixture.users[0].clone();
        user.id = format!("b3000000-0000-4000-8000-{i:012}");
        user.user_principal_name = format!("bench{i}@contoso.test");
        user.employee_id = None;
        cfg.fixture.users.push(user);
    }
    let env = TestEnv::spawn_with("bench_new_hire", cfg).await;
    let concurrency = concurrency.to_string();
    let prefetch = (concurrency.parse::<u16>()? * 2).to_string();
    let service_env = env.service_env(
        demo::NEW_HIRE,
        &[
            ("amqp.concurrency", &concurrency),
            ("amqp.prefetch", &prefetch),
            ("telemetry.log_filter", "warn"),
        ],
    );
    let mut child = env
        .start_binary(shared::config::Service::NewHire, service_env)
        .await;
    let pid = child.id().expect("running");

    let started = Instant::now();
    let cpu_before = cpu_seconds(pid)?;
    let mut sent = BTreeSet::new();
    for i in 0..n {
        let hire = TestEnv::hire(&format!("bench{i}@contoso.test"), &format!("B{i}"), None);
        sent.insert(env.publish_hire(hire).await.id);
    }
    let published = started.elapsed();
    env.outcomes
        .take(n, "every bench hire ready", Duration::from_secs(600))
        .await;
    let elapsed = started.elapsed();
    let cpu = cpu_seconds(pid)? - cpu_before;
    let peak_rss_kib = peak_rss_kib(pid)?;

    println!(
        "new-hire bench: {n} hires, concurrency {concurrency}, emulator speed {}",
        e2e::TEST_SPEED
    );
    println!("  published in        {:>8.2} s", published.as_secs_f64());
    println!("  all outcomes in     {:>8.2} s", elapsed.as_secs_f64());
    println!(
        "  throughput          {:>8.1} hires/s",
        n as f64 / elapsed.as_secs_f64()
    );
    println!(
        "  service CPU         {:>8.2} s ({:.2} ms per hire)",
        cpu,
        cpu * 1000.0 / n as f64
    );
    println!(
        "  service peak RSS    {:>8.1} MiB",
        peak_rss_kib as f64 / 1024.0
    );
    let writes = env.emulator.state().counters().writes.values().sum::<u64>();
    println!(
        "  Graph writes        {writes:>8} ({} per hire)",
        writes as f64 / n as f64
    );

    child.start_kill()?;
    let _ = child.wait().await;
    env.finish().await;
    Ok(())
}

/// utime + stime of a process, in seconds (`/proc/<pid>/stat` fields 14 and 15, in clock ticks).
fn cpu_seconds(pid: u32) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    // The command name (field 2) may contain spaces; the fields after its ')' are fixed.
    let after = stat.rsplit_once(')').map(|(_, rest)| rest).unwrap_or("");
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks: f64 = fields[11].parse::<f64>()? + fields[12].parse::<f64>()?;
    Ok(ticks / clock_ticks_per_second())
}

/// Linux reports CPU times in USER_HZ, which is 100 on every mainstream architecture.
fn clock_ticks_per_second() -> f64 {
    100.0
}

/// VmHWM: the process's peak resident set, in KiB.
fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .ok_or_else(|| anyhow::anyhow!("no VmHWM"))?;
    Ok(line.split_whitespace().nth(1).unwrap_or("0").parse()?)
}

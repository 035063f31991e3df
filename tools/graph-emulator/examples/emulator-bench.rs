//! Throughput bench (not a test): starts the emulator in-process, then drives simple Graph
//! GETs over HTTPS with keep-alive from several tasks and prints start-up time and requests/s.
//! An example rather than a `src/bin` so it can use reqwest (a dev-dependency only).
//!
//! `cargo run --release -p graph-emulator --example emulator-bench -- [REQUESTS] [TASKS] [h1|h2]`

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use graph_emulator::demo::{GRAPH_SCOPE, NEW_HIRE, TENANT_ID, USER_ADA};
use graph_emulator::{EmulatorConfig, RunningEmulator};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let mut args = std::env::args().skip(1);
    let total: usize = args
        .next()
        .map(|a| a.parse())
        .transpose()?
        .unwrap_or(50_000);
    let tasks: usize = args.next().map(|a| a.parse()).transpose()?.unwrap_or(32);
    let h2 = args.next().is_some_and(|a| a == "h2");

    let t0 = Instant::now();
    let mut cfg = EmulatorConfig::default();
    cfg.throttle.enabled = false; // measure the emulator, not its 3,500 RU / 10 s budget
    let emu = RunningEmulator::start(cfg).await?;
    let started = t0.elapsed();

    let certs = reqwest::Certificate::from_pem_bundle(emu.ca_pem().as_bytes())?;
    let mut builder = reqwest::Client::builder()
        .tls_certs_merge(certs)
        .pool_max_idle_per_host(tasks);
    builder = if h2 {
        builder.http2_prior_knowledge()
    } else {
        builder.http1_only()
    };
    let client = builder.build()?;
    let form = [
        ("client_id", NEW_HIRE.client_id),
        ("client_secret", NEW_HIRE.client_secret),
        ("grant_type", "client_credentials"),
        ("scope", GRAPH_SCOPE),
    ];
    let tok: serde_json::Value = client
        .post(format!(
            "{}/{TENANT_ID}/oauth2/v2.0/token",
            emu.authority_host()
        ))
        .form(&form)
        .send()
        .await?
        .json()
        .await?;
    let token = tok["access_token"].as_str().unwrap_or_default().to_string();
    let url = format!("{}/v1.0/users/{USER_ADA}", emu.base_url());
    let first = client.get(&url).bearer_auth(&token).send().await?.status();
    let ready = t0.elapsed();

    let run = Instant::now();
    let per_task = total / tasks;
    let handles: Vec<_> = (0..tasks)
        .map(|_| {
            let (client, url, token) = (client.clone(), url.clone(), token.clone());
            tokio::spawn(async move {
                let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
                for _ in 0..per_task {
                    let status = match client.get(&url).bearer_auth(&token).send().await {
                        Ok(r) => {
                            let s = r.status().as_u16();
                            let _ = r.bytes().await;
                            s
                        }
                        Err(_) => 0,
                    };
                    *statuses.entry(status).or_default() += 1;
                }
                statuses
            })
        })
        .collect();
    let mut statuses: BTreeMap<u16, usize> = BTreeMap::new();
    for h in handles {
        for (s, n) in h.await? {
            *statuses.entry(s).or_default() += n;
        }
    }
    let elapsed = run.elapsed();
    let done: usize = statuses.values().sum();
    println!(
        "start-up: emulator listening after {:.1} ms; first Graph answer ({first}) after {:.1} ms",
        ms(started),
        ms(ready)
    );
    println!(
        "throughput: {done} GET /v1.0/users/{{id}} in {:.2} s from {tasks} tasks over {} = {:.0} requests/s; statuses {statuses:?}",
        elapsed.as_secs_f64(),
        if h2 { "HTTP/2" } else { "HTTP/1.1 keep-alive" },
        done as f64 / elapsed.as_secs_f64()
    );
    emu.shutdown().await;
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

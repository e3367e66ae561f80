//! Conversation benchmark (a bench binary, `harness = false`): the real `xpert-host` binary on
//! its embedded SQLite store, the real plugin, the `echo` agent, and the WeCom simulator in this
//! process, over real sockets.
//!
//! 1. Callback → thinking frame: callbacks at 500/s spread over the bots (each from a new user,
//!    so each one goes through dedup, the binding and a session lookup in the store), measuring
//!    from the callback leaving the simulator to the bot's first `aibot_respond_msg` frame.
//! 2. 1,000 concurrent conversations with `/slow 5` (the echo agent streams for 5 s): frames per
//!    second reaching the simulator, host CPU per frame, host memory per active conversation.
//!
//! Run: `cargo bench --bench conversation` (`CONVERSATION_BENCH_BOTS`, default 100;
//! `CONVERSATION_BENCH_CONVERSATIONS`, default 1000). The host inherits the bench's environment:
//! with `XPERT_DATABASE_URL` / `XPERT_REDIS_URL` set it runs on PostgreSQL / Redis instead.
//! BENCHMARKS.md records runs.

#[path = "../tests/host_common/mod.rs"]
mod host_common;
#[path = "support/latency.rs"]
mod latency;

use std::time::{Duration, Instant};

use host_common::{start, Host};
use latency::percentile;
use serde_json::json;
use wecom_sim::sim::Chat;
use wecom_sim::{SimConfig, Simulator};

fn env_or(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// Resident memory and CPU (user + system, ms) of process `pid`, from `/proc`.
fn process_usage(pid: u32) -> (f64, f64) {
    let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
    let rss = statm.split_whitespace().nth(1).and_then(|p| p.parse::<f64>().ok()).unwrap_or(0.0) * 4096.0;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let fields: Vec<&str> = stat.rsplit(')').next().unwrap_or_default().split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (rss, (ticks(11) + ticks(12)) * 10.0)
}

/// Binds `bots` long-connection integrations to one published echo Digital Expert.
async fn publish(host: &Host, bots: usize) {
    host.install_wecom().await;
    let mut triggers = Vec::new();
    for i in 0..bots {
        let body = json!({"name": format!("bot {i}"), "provider": "wecom_long",
            "options": {"botId": format!("CB{i}"), "secret": format!("s{i}")}});
        let (status, integration) = host.post("/api/integration", body).await;
        assert_eq!(status, 201, "{integration}");
        triggers.push(json!({"provider": "wecom", "config": {"enabled": true, "integrationId": integration["id"]}}));
    }
    let (_, x) = host.post("/api/xpert", json!({"name": "echo", "agent": {"kind": "echo"}})).await;
    let xpert = x["id"].as_str().unwrap().to_string();
    let (status, body) = host.call("PUT", &format!("/api/xpert/{xpert}/triggers"), Some(json!(triggers))).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = host.post(&format!("/api/xpert/{xpert}/publish"), json!({})).await;
    assert_eq!(status, 200, "{body}");
}

/// Callbacks at 500/s for 4 s round-robin over the bots, each from a new user; p50 / p99 of the
/// time until each one's first `aibot_respond_msg` frame reaches the simulator.
async fn thinking_latency(sim: &Simulator, bots: usize) -> (f64, f64, usize, usize) {
    let total = 2000;
    let all = latency::first_frame_latencies(sim, total, "lat", |k| format!("CB{}", k % bots)).await;
    (percentile(&all, 0.5), percentile(&all, 0.99), all.len(), total)
}

/// Frames of finished streams for users starting with `prefix`.
fn finished_streams(sim: &Simulator, bots: usize, users: usize, prefix: &str) -> usize {
    (0..users)
        .filter(|k| {
            sim.transcript(&format!("CB{}", k % bots), &format!("{prefix}{k}"))
                .iter()
                .any(|b| b.from == "bot" && b.finished)
        })
        .count()
}

/// Where the host keeps its state: the embedded SQLite store unless the environment the host
/// inherits from the bench names PostgreSQL and/or Redis.
fn backends() -> String {
    let store = if std::env::var_os("XPERT_DATABASE_URL").is_some() { "PostgreSQL" } else { "SQLite" };
    let kv = if std::env::var_os("XPERT_REDIS_URL").is_some() { "Redis" } else { "the store" };
    format!("store on {store}, KV and leases on {kv}")
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let bots = env_or("CONVERSATION_BENCH_BOTS", 100);
    let conversations = env_or("CONVERSATION_BENCH_CONVERSATIONS", 1000);
    let sim = Simulator::start(SimConfig::default()).await.expect("simulator");
    for i in 0..bots {
        sim.add_bot(&format!("CB{i}"), &format!("s{i}"));
    }
    let dir = tempfile::tempdir().unwrap();
    let ws = sim.ws_url();
    let env = [("WECOM_WS_URL", ws.as_str()), ("RUST_LOG", "warn")];
    let mut host = start(dir.path(), &env).await;
    let pid = host.server.pid().expect("host pid");
    publish(&host, bots).await;
    assert!(sim.wait_until(Duration::from_secs(60), |s| s.connected_count() >= bots).await, "all bots subscribed");

    let (p50, p99, answered, total) = thinking_latency(&sim, bots).await;
    println!(
        "callback → thinking frame over {bots} bots at 500 callbacks/s ({}): p50 {p50:.2} ms, p99 {p99:.2} ms ({answered} of {total})",
        backends()
    );
    // The same latency as the plugin measures it inside the host (callback classified → thinking
    // frame sent), from its own histogram: what the host's path costs without the simulator's
    // side and this process's scheduling.
    let metrics = host
        .http
        .get(host.url("/metrics"))
        .bearer_auth(host_common::TOKEN)
        .send()
        .await
        .expect("metrics")
        .text()
        .await
        .unwrap_or_default();
    let bucket = |metric: &str, le: &str| -> f64 {
        metrics
            .lines()
            .find(|l| l.starts_with(&format!("{metric}_bucket")) && l.contains(&format!("le=\"{le}\"")))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(f64::NAN)
    };
    // The first frame, and the one store call before it (the dedup key), inside the host.
    for (metric, what) in [("wecom_first_frame_seconds", "callback → thinking"), ("wecom_dedup_seconds", "dedup key")]
    {
        let count = bucket(metric, "+Inf");
        println!(
            "inside the host ({metric}, {what}): {:.2}% within 0.5 ms, {:.2}% within 1 ms, {:.2}% within 2.5 ms of {count}",
            100.0 * bucket(metric, "0.0005") / count,
            100.0 * bucket(metric, "0.001") / count,
            100.0 * bucket(metric, "0.0025") / count,
        );
    }
    // Let the latency phase's answers finish so they do not count below.
    let _ = sim.wait_until(Duration::from_secs(30), |s| finished_streams(s, bots, total, "lat") >= total).await;

    let (rss_before, _) = process_usage(pid);
    let frames_before = sim.frames().len();
    let (_, cpu_before) = process_usage(pid);
    let started = Instant::now();
    for k in 0..conversations {
        sim.send_text(&format!("CB{}", k % bots), &format!("slow{k}"), Chat::Single, "/slow 5").expect("delivered");
    }
    // Mid-stream: every conversation is active.
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let (rss_active, _) = process_usage(pid);
    let done = sim
        .wait_until(Duration::from_secs(120), |s| finished_streams(s, bots, conversations, "slow") >= conversations)
        .await;
    let elapsed = started.elapsed().as_secs_f64();
    let (_, cpu_after) = process_usage(pid);
    let frames: usize = sim.frames()[frames_before..].iter().filter(|f| f.frame["cmd"] == "aibot_respond_msg").count();
    println!(
        "{conversations} concurrent /slow 5 conversations: {} finished in {elapsed:.1} s, {frames} frames = {:.0} frames/s, {:.3} ms host CPU per frame, {:.1} KiB host memory per active conversation",
        if done { conversations } else { finished_streams(&sim, bots, conversations, "slow") },
        frames as f64 / elapsed,
        (cpu_after - cpu_before) / frames as f64,
        (rss_active - rss_before) / conversations as f64 / 1024.0,
    );
    host.server.stop(Duration::from_secs(30)).await.ok();
}

//! Long-connection benchmark (a bench binary, `harness = false`): one host process — the real
//! plugin library in a TestHost — with N long-connection integrations subscribed to the WeCom
//! simulator, which runs in this (parent) process so the host's memory is measured alone.
//!
//! For each N (`LONG_BENCH_SIZES`, default `100,1000,10000`) a child process of this binary is
//! the host: it binds N integrations (disabled: nothing connects), enables them, and reports
//! resident memory at each step and its CPU while idle. The parent times until all N are
//! subscribed, and at N = 1000 sends callbacks at 500/s across the bots and measures the time
//! from a callback leaving the simulator to the bot's thinking frame arriving back.
//!
//! Run: `cargo bench --bench long_connections`. BENCHMARKS.md records a run.

use std::collections::HashMap;
use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use host_sdk::host::{load_plugin_at, Manifest, TestHost};
use host_sdk::{InstallLevel, Integration, LifecycleEvent, TriggerParams};
use parking_lot::Mutex;
use serde_json::json;
use wecom_sim::sim::Chat;
use wecom_sim::{SimConfig, Simulator};

const CHILD_ENV: &str = "LONG_BENCH_HOST";

fn resident_bytes() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|p| p.parse::<f64>().ok()).unwrap_or(0.0) * 4096.0
}

/// User + system CPU time of this process in milliseconds (`/proc/self/stat`, clock ticks of 10 ms).
fn cpu_ms() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * 10.0
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

fn plugin_library() -> std::path::PathBuf {
    let exe = std::env::current_exe().expect("bench executable");
    let file = format!("{}plugin_wecom{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    exe.parent().expect("deps dir").join(file)
}

fn integration(i: usize, enabled: bool) -> Integration {
    Integration {
        id: format!("i{i}"),
        name: format!("bot {i}"),
        provider: "wecom_long".into(),
        enabled,
        options: json!({"botId": format!("B{i}"), "secret": format!("s{i}")}),
    }
}

/// The host child: reads commands on stdin, answers on stdout.
fn host_child(n: usize) {
    let host = TestHost::new();
    host.set_config("WECOM_WS_URL", &std::env::var("LONG_BENCH_WS").expect("ws url"));
    host.set_config("WECOM_STREAM_THROTTLE_MS", "1000");
    let manifest_text = include_str!("../manifest.toml");
    let manifest = Manifest::parse(manifest_text, std::path::Path::new("manifest.toml")).expect("manifest");
    let plugin = load_plugin_at(manifest, &plugin_library()).expect("plugin loads");
    let inst = host.install(&plugin, InstallLevel::Tenant).expect("install");
    let provider = inst.provider("wecom_long").unwrap().provider.clone();
    let trigger = inst.trigger("wecom").unwrap().trigger.clone();
    let rss_empty = resident_bytes();
    // Bound but disabled: bindings, intent and the integration records exist; nothing connects.
    for i in 0..n {
        host.put_integration(integration(i, false));
    }
    let t = trigger.clone();
    host.block_on(async move {
        for i in 0..n {
            let params = TriggerParams { xpert_id: format!("x{i}"), config: json!({"integrationId": format!("i{i}")}) };
            t.publish(&params).await.expect("publish");
        }
    });
    let rss_bound = resident_bytes();
    println!("bound {rss_empty} {rss_bound}");
    let _ = std::io::stdout().flush();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        match line.unwrap_or_default().trim() {
            "enable" => {
                for i in 0..n {
                    host.put_integration(integration(i, true));
                }
                let p = provider.clone();
                // One event wakes the supervisor, which reconciles every integration.
                host.block_on(async move {
                    p.on_lifecycle(LifecycleEvent::Enabled, &integration(0, true), None).await.ok()
                });
                println!("enabled");
            }
            "idle" => {
                let rss_connected = resident_bytes();
                // How much of that is the allocator holding freed memory (glibc keeps what the
                // connect burst freed): the same figure after returning free pages to the OS.
                #[cfg(all(target_os = "linux", target_env = "gnu"))]
                let rss_trimmed = {
                    extern "C" {
                        fn malloc_trim(pad: usize) -> i32;
                    }
                    // SAFETY: malloc_trim only releases free heap memory; no pointer is touched.
                    unsafe { malloc_trim(0) };
                    resident_bytes()
                };
                #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
                let rss_trimmed = rss_connected;
                let cpu_before = cpu_ms();
                std::thread::sleep(Duration::from_secs(5));
                let cpu_per_s = (cpu_ms() - cpu_before) / 5.0;
                println!("idle {rss_connected} {cpu_per_s} {rss_trimmed}");
            }
            "quit" => break,
            _ => {}
        }
        let _ = std::io::stdout().flush();
    }
    inst.stop(Duration::from_secs(30)).ok();
}

fn main() {
    if let Ok(n) = std::env::var(CHILD_ENV) {
        host_child(n.parse().expect("a count"));
        return;
    }
    let sizes: Vec<usize> = std::env::var("LONG_BENCH_SIZES")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("| bots | all subscribed after | resident per idle connection (after malloc_trim) | per bound integration (no socket) | idle CPU | thinking frame after a callback (p50 / p99) |");
    println!("|---|---|---|---|---|---|");
    for n in sizes {
        let sim = rt.block_on(Simulator::start(SimConfig::default())).expect("simulator");
        for i in 0..n {
            sim.add_bot(&format!("B{i}"), &format!("s{i}"));
        }
        let mut child = Command::new(std::env::current_exe().unwrap())
            .env(CHILD_ENV, n.to_string())
            .env("LONG_BENCH_WS", sim.ws_url())
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("host child");
        let mut stdin = child.stdin.take().unwrap();
        let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
        let mut next = |prefix: &str| -> Vec<f64> {
            loop {
                let line = lines.next().expect("a line from the host").expect("utf-8");
                if let Some(rest) = line.strip_prefix(prefix) {
                    return rest.split_whitespace().filter_map(|v| v.parse().ok()).collect();
                }
            }
        };
        let bound = next("bound ");
        let started = Instant::now();
        writeln!(stdin, "enable").unwrap();
        next("enabled");
        let all = rt.block_on(sim.wait_until(Duration::from_secs(300), |s| s.connected_count() >= n));
        let subscribed_after = started.elapsed();
        assert!(all, "only {} of {n} subscribed", sim.connected_count());
        writeln!(stdin, "idle").unwrap();
        let idle = next("idle ");
        let (rss_bound, rss_connected, cpu) = (bound[1] - bound[0], idle[0] - bound[1], idle[1]);
        let rss_trimmed = idle.get(2).map(|t| t - bound[1]).unwrap_or(rss_connected);
        let latency = if n == 1000 { callback_latency(&rt, &sim, n) } else { "—".to_string() };
        println!(
            "| {n} | {:.2} s | {:.1} KiB ({:.1} KiB) | {:.1} KiB | {:.1} ms CPU/s | {latency} |",
            subscribed_after.as_secs_f64(),
            rss_connected / n as f64 / 1024.0,
            rss_trimmed / n as f64 / 1024.0,
            rss_bound / n as f64 / 1024.0,
            cpu
        );
        writeln!(stdin, "quit").unwrap();
        let _ = child.wait();
    }
}

/// Sends callbacks at 500/s for 4 s round-robin over the bots; returns p50 / p99 of the time
/// until each callback's first `aibot_respond_msg` frame (the thinking frame) reaches the
/// simulator.
fn callback_latency(rt: &tokio::runtime::Runtime, sim: &Simulator, n: usize) -> String {
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let total = 2000;
    let start_index = sim.frames().len();
    rt.block_on(async {
        let watcher = {
            let (sent, latencies) = (sent.clone(), latencies.clone());
            async move {
                let mut index = start_index;
                while latencies.lock().len() < total {
                    let fresh = sim.frames_since(index);
                    index += fresh.len();
                    let now = Instant::now();
                    for frame in fresh {
                        if frame.frame["cmd"] == "aibot_respond_msg" {
                            let req_id = frame.frame["headers"]["req_id"].as_str().unwrap_or_default().to_string();
                            if let Some(t0) = sent.lock().remove(&req_id) {
                                latencies.lock().push((now - t0).as_secs_f64() * 1e3);
                            }
                        }
                    }
                    let _ = sim.wait_until(Duration::from_millis(50), |s| !s.frames_since(index).is_empty()).await;
                }
            }
        };
        let sender = async {
            let mut tick = tokio::time::interval(Duration::from_millis(2));
            for k in 0..total {
                tick.tick().await;
                let bot = format!("B{}", k % n);
                let t0 = Instant::now();
                if let Ok(req_id) = sim.send_text(&bot, &format!("u{k}"), Chat::Single, "ping") {
                    sent.lock().insert(req_id, t0);
                }
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(60), futures_util::future::join(watcher, sender)).await;
    });
    let mut all = latencies.lock().clone();
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    format!("{:.2} / {:.2} ms ({} of {total})", percentile(&all, 0.5), percentile(&all, 0.99), all.len())
}

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

use std::io::{BufRead, BufReader, Write};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use host_sdk::host::{load_plugin_at, Manifest, TestHost};
use host_sdk::{InstallLevel, Integration, LifecycleEvent, TriggerParams};
use parking_lot::Mutex;
use serde_json::json;
use wecom_sim::{SimConfig, Simulator};

#[path = "support/latency.rs"]
mod latency;
use latency::percentile;

const CHILD_ENV: &str = "LONG_BENCH_HOST";

fn resident_bytes() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    statm.split_whitespace().nth(1).and_then(|p| p.parse::<f64>().ok()).unwrap_or(0.0) * 4096.0
}

/// User + system CPU time of this process in milliseconds (`/proc/self/stat`, clock ticks of 10 ms).
fn cpu_ms() -> f64 {
    cpu_ms_of("self")
}

/// User + system CPU time of process `pid` (or `self`) in milliseconds.
fn cpu_ms_of(pid: &str) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    let after = stat.rsplit(')').next().unwrap_or_default();
    let fields: Vec<&str> = after.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (ticks(11) + ticks(12)) * 10.0
}

/// Heap bytes in use (glibc `mallinfo2`: allocated chunks of every arena plus mmapped ones): the
/// live memory of host and plugin alike (the plugin library allocates with the same malloc),
/// without the allocator's free lists and without code, stacks or page-table noise.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn heap_bytes() -> f64 {
    #[repr(C)]
    struct Mallinfo2 {
        arena: usize,
        ordblks: usize,
        smblks: usize,
        hblks: usize,
        hblkhd: usize,
        usmblks: usize,
        fsmblks: usize,
        uordblks: usize,
        fordblks: usize,
        keepcost: usize,
    }
    extern "C" {
        fn mallinfo2() -> Mallinfo2;
    }
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let info = unsafe { mallinfo2() };
    (info.uordblks + info.hblkhd) as f64
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn heap_bytes() -> f64 {
    f64::NAN
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

/// The plugin's log level in the host child (`LONG_BENCH_LOG_LEVEL`, default `warn`). The
/// TestHost keeps every log record it receives in memory for its tests (a real host prints them
/// and forgets them), so at `debug` each connection's few info and debug lines would be counted
/// as the plugin's memory; the bench reports how many were kept.
fn log_level() -> String {
    std::env::var("LONG_BENCH_LOG_LEVEL").unwrap_or_else(|_| "warn".into())
}

/// What the host's in-memory KV store holds, by kind of key: `kind=count/bytes` of keys and
/// values (the host's memory, counted in the figures; a real host keeps them in its database).
fn kv_summary(host: &TestHost) -> String {
    let mut kinds: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
    for entry in host.kv().snapshot() {
        let inner = entry.key.rsplit('/').next().unwrap_or(&entry.key);
        let kind = inner.split(':').next().unwrap_or("?").to_string();
        let slot = kinds.entry(kind).or_default();
        slot.0 += 1;
        slot.1 += entry.key.len() + entry.value.len();
    }
    kinds.iter().map(|(k, (n, b))| format!("{k}={n}/{b}")).collect::<Vec<_>>().join(" ")
}

/// The host child: reads commands on stdin, answers on stdout.
fn host_child(n: usize) {
    let host = TestHost::new();
    host.set_config("WECOM_WS_URL", &std::env::var("LONG_BENCH_WS").expect("ws url"));
    host.set_config("WECOM_STREAM_THROTTLE_MS", "1000");
    host.set_config("XPERT_PLUGIN_LOG_LEVEL", &log_level());
    // The plugin's settings can be tried from the bench's environment.
    for key in ["WECOM_CONNECT_CONCURRENCY", "WECOM_HEARTBEAT_MS", "WECOM_RECONCILE_MS"] {
        if let Ok(value) = std::env::var(key) {
            host.set_config(key, &value);
        }
    }
    let manifest_text = include_str!("../manifest.toml");
    let manifest = Manifest::parse(manifest_text, std::path::Path::new("manifest.toml")).expect("manifest");
    let plugin = load_plugin_at(manifest, &plugin_library()).expect("plugin loads");
    let inst = host.install(&plugin, InstallLevel::Tenant).expect("install");
    let provider = inst.provider("wecom_long").unwrap().provider.clone();
    let trigger = inst.trigger("wecom").unwrap().trigger.clone();
    // The first publish starts the supervisor (and the plugin's runtime): paid once per
    // installation, not per integration, so it happens before the baseline.
    host.put_integration(integration(n, false));
    let t = trigger.clone();
    host.block_on(async move {
        let params = TriggerParams { xpert_id: format!("x{n}"), config: json!({"integrationId": format!("i{n}")}) };
        t.publish(&params).await.expect("publish");
    });
    std::thread::sleep(Duration::from_millis(200));
    let (rss_empty, heap_empty) = (resident_bytes(), heap_bytes());
    // Bound but disabled: bindings, intent and the integration records exist; nothing connects.
    for i in 0..n {
        host.put_integration(integration(i, false));
    }
    let heap_records = heap_bytes();
    let t = trigger.clone();
    host.block_on(async move {
        for i in 0..n {
            let params = TriggerParams { xpert_id: format!("x{i}"), config: json!({"integrationId": format!("i{i}")}) };
            t.publish(&params).await.expect("publish");
        }
    });
    // Let the supervisor's reconcile of the new bindings (nothing to start) finish.
    std::thread::sleep(Duration::from_millis(500));
    let (rss_bound, heap_bound) = (resident_bytes(), heap_bytes());
    println!("bound {rss_empty} {rss_bound} {heap_empty} {heap_bound} {}", host.logs().len());
    println!("kv-bound {}", kv_summary(&host));
    println!("records-bound {:.0}", (heap_records - heap_empty) / n as f64);
    let _ = std::io::stdout().flush();
    let stdin = std::io::stdin();
    for line in stdin.lock().lines() {
        match line.unwrap_or_default().trim() {
            "enable" => {
                for i in 0..n {
                    host.put_integration(integration(i, true));
                }
                let p = provider.clone();
                // One event wakes the supervisor, which reconciles every integration at once.
                println!("enabling");
                let _ = std::io::stdout().flush();
                host.block_on(async move {
                    p.on_lifecycle(LifecycleEvent::Enabled, &integration(0, true), None).await.ok()
                });
                println!("enabled");
            }
            "idle" => {
                let (rss_connected, heap_connected) = (resident_bytes(), heap_bytes());
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
                println!("kv-idle {}", kv_summary(&host));
                println!("idle {rss_connected} {cpu_per_s} {rss_trimmed} {heap_connected} {}", host.logs().len());
            }
            "quit" => break,
            _ => {}
        }
        let _ = std::io::stdout().flush();
    }
    inst.stop(Duration::from_secs(30)).ok();
}

/// The simulator alone, with the thinnest client: a child process opens `n` raw WebSockets
/// (tokio-tungstenite, no plugin code), 128 at a time (the plugin's default opening
/// concurrency), each sending `aibot_subscribe` and waiting for its ack. Prints the seconds from
/// the first connect until `min(n, 3000)` and until all were acked. What the simulator can take
/// on this machine bounds what the plugin can be measured at.
fn client_child(n: usize) {
    use futures_util::{SinkExt, StreamExt};
    let url = std::env::var("LONG_BENCH_WS").expect("ws url");
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    let elapsed = rt.block_on(async move {
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let done = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let mark: Arc<Mutex<Option<Duration>>> = Arc::default();
        let started = Instant::now();
        let workers: Vec<_> = (0..128)
            .map(|_| {
                let (next, url, done, mark) = (next.clone(), url.clone(), done.clone(), mark.clone());
                tokio::spawn(async move {
                    let mut held = Vec::new();
                    loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= n {
                            break held;
                        }
                        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connect");
                        let frame = json!({"cmd": "aibot_subscribe", "headers": {"req_id": format!("sub{i}")},
                            "body": {"bot_id": format!("B{i}"), "secret": format!("s{i}")}});
                        ws.send(tokio_tungstenite::tungstenite::Message::Text(frame.to_string().into()))
                            .await
                            .expect("send");
                        while let Some(Ok(message)) = ws.next().await {
                            if message.is_text() {
                                break;
                            }
                        }
                        held.push(ws);
                        if done.fetch_add(1, std::sync::atomic::Ordering::Relaxed) + 1 == n.min(3000) {
                            *mark.lock() = Some(started.elapsed());
                        }
                    }
                })
            })
            .collect();
        let mut held = Vec::new();
        for worker in workers {
            held.push(worker.await.expect("worker"));
        }
        let elapsed = started.elapsed();
        drop(held);
        let marked = mark.lock().unwrap_or(elapsed);
        (marked, elapsed)
    });
    println!("clients {} {}", elapsed.0.as_secs_f64(), elapsed.1.as_secs_f64());
}

/// Samples the simulator's subscribed count every 2 ms until `n` are subscribed; returns, counted
/// from `from`, when the first, the `mark`th, the last, and half, 90 % and 99 % had subscribed.
fn subscribe_progress(rt: &tokio::runtime::Runtime, sim: &Simulator, n: usize, mark: usize, from: Instant) -> [f64; 6] {
    rt.block_on(async {
        let mut seen = [f64::NAN; 6];
        let deadline = Instant::now() + Duration::from_secs(300);
        loop {
            let count = sim.connected_count();
            let at = from.elapsed().as_secs_f64();
            for (slot, goal) in seen.iter_mut().zip([1, mark, n, n.div_ceil(2), n * 9 / 10, n * 99 / 100]) {
                if slot.is_nan() && count >= goal {
                    *slot = at;
                }
            }
            if count >= n || Instant::now() > deadline {
                return seen;
            }
            tokio::time::sleep(Duration::from_millis(2)).await;
        }
    })
}

fn main() {
    if let Ok(n) = std::env::var(CHILD_ENV) {
        host_child(n.parse().expect("a count"));
        return;
    }
    if let Ok(n) = std::env::var("LONG_BENCH_CLIENTS") {
        client_child(n.parse().expect("a count"));
        return;
    }
    let sizes: Vec<usize> = std::env::var("LONG_BENCH_SIZES")
        .unwrap_or_else(|_| "100,1000,10000".into())
        .split(',')
        .filter_map(|s| s.trim().parse().ok())
        .collect();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    println!("plugin log level in the host: {} (LONG_BENCH_LOG_LEVEL)", log_level());
    let mut table = vec![
        "| bots | first subscribed after enable | 3 000 (or all) subscribed after enable | all subscribed after enable | CPU while subscribing: simulator / host (% of a core) | simulator alone, raw clients: 3 000 (or all) / all subscribed after | heap per idle connection | resident per idle connection (after malloc_trim) | heap / resident per bound integration (no socket) | idle CPU | thinking frame after a callback (p50 / p99) |".to_string(),
        "|---|---|---|---|---|---|---|---|---|---|---|".to_string(),
    ];
    for n in sizes {
        // The simulator alone first, on a simulator of its own.
        let clients_alone = {
            let sim = rt.block_on(Simulator::start(SimConfig::default())).expect("simulator");
            for i in 0..n {
                sim.add_bot(&format!("B{i}"), &format!("s{i}"));
            }
            let out = Command::new(std::env::current_exe().unwrap())
                .env("LONG_BENCH_CLIENTS", n.to_string())
                .env("LONG_BENCH_WS", sim.ws_url())
                .stderr(Stdio::null())
                .output()
                .expect("client child");
            let text = String::from_utf8_lossy(&out.stdout);
            let seconds: Vec<f64> = text
                .lines()
                .find_map(|l| {
                    l.strip_prefix("clients ").map(|v| v.split_whitespace().filter_map(|x| x.parse().ok()).collect())
                })
                .unwrap_or_default();
            (seconds.first().copied().unwrap_or(f64::NAN), seconds.get(1).copied().unwrap_or(f64::NAN))
        };
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
                if line.starts_with("kv-") || line.starts_with("records-") {
                    eprintln!("n={n}: {line}");
                }
                if let Some(rest) = line.strip_prefix(prefix) {
                    return rest.split_whitespace().filter_map(|v| v.parse().ok()).collect();
                }
            }
        };
        let bound = next("bound ");
        let child_pid = child.id().to_string();
        writeln!(stdin, "enable").unwrap();
        next("enabling");
        let started = Instant::now();
        let (sim_cpu, host_cpu) = (cpu_ms(), cpu_ms_of(&child_pid));
        let mark = n.min(3000);
        let [first, marked, all, half, most, nearly] = subscribe_progress(&rt, &sim, n, mark, started);
        // Who used the two cores while they subscribed: the simulator (this process) and the host.
        let busy = |cpu_ms: f64| cpu_ms / 10.0 / all.max(0.001);
        let (sim_busy, host_busy) = (busy(cpu_ms() - sim_cpu), busy(cpu_ms_of(&child_pid) - host_cpu));
        eprintln!(
            "n={n}: subscribed after enable: 50 % {half:.3} s, 90 % {most:.3} s, 99 % {nearly:.3} s, all {all:.3} s"
        );
        next("enabled");
        assert!(sim.connected_count() >= n, "only {} of {n} subscribed", sim.connected_count());
        writeln!(stdin, "idle").unwrap();
        let idle = next("idle ");
        let (rss_bound, heap_bound) = (bound[1] - bound[0], bound[3] - bound[2]);
        let (rss_connected, cpu, rss_trimmed, heap_connected) =
            (idle[0] - bound[1], idle[1], idle[2] - bound[1], idle[3] - bound[3]);
        eprintln!("n={n}: log records kept by the test host: {} after binding, {} when idle", bound[4], idle[4]);
        let latency = if n == 1000 { callback_latency(&rt, &sim, n) } else { "—".to_string() };
        let kib = |bytes: f64| bytes / n as f64 / 1024.0;
        let row = format!(
            "| {n} | {first:.3} s | {marked:.3} s ({mark}) | {all:.3} s | {sim_busy:.0} % / {host_busy:.0} % | {:.3} s / {:.3} s | {:.1} KiB | {:.1} KiB ({:.1} KiB) | {:.1} / {:.1} KiB | {cpu:.1} ms CPU/s | {latency} |",
            clients_alone.0,
            clients_alone.1,
            kib(heap_connected),
            kib(rss_connected),
            kib(rss_trimmed),
            kib(heap_bound),
            kib(rss_bound),
        );
        println!("{row}");
        table.push(row);
        writeln!(stdin, "quit").unwrap();
        let _ = child.wait();
    }
    println!();
    for row in table {
        println!("{row}");
    }
}

fn callback_latency(rt: &tokio::runtime::Runtime, sim: &Simulator, n: usize) -> String {
    let total = 2000;
    let all = rt.block_on(latency::first_frame_latencies(sim, total, "u", |k| format!("B{}", k % n)));
    format!("{:.2} / {:.2} ms ({} of {total})", percentile(&all, 0.5), percentile(&all, 0.99), all.len())
}

//! ABI benchmark (a bench binary, `harness = false`): plugin load time, the cost of one
//! host→plugin call, of one plugin→host service call, and the per-event cost of the agent stream.
//!
//! Run: `cargo bench --bench abi` (release). Medians of repeated batches are printed as a table;
//! BENCHMARKS.md records a run. Load is timed as a host does it, once per process: the binary
//! re-runs itself as child processes (`ABI_BENCH_LOAD_CHILD`), each loading the plugin once;
//! `ABI_BENCH_LOAD_SAMPLES` sets how many (default 21). Tenant installations are measured the
//! same way: a child per count (`ABI_BENCH_TENANTS_CHILD`) loads the plugin once and registers it
//! for 1, 10 or 100 tenants, reporting the time of each `register` and its resident memory.

use std::path::{Path, PathBuf};
use std::time::Instant;

use std::sync::Arc;

use host_sdk::host::{export_host_api, load_plugin, AgentBackend, AgentEventReceiver, TestHost};
use host_sdk::plugin::Host;
use host_sdk::{AgentEvent, AgentRequest, BoxFuture, Error, InstallLevel, Integration};

fn median(mut samples: Vec<f64>) -> f64 {
    samples.sort_by(|a, b| a.partial_cmp(b).unwrap());
    samples[samples.len() / 2]
}

fn lib_file(base: &str) -> String {
    format!("{}{}{}", std::env::consts::DLL_PREFIX, base, std::env::consts::DLL_SUFFIX)
}

fn plugin_library() -> PathBuf {
    if let Some(p) = std::env::var_os("XPERT_PLUGIN_LIB") {
        return PathBuf::from(p);
    }
    let exe = std::env::current_exe().expect("bench executable");
    exe.parent().expect("deps dir").join(lib_file("plugin_wecom"))
}

/// Times `batch` calls of `f`, `batches` times; returns the median cost of one call in ns.
fn per_call(batches: usize, batch: usize, mut f: impl FnMut()) -> f64 {
    let samples = (0..batches)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..batch {
                f();
            }
            start.elapsed().as_nanos() as f64 / batch as f64
        })
        .collect();
    median(samples)
}

/// Pulls a stream to its `Done`; returns how many events came before it.
async fn drain(stream: &mut host_sdk::plugin::AgentEventStream) -> usize {
    let mut count = 0;
    while let Some(ev) = stream.next().await {
        if ev == AgentEvent::Done {
            break;
        }
        count += 1;
    }
    count
}

/// An agent whose events are all queued before the stream is handed out.
struct Prefilled(usize);

impl AgentBackend for Prefilled {
    fn invoke(&self, _tenant: String, _request: AgentRequest) -> BoxFuture<'static, Result<AgentEventReceiver, Error>> {
        let n = self.0;
        Box::pin(async move {
            let (tx, rx) = tokio::sync::mpsc::channel(n + 1);
            for i in 0..n {
                tx.try_send(AgentEvent::TextDelta(format!("token {i} "))).expect("capacity");
            }
            tx.try_send(AgentEvent::Done).expect("capacity");
            Ok(rx)
        })
    }
}

/// The environment variable that makes this binary a one-load child (its value: the plugin folder).
const CHILD_ENV: &str = "ABI_BENCH_LOAD_CHILD";

/// One load of the plugin as a host does it, in a process that has loaded nothing yet: prints
/// `load open checks cross register first_call` in milliseconds on one line.
fn child_load(folder: &Path) {
    let host = TestHost::new();
    let start = Instant::now();
    let plugin = load_plugin(folder).expect("load");
    let loaded = start.elapsed();
    let inst = host.install(&plugin, InstallLevel::Tenant).expect("install");
    let registered = start.elapsed();
    let ping = inst.routes.iter().find(|r| r.spec.path == "/wecom/ping").unwrap().handler.clone();
    let call = Instant::now();
    host.block_on(async { ping.handle(host_sdk::HttpRequest::default()).await }).expect("ping");
    let first_call = call.elapsed();
    let ms = |d: std::time::Duration| d.as_secs_f64() * 1e3;
    let t = &plugin.timings;
    println!(
        "{} {} {} {} {} {}",
        ms(loaded),
        ms(t.open),
        ms(t.checks),
        ms(t.cross_check),
        ms(registered),
        ms(first_call)
    );
}

/// The environment variable that makes this binary a tenant-installations child (its value: the
/// plugin folder); `ABI_BENCH_TENANTS` holds the number of tenants.
const TENANTS_CHILD_ENV: &str = "ABI_BENCH_TENANTS_CHILD";

/// Resident memory of this process in bytes (Linux `/proc/self/statm`; 0 elsewhere).
fn resident_bytes() -> f64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: f64 = statm.split_whitespace().nth(1).and_then(|p| p.parse().ok()).unwrap_or(0.0);
    pages * 4096.0
}

/// Loads the plugin once and installs it for `ABI_BENCH_TENANTS` tenants, each with its own
/// scoped host API, as the reference host does; prints `load_ms median_register_ms
/// rss_after_first rss_after_all` on one line. The installations are kept alive while measuring.
fn child_tenants(folder: &Path) {
    let tenants: usize = std::env::var("ABI_BENCH_TENANTS").ok().and_then(|n| n.parse().ok()).unwrap_or(1);
    let host = TestHost::new();
    let start = Instant::now();
    let plugin = load_plugin(folder).expect("load");
    let load_ms = start.elapsed().as_secs_f64() * 1e3;
    let mut registers = Vec::with_capacity(tenants);
    let mut kept = Vec::with_capacity(tenants);
    let mut rss_after_first = 0.0;
    for i in 0..tenants {
        let tenant = format!("tenant-{i}");
        let start = Instant::now();
        let inst = host.install_in(&plugin, InstallLevel::Tenant, &tenant).expect("install");
        registers.push(start.elapsed().as_secs_f64() * 1e3);
        kept.push(inst);
        if i == 0 {
            rss_after_first = resident_bytes();
        }
    }
    let rss_after_all = resident_bytes();
    println!("{load_ms} {} {rss_after_first} {rss_after_all}", median(registers));
    drop(kept);
}

/// A plugin folder (manifest + a copy of the library) in a fresh temp dir.
fn plugin_folder(manifest: &str, lib: &Path) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("manifest.toml"), manifest).unwrap();
    std::fs::copy(lib, dir.path().join(lib_file("plugin_wecom"))).unwrap();
    dir
}

fn main() {
    if let Some(folder) = std::env::var_os(CHILD_ENV) {
        child_load(Path::new(&folder));
        return;
    }
    if let Some(folder) = std::env::var_os(TENANTS_CHILD_ENV) {
        child_tenants(Path::new(&folder));
        return;
    }
    let lib = plugin_library();
    assert!(lib.is_file(), "build the plugin first: {}", lib.display());
    let manifest = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest.toml")).unwrap();
    let samples: usize = std::env::var("ABI_BENCH_LOAD_SAMPLES").ok().and_then(|s| s.parse().ok()).unwrap_or(21);
    println!("| measurement | median | notes |");
    println!("|---|---|---|");

    // 1a. Load as a host does it: once per process. Each sample is a child process of this
    // binary that loads the plugin once and reports its own timings.
    let folder = plugin_folder(&manifest, &lib);
    let exe = std::env::current_exe().expect("bench executable");
    let mut columns: [Vec<f64>; 6] = Default::default();
    for _ in 0..samples {
        let out = std::process::Command::new(&exe).env(CHILD_ENV, folder.path()).output().expect("child runs");
        assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
        let line = String::from_utf8(out.stdout).expect("utf-8");
        let values: Vec<f64> = line.split_whitespace().map(|v| v.parse().expect("a figure")).collect();
        assert_eq!(values.len(), columns.len(), "child line: {line}");
        for (column, value) in columns.iter_mut().zip(values) {
            column.push(value);
        }
    }
    let [load, open, checks, cross, registered, first_call] = columns.map(median);
    println!(
        "| **load + register (tenant)**, first load in a process | **{registered:.3} ms** | what a host does; {samples} child processes |"
    );
    println!("| — load: manifest read + dlopen + layout check | {load:.3} ms | |");
    println!(
        "| — of which dlopen / version + layout check / manifest cross-check | {open:.3} / {checks:.3} / {cross:.3} ms | |"
    );
    println!(
        "| first async call after register (`GET /wecom/ping`) | {first_call:.3} ms | starts the plugin runtime (2 worker threads) |"
    );

    // 1b. Tenant installations: one load, then `register` once per tenant, in a fresh process
    // per count (5 processes each); resident memory per additional installation from the growth
    // between the first and the last.
    for tenants in [1usize, 10, 100] {
        let mut per_register = Vec::new();
        let mut per_install_kib = Vec::new();
        let mut loads = Vec::new();
        for _ in 0..5 {
            let out = std::process::Command::new(&exe)
                .env(TENANTS_CHILD_ENV, folder.path())
                .env("ABI_BENCH_TENANTS", tenants.to_string())
                .output()
                .expect("child runs");
            assert!(out.status.success(), "child failed: {}", String::from_utf8_lossy(&out.stderr));
            let line = String::from_utf8(out.stdout).expect("utf-8");
            let v: Vec<f64> = line.split_whitespace().map(|v| v.parse().expect("a figure")).collect();
            loads.push(v[0]);
            per_register.push(v[1]);
            if tenants > 1 {
                per_install_kib.push((v[3] - v[2]) / (tenants - 1) as f64 / 1024.0);
            }
        }
        let memory = if tenants > 1 {
            format!("{:.1} KiB resident per additional installation", median(per_install_kib))
        } else {
            "—".to_string()
        };
        println!(
            "| {tenants} tenant installation(s): `register` per installation | {:.3} ms | load {:.3} ms once; {memory}; 5 child processes |",
            median(per_register),
            median(loads)
        );
    }

    // 1c. Repeated loads in one process: each sample a fresh copy of the library (dlopen of an
    // already-open file returns the same image). Slower than 1a: abi_stable merges every copy's
    // prefix types into its process-wide map and re-checks them against the earlier copies.
    let dirs: Vec<tempfile::TempDir> = (0..samples).map(|_| plugin_folder(&manifest, &lib)).collect();
    let host = TestHost::new();
    let mut load_only = Vec::new();
    let mut load_and_register = Vec::new();
    let mut kept = Vec::new();
    for dir in &dirs {
        let start = Instant::now();
        let plugin = load_plugin(dir.path()).expect("load");
        let loaded = start.elapsed();
        let inst = host.install(&plugin, InstallLevel::Tenant).expect("install");
        let registered = start.elapsed();
        load_only.push(loaded.as_secs_f64() * 1e3);
        load_and_register.push(registered.as_secs_f64() * 1e3);
        kept.push((plugin, inst));
    }
    println!(
        "| load + register (tenant), repeated in one process | {:.3} ms (load alone {:.3} ms) | fresh copy of the library each time, {} samples |",
        median(load_and_register),
        median(load_only),
        dirs.len()
    );

    let (_, inst) = &kept[0];
    let view = inst.views[0].view.clone();
    let provider = inst.provider("wecom_long").unwrap().provider.clone();

    // 2. host → plugin: a synchronous call through the vtable with its panic guard.
    let ns = per_call(15, 200_000, || {
        std::hint::black_box(view.supports(std::hint::black_box("wecom_long")));
    });
    println!("| host→plugin call (`ViewExtension::supports`) | {ns:.1} ns | vtable + panic guard + `RStr` argument |");
    let integration = Integration {
        id: "bench".into(),
        name: "bench".into(),
        provider: "wecom_long".into(),
        enabled: true,
        options: serde_json::json!({"botId": "aibBENCH", "secret": "s"}),
    };
    let ns = per_call(15, 20_000, || {
        std::hint::black_box(provider.validate_config(&integration).unwrap());
    });
    println!(
        "| host→plugin call with JSON (`validate_config`) | {:.2} µs | serialize + parse + validate + answer |",
        ns / 1e3
    );

    // 3. plugin → host: the plugin's client calling the host's services through the FFI objects.
    let services = host.services();
    let client = Host::new(export_host_api(services, host.handle(), "bench", "tenant"));
    let ns = per_call(15, 200_000, || {
        std::hint::black_box(client.now_ms());
    });
    println!("| plugin→host call (`HostApi::now_ms`) | {ns:.1} ns | sync service call |");
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    rt.block_on(client.kv().set("k", "v", 0)).unwrap();
    let samples: Vec<f64> = (0..15)
        .map(|_| {
            rt.block_on(async {
                let n = 50_000;
                let start = Instant::now();
                for _ in 0..n {
                    std::hint::black_box(client.kv().get("k").await.unwrap());
                }
                start.elapsed().as_nanos() as f64 / n as f64
            })
        })
        .collect();
    println!(
        "| plugin→host async call (`KvStore::get`, in-memory) | {:.1} ns | FfiFuture, host runtime entered on poll |",
        median(samples)
    );

    // 4. Agent stream: events produced by a host task, pulled by the plugin-side client.
    let agent = host.agent().clone();
    let n_events = 20_000;
    agent.on_prefix("bench", (0..n_events).map(|i| AgentEvent::TextDelta(format!("token {i} "))).collect());
    let samples: Vec<f64> = (0..9)
        .map(|_| {
            rt.block_on(async {
                let start = Instant::now();
                let mut stream = client
                    .agents()
                    .invoke(AgentRequest { xpert_id: "x".into(), input: "bench".into(), ..Default::default() })
                    .await
                    .unwrap();
                assert_eq!(drain(&mut stream).await, n_events);
                start.elapsed().as_nanos() as f64 / n_events as f64
            })
        })
        .collect();
    println!(
        "| agent stream, per event (live producer) | {:.0} ns | {n_events} events from a host task on another thread (mpsc wake-ups included) |",
        median(samples)
    );

    // The stream's own cost: every event already queued, so no cross-thread wake-up is measured.
    let prefilled_services = host_sdk::host::ServiceSet { agents: Arc::new(Prefilled(n_events)), ..host.services() };
    let prefilled = Host::new(export_host_api(prefilled_services, host.handle(), "bench", "tenant"));
    let samples: Vec<f64> = (0..9)
        .map(|_| {
            rt.block_on(async {
                let mut stream = prefilled.agents().invoke(AgentRequest::default()).await.unwrap();
                let start = Instant::now();
                assert_eq!(drain(&mut stream).await, n_events);
                start.elapsed().as_nanos() as f64 / n_events as f64
            })
        })
        .collect();
    println!(
        "| agent stream, per event (queued) | {:.0} ns | FFI pull + NonExhaustive conversion + `RString` → `String` |",
        median(samples)
    );

    // For reference: an async route call through the plugin (future polled in the caller,
    // plugin runtime entered on each poll).
    let ping = inst.routes.iter().find(|r| r.spec.path == "/wecom/ping").unwrap().handler.clone();
    let samples: Vec<f64> = (0..15)
        .map(|_| {
            rt.block_on(async {
                let n = 20_000;
                let start = Instant::now();
                for _ in 0..n {
                    std::hint::black_box(ping.handle(host_sdk::HttpRequest::default()).await.unwrap());
                }
                start.elapsed().as_nanos() as f64 / n as f64
            })
        })
        .collect();
    println!(
        "| async route call (`GET /wecom/ping` handler) | {:.2} µs | request + response conversion, JSON body |",
        median(samples) / 1e3
    );
    drop(kept);
}

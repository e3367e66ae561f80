//! Where an idle long connection's memory goes, measured rather than guessed: a counting global
//! allocator in this test binary attributes every allocation made on the client's runtime threads
//! (the simulator runs on a runtime of its own, whose threads are not counted), and a histogram of
//! live allocations by exact size shows which objects each connection keeps.
//!
//! The figures are requested bytes (`Layout::size`) plus an estimate of glibc malloc's own
//! overhead (8 bytes per chunk, 16-byte granules, 32 bytes at least), for N connections held at
//! once; the per-connection budget asserted here is the client's share of the 8 KiB per
//! idle connection. Run with `--nocapture` to see the itemisation, and in release
//! (`cargo test --release -p plugin-wecom --test long_memory -- --nocapture`) for the figures the
//! benchmark sees: debug builds keep bigger futures.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use plugin_wecom::long::client::{connect_compact, Client, ClientConfig};
use plugin_wecom::long::transport::{self, TlsSettings};
use tokio::runtime::Runtime;
use wecom_sim::{SimConfig, Simulator};

/// Allocations larger than this are counted in one last bucket.
const LARGEST_TRACKED: usize = 64 * 1024;

static LIVE_BYTES: AtomicI64 = AtomicI64::new(0);
static LIVE_FOOTPRINT: AtomicI64 = AtomicI64::new(0);
static LIVE_BY_SIZE: [AtomicI64; LARGEST_TRACKED + 1] = [const { AtomicI64::new(0) }; LARGEST_TRACKED + 1];

thread_local! {
    /// Set on the client runtime's threads: only their allocations and frees are counted.
    static COUNTED: Cell<bool> = const { Cell::new(false) };
}

/// What glibc malloc takes for a request of `size` bytes on a 64-bit target.
fn footprint(size: usize) -> i64 {
    ((size + 8).div_ceil(16) * 16).max(32) as i64
}

fn record(size: usize, sign: i64) {
    if !COUNTED.try_with(Cell::get).unwrap_or(false) {
        return;
    }
    LIVE_BYTES.fetch_add(sign * size as i64, Ordering::Relaxed);
    LIVE_FOOTPRINT.fetch_add(sign * footprint(size), Ordering::Relaxed);
    LIVE_BY_SIZE[size.min(LARGEST_TRACKED)].fetch_add(sign, Ordering::Relaxed);
}

struct Counting;

// SAFETY: every call is forwarded to the system allocator unchanged; the bookkeeping only touches
// atomics and a const-initialised thread-local without a destructor (no allocation, no reentry).
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            record(layout.size(), 1);
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            record(layout.size(), 1);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        record(layout.size(), -1);
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            record(layout.size(), -1);
            record(new_size, 1);
        }
        p
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The live allocations at one moment.
struct Snapshot {
    bytes: i64,
    footprint: i64,
    by_size: Vec<i64>,
}

fn snapshot() -> Snapshot {
    Snapshot {
        bytes: LIVE_BYTES.load(Ordering::Relaxed),
        footprint: LIVE_FOOTPRINT.load(Ordering::Relaxed),
        by_size: LIVE_BY_SIZE.iter().map(|c| c.load(Ordering::Relaxed)).collect(),
    }
}

/// What `n` connections added between two snapshots: bytes and malloc footprint per connection,
/// and every allocation size of which at least `n / 2` more are live (the per-connection objects).
struct Cost {
    per_connection_bytes: f64,
    per_connection_footprint: f64,
    items: Vec<(usize, f64)>,
}

impl Cost {
    fn between(before: &Snapshot, after: &Snapshot, n: usize) -> Cost {
        let mut items: Vec<(usize, f64)> = (0..=LARGEST_TRACKED)
            .filter_map(|size| {
                let more = after.by_size[size] - before.by_size[size];
                (more as usize >= n / 2 && more > 0).then_some((size, more as f64 / n as f64))
            })
            .collect();
        items.sort_by(|a, b| (b.0 as f64 * b.1).total_cmp(&(a.0 as f64 * a.1)));
        Cost {
            per_connection_bytes: (after.bytes - before.bytes) as f64 / n as f64,
            per_connection_footprint: (after.footprint - before.footprint) as f64 / n as f64,
            items,
        }
    }

    fn print(&self, what: &str) {
        println!(
            "{what}: {:.0} B requested, {:.0} B with malloc overhead per connection",
            self.per_connection_bytes, self.per_connection_footprint
        );
        for (size, count) in &self.items {
            println!("    {size:>6} B × {count:.2}");
        }
    }
}

fn client_runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .on_thread_start(|| COUNTED.with(|c| c.set(true)))
        .on_thread_stop(|| COUNTED.with(|c| c.set(false)))
        .build()
        .expect("client runtime")
}

fn simulator(bots: usize, tls: bool) -> (Runtime, Simulator) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().expect("sim runtime");
    let sim = rt.block_on(Simulator::start(SimConfig { tls, ..SimConfig::default() })).expect("simulator");
    for i in 0..bots {
        sim.add_bot(&format!("B{i}"), &format!("s{i}"));
    }
    (rt, sim)
}

fn config(url: String, heartbeat: Duration, tls: TlsSettings) -> ClientConfig {
    ClientConfig { heartbeat_interval: heartbeat, ..ClientConfig::new(url, tls) }
}

fn public_roots() -> TlsSettings {
    TlsSettings::new(None).expect("public roots")
}

/// Connections held open by tasks of the client runtime (so that their memory is allocated and
/// freed on counted threads); dropping it closes them.
struct Held {
    release: tokio::sync::watch::Sender<bool>,
    clients: Vec<Client>,
}

/// Opens `n` clients on the client runtime, each driven by a task as the actor drives it,
/// subscribing them when `subscribe` is set. Waits until the simulator has them all.
fn open_clients(rt: &Runtime, sim: &Simulator, n: usize, heartbeat: Duration, tls: TlsSettings) -> Held {
    let subscribe = true;
    let (release, released) = tokio::sync::watch::channel(false);
    let url = sim.ws_url();
    let clients = rt
        .block_on(rt.spawn(async move {
            let config = config(url, heartbeat, tls);
            let mut clients = Vec::with_capacity(n);
            for i in 0..n {
                let (client, driver, mut callbacks) = connect_compact(&config).await.expect("connect");
                let mut released = released.clone();
                tokio::spawn(async move {
                    let mut driver = std::pin::pin!(driver);
                    loop {
                        tokio::select! {
                            _ = &mut driver => break,
                            _ = callbacks.recv() => {}
                            _ = released.changed() => break,
                        }
                    }
                });
                if subscribe {
                    client.subscribe(&format!("B{i}"), &format!("s{i}")).await.expect("subscribed");
                }
                clients.push(client);
            }
            clients
        }))
        .expect("the opening task");
    if subscribe {
        assert!(rt.block_on(sim.wait_until(Duration::from_secs(60), |s| s.connected_count() >= n)));
    }
    Held { release, clients }
}

fn close(rt: &Runtime, sim: &Simulator, held: Held) {
    for client in &held.clients {
        client.close();
    }
    let _ = held.release.send(true);
    let clients = held.clients;
    rt.block_on(rt.spawn(async move { drop(clients) })).expect("dropping the clients");
    assert!(rt.block_on(sim.wait_until(Duration::from_secs(60), |s| s.connected_count() == 0)));
}

/// Lets every task settle, then snapshots.
fn settled(rt: &Runtime) -> Snapshot {
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(300)).await });
    snapshot()
}

#[test]
fn an_idle_subscribed_client_keeps_its_memory_small_and_itemised() {
    let n: usize = std::env::var("LONG_MEMORY_N").ok().and_then(|v| v.parse().ok()).unwrap_or(300);
    let (_sim_rt, sim) = simulator(n, false);
    let url = sim.ws_url();
    let rt = client_runtime();
    let long = Duration::from_secs(3600);

    // Warm up: the runtime's I/O and timer structures, lazy statics, the TLS roots.
    let warm = open_clients(&rt, &sim, 8, Duration::from_millis(50), public_roots());
    rt.block_on(async { tokio::time::sleep(Duration::from_millis(200)).await });
    close(&rt, &sim, warm);

    // 1. The socket alone: TCP stream, its registration with the runtime, tungstenite's state.
    let before = settled(&rt);
    let url_for_sockets = url.clone();
    let sockets = rt
        .block_on(rt.spawn(async move {
            let tls = TlsSettings::new(None).expect("public roots");
            let mut sockets = Vec::with_capacity(n);
            for _ in 0..n {
                sockets.push(transport::connect(&url_for_sockets, None, &tls, Duration::from_secs(10)).await.unwrap());
            }
            sockets
        }))
        .expect("opening sockets");
    let socket = Cost::between(&before, &settled(&rt), n);
    rt.block_on(rt.spawn(async move { drop(sockets) })).expect("dropping sockets");

    // 2. A subscribed client with the 30 s default heartbeat, before its first ping.
    let before = settled(&rt);
    let held = open_clients(&rt, &sim, n, long, public_roots());
    let subscribed = Cost::between(&before, &settled(&rt), n);
    close(&rt, &sim, held);

    // 3. The same after heartbeats have run (ping bookkeeping, the interval's timer).
    let before = settled(&rt);
    let held = open_clients(&rt, &sim, n, Duration::from_millis(100), public_roots());
    assert!(rt.block_on(
        sim.wait_until(Duration::from_secs(60), |_| held.clients.iter().all(|c| c.last_ping_ack_ms().is_some()))
    ));
    let pinged = Cost::between(&before, &settled(&rt), n);
    close(&rt, &sim, held);

    // 4. wss://, as against WeCom itself: rustls's per-connection state comes on top. Reported, not
    //    budgeted: the bench and the target are about ws:// against the simulator.
    let (_tls_rt, tls_sim) = simulator(n, true);
    let dir = tempfile::tempdir().expect("temp dir");
    let ca_file = dir.path().join("sim-ca.pem");
    std::fs::write(&ca_file, tls_sim.ca_pem().expect("the TLS simulator's CA")).expect("write the CA file");
    let tls = TlsSettings::new(Some(&ca_file)).expect("trust the simulator's CA");
    let warm = open_clients(&rt, &tls_sim, 8, long, tls.clone());
    close(&rt, &tls_sim, warm);
    let before = settled(&rt);
    let held = open_clients(&rt, &tls_sim, n, long, tls);
    let secure = Cost::between(&before, &settled(&rt), n);
    close(&rt, &tls_sim, held);

    println!("{n} connections at once (sizes live about once or more per connection):");
    socket.print("socket + WebSocket state (transport::connect)");
    subscribed.print("client subscribed, idle, driver in a task (client::connect_compact + subscribe, as the actor)");
    pinged.print("client after heartbeats");
    secure.print("client subscribed over wss:// (rustls)");

    // The client's share of the 8 KiB per idle connection (with the task that drives it
    // here; the actor's own future and records are the rest). Measured: 3.0 KiB, from 14.4 KiB
    // before the channels, the handshake's buffer and the driver's future were dealt with.
    for (what, cost) in [("subscribed", &subscribed), ("after heartbeats", &pinged)] {
        assert!(
            cost.per_connection_footprint <= 4.0 * 1024.0,
            "an idle {what} client keeps {:.0} B; its budget is 4 KiB",
            cost.per_connection_footprint
        );
    }
    assert!(
        socket.per_connection_footprint <= 1.5 * 1024.0,
        "a socket alone keeps {:.0} B: is the read buffer still the handshake's 4 KiB?",
        socket.per_connection_footprint
    );
}

//! Several hosts (issue 13), a bench binary (`harness = false`): three `xpert-host` processes on
//! PostgreSQL + Redis against one host on its embedded SQLite, side by side in one run, each with
//! 1,000 long-connection bots (`SEVERAL_BENCH_BOTS`) against a simulator of its own:
//!
//! - callbacks answered per second: 3,000 messages pushed at once (three per bot, each from a new
//!   user), until every answer's stream is sealed;
//! - callback → thinking frame p50 / p99: 2,000 callbacks at 500/s (`support/latency.rs`);
//! - lease renewals per second: every lease's expiry sampled every 100 ms for 30 s, three renewal
//!   periods (each renewal moves it), read from Redis or from the SQLite file;
//! - failover after SIGKILL (three hosts only), ten times: the host holding most bots is killed,
//!   and the time until every one of its bots is subscribed again from another host is taken;
//!   the killed host is started again before the next round;
//! - RSS per bot per host (`/proc/<pid>/status`), with every bot connected and spread.
//!
//! Rounds of the two set-ups are interleaved and medians reported. Production timings (lease TTL
//! 30 s, instance heartbeat 5 s / 15 s) except the settle period, 5 s instead of 60 s
//! (`SEVERAL_BENCH_SETTLE_MS`), so that a restarted host gets its share back within the run.
//! Needs PostgreSQL and Redis (`XPERT_TEST_DATABASE_URL`, `XPERT_TEST_REDIS_URL`).
//!
//! Run: `cargo bench --bench several_hosts`.

#[path = "support/latency.rs"]
mod latency;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use latency::percentile;
use parking_lot::Mutex;
use serde_json::{json, Value};
use testkit::process::ChildServer;
use wecom_sim::sim::Chat;
use wecom_sim::{SimConfig, Simulator};

const TOKEN: &str = "bench-token";

fn bots() -> usize {
    std::env::var("SEVERAL_BENCH_BOTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1000)
}

fn bot(n: usize) -> String {
    format!("SEVB{n:05}")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn unique(tag: &str) -> String {
    format!("{tag}_{}_{:08x}", now_ms() / 1000, rand::random::<u32>())
}

/// Where the leases live, for counting renewals and owners.
enum LeaseTable {
    Sqlite(std::path::PathBuf),
    Redis { conn: redis::aio::MultiplexedConnection, prefix: String },
}

impl LeaseTable {
    /// Bot lease key → (owner instance, expiry ms), live ones only.
    async fn read(&mut self) -> HashMap<String, (String, i64)> {
        let rows: Vec<(String, String, i64)> = match self {
            LeaseTable::Sqlite(path) => {
                let path = path.clone();
                tokio::task::spawn_blocking(move || {
                    let db = rusqlite::Connection::open_with_flags(&path, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
                        .expect("open the SQLite store read-only");
                    let mut stmt = db.prepare("SELECT key, owner, expires_at FROM plugin_leases").unwrap();
                    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
                        .unwrap()
                        .filter_map(Result::ok)
                        .collect()
                })
                .await
                .unwrap()
            }
            LeaseTable::Redis { conn, prefix } => {
                let (owners, expiries): (HashMap<String, String>, HashMap<String, i64>) = redis::pipe()
                    .atomic()
                    .cmd("HGETALL")
                    .arg(format!("{prefix}ls:o"))
                    .cmd("HGETALL")
                    .arg(format!("{prefix}ls:x"))
                    .query_async(conn)
                    .await
                    .expect("read the leases from Redis");
                owners.into_iter().filter_map(|(k, o)| expiries.get(&k).map(|x| (k, o, *x))).collect()
            }
        };
        let now = now_ms();
        rows.into_iter()
            .filter(|(k, _, x)| k.contains(":ws:bot:") && *x > now)
            .map(|(k, o, x)| (k, (o.split('#').next().unwrap_or(&o).to_string(), x)))
            .collect()
    }
}

/// One set-up: its simulator, its hosts, where its leases live.
struct Setup {
    name: &'static str,
    sim: Arc<Simulator>,
    hosts: Vec<Option<ChildServer>>,
    dirs: Vec<tempfile::TempDir>,
    env: Vec<(String, String)>,
    leases: LeaseTable,
    http: reqwest::Client,
}

impl Setup {
    async fn start_host(&self, i: usize) -> ChildServer {
        let data = self.dirs[i].path().to_str().unwrap().to_string();
        let mut env: Vec<(&str, &str)> = vec![
            ("XPERT_DATA_DIR", &data),
            ("XPERT_LISTEN", "127.0.0.1:0"),
            ("XPERT_ADMIN_TOKEN", TOKEN),
            ("RUST_LOG", "warn"),
            ("XPERT_PLUGIN_LOG_LEVEL", "warn"),
        ];
        env.extend(self.env.iter().map(|(k, v)| (k.as_str(), v.as_str())));
        ChildServer::spawn(env!("CARGO_BIN_EXE_xpert-host"), &[], &env).await.expect("host starts")
    }

    fn pids(&self) -> Vec<u32> {
        self.hosts.iter().map(|h| h.as_ref().and_then(ChildServer::pid).unwrap_or(0)).collect()
    }

    /// Creates the bots' integrations and one published echo expert through the first host.
    async fn populate(&self, n: usize) {
        let base = self.hosts[0].as_ref().unwrap().base_url();
        let post = |path: &str, body: Value| {
            let req = self.http.post(format!("{base}{path}")).bearer_auth(TOKEN).json(&body);
            async move { req.send().await.unwrap().json::<Value>().await.unwrap_or(Value::Null) }
        };
        post("/api/plugins/install", json!({"name": "wecom", "level": "tenant"})).await;
        let ids: Arc<Mutex<Vec<String>>> = Arc::default();
        let next = Arc::new(AtomicUsize::new(0));
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..8 {
            let (http, url, ids, next) =
                (self.http.clone(), format!("{base}/api/integration"), ids.clone(), next.clone());
            tasks.spawn(async move {
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= n {
                        return;
                    }
                    let body =
                        json!({"name": bot(k), "provider": "wecom_long", "options": {"botId": bot(k), "secret": "s"}});
                    let created: Value =
                        http.post(&url).bearer_auth(TOKEN).json(&body).send().await.unwrap().json().await.unwrap();
                    ids.lock().push(created["id"].as_str().unwrap().to_string());
                }
            });
        }
        while tasks.join_next().await.is_some() {}
        let xpert = post("/api/xpert", json!({"name": "x", "agent": {"kind": "echo"}})).await;
        let xpert = xpert["id"].as_str().unwrap().to_string();
        let triggers: Vec<Value> = ids
            .lock()
            .iter()
            .map(|id| json!({"provider": "wecom", "config": {"enabled": true, "integrationId": id}}))
            .collect();
        let put = self.http.put(format!("{base}/api/xpert/{xpert}/triggers")).bearer_auth(TOKEN).json(&triggers);
        assert!(put.send().await.unwrap().status().is_success());
        post(&format!("/api/xpert/{xpert}/publish"), json!({})).await;
    }

    /// Waits until every bot is connected and no host holds more than its fair share plus 2 %
    /// (hand-offs after a start are spaced: five a second per host by default).
    async fn wait_balanced(&mut self, n: usize, limit: Duration) {
        let deadline = Instant::now() + limit;
        let fair = n.div_ceil(self.hosts.len());
        loop {
            let leases = self.leases.read().await;
            let mut per: HashMap<u32, usize> = HashMap::new();
            for (o, _) in leases.values() {
                *per.entry(pid_of(o)).or_insert(0) += 1;
            }
            if leases.len() == n && per.values().all(|c| *c <= fair + fair / 50) && self.sim.connected_count() == n {
                return;
            }
            assert!(Instant::now() < deadline, "{}: not balanced in {limit:?}: {per:?}", self.name);
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    }

    /// Waits until every bot is connected and every running host holds some.
    async fn wait_spread(&mut self, n: usize, limit: Duration) -> HashMap<String, (String, i64)> {
        let deadline = Instant::now() + limit;
        loop {
            let leases = self.leases.read().await;
            let holders: HashSet<u32> = leases.values().map(|(o, _)| pid_of(o)).collect();
            let running = self.hosts.iter().filter(|h| h.is_some()).count();
            if leases.len() == n && holders.len() == running && self.sim.connected_count() == n {
                return leases;
            }
            assert!(
                Instant::now() < deadline,
                "{}: not spread in {limit:?}: {} leases, {} holders",
                self.name,
                leases.len(),
                holders.len()
            );
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
}

fn pid_of(instance: &str) -> u32 {
    instance.split(':').nth(1).and_then(|p| p.parse().ok()).unwrap_or(0)
}

fn rss_bytes(pid: u32) -> f64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|kb| kb.parse::<f64>().ok())
        .map(|kb| kb * 1024.0)
        .unwrap_or(f64::NAN)
}

/// Pushes `total` messages at once (bot `k % n`, a new user each) and waits until every answer's
/// stream is sealed; answers per second.
async fn burst(sim: &Simulator, n: usize, total: usize, round: usize) -> f64 {
    let start_index = sim.frames().len();
    let started = Instant::now();
    let mut sent = HashSet::new();
    for k in 0..total {
        if let Ok(req) = sim.send_text(&bot(k % n), &format!("burst{round}u{k}"), Chat::Single, "hi") {
            sent.insert(req);
        }
    }
    let expected = sent.len();
    let mut sealed = 0;
    let mut index = start_index;
    let deadline = Instant::now() + Duration::from_secs(120);
    while sealed < expected && Instant::now() < deadline {
        let fresh = sim.frames_since(index);
        index += fresh.len();
        for f in fresh {
            let frame = &f.frame;
            if frame["cmd"] == "aibot_respond_msg"
                && frame["body"]["stream"]["finish"] == true
                && sent.remove(frame["headers"]["req_id"].as_str().unwrap_or_default())
            {
                sealed += 1;
            }
        }
        let _ = sim.wait_until(Duration::from_millis(50), |s| !s.frames_since(index).is_empty()).await;
    }
    sealed as f64 / started.elapsed().as_secs_f64()
}

/// Lease renewals per second over `window`: how many times a lease's expiry moved.
async fn renewals(table: &mut LeaseTable, window: Duration) -> f64 {
    let mut last: HashMap<String, i64> = table.read().await.into_iter().map(|(k, (_, x))| (k, x)).collect();
    let started = Instant::now();
    let mut moves = 0usize;
    while started.elapsed() < window {
        tokio::time::sleep(Duration::from_millis(100)).await;
        for (k, (_, x)) in table.read().await {
            if last.insert(k, x).is_some_and(|before| before != x) {
                moves += 1;
            }
        }
    }
    let rate = moves as f64 / started.elapsed().as_secs_f64();
    eprintln!(
        "lease renewals: {moves} expiry moves of {} leases in {:.1} s",
        last.len(),
        started.elapsed().as_secs_f64()
    );
    rate
}

#[tokio::main]
async fn main() {
    let n = bots();
    let settle = std::env::var("SEVERAL_BENCH_SETTLE_MS").unwrap_or_else(|_| "5000".into());
    let http = reqwest::Client::new();

    // One host on SQLite.
    let sim_one = Arc::new(Simulator::start(SimConfig::default()).await.unwrap());
    let mut one = Setup {
        name: "one host, SQLite",
        sim: sim_one.clone(),
        hosts: vec![],
        dirs: vec![tempfile::tempdir().unwrap()],
        env: vec![("WECOM_WS_URL".into(), sim_one.ws_url())],
        leases: LeaseTable::Sqlite(std::path::PathBuf::new()),
        http: http.clone(),
    };
    one.leases = LeaseTable::Sqlite(one.dirs[0].path().join("xpert.db"));

    // Three hosts on PostgreSQL + Redis: a schema and a key prefix of this run's own.
    let pg_url =
        std::env::var("XPERT_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    let redis_url = std::env::var("XPERT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let pg_config: tokio_postgres::Config = pg_url.parse().unwrap();
    let (pg, connection) = pg_config.connect(tokio_postgres::NoTls).await.expect("PostgreSQL (.ci/start-services.sh)");
    tokio::spawn(connection);
    let schema = unique("bench");
    pg.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
    let prefix = format!("{}:", unique("bench"));
    let redis =
        redis::Client::open(redis_url.clone()).unwrap().get_multiplexed_async_connection().await.expect("Redis");
    let database_url = format!("{pg_url}?options=-csearch_path%3D{schema}");
    let sim_three = Arc::new(Simulator::start(SimConfig::default()).await.unwrap());
    let mut three = Setup {
        name: "three hosts, PostgreSQL + Redis",
        sim: sim_three.clone(),
        hosts: vec![],
        dirs: (0..3).map(|_| tempfile::tempdir().unwrap()).collect(),
        env: vec![
            ("WECOM_WS_URL".into(), sim_three.ws_url()),
            ("XPERT_DATABASE_URL".into(), database_url),
            ("XPERT_REDIS_URL".into(), redis_url),
            ("XPERT_REDIS_PREFIX".into(), prefix.clone()),
            ("WECOM_SETTLE_MS".into(), settle.clone()),
        ],
        leases: LeaseTable::Redis { conn: redis.clone(), prefix: prefix.clone() },
        http,
    };
    for k in 0..n {
        sim_one.add_bot(&bot(k), "s");
        sim_three.add_bot(&bot(k), "s");
    }
    let first = one.start_host(0).await;
    one.hosts.push(Some(first));
    one.populate(n).await;
    let first = three.start_host(0).await;
    three.hosts.push(Some(first));
    three.populate(n).await;
    for i in 1..3 {
        let host = three.start_host(i).await;
        three.hosts.push(Some(host));
    }
    one.wait_spread(n, Duration::from_secs(120)).await;
    three.wait_spread(n, Duration::from_secs(180)).await;
    eprintln!("both set-ups connected; waiting until the three hosts have spread the bots");
    let spreading = Instant::now();
    three.wait_balanced(n, Duration::from_secs(600)).await;
    eprintln!("spread in {:.0} s", spreading.elapsed().as_secs_f64());

    let mut answered: [Vec<f64>; 2] = Default::default();
    let mut p50: [Vec<f64>; 2] = Default::default();
    let mut p99: [Vec<f64>; 2] = Default::default();
    let mut renew: [Vec<f64>; 2] = Default::default();
    for round in 0..3 {
        for (s, setup) in [&mut one, &mut three].into_iter().enumerate() {
            answered[s].push(burst(&setup.sim, n, 3 * n, round).await);
            let lat = latency::first_frame_latencies(&setup.sim, 2000, &format!("lat{round}u"), |k| bot(k % n)).await;
            p50[s].push(percentile(&lat, 0.50));
            p99[s].push(percentile(&lat, 0.99));
            renew[s].push(renewals(&mut setup.leases, Duration::from_secs(30)).await);
            eprintln!("{}: round {round} done", setup.name);
        }
    }

    // Memory with every bot connected and spread.
    let leases = three.wait_spread(n, Duration::from_secs(120)).await;
    let mut rss_rows = Vec::new();
    for (setup, leases) in [(&one, None), (&three, Some(leases))] {
        let pids = setup.pids();
        for pid in pids {
            let held = match &leases {
                Some(l) => l.values().filter(|(o, _)| pid_of(o) == pid).count(),
                None => n,
            };
            let rss = rss_bytes(pid);
            rss_rows.push(format!(
                "| {} | pid {pid} | {held} | {:.1} MiB | {:.1} KiB | {:.1} KiB |",
                setup.name,
                rss / 1048576.0,
                rss / held.max(1) as f64 / 1024.0,
                rss / n as f64 / 1024.0
            ));
        }
    }

    // Failover after SIGKILL, ten times (three hosts).
    let mut failovers = Vec::new();
    let mut firsts = Vec::new();
    for round in 0..10 {
        let leases = three.wait_spread(n, Duration::from_secs(180)).await;
        let pids = three.pids();
        let victim = (0..3).max_by_key(|i| leases.values().filter(|(o, _)| pid_of(o) == pids[*i]).count()).unwrap();
        let orphans: Vec<String> = leases
            .iter()
            .filter(|(_, (o, _))| pid_of(o) == pids[victim])
            .map(|(k, _)| k.rsplit(':').next().unwrap().to_string())
            .collect();
        let killed = Instant::now();
        std::process::Command::new("kill").args(["-KILL", &pids[victim].to_string()]).status().unwrap();
        let sim = three.sim.clone();
        sim.wait_until(Duration::from_secs(10), |s| orphans.iter().all(|b| !s.is_connected(b))).await;
        sim.wait_until(Duration::from_secs(120), |s| orphans.iter().any(|b| s.is_connected(b))).await;
        firsts.push(killed.elapsed().as_secs_f64());
        sim.wait_until(Duration::from_secs(120), |s| orphans.iter().all(|b| s.is_connected(b))).await;
        failovers.push(killed.elapsed().as_secs_f64());
        eprintln!(
            "failover {round}: {} bots, first {:.2} s, all {:.2} s",
            orphans.len(),
            firsts[round],
            failovers[round]
        );
        if let Some(mut dead) = three.hosts[victim].take() {
            let _ = dead.wait().await;
        }
        let restarted = three.start_host(victim).await;
        three.hosts[victim] = Some(restarted);
    }

    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "{n} bots per set-up; load average at the end: {}\n",
        load.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
    );
    println!("| set-up | callbacks answered/s | callback → thinking p50 / p99 | lease renewals/s | failover after SIGKILL, median / worst of 10 |");
    println!("|---|---|---|---|---|");
    for (s, setup) in [&one, &three].into_iter().enumerate() {
        let failover = if s == 0 {
            "— (one host)".to_string()
        } else {
            let worst = failovers.iter().cloned().fold(0.0, f64::max);
            format!(
                "{:.1} s / {:.1} s (first bot {:.1} s / {:.1} s)",
                median(failovers.clone()),
                worst,
                median(firsts.clone()),
                firsts.iter().cloned().fold(0.0, f64::max)
            )
        };
        println!(
            "| {} | {:.0} | {:.2} / {:.2} ms | {:.1} | {failover} |",
            setup.name,
            median(answered[s].clone()),
            median(p50[s].clone()),
            median(p99[s].clone()),
            median(renew[s].clone())
        );
    }
    println!("\n| set-up | host | bots held | RSS | RSS per held bot | RSS per integration |");
    println!("|---|---|---|---|---|---|");
    for row in rss_rows {
        println!("{row}");
    }

    for setup in [&mut one, &mut three] {
        for host in setup.hosts.iter_mut().flatten() {
            let _ = host.stop(Duration::from_secs(20)).await;
        }
    }
    let _ = pg.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE")).await;
    let mut redis = redis;
    for suffix in ["kv:v", "kv:i", "kv:e", "ls:o", "ls:t", "ls:x", "ls:w"] {
        let _: Result<(), _> = redis::cmd("DEL").arg(format!("{prefix}{suffix}")).query_async(&mut redis).await;
    }
}

//! Several hosts (issue 13, point 3): three real `xpert-host` processes on one PostgreSQL database
//! and one Redis share 1,000 long-connection bots against the simulator. The test plays WeCom:
//! it counts every bot's sockets all along (never two at once, no kick ever), spreads the bots
//! (each host ends with at most its fair share), SIGKILLs the owner of a bot (another host holds
//! it within 15 s; messages sent meanwhile are answered exactly once), checks the Status tab and
//! Reconnect from hosts that do not own the bot, and restarts all three hosts in turn with SIGTERM
//! (each drain releases its leases, so its bots are held elsewhere before the old leases could
//! have expired; no message is lost, none answered twice).
//!
//! Needs PostgreSQL and Redis (`XPERT_TEST_DATABASE_URL`, `XPERT_TEST_REDIS_URL`;
//! `XPERT_SKIP_SERVER_TESTS=1` skips). Every timing is shortened through the `WECOM_*` settings.

mod host_common;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use host_common::{start, Host};
use parking_lot::Mutex;
use serde_json::{json, Value};
use wecom_sim::{DisconnectReason, MessageBody, SimConfig, SimError, Simulator};

const BOTS: usize = 1000;
const HOSTS: usize = 3;
/// The bots' lease lifetime in this test (renewed every third of it).
const LEASE_TTL_MS: u64 = 6000;
/// How long an instance must have been alive before bots are handed over to it.
const SETTLE_MS: u64 = 2000;
/// Over the fair share (`ceil(bots / hosts)`), what a host may hold once all have settled.
const SLACK: usize = 3;

fn database_url() -> String {
    std::env::var("XPERT_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn redis_url() -> String {
    std::env::var("XPERT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn unique(tag: &str) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    format!("{tag}_{secs}_{:08x}", rand::random::<u32>())
}

fn bot(n: usize) -> String {
    format!("SCALEBOT{n:04}")
}

/// The test's schema in PostgreSQL and key prefix in Redis.
struct Backends {
    pg: tokio_postgres::Client,
    pg_config: tokio_postgres::Config,
    schema: String,
    redis: redis::aio::MultiplexedConnection,
    prefix: String,
}

impl Backends {
    async fn start() -> Option<Backends> {
        let skip = std::env::var("XPERT_SKIP_SERVER_TESTS").is_ok_and(|v| v == "1");
        let pg_config: tokio_postgres::Config = database_url().parse().expect("XPERT_TEST_DATABASE_URL");
        let pg = match pg_config.connect(tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                client
            }
            Err(e) if skip => {
                eprintln!("skipped: PostgreSQL is unreachable ({e})");
                return None;
            }
            Err(e) => panic!("PostgreSQL is needed by this test but is unreachable ({e}); .ci/start-services.sh starts it, XPERT_SKIP_SERVER_TESTS=1 skips"),
        };
        let redis = match redis::Client::open(redis_url()).expect("XPERT_TEST_REDIS_URL").get_multiplexed_async_connection().await
        {
            Ok(conn) => conn,
            Err(e) if skip => {
                eprintln!("skipped: Redis is unreachable ({e})");
                return None;
            }
            Err(e) => panic!("Redis is needed by this test but is unreachable ({e}); .ci/start-services.sh starts it, XPERT_SKIP_SERVER_TESTS=1 skips"),
        };
        let schema = unique("xt");
        pg.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
        Some(Backends { pg, pg_config, schema, redis, prefix: format!("{}:", unique("xt")) })
    }

    fn host_env(&self) -> Vec<(&'static str, String)> {
        let c = &self.pg_config;
        let host = match c.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".into(),
        };
        let url = format!(
            "postgres://{}@{host}:{}/{}?options=-csearch_path%3D{}",
            c.get_user().unwrap_or("postgres"),
            c.get_ports().first().copied().unwrap_or(5432),
            c.get_dbname().unwrap_or("postgres"),
            self.schema
        );
        vec![("XPERT_DATABASE_URL", url), ("XPERT_REDIS_URL", redis_url()), ("XPERT_REDIS_PREFIX", self.prefix.clone())]
    }

    /// The live bot leases in Redis: bot id → (owner instance id, expiry in Unix ms).
    async fn leases(&mut self) -> HashMap<String, (String, i64)> {
        // Read in one transaction; retried, as a busy machine can make a reply late.
        let mut attempts = 0;
        let (owners, expiries): (HashMap<String, String>, HashMap<String, i64>) = loop {
            let read = redis::pipe()
                .atomic()
                .cmd("HGETALL")
                .arg(format!("{}ls:o", self.prefix))
                .cmd("HGETALL")
                .arg(format!("{}ls:x", self.prefix))
                .query_async(&mut self.redis)
                .await;
            match read {
                Ok(both) => break both,
                Err(e) if attempts < 5 => {
                    attempts += 1;
                    eprintln!("reading the leases from Redis failed ({e}); again");
                }
                Err(e) => panic!("reading the leases from Redis: {e}"),
            }
        };
        let now = now_ms();
        owners
            .into_iter()
            .filter_map(|(key, owner)| {
                let bot = key.rsplit(':').next()?.to_string();
                let expires = *expiries.get(&key)?;
                let instance = owner.split('#').next().unwrap_or(&owner).to_string();
                (expires > now && key.contains(":ws:bot:")).then_some((bot, (instance, expires)))
            })
            .collect()
    }

    async fn cleanup(mut self) {
        let _ = self.pg.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema)).await;
        for suffix in ["kv:v", "kv:i", "kv:e", "ls:o", "ls:t", "ls:x", "ls:w"] {
            let _: Result<(), _> =
                redis::cmd("DEL").arg(format!("{}{suffix}", self.prefix)).query_async(&mut self.redis).await;
        }
    }
}

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

/// The pid inside an instance id (`<hostname>:<pid>:<suffix>`).
fn pid_of(instance: &str) -> u32 {
    instance.split(':').nth(1).and_then(|p| p.parse().ok()).unwrap_or(0)
}

/// Watches the simulator all along: every sample of every bot's sockets, the most seen at once.
struct Watch {
    most_at_a_sample: AtomicUsize,
    samples: AtomicUsize,
    stop: AtomicBool,
}

fn watch_sockets(sim: Arc<Simulator>) -> (Arc<Watch>, tokio::task::JoinHandle<()>) {
    let watch = Arc::new(Watch {
        most_at_a_sample: AtomicUsize::new(0),
        samples: AtomicUsize::new(0),
        stop: AtomicBool::new(false),
    });
    let w = watch.clone();
    let task = tokio::spawn(async move {
        while !w.stop.load(Ordering::Relaxed) {
            let most = sim.sockets_per_bot().values().copied().max().unwrap_or(0);
            w.most_at_a_sample.fetch_max(most, Ordering::Relaxed);
            w.samples.fetch_add(1, Ordering::Relaxed);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    });
    (watch, task)
}

/// Plays WeCom delivering one user message: retried while the bot has no connection, and
/// redelivered with the same msgid when no answer came within 3 s (its socket may have died with
/// it). Returns how many deliveries it took.
async fn deliver(sim: &Simulator, bot_id: &str, user: &str, text: &str) -> usize {
    let msgid = format!("msg-{user}");
    let deadline = Instant::now() + Duration::from_secs(40);
    let mut deliveries = 0;
    loop {
        assert!(Instant::now() < deadline, "{bot_id}/{user}: no answer within 40 s");
        match sim.send_message(MessageBody::new(bot_id, user, text).with_msgid(&msgid)) {
            Ok(_) => deliveries += 1,
            Err(SimError::NotConnected(_)) => {
                sim.wait_until(Duration::from_millis(200), |s| s.is_connected(bot_id)).await;
                continue;
            }
            Err(e) => panic!("{e}"),
        }
        let answered = sim
            .wait_transcript(bot_id, user, Duration::from_secs(3), |b| b.iter().any(|b| b.from == "bot" && b.finished))
            .await;
        if answered.iter().any(|b| b.from == "bot" && b.finished) {
            return deliveries;
        }
    }
}

/// The bot bubbles of a message's conversation (one user per message).
fn answers(sim: &Simulator, bot_id: &str, user: &str) -> Vec<String> {
    sim.transcript(bot_id, user).into_iter().filter(|b| b.from == "bot").map(|b| b.text).collect()
}

/// Counts the bots each host holds (by the lease in Redis), keyed by host index.
fn per_host(leases: &HashMap<String, (String, i64)>, pids: &[u32]) -> BTreeMap<usize, usize> {
    let mut counts = BTreeMap::new();
    for (instance, _) in leases.values() {
        let index = pids.iter().position(|p| *p == pid_of(instance)).unwrap_or(usize::MAX);
        *counts.entry(index).or_insert(0) += 1;
    }
    counts
}

async fn start_host(backends: &Backends, sim: &Simulator, dir: &std::path::Path) -> Host {
    let ws = sim.ws_url();
    let ttl = LEASE_TTL_MS.to_string();
    let settle = SETTLE_MS.to_string();
    let mut env: Vec<(&str, String)> = backends.host_env();
    env.extend([
        ("WECOM_WS_URL", ws),
        ("RUST_LOG", std::env::var("SEVERAL_HOSTS_LOG").unwrap_or_else(|_| "warn".into())),
        ("XPERT_PLUGIN_LOG_LEVEL", std::env::var("SEVERAL_HOSTS_PLUGIN_LOG").unwrap_or_else(|_| "warn".into())),
        ("WECOM_LEASE_TTL_MS", ttl),
        ("WECOM_RECONCILE_MS", "500".into()),
        ("WECOM_STREAM_THROTTLE_MS", "20".into()),
        ("WECOM_INSTANCE_HEARTBEAT_MS", "300".into()),
        ("WECOM_INSTANCE_TTL_MS", "2000".into()),
        ("WECOM_SETTLE_MS", settle),
        ("WECOM_HANDOFF_INTERVAL_MS", "5".into()),
        ("WECOM_HOLD_BACK_MS", "1000".into()),
        ("WECOM_TAKEOVER_POLL_MS", "200".into()),
        ("WECOM_DRAIN_MS", "2000".into()),
    ]);
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    start(dir, &env).await
}

/// Writes every host's output to a file of its own (for a failure's message); returns the folder.
async fn dump_logs(hosts: &[Host]) -> String {
    let dir = std::env::temp_dir().join(unique("several_hosts_logs"));
    std::fs::create_dir_all(&dir).unwrap();
    for (i, host) in hosts.iter().enumerate() {
        std::fs::write(dir.join(format!("host{i}.log")), host.server.output().await).unwrap();
    }
    dir.display().to_string()
}

/// Waits until every bot is held and no host holds more than its fair share plus the slack;
/// returns the leases then.
async fn wait_balanced(
    backends: &mut Backends,
    hosts: &[Host],
    pids: &[u32],
    within: Duration,
) -> HashMap<String, (String, i64)> {
    let fair = BOTS.div_ceil(HOSTS);
    let deadline = Instant::now() + within;
    loop {
        let leases = backends.leases().await;
        let counts = per_host(&leases, pids);
        let balanced = leases.len() == BOTS
            && counts.len() == HOSTS
            && counts.keys().all(|k| *k < HOSTS)
            && counts.values().all(|n| *n <= fair + SLACK);
        if balanced {
            return leases;
        }
        if Instant::now() >= deadline {
            let logs = dump_logs(hosts).await;
            panic!("not balanced within {within:?}: {} held, per host {counts:?}; host logs in {logs}", leases.len());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_hosts_share_a_thousand_bots_with_one_socket_each_through_kill_reconnect_and_rolling_restart() {
    let Some(mut backends) = Backends::start().await else { return };
    let began = Instant::now();
    let phase = |name: &str| eprintln!("several hosts: {name} at {:.1} s", began.elapsed().as_secs_f64());
    let sim = Arc::new(Simulator::start(SimConfig::default()).await.unwrap());
    for n in 0..BOTS {
        sim.add_bot(&bot(n), "scale-s3cret");
    }
    let (watch, watcher) = watch_sockets(sim.clone());
    let dirs: Vec<tempfile::TempDir> = (0..HOSTS).map(|_| tempfile::tempdir().unwrap()).collect();

    // One host first: the integrations, one echo Digital Expert with a trigger for each, published.
    let mut hosts: Vec<Host> = vec![start_host(&backends, &sim, dirs[0].path()).await];
    hosts[0].install_wecom().await;
    let ids: Arc<Mutex<BTreeMap<usize, String>>> = Arc::default();
    let mut creating = tokio::task::JoinSet::new();
    let next = Arc::new(AtomicUsize::new(0));
    for _ in 0..8 {
        let (http, url, ids, next) =
            (hosts[0].http.clone(), hosts[0].url("/api/integration"), ids.clone(), next.clone());
        creating.spawn(async move {
            loop {
                let n = next.fetch_add(1, Ordering::Relaxed);
                if n >= BOTS {
                    return;
                }
                let body = json!({"name": bot(n), "provider": "wecom_long", "options": {"botId": bot(n), "secret": "scale-s3cret"}});
                let answer: Value =
                    http.post(&url).bearer_auth(host_common::TOKEN).json(&body).send().await.unwrap().json().await.unwrap();
                ids.lock().insert(n, answer["id"].as_str().expect("an integration id").to_string());
            }
        });
    }
    while creating.join_next().await.is_some() {}
    let ids: BTreeMap<usize, String> = ids.lock().clone();
    let by_bot: HashMap<String, String> = ids.iter().map(|(n, id)| (bot(*n), id.clone())).collect();
    let (_, x) = hosts[0].post("/api/xpert", json!({"name": "x", "agent": {"kind": "echo"}})).await;
    let xpert = x["id"].as_str().unwrap().to_string();
    let triggers: Vec<Value> =
        ids.values().map(|id| json!({"provider": "wecom", "config": {"enabled": true, "integrationId": id}})).collect();
    hosts[0].call("PUT", &format!("/api/xpert/{xpert}/triggers"), Some(json!(triggers))).await;
    let (status, body) = hosts[0].post(&format!("/api/xpert/{xpert}/publish"), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        sim.wait_until(Duration::from_secs(60), |s| s.connected_count() == BOTS).await,
        "the first host connects every bot: {} connected",
        sim.connected_count()
    );

    phase("1,000 bots connected on the first host");
    // Two more hosts: once they have settled, bots are handed over to them until each host holds
    // at most its fair share; every move is a release, never a kick.
    let (second, third) =
        tokio::join!(start_host(&backends, &sim, dirs[1].path()), start_host(&backends, &sim, dirs[2].path()));
    hosts.push(second);
    hosts.push(third);
    let mut pids: Vec<u32> = hosts.iter().map(|h| h.server.pid().unwrap()).collect();
    let leases = wait_balanced(&mut backends, &hosts, &pids, Duration::from_secs(45)).await;
    assert!(sim.wait_until(Duration::from_secs(10), |s| s.connected_count() == BOTS).await);
    let sockets = sim.sockets_per_bot();
    assert!(sockets.len() == BOTS && sockets.values().all(|n| *n == 1), "one socket per bot once spread");
    assert_eq!(sim.kicks(), 0, "bots moved by hand-off, never by a kick");

    phase("spread over three hosts");
    // The Status tab on every host names the true owner (the lease holder in Redis).
    let sample: Vec<String> = (0..BOTS).step_by(97).map(bot).collect();
    for b in &sample {
        let owner = &leases[b].0;
        for host in &hosts {
            let path = format!("/api/integration/{}/views/status/data", by_bot[b]);
            let view = host.wait_json(&path, |v| v["item"]["ownerInstanceId"] == json!(owner)).await;
            assert_eq!(view["item"]["ownerInstanceId"], json!(owner), "{b} on {}: {view}", host.server.addr());
            assert_eq!(view["item"]["state"], "connected", "{view}");
        }
    }

    // Reconnect pressed on a host that does not own the bot acts on the owner: it closes its
    // socket and subscribes again, and says which instance did.
    let b = &sample[0];
    let owner = leases[b].0.clone();
    let other = hosts.iter().find(|h| h.server.pid() != Some(pid_of(&owner))).unwrap();
    let closes_before = sim.disconnects().iter().filter(|d| &d.bot_id == b).count();
    let (status, answer) =
        other.post(&format!("/api/integration/{}/views/status/actions/reconnect", by_bot[b]), json!({})).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["success"], true, "{answer}");
    let said = answer["message"]["en_US"].as_str().unwrap_or_default();
    let now_owner = backends.leases().await[b].0.clone();
    assert!(said.contains(&now_owner), "the answer names the owner {now_owner}: {said}");
    let closed: Vec<_> = sim.disconnects().into_iter().filter(|d| &d.bot_id == b).skip(closes_before).collect();
    assert!(
        closed.iter().any(|d| matches!(d.reason, DisconnectReason::ClientClose { .. })),
        "the owner closed its socket: {closed:?}"
    );
    assert!(sim.is_connected(b));

    phase("status and reconnect checked");
    // SIGKILL of the host owning a bot: another host holds it within 15 s, and messages sent to
    // that host's bots meanwhile are answered exactly once.
    let victim = 2;
    let leases = backends.leases().await;
    let victims: Vec<String> =
        leases.iter().filter(|(_, (i, _))| pid_of(i) == pids[victim]).map(|(b, _)| b.clone()).take(20).collect();
    assert!(!victims.is_empty(), "the third host owns bots");
    let disconnects_before = sim.disconnects().len();
    let killed_at = Instant::now();
    std::process::Command::new("kill").args(["-KILL", &pids[victim].to_string()]).status().unwrap();
    let first = victims[0].clone();
    sim.wait_until(Duration::from_secs(10), |s| {
        s.disconnects().iter().skip(disconnects_before).any(|d| d.bot_id == first)
    })
    .await;
    let mut during = tokio::task::JoinSet::new();
    for (k, b) in victims.iter().enumerate() {
        let (sim, b) = (sim.clone(), b.clone());
        during.spawn(async move {
            let user = format!("kill{k}");
            let deliveries = deliver(&sim, &b, &user, &format!("during the kill {k}")).await;
            (b, user, deliveries)
        });
    }
    assert!(
        sim.wait_until(Duration::from_secs(15), |s| s.is_connected(&first)).await,
        "another host holds {first} within 15 s of the SIGKILL"
    );
    let failover = killed_at.elapsed();
    let new_owner = backends.leases().await.get(&first).map(|(i, _)| pid_of(i));
    assert!(new_owner.is_some_and(|p| p != pids[victim]), "held by a live host now: {new_owner:?}");
    while let Some(done) = during.join_next().await {
        let (b, user, _) = done.unwrap();
        let got = answers(&sim, &b, &user);
        assert_eq!(got.len(), 1, "{b}/{user} answered exactly once: {got:?}");
        assert!(got[0].starts_with("echo: during the kill"), "{got:?}");
    }
    let _ = hosts[victim].server.wait().await;
    hosts[victim] = start_host(&backends, &sim, dirs[victim].path()).await;
    pids[victim] = hosts[victim].server.pid().unwrap();

    phase("failover checked");
    // A rolling restart of all three with SIGTERM while messages keep coming: each drain releases
    // its leases, so its bots are held elsewhere before the old leases could have expired; no
    // message is lost, none is answered twice.
    let traffic_on = Arc::new(AtomicBool::new(true));
    let traffic = {
        let (sim, on) = (sim.clone(), traffic_on.clone());
        tokio::spawn(async move {
            let mut sent = Vec::new();
            let mut m = 0;
            let mut inflight = tokio::task::JoinSet::new();
            while on.load(Ordering::Relaxed) {
                let (sim, b, user) = (sim.clone(), bot((m * 37) % BOTS), format!("roll{m}"));
                sent.push((b.clone(), user.clone()));
                inflight.spawn(async move { deliver(&sim, &b, &user, &format!("rolling {m}")).await });
                m += 1;
                tokio::time::sleep(Duration::from_millis(40)).await;
            }
            let mut redelivered = 0;
            while let Some(d) = inflight.join_next().await {
                redelivered += d.unwrap() - 1;
            }
            (sent, redelivered)
        })
    };
    let mut drains = Vec::new();
    for i in 0..HOSTS {
        let leases = backends.leases().await;
        let held: Vec<(String, i64)> =
            leases.iter().filter(|(_, (o, _))| pid_of(o) == pids[i]).map(|(b, (_, x))| (b.clone(), *x)).collect();
        assert!(!held.is_empty(), "host {i} holds bots before its restart");
        let (drained, expires) = held[0].clone();
        let closes = sim.disconnects().len();
        let stopping = Instant::now();
        let moved = async {
            let moved = sim
                .wait_until(Duration::from_secs(10), |s| {
                    s.is_connected(&drained) && s.disconnects().iter().skip(closes).any(|d| d.bot_id == drained)
                })
                .await;
            (moved, now_ms(), stopping.elapsed())
        };
        let (stopped, (moved, moved_at, took)) = tokio::join!(hosts[i].server.stop(Duration::from_secs(20)), moved);
        assert!(stopped.unwrap().success(), "host {i} stops cleanly");
        assert!(moved, "{drained} is held again after host {i} drained");
        drains.push(took);
        assert!(
            moved_at < expires,
            "{drained} moved before its old lease could have expired (released, not lapsed): {} ms late",
            moved_at - expires
        );
        let closed_cleanly = sim
            .disconnects()
            .iter()
            .skip(closes)
            .filter(|d| held.iter().any(|(b, _)| *b == d.bot_id))
            .all(|d| matches!(d.reason, DisconnectReason::ClientClose { .. }));
        assert!(closed_cleanly, "the drain closed every socket of host {i} with a close frame");
        hosts[i] = start_host(&backends, &sim, dirs[i].path()).await;
        pids[i] = hosts[i].server.pid().unwrap();
    }
    traffic_on.store(false, Ordering::Relaxed);
    let (sent, redelivered) = traffic.await.unwrap();
    assert!(sent.len() > 20, "traffic ran through the restarts: {} messages", sent.len());
    for (b, user) in &sent {
        let got = answers(&sim, b, user);
        assert_eq!(got.len(), 1, "{b}/{user}: answered exactly once through the rolling restart: {got:?}");
    }

    phase("rolling restart done");
    // Settled again: spread over the three new processes, still one socket per bot.
    wait_balanced(&mut backends, &hosts, &pids, Duration::from_secs(45)).await;
    assert!(sim.wait_until(Duration::from_secs(10), |s| s.connected_count() == BOTS).await);
    watch.stop.store(true, Ordering::Relaxed);
    let _ = watcher.await;
    let (most, which) = sim.most_sockets_of_one_bot();
    assert_eq!(most, 1, "no bot ever had two sockets at once ({which} had {most})");
    assert_eq!(watch.most_at_a_sample.load(Ordering::Relaxed), 1, "no sample showed a bot with two sockets");
    assert_eq!(sim.kicks(), 0, "no kick between our own instances, ever");
    let displaced: HashSet<String> =
        sim.disconnects().into_iter().filter(|d| d.reason == DisconnectReason::Displaced).map(|d| d.bot_id).collect();
    assert!(displaced.is_empty(), "displaced bots: {displaced:?}");
    eprintln!(
        "several hosts: {} socket samples, failover {failover:?}, drains {drains:?}, {} messages through the \
         rolling restart ({redelivered} redelivered by the simulated WeCom)",
        watch.samples.load(Ordering::Relaxed),
        sent.len()
    );
    for mut host in hosts {
        let _ = host.server.stop(Duration::from_secs(20)).await;
        assert!(!host.server.output().await.contains("scale-s3cret"), "no secret in any log");
    }
    backends.cleanup().await;
}

//! The real host on PostgreSQL (`XPERT_DATABASE_URL`) and Redis (`XPERT_REDIS_URL`): the store's
//! rows land in PostgreSQL, the plugins' KV and leases in Redis, installs are restored from
//! PostgreSQL after a restart, and the host keeps serving what it can while either connection is
//! lost (cut by a proxy in the test), reconnecting by itself. Needs the test servers (see
//! `XPERT_TEST_DATABASE_URL`, `XPERT_TEST_REDIS_URL`; `XPERT_SKIP_SERVER_TESTS=1` skips).

mod host_common;

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use host_common::{drop_in_probe_plugin, start, Host, TOKEN};
use serde_json::{json, Value};
use testkit::proxy::Proxy;

/// In the PostgreSQL URL the host gets: trust auth ignores it, the test checks it is never shown.
const PG_PASSWORD: &str = "not-a-real-secret-9c1";

fn database_url() -> String {
    std::env::var("XPERT_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
}

fn redis_url() -> String {
    std::env::var("XPERT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
}

fn skip_missing() -> bool {
    std::env::var("XPERT_SKIP_SERVER_TESTS").is_ok_and(|v| v == "1")
}

fn unique(tag: &str) -> String {
    let secs = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
    format!("{tag}_{secs}_{:08x}", rand::random::<u32>())
}

/// An error with its first cause (`error connecting to server: Connection refused`).
fn with_cause(e: &tokio_postgres::Error) -> String {
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

/// The test servers, each behind a proxy the test can cut, and a schema and key prefix of this
/// test's own.
struct Backends {
    pg: tokio_postgres::Client,
    pg_proxy: Proxy,
    user: String,
    dbname: String,
    schema: String,
    redis: redis::aio::MultiplexedConnection,
    redis_proxy: Proxy,
    prefix: String,
}

async fn first_addr(host: &str, port: u16) -> SocketAddr {
    tokio::net::lookup_host((host, port)).await.unwrap().next().unwrap()
}

impl Backends {
    /// `None` when a server is missing and `XPERT_SKIP_SERVER_TESTS=1`; panics saying which
    /// server is missing and how to start it otherwise.
    async fn start() -> Option<Backends> {
        let config: tokio_postgres::Config = database_url().parse().expect("XPERT_TEST_DATABASE_URL");
        let pg = match config.connect(tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                client
            }
            Err(e) if skip_missing() => {
                eprintln!("skipped: PostgreSQL is unreachable ({})", with_cause(&e));
                return None;
            }
            Err(e) => panic!(
                "PostgreSQL is needed by this test but is unreachable ({}). Start it with `pg_ctlcluster \
                 --skip-systemctl-redirect $(ls /etc/postgresql) main start`, point XPERT_TEST_DATABASE_URL at \
                 another server, or set XPERT_SKIP_SERVER_TESTS=1 to skip.",
                with_cause(&e)
            ),
        };
        let client = redis::Client::open(redis_url()).expect("XPERT_TEST_REDIS_URL");
        let redis = match client.get_multiplexed_async_connection().await {
            Ok(conn) => conn,
            Err(e) if skip_missing() => {
                eprintln!("skipped: Redis is unreachable ({e})");
                return None;
            }
            Err(e) => panic!(
                "Redis is needed by this test but is unreachable ({e}). Start it with `redis-server --daemonize yes \
                 --bind 127.0.0.1 -::1 --port 6379 --save \"\" --appendonly no`, point XPERT_TEST_REDIS_URL at \
                 another server, or set XPERT_SKIP_SERVER_TESTS=1 to skip."
            ),
        };
        let schema = unique("xt");
        pg.batch_execute(&format!("CREATE SCHEMA {schema}")).await.unwrap();
        let pg_host = match config.get_hosts().first() {
            Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
            _ => "127.0.0.1".into(),
        };
        let pg_port = config.get_ports().first().copied().unwrap_or(5432);
        let pg_proxy = Proxy::start(first_addr(&pg_host, pg_port).await).await.unwrap();
        let redis_addr = match client.get_connection_info().addr() {
            redis::ConnectionAddr::Tcp(h, p) => first_addr(h, *p).await,
            other => panic!("XPERT_TEST_REDIS_URL must be TCP, not {other}"),
        };
        let redis_proxy = Proxy::start(redis_addr).await.unwrap();
        Some(Backends {
            pg,
            pg_proxy,
            user: config.get_user().unwrap_or("postgres").to_string(),
            dbname: config.get_dbname().unwrap_or("postgres").to_string(),
            schema,
            redis,
            redis_proxy,
            prefix: format!("{}:", unique("xt")),
        })
    }

    /// The environment of a host on both servers, through the proxies.
    fn host_env(&self) -> Vec<(&'static str, String)> {
        let database_url = format!(
            "postgres://{}:{PG_PASSWORD}@127.0.0.1:{}/{}?options=-csearch_path%3D{}",
            self.user,
            self.pg_proxy.addr().port(),
            self.dbname,
            self.schema
        );
        vec![
            ("XPERT_DATABASE_URL", database_url),
            ("XPERT_REDIS_URL", format!("redis://127.0.0.1:{}/0", self.redis_proxy.addr().port())),
            ("XPERT_REDIS_PREFIX", self.prefix.clone()),
        ]
    }

    async fn start_host(&self, data_dir: &std::path::Path) -> Host {
        let env = self.host_env();
        let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
        start(data_dir, &env).await
    }

    /// A plugin KV value as stored in Redis.
    async fn kv(&mut self, key: &str) -> Option<String> {
        redis::cmd("HGET").arg(format!("{}kv:v", self.prefix)).arg(key).query_async(&mut self.redis).await.unwrap()
    }

    /// Whether a lease is held in Redis now, and by whom.
    async fn lease_owner(&mut self, key: &str) -> Option<String> {
        let (owner, expires): (Option<String>, Option<i64>) = redis::pipe()
            .cmd("HGET")
            .arg(format!("{}ls:o", self.prefix))
            .arg(key)
            .cmd("HGET")
            .arg(format!("{}ls:x", self.prefix))
            .arg(key)
            .query_async(&mut self.redis)
            .await
            .unwrap();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
        owner.filter(|_| expires.unwrap_or(0) > now)
    }

    async fn cleanup(mut self) {
        let _ = self.pg.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema)).await;
        for suffix in ["kv:v", "kv:i", "kv:e", "ls:o", "ls:t", "ls:x", "ls:w"] {
            let _: Result<(), _> =
                redis::cmd("DEL").arg(format!("{}{suffix}", self.prefix)).query_async(&mut self.redis).await;
        }
    }
}

/// Calls until the answer's status is 2xx (a backend may still be reconnecting), for at most 30 s;
/// returns the last answer.
async fn once_reachable(host: &Host, token: &str, method: &str, path: &str) -> (u16, Value) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let (status, body) = host.call_as(token, method, path, None).await;
        if (200..300).contains(&status) || Instant::now() >= deadline {
            return (status, body);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test]
async fn host_on_postgres_and_redis_keeps_serving_through_lost_connections_and_restores_its_state() {
    let Some(mut backends) = Backends::start().await else { return };
    let dir = tempfile::tempdir().unwrap();
    drop_in_probe_plugin(dir.path());
    let mut host = backends.start_host(dir.path()).await;

    // The store is on PostgreSQL: the tenant's row is in the test's schema.
    let (b_id, b) = host.create_tenant("Acme").await;
    let row = backends
        .pg
        .query_one(&format!("SELECT name FROM {}.tenants WHERE id = $1", backends.schema), &[&b_id])
        .await
        .unwrap();
    assert_eq!(row.get::<_, String>(0), "Acme");

    // The leases and the KV are on Redis: the probe plugin's lease is there, and what it writes.
    let install = json!({"name": "probe", "level": "tenant"});
    for token in [TOKEN, b.as_str()] {
        let (status, body) = host.call_as(token, "POST", "/api/plugins/install", Some(install.clone())).await;
        assert_eq!(status, 200, "{body}");
    }
    let (status, body) = host.call_as(&b, "GET", "/api/probe/hold-lease?key=b-held", None).await;
    assert_eq!((status, body), (200, json!("held")));
    let owner = backends.lease_owner("probe/b-held").await.expect("the lease is held in Redis");
    assert_eq!(owner, format!("probe-{b_id}"));
    let (status, body) = host.call_as(&b, "GET", "/api/probe/kv?key=written", None).await;
    assert_eq!((status, body), (200, json!("written")));
    assert_eq!(backends.kv(&format!("probe/{b_id}/written")).await.as_deref(), Some(b_id.as_str()));

    // Deleting the tenant stops its installation (which releases its lease in Redis), then
    // removes its KV data from Redis and its rows from PostgreSQL.
    let (status, body) = host.call("DELETE", &format!("/api/tenants/{b_id}"), None).await;
    assert_eq!(status, 204, "{body}");
    assert_eq!(backends.lease_owner("probe/b-held").await, None, "the stopped installation released its lease");
    for key in ["released:b-held", "written"] {
        assert_eq!(backends.kv(&format!("probe/{b_id}/{key}")).await, None, "the tenant's KV data is gone");
    }
    let left = backends
        .pg
        .query_opt(&format!("SELECT 1 FROM {}.tenants WHERE id = $1", backends.schema), &[&b_id])
        .await
        .unwrap();
    assert!(left.is_none(), "the tenant's row is gone");

    // Redis lost: what needs only the store is served as before; the plugin's KV calls fail.
    backends.redis_proxy.cut();
    let (status, tenants) = host.get("/api/tenants").await;
    assert_eq!(status, 200, "{tenants}");
    assert_eq!(tenants.as_array().map(Vec::len), Some(1), "{tenants}");
    let (status, body) = host.get("/api/probe/kv?key=during-outage").await;
    assert!(status >= 500, "no KV without Redis: {status} {body}");

    // PostgreSQL lost too: the API says so clearly (503, naming the server), health still answers.
    backends.pg_proxy.cut();
    let (status, body) = host.get("/api/tenants").await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["error"]["code"], "STORAGE_UNAVAILABLE", "{body}");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    let named = format!("PostgreSQL at 127.0.0.1:{}/", backends.pg_proxy.addr().port());
    assert!(message.contains(&named), "{message}");
    let (status, _) = host.get("/api/health").await;
    assert_eq!(status, 200, "the host itself keeps serving");

    // Both back: the host reconnects by itself, to both.
    backends.redis_proxy.restore();
    backends.pg_proxy.restore();
    let (status, tenants) = once_reachable(&host, TOKEN, "GET", "/api/tenants").await;
    assert_eq!(status, 200, "{tenants}");
    let (status, body) = once_reachable(&host, TOKEN, "GET", "/api/probe/kv?key=after-outage").await;
    assert_eq!((status, body), (200, json!("written")), "the plugin's KV works again");
    assert_eq!(backends.kv("probe/default/after-outage").await.as_deref(), Some("default"));
    let (status, body) = host.get("/api/probe/hold-lease?key=default-held").await;
    assert_eq!((status, body), (200, json!("held")));

    // SIGTERM: the installation stops and releases its lease in Redis.
    let exit = host.server.stop(Duration::from_secs(20)).await.unwrap();
    assert!(exit.success());
    assert_eq!(backends.lease_owner("probe/default-held").await, None, "released at shutdown");
    assert_eq!(backends.kv("probe/default/released:default-held").await.as_deref(), Some("1"));
    let first_output = host.server.output().await;

    // A second start on the same database migrates nothing twice and restores the install.
    let mut again = backends.start_host(dir.path()).await;
    let (status, plugins) = again.get("/api/plugins").await;
    assert_eq!(status, 200, "{plugins}");
    assert_eq!(plugins[0]["name"], "probe", "restored from PostgreSQL: {plugins}");
    again.server.stop(Duration::from_secs(20)).await.unwrap();
    let output = format!("{first_output}{}", again.server.output().await);
    assert!(output.contains("store opened") && output.contains("postgres="), "{output}");
    assert!(output.contains("plugin KV and leases on Redis"), "{output}");
    assert!(!output.contains(PG_PASSWORD), "the password never reaches the log");
    backends.cleanup().await;
}

/// A free loopback port with nothing listening.
fn closed_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

#[tokio::test]
async fn a_host_whose_database_or_redis_is_unreachable_says_which_without_the_password() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let port = closed_port();
    let cases = [
        (
            "XPERT_DATABASE_URL",
            format!("postgres://app:hunter2-never-shown@127.0.0.1:{port}/xpert"),
            format!("PostgreSQL at 127.0.0.1:{port}/xpert is unavailable"),
        ),
        (
            "XPERT_REDIS_URL",
            format!("redis://app:hunter2-never-shown@127.0.0.1:{port}/2"),
            format!("Redis at 127.0.0.1:{port}/2 is unavailable"),
        ),
    ];
    for (var, url, expected) in cases {
        let envs =
            [("XPERT_DATA_DIR", data), ("XPERT_LISTEN", "127.0.0.1:0"), ("XPERT_ADMIN_TOKEN", TOKEN), (var, &url)];
        let (status, stdout, stderr) =
            testkit::process::run(env!("CARGO_BIN_EXE_xpert-host"), &[], &envs).await.unwrap();
        assert!(!status.success(), "{var}: the host does not start without its server");
        let all = format!("{stdout}{stderr}");
        assert!(all.contains(&expected), "{var}: {all}");
        assert!(!all.contains("hunter2"), "{var}: {all}");
        assert!(!stdout.contains("listening on"), "{var}: {stdout}");
    }
}

#[tokio::test]
async fn either_backend_may_be_set_alone() {
    let Some(mut backends) = Backends::start().await else { return };
    let env = backends.host_env();
    let install = json!({"name": "probe", "level": "tenant"});

    // PostgreSQL alone: the plugins' KV and leases live in its tables; no SQLite file, no Redis.
    let dir = tempfile::tempdir().unwrap();
    drop_in_probe_plugin(dir.path());
    let mut host = start(dir.path(), &[("XPERT_DATABASE_URL", env[0].1.as_str())]).await;
    let (status, body) = host.post("/api/plugins/install", install.clone()).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = host.get("/api/probe/kv?key=pg-only").await;
    assert_eq!((status, body), (200, json!("written")));
    let (status, body) = host.get("/api/probe/hold-lease?key=pg-held").await;
    assert_eq!((status, body), (200, json!("held")));
    let kv = backends
        .pg
        .query_one(&format!("SELECT value FROM {}.plugin_kv WHERE key = 'probe/default/pg-only'", backends.schema), &[])
        .await
        .unwrap();
    assert_eq!(kv.get::<_, String>(0), "default");
    let lease = backends
        .pg
        .query_one(&format!("SELECT owner FROM {}.plugin_leases WHERE key = 'probe/pg-held'", backends.schema), &[])
        .await
        .unwrap();
    assert_eq!(lease.get::<_, String>(0), "probe-default");
    assert_eq!(backends.kv("probe/default/pg-only").await, None, "nothing in Redis");
    assert!(!dir.path().join("xpert.db").exists(), "no SQLite store");
    assert!(host.server.stop(Duration::from_secs(20)).await.unwrap().success());

    // Redis alone: the store is the SQLite file, the KV and leases are in Redis.
    let dir = tempfile::tempdir().unwrap();
    drop_in_probe_plugin(dir.path());
    let redis_env: Vec<(&str, &str)> = env[1..].iter().map(|(k, v)| (*k, v.as_str())).collect();
    let mut host = start(dir.path(), &redis_env).await;
    let (status, body) = host.post("/api/plugins/install", install).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = host.get("/api/probe/kv?key=redis-only").await;
    assert_eq!((status, body), (200, json!("written")));
    assert_eq!(backends.kv("probe/default/redis-only").await.as_deref(), Some("default"));
    assert!(dir.path().join("xpert.db").exists(), "the store is SQLite");
    let sqlite_kv = rusqlite::Connection::open(dir.path().join("xpert.kv.db")).expect("the SQLite KV file opens");
    let local: i64 = sqlite_kv
        .query_row("SELECT COUNT(*) FROM plugin_kv WHERE key = 'probe/default/redis-only'", [], |r| r.get(0))
        .expect("count");
    assert_eq!(local, 0, "the key went to Redis, not to the SQLite KV file");
    assert!(host.server.stop(Duration::from_secs(20)).await.unwrap().success());
    backends.cleanup().await;
}

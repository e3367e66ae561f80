//! Lost connections: with a proxy between the backend and its server, calls fail with a clear
//! error that names the server (never its password) while the connection is gone — closed (cut)
//! or silent (frozen: only a deadline tells) — and succeed again, on the same backend object,
//! once the server is reachable: the clients reconnect by themselves.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use host_sdk::host::{KvBackend, LeaseBackend};
use testkit::proxy::Proxy;

use super::conformance::servers;
use super::{IntegrationRecord, PgOptions, PgStore, RedisOptions, RedisShared, Store, DEFAULT_TENANT};

/// Polls `f` until it gives `Some`, or panics with `what` after 30 s.
async fn eventually<T, F, Fut>(what: &str, mut f: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(v) = f().await {
            return v;
        }
        assert!(Instant::now() < deadline, "not within 30 s: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn resolve(host: &str, port: u16) -> SocketAddr {
    tokio::net::lookup_host((host, port)).await.expect("resolve").next().expect("an address")
}

fn redis_upstream_parts() -> (String, u16) {
    let info: redis::ConnectionInfo =
        redis::IntoConnectionInfo::into_connection_info(servers::redis_url().as_str()).expect("XPERT_TEST_REDIS_URL");
    match info.addr() {
        redis::ConnectionAddr::Tcp(host, port) => (host.clone(), *port),
        other => panic!("XPERT_TEST_REDIS_URL must be TCP for the outage test, not {other}"),
    }
}

#[tokio::test]
async fn redis_calls_fail_clearly_while_the_connection_is_lost_and_work_again_once_it_is_back() {
    // Reachability first (and the usual skip rule).
    let Some((direct, prefix)) = servers::redis().await else { return };
    let (host, port) = redis_upstream_parts();
    let proxy = Proxy::start(resolve(&host, port).await).await.expect("proxy");
    let url = format!("redis://127.0.0.1:{}/0", proxy.addr().port());
    let options = RedisOptions {
        prefix: prefix.clone(),
        response_timeout: Duration::from_secs(2),
        connect_timeout: Duration::from_secs(2),
        keepalive: Duration::from_millis(200),
    };
    let redis = RedisShared::connect(&url, options).await.expect("connect through the proxy");
    redis.set("k".into(), "kept".into(), 0).await.expect("set");
    let lease = redis.acquire("bot".into(), "A".into(), 60_000).await.expect("acquire").expect("free");

    proxy.cut();
    let target = format!("Redis at 127.0.0.1:{}/0 is unavailable", proxy.addr().port());
    for attempt in 0..3 {
        let started = Instant::now();
        let err = redis.get("k".into()).await.expect_err("no Redis, no answer");
        assert!(err.message.contains(&target), "attempt {attempt}: {}", err.message);
        assert!(err.retryable, "a lost connection is worth retrying: {err:?}");
        assert!(started.elapsed() < Duration::from_secs(10), "fails, does not hang");
        let err = redis.renew(lease.clone(), 60_000).await.expect_err("a renewal cannot be confirmed");
        assert!(err.message.contains(&target), "{}", err.message);
    }
    // Another deployment's client on the direct connection is unaffected.
    assert!(direct.get("k".into()).await.expect("direct").is_some());

    proxy.restore();
    let value = eventually("the client reconnects", || async { redis.get("k".into()).await.ok() }).await;
    assert_eq!(value.as_deref(), Some("kept"), "the data is where it was");
    let renewed = redis.renew(lease.clone(), 60_000).await.expect("renew").expect("still held");
    assert_eq!(renewed.token, lease.token);
    servers::redis_cleanup(&prefix).await;
}

#[tokio::test]
async fn an_unreachable_redis_is_named_without_its_password() {
    if servers::redis().await.is_none() {
        return;
    }
    let (host, port) = redis_upstream_parts();
    let proxy = Proxy::start(resolve(&host, port).await).await.expect("proxy");
    proxy.cut();
    let url = format!("redis://app:hunter2-never-shown@127.0.0.1:{}/3", proxy.addr().port());
    let options = RedisOptions { connect_timeout: Duration::from_secs(2), ..RedisOptions::default() };
    let err = RedisShared::connect(&url, options).await.err().expect("nothing to connect to").to_string();
    assert!(err.contains(&format!("Redis at 127.0.0.1:{}/3 is unavailable", proxy.addr().port())), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
}

fn pg_config_via(proxy: &Proxy, password: Option<&str>) -> tokio_postgres::Config {
    let base = servers::database_config();
    let mut config = tokio_postgres::Config::new();
    config.host("127.0.0.1").port(proxy.addr().port());
    if let Some(user) = base.get_user() {
        config.user(user);
    }
    if let Some(db) = base.get_dbname() {
        config.dbname(db);
    }
    if let Some(pw) = password.map(str::as_bytes).or(base.get_password()) {
        config.password(pw);
    }
    config
}

async fn pg_upstream() -> SocketAddr {
    let base = servers::database_config();
    let host = match base.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        _ => "127.0.0.1".into(),
    };
    resolve(&host, base.get_ports().first().copied().unwrap_or(5432)).await
}

#[tokio::test]
async fn postgres_calls_fail_clearly_while_the_connection_is_lost_and_work_again_once_it_is_back() {
    let Some(pg) = servers::postgres().await else { return };
    let proxy = Proxy::start(pg_upstream().await).await.expect("proxy");
    let options =
        PgOptions { max_connections: 4, op_timeout: Duration::from_secs(3), connect_timeout: Duration::from_secs(2) };
    let store: PgStore = pg.store_via(pg_config_via(&proxy, None), options).await;
    let record = super::conformance::integration(DEFAULT_TENANT, "i-outage");
    assert!(store.put_integration(record.clone()).await.expect("put"));

    proxy.cut();
    let target = format!("PostgreSQL at 127.0.0.1:{}/", proxy.addr().port());
    for attempt in 0..3 {
        let started = Instant::now();
        let err = store.list_integrations(DEFAULT_TENANT.into()).await.expect_err("no database, no answer");
        assert!(err.unavailable, "attempt {attempt}: a lost connection is 'unavailable': {err}");
        assert!(err.message.contains(&target) && err.message.contains("unavailable"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10), "fails, does not hang");
    }
    // The store's other connections (here: the test's direct one) are unaffected.
    assert!(pg.store.get_integration(DEFAULT_TENANT.into(), "i-outage".into()).await.expect("direct").is_some());

    proxy.restore();
    let listed: Vec<IntegrationRecord> =
        eventually("the pool reconnects", || async { store.list_integrations(DEFAULT_TENANT.into()).await.ok() }).await;
    assert_eq!(listed, [record], "the data is where it was");
    drop(store);
    pg.drop_schema().await;
}

#[tokio::test]
async fn an_unreachable_postgres_is_named_without_its_password() {
    let Some(pg) = servers::postgres().await else { return };
    let proxy = Proxy::start(pg_upstream().await).await.expect("proxy");
    proxy.cut();
    let options = PgOptions { connect_timeout: Duration::from_secs(2), ..PgOptions::default() };
    let err = PgStore::connect(pg_config_via(&proxy, Some("hunter2-never-shown")), options)
        .await
        .err()
        .expect("nothing to connect to")
        .to_string();
    assert!(err.contains(&format!("PostgreSQL at 127.0.0.1:{}/", proxy.addr().port())), "{err}");
    assert!(err.contains("unavailable"), "{err}");
    assert!(!err.contains("hunter2"), "{err}");
    pg.drop_schema().await;
}

#[tokio::test]
async fn redis_calls_fail_within_their_deadline_when_the_network_goes_silent_and_work_again_after() {
    let Some((_, prefix)) = servers::redis().await else { return };
    let (host, port) = redis_upstream_parts();
    let proxy = Proxy::start(resolve(&host, port).await).await.expect("proxy");
    let url = format!("redis://127.0.0.1:{}/0", proxy.addr().port());
    let options = RedisOptions {
        prefix: prefix.clone(),
        response_timeout: Duration::from_secs(1),
        connect_timeout: Duration::from_secs(1),
        keepalive: Duration::from_millis(200),
    };
    let redis = RedisShared::connect(&url, options).await.expect("connect through the proxy");
    redis.set("k".into(), "kept".into(), 0).await.expect("set");
    let lease = redis.acquire("bot".into(), "A".into(), 60_000).await.expect("acquire").expect("free");

    proxy.freeze();
    let target = format!("Redis at 127.0.0.1:{}/0 is unavailable", proxy.addr().port());
    for attempt in 0..2 {
        let started = Instant::now();
        let err = redis.renew(lease.clone(), 60_000).await.expect_err("no answer, no renewal");
        assert!(err.message.contains(&target), "attempt {attempt}: {}", err.message);
        assert!(started.elapsed() < Duration::from_secs(15), "a silent network fails calls, it does not hang them");
    }

    proxy.restore();
    let value = eventually("the client reconnects", || async { redis.get("k".into()).await.ok() }).await;
    assert_eq!(value.as_deref(), Some("kept"));
    assert!(redis.renew(lease, 60_000).await.expect("renew").is_some(), "still held");
    servers::redis_cleanup(&prefix).await;
}

#[tokio::test]
async fn postgres_calls_fail_within_their_deadline_when_the_network_goes_silent_and_work_again_after() {
    let Some(pg) = servers::postgres().await else { return };
    let proxy = Proxy::start(pg_upstream().await).await.expect("proxy");
    let options =
        PgOptions { max_connections: 2, op_timeout: Duration::from_secs(2), connect_timeout: Duration::from_secs(1) };
    let store: PgStore = pg.store_via(pg_config_via(&proxy, None), options).await;
    let record = super::conformance::integration(DEFAULT_TENANT, "i-silent");
    assert!(store.put_integration(record.clone()).await.expect("put"));

    proxy.freeze();
    let target = format!("PostgreSQL at 127.0.0.1:{}/", proxy.addr().port());
    for attempt in 0..3 {
        let started = Instant::now();
        let err = store.list_integrations(DEFAULT_TENANT.into()).await.expect_err("no answer");
        assert!(err.unavailable, "attempt {attempt}: {err}");
        assert!(err.message.contains(&target), "{err}");
        assert!(started.elapsed() < Duration::from_secs(15), "a silent network fails calls, it does not hang them");
    }

    proxy.restore();
    let listed: Vec<IntegrationRecord> = eventually("the pool replaces its silent connections", || async {
        store.list_integrations(DEFAULT_TENANT.into()).await.ok()
    })
    .await;
    assert_eq!(listed, [record]);
    drop(store);
    pg.drop_schema().await;
}

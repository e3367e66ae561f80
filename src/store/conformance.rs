//! One conformance suite for every backend of the host's state: the [`Store`] checks here (tenants,
//! installs, integrations, experts, conversations, the store's own KV and lease tables with an
//! explicit clock), host-sdk's KV, lease and session checks through the traits plugins use, and
//! the host's own lease and tenant operations ([`SharedState`]). Each backend runs all that
//! applies to it: SQLite, in-memory (in host-sdk), PostgreSQL and Redis.
//!
//! Server-backed runs read `XPERT_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) and `XPERT_TEST_REDIS_URL` (default
//! `redis://127.0.0.1:6379`) and isolate themselves: a fresh PostgreSQL schema per test, a random
//! key prefix per test on Redis, so parallel test processes never see each other. A server that
//! cannot be reached fails the test with a line saying which one and how to start it, unless
//! `XPERT_SKIP_SERVER_TESTS=1` (then the test passes without running).

use std::sync::Arc;

use host_sdk::Lease;

use super::{
    InstallRecord, IntegrationRecord, MessageRecord, SharedState, Store, TenantRecord, XpertRecord, DEFAULT_TENANT,
};

fn tenant(id: &str) -> TenantRecord {
    TenantRecord {
        id: id.into(),
        name: format!("name of {id}"),
        created_at: format!("2026-01-01T00:00:0{}Z", id.len()),
    }
}

/// An integration record of a tenant.
pub fn integration(tenant: &str, id: &str) -> IntegrationRecord {
    IntegrationRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        name: format!("name of {id}"),
        provider: "wecom".into(),
        enabled: true,
        options: serde_json::json!({"botId": id, "nested": {"n": 1, "list": [true, null]}}),
        created_at: format!("t-{id}"),
        updated_at: format!("t-{id}"),
    }
}

fn xpert(tenant: &str, id: &str) -> XpertRecord {
    XpertRecord {
        id: id.into(),
        tenant_id: tenant.into(),
        name: format!("expert {id}"),
        agent: serde_json::json!({"kind": "echo"}),
        triggers: serde_json::json!([{"provider": "wecom", "config": {"integrationId": "i1"}}]),
        published: false,
        published_triggers: serde_json::json!([]),
        created_at: format!("t-{id}"),
        updated_at: format!("t-{id}"),
    }
}

/// Tenants: `default` exists and is listed first, names and token hashes are unique, lookups by
/// id and by token hash, and deletion of everything a tenant owns (never `default`).
pub async fn tenants(s: &dyn Store) {
    let listed = s.list_tenants().await.expect("list");
    assert_eq!(listed.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), [DEFAULT_TENANT], "only default at first");
    let (b, c) = (tenant("tb"), tenant("tcc"));
    assert!(s.create_tenant(c.clone(), "hash-c".into()).await.expect("create"));
    assert!(s.create_tenant(b.clone(), "hash-b".into()).await.expect("create"));
    assert!(!s.create_tenant(TenantRecord { id: "tx".into(), ..b.clone() }, "hash-x".into()).await.expect("create"));
    assert!(!s
        .create_tenant(TenantRecord { id: "ty".into(), name: "other".into(), ..b.clone() }, "hash-b".into())
        .await
        .expect("create"));
    let ids: Vec<String> = s.list_tenants().await.expect("list").into_iter().map(|t| t.id).collect();
    assert_eq!(ids, ["default", "tb", "tcc"], "default first, then oldest first");
    assert_eq!(s.get_tenant("tb".into()).await.expect("get"), Some(b.clone()));
    assert_eq!(s.get_tenant("nope".into()).await.expect("get"), None);
    assert_eq!(s.tenant_by_token_hash("hash-c".into()).await.expect("by hash"), Some(c));
    assert_eq!(s.tenant_by_token_hash("hash-zz".into()).await.expect("by hash"), None);
    assert!(!s.delete_tenant(DEFAULT_TENANT.into()).await.expect("delete"), "default stays");
    assert!(s.delete_tenant("tcc".into()).await.expect("delete"));
    assert!(!s.delete_tenant("tcc".into()).await.expect("delete"), "already gone");
    assert_eq!(s.tenant_by_token_hash("hash-c".into()).await.expect("by hash"), None);
}

/// Rows of one tenant are invisible to another and leave with it: integrations, experts,
/// conversations and messages, installs, sessions and the plugins' KV keys of that tenant only.
pub async fn tenant_isolation_and_deletion(s: &dyn Store) {
    assert!(s.create_tenant(tenant("tb"), "hash-b".into()).await.expect("create"));
    assert!(s.put_integration(integration("tb", "i1")).await.expect("put"));
    assert!(!s.put_integration(integration(DEFAULT_TENANT, "i1")).await.expect("put"), "another tenant's id");
    assert_eq!(s.get_integration(DEFAULT_TENANT.into(), "i1".into()).await.expect("get"), None);
    assert!(!s.delete_integration(DEFAULT_TENANT.into(), "i1".into()).await.expect("delete"));
    assert_eq!(s.integration_tenant("i1".into()).await.expect("tenant").as_deref(), Some("tb"));
    assert!(s.put_xpert(xpert("tb", "x1")).await.expect("put"));
    assert!(!s.put_xpert(xpert(DEFAULT_TENANT, "x1")).await.expect("put"), "another tenant's id");
    assert_eq!(s.get_xpert(DEFAULT_TENANT.into(), "x1".into()).await.expect("get"), None);
    s.create_conversation("tb".into(), "c1".into(), "x1".into(), "t".into()).await.expect("conversation");
    assert!(s.conversation_exists("tb".into(), "c1".into(), "x1".into()).await.expect("exists"));
    assert!(!s.conversation_exists("tb".into(), "c1".into(), "x2".into()).await.expect("exists"), "another expert");
    assert!(!s.conversation_exists(DEFAULT_TENANT.into(), "c1".into(), "x1".into()).await.expect("exists"));
    let turn = MessageRecord { role: "user".into(), content: "hi".into() };
    s.append_message(DEFAULT_TENANT.into(), "c1".into(), turn.clone()).await.expect("append");
    assert!(s.messages("tb".into(), "c1".into()).await.expect("messages").is_empty(), "not appended across tenants");
    s.append_message("tb".into(), "c1".into(), turn.clone()).await.expect("append");
    assert_eq!(s.messages("tb".into(), "c1".into()).await.expect("messages"), [turn]);
    assert!(s.messages(DEFAULT_TENANT.into(), "c1".into()).await.expect("messages").is_empty());
    let install = InstallRecord {
        name: "wecom".into(),
        level: "tenant".into(),
        tenant_id: "tb".into(),
        installed_at: "t".into(),
    };
    s.save_install(install).await.expect("install");
    let session = host_sdk::host::conformance::session("i1", "k", "single", "c", "u", "x1", None, 1);
    s.session_put("tb".into(), session.clone()).await.expect("session");
    for key in ["wecom/tb/session:1", "wecom/tbx/session:1", "wecom/default/session:1", "wecom/tb"] {
        s.kv_set(key.into(), "v".into(), None).await.expect("kv");
    }

    assert!(s.delete_tenant("tb".into()).await.expect("delete"));
    assert_eq!(s.integration_tenant("i1".into()).await.expect("tenant"), None);
    assert_eq!(s.get_xpert("tb".into(), "x1".into()).await.expect("get"), None);
    assert!(!s.conversation_exists("tb".into(), "c1".into(), "x1".into()).await.expect("exists"));
    assert!(s.list_installs().await.expect("installs").is_empty());
    assert_eq!(s.session_get("tb".into(), "i1".into(), "k".into()).await.expect("session"), None);
    assert_eq!(s.kv_get("wecom/tb/session:1".into(), 0).await.expect("kv"), None);
    assert!(s.kv_get("wecom/tbx/session:1".into(), 0).await.expect("kv").is_some(), "a longer tenant id is kept");
    assert!(s.kv_get("wecom/default/session:1".into(), 0).await.expect("kv").is_some());
    assert!(s.kv_get("wecom/tb".into(), 0).await.expect("kv").is_some(), "not under the tenant's namespace");
    assert!(!s.put_integration(integration("tb", "i2")).await.expect("put"), "no rows for a deleted tenant");
    assert!(!s.put_xpert(xpert("tb", "x2")).await.expect("put"));
    s.session_put("tb".into(), session).await.expect("session");
    assert_eq!(s.session_get("tb".into(), "i1".into(), "k".into()).await.expect("session"), None);
}

/// Integrations and experts: insert, replace (every field, JSON kept exactly), list oldest first,
/// delete; deleting an integration deletes its sessions.
pub async fn integrations_and_xperts(s: &dyn Store) {
    let t = DEFAULT_TENANT;
    let (mut a, b) = (integration(t, "ia"), integration(t, "ib"));
    assert!(s.put_integration(b.clone()).await.expect("put"));
    assert!(s.put_integration(a.clone()).await.expect("put"));
    assert_eq!(s.list_integrations(t.into()).await.expect("list"), [a.clone(), b.clone()], "oldest first");
    a.enabled = false;
    a.name = "renamed 名".into();
    a.options = serde_json::json!({"secret": "s", "n": 2});
    a.updated_at = "t-later".into();
    assert!(s.put_integration(a.clone()).await.expect("replace"));
    assert_eq!(s.get_integration(t.into(), "ia".into()).await.expect("get"), Some(a.clone()));
    let session = host_sdk::host::conformance::session("ia", "k", "single", "c", "u", "x", None, 1);
    s.session_put(t.into(), session).await.expect("session");
    assert!(s.delete_integration(t.into(), "ia".into()).await.expect("delete"));
    assert!(!s.delete_integration(t.into(), "ia".into()).await.expect("delete"));
    assert_eq!(s.session_get(t.into(), "ia".into(), "k".into()).await.expect("session"), None, "sessions went too");
    assert_eq!(s.list_integrations(t.into()).await.expect("list"), [b]);

    let (mut x, y) = (xpert(t, "xa"), xpert(t, "xb"));
    assert!(s.put_xpert(y.clone()).await.expect("put"));
    assert!(s.put_xpert(x.clone()).await.expect("put"));
    assert_eq!(s.list_xperts(t.into()).await.expect("list"), [x.clone(), y.clone()]);
    x.published = true;
    x.published_triggers = x.triggers.clone();
    x.agent = serde_json::json!({"kind": "openai", "model": "m", "apiKey": "k"});
    assert!(s.put_xpert(x.clone()).await.expect("replace"));
    assert_eq!(s.xpert_agent(t.into(), "xa".into()).await.expect("agent"), Some(x.agent.clone()));
    assert_eq!(s.xpert_agent("other-tenant".into(), "xa".into()).await.expect("agent"), None);
    assert_eq!(s.get_xpert(t.into(), "xa".into()).await.expect("get"), Some(x));
    assert_eq!(s.get_xpert(t.into(), "nope".into()).await.expect("get"), None);
    // Deleted once, only in its own tenant.
    assert!(!s.delete_xpert("other-tenant".into(), "xb".into()).await.expect("delete"), "another tenant's id");
    assert!(s.delete_xpert(t.into(), "xb".into()).await.expect("delete"));
    assert!(!s.delete_xpert(t.into(), "xb".into()).await.expect("delete"), "gone already");
    assert_eq!(s.get_xpert(t.into(), "xb".into()).await.expect("get"), None);
    assert_eq!(s.list_xperts(t.into()).await.expect("list").len(), 1);
}

/// Installs: saved (a re-install replaces), listed by tenant then name, deleted once.
pub async fn installs(s: &dyn Store) {
    assert!(s.create_tenant(tenant("tb"), "hash-b".into()).await.expect("create"));
    let record = |tenant: &str, name: &str, at: &str| InstallRecord {
        name: name.into(),
        level: "tenant".into(),
        tenant_id: tenant.into(),
        installed_at: at.into(),
    };
    s.save_install(record("tb", "wecom", "t1")).await.expect("save");
    s.save_install(record(DEFAULT_TENANT, "wecom", "t1")).await.expect("save");
    s.save_install(record(DEFAULT_TENANT, "alpha", "t1")).await.expect("save");
    s.save_install(record("tb", "wecom", "t2")).await.expect("re-install");
    let listed = s.list_installs().await.expect("list");
    assert_eq!(
        listed,
        [record(DEFAULT_TENANT, "alpha", "t1"), record(DEFAULT_TENANT, "wecom", "t1"), record("tb", "wecom", "t2")]
    );
    assert!(s.delete_install("tb".into(), "wecom".into()).await.expect("delete"));
    assert!(!s.delete_install("tb".into(), "wecom".into()).await.expect("delete"));
    assert_eq!(s.list_installs().await.expect("list").len(), 2);
}

/// Conversations keep their turns in order, also when many are appended at once.
pub async fn conversations_keep_turns_in_order(s: &dyn Store) {
    s.create_conversation(DEFAULT_TENANT.into(), "c1".into(), "x1".into(), "t".into()).await.expect("create");
    let calls: Vec<_> = (0..20)
        .map(|i| {
            s.append_message(
                DEFAULT_TENANT.into(),
                "c1".into(),
                MessageRecord { role: "user".into(), content: format!("{i}") },
            )
        })
        .collect();
    let handles: Vec<_> = calls.into_iter().map(tokio::spawn).collect();
    for h in handles {
        h.await.expect("task").expect("append");
    }
    let turns = s.messages(DEFAULT_TENANT.into(), "c1".into()).await.expect("messages");
    let mut contents: Vec<u32> = turns.iter().map(|m| m.content.parse().expect("number")).collect();
    assert_eq!(contents.len(), 20, "every concurrent append is kept");
    contents.sort_unstable();
    assert_eq!(contents, (0..20).collect::<Vec<_>>());
    s.append_message(
        DEFAULT_TENANT.into(),
        "c1".into(),
        MessageRecord { role: "assistant".into(), content: "last".into() },
    )
    .await
    .expect("append");
    let turns = s.messages(DEFAULT_TENANT.into(), "c1".into()).await.expect("messages");
    assert_eq!(turns.last().map(|m| m.content.as_str()), Some("last"), "appended at the end");
}

/// The store's KV with the caller's clock: expiry at the deadline, compare operations, scans in
/// key order without wildcards.
pub async fn store_kv_with_explicit_clock(s: &dyn Store) {
    s.kv_set("a".into(), "1".into(), Some(100)).await.expect("set");
    assert_eq!(s.kv_get("a".into(), 99).await.expect("get").as_deref(), Some("1"));
    assert_eq!(s.kv_get("a".into(), 100).await.expect("get"), None, "expired at its deadline");
    assert!(s.kv_cas("a".into(), None, "2".into(), None, 100).await.expect("cas"), "expired counts as absent");
    assert!(!s.kv_cas("a".into(), Some("1".into()), "3".into(), None, 100).await.expect("cas"));
    assert!(s.kv_cas("a".into(), Some("2".into()), "3".into(), None, 100).await.expect("cas"));
    assert!(!s.kv_delete("a".into(), Some("2".into()), 100).await.expect("delete"));
    assert!(s.kv_delete("a".into(), Some("3".into()), 100).await.expect("delete"));
    s.kv_set("gone".into(), "x".into(), Some(50)).await.expect("set");
    assert!(!s.kv_delete("gone".into(), None, 100).await.expect("delete"), "an expired value is not live");
    for k in ["p:b", "p:a", "p:c", "p;x", "q:a", "o:z"] {
        s.kv_set(k.into(), k.into(), None).await.expect("set");
    }
    let keys = |v: Vec<(String, String)>| v.into_iter().map(|(k, _)| k).collect::<Vec<_>>();
    assert_eq!(keys(s.kv_scan("p:".into(), "".into(), 2, 0).await.expect("scan")), ["p:a", "p:b"]);
    assert_eq!(keys(s.kv_scan("p:".into(), "p:b".into(), 10, 0).await.expect("scan")), ["p:c"]);
    assert!(s.kv_scan("p%".into(), "".into(), 10, 0).await.expect("scan").is_empty(), "no LIKE wildcards");
}

/// The store's leases with the caller's clock: fencing by token, expiry, release of an owner's
/// leases (its `#`-qualified names included, another owner's never).
pub async fn store_leases_with_explicit_clock(s: &dyn Store) {
    let a = s.lease_acquire("bot".into(), "A".into(), 100, 0).await.expect("acquire").expect("free");
    assert!(s.lease_acquire("bot".into(), "B".into(), 100, 50).await.expect("acquire").is_none());
    assert!(s.lease_renew(a.clone(), 100, 50).await.expect("renew").is_some());
    let b = s.lease_acquire("bot".into(), "B".into(), 100, 200).await.expect("acquire").expect("lapsed");
    assert!(b.token > a.token);
    assert!(s.lease_renew(a.clone(), 100, 200).await.expect("renew").is_none(), "the stale holder lost it");
    assert!(!s.lease_release(a, 200).await.expect("release"));
    assert_eq!(s.lease_current("bot".into(), 250).await.expect("current").map(|l| l.owner), Some("B".to_string()));
    let now = i64::MAX / 4;
    let hold = |key: &str, owner: &str| s.lease_acquire(key.into(), owner.into(), 1_000, now);
    hold("b1", "inst#wecom").await.expect("acquire").expect("free");
    hold("b2", "inst").await.expect("acquire").expect("free");
    hold("b3", "instance-2").await.expect("acquire").expect("free");
    assert_eq!(s.lease_release_owner("inst".into()).await.expect("release owner"), 2);
    assert!(s.lease_current("b1".into(), now).await.expect("current").is_none());
    assert!(s.lease_current("b3".into(), now).await.expect("current").is_some(), "another owner's stays");
}

/// [`SharedState::release_owner`] frees every live lease of an owner (and of `<owner>#…`) so
/// another instance takes them at once, with a larger token; other owners' leases stay.
pub async fn shared_release_owner(shared: &dyn SharedState, prefix: &str) {
    let k = |s: &str| format!("{prefix}{s}");
    let first = shared.acquire(k("b1"), "inst-1#wecom".into(), 60_000).await.expect("acquire").expect("free");
    shared.acquire(k("b2"), "inst-1".into(), 60_000).await.expect("acquire").expect("free");
    shared.acquire(k("b3"), "inst-10".into(), 60_000).await.expect("acquire").expect("free");
    assert_eq!(shared.release_owner("inst-1".into()).await.expect("release owner"), 2);
    assert_eq!(shared.current(k("b1")).await.expect("current"), None);
    assert_eq!(shared.current(k("b2")).await.expect("current"), None);
    assert_eq!(shared.current(k("b3")).await.expect("current").map(|l| l.owner), Some("inst-10".into()));
    let next: Lease = shared.acquire(k("b1"), "inst-2".into(), 60_000).await.expect("acquire").expect("released");
    assert!(next.token > first.token, "the next holder's token is larger");
    assert_eq!(shared.release_owner("inst-1".into()).await.expect("release owner"), 0, "nothing left");
}

/// [`SharedState::delete_tenant_keys`] with [`Store::delete_tenant`]: after a tenant is deleted
/// (both, as the host does), none of its plugins' keys is left and other tenants' keys are.
pub async fn tenant_keys_leave_with_the_tenant(store: &dyn Store, shared: &dyn SharedState, prefix: &str) {
    let tenant_id = format!("{}t", prefix.replace(['/', ':'], "-"));
    assert!(store.create_tenant(tenant(&tenant_id), format!("hash-{tenant_id}")).await.expect("create"));
    let mine = [format!("wecom/{tenant_id}/a"), format!("other/{tenant_id}/b"), format!("wecom/{tenant_id}/c/d")];
    let theirs = [format!("wecom/{tenant_id}x/a"), format!("wecom/{tenant_id}"), format!("{tenant_id}/wecom/a")];
    for key in mine.iter().chain(&theirs) {
        shared.set(key.clone(), "v".into(), 0).await.expect("set");
    }
    assert!(store.delete_tenant(tenant_id.clone()).await.expect("delete"));
    shared.delete_tenant_keys(tenant_id.clone()).await.expect("delete keys");
    for key in &mine {
        assert_eq!(shared.get(key.clone()).await.expect("get"), None, "{key} left with its tenant");
    }
    for key in &theirs {
        assert!(shared.get(key.clone()).await.expect("get").is_some(), "{key} is not the tenant's");
    }
    for key in &theirs {
        shared.delete(key.clone()).await.expect("cleanup");
    }
}

/// Where the test servers are, and whether a missing one may be skipped.
pub mod servers {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::super::postgres::{describe, parse_url};
    use super::super::{PgOptions, PgStore, RedisOptions, RedisShared};

    /// The PostgreSQL the tests use.
    pub fn database_url() -> String {
        std::env::var("XPERT_TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into())
    }

    /// The Redis the tests use.
    pub fn redis_url() -> String {
        std::env::var("XPERT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into())
    }

    /// Whether server-backed tests may pass without their server.
    pub fn skip_missing() -> bool {
        std::env::var("XPERT_SKIP_SERVER_TESTS").is_ok_and(|v| v == "1")
    }

    fn unique(tag: &str) -> String {
        let secs = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        format!("{tag}_{secs}_{:08x}", rand::random::<u32>())
    }

    /// A PostgreSQL store in a schema of its own (dropped by [`TestPg::drop_schema`]; schemas
    /// that earlier, failed runs left behind are dropped after an hour).
    pub struct TestPg {
        /// The store, migrated, with its search path set to the schema.
        pub store: PgStore,
        /// The schema's name.
        pub schema: String,
        admin: tokio_postgres::Client,
    }

    impl TestPg {
        /// Drops the schema and everything in it.
        pub async fn drop_schema(self) {
            let _ = self.admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {} CASCADE", self.schema)).await;
        }

        /// A second store on the same schema, through `config` (e.g. a proxy's address).
        pub async fn store_via(&self, mut config: tokio_postgres::Config, options: PgOptions) -> PgStore {
            config.options(format!("-c search_path={}", self.schema));
            PgStore::connect(config, options).await.expect("connect through the proxy")
        }
    }

    /// An error with its first cause (`error connecting to server: Connection refused`).
    fn with_cause(e: &tokio_postgres::Error) -> String {
        match std::error::Error::source(e) {
            Some(cause) => format!("{e}: {cause}"),
            None => e.to_string(),
        }
    }

    /// The test database's config.
    pub fn database_config() -> tokio_postgres::Config {
        parse_url(&database_url()).expect("XPERT_TEST_DATABASE_URL")
    }

    /// A fresh schema on the test PostgreSQL with a migrated store in it; `None` when the server
    /// is missing and `XPERT_SKIP_SERVER_TESTS=1`. Panics, saying how to start it, otherwise.
    pub async fn postgres() -> Option<TestPg> {
        postgres_at(database_config(), skip_missing()).await
    }

    /// [`postgres`] on the server of `config`; `skip`: a missing server gives `None`.
    pub async fn postgres_at(config: tokio_postgres::Config, skip: bool) -> Option<TestPg> {
        let admin = match config.connect(tokio_postgres::NoTls).await {
            Ok((client, connection)) => {
                tokio::spawn(connection);
                client
            }
            Err(e) if skip => {
                eprintln!("skipped: PostgreSQL at {} is unreachable ({})", describe(&config), with_cause(&e));
                return None;
            }
            Err(e) => panic!(
                "PostgreSQL is needed by this test but {} is unreachable ({}). Start it with \
                 `pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start`, point \
                 XPERT_TEST_DATABASE_URL at another server, or set XPERT_SKIP_SERVER_TESTS=1 to skip.",
                describe(&config),
                with_cause(&e)
            ),
        };
        sweep_old_schemas(&admin).await;
        let schema = unique("xt");
        admin.batch_execute(&format!("CREATE SCHEMA {schema}")).await.expect("create the test schema");
        let mut store_config = config.clone();
        store_config.options(format!("-c search_path={schema}"));
        let store = PgStore::connect(store_config, PgOptions::default()).await.expect("connect and migrate");
        Some(TestPg { store, schema, admin })
    }

    async fn sweep_old_schemas(admin: &tokio_postgres::Client) {
        let Ok(rows) = admin.query("SELECT nspname FROM pg_namespace WHERE nspname LIKE 'xt\\_%'", &[]).await else {
            return;
        };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        for row in rows {
            let name: String = row.get(0);
            let born = name.split('_').nth(1).and_then(|s| s.parse::<u64>().ok()).unwrap_or(now);
            if now.saturating_sub(born) > 3600 {
                let _ = admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await;
            }
        }
    }

    /// A Redis backend under a random key prefix; `None` when the server is missing and
    /// `XPERT_SKIP_SERVER_TESTS=1`. Panics, saying how to start it, otherwise.
    pub async fn redis() -> Option<(RedisShared, String)> {
        redis_at(&redis_url(), skip_missing()).await
    }

    /// [`redis`] at another URL; `skip`: a missing server gives `None`.
    pub async fn redis_at(url: &str, skip: bool) -> Option<(RedisShared, String)> {
        let prefix = format!("{}:", unique("xt"));
        let options = RedisOptions { prefix: prefix.clone(), ..RedisOptions::default() };
        match RedisShared::connect(url, options).await {
            Ok(shared) => {
                sweep_old_prefixes(url).await;
                Some((shared, prefix))
            }
            Err(e) if skip => {
                eprintln!("skipped: {e}");
                None
            }
            Err(e) => panic!(
                "Redis is needed by this test: {e}. Start it with `redis-server --daemonize yes --bind 127.0.0.1 \
                 -::1 --port 6379 --save \"\" --appendonly no`, point XPERT_TEST_REDIS_URL at another server, \
                 or set XPERT_SKIP_SERVER_TESTS=1 to skip."
            ),
        }
    }

    /// Deletes the keys that earlier, failed runs left behind (prefixes `xt_<secs>_…:` older than
    /// an hour).
    async fn sweep_old_prefixes(url: &str) {
        let Ok(client) = redis::Client::open(url) else { return };
        let Ok(mut conn) = client.get_multiplexed_async_connection().await else { return };
        let now = SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or(0);
        let mut cursor = 0u64;
        loop {
            let Ok((next, keys)): Result<(u64, Vec<String>), _> = redis::cmd("SCAN")
                .arg(cursor)
                .arg("MATCH")
                .arg("xt_*")
                .arg("COUNT")
                .arg(500)
                .query_async(&mut conn)
                .await
            else {
                return;
            };
            for key in keys {
                let born = key.split('_').nth(1).and_then(|s| s.parse::<u64>().ok()).unwrap_or(now);
                if now.saturating_sub(born) > 3600 {
                    let _: Result<(), _> = redis::cmd("DEL").arg(&key).query_async(&mut conn).await;
                }
            }
            if next == 0 {
                return;
            }
            cursor = next;
        }
    }

    /// Deletes every key under a test prefix.
    pub async fn redis_cleanup(prefix: &str) {
        let Ok(client) = redis::Client::open(redis_url()) else { return };
        let Ok(mut conn) = client.get_multiplexed_async_connection().await else { return };
        for suffix in ["kv:v", "kv:i", "kv:e", "ls:o", "ls:t", "ls:x", "ls:w"] {
            let _: Result<(), _> = redis::cmd("DEL").arg(format!("{prefix}{suffix}")).query_async(&mut conn).await;
        }
    }
}

/// Sessions leave with their integration and with their tenant (others' stay), and nothing is
/// written for a deleted tenant. Needs [`session_tenants`].
pub async fn sessions_leave_with_their_integration_and_tenant(store: &dyn Store) {
    use host_sdk::host::conformance::session;
    use host_sdk::SessionQuery;

    for (tenant, id) in [("tenant-a", "ia1"), ("tenant-a", "ia2"), ("tenant-b", "ib1")] {
        assert!(store.put_integration(integration(tenant, id)).await.expect("put"));
        for key in ["c1:u1", "c2:u2"] {
            store.session_put(tenant.into(), session(id, key, "single", key, "u", "x", None, 1)).await.expect("put");
        }
    }
    let count = |tenant: &str, id: &str| {
        let f = store.session_query(tenant.into(), SessionQuery::new(id));
        async move { f.await.expect("query").total }
    };
    assert!(store.delete_integration("tenant-a".into(), "ia1".into()).await.expect("delete"));
    assert_eq!(count("tenant-a", "ia1").await, 0, "the deleted integration's sessions are gone");
    assert_eq!(count("tenant-a", "ia2").await, 2, "another integration's stay");
    assert!(store.delete_tenant("tenant-a".into()).await.expect("delete"));
    assert_eq!(count("tenant-a", "ia2").await, 0, "the deleted tenant's sessions are gone");
    assert_eq!(count("tenant-b", "ib1").await, 2, "another tenant's stay");
    let late = session("ia2", "c3:u3", "single", "c3", "u3", "x", None, 2);
    store.session_put("tenant-a".into(), late).await.expect("put");
    assert_eq!(count("tenant-a", "ia2").await, 0, "nothing is written for a deleted tenant");
}

/// Tenants `tenant-a` and `tenant-b` (sessions of a tenant that does not exist are not written).
pub async fn session_tenants(s: &dyn Store) {
    for id in ["tenant-a", "tenant-b"] {
        let t = TenantRecord { id: id.into(), name: id.into(), created_at: "t".into() };
        assert!(s.create_tenant(t, format!("hash-{id}")).await.expect("create tenant"));
    }
}

/// A store for one test and what to do after it (`None`: the server is missing, test skipped).
type Opened = Option<(Arc<dyn Store>, host_sdk::BoxFuture<'static, ()>)>;

/// Runs `$body` with a fresh store from the suite's `open()`, then its cleanup.
macro_rules! with_store {
    (|$s:ident| $body:expr) => {{
        let Some((store, cleanup)) = open().await else { return };
        {
            let $s: Arc<dyn Store> = store;
            $body;
        }
        cleanup.await;
    }};
}

/// The whole suite against one kind of store: `$open` is an async block giving [`Opened`].
macro_rules! store_suite {
    ($name:ident, $open:expr) => {
        mod $name {
            use std::sync::Arc;

            use host_sdk::host::conformance as sdk;

            use super::*;
            use crate::store::StoreServices;

            async fn open() -> Opened {
                $open.await
            }

            #[tokio::test]
            async fn store_tenants() {
                with_store!(|s| tenants(s.as_ref()).await)
            }
            #[tokio::test]
            async fn store_tenant_isolation_and_deletion() {
                with_store!(|s| tenant_isolation_and_deletion(s.as_ref()).await)
            }
            #[tokio::test]
            async fn store_integrations_and_xperts() {
                with_store!(|s| integrations_and_xperts(s.as_ref()).await)
            }
            #[tokio::test]
            async fn store_installs() {
                with_store!(|s| installs(s.as_ref()).await)
            }
            #[tokio::test]
            async fn store_conversations_keep_turns_in_order() {
                with_store!(|s| conversations_keep_turns_in_order(s.as_ref()).await)
            }
            #[tokio::test]
            async fn store_kv_with_explicit_clock() {
                with_store!(|s| super::store_kv_with_explicit_clock(s.as_ref()).await)
            }
            #[tokio::test]
            async fn store_leases_with_explicit_clock() {
                with_store!(|s| super::store_leases_with_explicit_clock(s.as_ref()).await)
            }
            #[tokio::test]
            async fn kv_set_get_delete() {
                with_store!(|s| sdk::kv_set_get_delete(&StoreServices(s), "p/").await)
            }
            #[tokio::test]
            async fn kv_compare_operations() {
                with_store!(|s| sdk::kv_compare_operations(&StoreServices(s), "p/").await)
            }
            #[tokio::test]
            async fn kv_compare_operations_are_atomic() {
                with_store!(|s| sdk::kv_compare_operations_are_atomic(&StoreServices(s), "p/").await)
            }
            #[tokio::test]
            async fn kv_scan_prefix_in_key_order() {
                with_store!(|s| sdk::kv_scan_prefix(&StoreServices(s), "p/").await)
            }
            #[tokio::test]
            async fn kv_ttl() {
                with_store!(|s| sdk::kv_ttl(&StoreServices(s), "p/").await)
            }
            #[tokio::test]
            async fn leases_acquire_renew_release() {
                with_store!(|s| sdk::leases_acquire_renew_release(&StoreServices(s), "p/", crate::clock::now_ms()).await)
            }
            #[tokio::test]
            async fn leases_expire_and_change_hands() {
                with_store!(|s| sdk::leases_expire_and_change_hands(&StoreServices(s), "p/").await)
            }
            #[tokio::test]
            async fn leases_one_winner_under_contention() {
                with_store!(|s| sdk::leases_one_winner_under_contention(&StoreServices(s), "p/").await)
            }
            #[tokio::test]
            async fn shared_release_owner() {
                with_store!(|s| super::shared_release_owner(&StoreServices(s), "p/").await)
            }
            #[tokio::test]
            async fn tenant_keys_leave_with_the_tenant() {
                with_store!(|s| super::tenant_keys_leave_with_the_tenant(s.as_ref(), &StoreServices(s.clone()), "p/")
                    .await)
            }
            #[tokio::test]
            async fn sessions_search_case_insensitively_with_literal_wildcards() {
                with_store!(|s| {
                    session_tenants(s.as_ref()).await;
                    sdk::sessions_search(&StoreServices(s), "tenant-a").await
                })
            }
            #[tokio::test]
            async fn sessions_sort_by_every_column_both_ways() {
                with_store!(|s| {
                    session_tenants(s.as_ref()).await;
                    sdk::sessions_sort(&StoreServices(s), "tenant-a").await
                })
            }
            #[tokio::test]
            async fn sessions_page_with_offset_limit_and_total() {
                with_store!(|s| {
                    session_tenants(s.as_ref()).await;
                    sdk::sessions_paging(&StoreServices(s), "tenant-a").await
                })
            }
            #[tokio::test]
            async fn sessions_upsert_replace_and_delete() {
                with_store!(|s| {
                    session_tenants(s.as_ref()).await;
                    sdk::sessions_upsert_and_delete(&StoreServices(s), "tenant-a").await
                })
            }
            #[tokio::test]
            async fn sessions_leave_with_their_integration_and_with_their_tenant() {
                with_store!(|s| {
                    session_tenants(s.as_ref()).await;
                    super::sessions_leave_with_their_integration_and_tenant(s.as_ref()).await
                })
            }
            #[tokio::test]
            async fn sessions_of_one_tenant_are_invisible_to_another() {
                with_store!(|s| {
                    session_tenants(s.as_ref()).await;
                    sdk::sessions_tenant_isolation(&StoreServices(s), "tenant-a", "tenant-b").await
                })
            }
        }
    };
}

store_suite!(sqlite, async {
    let dir = tempfile::tempdir().expect("temp dir");
    let store = crate::store::SqliteStore::open(&dir.path().join("suite.db")).expect("open");
    let store: Arc<dyn Store> = Arc::new(store);
    let cleanup: host_sdk::BoxFuture<'static, ()> = Box::pin(async move { drop(dir) });
    Some((store, cleanup))
});

store_suite!(postgres, async {
    let pg = servers::postgres().await?;
    let store: Arc<dyn Store> = Arc::new(pg.store.clone());
    let cleanup: host_sdk::BoxFuture<'static, ()> = Box::pin(pg.drop_schema());
    Some((store, cleanup))
});

/// The KV and lease parts of the suite against Redis (the store part has no Redis backend).
mod redis {
    use host_sdk::host::conformance as sdk;

    use super::servers;
    use crate::store::RedisShared;

    macro_rules! with_redis {
        (|$r:ident, $p:ident| $body:expr) => {{
            let Some((shared, prefix)) = servers::redis().await else { return };
            {
                let $r: &RedisShared = &shared;
                let $p: &str = &prefix;
                $body;
            }
            servers::redis_cleanup(&prefix).await;
        }};
    }

    #[tokio::test]
    async fn kv_set_get_delete() {
        with_redis!(|r, p| sdk::kv_set_get_delete(r, p).await)
    }
    #[tokio::test]
    async fn kv_compare_operations() {
        with_redis!(|r, p| sdk::kv_compare_operations(r, p).await)
    }
    #[tokio::test]
    async fn kv_compare_operations_are_atomic() {
        with_redis!(|r, p| sdk::kv_compare_operations_are_atomic(r, p).await)
    }
    #[tokio::test]
    async fn kv_scan_prefix_in_key_order() {
        with_redis!(|r, p| sdk::kv_scan_prefix(r, p).await)
    }
    #[tokio::test]
    async fn kv_ttl() {
        with_redis!(|r, p| sdk::kv_ttl(r, p).await)
    }
    #[tokio::test]
    async fn leases_acquire_renew_release() {
        with_redis!(|r, p| sdk::leases_acquire_renew_release(r, p, crate::clock::now_ms() - 5_000).await)
    }
    #[tokio::test]
    async fn leases_expire_and_change_hands() {
        with_redis!(|r, p| sdk::leases_expire_and_change_hands(r, p).await)
    }
    #[tokio::test]
    async fn leases_one_winner_under_contention() {
        with_redis!(|r, p| sdk::leases_one_winner_under_contention(r, p).await)
    }
    #[tokio::test]
    async fn shared_release_owner() {
        with_redis!(|r, p| super::shared_release_owner(r, p).await)
    }
    #[tokio::test]
    async fn tenant_keys_leave_with_the_tenant() {
        // The store is SQLite here: Redis holds the KV, the store the tenants.
        let dir = tempfile::tempdir().expect("temp dir");
        let store = crate::store::SqliteStore::open(&dir.path().join("t.db")).expect("open");
        with_redis!(|r, p| super::tenant_keys_leave_with_the_tenant(&store, r, p).await)
    }
    #[tokio::test]
    async fn tenant_keys_of_other_runs_under_other_prefixes_stay() {
        // Two deployments (prefixes) on one Redis never touch each other's keys.
        let Some((other, other_prefix)) = servers::redis().await else { return };
        use host_sdk::host::KvBackend;
        other.set("wecom/shared-tenant/a".into(), "theirs".into(), 0).await.expect("set");
        with_redis!(|r, _p| {
            r.set("wecom/shared-tenant/a".into(), "mine".into(), 0).await.expect("set");
            use crate::store::SharedState;
            assert_eq!(r.delete_tenant_keys("shared-tenant".into()).await.expect("delete"), 1);
            assert_eq!(r.get("wecom/shared-tenant/a".into()).await.expect("get"), None);
        });
        assert_eq!(other.get("wecom/shared-tenant/a".into()).await.expect("get").as_deref(), Some("theirs"));
        servers::redis_cleanup(&other_prefix).await;
    }
}

/// What a test says when its server is missing.
mod missing_servers {
    use super::servers;

    fn closed_port() -> u16 {
        std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
    }

    /// Runs `f` and returns its panic message.
    async fn panic_message(f: impl std::future::Future<Output = ()> + Send + 'static) -> String {
        let err = tokio::spawn(f).await.expect_err("the helper fails the test");
        let payload = err.into_panic();
        payload.downcast_ref::<String>().cloned().unwrap_or_default()
    }

    #[tokio::test]
    async fn a_missing_postgres_fails_the_test_saying_which_server_and_how_to_start_it() {
        let port = closed_port();
        let config = move || {
            let mut config = tokio_postgres::Config::new();
            config.host("127.0.0.1").port(port).user("postgres").dbname("test");
            config
        };
        let message = panic_message(async move {
            servers::postgres_at(config(), false).await;
        })
        .await;
        assert!(message.contains(&format!("PostgreSQL is needed by this test but 127.0.0.1:{port}/test")), "{message}");
        assert!(message.contains("pg_ctlcluster") && message.contains("XPERT_SKIP_SERVER_TESTS=1"), "{message}");
        assert!(servers::postgres_at(config(), true).await.is_none(), "skipped when allowed");
    }

    #[tokio::test]
    async fn a_missing_redis_fails_the_test_saying_which_server_and_how_to_start_it() {
        let url = format!("redis://127.0.0.1:{}", closed_port());
        let message = panic_message({
            let url = url.clone();
            async move {
                servers::redis_at(&url, false).await;
            }
        })
        .await;
        assert!(message.contains("Redis is needed by this test: Redis at 127.0.0.1:"), "{message}");
        assert!(message.contains("redis-server") && message.contains("XPERT_SKIP_SERVER_TESTS=1"), "{message}");
        assert!(servers::redis_at(&url, true).await.is_none(), "skipped when allowed");
    }
}

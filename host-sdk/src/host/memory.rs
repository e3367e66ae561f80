//! In-memory KV, lease and session backends: the TestHost's services, and a single-process
//! host's lease table. KV and leases read time from a caller-supplied clock so tests can move it.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use parking_lot::Mutex;

use super::services::{KvBackend, LeaseBackend, SessionBackend};
use crate::{BoxFuture, Error, KvEntry, Lease, SessionPage, SessionQuery, SessionRecord};

/// A clock in Unix milliseconds.
pub type Clock = Arc<dyn Fn() -> i64 + Send + Sync>;

/// The system clock.
pub fn system_clock() -> Clock {
    Arc::new(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
    })
}

#[derive(Clone)]
struct Stored {
    value: String,
    expires_at_ms: Option<i64>,
}

fn expiry(now: i64, ttl_ms: u64) -> Option<i64> {
    (ttl_ms > 0).then(|| now.saturating_add(ttl_ms.min(i64::MAX as u64) as i64))
}

/// A key-value store in a `BTreeMap` (ordered, so prefix scans are ranges).
pub struct MemoryKv {
    clock: Clock,
    map: Mutex<BTreeMap<String, Stored>>,
}

impl MemoryKv {
    /// An empty store reading time from `clock`.
    pub fn new(clock: Clock) -> Self {
        MemoryKv { clock, map: Mutex::new(BTreeMap::new()) }
    }

    fn live(&self, map: &mut BTreeMap<String, Stored>, key: &str) -> Option<String> {
        let now = (self.clock)();
        match map.get(key) {
            Some(s) if s.expires_at_ms.is_none_or(|t| t > now) => Some(s.value.clone()),
            Some(_) => {
                map.remove(key);
                None
            }
            None => None,
        }
    }

    /// Every live entry, for assertions in tests.
    pub fn snapshot(&self) -> Vec<KvEntry> {
        let now = (self.clock)();
        self.map
            .lock()
            .iter()
            .filter(|(_, s)| s.expires_at_ms.is_none_or(|t| t > now))
            .map(|(k, s)| KvEntry { key: k.clone(), value: s.value.clone() })
            .collect()
    }

    fn get_now(&self, key: &str) -> Option<String> {
        self.live(&mut self.map.lock(), key)
    }

    fn set_now(&self, key: String, value: String, ttl_ms: u64) {
        let expires_at_ms = expiry((self.clock)(), ttl_ms);
        self.map.lock().insert(key, Stored { value, expires_at_ms });
    }

    fn cas_now(&self, key: String, expected: Option<&str>, value: String, ttl_ms: u64) -> bool {
        let mut map = self.map.lock();
        if self.live(&mut map, &key).as_deref() != expected {
            return false;
        }
        map.insert(key, Stored { value, expires_at_ms: expiry((self.clock)(), ttl_ms) });
        true
    }

    fn delete_now(&self, key: &str, expected: Option<&str>) -> bool {
        let mut map = self.map.lock();
        match self.live(&mut map, key) {
            Some(v) if expected.is_none_or(|e| e == v) => {
                map.remove(key);
                true
            }
            _ => false,
        }
    }

    fn scan_now(&self, prefix: &str, after: &str, limit: u32) -> Vec<KvEntry> {
        let now = (self.clock)();
        let map = self.map.lock();
        let start = if after.is_empty() || after < prefix { prefix } else { after };
        map.range(start.to_string()..)
            .filter(|(k, _)| k.as_str() != after)
            .take_while(|(k, _)| k.starts_with(prefix))
            .filter(|(_, s)| s.expires_at_ms.is_none_or(|t| t > now))
            .take(limit as usize)
            .map(|(k, s)| KvEntry { key: k.clone(), value: s.value.clone() })
            .collect()
    }
}

impl KvBackend for MemoryKv {
    fn get(&self, key: String) -> BoxFuture<'static, Result<Option<String>, Error>> {
        let v = self.get_now(&key);
        Box::pin(async move { Ok(v) })
    }
    fn set(&self, key: String, value: String, ttl_ms: u64) -> BoxFuture<'static, Result<(), Error>> {
        self.set_now(key, value, ttl_ms);
        Box::pin(async { Ok(()) })
    }
    fn set_if_absent(&self, key: String, value: String, ttl_ms: u64) -> BoxFuture<'static, Result<bool, Error>> {
        let done = self.cas_now(key, None, value, ttl_ms);
        Box::pin(async move { Ok(done) })
    }
    fn compare_and_swap(
        &self,
        key: String,
        expected: Option<String>,
        value: String,
        ttl_ms: u64,
    ) -> BoxFuture<'static, Result<bool, Error>> {
        let done = self.cas_now(key, expected.as_deref(), value, ttl_ms);
        Box::pin(async move { Ok(done) })
    }
    fn delete(&self, key: String) -> BoxFuture<'static, Result<bool, Error>> {
        let done = self.delete_now(&key, None);
        Box::pin(async move { Ok(done) })
    }
    fn compare_and_delete(&self, key: String, expected: String) -> BoxFuture<'static, Result<bool, Error>> {
        let done = self.delete_now(&key, Some(&expected));
        Box::pin(async move { Ok(done) })
    }
    fn scan_prefix(
        &self,
        prefix: String,
        after: String,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<KvEntry>, Error>> {
        let entries = self.scan_now(&prefix, &after, limit);
        Box::pin(async move { Ok(entries) })
    }
}

/// An in-process lease table with monotonic fencing tokens per key.
pub struct MemoryLeases {
    clock: Clock,
    table: Mutex<HashMap<String, (Lease, u64)>>,
}

impl MemoryLeases {
    /// An empty table reading time from `clock`.
    pub fn new(clock: Clock) -> Self {
        MemoryLeases { clock, table: Mutex::new(HashMap::new()) }
    }

    fn acquire_now(&self, key: String, owner: String, ttl_ms: u64) -> Option<Lease> {
        let now = (self.clock)();
        let expires_at_ms = now.saturating_add(ttl_ms as i64);
        let mut table = self.table.lock();
        let last_token = match table.get(&key) {
            Some((held, _)) if held.expires_at_ms > now && held.owner != owner => return None,
            Some((held, _)) if held.expires_at_ms > now => {
                let renewed = Lease { expires_at_ms, ..held.clone() };
                table.insert(key, (renewed.clone(), renewed.token));
                return Some(renewed);
            }
            Some((_, token)) => *token,
            None => 0,
        };
        let lease = Lease { key: key.clone(), owner, token: last_token + 1, expires_at_ms };
        table.insert(key, (lease.clone(), lease.token));
        Some(lease)
    }

    fn renew_now(&self, lease: Lease, ttl_ms: u64) -> Option<Lease> {
        let now = (self.clock)();
        let mut table = self.table.lock();
        match table.get_mut(&lease.key) {
            Some((held, _)) if held.token == lease.token && held.owner == lease.owner && held.expires_at_ms > now => {
                held.expires_at_ms = now.saturating_add(ttl_ms as i64);
                Some(held.clone())
            }
            _ => None,
        }
    }

    fn release_now(&self, lease: &Lease) -> bool {
        let now = (self.clock)();
        let mut table = self.table.lock();
        match table.get_mut(&lease.key) {
            Some((held, _)) if held.token == lease.token && held.owner == lease.owner && held.expires_at_ms > now => {
                // keep the token so the next holder gets a larger one
                held.expires_at_ms = i64::MIN;
                true
            }
            _ => false,
        }
    }

    fn current_now(&self, key: &str) -> Option<Lease> {
        let now = (self.clock)();
        self.table.lock().get(key).filter(|(l, _)| l.expires_at_ms > now).map(|(l, _)| l.clone())
    }
}

impl LeaseBackend for MemoryLeases {
    fn acquire(&self, key: String, owner: String, ttl_ms: u64) -> BoxFuture<'static, Result<Option<Lease>, Error>> {
        let r = self.acquire_now(key, owner, ttl_ms);
        Box::pin(async move { Ok(r) })
    }
    fn renew(&self, lease: Lease, ttl_ms: u64) -> BoxFuture<'static, Result<Option<Lease>, Error>> {
        let r = self.renew_now(lease, ttl_ms);
        Box::pin(async move { Ok(r) })
    }
    fn release(&self, lease: Lease) -> BoxFuture<'static, Result<bool, Error>> {
        let r = self.release_now(&lease);
        Box::pin(async move { Ok(r) })
    }
    fn current(&self, key: String) -> BoxFuture<'static, Result<Option<Lease>, Error>> {
        let r = self.current_now(&key);
        Box::pin(async move { Ok(r) })
    }
}

/// The key of a stored session: (tenant, integration id, session key).
type SessionKey = (String, String, String);

/// Conversation sessions in a map keyed by (tenant, integration id, session key), with the same
/// query semantics as the host's SQL store (see [`SessionBackend::query`]).
#[derive(Default)]
pub struct MemorySessions {
    rows: Mutex<BTreeMap<SessionKey, SessionRecord>>,
}

impl MemorySessions {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Drops every session of a tenant (what deleting the tenant does in a persistent host);
    /// how many there were.
    pub fn delete_tenant(&self, tenant: &str) -> u64 {
        let mut rows = self.rows.lock();
        let before = rows.len();
        rows.retain(|(t, _, _), _| t != tenant);
        (before - rows.len()) as u64
    }

    /// Every session of every tenant as `(tenant, record)`, for assertions in tests.
    pub fn snapshot(&self) -> Vec<(String, SessionRecord)> {
        self.rows.lock().iter().map(|((t, _, _), r)| (t.clone(), r.clone())).collect()
    }

    /// Drops every session of an integration of a tenant (what deleting the integration does in
    /// a persistent host); how many there were.
    pub fn drop_integration(&self, tenant: &str, integration_id: &str) -> u64 {
        let mut rows = self.rows.lock();
        let before = rows.len();
        rows.retain(|(t, i, _), _| !(t == tenant && i == integration_id));
        (before - rows.len()) as u64
    }

    fn query_now(&self, tenant: &str, query: &SessionQuery) -> SessionPage {
        let needle = query.needle();
        let mut matched: Vec<SessionRecord> = self
            .rows
            .lock()
            .iter()
            .filter(|((t, i, _), r)| {
                t == tenant && *i == query.integration_id && needle.as_deref().is_none_or(|n| r.matches(n))
            })
            .map(|(_, r)| r.clone())
            .collect();
        matched.sort_by(|a, b| {
            let order = query.sort_by.compare(a, b);
            if query.descending {
                order.reverse()
            } else {
                order
            }
        });
        let total = matched.len() as u64;
        let items = matched.into_iter().skip(query.offset as usize).take(query.effective_limit() as usize).collect();
        SessionPage { items, total }
    }
}

impl SessionBackend for MemorySessions {
    fn put(&self, tenant: String, record: SessionRecord) -> BoxFuture<'static, Result<(), Error>> {
        let key = (tenant, record.integration_id.clone(), record.session_key.clone());
        self.rows.lock().insert(key, record);
        Box::pin(async { Ok(()) })
    }
    fn get(
        &self,
        tenant: String,
        integration_id: String,
        session_key: String,
    ) -> BoxFuture<'static, Result<Option<SessionRecord>, Error>> {
        let found = self.rows.lock().get(&(tenant, integration_id, session_key)).cloned();
        Box::pin(async move { Ok(found) })
    }
    fn delete(
        &self,
        tenant: String,
        integration_id: String,
        session_key: String,
    ) -> BoxFuture<'static, Result<bool, Error>> {
        let done = self.rows.lock().remove(&(tenant, integration_id, session_key)).is_some();
        Box::pin(async move { Ok(done) })
    }
    fn delete_integration(&self, tenant: String, integration_id: String) -> BoxFuture<'static, Result<u64, Error>> {
        let n = self.drop_integration(&tenant, &integration_id);
        Box::pin(async move { Ok(n) })
    }
    fn query(&self, tenant: String, query: SessionQuery) -> BoxFuture<'static, Result<SessionPage, Error>> {
        let page = self.query_now(&tenant, &query);
        Box::pin(async move { Ok(page) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicI64, Ordering};

    fn fake_clock() -> (Arc<AtomicI64>, Clock) {
        let t = Arc::new(AtomicI64::new(1_000));
        let c = t.clone();
        (t, Arc::new(move || c.load(Ordering::SeqCst)))
    }

    #[test]
    fn kv_values_expire_after_their_ttl() {
        let (t, clock) = fake_clock();
        let kv = MemoryKv::new(clock);
        kv.set_now("a".into(), "1".into(), 100);
        assert_eq!(kv.get_now("a").as_deref(), Some("1"));
        t.store(1_100, Ordering::SeqCst);
        assert_eq!(kv.get_now("a"), None);
        assert!(kv.cas_now("a".into(), None, "2".into(), 0), "an expired key counts as absent");
    }

    #[test]
    fn kv_compare_operations_only_act_on_the_expected_value() {
        let (_, clock) = fake_clock();
        let kv = MemoryKv::new(clock);
        assert!(kv.cas_now("k".into(), None, "v1".into(), 0));
        assert!(!kv.cas_now("k".into(), None, "v2".into(), 0));
        assert!(!kv.cas_now("k".into(), Some("other"), "v2".into(), 0));
        assert!(kv.cas_now("k".into(), Some("v1"), "v2".into(), 0));
        assert!(!kv.delete_now("k", Some("v1")));
        assert!(kv.delete_now("k", Some("v2")));
        assert_eq!(kv.get_now("k"), None);
    }

    #[test]
    fn kv_scan_pages_in_key_order_within_the_prefix() {
        let (_, clock) = fake_clock();
        let kv = MemoryKv::new(clock);
        for k in ["p:c", "p:a", "p:b", "q:a", "o:z"] {
            kv.set_now(k.into(), k.to_uppercase(), 0);
        }
        let first = kv.scan_now("p:", "", 2);
        assert_eq!(first.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["p:a", "p:b"]);
        let rest = kv.scan_now("p:", "p:b", 10);
        assert_eq!(rest.iter().map(|e| e.key.as_str()).collect::<Vec<_>>(), ["p:c"]);
    }

    #[test]
    fn lease_changes_hands_only_after_expiry_with_a_larger_token() {
        let (t, clock) = fake_clock();
        let leases = MemoryLeases::new(clock);
        let a = leases.acquire_now("bot".into(), "A".into(), 100).expect("free lease");
        assert!(leases.acquire_now("bot".into(), "B".into(), 100).is_none(), "held by A");
        let a2 = leases.acquire_now("bot".into(), "A".into(), 100).expect("A re-acquires its own");
        assert_eq!(a2.token, a.token);
        t.store(1_200, Ordering::SeqCst);
        assert!(leases.renew_now(a.clone(), 100).is_none(), "expired leases cannot be renewed");
        let b = leases.acquire_now("bot".into(), "B".into(), 100).expect("expired lease is free");
        assert!(b.token > a.token, "fencing token must grow");
        assert!(!leases.release_now(&a), "a stale holder cannot release");
        assert!(leases.release_now(&b));
        let c = leases.acquire_now("bot".into(), "C".into(), 100).expect("released lease is free");
        assert!(c.token > b.token);
    }
}

/// The shared KV, lease and session checks ([`crate::host::conformance`]) against the in-memory
/// backends; the host runs the same checks against SQLite, PostgreSQL and Redis.
#[cfg(test)]
mod conformance_suite {
    use super::{system_clock, MemoryKv, MemoryLeases, MemorySessions};
    use crate::host::conformance;

    #[tokio::test]
    async fn memory_kv_set_get_delete() {
        conformance::kv_set_get_delete(&MemoryKv::new(system_clock()), "p/").await;
    }

    #[tokio::test]
    async fn memory_kv_compare_operations() {
        conformance::kv_compare_operations(&MemoryKv::new(system_clock()), "p/").await;
    }

    #[tokio::test]
    async fn memory_kv_compare_operations_are_atomic() {
        conformance::kv_compare_operations_are_atomic(&MemoryKv::new(system_clock()), "p/").await;
    }

    #[tokio::test]
    async fn memory_kv_scan_prefix_in_key_order() {
        conformance::kv_scan_prefix(&MemoryKv::new(system_clock()), "p/").await;
    }

    #[tokio::test]
    async fn memory_kv_ttl() {
        conformance::kv_ttl(&MemoryKv::new(system_clock()), "p/").await;
    }

    #[tokio::test]
    async fn memory_leases_acquire_renew_release() {
        let clock = system_clock();
        let now = clock();
        conformance::leases_acquire_renew_release(&MemoryLeases::new(clock), "p/", now).await;
    }

    #[tokio::test]
    async fn memory_leases_expire_and_change_hands() {
        conformance::leases_expire_and_change_hands(&MemoryLeases::new(system_clock()), "p/").await;
    }

    #[tokio::test]
    async fn memory_leases_one_winner_under_contention() {
        conformance::leases_one_winner_under_contention(&MemoryLeases::new(system_clock()), "p/").await;
    }

    #[tokio::test]
    async fn memory_sessions_search_case_insensitively_with_literal_wildcards() {
        conformance::sessions_search(&MemorySessions::new(), "tenant-a").await;
    }

    #[tokio::test]
    async fn memory_sessions_sort_by_every_column_both_ways() {
        conformance::sessions_sort(&MemorySessions::new(), "tenant-a").await;
    }

    #[tokio::test]
    async fn memory_sessions_page_with_offset_limit_and_total() {
        conformance::sessions_paging(&MemorySessions::new(), "tenant-a").await;
    }

    #[tokio::test]
    async fn memory_sessions_upsert_replace_and_delete() {
        conformance::sessions_upsert_and_delete(&MemorySessions::new(), "tenant-a").await;
    }

    #[tokio::test]
    async fn memory_sessions_of_one_tenant_are_invisible_to_another() {
        conformance::sessions_tenant_isolation(&MemorySessions::new(), "tenant-a", "tenant-b").await;
    }

    #[test]
    fn deleting_a_tenant_or_an_integration_drops_only_its_sessions() {
        let store = MemorySessions::new();
        for (tenant, integration, key) in [("a", "i1", "k1"), ("a", "i1", "k2"), ("a", "i2", "k1"), ("b", "i1", "k1")] {
            let row = conformance::session(integration, key, "single", key, "u", "x", None, 1);
            store.rows.lock().insert((tenant.into(), integration.into(), key.into()), row);
        }
        assert_eq!(store.drop_integration("a", "i1"), 2);
        assert_eq!(store.delete_tenant("a"), 1);
        let left: Vec<(String, String)> = store.snapshot().into_iter().map(|(t, r)| (t, r.integration_id)).collect();
        assert_eq!(left, [("b".to_string(), "i1".to_string())]);
    }
}

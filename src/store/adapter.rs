//! The store seen through host-sdk's service traits: KV, leases, integrations and sessions for
//! plugins, and the host's own lease and tenant operations ([`SharedState`]) when the KV and
//! leases stay in the store (no Redis).

use std::sync::Arc;

use host_sdk::host::{IntegrationBackend, KvBackend, LeaseBackend, SessionBackend};
use host_sdk::{BoxFuture, Error, Integration, KvEntry, Lease, SessionPage, SessionQuery, SessionRecord};

use super::{SharedState, Store, StoreError, StoreResult};
use crate::clock::now_ms;

fn store_err(e: StoreError) -> Error {
    Error::unavailable(e.message)
}

/// KV, leases, integrations and sessions over the store.
#[derive(Clone)]
pub struct StoreServices(pub Arc<dyn Store>);

fn expires(ttl_ms: u64) -> Option<i64> {
    (ttl_ms > 0).then(|| now_ms().saturating_add(ttl_ms.min(i64::MAX as u64) as i64))
}

impl KvBackend for StoreServices {
    fn get(&self, key: String) -> BoxFuture<'static, Result<Option<String>, Error>> {
        let f = self.0.kv_get(key, now_ms());
        Box::pin(async move { f.await.map_err(store_err) })
    }
    fn set(&self, key: String, value: String, ttl_ms: u64) -> BoxFuture<'static, Result<(), Error>> {
        let f = self.0.kv_set(key, value, expires(ttl_ms));
        Box::pin(async move { f.await.map_err(store_err) })
    }
    fn set_if_absent(&self, key: String, value: String, ttl_ms: u64) -> BoxFuture<'static, Result<bool, Error>> {
        let f = self.0.kv_cas(key, None, value, expires(ttl_ms), now_ms());
        Box::pin(async move { f.await.map_err(store_err) })
    }
    fn compare_and_swap(
        &self,
        key: String,
        expected: Option<String>,
        value: String,
        ttl_ms: u64,
    ) -> BoxFuture<'static, Result<bool, Error>> {
        let f = self.0.kv_cas(key, expected, value, expires(ttl_ms), now_ms());
        Box::pin(async move { f.await.map_err(store_err) })
    }
    fn delete(&self, key: String) -> BoxFuture<'static, Result<bool, Error>> {
        let f = self.0.kv_delete(key, None, now_ms());
        Box::pin(async move { f.await.map_err(store_err) })
    }
    fn compare_and_delete(&self, key: String, expected: String) -> BoxFuture<'static, Result<bool, Error>> {
        let f = self.0.kv_delete(key, Some(expected), now_ms());
        Box::pin(async move { f.await.map_err(store_err) })
    }
    fn scan_prefix(
        &self,
        prefix: String,
        after: String,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<KvEntry>, Error>> {
        let f = self.0.kv_scan(prefix, after, limit, now_ms());
        Box::pin(async move {
            Ok(f.await.map_err(store_err)?.into_iter().map(|(key, value)| KvEntry { key, value }).collect())
        })
    }
}

impl LeaseBackend for StoreServices {
    fn acquire(&self, key: String, owner: String, ttl_ms: u64) -> BoxFuture<'static, Result<Option<Lease>, Error>> {
        let f = self.0.lease_acquire(key, owner, ttl_ms, now_ms());
        Box::pin(async move { f.await.map_err(store_err) })
    }
    fn renew(&self, lease: Lease, ttl_ms: u64) -> BoxFuture<'static, Result<Option<Lease>, Error>> {
        let f = self.0.lease_renew(lease, ttl_ms, now_ms());
        Box::pin(async move { f.await.map_err(store_err) })
    }
    fn release(&self, lease: Lease) -> BoxFuture<'static, Result<bool, Error>> {
        let f = self.0.lease_release(lease, now_ms());
        Box::pin(async move { f.await.map_err(store_err) })
    }
    fn current(&self, key: String) -> BoxFuture<'static, Result<Option<Lease>, Error>> {
        let f = self.0.lease_current(key, now_ms());
        Box::pin(async move { f.await.map_err(store_err) })
    }
}

impl IntegrationBackend for StoreServices {
    fn get(&self, tenant: String, id: String) -> BoxFuture<'static, Result<Option<Integration>, Error>> {
        let f = self.0.get_integration(tenant, id);
        Box::pin(async move { Ok(f.await.map_err(store_err)?.map(|r| r.to_integration())) })
    }
    fn list_by_provider(
        &self,
        tenant: String,
        provider: String,
    ) -> BoxFuture<'static, Result<Vec<Integration>, Error>> {
        let f = self.0.list_integrations(tenant);
        Box::pin(async move {
            Ok(f.await
                .map_err(store_err)?
                .into_iter()
                .filter(|r| r.provider == provider)
                .map(|r| r.to_integration())
                .collect())
        })
    }
}

impl SessionBackend for StoreServices {
    fn put(&self, tenant: String, record: SessionRecord) -> BoxFuture<'static, Result<(), Error>> {
        let f = self.0.session_put(tenant, record);
        Box::pin(async move { f.await.map_err(store_err) })
    }
    fn get(
        &self,
        tenant: String,
        integration_id: String,
        session_key: String,
    ) -> BoxFuture<'static, Result<Option<SessionRecord>, Error>> {
        let f = self.0.session_get(tenant, integration_id, session_key);
        Box::pin(async move { f.await.map_err(store_err) })
    }
    fn delete(
        &self,
        tenant: String,
        integration_id: String,
        session_key: String,
    ) -> BoxFuture<'static, Result<bool, Error>> {
        let f = self.0.session_delete(tenant, integration_id, session_key);
        Box::pin(async move { f.await.map_err(store_err) })
    }
    fn delete_integration(&self, tenant: String, integration_id: String) -> BoxFuture<'static, Result<u64, Error>> {
        let f = self.0.session_delete_integration(tenant, integration_id);
        Box::pin(async move { f.await.map_err(store_err) })
    }
    fn query(&self, tenant: String, query: SessionQuery) -> BoxFuture<'static, Result<SessionPage, Error>> {
        let f = self.0.session_query(tenant, query);
        Box::pin(async move { f.await.map_err(store_err) })
    }
}

impl SharedState for StoreServices {
    fn release_owner(&self, owner: String) -> BoxFuture<'static, StoreResult<usize>> {
        self.0.lease_release_owner(owner)
    }
    /// Nothing to do: the store's `delete_tenant` deletes the tenant's KV rows with the tenant.
    fn delete_tenant_keys(&self, _tenant: String) -> BoxFuture<'static, StoreResult<u64>> {
        Box::pin(async { Ok(0) })
    }
}

//! The services the host gives plugins, backed by the store: logging into the host's tracing
//! stream, config, clock, KV, leases, integrations, conversation sessions and agents. One [`ServiceSet`] serves every
//! installation: host-sdk passes each call the tenant of the installation that made it, and the
//! integration directory and agent runs answer within that tenant only.

use std::collections::BTreeMap;
use std::sync::Arc;

use host_sdk::host::{
    AgentBackend, AgentEventReceiver, HostServices, IntegrationBackend, KvBackend, LeaseBackend, ServiceSet,
    SessionBackend,
};
use host_sdk::{
    AgentRequest, BoxFuture, Error, Integration, KvEntry, Lease, LogLevel, LogRecord, SessionPage, SessionQuery,
    SessionRecord,
};

use crate::agents::AgentRunner;
use crate::clock::now_ms;
use crate::store::{SharedParts, SharedState, Store, StoreError, StoreResult};

fn store_err(e: StoreError) -> Error {
    Error::unavailable(e.message)
}

/// Logging, config and clock for plugins.
pub struct HostCore {
    config: BTreeMap<String, String>,
}

impl HostCore {
    /// Config values handed to plugins (`API_BASE_URL`, `INSTANCE_ID`, `WECOM_*`, …).
    pub fn new(config: BTreeMap<String, String>) -> Self {
        HostCore { config }
    }
}

impl HostServices for HostCore {
    /// Emits a plugin's log record into the host's log stream, tagged with the plugin, the
    /// tenant of its installation and, when the record's fields name one (`integration_id`), the
    /// integration.
    fn log(&self, plugin: &str, tenant: &str, record: LogRecord) {
        let target = record.target.as_str();
        let fields = record.fields_json.as_str();
        let integration = integration_of(fields);
        // `None` records no field at all: a line names an integration only when the plugin did.
        let integration = integration.as_deref();
        match record.level {
            LogLevel::Error => {
                tracing::error!(target: "plugin", plugin, tenant, integration, module = target, fields, "{}", record.message)
            }
            LogLevel::Warn => {
                tracing::warn!(target: "plugin", plugin, tenant, integration, module = target, fields, "{}", record.message)
            }
            LogLevel::Info => {
                tracing::info!(target: "plugin", plugin, tenant, integration, module = target, fields, "{}", record.message)
            }
            LogLevel::Debug => {
                tracing::debug!(target: "plugin", plugin, tenant, integration, module = target, fields, "{}", record.message)
            }
            LogLevel::Trace => {
                tracing::trace!(target: "plugin", plugin, tenant, integration, module = target, fields, "{}", record.message)
            }
        }
    }

    fn config(&self, key: &str) -> Option<String> {
        self.config.get(key).cloned()
    }

    fn now_ms(&self) -> i64 {
        now_ms()
    }
}

/// The `integration_id` a log record's fields JSON names, if any.
fn integration_of(fields_json: &str) -> Option<String> {
    if !fields_json.contains("integration_id") {
        return None;
    }
    let fields: serde_json::Value = serde_json::from_str(fields_json).ok()?;
    match fields.get("integration_id")? {
        serde_json::Value::String(s) => Some(s.clone()),
        serde_json::Value::Null => None,
        other => Some(other.to_string()),
    }
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

impl AgentBackend for AgentRunner {
    fn invoke(&self, tenant: String, request: AgentRequest) -> BoxFuture<'static, Result<AgentEventReceiver, Error>> {
        let runner = self.clone();
        Box::pin(async move { runner.start(&tenant, request).await })
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

/// Builds the service set handed to every plugin installation: integrations and sessions from
/// the store, KV and leases from `shared` (the store itself, or Redis).
pub fn service_set(
    core: Arc<HostCore>,
    store: Arc<dyn Store>,
    shared: &SharedParts,
    agents: AgentRunner,
) -> ServiceSet {
    let backed = Arc::new(StoreServices(store));
    ServiceSet {
        host: core,
        kv: shared.kv.clone(),
        leases: shared.leases.clone(),
        integrations: backed.clone(),
        sessions: backed,
        agents: Arc::new(agents),
    }
}

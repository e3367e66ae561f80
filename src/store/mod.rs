//! The host's persistent state behind one trait, so a PostgreSQL/Redis backend can replace the
//! embedded SQLite file without touching the API layer. Every method is async (a network backend
//! needs it); the SQLite implementation runs its statements on its storage thread, and its KV
//! and leases on the callers' threads in a file of their own (writes in group-committed batches).
//!
//! Two places hold state: the [`Store`] (SQLite by default, PostgreSQL with
//! `XPERT_DATABASE_URL`) and the plugins' KV and leases ([`SharedState`]): the store's own
//! tables (a SQLite file beside the store's) by default, Redis with `XPERT_REDIS_URL`. Either may be set alone.

mod adapter;
#[cfg(test)]
pub mod conformance;
#[cfg(test)]
mod outage;
pub mod postgres;
pub mod redis;
mod sql;
mod sqlite;
mod sqlite_kv;

use host_sdk::{BoxFuture, SessionPage, SessionQuery, SessionRecord};
use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use adapter::StoreServices;
pub use postgres::{PgOptions, PgStore};
pub use redis::{RedisOptions, RedisShared};
pub use sqlite::SqliteStore;

/// The plugins' KV and leases as the host serves them ([`KvBackend`] and [`LeaseBackend`]),
/// plus what the host itself does with them. Implemented over a [`Store`]'s `kv_*`/`lease_*`
/// ([`StoreServices`]) and over Redis ([`RedisShared`]).
///
/// [`KvBackend`]: host_sdk::host::KvBackend
/// [`LeaseBackend`]: host_sdk::host::LeaseBackend
pub trait SharedState: host_sdk::host::KvBackend + host_sdk::host::LeaseBackend {
    /// Releases every live lease of an owner, including owners named `<owner>#…` (graceful
    /// shutdown); how many.
    fn release_owner(&self, owner: String) -> BoxFuture<'static, StoreResult<usize>>;
    /// Deletes the plugins' KV data of a tenant (keys `<plugin>/<tenant>/…`); how many keys. A
    /// backend whose [`Store::delete_tenant`] already did so answers 0.
    fn delete_tenant_keys(&self, tenant: String) -> BoxFuture<'static, StoreResult<u64>>;
}

/// One [`SharedState`] seen as each of the traits that use it.
#[derive(Clone)]
pub struct SharedParts {
    /// The host's own operations.
    pub admin: std::sync::Arc<dyn SharedState>,
    /// The plugins' KV.
    pub kv: std::sync::Arc<dyn host_sdk::host::KvBackend>,
    /// The plugins' leases.
    pub leases: std::sync::Arc<dyn host_sdk::host::LeaseBackend>,
}

impl SharedParts {
    /// The parts of one backend.
    pub fn new<S: SharedState>(shared: std::sync::Arc<S>) -> Self {
        SharedParts { admin: shared.clone(), kv: shared.clone(), leases: shared }
    }
}

/// A storage failure (its message never contains stored values, nor a server's password).
#[derive(Debug, Clone, thiserror::Error)]
#[error("storage error: {message}")]
pub struct StoreError {
    /// What went wrong.
    pub message: String,
    /// The backend could not be reached (a lost connection, a server down): the same call may
    /// succeed later, once the client has reconnected.
    pub unavailable: bool,
}

impl StoreError {
    /// A failure of the operation itself.
    pub fn new(message: impl Into<String>) -> Self {
        StoreError { message: message.into(), unavailable: false }
    }

    /// The backend is out of reach for now.
    pub fn unavailable(message: impl Into<String>) -> Self {
        StoreError { message: message.into(), unavailable: true }
    }
}

/// Result of a store call.
pub type StoreResult<T> = Result<T, StoreError>;

/// A plugin installation as persisted.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InstallRecord {
    /// Plugin name.
    pub name: String,
    /// Level (`tenant`, …).
    pub level: String,
    /// Tenant.
    pub tenant_id: String,
    /// When (RFC 3339).
    pub installed_at: String,
}

/// The tenant every host has: the admin token acts in it, and rows from before tenants belong to it.
pub const DEFAULT_TENANT: &str = "default";

/// A tenant as listed (its token's hash never leaves the store).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TenantRecord {
    /// Id (`default`, or a generated one).
    pub id: String,
    /// Display name.
    pub name: String,
    /// Created (RFC 3339).
    pub created_at: String,
}

/// An integration as persisted (options in clear; masking is the API's job). `Debug` shows the
/// option keys only.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct IntegrationRecord {
    /// Id.
    pub id: String,
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// Display name.
    pub name: String,
    /// Provider name.
    pub provider: String,
    /// Enabled flag.
    pub enabled: bool,
    /// Provider options.
    pub options: Value,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Updated (RFC 3339).
    pub updated_at: String,
}

/// A Digital Expert as persisted. `Debug` leaves the agent config (it may hold an API key) out.
#[derive(Clone, PartialEq, Serialize, Deserialize)]
pub struct XpertRecord {
    /// Id.
    pub id: String,
    /// The tenant it belongs to.
    pub tenant_id: String,
    /// Name.
    pub name: String,
    /// Agent config (`{"kind":"echo"}` or `{"kind":"openai",…}`), secrets in clear.
    pub agent: Value,
    /// Draft triggers `[{provider, config}]`.
    pub triggers: Value,
    /// Whether it is published.
    pub published: bool,
    /// The triggers as last published (what `stop` must be called with).
    pub published_triggers: Value,
    /// Created (RFC 3339).
    pub created_at: String,
    /// Updated (RFC 3339).
    pub updated_at: String,
}

impl IntegrationRecord {
    /// The plugin's view of the record.
    pub fn to_integration(&self) -> host_sdk::Integration {
        host_sdk::Integration {
            id: self.id.clone(),
            name: self.name.clone(),
            provider: self.provider.clone(),
            enabled: self.enabled,
            options: self.options.clone(),
        }
    }
}

/// One trigger of a Digital Expert as stored in its `triggers` / `published_triggers` lists.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TriggerDraft {
    /// The trigger's name (e.g. `wecom`).
    pub provider: String,
    /// Its config (`{enabled, integrationId, …}`).
    #[serde(default)]
    pub config: Value,
}

impl TriggerDraft {
    /// The triggers of a stored list (empty when it is not one).
    pub fn list(value: &Value) -> Vec<TriggerDraft> {
        serde_json::from_value(value.clone()).unwrap_or_default()
    }
}

/// One turn of a conversation, for agents that send history.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MessageRecord {
    /// `user` or `assistant`.
    pub role: String,
    /// Text.
    pub content: String,
}

/// Everything the host persists. KV and lease semantics follow host-sdk's `KvStore` and
/// `LeaseService` docs; times are Unix milliseconds passed in by the caller (one clock).
pub trait Store: Send + Sync + 'static {
    /// Every tenant, `default` first, then oldest first.
    fn list_tenants(&self) -> BoxFuture<'static, StoreResult<Vec<TenantRecord>>>;
    /// One tenant.
    fn get_tenant(&self, id: String) -> BoxFuture<'static, StoreResult<Option<TenantRecord>>>;
    /// The tenant whose token has this SHA-256 hex hash.
    fn tenant_by_token_hash(&self, hash: String) -> BoxFuture<'static, StoreResult<Option<TenantRecord>>>;
    /// Creates a tenant with its token's hash; false when the name is taken.
    fn create_tenant(&self, tenant: TenantRecord, token_hash: String) -> BoxFuture<'static, StoreResult<bool>>;
    /// Deletes a tenant and everything it owns: integrations, Digital Experts, conversations and
    /// their messages, plugin installs, conversation sessions, and the plugins' KV data of that
    /// tenant (keys `<plugin>/<tenant>/…`). False when it did not exist. The `default` tenant is
    /// never deleted.
    fn delete_tenant(&self, id: String) -> BoxFuture<'static, StoreResult<bool>>;

    /// Every plugin installation of every tenant.
    fn list_installs(&self) -> BoxFuture<'static, StoreResult<Vec<InstallRecord>>>;
    /// Records an installation (replacing the plugin's earlier one in that tenant).
    fn save_install(&self, record: InstallRecord) -> BoxFuture<'static, StoreResult<()>>;
    /// Forgets a plugin's installation in a tenant; false when there was none.
    fn delete_install(&self, tenant: String, name: String) -> BoxFuture<'static, StoreResult<bool>>;

    /// Every integration of a tenant, oldest first.
    fn list_integrations(&self, tenant: String) -> BoxFuture<'static, StoreResult<Vec<IntegrationRecord>>>;
    /// One integration of a tenant (another tenant's id reads as absent).
    fn get_integration(&self, tenant: String, id: String)
        -> BoxFuture<'static, StoreResult<Option<IntegrationRecord>>>;
    /// The tenant that owns an integration, looked up across tenants (for public plugin routes
    /// that name an integration).
    fn integration_tenant(&self, id: String) -> BoxFuture<'static, StoreResult<Option<String>>>;
    /// Inserts or replaces an integration of `record.tenant_id`; false (nothing written) when the
    /// id belongs to another tenant or the tenant does not exist (e.g. was just deleted).
    fn put_integration(&self, record: IntegrationRecord) -> BoxFuture<'static, StoreResult<bool>>;
    /// Deletes an integration of a tenant and its conversation sessions; false when it did not
    /// exist there.
    fn delete_integration(&self, tenant: String, id: String) -> BoxFuture<'static, StoreResult<bool>>;

    /// Every Digital Expert of a tenant, oldest first.
    fn list_xperts(&self, tenant: String) -> BoxFuture<'static, StoreResult<Vec<XpertRecord>>>;
    /// One Digital Expert of a tenant.
    fn get_xpert(&self, tenant: String, id: String) -> BoxFuture<'static, StoreResult<Option<XpertRecord>>>;
    /// The agent config of one Digital Expert of a tenant: all an agent run needs, without
    /// parsing the expert's triggers (an expert bound to many integrations carries many). Stores
    /// that can read the one column override this.
    fn xpert_agent(&self, tenant: String, id: String) -> BoxFuture<'static, StoreResult<Option<Value>>> {
        let record = self.get_xpert(tenant, id);
        Box::pin(async move { Ok(record.await?.map(|x| x.agent)) })
    }
    /// Inserts or replaces a Digital Expert of `record.tenant_id`; false (nothing written) when the
    /// id belongs to another tenant or the tenant does not exist.
    fn put_xpert(&self, record: XpertRecord) -> BoxFuture<'static, StoreResult<bool>>;
    /// Deletes a Digital Expert of a tenant; false when it did not exist there.
    fn delete_xpert(&self, tenant: String, id: String) -> BoxFuture<'static, StoreResult<bool>>;

    /// Creates a conversation of an expert in a tenant (nothing when the tenant does not exist).
    fn create_conversation(
        &self,
        tenant: String,
        id: String,
        xpert_id: String,
        now: String,
    ) -> BoxFuture<'static, StoreResult<()>>;
    /// Whether a conversation exists in the tenant and belongs to the expert.
    fn conversation_exists(
        &self,
        tenant: String,
        id: String,
        xpert_id: String,
    ) -> BoxFuture<'static, StoreResult<bool>>;
    /// Appends a turn to a conversation of the tenant (nothing when it is another tenant's).
    fn append_message(
        &self,
        tenant: String,
        conversation_id: String,
        message: MessageRecord,
    ) -> BoxFuture<'static, StoreResult<()>>;
    /// The turns of a conversation of the tenant, in order.
    fn messages(&self, tenant: String, conversation_id: String) -> BoxFuture<'static, StoreResult<Vec<MessageRecord>>>;

    /// Sessions: inserts or replaces the session (tenant, integration id, session key); nothing
    /// is written when the tenant does not exist (e.g. was just deleted).
    fn session_put(&self, tenant: String, record: SessionRecord) -> BoxFuture<'static, StoreResult<()>>;
    /// Sessions: one session of a tenant.
    fn session_get(
        &self,
        tenant: String,
        integration_id: String,
        session_key: String,
    ) -> BoxFuture<'static, StoreResult<Option<SessionRecord>>>;
    /// Sessions: deletes one session of a tenant; true when it existed.
    fn session_delete(
        &self,
        tenant: String,
        integration_id: String,
        session_key: String,
    ) -> BoxFuture<'static, StoreResult<bool>>;
    /// Sessions: deletes every session of an integration of a tenant; how many there were.
    fn session_delete_integration(
        &self,
        tenant: String,
        integration_id: String,
    ) -> BoxFuture<'static, StoreResult<u64>>;
    /// Sessions: one page of an integration's sessions in a tenant, with the count of every match
    /// (semantics: host-sdk's `SessionBackend::query`).
    fn session_query(&self, tenant: String, query: SessionQuery) -> BoxFuture<'static, StoreResult<SessionPage>>;

    /// KV: a live value.
    fn kv_get(&self, key: String, now: i64) -> BoxFuture<'static, StoreResult<Option<String>>>;
    /// KV: writes (expires_at None: never).
    fn kv_set(&self, key: String, value: String, expires_at: Option<i64>) -> BoxFuture<'static, StoreResult<()>>;
    /// KV: writes only if the live value equals `expected` (`None`: absent).
    fn kv_cas(
        &self,
        key: String,
        expected: Option<String>,
        value: String,
        expires_at: Option<i64>,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<bool>>;
    /// KV: deletes a live value if it equals `expected` (or any live value when `None`).
    fn kv_delete(&self, key: String, expected: Option<String>, now: i64) -> BoxFuture<'static, StoreResult<bool>>;
    /// KV: live entries under a prefix after a key, in key order.
    fn kv_scan(
        &self,
        prefix: String,
        after: String,
        limit: u32,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<Vec<(String, String)>>>;

    /// Leases: take or extend; `None` when another owner holds it.
    fn lease_acquire(
        &self,
        key: String,
        owner: String,
        ttl_ms: u64,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<Option<host_sdk::Lease>>>;
    /// Leases: extend a held lease.
    fn lease_renew(
        &self,
        lease: host_sdk::Lease,
        ttl_ms: u64,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<Option<host_sdk::Lease>>>;
    /// Leases: release.
    fn lease_release(&self, lease: host_sdk::Lease, now: i64) -> BoxFuture<'static, StoreResult<bool>>;
    /// Leases: the live holder.
    fn lease_current(&self, key: String, now: i64) -> BoxFuture<'static, StoreResult<Option<host_sdk::Lease>>>;
    /// Leases: releases every lease of an owner, including owners named `<owner>#…` (graceful
    /// shutdown).
    fn lease_release_owner(&self, owner: String) -> BoxFuture<'static, StoreResult<usize>>;
}

impl std::fmt::Debug for IntegrationRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let keys: Vec<&str> =
            self.options.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default();
        f.debug_struct("IntegrationRecord")
            .field("id", &self.id)
            .field("provider", &self.provider)
            .field("enabled", &self.enabled)
            .field("option_keys", &keys)
            .finish()
    }
}

impl std::fmt::Debug for XpertRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("XpertRecord")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("agent_kind", &self.agent.get("kind"))
            .field("published", &self.published)
            .finish()
    }
}

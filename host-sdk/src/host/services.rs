//! What a host implements to serve a plugin, as plain Rust traits. [`super::export_host_api`]
//! turns a [`ServiceSet`] into the FFI [`crate::abi::HostApiArc`] of one installation, adding
//! the tenant to every call, per-installation key namespacing, panic guards and runtime entering.

use std::sync::Arc;

use crate::{
    AgentEvent, AgentRequest, BoxFuture, Error, Integration, KvEntry, Lease, LogRecord, SessionPage, SessionQuery,
    SessionRecord,
};

/// The receiving end of an agent run. The producer stops (the run is cancelled) when it is dropped.
pub type AgentEventReceiver = tokio::sync::mpsc::Receiver<AgentEvent>;

/// Logging, config and clock.
pub trait HostServices: Send + Sync + 'static {
    /// Emits a plugin's log record into the host's log stream, tagged with the plugin's name and
    /// the tenant of the installation that logged it (and with `integration_id` from the record's
    /// fields, where the plugin named one).
    fn log(&self, plugin: &str, tenant: &str, record: LogRecord);
    /// A configuration value (`API_BASE_URL`, `INSTANCE_ID`, `WECOM_WS_URL`, …).
    fn config(&self, key: &str) -> Option<String>;
    /// Unix milliseconds.
    fn now_ms(&self) -> i64;
}

/// A shared key-value store (semantics: [`crate::abi::KvStore`]). Keys arrive already
/// namespaced per plugin and tenant.
pub trait KvBackend: Send + Sync + 'static {
    /// Reads a live value.
    fn get(&self, key: String) -> BoxFuture<'static, Result<Option<String>, Error>>;
    /// Writes a value (`ttl_ms` 0: no expiry).
    fn set(&self, key: String, value: String, ttl_ms: u64) -> BoxFuture<'static, Result<(), Error>>;
    /// Writes only if absent or expired.
    fn set_if_absent(&self, key: String, value: String, ttl_ms: u64) -> BoxFuture<'static, Result<bool, Error>>;
    /// Writes only if the live value equals `expected` (`None`: absent).
    fn compare_and_swap(
        &self,
        key: String,
        expected: Option<String>,
        value: String,
        ttl_ms: u64,
    ) -> BoxFuture<'static, Result<bool, Error>>;
    /// Deletes; true when a live value was deleted.
    fn delete(&self, key: String) -> BoxFuture<'static, Result<bool, Error>>;
    /// Deletes only if the live value equals `expected`.
    fn compare_and_delete(&self, key: String, expected: String) -> BoxFuture<'static, Result<bool, Error>>;
    /// Live entries under `prefix` after `after`, in key order, at most `limit`.
    fn scan_prefix(&self, prefix: String, after: String, limit: u32)
        -> BoxFuture<'static, Result<Vec<KvEntry>, Error>>;
}

/// Leases with fencing tokens (semantics: [`crate::abi::LeaseService`]).
pub trait LeaseBackend: Send + Sync + 'static {
    /// Takes or extends.
    fn acquire(&self, key: String, owner: String, ttl_ms: u64) -> BoxFuture<'static, Result<Option<Lease>, Error>>;
    /// Extends a held lease.
    fn renew(&self, lease: Lease, ttl_ms: u64) -> BoxFuture<'static, Result<Option<Lease>, Error>>;
    /// Releases.
    fn release(&self, lease: Lease) -> BoxFuture<'static, Result<bool, Error>>;
    /// The live holder.
    fn current(&self, key: String) -> BoxFuture<'static, Result<Option<Lease>, Error>>;
}

/// Read access to integrations. Every call names the tenant of the installation asking: an
/// integration of another tenant must read as absent.
pub trait IntegrationBackend: Send + Sync + 'static {
    /// One integration of `tenant` by id (options unmasked); `None` for another tenant's id.
    fn get(&self, tenant: String, id: String) -> BoxFuture<'static, Result<Option<Integration>, Error>>;
    /// Every integration of a provider in `tenant`.
    fn list_by_provider(&self, tenant: String, provider: String)
        -> BoxFuture<'static, Result<Vec<Integration>, Error>>;
}

/// Runs agents of one tenant's Digital Experts.
pub trait AgentBackend: Send + Sync + 'static {
    /// Starts a run of an expert of `tenant` (another tenant's expert is not found); events
    /// arrive on the receiver, dropping it cancels the run.
    fn invoke(&self, tenant: String, request: AgentRequest) -> BoxFuture<'static, Result<AgentEventReceiver, Error>>;
}

/// Conversation sessions (semantics: [`crate::abi::SessionStore`]). Every call names the tenant
/// of the installation asking: rows are keyed by (tenant, integration id, session key), and a
/// tenant never sees, replaces or deletes another tenant's rows. Records arrive validated
/// ([`SessionRecord::validate`]). Conformance: the `sessions_*` checks of [`super::conformance`].
pub trait SessionBackend: Send + Sync + 'static {
    /// Inserts or replaces the session with the record's integration id and session key. A
    /// persistent host may drop the write when the tenant no longer exists.
    fn put(&self, tenant: String, record: SessionRecord) -> BoxFuture<'static, Result<(), Error>>;
    /// One session of `tenant`.
    fn get(
        &self,
        tenant: String,
        integration_id: String,
        session_key: String,
    ) -> BoxFuture<'static, Result<Option<SessionRecord>, Error>>;
    /// Deletes one session of `tenant`; true when it existed.
    fn delete(
        &self,
        tenant: String,
        integration_id: String,
        session_key: String,
    ) -> BoxFuture<'static, Result<bool, Error>>;
    /// Deletes every session of an integration of `tenant`; how many there were.
    fn delete_integration(&self, tenant: String, integration_id: String) -> BoxFuture<'static, Result<u64, Error>>;
    /// One page of an integration's sessions in `tenant`: the rows matching
    /// [`SessionQuery::needle`], ordered by [`crate::SessionSort::compare`] (reversed when
    /// descending), `offset` skipped, at most [`SessionQuery::effective_limit`] returned, and
    /// the count of every match.
    fn query(&self, tenant: String, query: SessionQuery) -> BoxFuture<'static, Result<SessionPage, Error>>;
}

/// Everything a host gives its installations (shared by all tenants: the adapter scopes each call).
#[derive(Clone)]
pub struct ServiceSet {
    /// Logging, config, clock.
    pub host: Arc<dyn HostServices>,
    /// The shared KV store.
    pub kv: Arc<dyn KvBackend>,
    /// Leases.
    pub leases: Arc<dyn LeaseBackend>,
    /// Integrations.
    pub integrations: Arc<dyn IntegrationBackend>,
    /// Agents.
    pub agents: Arc<dyn AgentBackend>,
    /// Conversation sessions.
    pub sessions: Arc<dyn SessionBackend>,
}

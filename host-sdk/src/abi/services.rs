//! Host services: what the host gives the plugin. Each service is its own trait object so that it
//! can be versioned on its own; [`HostApi`] hands them out.

use abi_stable::sabi_trait;
use abi_stable::std_types::{RArc, ROption, RResult, RStr, RString, RVec};
use abi_stable::StableAbi;
use async_ffi::FfiFuture;

use super::{AgentServiceArc, FfiError};
use crate::{KvEntry, Lease, LogLevel, LogRecord};

/// The FFI twin of [`LogRecord`]; `level` is 0 trace … 4 error.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiLogRecord {
    /// 0 trace, 1 debug, 2 info, 3 warn, 4 error.
    pub level: u8,
    /// The plugin module that logged it.
    pub target: RString,
    /// The message.
    pub message: RString,
    /// Structured fields as a JSON object string.
    pub fields_json: RString,
}

/// The FFI twin of [`KvEntry`].
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiKvEntry {
    /// Key.
    pub key: RString,
    /// Value.
    pub value: RString,
}

/// The FFI twin of [`Lease`].
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiLease {
    /// Leased key.
    pub key: RString,
    /// Holder.
    pub owner: RString,
    /// Fencing token.
    pub token: u64,
    /// Expiry in Unix milliseconds.
    pub expires_at_ms: i64,
}

/// A result future as every async service method returns it.
pub type FfiResultFuture<T> = FfiFuture<RResult<T, FfiError>>;

/// A shared key-value store with TTLs, namespaced per plugin and tenant by the host. Several host
/// instances may share it, so the plugin keeps dedup keys, bindings, sessions and status here,
/// never in process globals. A `ttl_ms` of 0 means no expiry.
#[sabi_trait]
pub trait KvStore: Send + Sync {
    /// Reads a value.
    fn get(&self, key: RString) -> FfiResultFuture<ROption<RString>>;
    /// Writes a value.
    fn set(&self, key: RString, value: RString, ttl_ms: u64) -> FfiResultFuture<()>;
    /// Writes only if the key is absent (or expired); true when written.
    fn set_if_absent(&self, key: RString, value: RString, ttl_ms: u64) -> FfiResultFuture<bool>;
    /// Writes only if the current value equals `expected` (`None`: only if absent); true when written.
    fn compare_and_swap(
        &self,
        key: RString,
        expected: ROption<RString>,
        value: RString,
        ttl_ms: u64,
    ) -> FfiResultFuture<bool>;
    /// Deletes a key; true when something was deleted.
    fn delete(&self, key: RString) -> FfiResultFuture<bool>;
    /// Deletes only if the current value equals `expected`; true when deleted.
    fn compare_and_delete(&self, key: RString, expected: RString) -> FfiResultFuture<bool>;
    /// Lists live entries whose key starts with `prefix`, in key order, strictly after `after`
    /// (empty: from the start), at most `limit` of them. Page by passing the last key back.
    #[sabi(last_prefix_field)]
    fn scan_prefix(&self, prefix: RString, after: RString, limit: u32) -> FfiResultFuture<RVec<FfiKvEntry>>;
}

/// The shared KV object.
pub type KvStoreArc = KvStore_TO<'static, RArc<()>>;

/// Leases with fencing tokens: the owner of a bot's lease is the only instance that holds its
/// WebSocket.
#[sabi_trait]
pub trait LeaseService: Send + Sync {
    /// Takes the lease if it is free or expired, or extends it if `owner` already holds it.
    /// `None` when another owner holds it.
    fn acquire(&self, key: RString, owner: RString, ttl_ms: u64) -> FfiResultFuture<ROption<FfiLease>>;
    /// Extends a held lease; `None` when it was lost (expired and taken, or released).
    fn renew(&self, lease: FfiLease, ttl_ms: u64) -> FfiResultFuture<ROption<FfiLease>>;
    /// Gives a lease up; true when it was still held by this lease's owner and token.
    fn release(&self, lease: FfiLease) -> FfiResultFuture<bool>;
    /// The current holder of a key, if the lease is live.
    #[sabi(last_prefix_field)]
    fn current(&self, key: RString) -> FfiResultFuture<ROption<FfiLease>>;
}

/// The shared lease object.
pub type LeaseServiceArc = LeaseService_TO<'static, RArc<()>>;

/// Read access to the host's integrations (JSON of [`crate::Integration`], secrets in clear:
/// the plugin needs them; it must never log them).
#[sabi_trait]
pub trait IntegrationDirectory: Send + Sync {
    /// One integration by id.
    fn get(&self, id: RString) -> FfiResultFuture<ROption<RString>>;
    /// Every integration of a provider, as a JSON array.
    #[sabi(last_prefix_field)]
    fn list_by_provider(&self, provider: RString) -> FfiResultFuture<RString>;
}

/// The shared integration-directory object.
pub type IntegrationDirectoryArc = IntegrationDirectory_TO<'static, RArc<()>>;

/// The host's store of conversation sessions, scoped by the host to the installation's tenant
/// (a session of another tenant is never seen, written or deleted). Records and queries cross as
/// JSON of [`crate::SessionRecord`], [`crate::SessionQuery`] and [`crate::SessionPage`], so
/// their fields can grow without a layout change. Filtering, sorting and paging happen in the
/// store, so the Sessions tab never loads every session.
#[sabi_trait]
pub trait SessionStore: Send + Sync {
    /// Inserts or replaces the session (JSON of [`crate::SessionRecord`]) with the same
    /// integration id and session key.
    fn put(&self, record_json: RString) -> FfiResultFuture<()>;
    /// One session (JSON of [`crate::SessionRecord`]), `None` when absent.
    fn get(&self, integration_id: RString, session_key: RString) -> FfiResultFuture<ROption<RString>>;
    /// Deletes one session; true when it existed.
    fn delete(&self, integration_id: RString, session_key: RString) -> FfiResultFuture<bool>;
    /// Deletes every session of an integration; how many there were.
    fn delete_integration(&self, integration_id: RString) -> FfiResultFuture<u64>;
    /// One page of an integration's sessions: JSON of [`crate::SessionQuery`] in, JSON of
    /// [`crate::SessionPage`] out. Last method of ABI v2: methods added after it in a later
    /// minor version are optional for older libraries.
    #[sabi(last_prefix_field)]
    fn query(&self, query_json: RString) -> FfiResultFuture<RString>;
}

/// The shared sessions object.
pub type SessionStoreArc = SessionStore_TO<'static, RArc<()>>;

/// The host, as one installation of the plugin sees it.
#[sabi_trait]
pub trait HostApi: Send + Sync {
    /// Emits a log record into the host's log stream, tagged with the plugin.
    fn log(&self, record: FfiLogRecord);
    /// A configuration value: `API_BASE_URL`, `INSTANCE_ID`, `WECOM_WS_URL`,
    /// `WECOM_API_ORIGINS`, `WECOM_HEARTBEAT_MS`, … `None` when unset.
    fn config(&self, key: RStr<'_>) -> ROption<RString>;
    /// The host's clock, Unix milliseconds (tests may run it on a fake clock).
    fn now_ms(&self) -> i64;
    /// The shared key-value store.
    fn kv(&self) -> KvStoreArc;
    /// The lease service.
    fn leases(&self) -> LeaseServiceArc;
    /// The integration directory.
    fn integrations(&self) -> IntegrationDirectoryArc;
    /// The agent service.
    fn agents(&self) -> AgentServiceArc;
    /// The conversation-sessions store. Last method of ABI v2 (hence at the end: a prefix
    /// type's fields only ever grow at the end); methods added after it in a later minor version
    /// are optional for older libraries.
    #[sabi(last_prefix_field)]
    fn sessions(&self) -> SessionStoreArc;
}

/// The shared host object handed to `register`.
pub type HostApiArc = HostApi_TO<'static, RArc<()>>;

impl LogLevel {
    /// The numeric code used on the wire.
    pub fn code(self) -> u8 {
        match self {
            LogLevel::Trace => 0,
            LogLevel::Debug => 1,
            LogLevel::Info => 2,
            LogLevel::Warn => 3,
            LogLevel::Error => 4,
        }
    }
    /// From the wire code; unknown codes are treated as `Info`.
    pub fn from_code(c: u8) -> LogLevel {
        match c {
            0 => LogLevel::Trace,
            1 => LogLevel::Debug,
            3 => LogLevel::Warn,
            4 => LogLevel::Error,
            _ => LogLevel::Info,
        }
    }
}

impl From<LogRecord> for FfiLogRecord {
    fn from(r: LogRecord) -> Self {
        FfiLogRecord {
            level: r.level.code(),
            target: r.target.into(),
            message: r.message.into(),
            fields_json: r.fields_json.into(),
        }
    }
}

impl From<FfiLogRecord> for LogRecord {
    fn from(r: FfiLogRecord) -> Self {
        LogRecord {
            level: LogLevel::from_code(r.level),
            target: r.target.into_string(),
            message: r.message.into_string(),
            fields_json: r.fields_json.into_string(),
        }
    }
}

impl From<KvEntry> for FfiKvEntry {
    fn from(e: KvEntry) -> Self {
        FfiKvEntry { key: e.key.into(), value: e.value.into() }
    }
}

impl From<FfiKvEntry> for KvEntry {
    fn from(e: FfiKvEntry) -> Self {
        KvEntry { key: e.key.into_string(), value: e.value.into_string() }
    }
}

impl From<Lease> for FfiLease {
    fn from(l: Lease) -> Self {
        FfiLease { key: l.key.into(), owner: l.owner.into(), token: l.token, expires_at_ms: l.expires_at_ms }
    }
}

impl From<FfiLease> for Lease {
    fn from(l: FfiLease) -> Self {
        Lease { key: l.key.into_string(), owner: l.owner.into_string(), token: l.token, expires_at_ms: l.expires_at_ms }
    }
}

//! The plugin's plain async view of the host's services ("Foreign" wrappers around the host's
//! FFI objects). Cheap to clone; every call converts R-types at this edge.

use std::future::poll_fn;
use std::task::Poll;

use abi_stable::std_types::{ROption, RStr, RString};
use async_ffi::ContextExt as _;

use crate::abi::{
    AgentServiceArc, AgentService_TO, AgentStreamBox, FfiAgentRequest, FfiLease, HostApiArc, HostApi_TO,
    IntegrationDirectoryArc, IntegrationDirectory_TO, KvStoreArc, KvStore_TO, LeaseServiceArc, LeaseService_TO,
    SessionStoreArc, SessionStore_TO,
};
use crate::guard::{await_foreign, catch_or};
use crate::{
    AgentEvent, AgentRequest, Error, Integration, KvEntry, Lease, LogRecord, SessionPage, SessionQuery, SessionRecord,
};

/// The host as one installation sees it.
pub struct Host {
    api: HostApiArc,
    kv: Kv,
    leases: Leases,
    integrations: Integrations,
    agents: Agents,
    sessions: Sessions,
}

impl Clone for Host {
    fn clone(&self) -> Self {
        Host {
            api: HostApi_TO::from_sabi(self.api.obj.shallow_clone()),
            kv: self.kv.clone(),
            leases: self.leases.clone(),
            integrations: self.integrations.clone(),
            agents: self.agents.clone(),
            sessions: self.sessions.clone(),
        }
    }
}

impl Host {
    /// Wraps the host object received by `register`.
    pub fn new(api: HostApiArc) -> Host {
        let kv = Kv(api.kv());
        let leases = Leases(api.leases());
        let integrations = Integrations(api.integrations());
        let agents = Agents(api.agents());
        let sessions = Sessions(api.sessions());
        Host { api, kv, leases, integrations, agents, sessions }
    }

    /// Forwards a log record to the host.
    pub fn log(&self, record: LogRecord) {
        self.api.log(record.into());
    }

    /// A configuration value (`API_BASE_URL`, `INSTANCE_ID`, `WECOM_WS_URL`, …).
    pub fn config(&self, key: &str) -> Option<String> {
        self.api.config(RStr::from_str(key)).into_option().map(RString::into_string)
    }

    /// The host's clock in Unix milliseconds.
    pub fn now_ms(&self) -> i64 {
        self.api.now_ms()
    }

    /// The shared key-value store.
    pub fn kv(&self) -> &Kv {
        &self.kv
    }

    /// The lease service.
    pub fn leases(&self) -> &Leases {
        &self.leases
    }

    /// The integration directory.
    pub fn integrations(&self) -> &Integrations {
        &self.integrations
    }

    /// The agent service.
    pub fn agents(&self) -> &Agents {
        &self.agents
    }

    /// The conversation-sessions store (scoped to this installation's tenant by the host).
    pub fn sessions(&self) -> &Sessions {
        &self.sessions
    }
}

/// The shared key-value store (see [`crate::abi::KvStore`] for the semantics).
pub struct Kv(KvStoreArc);

impl Clone for Kv {
    fn clone(&self) -> Self {
        Kv(KvStore_TO::from_sabi(self.0.obj.shallow_clone()))
    }
}

impl Kv {
    /// Reads a value.
    pub async fn get(&self, key: &str) -> Result<Option<String>, Error> {
        Ok(await_foreign(self.0.get(key.into())).await?.into_option().map(RString::into_string))
    }
    /// Writes a value (`ttl_ms` 0: no expiry).
    pub async fn set(&self, key: &str, value: &str, ttl_ms: u64) -> Result<(), Error> {
        await_foreign(self.0.set(key.into(), value.into(), ttl_ms)).await
    }
    /// Writes only if absent; true when written.
    pub async fn set_if_absent(&self, key: &str, value: &str, ttl_ms: u64) -> Result<bool, Error> {
        await_foreign(self.0.set_if_absent(key.into(), value.into(), ttl_ms)).await
    }
    /// Writes only if the current value equals `expected` (`None`: only if absent).
    pub async fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&str>,
        value: &str,
        ttl_ms: u64,
    ) -> Result<bool, Error> {
        let expected: ROption<RString> = expected.map(RString::from).into();
        await_foreign(self.0.compare_and_swap(key.into(), expected, value.into(), ttl_ms)).await
    }
    /// Deletes a key; true when something was deleted.
    pub async fn delete(&self, key: &str) -> Result<bool, Error> {
        await_foreign(self.0.delete(key.into())).await
    }
    /// Deletes only if the value equals `expected`.
    pub async fn compare_and_delete(&self, key: &str, expected: &str) -> Result<bool, Error> {
        await_foreign(self.0.compare_and_delete(key.into(), expected.into())).await
    }
    /// One page of live entries under `prefix`, in key order, after `after`.
    pub async fn scan_prefix(&self, prefix: &str, after: &str, limit: u32) -> Result<Vec<KvEntry>, Error> {
        let entries = await_foreign(self.0.scan_prefix(prefix.into(), after.into(), limit)).await?;
        Ok(entries.into_iter().map(KvEntry::from).collect())
    }
}

/// The lease service (see [`crate::abi::LeaseService`]).
pub struct Leases(LeaseServiceArc);

impl Clone for Leases {
    fn clone(&self) -> Self {
        Leases(LeaseService_TO::from_sabi(self.0.obj.shallow_clone()))
    }
}

impl Leases {
    /// Takes or extends a lease; `None` when someone else holds it.
    pub async fn acquire(&self, key: &str, owner: &str, ttl_ms: u64) -> Result<Option<Lease>, Error> {
        Ok(await_foreign(self.0.acquire(key.into(), owner.into(), ttl_ms)).await?.into_option().map(Lease::from))
    }
    /// Extends a held lease; `None` when it was lost.
    pub async fn renew(&self, lease: &Lease, ttl_ms: u64) -> Result<Option<Lease>, Error> {
        let lease = FfiLease::from(lease.clone());
        Ok(await_foreign(self.0.renew(lease, ttl_ms)).await?.into_option().map(Lease::from))
    }
    /// Releases a lease; true when it was still ours.
    pub async fn release(&self, lease: &Lease) -> Result<bool, Error> {
        await_foreign(self.0.release(FfiLease::from(lease.clone()))).await
    }
    /// The live holder of a key.
    pub async fn current(&self, key: &str) -> Result<Option<Lease>, Error> {
        Ok(await_foreign(self.0.current(key.into())).await?.into_option().map(Lease::from))
    }
}

/// The integration directory.
pub struct Integrations(IntegrationDirectoryArc);

impl Clone for Integrations {
    fn clone(&self) -> Self {
        Integrations(IntegrationDirectory_TO::from_sabi(self.0.obj.shallow_clone()))
    }
}

impl Integrations {
    /// One integration by id.
    pub async fn get(&self, id: &str) -> Result<Option<Integration>, Error> {
        match await_foreign(self.0.get(id.into())).await?.into_option() {
            Some(json) => serde_json::from_str(&json).map(Some).map_err(|e| Error::bad_json("integration", &e)),
            None => Ok(None),
        }
    }
    /// Every integration of a provider.
    pub async fn list_by_provider(&self, provider: &str) -> Result<Vec<Integration>, Error> {
        let json = await_foreign(self.0.list_by_provider(provider.into())).await?;
        serde_json::from_str(&json).map_err(|e| Error::bad_json("integration list", &e))
    }
}

/// The host's conversation-sessions store (see [`crate::abi::SessionStore`]): one row per
/// (integration, session key) of this installation's tenant, queried with search, sort and paging
/// done in the store.
pub struct Sessions(SessionStoreArc);

impl Clone for Sessions {
    fn clone(&self) -> Self {
        Sessions(SessionStore_TO::from_sabi(self.0.obj.shallow_clone()))
    }
}

impl Sessions {
    /// Inserts or replaces the session with the record's integration id and session key. An
    /// empty integration id or session key is refused ([`crate::ErrorCode::INVALID_ARGUMENT`]).
    pub async fn put(&self, record: &SessionRecord) -> Result<(), Error> {
        let json = serde_json::to_string(record).map_err(|e| Error::internal(e.to_string()))?;
        await_foreign(self.0.put(json.into())).await
    }
    /// One session, `None` when absent.
    pub async fn get(&self, integration_id: &str, session_key: &str) -> Result<Option<SessionRecord>, Error> {
        match await_foreign(self.0.get(integration_id.into(), session_key.into())).await?.into_option() {
            Some(json) => serde_json::from_str(&json).map(Some).map_err(|e| Error::bad_json("session record", &e)),
            None => Ok(None),
        }
    }
    /// Deletes one session; true when it existed.
    pub async fn delete(&self, integration_id: &str, session_key: &str) -> Result<bool, Error> {
        await_foreign(self.0.delete(integration_id.into(), session_key.into())).await
    }
    /// Deletes every session of an integration; how many there were.
    pub async fn delete_integration(&self, integration_id: &str) -> Result<u64, Error> {
        await_foreign(self.0.delete_integration(integration_id.into())).await
    }
    /// One page of an integration's sessions and the number of matches in all (see
    /// [`SessionQuery`] for search, sort and the limit's clamping).
    pub async fn query(&self, query: &SessionQuery) -> Result<SessionPage, Error> {
        let json = serde_json::to_string(query).map_err(|e| Error::internal(e.to_string()))?;
        let page = await_foreign(self.0.query(json.into())).await?;
        serde_json::from_str(&page).map_err(|e| Error::bad_json("session page", &e))
    }
}

/// The agent service.
pub struct Agents(AgentServiceArc);

impl Clone for Agents {
    fn clone(&self) -> Self {
        Agents(AgentService_TO::from_sabi(self.0.obj.shallow_clone()))
    }
}

impl Agents {
    /// Starts an agent run; dropping the returned stream cancels it.
    pub async fn invoke(&self, request: AgentRequest) -> Result<AgentEventStream, Error> {
        let stream = await_foreign(self.0.invoke(FfiAgentRequest::from(request))).await?;
        Ok(AgentEventStream { stream: Some(stream) })
    }
}

/// A running agent's events. Dropping it cancels the run.
pub struct AgentEventStream {
    stream: Option<AgentStreamBox>,
}

impl AgentEventStream {
    /// The next event, or `None` when the run is over. Events of kinds newer than this build
    /// come back as [`AgentEvent::Unknown`]. A stream whose producer panicked ends with an
    /// [`AgentEvent::Error`].
    pub async fn next(&mut self) -> Option<AgentEvent> {
        let stream = self.stream.as_mut()?;
        let polled = poll_fn(|cx| {
            let poll = catch_or(async_ffi::FfiPoll::Panicked, || cx.with_ffi_context(|fcx| stream.poll_next(fcx)));
            match poll {
                async_ffi::FfiPoll::Pending => Poll::Pending,
                async_ffi::FfiPoll::Ready(ev) => Poll::Ready(Ok(ev.into_option())),
                async_ffi::FfiPoll::Panicked => Poll::Ready(Err(())),
            }
        })
        .await;
        match polled {
            Ok(Some(ev)) => Some(AgentEvent::from_ffi(ev)),
            Ok(None) => {
                self.stream = None;
                None
            }
            Err(()) => {
                self.stream = None;
                Some(AgentEvent::Error { message: "the agent stream failed inside the host".into() })
            }
        }
    }
}

//! Turns a host's plain [`ServiceSet`] into the FFI [`HostApiArc`] handed to a plugin.
//!
//! - Integrations, agents, sessions and logs are asked for with the installation's tenant, so a
//!   backend cannot forget to scope them.
//! - KV keys are prefixed with `<plugin>/<tenant>/` so installations never see each other's data;
//!   lease keys with `<plugin>/` only (a WeCom bot allows one connection worldwide, so two tenants
//!   configuring the same bot must contend for the same lease).
//! - Every method is panic-guarded, and every returned future is polled inside the host runtime.

use std::pin::Pin;
use std::task::{Context, Poll};

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RArc, RBox, ROption, RStr, RString, RVec};
use async_ffi::{FfiContext, FfiPoll};
use tokio::runtime::Handle;

use super::services::{AgentEventReceiver, ServiceSet};
use crate::abi::{
    AgentService, AgentServiceArc, AgentService_TO, AgentStream, AgentStreamBox, AgentStream_TO, FfiAgentEventNe,
    FfiAgentRequest, FfiKvEntry, FfiLease, FfiLogRecord, FfiResultFuture, HostApi, HostApiArc, HostApi_TO,
    IntegrationDirectory, IntegrationDirectoryArc, IntegrationDirectory_TO, KvStore, KvStoreArc, KvStore_TO,
    LeaseService, LeaseServiceArc, LeaseService_TO, SessionStore, SessionStoreArc, SessionStore_TO,
};
use crate::guard::{catch_or, guarded_future};
use crate::{Error, KvEntry, Lease, SessionQuery, SessionRecord};

/// Builds the host object for one installation of `plugin` in `tenant`; futures run on `runtime`.
pub fn export_host_api(services: ServiceSet, runtime: Handle, plugin: &str, tenant: &str) -> HostApiArc {
    let kv_prefix = format!("{plugin}/{tenant}/");
    let lease_prefix = format!("{plugin}/");
    let exported = ExportedHost {
        plugin: plugin.to_string(),
        tenant: tenant.to_string(),
        kv: KvStore_TO::from_ptr(
            RArc::new(ExportedKv { services: services.clone(), prefix: kv_prefix, runtime: runtime.clone() }),
            TD_Opaque,
        ),
        leases: LeaseService_TO::from_ptr(
            RArc::new(ExportedLeases { services: services.clone(), prefix: lease_prefix, runtime: runtime.clone() }),
            TD_Opaque,
        ),
        integrations: IntegrationDirectory_TO::from_ptr(
            RArc::new(ExportedIntegrations {
                services: services.clone(),
                tenant: tenant.to_string(),
                runtime: runtime.clone(),
            }),
            TD_Opaque,
        ),
        agents: AgentService_TO::from_ptr(
            RArc::new(ExportedAgents {
                services: services.clone(),
                tenant: tenant.to_string(),
                runtime: runtime.clone(),
            }),
            TD_Opaque,
        ),
        sessions: SessionStore_TO::from_ptr(
            RArc::new(ExportedSessions { services: services.clone(), tenant: tenant.to_string(), runtime }),
            TD_Opaque,
        ),
        services,
    };
    HostApi_TO::from_ptr(RArc::new(exported), TD_Opaque)
}

struct ExportedHost {
    plugin: String,
    tenant: String,
    services: ServiceSet,
    kv: KvStoreArc,
    leases: LeaseServiceArc,
    integrations: IntegrationDirectoryArc,
    agents: AgentServiceArc,
    sessions: SessionStoreArc,
}

impl HostApi for ExportedHost {
    fn log(&self, record: FfiLogRecord) {
        catch_or((), || self.services.host.log(&self.plugin, &self.tenant, record.into()))
    }

    fn config(&self, key: RStr<'_>) -> ROption<RString> {
        catch_or(ROption::RNone, || self.services.host.config(key.as_str()).map(RString::from).into())
    }

    fn now_ms(&self) -> i64 {
        catch_or(0, || self.services.host.now_ms())
    }

    fn kv(&self) -> KvStoreArc {
        KvStore_TO::from_sabi(self.kv.obj.shallow_clone())
    }

    fn leases(&self) -> LeaseServiceArc {
        LeaseService_TO::from_sabi(self.leases.obj.shallow_clone())
    }

    fn integrations(&self) -> IntegrationDirectoryArc {
        IntegrationDirectory_TO::from_sabi(self.integrations.obj.shallow_clone())
    }

    fn agents(&self) -> AgentServiceArc {
        AgentService_TO::from_sabi(self.agents.obj.shallow_clone())
    }

    fn sessions(&self) -> SessionStoreArc {
        SessionStore_TO::from_sabi(self.sessions.obj.shallow_clone())
    }
}

struct ExportedKv {
    services: ServiceSet,
    prefix: String,
    runtime: Handle,
}

impl ExportedKv {
    fn key(&self, key: RString) -> String {
        format!("{}{}", self.prefix, key)
    }
}

impl KvStore for ExportedKv {
    fn get(&self, key: RString) -> FfiResultFuture<ROption<RString>> {
        let fut = self.services.kv.get(self.key(key));
        guarded_future(Some(self.runtime.clone()), async move { Ok(fut.await?.map(RString::from).into()) })
    }

    fn set(&self, key: RString, value: RString, ttl_ms: u64) -> FfiResultFuture<()> {
        let fut = self.services.kv.set(self.key(key), value.into_string(), ttl_ms);
        guarded_future(Some(self.runtime.clone()), fut)
    }

    fn set_if_absent(&self, key: RString, value: RString, ttl_ms: u64) -> FfiResultFuture<bool> {
        let fut = self.services.kv.set_if_absent(self.key(key), value.into_string(), ttl_ms);
        guarded_future(Some(self.runtime.clone()), fut)
    }

    fn compare_and_swap(
        &self,
        key: RString,
        expected: ROption<RString>,
        value: RString,
        ttl_ms: u64,
    ) -> FfiResultFuture<bool> {
        let expected = expected.into_option().map(RString::into_string);
        let fut = self.services.kv.compare_and_swap(self.key(key), expected, value.into_string(), ttl_ms);
        guarded_future(Some(self.runtime.clone()), fut)
    }

    fn delete(&self, key: RString) -> FfiResultFuture<bool> {
        let fut = self.services.kv.delete(self.key(key));
        guarded_future(Some(self.runtime.clone()), fut)
    }

    fn compare_and_delete(&self, key: RString, expected: RString) -> FfiResultFuture<bool> {
        let fut = self.services.kv.compare_and_delete(self.key(key), expected.into_string());
        guarded_future(Some(self.runtime.clone()), fut)
    }

    fn scan_prefix(&self, prefix: RString, after: RString, limit: u32) -> FfiResultFuture<RVec<FfiKvEntry>> {
        let strip = self.prefix.len();
        let after = if after.is_empty() { String::new() } else { self.key(after) };
        let fut = self.services.kv.scan_prefix(self.key(prefix), after, limit);
        guarded_future(Some(self.runtime.clone()), async move {
            let entries = fut.await?;
            Ok(entries
                .into_iter()
                .map(|e| FfiKvEntry::from(KvEntry { key: e.key[strip..].to_string(), value: e.value }))
                .collect())
        })
    }
}

struct ExportedLeases {
    services: ServiceSet,
    prefix: String,
    runtime: Handle,
}

impl ExportedLeases {
    fn to_host(&self, lease: FfiLease) -> Lease {
        let mut lease = Lease::from(lease);
        lease.key = format!("{}{}", self.prefix, lease.key);
        lease
    }

    fn to_plugin(prefix_len: usize, lease: Option<Lease>) -> ROption<FfiLease> {
        lease
            .map(|mut l| {
                l.key = l.key[prefix_len..].to_string();
                FfiLease::from(l)
            })
            .into()
    }
}

impl LeaseService for ExportedLeases {
    fn acquire(&self, key: RString, owner: RString, ttl_ms: u64) -> FfiResultFuture<ROption<FfiLease>> {
        let n = self.prefix.len();
        let fut = self.services.leases.acquire(format!("{}{}", self.prefix, key), owner.into_string(), ttl_ms);
        guarded_future(Some(self.runtime.clone()), async move { Ok(Self::to_plugin(n, fut.await?)) })
    }

    fn renew(&self, lease: FfiLease, ttl_ms: u64) -> FfiResultFuture<ROption<FfiLease>> {
        let n = self.prefix.len();
        let fut = self.services.leases.renew(self.to_host(lease), ttl_ms);
        guarded_future(Some(self.runtime.clone()), async move { Ok(Self::to_plugin(n, fut.await?)) })
    }

    fn release(&self, lease: FfiLease) -> FfiResultFuture<bool> {
        let fut = self.services.leases.release(self.to_host(lease));
        guarded_future(Some(self.runtime.clone()), fut)
    }

    fn current(&self, key: RString) -> FfiResultFuture<ROption<FfiLease>> {
        let n = self.prefix.len();
        let fut = self.services.leases.current(format!("{}{}", self.prefix, key));
        guarded_future(Some(self.runtime.clone()), async move { Ok(Self::to_plugin(n, fut.await?)) })
    }
}

struct ExportedIntegrations {
    services: ServiceSet,
    tenant: String,
    runtime: Handle,
}

impl IntegrationDirectory for ExportedIntegrations {
    fn get(&self, id: RString) -> FfiResultFuture<ROption<RString>> {
        let fut = self.services.integrations.get(self.tenant.clone(), id.into_string());
        guarded_future(Some(self.runtime.clone()), async move {
            match fut.await? {
                Some(i) => serde_json::to_string(&i)
                    .map(|s| ROption::RSome(s.into()))
                    .map_err(|e| Error::internal(e.to_string())),
                None => Ok(ROption::RNone),
            }
        })
    }

    fn list_by_provider(&self, provider: RString) -> FfiResultFuture<RString> {
        let fut = self.services.integrations.list_by_provider(self.tenant.clone(), provider.into_string());
        guarded_future(Some(self.runtime.clone()), async move {
            let list = fut.await?;
            serde_json::to_string(&list).map(RString::from).map_err(|e| Error::internal(e.to_string()))
        })
    }
}

struct ExportedSessions {
    services: ServiceSet,
    tenant: String,
    runtime: Handle,
}

fn session_json(record: &SessionRecord) -> Result<RString, Error> {
    serde_json::to_string(record).map(RString::from).map_err(|e| Error::internal(e.to_string()))
}

impl SessionStore for ExportedSessions {
    fn put(&self, record_json: RString) -> FfiResultFuture<()> {
        let backend = self.services.sessions.clone();
        let tenant = self.tenant.clone();
        guarded_future(Some(self.runtime.clone()), async move {
            let record: SessionRecord =
                serde_json::from_str(&record_json).map_err(|e| Error::bad_json("session record", &e))?;
            record.validate()?;
            backend.put(tenant, record).await
        })
    }

    fn get(&self, integration_id: RString, session_key: RString) -> FfiResultFuture<ROption<RString>> {
        let fut =
            self.services.sessions.get(self.tenant.clone(), integration_id.into_string(), session_key.into_string());
        guarded_future(Some(self.runtime.clone()), async move {
            match fut.await? {
                Some(record) => Ok(ROption::RSome(session_json(&record)?)),
                None => Ok(ROption::RNone),
            }
        })
    }

    fn delete(&self, integration_id: RString, session_key: RString) -> FfiResultFuture<bool> {
        let fut =
            self.services.sessions.delete(self.tenant.clone(), integration_id.into_string(), session_key.into_string());
        guarded_future(Some(self.runtime.clone()), fut)
    }

    fn delete_integration(&self, integration_id: RString) -> FfiResultFuture<u64> {
        let fut = self.services.sessions.delete_integration(self.tenant.clone(), integration_id.into_string());
        guarded_future(Some(self.runtime.clone()), fut)
    }

    fn query(&self, query_json: RString) -> FfiResultFuture<RString> {
        let backend = self.services.sessions.clone();
        let tenant = self.tenant.clone();
        guarded_future(Some(self.runtime.clone()), async move {
            let query: SessionQuery =
                serde_json::from_str(&query_json).map_err(|e| Error::bad_json("session query", &e))?;
            let page = backend.query(tenant, query).await?;
            serde_json::to_string(&page).map(RString::from).map_err(|e| Error::internal(e.to_string()))
        })
    }
}

struct ExportedAgents {
    services: ServiceSet,
    tenant: String,
    runtime: Handle,
}

impl AgentService for ExportedAgents {
    fn invoke(&self, request: FfiAgentRequest) -> FfiResultFuture<AgentStreamBox> {
        let fut = self.services.agents.invoke(self.tenant.clone(), request.into());
        guarded_future(Some(self.runtime.clone()), async move {
            let receiver = fut.await?;
            Ok(AgentStream_TO::from_ptr(RBox::new(ExportedStream { receiver }), TD_Opaque))
        })
    }
}

/// The host's end of an agent stream: a tokio receiver polled with the plugin's waker.
struct ExportedStream {
    receiver: AgentEventReceiver,
}

impl AgentStream for ExportedStream {
    fn poll_next(&mut self, cx: &mut FfiContext<'_>) -> FfiPoll<ROption<FfiAgentEventNe>> {
        let receiver = &mut self.receiver;
        catch_or(FfiPoll::Panicked, || {
            cx.with_context(|cx: &mut Context<'_>| loop {
                match Pin::new(&mut *receiver).poll_recv(cx) {
                    Poll::Pending => return FfiPoll::Pending,
                    Poll::Ready(None) => return FfiPoll::Ready(ROption::RNone),
                    Poll::Ready(Some(ev)) => {
                        if let Some(ffi) = ev.into_ffi() {
                            return FfiPoll::Ready(ROption::RSome(ffi));
                        }
                        // an Unknown event has no wire form: skip it
                    }
                }
            })
        })
    }
}

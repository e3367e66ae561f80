//! A host with in-memory services and a scriptable agent, for plugin tests.
//!
//! It owns its own multi-thread runtime (like a real host), records every log record, lets tests
//! move the clock, and answers agent runs from a script.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, AtomicUsize, Ordering};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::runtime::{Builder, Handle, Runtime};

use super::installation::Installation;
use super::loader::LoadedPlugin;
use super::memory::{Clock, MemoryKv, MemoryLeases, MemorySessions};
use super::services::{AgentBackend, AgentEventReceiver, HostServices, IntegrationBackend, ServiceSet};
use crate::{AgentEvent, AgentRequest, BoxFuture, Error, InstallLevel, Integration, LogRecord};

/// The tenant [`TestHost::install`] and [`TestHost::put_integration`] use.
pub const TEST_TENANT: &str = "test-tenant";

/// One log record a plugin sent, with who sent it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoggedRecord {
    /// The plugin's name.
    pub plugin: String,
    /// The tenant of the installation that logged it.
    pub tenant: String,
    /// The record.
    pub record: LogRecord,
}

/// The TestHost. Create with [`TestHost::new`]; share with `Arc`.
pub struct TestHost {
    runtime: Option<Runtime>,
    now_ms: Arc<AtomicI64>,
    config: Mutex<HashMap<String, String>>,
    logs: Mutex<Vec<LoggedRecord>>,
    kv: Arc<MemoryKv>,
    leases: Arc<MemoryLeases>,
    sessions: Arc<MemorySessions>,
    /// Integrations by (tenant, id), shared with siblings.
    integrations: Arc<Mutex<HashMap<(String, String), Integration>>>,
    agent: Arc<ScriptedAgent>,
}

impl TestHost {
    /// A fresh host whose clock starts at the current time and stands still until moved.
    pub fn new() -> Arc<TestHost> {
        let start = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as i64)
            .unwrap_or(0);
        let now_ms = Arc::new(AtomicI64::new(start));
        let clock_source = now_ms.clone();
        let clock: Clock = Arc::new(move || clock_source.load(Ordering::SeqCst));
        let runtime = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-host")
            .enable_all()
            .build()
            .expect("the test host needs a runtime");
        Arc::new(TestHost {
            runtime: Some(runtime),
            now_ms,
            config: Mutex::new(HashMap::from([
                ("API_BASE_URL".to_string(), "http://127.0.0.1:3000".to_string()),
                ("INSTANCE_ID".to_string(), "test-host".to_string()),
            ])),
            logs: Mutex::new(Vec::new()),
            kv: Arc::new(MemoryKv::new(clock.clone())),
            leases: Arc::new(MemoryLeases::new(clock)),
            sessions: Arc::new(MemorySessions::new()),
            integrations: Arc::new(Mutex::new(HashMap::new())),
            agent: Arc::new(ScriptedAgent::default()),
        })
    }

    /// A second host instance over the same shared state — KV store, leases, sessions and
    /// integrations —
    /// with its own runtime, clock reading, config (`INSTANCE_ID` = `instance_id`), logs and
    /// agent: two hosts on one database, as several `xpert-host` processes would be.
    pub fn sibling(self: &Arc<Self>, instance_id: &str) -> Arc<TestHost> {
        let runtime = Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("test-host-sibling")
            .enable_all()
            .build()
            .expect("the test host needs a runtime");
        let mut config = self.config.lock().clone();
        config.insert("INSTANCE_ID".to_string(), instance_id.to_string());
        Arc::new(TestHost {
            runtime: Some(runtime),
            now_ms: self.now_ms.clone(),
            config: Mutex::new(config),
            logs: Mutex::new(Vec::new()),
            kv: self.kv.clone(),
            leases: self.leases.clone(),
            sessions: self.sessions.clone(),
            integrations: self.integrations.clone(),
            agent: Arc::new(ScriptedAgent::default()),
        })
    }

    /// The handle of the host's runtime.
    pub fn handle(&self) -> Handle {
        self.runtime.as_ref().expect("runtime lives until drop").handle().clone()
    }

    /// Runs a future to completion on the host's runtime (from a non-async test).
    pub fn block_on<F: std::future::Future>(&self, fut: F) -> F::Output {
        self.runtime.as_ref().expect("runtime lives until drop").block_on(fut)
    }

    /// Sets a configuration value the plugin reads through `HostApi::config`.
    pub fn set_config(&self, key: &str, value: &str) {
        self.config.lock().insert(key.to_string(), value.to_string());
    }

    /// Moves the clock forward.
    pub fn advance_ms(&self, ms: i64) {
        self.now_ms.fetch_add(ms, Ordering::SeqCst);
    }

    /// Adds or replaces an integration of [`TEST_TENANT`] in the directory.
    pub fn put_integration(&self, integration: Integration) {
        self.put_integration_in(TEST_TENANT, integration);
    }

    /// Adds or replaces an integration of `tenant` in the directory.
    pub fn put_integration_in(&self, tenant: &str, integration: Integration) {
        self.integrations.lock().insert((tenant.to_string(), integration.id.clone()), integration);
    }

    /// Removes an integration of `tenant` from the directory and, as a host does when an
    /// integration is deleted, its sessions; true when it existed.
    pub fn remove_integration_in(&self, tenant: &str, id: &str) -> bool {
        let removed = self.integrations.lock().remove(&(tenant.to_string(), id.to_string())).is_some();
        self.sessions.drop_integration(tenant, id);
        removed
    }

    /// Every log record received so far, with the plugin and tenant that sent it.
    pub fn logs(&self) -> Vec<LoggedRecord> {
        self.logs.lock().clone()
    }

    /// The KV store (keys carry the `<plugin>/<tenant>/` prefix).
    pub fn kv(&self) -> &Arc<MemoryKv> {
        &self.kv
    }

    /// The sessions store (shared by every tenant; rows are keyed by tenant).
    pub fn sessions(&self) -> &Arc<MemorySessions> {
        &self.sessions
    }

    /// The scripted agent.
    pub fn agent(&self) -> &Arc<ScriptedAgent> {
        &self.agent
    }

    /// The services handed to installations.
    pub fn services(self: &Arc<Self>) -> ServiceSet {
        ServiceSet {
            host: self.clone(),
            kv: self.kv.clone(),
            leases: self.leases.clone(),
            integrations: self.clone(),
            agents: self.agent.clone(),
            sessions: self.sessions.clone(),
        }
    }

    /// Installs a loaded plugin at `level` for tenant [`TEST_TENANT`].
    pub fn install(self: &Arc<Self>, plugin: &LoadedPlugin, level: InstallLevel) -> Result<Installation, Error> {
        self.install_in(plugin, level, TEST_TENANT)
    }

    /// Installs a loaded plugin at `level` for `tenant`.
    pub fn install_in(
        self: &Arc<Self>,
        plugin: &LoadedPlugin,
        level: InstallLevel,
        tenant: &str,
    ) -> Result<Installation, Error> {
        plugin.install(level, tenant, self.services(), self.handle())
    }
}

impl Drop for TestHost {
    fn drop(&mut self) {
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

impl HostServices for TestHost {
    fn log(&self, plugin: &str, tenant: &str, record: LogRecord) {
        self.logs.lock().push(LoggedRecord { plugin: plugin.to_string(), tenant: tenant.to_string(), record });
    }
    fn config(&self, key: &str) -> Option<String> {
        self.config.lock().get(key).cloned()
    }
    fn now_ms(&self) -> i64 {
        self.now_ms.load(Ordering::SeqCst)
    }
}

impl IntegrationBackend for TestHost {
    fn get(&self, tenant: String, id: String) -> BoxFuture<'static, Result<Option<Integration>, Error>> {
        let found = self.integrations.lock().get(&(tenant, id)).cloned();
        Box::pin(async move { Ok(found) })
    }
    fn list_by_provider(
        &self,
        tenant: String,
        provider: String,
    ) -> BoxFuture<'static, Result<Vec<Integration>, Error>> {
        let mut list: Vec<Integration> = self
            .integrations
            .lock()
            .iter()
            .filter(|((t, _), i)| *t == tenant && i.provider == provider)
            .map(|(_, i)| i.clone())
            .collect();
        list.sort_by(|a, b| a.id.cmp(&b.id));
        Box::pin(async move { Ok(list) })
    }
}

/// An agent that answers from a script: the first rule whose prefix matches the input decides
/// the events; otherwise it echoes (`echo: <input>` in two deltas). Every request is recorded
/// with its tenant, and runs whose stream was dropped before the end are counted as cancelled.
#[derive(Default)]
pub struct ScriptedAgent {
    rules: Mutex<Vec<(String, Vec<AgentEvent>)>>,
    requests: Mutex<Vec<(String, AgentRequest)>>,
    cancelled: Arc<AtomicUsize>,
    /// When set, each event waits for a permit (tests release them one by one).
    gate: Mutex<Option<Arc<tokio::sync::Semaphore>>>,
}

impl ScriptedAgent {
    /// Answers inputs starting with `prefix` with `events` (a `Done` is appended if missing).
    pub fn on_prefix(&self, prefix: &str, mut events: Vec<AgentEvent>) {
        if events.last() != Some(&AgentEvent::Done) {
            events.push(AgentEvent::Done);
        }
        self.rules.lock().push((prefix.to_string(), events));
    }

    /// Makes every event wait for a permit of the returned semaphore.
    pub fn gate(&self) -> Arc<tokio::sync::Semaphore> {
        let sem = Arc::new(tokio::sync::Semaphore::new(0));
        *self.gate.lock() = Some(sem.clone());
        sem
    }

    /// The requests received so far.
    pub fn requests(&self) -> Vec<AgentRequest> {
        self.requests.lock().iter().map(|(_, r)| r.clone()).collect()
    }

    /// The requests received so far, with the tenant of the installation that made each.
    pub fn requests_by_tenant(&self) -> Vec<(String, AgentRequest)> {
        self.requests.lock().clone()
    }

    /// How many runs were cancelled by dropping their stream.
    pub fn cancelled(&self) -> usize {
        self.cancelled.load(Ordering::SeqCst)
    }

    fn events_for(&self, input: &str) -> Vec<AgentEvent> {
        let rules = self.rules.lock();
        if let Some((_, events)) = rules.iter().find(|(p, _)| input.starts_with(p.as_str())) {
            return events.clone();
        }
        let text = format!("echo: {input}");
        let split = text.char_indices().nth(text.chars().count() / 2).map(|(i, _)| i).unwrap_or(0);
        vec![
            AgentEvent::ConversationStart { conversation_id: "conv-1".into() },
            AgentEvent::TextDelta(text[..split].to_string()),
            AgentEvent::TextDelta(text[split..].to_string()),
            AgentEvent::ConversationEnd { status: crate::ConversationStatus::Success, error: None },
            AgentEvent::Done,
        ]
    }
}

impl AgentBackend for ScriptedAgent {
    fn invoke(&self, tenant: String, request: AgentRequest) -> BoxFuture<'static, Result<AgentEventReceiver, Error>> {
        let events = self.events_for(&request.input);
        self.requests.lock().push((tenant, request));
        let cancelled = self.cancelled.clone();
        let gate = self.gate.lock().clone();
        let (tx, rx) = tokio::sync::mpsc::channel(64);
        Box::pin(async move {
            tokio::spawn(async move {
                for ev in events {
                    if let Some(gate) = &gate {
                        match gate.acquire().await {
                            Ok(permit) => permit.forget(),
                            Err(_) => return,
                        }
                    }
                    if tx.send(ev).await.is_err() {
                        cancelled.fetch_add(1, Ordering::SeqCst);
                        return;
                    }
                }
            });
            Ok(rx)
        })
    }
}

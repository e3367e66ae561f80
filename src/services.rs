//! The services the host gives plugins: logging into the host's tracing stream, config, clock and
//! agents here; KV, leases, integrations and conversation sessions from the store (its adapter,
//! [`StoreServices`]) or, for KV and leases, from Redis. One [`ServiceSet`] serves every
//! installation: host-sdk passes each call the tenant of the installation that made it, and the
//! integration directory and agent runs answer within that tenant only.

use std::collections::BTreeMap;
use std::sync::Arc;

use host_sdk::host::{AgentBackend, AgentEventReceiver, HostServices, ServiceSet};
use host_sdk::{AgentRequest, BoxFuture, Error, LogLevel, LogRecord};

use crate::agents::AgentRunner;
use crate::clock::now_ms;
use crate::store::{SharedParts, Store, StoreServices};

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

impl AgentBackend for AgentRunner {
    fn invoke(&self, tenant: String, request: AgentRequest) -> BoxFuture<'static, Result<AgentEventReceiver, Error>> {
        let runner = self.clone();
        Box::pin(async move { runner.start(&tenant, request).await })
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

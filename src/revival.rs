//! Giving plugin runtimes back their life, per tenant with that tenant's installation: enabled
//! integrations hear `Enabled` again and published Digital Experts' triggers are published
//! again. Runs at start for every tenant, and after a tenant-level install for that tenant; and
//! [`follow_peers`] passes on what other hosts sharing the store enabled meanwhile.
//!
//! It sits between the API and the server (both call it) and uses only the store and the plugin
//! manager, so neither of them has to reach into the other.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use host_sdk::{LifecycleEvent, TriggerParams};

use crate::plugins::PluginManager;
use crate::store::{IntegrationRecord, Store, TriggerDraft};

/// Revives one tenant: `Enabled` for each enabled integration, then `publish` for each trigger
/// of each published Digital Expert. Failures are logged; the rest goes on.
pub async fn revive_tenant(store: &dyn Store, plugins: &PluginManager, tenant: &str) {
    match store.list_integrations(tenant.to_string()).await {
        Ok(records) => {
            for record in records.iter().filter(|r| r.enabled) {
                let Some(p) = plugins.provider(tenant, &record.provider) else { continue };
                if let Err(e) = p.provider.on_lifecycle(LifecycleEvent::Enabled, &record.to_integration(), None).await {
                    tracing::warn!(tenant, integration_id = %record.id, "reviving an integration failed: {}", e.message);
                }
            }
        }
        Err(e) => tracing::warn!(tenant, "cannot list the integrations to revive: {e}"),
    }
    republish_tenant(store, plugins, tenant).await;
}

/// Re-publishes the published triggers of every published Digital Expert of a tenant.
pub async fn republish_tenant(store: &dyn Store, plugins: &PluginManager, tenant: &str) {
    let list = match store.list_xperts(tenant.to_string()).await {
        Ok(list) => list,
        Err(e) => {
            tracing::warn!(tenant, "cannot list the Digital Experts to re-publish: {e}");
            return;
        }
    };
    for record in list.into_iter().filter(|r| r.published) {
        for t in TriggerDraft::list(&record.published_triggers) {
            let Some(trigger) = plugins.trigger(tenant, &t.provider) else { continue };
            let params = TriggerParams { xpert_id: record.id.clone(), config: t.config.clone() };
            if let Err(e) = trigger.trigger.publish(&params).await {
                tracing::warn!(tenant, xpert_id = %record.id, "re-publishing a trigger failed: {}", e.message);
            }
        }
    }
}

/// Revives every tenant (at start).
pub async fn revive_all(store: &dyn Store, plugins: &PluginManager) {
    match store.list_tenants().await {
        Ok(tenants) => {
            for tenant in tenants {
                revive_tenant(store, plugins, &tenant.id).await;
            }
        }
        Err(e) => tracing::warn!("cannot list the tenants to revive: {e}"),
    }
}

/// What [`follow_peers`] starts from: the enabled integrations of every tenant that has an
/// integration provider here, by (tenant, id). Taken before the start's revival, so that an
/// integration created meanwhile (through another host) is passed on too, not taken for known.
pub type Known = HashMap<(String, String), IntegrationRecord>;

/// The enabled integrations of every tenant that has an integration provider here, by
/// (tenant, id); `None` when the store cannot be read (nothing is concluded from that).
pub async fn enabled_integrations(
    store: &dyn Store,
    plugins: &PluginManager,
) -> Option<HashMap<(String, String), IntegrationRecord>> {
    let tenants = store.list_tenants().await.ok()?;
    let mut enabled = HashMap::new();
    for tenant in tenants {
        if plugins.providers(&tenant.id).is_empty() {
            continue;
        }
        for record in store.list_integrations(tenant.id.clone()).await.ok()? {
            if record.enabled {
                enabled.insert((tenant.id.clone(), record.id.clone()), record);
            }
        }
    }
    Some(enabled)
}

/// Lets this host follow what another host sharing the store changed: every `every`, plugin
/// installs and uninstalls made there are applied here ([`PluginManager::follow_installs`], a
/// tenant that gained an installation is revived), and each enabled integration not enabled at
/// the last look hears `Enabled`, as it would at a restart. A host hears lifecycle events only
/// for its own API calls; without this, one started before an integration existed would never
/// run (or stand by for) its connection, and could not take over when the host running it dies.
/// Starts from `known` (see [`Known`]); runs until the task is aborted.
pub async fn follow_peers(store: Arc<dyn Store>, plugins: Arc<PluginManager>, every: Duration, mut known: Known) {
    loop {
        tokio::time::sleep(every).await;
        match plugins.follow_installs(store.as_ref()).await {
            Ok(gained) => {
                for tenant in gained {
                    revive_tenant(store.as_ref(), &plugins, &tenant).await;
                }
            }
            Err(e) => tracing::warn!("cannot read the plugin installs to follow other hosts: {e}"),
        }
        let Some(now) = enabled_integrations(store.as_ref(), &plugins).await else { continue };
        for ((tenant, id), record) in &now {
            if known.contains_key(&(tenant.clone(), id.clone())) {
                continue;
            }
            let Some(p) = plugins.provider(tenant, &record.provider) else { continue };
            tracing::info!(tenant = %tenant, integration_id = %id, "an integration enabled through another host");
            if let Err(e) = p.provider.on_lifecycle(LifecycleEvent::Enabled, &record.to_integration(), None).await {
                tracing::warn!(tenant = %tenant, integration_id = %id, "passing on an integration failed: {}", e.message);
            }
        }
        known = now;
    }
}

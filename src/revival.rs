//! Giving plugin runtimes back their life, per tenant with that tenant's installation: enabled
//! integrations hear `Enabled` again and published Digital Experts' triggers are published
//! again. Runs at start for every tenant, and after a tenant-level install for that tenant.
//!
//! It sits between the API and the server (both call it) and uses only the store and the plugin
//! manager, so neither of them has to reach into the other.

use host_sdk::{LifecycleEvent, TriggerParams};

use crate::plugins::PluginManager;
use crate::store::{Store, TriggerDraft};

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

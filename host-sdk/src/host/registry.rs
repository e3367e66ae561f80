//! The plugin registry: loaded libraries and their installations, with the level rules.
//!
//! One library is loaded once per process; each tenant has at most one installation of a plugin
//! (installing again, e.g. at another level, replaces it). Providers and triggers come only from
//! tenant-level installations (the registrar enforces it), so lookups here never see a provider
//! registered below tenant level.

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::runtime::Handle;

use super::installation::{Installation, RegisteredProvider, RegisteredRoute, RegisteredTrigger, RegisteredView};
use super::loader::LoadedPlugin;
use super::services::ServiceSet;
use crate::{Error, InstallLevel};

/// Loaded plugins and installations, keyed by plugin name and tenant.
#[derive(Default)]
pub struct PluginRegistry {
    loaded: BTreeMap<String, LoadedPlugin>,
    installations: BTreeMap<(String, String), Installation>,
}

impl PluginRegistry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a loaded library (replacing nothing: a second library with the same name is refused,
    /// since libraries are never unloaded and an upgrade is a restart).
    pub fn add_loaded(&mut self, plugin: LoadedPlugin) -> Result<(), Error> {
        let name = plugin.manifest.name.clone();
        if self.loaded.contains_key(&name) {
            return Err(Error::conflict(format!("plugin {name} is already loaded; restart the host to upgrade it")));
        }
        self.loaded.insert(name, plugin);
        Ok(())
    }

    /// A loaded plugin by name.
    pub fn loaded(&self, name: &str) -> Option<&LoadedPlugin> {
        self.loaded.get(name)
    }

    /// Every loaded plugin.
    pub fn loaded_plugins(&self) -> impl Iterator<Item = &LoadedPlugin> {
        self.loaded.values()
    }

    /// Installs a loaded plugin for a tenant at a level (replacing an earlier installation of it
    /// in that tenant). Returns the installation, whose `warnings` say what a lower level left out.
    pub fn install(
        &mut self,
        name: &str,
        level: InstallLevel,
        tenant_id: &str,
        services: ServiceSet,
        runtime: Handle,
    ) -> Result<&Installation, Error> {
        let plugin = self
            .loaded
            .get(name)
            .ok_or_else(|| Error::not_found(format!("plugin {name} is not available in the plugin directory")))?;
        let installation = plugin.install(level, tenant_id, services, runtime)?;
        let key = (name.to_string(), tenant_id.to_string());
        self.installations.insert(key.clone(), installation);
        Ok(&self.installations[&key])
    }

    /// The installation of a plugin in a tenant.
    pub fn installation(&self, name: &str, tenant_id: &str) -> Option<&Installation> {
        self.installations.get(&(name.to_string(), tenant_id.to_string()))
    }

    /// Every installation.
    pub fn installations(&self) -> impl Iterator<Item = &Installation> {
        self.installations.values()
    }

    /// The integration provider with this name in a tenant (tenant-level installations only).
    pub fn provider(&self, tenant_id: &str, name: &str) -> Option<&RegisteredProvider> {
        self.providers(tenant_id).find(|p| p.name == name)
    }

    /// Every integration provider of a tenant.
    pub fn providers<'a>(&'a self, tenant_id: &str) -> impl Iterator<Item = &'a RegisteredProvider> + 'a {
        self.in_tenant(tenant_id).flat_map(|i| i.providers.iter())
    }

    /// The trigger with this name in a tenant.
    pub fn trigger(&self, tenant_id: &str, name: &str) -> Option<&RegisteredTrigger> {
        self.in_tenant(tenant_id).flat_map(|i| i.triggers.iter()).find(|t| t.name == name)
    }

    /// Every route of a tenant's installations.
    pub fn routes<'a>(&'a self, tenant_id: &str) -> impl Iterator<Item = &'a RegisteredRoute> + 'a {
        self.in_tenant(tenant_id).flat_map(|i| i.routes.iter())
    }

    /// The view extensions that add tabs for integrations of `provider`.
    pub fn views_for<'a>(&'a self, tenant_id: &str, provider: &str) -> impl Iterator<Item = &'a RegisteredView> + 'a {
        let provider = provider.to_string();
        self.in_tenant(tenant_id).flat_map(|i| i.views.iter()).filter(move |v| v.view.supports(&provider))
    }

    fn in_tenant<'a>(&'a self, tenant_id: &str) -> impl Iterator<Item = &'a Installation> + 'a {
        let tenant_id = tenant_id.to_string();
        self.installations.values().filter(move |i| i.tenant_id == tenant_id)
    }

    /// Calls every loaded plugin's `shutdown` (blocking: use a blocking thread). Returns the
    /// failures, one line each.
    pub fn shutdown_all(&self, timeout: Duration) -> Vec<String> {
        self.loaded
            .values()
            .filter_map(|p| {
                p.shutdown(timeout).err().map(|e| format!("plugin {}: shutdown failed: {e}", p.manifest.name))
            })
            .collect()
    }
}

//! The plugin registry: loaded libraries and their installations, with the level rules.
//!
//! One library is loaded once per process; each tenant has at most one installation of a plugin.
//! Installing again means removing the old installation and stopping it first (outside any
//! lock the caller holds: `stop` blocks), then installing; a lower-level install over a
//! tenant-level one is refused. Providers and triggers come only from tenant-level installations
//! (the registrar enforces it), so lookups here never see a provider registered below tenant
//! level.

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

    /// Makes way for installing `name` at `level` in `tenant`: refused when the plugin is not
    /// loaded, or when a tenant-level installation would be replaced by a lower level (that would
    /// silently drop its integrations and trigger: uninstall first). An earlier installation
    /// there is removed and returned; the caller stops it (blocking, outside its locks) before
    /// calling [`PluginRegistry::install`].
    pub fn prepare_install(
        &mut self,
        name: &str,
        level: InstallLevel,
        tenant_id: &str,
    ) -> Result<Option<Installation>, Error> {
        if !self.loaded.contains_key(name) {
            return Err(Error::not_found(format!("plugin {name} is not available in the plugin directory")));
        }
        if let Some(existing) = self.installation(name, tenant_id) {
            if existing.level == InstallLevel::Tenant && level != InstallLevel::Tenant {
                return Err(Error::conflict(format!(
                    "plugin {name} is installed at tenant level in this tenant; installing it at {level} level would drop its integration providers and trigger: uninstall it first"
                )));
            }
        }
        Ok(self.remove(name, tenant_id))
    }

    /// Installs a loaded plugin for a tenant at a level. Refused while an installation of it
    /// exists in the tenant (see [`PluginRegistry::prepare_install`]). Returns the installation,
    /// whose `warnings` say what a lower level left out.
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
        if let Some(existing) = self.installation(name, tenant_id) {
            return Err(Error::conflict(format!(
                "plugin {name} is already installed at {} level in this tenant: remove and stop that installation first",
                existing.level
            )));
        }
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

    /// Removes a plugin's installation from a tenant and returns it: the caller must `stop` it
    /// (blocking, so outside any lock).
    pub fn remove(&mut self, name: &str, tenant_id: &str) -> Option<Installation> {
        self.installations.remove(&(name.to_string(), tenant_id.to_string()))
    }

    /// Removes every installation of a tenant (tenant deletion); the caller stops them.
    pub fn remove_tenant(&mut self, tenant_id: &str) -> Vec<Installation> {
        let keys: Vec<_> = self.installations.keys().filter(|(_, t)| t == tenant_id).cloned().collect();
        keys.into_iter().filter_map(|k| self.installations.remove(&k)).collect()
    }

    /// Removes every installation (host shutdown); the caller stops them, then calls
    /// [`PluginRegistry::shutdown_libraries`].
    pub fn remove_all(&mut self) -> Vec<Installation> {
        std::mem::take(&mut self.installations).into_values().collect()
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

    /// Stops every installation, then calls every loaded library's `shutdown` (blocking: use a
    /// blocking thread, and do not hold a lock others need). Returns the failures, one line each.
    pub fn shutdown_all(&mut self, timeout: Duration) -> Vec<String> {
        let mut failures = stop_all(self.remove_all(), timeout);
        failures.extend(self.shutdown_libraries(timeout));
        failures
    }

    /// Calls every loaded library's `shutdown` (after its installations were stopped).
    pub fn shutdown_libraries(&self, timeout: Duration) -> Vec<String> {
        self.loaded
            .values()
            .filter_map(|p| {
                p.shutdown(timeout).err().map(|e| format!("plugin {}: shutdown failed: {e}", p.manifest.name))
            })
            .collect()
    }
}

/// Stops installations one after another, each within `timeout` (blocking). Returns the
/// failures, one line each.
pub fn stop_all(installations: Vec<Installation>, timeout: Duration) -> Vec<String> {
    installations
        .into_iter()
        .filter_map(|i| {
            i.stop(timeout).err().map(|e| format!("plugin {} in tenant {}: stop failed: {e}", i.plugin, i.tenant_id))
        })
        .collect()
}

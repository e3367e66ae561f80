//! The plugin manager: places the bundled WeCom build into the plugin directory, finds what the
//! directory holds, loads it through host-sdk, installs plugins per tenant at a level, uninstalls
//! them, and restores installs at start.
//!
//! host-sdk's registry keeps the installations per (plugin, tenant). Every lookup (providers,
//! triggers, views, routes) names the tenant, so a tenant only ever reaches its own installation.
//! An installation taken out of the registry (uninstall, re-install, tenant deletion, shutdown)
//! is stopped by [`stop_installations`], on a blocking thread and outside the registry's lock.

use std::path::{Path, PathBuf};
use std::time::Duration;

use host_sdk::host::{
    load_plugin, stop_all, Installation, PluginRegistry, RegisteredProvider, RegisteredTrigger, RegisteredView,
    ServiceSet,
};
use host_sdk::{Error, InstallLevel};
use parking_lot::RwLock;
use serde_json::{json, Value};
use tokio::runtime::Handle;

use crate::clock::now_rfc3339;
use crate::shown;
use crate::store::{InstallRecord, Store, StoreError};

/// How long an installation may take to stop (uninstall, re-install, tenant deletion, shutdown).
pub const STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// Why an install or uninstall was refused.
#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    /// No folder of the plugin directory holds a plugin of that name.
    #[error("plugin {} is not available in the plugin directory", shown::id(.0))]
    NotAvailable(String),
    /// The plugin's folder is there but its library failed to load.
    #[error("plugin {} cannot be installed: {error}", shown::id(name))]
    LoadFailed {
        /// The plugin.
        name: String,
        /// The loader's one-line error.
        error: String,
    },
    /// A lower level over an existing tenant-level installation (no silent downgrade).
    #[error(
        "plugin {0} is installed at tenant level in this tenant; uninstall it first (DELETE /api/plugins/{0}) to install it at a lower level"
    )]
    Downgrade(String),
    /// The plugin is not installed in the tenant.
    #[error("plugin {} is not installed in this tenant", shown::id(.0))]
    NotInstalled(String),
    /// The plugin's `register` failed.
    #[error("{0}")]
    Register(Error),
    /// The caller's tenant was deleted meanwhile.
    #[error("the tenant no longer exists")]
    TenantGone,
    /// The store failed.
    #[error("{0}")]
    Storage(StoreError),
}

/// The bundled plugin's manifest (the plugin library embeds the same text).
pub const BUNDLED_MANIFEST: &str = include_str!("../manifest.toml");

/// A plugin folder found in the plugin directory.
#[derive(Clone, Debug)]
pub struct AvailablePlugin {
    /// Manifest fields (when the manifest could be read).
    pub name: String,
    /// Version.
    pub version: String,
    /// ABI version.
    pub abi_version: u32,
    /// Intended level.
    pub level: String,
    /// Why it cannot load, one line.
    pub error: Option<String>,
}

/// Loaded plugins and their installations per tenant.
pub struct PluginManager {
    /// The loaded libraries (never unloaded) and the installations per (plugin, tenant).
    registry: RwLock<PluginRegistry>,
    /// What the plugin directory holds, loadable or not.
    available: Vec<AvailablePlugin>,
    /// Serializes install, uninstall and tenant removal (each takes out, stops and puts in).
    changing: tokio::sync::Mutex<()>,
    /// The services every installation gets (each call carries the installation's tenant).
    services: ServiceSet,
    runtime: Handle,
}

/// Stops installations taken out of the registry, on a blocking thread (`stop` blocks up to its
/// timeout), logging failures. Every uninstall, re-install, tenant deletion and shutdown goes
/// through here.
pub async fn stop_installations(installations: Vec<Installation>) {
    if installations.is_empty() {
        return;
    }
    let names: Vec<(String, String)> = installations.iter().map(|i| (i.plugin.clone(), i.tenant_id.clone())).collect();
    let failures = tokio::task::spawn_blocking(move || stop_all(installations, STOP_TIMEOUT))
        .await
        .unwrap_or_else(|e| vec![format!("stopping installations failed: {e}")]);
    for f in failures {
        tracing::warn!("{f}");
    }
    for (plugin, tenant) in names {
        tracing::info!(plugin, tenant, "installation stopped");
    }
}

fn lib_file(base: &str) -> String {
    format!("{}{}{}", std::env::consts::DLL_PREFIX, base, std::env::consts::DLL_SUFFIX)
}

/// Where the bundled plugin library is: `XPERT_BUNDLED_PLUGIN_LIB`, or next to the executable
/// (`<exe dir>/` after `cargo build`, `<exe dir>/deps/` when cargo builds it for tests). When both
/// exist the newer one wins: `cargo test -p xpert-host` refreshes only `deps/`, and an older
/// `cargo build` copy may speak another ABI.
pub fn bundled_library() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("XPERT_BUNDLED_PLUGIN_LIB") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let file = lib_file("plugin_wecom");
    newest(&[dir.join(&file), dir.join("deps").join(&file)])
}

/// The most recently modified of the files that exist (the first one on a tie).
fn newest(candidates: &[PathBuf]) -> Option<PathBuf> {
    let mut best: Option<(&PathBuf, std::time::SystemTime)> = None;
    for path in candidates {
        let Ok(modified) = std::fs::metadata(path).and_then(|m| m.modified()) else { continue };
        if best.is_none_or(|(_, time)| modified > time) {
            best = Some((path, modified));
        }
    }
    best.map(|(path, _)| path.clone())
}

/// Puts the bundled WeCom build into `plugin_dir/wecom/` (dropped in, not installed). A folder the
/// host placed itself (marked `.bundled`) is refreshed when the bundled build changed, so a
/// rebuilt plugin is picked up at the next start; a folder an operator dropped in is never touched.
/// `bundled` is the bundled build ([`bundled_library`] in production).
pub fn place_bundled(plugin_dir: &Path, bundled: Option<PathBuf>) -> Result<Option<PathBuf>, std::io::Error> {
    let target = plugin_dir.join("wecom");
    let marker = target.join(".bundled");
    let lib_target = target.join(lib_file("plugin_wecom"));
    let present = target.join("manifest.toml").exists();
    if present && !marker.exists() {
        return Ok(None);
    }
    let Some(library) = bundled else {
        if !present {
            tracing::warn!("the bundled WeCom plugin library was not found next to the executable; build the workspace (cargo build --workspace)");
        }
        return Ok(None);
    };
    if present {
        let same_lib = std::fs::read(&library)? == std::fs::read(&lib_target).unwrap_or_default();
        let same_manifest =
            std::fs::read_to_string(target.join("manifest.toml")).unwrap_or_default() == BUNDLED_MANIFEST;
        if same_lib && same_manifest {
            return Ok(None);
        }
    }
    std::fs::create_dir_all(&target)?;
    // Write to a temporary name first: a half-copied library must never be loaded.
    let partial = target.join(".partial");
    std::fs::copy(&library, &partial)?;
    std::fs::rename(&partial, &lib_target)?;
    std::fs::write(target.join("manifest.toml"), BUNDLED_MANIFEST)?;
    std::fs::write(&marker, b"placed by xpert-host from its bundled build\n")?;
    Ok(Some(target))
}

impl PluginManager {
    /// Loads every plugin folder in `plugin_dir`; folders that cannot load are listed with their error.
    pub fn scan(plugin_dir: &Path, services: ServiceSet, runtime: Handle) -> PluginManager {
        let mut registry = PluginRegistry::new();
        let mut available = Vec::new();
        let mut dirs: Vec<PathBuf> = std::fs::read_dir(plugin_dir)
            .map(|rd| {
                rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.join("manifest.toml").is_file()).collect()
            })
            .unwrap_or_default();
        dirs.sort();
        for dir in dirs {
            let mut entry = AvailablePlugin {
                name: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                version: String::new(),
                abi_version: 0,
                level: String::new(),
                error: None,
            };
            if let Ok(m) = host_sdk::host::Manifest::read_from_dir(&dir) {
                entry.name = m.name;
                entry.version = m.version;
                entry.abi_version = m.abi_version;
                entry.level = m.level;
            }
            match load_plugin(&dir) {
                Ok(plugin) => {
                    tracing::info!(plugin = %plugin.manifest.name, version = %plugin.manifest.version, "plugin loaded");
                    if let Err(e) = registry.add_loaded(plugin) {
                        entry.error = Some(e.message);
                    }
                }
                Err(e) => {
                    tracing::warn!(dir = %dir.display(), "{e}");
                    entry.error = Some(e.to_string());
                }
            }
            available.push(entry);
        }
        PluginManager {
            registry: RwLock::new(registry),
            available,
            changing: tokio::sync::Mutex::new(()),
            services,
            runtime,
        }
    }

    /// `GET /api/plugins/available` for a tenant (`installed` says whether it is installed there).
    pub fn available_json(&self, tenant: &str) -> Value {
        let registry = self.registry.read();
        Value::Array(
            self.available
                .iter()
                .map(|p| {
                    let mut v = json!({
                        "name": p.name, "version": p.version, "abiVersion": p.abi_version, "level": p.level,
                        "installed": registry.installation(&p.name, tenant).is_some(),
                    });
                    if let Some(e) = &p.error {
                        v["error"] = json!(e);
                    }
                    v
                })
                .collect(),
        )
    }

    fn describe(registry: &PluginRegistry, inst: &Installation) -> Value {
        let loaded = registry.loaded(&inst.plugin);
        json!({
            "name": inst.plugin,
            "version": loaded.map(|p| p.manifest.version.clone()),
            "abiVersion": loaded.map(|p| p.manifest.abi_version),
            "level": inst.level.as_str(),
            "scope": format!("tenant:{}", inst.tenant_id),
            "capabilities": loaded.map(|p| p.manifest.capabilities.clone()).unwrap_or_default(),
            "providers": inst.providers.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
            "triggers": inst.triggers.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
            "routes": inst.routes.iter().map(|r| format!("{} /api{}", r.spec.method, r.spec.path)).collect::<Vec<_>>(),
            "warnings": inst.warnings,
            "installed": true,
        })
    }

    /// `GET /api/plugins`: the tenant's installations.
    pub fn installed_json(&self, tenant: &str) -> Value {
        let registry = self.registry.read();
        Value::Array(Self::of(&registry, tenant).map(|i| Self::describe(&registry, i)).collect())
    }

    /// Why a plugin cannot be installed because it is not loaded: its folder's load error, or
    /// that no folder holds it.
    fn not_loaded(&self, name: &str) -> InstallError {
        match self.available.iter().find(|p| p.name == name) {
            Some(AvailablePlugin { error: Some(error), .. }) => {
                InstallError::LoadFailed { name: name.to_string(), error: error.clone() }
            }
            _ => InstallError::NotAvailable(name.to_string()),
        }
    }

    /// Registers an installation in the registry (none of the plugin may exist in the tenant).
    fn register(&self, tenant: &str, name: &str, level: InstallLevel) -> Result<Value, InstallError> {
        let mut registry = self.registry.write();
        if registry.loaded(name).is_none() {
            return Err(self.not_loaded(name));
        }
        let inst = registry
            .install(name, level, tenant, self.services.clone(), self.runtime.clone())
            .map_err(InstallError::Register)?;
        for w in &inst.warnings {
            tracing::warn!(plugin = name, tenant, "{w}");
        }
        let inst = inst.clone();
        Ok(Self::describe(&registry, &inst))
    }

    /// Installs a plugin in a tenant at a level and persists it. An earlier installation in the
    /// tenant is replaced (stopped first), except that a lower level never replaces a
    /// tenant-level installation ([`InstallError::Downgrade`]).
    pub async fn install(
        &self,
        store: &dyn Store,
        tenant: &str,
        name: &str,
        level: InstallLevel,
    ) -> Result<Value, InstallError> {
        let _changing = self.changing.lock().await;
        if store.get_tenant(tenant.to_string()).await.map_err(InstallError::Storage)?.is_none() {
            return Err(InstallError::TenantGone);
        }
        let previous = {
            let mut registry = self.registry.write();
            if registry.loaded(name).is_none() {
                return Err(self.not_loaded(name));
            }
            if registry.installation(name, tenant).is_some_and(|i| i.level == InstallLevel::Tenant)
                && level != InstallLevel::Tenant
            {
                return Err(InstallError::Downgrade(name.to_string()));
            }
            registry.remove(name, tenant)
        };
        let replaced = previous.is_some();
        stop_installations(previous.into_iter().collect()).await;
        let answer = match self.register(tenant, name, level) {
            Ok(answer) => answer,
            Err(e) => {
                if replaced {
                    // The old installation is stopped: the tenant no longer has the plugin.
                    store.delete_install(tenant.to_string(), name.to_string()).await.map_err(InstallError::Storage)?;
                }
                return Err(e);
            }
        };
        store
            .save_install(InstallRecord {
                name: name.to_string(),
                level: level.as_str().to_string(),
                tenant_id: tenant.to_string(),
                installed_at: now_rfc3339(),
            })
            .await
            .map_err(InstallError::Storage)?;
        tracing::info!(plugin = name, tenant, level = %level, replaced, "plugin installed");
        Ok(answer)
    }

    /// Uninstalls a plugin from a tenant: stops its installation and forgets the install.
    pub async fn uninstall(&self, store: &dyn Store, tenant: &str, name: &str) -> Result<(), InstallError> {
        let _changing = self.changing.lock().await;
        let Some(inst) = self.registry.write().remove(name, tenant) else {
            return Err(InstallError::NotInstalled(name.to_string()));
        };
        stop_installations(vec![inst]).await;
        store.delete_install(tenant.to_string(), name.to_string()).await.map_err(InstallError::Storage)?;
        tracing::info!(plugin = name, tenant, "plugin uninstalled");
        Ok(())
    }

    /// Deletes a tenant: takes its installations out and stops them, then removes its data from
    /// the store. Installs wait meanwhile (and find the tenant gone), so none survives the
    /// deletion. The plugins' KV data of the tenant goes too, wherever it lives (`shared`).
    /// False when the tenant does not exist.
    pub async fn delete_tenant(
        &self,
        store: &dyn Store,
        shared: &dyn crate::store::SharedState,
        tenant: &str,
    ) -> Result<bool, StoreError> {
        let _changing = self.changing.lock().await;
        let taken = self.registry.write().remove_tenant(tenant);
        stop_installations(taken).await;
        if store.get_tenant(tenant.to_string()).await?.is_none() {
            return Ok(false);
        }
        // The KV data first: when Redis is unreachable the deletion fails before the tenant's
        // rows go, so trying again finds the tenant and finishes the job.
        shared.delete_tenant_keys(tenant.to_string()).await?;
        store.delete_tenant(tenant.to_string()).await
    }

    /// Makes this host's installations match the store's install records after installs and
    /// uninstalls made through another host sharing the store: a record with no installation
    /// here (or one at another level) is installed, an installation whose record is gone is
    /// stopped and removed. Records of plugins this host has not loaded are left alone. Returns
    /// the tenants that gained an installation (the caller revives them).
    pub async fn follow_installs(&self, store: &dyn Store) -> Result<Vec<String>, StoreError> {
        let _changing = self.changing.lock().await;
        let records = store.list_installs().await?;
        let recorded: std::collections::HashSet<(String, String)> =
            records.iter().map(|r| (r.name.clone(), r.tenant_id.clone())).collect();
        let (missing, gone) = {
            let registry = self.registry.read();
            let missing: Vec<_> = records
                .iter()
                .filter(|r| registry.loaded(&r.name).is_some())
                .filter(|r| {
                    registry.installation(&r.name, &r.tenant_id).map(|i| i.level.as_str()) != Some(r.level.as_str())
                })
                .cloned()
                .collect();
            let gone: Vec<(String, String)> = registry
                .installations()
                .map(|i| (i.plugin.clone(), i.tenant_id.clone()))
                .filter(|key| !recorded.contains(key))
                .collect();
            (missing, gone)
        };
        let removed: Vec<Installation> = {
            let mut registry = self.registry.write();
            let mut removed: Vec<Installation> =
                gone.iter().filter_map(|(name, tenant)| registry.remove(name, tenant)).collect();
            removed.extend(missing.iter().filter_map(|r| registry.remove(&r.name, &r.tenant_id)));
            removed
        };
        for (name, tenant) in &gone {
            tracing::info!(plugin = %name, tenant = %tenant, "uninstalled through another host: stopping it here");
        }
        stop_installations(removed).await;
        let mut gained = Vec::new();
        for record in missing {
            let Ok(level) = record.level.parse::<InstallLevel>() else { continue };
            match self.register(&record.tenant_id, &record.name, level) {
                Ok(_) => {
                    tracing::info!(plugin = %record.name, tenant = %record.tenant_id, "installed through another host: running it here");
                    gained.push(record.tenant_id);
                }
                Err(e) => {
                    tracing::warn!(plugin = %record.name, tenant = %record.tenant_id, "cannot follow an install made elsewhere: {e}")
                }
            }
        }
        Ok(gained)
    }

    /// Re-installs what the store says was installed, in every tenant (at start).
    pub async fn restore(&self, store: &dyn Store) -> Result<usize, StoreError> {
        let installs = store.list_installs().await?;
        let mut restored = 0;
        for record in installs {
            let Ok(level) = record.level.parse::<InstallLevel>() else { continue };
            match self.register(&record.tenant_id, &record.name, level) {
                Ok(_) => restored += 1,
                Err(e) => {
                    tracing::warn!(plugin = %record.name, tenant = %record.tenant_id, "cannot restore the installation: {e}")
                }
            }
        }
        Ok(restored)
    }

    /// The installations of a tenant, in plugin-name order.
    fn of<'a>(registry: &'a PluginRegistry, tenant: &'a str) -> impl Iterator<Item = &'a Installation> + 'a {
        registry.installations().filter(move |i| i.tenant_id == tenant)
    }

    /// An integration provider registered in a tenant.
    pub fn provider(&self, tenant: &str, name: &str) -> Option<RegisteredProvider> {
        self.registry.read().provider(tenant, name).cloned()
    }

    /// Every integration provider registered in a tenant.
    pub fn providers(&self, tenant: &str) -> Vec<RegisteredProvider> {
        let registry = self.registry.read();
        let found = registry.providers(tenant).cloned().collect();
        found
    }

    /// A trigger registered in a tenant.
    pub fn trigger(&self, tenant: &str, name: &str) -> Option<RegisteredTrigger> {
        self.registry.read().trigger(tenant, name).cloned()
    }

    /// The view extensions of a tenant for a provider's integrations.
    pub fn views_for(&self, tenant: &str, provider: &str) -> Vec<RegisteredView> {
        let registry = self.registry.read();
        let found = registry.views_for(tenant, provider).cloned().collect();
        found
    }

    /// The metrics texts of every installation (Prometheus text format, each labelled with its
    /// tenant by the plugin). Rendering is in-memory work on the plugin's side.
    pub fn metrics_texts(&self) -> Vec<String> {
        let handles: Vec<_> = self.registry.read().installations().map(|i| i.handle.clone()).collect();
        handles.iter().map(|h| h.metrics_text()).filter(|t| !t.is_empty()).collect()
    }

    /// How many installations exist, per plugin.
    pub fn installation_counts(&self) -> Vec<(String, usize)> {
        let mut counts = std::collections::BTreeMap::<String, usize>::new();
        for installation in self.registry.read().installations() {
            *counts.entry(installation.plugin.clone()).or_default() += 1;
        }
        counts.into_iter().collect()
    }

    /// Stops every installation, then calls every library's `shutdown` (blocking: call it from a
    /// blocking thread).
    pub fn shutdown_all(&self, timeout: Duration) -> Vec<String> {
        let taken = self.registry.write().remove_all();
        let mut failures = stop_all(taken, timeout);
        failures.extend(self.registry.read().shutdown_libraries(timeout));
        failures
    }
}

/// A plugin route matched for a request.
pub struct MatchedRoute {
    /// The handler.
    pub handler: host_sdk::host::ForeignHttpHandler,
    /// Values of the `{name}` segments.
    pub params: Vec<(String, String)>,
    /// Whether the route skips authentication.
    pub public: bool,
}

/// Matches `/wecom/webhook/{integrationId}` against `/wecom/webhook/42`.
pub fn match_pattern(pattern: &str, path: &str) -> Option<Vec<(String, String)>> {
    let mut params = Vec::new();
    let mut pat = pattern.trim_matches('/').split('/');
    let mut got = path.trim_matches('/').split('/');
    loop {
        match (pat.next(), got.next()) {
            (None, None) => return Some(params),
            (Some(p), Some(g)) if p.starts_with('{') && p.ends_with('}') && !g.is_empty() => {
                params.push((p[1..p.len() - 1].to_string(), g.to_string()));
            }
            (Some(p), Some(g)) if p == g => {}
            _ => return None,
        }
    }
}

impl PluginManager {
    /// The plugin route of a tenant's installations for a method and a path below `/api`
    /// (e.g. `/wecom/ping`).
    pub fn match_route(&self, tenant: &str, method: &str, path: &str) -> Option<MatchedRoute> {
        let registry = self.registry.read();
        let found = registry.routes(tenant).find_map(|r| Self::matched(r, method, path));
        found
    }

    /// The route of any tenant's installation for a method and path: routes come from the
    /// plugin, so every installation of a plugin has the same ones. Used to tell public routes
    /// (and the integration their path names) before knowing whose installation serves them.
    pub fn match_any_route(&self, method: &str, path: &str) -> Option<MatchedRoute> {
        let registry = self.registry.read();
        let found = registry.installations().flat_map(|i| i.routes.iter()).find_map(|r| Self::matched(r, method, path));
        found
    }

    fn matched(r: &host_sdk::host::RegisteredRoute, method: &str, path: &str) -> Option<MatchedRoute> {
        if !r.spec.method.eq_ignore_ascii_case(method) {
            return None;
        }
        match_pattern(&r.spec.path, path).map(|params| MatchedRoute {
            handler: r.handler.clone(),
            params,
            public: r.spec.public,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{lib_file, match_pattern, newest, place_bundled};

    #[test]
    fn the_bundled_copy_is_placed_refreshed_and_never_overrides_an_operators_folder() {
        let dir = tempfile::tempdir().unwrap();
        let bundled = dir.path().join("bundle.so");
        std::fs::write(&bundled, b"build one").unwrap();
        let plugins = dir.path().join("plugins");
        let placed = plugins.join("wecom").join(lib_file("plugin_wecom"));
        assert!(place_bundled(&plugins, Some(bundled.clone())).unwrap().is_some(), "first start places it");
        assert!(place_bundled(&plugins, Some(bundled.clone())).unwrap().is_none(), "unchanged: nothing to do");
        std::fs::write(&bundled, b"build two").unwrap();
        assert!(
            place_bundled(&plugins, Some(bundled.clone())).unwrap().is_some(),
            "a rebuilt plugin replaces the bundled copy"
        );
        assert_eq!(std::fs::read(&placed).unwrap(), b"build two");
        std::fs::remove_file(plugins.join("wecom").join(".bundled")).unwrap();
        std::fs::write(&bundled, b"build three").unwrap();
        assert!(
            place_bundled(&plugins, Some(bundled.clone())).unwrap().is_none(),
            "an operator's folder is left alone"
        );
        assert_eq!(std::fs::read(&placed).unwrap(), b"build two");
    }

    #[test]
    fn the_newest_candidate_library_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (old, new) = (dir.path().join("old.so"), dir.path().join("new.so"));
        std::fs::write(&old, b"old").unwrap();
        std::fs::write(&new, b"new").unwrap();
        let earlier = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(&old).unwrap().set_modified(earlier).unwrap();
        let missing = dir.path().join("missing.so");
        assert_eq!(newest(&[old.clone(), new.clone()]), Some(new.clone()));
        assert_eq!(newest(&[missing.clone(), old.clone()]), Some(old));
        assert_eq!(newest(&[missing]), None);
    }

    #[test]
    fn patterns_capture_named_segments() {
        assert_eq!(
            match_pattern("/wecom/webhook/{integrationId}", "/wecom/webhook/42"),
            Some(vec![("integrationId".to_string(), "42".to_string())])
        );
        assert_eq!(match_pattern("/wecom/ping", "/wecom/ping"), Some(vec![]));
        assert_eq!(match_pattern("/wecom/webhook/{id}", "/wecom/webhook/"), None);
        assert_eq!(match_pattern("/wecom/ping", "/wecom/ping/x"), None);
    }
}

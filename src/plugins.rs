//! The plugin manager: places the bundled WeCom build into the plugin directory, finds what the
//! directory holds, loads it through host-sdk, installs at a level, and restores installs.

use std::path::{Path, PathBuf};

use host_sdk::host::{
    load_plugin, Installation, PluginRegistry, RegisteredProvider, RegisteredTrigger, RegisteredView, ServiceSet,
};
use host_sdk::{Error, InstallLevel};
use parking_lot::RwLock;
use serde_json::{json, Value};
use tokio::runtime::Handle;

use crate::clock::now_rfc3339;
use crate::store::{InstallRecord, Store};

/// The reference host serves one tenant.
pub const TENANT: &str = "default";

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

/// Loaded plugins and their installations.
pub struct PluginManager {
    registry: RwLock<PluginRegistry>,
    available: RwLock<Vec<AvailablePlugin>>,
    services: ServiceSet,
    runtime: Handle,
}

fn lib_file(base: &str) -> String {
    format!("{}{}{}", std::env::consts::DLL_PREFIX, base, std::env::consts::DLL_SUFFIX)
}

/// Where the bundled plugin library is: `XPERT_BUNDLED_PLUGIN_LIB`, or next to the executable
/// (`<exe dir>/` after `cargo build`, `<exe dir>/deps/` when cargo builds it for tests).
pub fn bundled_library() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("XPERT_BUNDLED_PLUGIN_LIB") {
        return Some(PathBuf::from(path));
    }
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?;
    let file = lib_file("plugin_wecom");
    [dir.join(&file), dir.join("deps").join(&file)].into_iter().find(|p| p.is_file())
}

/// Puts the bundled WeCom build into `plugin_dir/wecom/` (dropped in, not installed). A folder the
/// host placed itself (marked `.bundled`) is refreshed when the bundled build changed, so a
/// rebuilt plugin is picked up at the next start; a folder an operator dropped in is never touched.
pub fn place_bundled(plugin_dir: &Path) -> Result<Option<PathBuf>, std::io::Error> {
    let target = plugin_dir.join("wecom");
    let marker = target.join(".bundled");
    let lib_target = target.join(lib_file("plugin_wecom"));
    let present = target.join("manifest.toml").exists();
    if present && !marker.exists() {
        return Ok(None);
    }
    let Some(library) = bundled_library() else {
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
        PluginManager { registry: RwLock::new(registry), available: RwLock::new(available), services, runtime }
    }

    /// `GET /api/plugins/available`.
    pub fn available_json(&self) -> Value {
        let registry = self.registry.read();
        Value::Array(
            self.available
                .read()
                .iter()
                .map(|p| {
                    let mut v = json!({
                        "name": p.name, "version": p.version, "abiVersion": p.abi_version, "level": p.level,
                        "installed": registry.installation(&p.name, TENANT).is_some(),
                    });
                    if let Some(e) = &p.error {
                        v["error"] = json!(e);
                    }
                    v
                })
                .collect(),
        )
    }

    fn installation_json(inst: &Installation, capabilities: &[String]) -> Value {
        json!({
            "name": inst.plugin,
            "level": inst.level.as_str(),
            "scope": format!("tenant:{}", inst.tenant_id),
            "capabilities": capabilities,
            "providers": inst.providers.iter().map(|p| p.name.clone()).collect::<Vec<_>>(),
            "triggers": inst.triggers.iter().map(|t| t.name.clone()).collect::<Vec<_>>(),
            "routes": inst.routes.iter().map(|r| format!("{} /api{}", r.spec.method, r.spec.path)).collect::<Vec<_>>(),
            "warnings": inst.warnings,
        })
    }

    fn describe(&self, registry: &PluginRegistry, inst: &Installation) -> Value {
        let mut v = match registry.loaded(&inst.plugin) {
            Some(p) => {
                let mut v = Self::installation_json(inst, &p.manifest.capabilities);
                v["version"] = json!(p.manifest.version);
                v["abiVersion"] = json!(p.manifest.abi_version);
                v
            }
            None => Self::installation_json(inst, &[]),
        };
        v["installed"] = json!(true);
        v
    }

    /// `GET /api/plugins`.
    pub fn installed_json(&self) -> Value {
        let registry = self.registry.read();
        Value::Array(registry.installations().map(|i| self.describe(&registry, i)).collect())
    }

    /// Installs a plugin at a level (replacing an earlier installation) and persists it.
    pub async fn install(&self, store: &dyn Store, name: &str, level: InstallLevel) -> Result<Value, Error> {
        let answer = {
            let mut registry = self.registry.write();
            registry.install(name, level, TENANT, self.services.clone(), self.runtime.clone())?;
            let inst = registry.installation(name, TENANT).ok_or_else(|| Error::internal("installation vanished"))?;
            for w in &inst.warnings {
                tracing::warn!(plugin = name, "{w}");
            }
            self.describe(&registry, inst)
        };
        store
            .save_install(InstallRecord {
                name: name.to_string(),
                level: level.as_str().to_string(),
                tenant_id: TENANT.to_string(),
                installed_at: now_rfc3339(),
            })
            .await
            .map_err(|e| Error::unavailable(e.0))?;
        tracing::info!(plugin = name, level = %level, "plugin installed");
        Ok(answer)
    }

    /// Re-installs what the store says was installed (at start).
    pub async fn restore(&self, store: &dyn Store) -> Result<usize, Error> {
        let installs = store.list_installs().await.map_err(|e| Error::unavailable(e.0))?;
        let mut restored = 0;
        for record in installs {
            let Ok(level) = record.level.parse::<InstallLevel>() else { continue };
            let result = self
                .registry
                .write()
                .install(&record.name, level, &record.tenant_id, self.services.clone(), self.runtime.clone())
                .map(|_| ());
            match result {
                Ok(()) => restored += 1,
                Err(e) => tracing::warn!(plugin = %record.name, "cannot restore the installation: {}", e.message),
            }
        }
        Ok(restored)
    }

    /// A registered integration provider.
    pub fn provider(&self, name: &str) -> Option<RegisteredProvider> {
        self.registry.read().provider(TENANT, name).cloned()
    }

    /// Every registered integration provider.
    pub fn providers(&self) -> Vec<RegisteredProvider> {
        self.registry.read().providers(TENANT).cloned().collect()
    }

    /// A registered trigger.
    pub fn trigger(&self, name: &str) -> Option<RegisteredTrigger> {
        self.registry.read().trigger(TENANT, name).cloned()
    }

    /// The view extensions for a provider.
    pub fn views_for(&self, provider: &str) -> Vec<RegisteredView> {
        self.registry.read().views_for(TENANT, provider).cloned().collect()
    }

    /// Calls every plugin's `shutdown` (blocking).
    pub fn shutdown_all(&self, timeout: std::time::Duration) -> Vec<String> {
        self.registry.read().shutdown_all(timeout)
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
    /// The plugin route for a method and a path below `/api` (e.g. `/wecom/ping`).
    pub fn match_route(&self, method: &str, path: &str) -> Option<MatchedRoute> {
        let registry = self.registry.read();
        let matched = registry.routes(TENANT).find_map(|r| {
            if !r.spec.method.eq_ignore_ascii_case(method) {
                return None;
            }
            match_pattern(&r.spec.path, path).map(|params| MatchedRoute {
                handler: r.handler.clone(),
                params,
                public: r.spec.public,
            })
        });
        matched
    }
}

#[cfg(test)]
mod tests {
    use super::{lib_file, match_pattern, place_bundled};

    #[test]
    fn the_bundled_copy_is_placed_refreshed_and_never_overrides_an_operators_folder() {
        let dir = tempfile::tempdir().unwrap();
        let bundled = dir.path().join("bundle.so");
        std::fs::write(&bundled, b"build one").unwrap();
        // nextest runs each test in its own process, so this variable is ours alone.
        std::env::set_var("XPERT_BUNDLED_PLUGIN_LIB", &bundled);
        let plugins = dir.path().join("plugins");
        let placed = plugins.join("wecom").join(lib_file("plugin_wecom"));
        assert!(place_bundled(&plugins).unwrap().is_some(), "first start places it");
        assert!(place_bundled(&plugins).unwrap().is_none(), "unchanged: nothing to do");
        std::fs::write(&bundled, b"build two").unwrap();
        assert!(place_bundled(&plugins).unwrap().is_some(), "a rebuilt plugin replaces the bundled copy");
        assert_eq!(std::fs::read(&placed).unwrap(), b"build two");
        std::fs::remove_file(plugins.join("wecom").join(".bundled")).unwrap();
        std::fs::write(&bundled, b"build three").unwrap();
        assert!(place_bundled(&plugins).unwrap().is_none(), "an operator's folder is left alone");
        assert_eq!(std::fs::read(&placed).unwrap(), b"build two");
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

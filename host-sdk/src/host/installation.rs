//! One installation of a loaded plugin: the host's registrar, the level rules, what was
//! registered, and the handle that stops it.

use std::sync::Arc;
use std::time::Duration;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RResult, RString};
use tokio::runtime::Handle;

use super::export::export_host_api;
use super::foreign::{ForeignHttpHandler, ForeignProvider, ForeignTrigger, ForeignView};
use super::loader::LoadedPlugin;
use super::services::ServiceSet;
use crate::abi::{
    FfiError, FfiInstallInfo, FfiRouteSpec, HttpHandlerBox, IntegrationProviderBox, PluginInstallationBox, Registrar,
    Registrar_TO, TriggerBox, ViewExtensionBox,
};
use crate::contract::{ProviderDescriptor, TriggerDescriptor, ViewExtensionDescriptor};
use crate::guard::{catch_or, from_ffi_result};
use crate::{Error, ErrorCode, InstallLevel, RouteSpec};

/// A registered integration provider.
#[derive(Clone, Debug)]
pub struct RegisteredProvider {
    /// The provider name (`descriptor.name`).
    pub name: String,
    /// The descriptor.
    pub descriptor: ProviderDescriptor,
    /// The provider.
    pub provider: ForeignProvider,
}

/// A registered HTTP route.
#[derive(Clone, Debug)]
pub struct RegisteredRoute {
    /// Method, path and visibility.
    pub spec: RouteSpec,
    /// The handler.
    pub handler: ForeignHttpHandler,
}

/// A registered trigger.
#[derive(Clone, Debug)]
pub struct RegisteredTrigger {
    /// The trigger name (`descriptor.name`).
    pub name: String,
    /// The descriptor.
    pub descriptor: TriggerDescriptor,
    /// The trigger.
    pub trigger: ForeignTrigger,
}

/// A registered view extension.
#[derive(Clone, Debug)]
pub struct RegisteredView {
    /// The descriptor.
    pub descriptor: ViewExtensionDescriptor,
    /// The extension.
    pub view: ForeignView,
}

/// What one installation of a plugin registered.
#[derive(Clone, Debug)]
pub struct Installation {
    /// The plugin's name.
    pub plugin: String,
    /// The level it was installed at.
    pub level: InstallLevel,
    /// The tenant.
    pub tenant_id: String,
    /// Things the host said about the installation (e.g. providers skipped below tenant level).
    pub warnings: Vec<String>,
    /// Integration providers (empty below tenant level).
    pub providers: Vec<RegisteredProvider>,
    /// HTTP routes.
    pub routes: Vec<RegisteredRoute>,
    /// Triggers (empty below tenant level).
    pub triggers: Vec<RegisteredTrigger>,
    /// View extensions.
    pub views: Vec<RegisteredView>,
    /// The plugin's handle of this installation.
    pub handle: InstallationHandle,
}

/// The plugin's handle of one installation. Clones share it.
#[derive(Clone)]
pub struct InstallationHandle(Arc<PluginInstallationBox>);

impl InstallationHandle {
    /// Asks the plugin to end everything the installation started within `timeout`; its
    /// registered objects answer `SHUTTING_DOWN` afterwards. Blocks up to about `timeout`: call it
    /// from a blocking thread (`spawn_blocking`), never from an async worker of either side.
    pub fn stop(&self, timeout: Duration) -> Result<(), Error> {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        catch_or(Err(Error::new(ErrorCode::PANICKED, "stopping the installation panicked")), || {
            from_ffi_result(self.0.stop(ms))
        })
    }
}

impl InstallationHandle {
    /// The installation's metrics in the Prometheus text format (empty when it keeps none, or
    /// when the plugin failed to render them: a scrape never fails because of one plugin).
    pub fn metrics_text(&self) -> String {
        catch_or(String::new(), || from_ffi_result(self.0.metrics_text()).map(|t| t.into_string()).unwrap_or_default())
    }
}

impl std::fmt::Debug for InstallationHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InstallationHandle(..)")
    }
}

impl Installation {
    /// Stops the installation (see [`InstallationHandle::stop`]; blocking).
    pub fn stop(&self, timeout: Duration) -> Result<(), Error> {
        self.handle.stop(timeout)
    }

    /// The provider with this name.
    pub fn provider(&self, name: &str) -> Option<&RegisteredProvider> {
        self.providers.iter().find(|p| p.name == name)
    }
    /// The trigger with this name.
    pub fn trigger(&self, name: &str) -> Option<&RegisteredTrigger> {
        self.triggers.iter().find(|t| t.name == name)
    }
}

impl LoadedPlugin {
    /// The root module's ABI version.
    pub fn abi_version(&self) -> u32 {
        self.module.abi_version()
    }

    /// The manifest compiled into the library.
    pub fn compiled_manifest(&self) -> String {
        catch_or(String::new(), || (self.module.manifest())().into_string())
    }

    /// Calls the plugin's `register` for one installation. `runtime` is the host runtime that
    /// polls the host services' futures. Below tenant level the plugin still registers, but the
    /// host keeps no provider or trigger and says so in [`Installation::warnings`].
    pub fn install(
        &self,
        level: InstallLevel,
        tenant_id: &str,
        services: ServiceSet,
        runtime: Handle,
    ) -> Result<Installation, Error> {
        let name = self.manifest.name.clone();
        let host = export_host_api(services, runtime, &name, tenant_id);
        let mut registrar = HostRegistrar {
            info: FfiInstallInfo { tenant_id: tenant_id.into(), level, plugin_name: name.clone().into() },
            plugin: name.clone(),
            warnings: Vec::new(),
            providers: Vec::new(),
            routes: Vec::new(),
            triggers: Vec::new(),
            views: Vec::new(),
        };
        let register = self.module.register();
        let result = register(Registrar_TO::from_ptr(&mut registrar, TD_Opaque), host);
        let handle = from_ffi_result(result)
            .map_err(|e| Error { message: format!("plugin {name}: register failed: {}", e.message), ..e })?;
        Ok(Installation {
            plugin: name,
            level,
            tenant_id: tenant_id.to_string(),
            warnings: registrar.warnings,
            providers: registrar.providers,
            routes: registrar.routes,
            triggers: registrar.triggers,
            views: registrar.views,
            handle: InstallationHandle(Arc::new(handle)),
        })
    }

    /// Calls the plugin's `shutdown` (the library's runtime; stop every installation first).
    /// Blocks up to about `timeout`: call it from a blocking thread (`spawn_blocking`), never
    /// from an async worker.
    pub fn shutdown(&self, timeout: Duration) -> Result<(), Error> {
        let ms = u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX);
        from_ffi_result((self.module.shutdown())(ms))
    }
}

/// The host's registrar for one `register` call: collects what the plugin registers.
struct HostRegistrar {
    info: FfiInstallInfo,
    plugin: String,
    warnings: Vec<String>,
    providers: Vec<RegisteredProvider>,
    routes: Vec<RegisteredRoute>,
    triggers: Vec<RegisteredTrigger>,
    views: Vec<RegisteredView>,
}

/// Parses a descriptor and checks that it names itself.
fn parse_descriptor<T: serde::de::DeserializeOwned>(
    kind: &str,
    json: &RString,
    name: impl Fn(&T) -> &str,
) -> Result<T, Error> {
    let value: T = serde_json::from_str(json).map_err(|e| Error::bad_json(&format!("{kind} descriptor"), &e))?;
    if name(&value).trim().is_empty() {
        return Err(Error::invalid_argument(format!("{kind} descriptor needs a name")));
    }
    Ok(value)
}

impl HostRegistrar {
    fn below_tenant(&mut self, what: &str, name: &str) -> bool {
        let level = self.info.level;
        if level.allows_system_integrations() {
            return false;
        }
        self.warnings.push(format!(
            "{what} {name:?} was not registered: {} must be installed at tenant level to provide system integrations and triggers (installed at {level} level)",
            self.plugin
        ));
        true
    }
}

fn to_ffi(r: Result<(), Error>) -> RResult<(), FfiError> {
    match r {
        Ok(()) => RResult::ROk(()),
        Err(e) => RResult::RErr(e.into()),
    }
}

impl Registrar for HostRegistrar {
    fn install_info(&self) -> FfiInstallInfo {
        self.info.clone()
    }

    fn add_integration_provider(
        &mut self,
        descriptor: RString,
        provider: IntegrationProviderBox,
    ) -> RResult<(), FfiError> {
        to_ffi(catch_or(Err(Error::new(ErrorCode::PANICKED, "registrar panicked")), || {
            let descriptor: ProviderDescriptor =
                parse_descriptor("integration provider", &descriptor, |d: &ProviderDescriptor| &d.name)?;
            let name = descriptor.name.clone();
            if self.providers.iter().any(|p| p.name == name) {
                return Err(Error::conflict(format!("integration provider {name:?} registered twice")));
            }
            if !self.below_tenant("integration provider", &name) {
                let provider = ForeignProvider(Arc::new(provider));
                self.providers.push(RegisteredProvider { name, descriptor, provider });
            }
            Ok(())
        }))
    }

    fn add_route(&mut self, route: FfiRouteSpec, handler: HttpHandlerBox) -> RResult<(), FfiError> {
        to_ffi(catch_or(Err(Error::new(ErrorCode::PANICKED, "registrar panicked")), || {
            let spec = RouteSpec::from(route);
            if !spec.path.starts_with('/') {
                return Err(Error::invalid_argument(format!("route path {:?} must start with /", spec.path)));
            }
            self.routes.push(RegisteredRoute { spec, handler: ForeignHttpHandler(Arc::new(handler)) });
            Ok(())
        }))
    }

    fn add_trigger(&mut self, descriptor: RString, trigger: TriggerBox) -> RResult<(), FfiError> {
        to_ffi(catch_or(Err(Error::new(ErrorCode::PANICKED, "registrar panicked")), || {
            let descriptor: TriggerDescriptor =
                parse_descriptor("trigger", &descriptor, |d: &TriggerDescriptor| &d.name)?;
            let name = descriptor.name.clone();
            if !self.below_tenant("trigger", &name) {
                self.triggers.push(RegisteredTrigger { name, descriptor, trigger: ForeignTrigger(Arc::new(trigger)) });
            }
            Ok(())
        }))
    }

    fn add_view_extension(&mut self, descriptor: RString, view: ViewExtensionBox) -> RResult<(), FfiError> {
        to_ffi(catch_or(Err(Error::new(ErrorCode::PANICKED, "registrar panicked")), || {
            let descriptor: ViewExtensionDescriptor =
                parse_descriptor("view extension", &descriptor, |d: &ViewExtensionDescriptor| &d.key)?;
            self.views.push(RegisteredView { descriptor, view: ForeignView(Arc::new(view)) });
            Ok(())
        }))
    }
}

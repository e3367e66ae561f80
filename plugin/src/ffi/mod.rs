//! The FFI edge: the exported root module. The only module that touches abi_stable; it builds the
//! domain objects and hands them to host-sdk's adapters, which guard panics and runtimes.

use std::sync::Arc;
use std::time::Duration;

use abi_stable::std_types::{RResult, RString};
use host_sdk::abi::reexports::{export_root_module, PrefixTypeTrait};
use host_sdk::abi::{FfiError, HostApiArc, PluginMod, PluginModRef, RegistrarMut};
use host_sdk::guard::catch_sync;
use host_sdk::plugin::{install_log_forwarder, Host, PluginRegistrar, PluginRuntime};
use host_sdk::{Error, RouteSpec};

use crate::providers::{LongProvider, ShortProvider};
use crate::routes::{PanicProbeRoute, PingRoute, WebhookVerifyRoute};
use crate::state::PluginState;
use crate::trigger::WecomTrigger;
use crate::views::WecomViews;
use crate::{descriptors, ABI_VERSION_CHECK};

/// The manifest compiled into the library (cross-checked by the host against the file on disk).
pub const MANIFEST: &str = include_str!("../../../manifest.toml");

/// The plugin's own runtime: two workers, enough for many sockets and timers. Started by the first
/// async call into the plugin, stopped by `shutdown`.
static RUNTIME: PluginRuntime = PluginRuntime::new("wecom-plugin", 2);

mod export {
    //! The exported symbol. `#[export_root_module]` also emits an undocumented `LibHeader`
    //! static, hence this module's allowance.
    #![allow(missing_docs)]

    use super::*;

    /// The exported root module.
    #[export_root_module]
    pub fn root_module() -> PluginModRef {
        PluginMod { abi_version: ABI_VERSION_CHECK, manifest, register, shutdown }.leak_into_prefix()
    }
}

extern "C" fn manifest() -> RString {
    RString::from(MANIFEST)
}

extern "C" fn register(registrar: RegistrarMut<'_>, host: HostApiArc) -> RResult<(), FfiError> {
    catch_sync(|| {
        RUNTIME.ensure_not_stopped()?;
        let host = Host::new(host);
        install_log_forwarder(&host, log_level(host.config("XPERT_PLUGIN_LOG_LEVEL").as_deref()));
        let panic_probes = host.config("XPERT_PANIC_PROBES").as_deref() == Some("1");
        let state = Arc::new(PluginState { host, panic_probes });
        let mut registrar = PluginRegistrar::new(registrar, &RUNTIME);
        register_all(&mut registrar, state)
    })
}

fn log_level(configured: Option<&str>) -> tracing::Level {
    configured.and_then(|l| l.parse().ok()).unwrap_or(tracing::Level::DEBUG)
}

/// Registers everything the plugin provides.
fn register_all(registrar: &mut PluginRegistrar<'_>, state: Arc<PluginState>) -> Result<(), Error> {
    registrar.add_integration_provider(&descriptors::short_provider(), Arc::new(ShortProvider::new(state.clone())))?;
    registrar.add_integration_provider(&descriptors::long_provider(), Arc::new(LongProvider::new(state.clone())))?;
    registrar.add_trigger(&descriptors::trigger(), Arc::new(WecomTrigger::new(state.clone())))?;
    registrar.add_view_extension(&descriptors::view_extension(), Arc::new(WecomViews::new(state.clone())))?;
    let route = |method: &str, path: &str, public: bool| RouteSpec { method: method.into(), path: path.into(), public };
    registrar.add_route(route("GET", "/wecom/ping", false), Arc::new(PingRoute))?;
    registrar.add_route(
        route("GET", "/wecom/webhook/{integrationId}", true),
        Arc::new(WebhookVerifyRoute::new(state.clone())),
    )?;
    if state.panic_probes {
        registrar.add_route(route("GET", "/wecom/_probe/panic", false), Arc::new(PanicProbeRoute))?;
    }
    tracing::info!(level = %registrar.level(), tenant = %registrar.tenant_id(), "WeCom plugin registered");
    Ok(())
}

extern "C" fn shutdown(timeout_ms: u64) -> RResult<(), FfiError> {
    catch_sync(|| {
        RUNTIME.shutdown(Duration::from_millis(timeout_ms));
        Ok(())
    })
}

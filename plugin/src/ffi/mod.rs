//! The FFI edge: the exported root module, written by host-sdk's `export_plugin!`, and the one
//! function it calls per installation. Everything else in the plugin is plain Rust.

use std::sync::Arc;

use host_sdk::plugin::{InstallationScope, PluginRegistrar};
use host_sdk::{Error, RouteSpec};

use crate::descriptors;
use crate::long::settings::LongSettings;
use crate::long::supervisor::Supervisor;
use crate::pipeline::Pipeline;
use crate::providers::{LongProvider, ShortProvider};
use crate::routes::{PingRoute, WebhookVerifyRoute};
use crate::short::integrations::IntegrationCache;
use crate::short::webhook::WebhookRoute;
use crate::short::ShortSettings;
use crate::state::PluginState;
use crate::trigger::WecomTrigger;
use crate::views::WecomViews;

/// The manifest compiled into the library (cross-checked by the host against the file on disk).
pub const MANIFEST: &str = include_str!("../../../manifest.toml");

host_sdk::export_plugin! {
    manifest: crate::ffi::MANIFEST,
    // Two workers drive every installation's sockets and timers; started by the first async call.
    runtime: ("wecom-plugin", 2),
    register: crate::ffi::register,
}

/// Registers everything the plugin provides for one installation. The long connections'
/// supervisor starts on the first event that concerns them (see `Supervisor::ensure_started`).
pub fn register(registrar: &mut PluginRegistrar<'_>, scope: &InstallationScope) -> Result<(), Error> {
    let state = Arc::new(PluginState::new(scope.clone()));
    let settings = LongSettings::from_config(|key| scope.host().config(key))
        .map_err(|e| Error::invalid_config(format!("WeCom plugin settings: {e}")))?;
    let settings = Arc::new(settings);
    let short_settings = ShortSettings::from_config(|key| scope.host().config(key), settings.tls.clone())
        .map_err(|e| Error::invalid_config(format!("WeCom plugin settings: {e}")))?;
    let integrations = IntegrationCache::new(short_settings.integration_cache);
    registrar.add_integration_provider(
        &descriptors::short_provider(),
        Arc::new(ShortProvider::new(state.clone(), integrations.clone())),
    )?;
    // Below tenant level the host keeps no provider, so the supervisor it holds goes with it:
    // no long connection runs for such an installation.
    let pipeline = Arc::new(Pipeline::new(
        state.clone(),
        settings.stream_throttle,
        settings.agent_idle_timeout,
        settings.tls.clone(),
    ));
    let webhook = WebhookRoute::new(state.clone(), Arc::new(short_settings), pipeline.clone(), integrations);
    let supervisor = Supervisor::new(state.clone(), settings.clone(), pipeline);
    let long = LongProvider::new(state.clone(), settings.clone(), supervisor);
    registrar.add_integration_provider(&descriptors::long_provider(), Arc::new(long))?;
    registrar.add_trigger(&descriptors::trigger(), Arc::new(WecomTrigger::new(state.clone())))?;
    registrar.add_view_extension(&descriptors::view_extension(), Arc::new(WecomViews::new(state.clone())))?;
    let route = |method: &str, path: &str, public: bool| RouteSpec { method: method.into(), path: path.into(), public };
    registrar.add_route(route("GET", "/wecom/ping", false), Arc::new(PingRoute))?;
    registrar.add_route(
        route("GET", "/wecom/webhook/{integrationId}", true),
        Arc::new(WebhookVerifyRoute::new(state.clone())),
    )?;
    registrar.add_route(route("POST", "/wecom/webhook/{integrationId}", true), Arc::new(webhook))?;
    tracing::info!(level = %registrar.level(), tenant = %registrar.tenant_id(), "WeCom plugin registered");
    Ok(())
}

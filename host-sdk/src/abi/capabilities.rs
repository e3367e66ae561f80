//! What a plugin registers: integration providers, triggers, view extensions (routes are in
//! `http.rs`), and the registrar the host lends to `register`.

use abi_stable::sabi_trait;
use abi_stable::sabi_types::RMut;
use abi_stable::std_types::{RBox, ROption, RResult, RStr, RString};
use abi_stable::StableAbi;
use async_ffi::FfiFuture;

use super::{FfiError, FfiRouteSpec, HttpHandlerBox};
use crate::{InstallLevel, LifecycleEvent};

/// A lifecycle event code: 0 created, 1 updated, 2 deleted, 3 enabled, 4 disabled. An integer
/// (not an enum) so later versions can add events; unknown codes are ignored by plugins.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct FfiLifecycleEvent(pub u8);

impl From<LifecycleEvent> for FfiLifecycleEvent {
    fn from(e: LifecycleEvent) -> Self {
        FfiLifecycleEvent(match e {
            LifecycleEvent::Created => 0,
            LifecycleEvent::Updated => 1,
            LifecycleEvent::Deleted => 2,
            LifecycleEvent::Enabled => 3,
            LifecycleEvent::Disabled => 4,
        })
    }
}

impl FfiLifecycleEvent {
    /// The plain event, or `None` for a code this build does not know.
    pub fn to_event(self) -> Option<LifecycleEvent> {
        Some(match self.0 {
            0 => LifecycleEvent::Created,
            1 => LifecycleEvent::Updated,
            2 => LifecycleEvent::Deleted,
            3 => LifecycleEvent::Enabled,
            4 => LifecycleEvent::Disabled,
            _ => return None,
        })
    }
}

/// A system-integration provider (e.g. `wecom`, `wecom_long`). Its descriptor (JSON:
/// `{name, label:{en_US,zh_Hans}, description, schema, webhook, helpUrl, helpLabel}`) is passed
/// to the registrar next to it.
#[sabi_trait]
pub trait IntegrationProvider: Send + Sync {
    /// Checks an integration (JSON of [`crate::Integration`]; `id` may be empty before the first
    /// save) and returns its setup information as JSON (callback URL, WebSocket URL, mode).
    /// An invalid configuration is an error with code `INVALID_CONFIG` and a clear message.
    fn validate_config(&self, integration: RStr<'_>) -> RResult<RString, FfiError>;
    /// Tells the provider what happened to one of its integrations (`integration` is its JSON
    /// after the change; `previous` its JSON before an update). The host replays `Enabled` for
    /// every enabled integration at start, so runtimes come back after a restart.
    fn on_lifecycle(
        &self,
        event: FfiLifecycleEvent,
        integration: RString,
        previous: ROption<RString>,
    ) -> FfiFuture<RResult<(), FfiError>>;
    /// Tests a configuration without saving it; returns `{ok, setup, …}` JSON.
    #[sabi(last_prefix_field)]
    fn test(&self, integration: RString) -> FfiFuture<RResult<RString, FfiError>>;
}

/// The owned provider object the host stores.
pub type IntegrationProviderBox = IntegrationProvider_TO<'static, RBox<()>>;

/// A workflow trigger (e.g. `wecom`) that binds a Digital Expert to a channel. Its descriptor
/// (JSON: `{name, label, description, configSchema}`) is passed to the registrar next to it.
/// `params` is JSON `{xpertId, config}`.
#[sabi_trait]
pub trait Trigger: Send + Sync {
    /// Checks a trigger before publishing; returns a JSON checklist
    /// `[{code, level:"error"|"warning", message}]` (empty when fine).
    fn validate(&self, params: RString) -> FfiFuture<RResult<RString, FfiError>>;
    /// The Digital Expert was published with this trigger: start routing to it.
    fn publish(&self, params: RString) -> FfiFuture<RResult<(), FfiError>>;
    /// The Digital Expert was unpublished or the trigger removed: stop routing to it.
    #[sabi(last_prefix_field)]
    fn stop(&self, params: RString) -> FfiFuture<RResult<(), FfiError>>;
}

/// The owned trigger object the host stores.
pub type TriggerBox = Trigger_TO<'static, RBox<()>>;

/// Extra tabs on the integration detail page. Its descriptor (JSON: `{key, hostType:
/// "integration", providers:[…]}`) is passed to the registrar next to it. `integration` is the
/// integration's JSON.
#[sabi_trait]
pub trait ViewExtension: Send + Sync {
    /// Whether this extension adds tabs for integrations of `provider` (cheap and synchronous).
    fn supports(&self, provider: RStr<'_>) -> bool;
    /// The tab manifests for one integration, as a JSON array.
    fn manifests(&self, integration: RString) -> FfiFuture<RResult<RString, FfiError>>;
    /// One tab's data: `query` is JSON `{page, pageSize, search, sortBy, sortDirection}`; the
    /// answer is `{items, total}` for tables or `{item}` for stats.
    fn data(&self, integration: RString, view: RString, query: RString) -> FfiFuture<RResult<RString, FfiError>>;
    /// Runs a tab action (`request` JSON `{targetId?}`); answers
    /// `{success, message:{en_US,zh_Hans}, refresh}`.
    #[sabi(last_prefix_field)]
    fn action(
        &self,
        integration: RString,
        view: RString,
        action: RString,
        request: RString,
    ) -> FfiFuture<RResult<RString, FfiError>>;
}

/// The owned view-extension object the host stores.
pub type ViewExtensionBox = ViewExtension_TO<'static, RBox<()>>;

/// Who is installing the plugin and where.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiInstallInfo {
    /// The tenant this installation belongs to.
    pub tenant_id: RString,
    /// The install level; only `Tenant` accepts providers and triggers.
    pub level: InstallLevel,
    /// The plugin's name from its manifest.
    pub plugin_name: RString,
}

/// Lent by the host to `register`: the plugin adds what it provides. At a level below tenant
/// the host accepts the call but keeps no provider or trigger, and records a warning.
#[sabi_trait]
pub trait Registrar {
    /// Where this installation is.
    fn install_info(&self) -> FfiInstallInfo;
    /// Adds an integration provider (descriptor JSON + object).
    fn add_integration_provider(
        &mut self,
        descriptor: RString,
        provider: IntegrationProviderBox,
    ) -> RResult<(), FfiError>;
    /// Adds an HTTP route under `/api`.
    fn add_route(&mut self, route: FfiRouteSpec, handler: HttpHandlerBox) -> RResult<(), FfiError>;
    /// Adds a workflow trigger (descriptor JSON + object).
    fn add_trigger(&mut self, descriptor: RString, trigger: TriggerBox) -> RResult<(), FfiError>;
    /// Adds a view extension (descriptor JSON + object).
    #[sabi(last_prefix_field)]
    fn add_view_extension(&mut self, descriptor: RString, view: ViewExtensionBox) -> RResult<(), FfiError>;
}

/// The borrowed registrar handed to `register`.
pub type RegistrarMut<'a> = Registrar_TO<'a, RMut<'a, ()>>;

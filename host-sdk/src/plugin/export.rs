//! Adapters from the plain traits to the exported FFI trait objects. Every method is panic-guarded
//! and every future is polled inside the plugin's runtime (see [`crate::guard`]), which the first
//! async call starts.

use std::future::Future;
use std::sync::Arc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RStr, RString};
use async_ffi::FfiFuture;
use serde::de::DeserializeOwned;

use super::runtime::PluginRuntime;
use super::traits::{ProviderImpl, RouteImpl, TriggerImpl, ViewImpl};
use crate::abi::{
    FfiError, FfiHttpRequest, FfiHttpResponse, FfiLifecycleEvent, HttpHandler, HttpHandlerBox, HttpHandler_TO,
    IntegrationProvider, IntegrationProviderBox, IntegrationProvider_TO, Trigger, TriggerBox, Trigger_TO,
    ViewExtension, ViewExtensionBox, ViewExtension_TO,
};
use crate::guard::{catch_or, catch_sync, guarded_future};
use crate::{Error, Integration, TriggerParams, ViewQuery};

fn parse<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|e| Error::bad_json(what, &e))
}

fn to_json_string(value: &serde_json::Value) -> RString {
    RString::from(value.to_string())
}

/// Guards `fut` for export, to be polled inside the plugin runtime (started here on first use).
/// A runtime that was shut down or could not start answers with that error and never runs `fut`.
fn on_runtime<T, F>(runtime: &'static PluginRuntime, fut: F) -> FfiFuture<RResult<T, FfiError>>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
{
    match runtime.handle() {
        Ok(handle) => guarded_future(Some(handle), fut),
        Err(e) => guarded_future(None, async move { Err(e) }),
    }
}

/// Exports an integration provider.
pub fn export_provider(imp: Arc<dyn ProviderImpl>, runtime: &'static PluginRuntime) -> IntegrationProviderBox {
    IntegrationProvider_TO::from_value(ExportedProvider { imp, runtime }, TD_Opaque)
}

/// Exports a route handler.
pub fn export_route(imp: Arc<dyn RouteImpl>, runtime: &'static PluginRuntime) -> HttpHandlerBox {
    HttpHandler_TO::from_value(ExportedRoute { imp, runtime }, TD_Opaque)
}

/// Exports a trigger.
pub fn export_trigger(imp: Arc<dyn TriggerImpl>, runtime: &'static PluginRuntime) -> TriggerBox {
    Trigger_TO::from_value(ExportedTrigger { imp, runtime }, TD_Opaque)
}

/// Exports a view extension.
pub fn export_view(imp: Arc<dyn ViewImpl>, runtime: &'static PluginRuntime) -> ViewExtensionBox {
    ViewExtension_TO::from_value(ExportedView { imp, runtime }, TD_Opaque)
}

struct ExportedProvider {
    imp: Arc<dyn ProviderImpl>,
    runtime: &'static PluginRuntime,
}

impl IntegrationProvider for ExportedProvider {
    fn validate_config(&self, integration: RStr<'_>) -> RResult<RString, FfiError> {
        catch_sync(|| {
            let integration: Integration = parse("integration", integration.as_str())?;
            self.imp.validate_config(integration).map(|v| to_json_string(&v))
        })
    }

    fn on_lifecycle(
        &self,
        event: FfiLifecycleEvent,
        integration: RString,
        previous: ROption<RString>,
    ) -> FfiFuture<RResult<(), FfiError>> {
        let imp = self.imp.clone();
        on_runtime(self.runtime, async move {
            let Some(event) = event.to_event() else {
                return Ok(()); // an event kind newer than this plugin: nothing to do
            };
            let integration: Integration = parse("integration", &integration)?;
            let previous: Option<Integration> = match previous.into_option() {
                Some(p) => Some(parse("previous integration", &p)?),
                None => None,
            };
            imp.on_lifecycle(event, integration, previous).await
        })
    }

    fn test(&self, integration: RString) -> FfiFuture<RResult<RString, FfiError>> {
        let imp = self.imp.clone();
        on_runtime(self.runtime, async move {
            let integration: Integration = parse("integration", &integration)?;
            imp.test(integration).await.map(|v| to_json_string(&v))
        })
    }
}

struct ExportedRoute {
    imp: Arc<dyn RouteImpl>,
    runtime: &'static PluginRuntime,
}

impl HttpHandler for ExportedRoute {
    fn handle(&self, request: FfiHttpRequest) -> FfiFuture<RResult<FfiHttpResponse, FfiError>> {
        let imp = self.imp.clone();
        on_runtime(self.runtime, async move { imp.handle(request.into()).await.map(FfiHttpResponse::from) })
    }
}

struct ExportedTrigger {
    imp: Arc<dyn TriggerImpl>,
    runtime: &'static PluginRuntime,
}

impl Trigger for ExportedTrigger {
    fn validate(&self, params: RString) -> FfiFuture<RResult<RString, FfiError>> {
        let imp = self.imp.clone();
        on_runtime(self.runtime, async move {
            let params: TriggerParams = parse("trigger params", &params)?;
            let items = imp.validate(params).await?;
            serde_json::to_string(&items).map(RString::from).map_err(|e| Error::internal(e.to_string()))
        })
    }

    fn publish(&self, params: RString) -> FfiFuture<RResult<(), FfiError>> {
        let imp = self.imp.clone();
        on_runtime(self.runtime, async move { imp.publish(parse("trigger params", &params)?).await })
    }

    fn stop(&self, params: RString) -> FfiFuture<RResult<(), FfiError>> {
        let imp = self.imp.clone();
        on_runtime(self.runtime, async move { imp.stop(parse("trigger params", &params)?).await })
    }
}

struct ExportedView {
    imp: Arc<dyn ViewImpl>,
    runtime: &'static PluginRuntime,
}

impl ViewExtension for ExportedView {
    fn supports(&self, provider: RStr<'_>) -> bool {
        catch_or(false, || self.imp.supports(provider.as_str()))
    }

    fn manifests(&self, integration: RString) -> FfiFuture<RResult<RString, FfiError>> {
        let imp = self.imp.clone();
        on_runtime(self.runtime, async move {
            let integration: Integration = parse("integration", &integration)?;
            imp.manifests(integration).await.map(|v| to_json_string(&v))
        })
    }

    fn data(&self, integration: RString, view: RString, query: RString) -> FfiFuture<RResult<RString, FfiError>> {
        let imp = self.imp.clone();
        on_runtime(self.runtime, async move {
            let integration: Integration = parse("integration", &integration)?;
            let query: ViewQuery = parse("view query", &query)?;
            imp.data(integration, view.into_string(), query).await.map(|v| to_json_string(&v))
        })
    }

    fn action(
        &self,
        integration: RString,
        view: RString,
        action: RString,
        request: RString,
    ) -> FfiFuture<RResult<RString, FfiError>> {
        let imp = self.imp.clone();
        on_runtime(self.runtime, async move {
            let integration: Integration = parse("integration", &integration)?;
            let request: serde_json::Value = parse("action request", &request)?;
            imp.action(integration, view.into_string(), action.into_string(), request).await.map(|v| to_json_string(&v))
        })
    }
}

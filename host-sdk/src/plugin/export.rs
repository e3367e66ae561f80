//! Adapters from the plain traits to the exported FFI trait objects. Every method runs through
//! its installation's [`InstallationScope`]: panic-guarded, polled inside the library runtime
//! with the installation's log sink, and refused once the installation stopped.

use std::sync::Arc;

use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RStr, RString};
use async_ffi::FfiFuture;
use serde::de::DeserializeOwned;
use serde::Serialize;

use super::scope::InstallationScope;
use super::traits::{ProviderImpl, RouteImpl, TriggerImpl, ViewImpl};
use crate::abi::{
    FfiError, FfiHttpRequest, FfiHttpResponse, FfiLifecycleEvent, HttpHandler, HttpHandlerBox, HttpHandler_TO,
    IntegrationProvider, IntegrationProviderBox, IntegrationProvider_TO, Trigger, TriggerBox, Trigger_TO,
    ViewExtension, ViewExtensionBox, ViewExtension_TO,
};
use crate::guard::catch_or;
use crate::{Error, Integration, TriggerParams, ViewQuery};

fn parse<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, Error> {
    serde_json::from_str(json).map_err(|e| Error::bad_json(what, &e))
}

/// Serializes an answer for the crossing.
pub(crate) fn to_json<T: Serialize>(value: &T) -> Result<RString, Error> {
    serde_json::to_string(value).map(RString::from).map_err(|e| Error::internal(e.to_string()))
}

/// Exports an integration provider of an installation.
pub fn export_provider(imp: Arc<dyn ProviderImpl>, scope: InstallationScope) -> IntegrationProviderBox {
    IntegrationProvider_TO::from_value(ExportedProvider { imp, scope }, TD_Opaque)
}

/// Exports a route handler of an installation.
pub fn export_route(imp: Arc<dyn RouteImpl>, scope: InstallationScope) -> HttpHandlerBox {
    HttpHandler_TO::from_value(ExportedRoute { imp, scope }, TD_Opaque)
}

/// Exports a trigger of an installation.
pub fn export_trigger(imp: Arc<dyn TriggerImpl>, scope: InstallationScope) -> TriggerBox {
    Trigger_TO::from_value(ExportedTrigger { imp, scope }, TD_Opaque)
}

/// Exports a view extension of an installation.
pub fn export_view(imp: Arc<dyn ViewImpl>, scope: InstallationScope) -> ViewExtensionBox {
    ViewExtension_TO::from_value(ExportedView { imp, scope }, TD_Opaque)
}

struct ExportedProvider {
    imp: Arc<dyn ProviderImpl>,
    scope: InstallationScope,
}

impl IntegrationProvider for ExportedProvider {
    fn validate_config(&self, integration: RStr<'_>) -> RResult<RString, FfiError> {
        self.scope.call_sync(|| {
            let integration: Integration = parse("integration", integration.as_str())?;
            to_json(&self.imp.validate_config(integration)?)
        })
    }

    fn on_lifecycle(
        &self,
        event: FfiLifecycleEvent,
        integration: RString,
        previous: ROption<RString>,
    ) -> FfiFuture<RResult<(), FfiError>> {
        let imp = self.imp.clone();
        self.scope.call_async(async move {
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
        self.scope.call_async(async move {
            let integration: Integration = parse("integration", &integration)?;
            to_json(&imp.test(integration).await?)
        })
    }
}

struct ExportedRoute {
    imp: Arc<dyn RouteImpl>,
    scope: InstallationScope,
}

impl HttpHandler for ExportedRoute {
    fn handle(&self, request: FfiHttpRequest) -> FfiFuture<RResult<FfiHttpResponse, FfiError>> {
        let imp = self.imp.clone();
        self.scope.call_async(async move { imp.handle(request.into()).await.map(FfiHttpResponse::from) })
    }
}

struct ExportedTrigger {
    imp: Arc<dyn TriggerImpl>,
    scope: InstallationScope,
}

impl Trigger for ExportedTrigger {
    fn validate(&self, params: RString) -> FfiFuture<RResult<RString, FfiError>> {
        let imp = self.imp.clone();
        self.scope.call_async(async move {
            let params: TriggerParams = parse("trigger params", &params)?;
            to_json(&imp.validate(params).await?)
        })
    }

    fn publish(&self, params: RString) -> FfiFuture<RResult<(), FfiError>> {
        let imp = self.imp.clone();
        self.scope.call_async(async move { imp.publish(parse("trigger params", &params)?).await })
    }

    fn stop(&self, params: RString) -> FfiFuture<RResult<(), FfiError>> {
        let imp = self.imp.clone();
        self.scope.call_async(async move { imp.stop(parse("trigger params", &params)?).await })
    }
}

struct ExportedView {
    imp: Arc<dyn ViewImpl>,
    scope: InstallationScope,
}

impl ViewExtension for ExportedView {
    fn supports(&self, provider: RStr<'_>) -> bool {
        if self.scope.is_stopping() {
            return false;
        }
        // A pure check called on every page load: no log sink is set up for it (that would cost
        // a thread-local lookup, doubling the call), so anything it logs is dropped.
        catch_or(false, || self.imp.supports(provider.as_str()))
    }

    fn manifests(&self, integration: RString) -> FfiFuture<RResult<RString, FfiError>> {
        let imp = self.imp.clone();
        self.scope.call_async(async move {
            let integration: Integration = parse("integration", &integration)?;
            to_json(&imp.manifests(integration).await?)
        })
    }

    fn data(&self, integration: RString, view: RString, query: RString) -> FfiFuture<RResult<RString, FfiError>> {
        let imp = self.imp.clone();
        self.scope.call_async(async move {
            let integration: Integration = parse("integration", &integration)?;
            let query: ViewQuery = parse("view query", &query)?;
            to_json(&imp.data(integration, view.into_string(), query).await?)
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
        self.scope.call_async(async move {
            let integration: Integration = parse("integration", &integration)?;
            let request: serde_json::Value = parse("action request", &request)?;
            to_json(&imp.action(integration, view.into_string(), action.into_string(), request).await?)
        })
    }
}

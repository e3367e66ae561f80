//! "Foreign" wrappers: plain async Rust access to the objects a plugin registered. Each converts
//! at this edge and turns a crossing failure into an [`Error`]; none can panic the host.

use std::sync::Arc;

use abi_stable::std_types::{ROption, RStr, RString};
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::abi::{
    FfiHttpRequest, FfiLifecycleEvent, HttpHandlerBox, IntegrationProviderBox, TriggerBox, ViewExtensionBox,
};
use crate::contract::{ActionResult, SetupInfo, TestResult, ViewData, ViewManifest};
use crate::guard::{await_foreign, catch_or, from_ffi_result};
use crate::{
    ChecklistItem, Error, ErrorCode, HttpRequest, HttpResponse, Integration, LifecycleEvent, TriggerParams, ViewQuery,
};

fn json_of<T: serde::Serialize>(value: &T) -> Result<RString, Error> {
    serde_json::to_string(value).map(RString::from).map_err(|e| Error::internal(e.to_string()))
}

fn parse_answer<T: DeserializeOwned>(what: &str, json: &str) -> Result<T, Error> {
    serde_json::from_str(json)
        .map_err(|e| Error::new(ErrorCode::INTERNAL, format!("plugin returned malformed {what}: {e}")))
}

/// A registered integration provider.
#[derive(Clone)]
pub struct ForeignProvider(pub(super) Arc<IntegrationProviderBox>);

impl ForeignProvider {
    /// Validates an integration; returns its setup information.
    pub fn validate_config(&self, integration: &Integration) -> Result<SetupInfo, Error> {
        let json = json_of(integration)?;
        let answer = catch_or(
            abi_stable::std_types::RResult::RErr(Error::new(ErrorCode::PANICKED, "validate_config panicked").into()),
            || self.0.validate_config(RStr::from_str(&json)),
        );
        let answer = from_ffi_result(answer)?;
        parse_answer("setup", &answer)
    }

    /// Tells the provider what happened to an integration.
    pub async fn on_lifecycle(
        &self,
        event: LifecycleEvent,
        integration: &Integration,
        previous: Option<&Integration>,
    ) -> Result<(), Error> {
        let json = json_of(integration)?;
        let previous: ROption<RString> = match previous {
            Some(p) => ROption::RSome(json_of(p)?),
            None => ROption::RNone,
        };
        await_foreign(self.0.on_lifecycle(FfiLifecycleEvent::from(event), json, previous)).await
    }

    /// Tests a configuration.
    pub async fn test(&self, integration: &Integration) -> Result<TestResult, Error> {
        let answer = await_foreign(self.0.test(json_of(integration)?)).await?;
        parse_answer("test result", &answer)
    }
}

/// A registered HTTP route handler.
#[derive(Clone)]
pub struct ForeignHttpHandler(pub(super) Arc<HttpHandlerBox>);

impl ForeignHttpHandler {
    /// Serves one request.
    pub async fn handle(&self, request: HttpRequest) -> Result<HttpResponse, Error> {
        Ok(await_foreign(self.0.handle(FfiHttpRequest::from(request))).await?.into())
    }
}

/// A registered trigger.
#[derive(Clone)]
pub struct ForeignTrigger(pub(super) Arc<TriggerBox>);

impl ForeignTrigger {
    /// Checks a trigger before publishing.
    pub async fn validate(&self, params: &TriggerParams) -> Result<Vec<ChecklistItem>, Error> {
        let answer = await_foreign(self.0.validate(json_of(params)?)).await?;
        parse_answer("checklist", &answer)
    }

    /// Publishes.
    pub async fn publish(&self, params: &TriggerParams) -> Result<(), Error> {
        await_foreign(self.0.publish(json_of(params)?)).await
    }

    /// Stops.
    pub async fn stop(&self, params: &TriggerParams) -> Result<(), Error> {
        await_foreign(self.0.stop(json_of(params)?)).await
    }
}

/// A registered view extension.
#[derive(Clone)]
pub struct ForeignView(pub(super) Arc<ViewExtensionBox>);

impl ForeignView {
    /// Whether it adds tabs for this provider.
    pub fn supports(&self, provider: &str) -> bool {
        catch_or(false, || self.0.supports(RStr::from_str(provider)))
    }

    /// Tab manifests for an integration.
    pub async fn manifests(&self, integration: &Integration) -> Result<Vec<ViewManifest>, Error> {
        let answer = await_foreign(self.0.manifests(json_of(integration)?)).await?;
        parse_answer("view manifests", &answer)
    }

    /// One tab's data.
    pub async fn data(&self, integration: &Integration, view: &str, query: &ViewQuery) -> Result<ViewData, Error> {
        let answer = await_foreign(self.0.data(json_of(integration)?, view.into(), json_of(query)?)).await?;
        parse_answer("view data", &answer)
    }

    /// Runs a tab action.
    pub async fn action(
        &self,
        integration: &Integration,
        view: &str,
        action: &str,
        request: &Value,
    ) -> Result<ActionResult, Error> {
        let answer =
            await_foreign(self.0.action(json_of(integration)?, view.into(), action.into(), json_of(request)?)).await?;
        parse_answer("action result", &answer)
    }
}

impl std::fmt::Debug for ForeignProvider {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForeignProvider(..)")
    }
}

impl std::fmt::Debug for ForeignHttpHandler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForeignHttpHandler(..)")
    }
}

impl std::fmt::Debug for ForeignTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForeignTrigger(..)")
    }
}

impl std::fmt::Debug for ForeignView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ForeignView(..)")
    }
}

//! The plain Rust traits a plugin implements. Async methods return `'static` boxed futures, so
//! implementations clone what they need (usually an `Arc` of their state) into the future.

use crate::contract::{ActionResult, SetupInfo, TestResult, ViewData, ViewManifest};
use crate::{
    BoxFuture, ChecklistItem, Error, HttpRequest, HttpResponse, Integration, LifecycleEvent, TriggerParams, ViewQuery,
};

/// An integration provider (see [`crate::abi::IntegrationProvider`]).
pub trait ProviderImpl: Send + Sync + 'static {
    /// Validates an integration's options; returns its setup information. An invalid
    /// configuration is an [`crate::ErrorCode::INVALID_CONFIG`] error naming the field and rule.
    fn validate_config(&self, integration: Integration) -> Result<SetupInfo, Error>;
    /// Reacts to a lifecycle event of one of its integrations (records intent; never blocks on
    /// a connection).
    fn on_lifecycle(
        &self,
        event: LifecycleEvent,
        integration: Integration,
        previous: Option<Integration>,
    ) -> BoxFuture<'static, Result<(), Error>>;
    /// Tests a configuration without saving it, saying what was and was not checked.
    fn test(&self, integration: Integration) -> BoxFuture<'static, Result<TestResult, Error>>;
}

/// A workflow trigger (see [`crate::abi::Trigger`]).
pub trait TriggerImpl: Send + Sync + 'static {
    /// Checks the trigger before publishing.
    fn validate(&self, params: TriggerParams) -> BoxFuture<'static, Result<Vec<ChecklistItem>, Error>>;
    /// Starts routing to the Digital Expert.
    fn publish(&self, params: TriggerParams) -> BoxFuture<'static, Result<(), Error>>;
    /// Stops routing to the Digital Expert.
    fn stop(&self, params: TriggerParams) -> BoxFuture<'static, Result<(), Error>>;
}

/// Tabs on the integration detail page (see [`crate::abi::ViewExtension`]). Reading a tab never
/// writes anything.
pub trait ViewImpl: Send + Sync + 'static {
    /// Whether integrations of this provider get these tabs. A pure, cheap check: it runs
    /// without the installation's log sink, so it must not log.
    fn supports(&self, provider: &str) -> bool;
    /// Tab manifests for one integration.
    fn manifests(&self, integration: Integration) -> BoxFuture<'static, Result<Vec<ViewManifest>, Error>>;
    /// One tab's data.
    fn data(
        &self,
        integration: Integration,
        view: String,
        query: ViewQuery,
    ) -> BoxFuture<'static, Result<ViewData, Error>>;
    /// Runs a tab action.
    fn action(
        &self,
        integration: Integration,
        view: String,
        action: String,
        request: serde_json::Value,
    ) -> BoxFuture<'static, Result<ActionResult, Error>>;
}

/// An HTTP route handler (see [`crate::abi::HttpHandler`]).
pub trait RouteImpl: Send + Sync + 'static {
    /// Answers one request.
    fn handle(&self, request: HttpRequest) -> BoxFuture<'static, Result<HttpResponse, Error>>;
}

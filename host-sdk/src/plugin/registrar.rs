//! A plain wrapper around the registrar lent to `register`.

use std::sync::Arc;

use super::export::{export_provider, export_route, export_trigger, export_view};
use super::runtime::PluginRuntime;
use super::traits::{ProviderImpl, RouteImpl, TriggerImpl, ViewImpl};
use crate::abi::{FfiRouteSpec, RegistrarMut};
use crate::guard::from_ffi_result;
use crate::{Error, InstallLevel, RouteSpec};

/// What `register` uses to add capabilities; exported objects run on `runtime`.
pub struct PluginRegistrar<'a> {
    inner: RegistrarMut<'a>,
    runtime: &'static PluginRuntime,
}

impl<'a> PluginRegistrar<'a> {
    /// Wraps the registrar; `runtime` is the plugin's own runtime.
    pub fn new(inner: RegistrarMut<'a>, runtime: &'static PluginRuntime) -> Self {
        PluginRegistrar { inner, runtime }
    }

    /// The level of this installation.
    pub fn level(&self) -> InstallLevel {
        self.inner.install_info().level
    }

    /// The tenant of this installation.
    pub fn tenant_id(&self) -> String {
        self.inner.install_info().tenant_id.into_string()
    }

    /// Adds an integration provider with its descriptor.
    pub fn add_integration_provider(
        &mut self,
        descriptor: &serde_json::Value,
        imp: Arc<dyn ProviderImpl>,
    ) -> Result<(), Error> {
        let obj = export_provider(imp, self.runtime);
        from_ffi_result(self.inner.add_integration_provider(descriptor.to_string().into(), obj))
    }

    /// Adds an HTTP route.
    pub fn add_route(&mut self, spec: RouteSpec, imp: Arc<dyn RouteImpl>) -> Result<(), Error> {
        let obj = export_route(imp, self.runtime);
        from_ffi_result(self.inner.add_route(FfiRouteSpec::from(spec), obj))
    }

    /// Adds a trigger with its descriptor.
    pub fn add_trigger(&mut self, descriptor: &serde_json::Value, imp: Arc<dyn TriggerImpl>) -> Result<(), Error> {
        let obj = export_trigger(imp, self.runtime);
        from_ffi_result(self.inner.add_trigger(descriptor.to_string().into(), obj))
    }

    /// Adds a view extension with its descriptor.
    pub fn add_view_extension(&mut self, descriptor: &serde_json::Value, imp: Arc<dyn ViewImpl>) -> Result<(), Error> {
        let obj = export_view(imp, self.runtime);
        from_ffi_result(self.inner.add_view_extension(descriptor.to_string().into(), obj))
    }
}

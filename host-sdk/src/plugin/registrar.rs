//! A plain wrapper around the registrar lent to `register`.

use std::sync::Arc;

use super::export::{export_provider, export_route, export_trigger, export_view, to_json};
use super::scope::InstallationScope;
use super::traits::{ProviderImpl, RouteImpl, TriggerImpl, ViewImpl};
use crate::abi::{FfiRouteSpec, RegistrarMut};
use crate::contract::{ProviderDescriptor, TriggerDescriptor, ViewExtensionDescriptor};
use crate::guard::from_ffi_result;
use crate::{Error, InstallLevel, RouteSpec};

/// What `register` uses to add capabilities; everything added belongs to one installation.
pub struct PluginRegistrar<'a> {
    inner: RegistrarMut<'a>,
    scope: InstallationScope,
}

impl<'a> PluginRegistrar<'a> {
    /// Wraps the registrar for the installation `scope`.
    pub fn new(inner: RegistrarMut<'a>, scope: InstallationScope) -> Self {
        PluginRegistrar { inner, scope }
    }

    /// The level of this installation.
    pub fn level(&self) -> InstallLevel {
        self.scope.level()
    }

    /// The tenant of this installation.
    pub fn tenant_id(&self) -> &str {
        self.scope.tenant_id()
    }

    /// Adds an integration provider with its descriptor.
    pub fn add_integration_provider(
        &mut self,
        descriptor: &ProviderDescriptor,
        imp: Arc<dyn ProviderImpl>,
    ) -> Result<(), Error> {
        let obj = export_provider(imp, self.scope.clone());
        from_ffi_result(self.inner.add_integration_provider(to_json(descriptor)?, obj))
    }

    /// Adds an HTTP route.
    pub fn add_route(&mut self, spec: RouteSpec, imp: Arc<dyn RouteImpl>) -> Result<(), Error> {
        let obj = export_route(imp, self.scope.clone());
        from_ffi_result(self.inner.add_route(FfiRouteSpec::from(spec), obj))
    }

    /// Adds a trigger with its descriptor.
    pub fn add_trigger(&mut self, descriptor: &TriggerDescriptor, imp: Arc<dyn TriggerImpl>) -> Result<(), Error> {
        let obj = export_trigger(imp, self.scope.clone());
        from_ffi_result(self.inner.add_trigger(to_json(descriptor)?, obj))
    }

    /// Adds a view extension with its descriptor.
    pub fn add_view_extension(
        &mut self,
        descriptor: &ViewExtensionDescriptor,
        imp: Arc<dyn ViewImpl>,
    ) -> Result<(), Error> {
        let obj = export_view(imp, self.scope.clone());
        from_ffi_result(self.inner.add_view_extension(to_json(descriptor)?, obj))
    }
}

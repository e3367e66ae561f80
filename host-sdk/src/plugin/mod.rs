//! The plugin author's side: plain Rust traits to implement, adapters that export them as FFI
//! trait objects (panic-guarded, polled inside the library runtime), a plain async client for the
//! host's services, the installation scope (tenant, log sink, tasks, stop), the library runtime,
//! and the [`crate::export_plugin!`] macro that writes a plugin's whole FFI edge.

mod entry;
mod export;
mod host_client;
mod logging;
mod registrar;
mod runtime;
mod scope;
mod traits;

pub use entry::{register_installation, root_module, shutdown_library, RegisterFn};
pub use export::{export_provider, export_route, export_trigger, export_view};
pub use host_client::{AgentEventStream, Agents, Host, Integrations, Kv, Leases, Sessions};
pub use logging::{install_forwarder, with_sink, LogScoped, LogSink};
pub use registrar::PluginRegistrar;
pub use runtime::PluginRuntime;
pub use scope::{InstallationScope, MetricsSource};
pub use traits::{ProviderImpl, RouteImpl, TriggerImpl, ViewImpl};

//! The plugin author's side: plain Rust traits to implement, adapters that export them as FFI
//! trait objects (panic-guarded, polled inside the plugin's runtime), a plain async client for the
//! host's services, the plugin-owned runtime, and a `tracing` forwarder.

mod export;
mod host_client;
mod logging;
mod registrar;
mod runtime;
mod traits;

pub use export::{export_provider, export_route, export_trigger, export_view};
pub use host_client::{AgentEventStream, Agents, Host, Integrations, Kv, Leases};
pub use logging::install_log_forwarder;
pub use registrar::PluginRegistrar;
pub use runtime::PluginRuntime;
pub use traits::{ProviderImpl, RouteImpl, TriggerImpl, ViewImpl};

//! The host's side (feature `host`): the loader, installations with their level rules, "Foreign"
//! wrappers that give plain async Rust access to what a plugin registered, the traits a host
//! implements to serve a plugin, and a [`TestHost`] with in-memory services.

pub mod conformance;
mod export;
mod foreign;
mod installation;
mod loader;
mod manifest;
mod memory;
mod registry;
mod services;
mod test_host;

pub use export::export_host_api;
pub use foreign::{ForeignHttpHandler, ForeignProvider, ForeignTrigger, ForeignView};
pub use installation::{
    Installation, InstallationHandle, RegisteredProvider, RegisteredRoute, RegisteredTrigger, RegisteredView,
};
pub use loader::{load_plugin, load_plugin_at, LoadError, LoadTimings, LoadedPlugin};
pub use manifest::{Manifest, ManifestError};
pub use memory::{system_clock, Clock, MemoryKv, MemoryLeases, MemorySessions};
pub use registry::{stop_all, PluginRegistry};
pub use services::{
    AgentBackend, AgentEventReceiver, HostServices, IntegrationBackend, KvBackend, LeaseBackend, ServiceSet,
    SessionBackend,
};
pub use test_host::{LoggedRecord, ScriptedAgent, TestHost, TEST_TENANT};

//! # host-sdk: the stable ABI between the Xpert reference host and its plugins
//!
//! A plugin is a `cdylib` that exports one versioned root module ([`abi::PluginMod`]). The host
//! reads the plugin's `manifest.toml`, loads the library through [`host::load_plugin`] (feature
//! `host`), and calls `register` once per installation. The plugin registers what it provides
//! (integration providers, HTTP routes, triggers, view extensions) with a registrar, and receives a
//! [`abi::HostApi`] object through which it reaches the host's services (logging, config,
//! integrations, a shared key-value store, leases, agents, conversation sessions).
//!
//! The crate has three layers:
//! - [`abi`]: every type that crosses the boundary (`#[repr(C)]` / `StableAbi` / `#[sabi_trait]`).
//!   This is the only module that names abi_stable or async-ffi types.
//! - plain Rust types at the crate root ([`Error`], [`HttpRequest`], [`AgentEvent`], …) that both
//!   sides program against;
//! - adapters: [`plugin`] turns plain Rust implementations into exported trait objects and wraps
//!   the host's objects in plain async clients; [`host`] does the mirror image for the host and
//!   adds the loader, the install-level rules and a [`host::TestHost`].
//!
//! Rules every adapter enforces: a panic never crosses the boundary (it becomes an [`Error`] with
//! code [`ErrorCode::PANICKED`]); a future crossing the boundary is always polled inside the tokio
//! runtime of the side that created it; the library is never unloaded.
#![allow(non_local_definitions)] // emitted by abi_stable's derive macros on current rustc; harmless
#![warn(missing_docs)]

pub mod abi;
mod agent;
pub mod contract;
mod error;
pub mod guard;
mod http;
mod level;
mod services;

pub mod plugin;

#[cfg(feature = "host")]
pub mod host;

pub use agent::{AgentEvent, AgentFile, AgentRequest, ConversationStatus};
pub use contract::{ChecklistItem, ChecklistLevel, I18nText, TriggerParams, ViewQuery};
pub use error::{Error, ErrorCode};
pub use http::{HttpRequest, HttpResponse, RouteSpec};
pub use level::InstallLevel;
pub use services::{
    Integration, KvEntry, Lease, LifecycleEvent, LogLevel, LogRecord, SessionPage, SessionQuery, SessionRecord,
    SessionSort, SESSION_PAGE_MAX,
};

/// The ABI version of this crate (from `abi.toml`). A plugin's `manifest.toml` must declare the
/// same `abi_version`, and its root module reports it too; the loader refuses any mismatch.
pub const ABI_VERSION: u32 = parse_abi_version(env!("XPERT_ABI_VERSION"));

/// The root module's version string, `"<ABI_VERSION>.0.0"`: abi_stable refuses a library whose
/// major differs, so a plugin built for another ABI is refused whatever host-sdk's crate version.
pub const ABI_VERSION_STRING: &str = concat!(env!("XPERT_ABI_VERSION"), ".0.0");

/// Parses the decimal ABI version exported by the build script (at compile time).
const fn parse_abi_version(text: &str) -> u32 {
    let bytes = text.as_bytes();
    let mut value: u32 = 0;
    let mut i = 0;
    while i < bytes.len() {
        assert!(bytes[i].is_ascii_digit(), "XPERT_ABI_VERSION must be a decimal number");
        value = value * 10 + (bytes[i] - b'0') as u32;
        i += 1;
    }
    value
}

/// A boxed, `Send` future: the shape of every async method in the plain Rust traits.
pub type BoxFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + Send + 'a>>;

//! Everything that crosses the C ABI, and nothing else.
//!
//! Conventions:
//! - Data that changes shape often (configs, schemas, descriptors, view data, checklists) crosses
//!   as a JSON [`RString`](abi_stable::std_types::RString); hot or structural things (HTTP
//!   messages, agent events, errors, leases) are `#[repr(C)]` `StableAbi` types.
//! - Enums that may grow are NonExhaustive ([`FfiAgentEvent`]) or integer codes.
//! - Every async method returns an [`FfiFuture`](async_ffi::FfiFuture) that the receiving side
//!   may poll from any thread; the side that created it enters its own runtime on each poll.
//! - `#[sabi(last_prefix_field)]` marks the last method of this ABI version on every trait:
//!   methods added after it in a later minor version are optional for older libraries.
//!
//! Each concept has its own file; the `Box`/`Arc` aliases name the concrete trait-object types
//! stored by the other side.

mod agent;
mod capabilities;
mod error;
mod http;
mod installation;
mod root;
mod services;

pub use agent::*;
pub use capabilities::*;
pub use error::*;
pub use http::*;
pub use installation::*;
pub use root::*;
pub use services::*;

/// Re-exports used by plugin crates in their FFI edge (the root-module export needs them).
pub mod reexports {
    pub use abi_stable;
    pub use abi_stable::export_root_module;
    pub use abi_stable::prefix_type::PrefixTypeTrait;
    pub use async_ffi;
}

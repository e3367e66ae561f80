//! The versioned root module a plugin library exports.

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RResult, RString};
use abi_stable::{declare_root_module_statics, package_version_strings, StableAbi};

use super::{FfiError, HostApiArc, RegistrarMut};

/// The root module: the one symbol a plugin exports. Fields are never reordered; new ones go
/// after `shutdown` (the last v1 field).
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// The ABI version the plugin was built for; must equal [`crate::ABI_VERSION`] and the
    /// manifest's `abi_version`. First, and never moves.
    pub abi_version: u32,
    /// The plugin's `manifest.toml`, compiled in, so the host can cross-check the file on disk.
    pub manifest: extern "C" fn() -> RString,
    /// Registers everything the plugin provides for one installation (called once per
    /// tenant installation). The host object stays valid for the life of the process.
    pub register: extern "C" fn(registrar: RegistrarMut<'_>, host: HostApiArc) -> RResult<(), FfiError>,
    /// Stops every plugin task and the plugin's runtime within `timeout_ms`. Called once, at
    /// host shutdown, from a thread that is not a runtime worker of either side.
    #[sabi(last_prefix_field)]
    pub shutdown: extern "C" fn(timeout_ms: u64) -> RResult<(), FfiError>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "xpert_plugin";
    const NAME: &'static str = "xpert_plugin";
    const VERSION_STRINGS: VersionStrings = package_version_strings!();
}

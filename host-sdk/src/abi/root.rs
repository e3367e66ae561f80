//! The versioned root module a plugin library exports.

use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RResult, RString};
use abi_stable::{declare_root_module_statics, StableAbi};

use super::{FfiError, HostApiArc, PluginInstallationBox, RegistrarMut};

/// The root module: the one symbol a plugin exports. Fields are never reordered; new ones go
/// after `shutdown` (the last field of v2).
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
    /// Registers everything the plugin provides for one installation (the plugin installed in
    /// one tenant) and returns the installation's handle. `host` is already scoped to that
    /// tenant. The host calls the handle's `stop` on uninstall, re-install, tenant deletion and
    /// host shutdown.
    pub register:
        extern "C" fn(registrar: RegistrarMut<'_>, host: HostApiArc) -> RResult<PluginInstallationBox, FfiError>,
    /// Stops the library as a whole (its runtime) within `timeout_ms`, after every installation
    /// was stopped. Called once, at host shutdown, from a thread that is not a runtime worker of
    /// either side.
    #[sabi(last_prefix_field)]
    pub shutdown: extern "C" fn(timeout_ms: u64) -> RResult<(), FfiError>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "xpert_plugin";
    const NAME: &'static str = "xpert_plugin";
    /// Tied to the ABI version (`abi.toml`), not to host-sdk's crate version.
    const VERSION_STRINGS: VersionStrings = VersionStrings::new(crate::ABI_VERSION_STRING);
}

//! The handle of one installation, returned by `register`.

use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, RResult, RString};

use super::FfiError;

/// One installation of the plugin (the plugin installed in one tenant). Implemented by the
/// plugin, held by the host for as long as the installation exists.
#[sabi_trait]
pub trait PluginInstallation: Send + Sync {
    /// Ends everything this installation started — tasks, sockets (with a close frame), leases,
    /// last status writes — within `timeout_ms`, and makes every object it registered answer
    /// `SHUTTING_DOWN` from then on. Blocks: the host calls it from a thread that is not a
    /// runtime worker of either side. Calling it again does nothing.
    fn stop(&self, timeout_ms: u64) -> RResult<(), FfiError>;

    /// The installation's metrics in the Prometheus text exposition format (version 0.0.4),
    /// labelled with the installation's tenant; empty when it keeps none. The host merges the
    /// texts of every installation into its `/metrics`. Never blocks on I/O.
    #[sabi(last_prefix_field)]
    fn metrics_text(&self) -> RResult<RString, FfiError>;
}

/// The owned installation handle the host stores.
pub type PluginInstallationBox = PluginInstallation_TO<'static, RBox<()>>;

//! The plugin-owned tokio runtime.
//!
//! A cdylib carries its own copy of tokio, so it cannot use the host's runtime: it builds its own
//! (lazily, on first use) and stops it in the root module's `shutdown`.

use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::{Builder, Handle, Runtime};

use crate::Error;

/// A lazily built multi-thread runtime that can be shut down once.
pub struct PluginRuntime {
    name: &'static str,
    worker_threads: usize,
    runtime: Mutex<Option<Runtime>>,
    handle: OnceLock<Result<Handle, String>>,
}

impl PluginRuntime {
    /// A runtime whose threads are named `name` with `worker_threads` workers (at least 1).
    pub const fn new(name: &'static str, worker_threads: usize) -> Self {
        PluginRuntime { name, worker_threads, runtime: Mutex::new(None), handle: OnceLock::new() }
    }

    /// The runtime's handle, building the runtime on first call. Fails after `shutdown`.
    pub fn handle(&self) -> Result<Handle, Error> {
        let handle = self.handle.get_or_init(|| {
            let built = Builder::new_multi_thread()
                .worker_threads(self.worker_threads.max(1))
                .thread_name(self.name)
                .enable_all()
                .build();
            match built {
                Ok(rt) => {
                    let handle = rt.handle().clone();
                    *self.runtime.lock() = Some(rt);
                    Ok(handle)
                }
                Err(e) => Err(format!("cannot start the plugin runtime: {e}")),
            }
        });
        match handle {
            Ok(h) if self.runtime.lock().is_some() => Ok(h.clone()),
            Ok(_) => Err(Error::new(crate::ErrorCode::SHUTTING_DOWN, "the plugin runtime was shut down")),
            Err(e) => Err(Error::internal(e.clone())),
        }
    }

    /// Stops every task and waits at most `timeout` for them. Must be called from a thread that
    /// is not one of this runtime's workers. Calling it again does nothing.
    pub fn shutdown(&self, timeout: Duration) {
        let rt = self.runtime.lock().take();
        if let Some(rt) = rt {
            rt.shutdown_timeout(timeout);
        }
    }

    /// Whether the runtime is running.
    pub fn is_running(&self) -> bool {
        self.runtime.lock().is_some()
    }
}

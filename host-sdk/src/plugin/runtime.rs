//! The plugin-owned tokio runtime.
//!
//! A cdylib carries its own copy of tokio, so it cannot use the host's runtime: it builds its own
//! and stops it in the root module's `shutdown`. The runtime is built on the first call that needs
//! it (the first async entry point), not at `register`: loading and registering a plugin then
//! spawns no thread, and an installation that never sees traffic costs none.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::OnceLock;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::runtime::{Builder, Handle, Runtime};

use crate::{Error, ErrorCode};

/// A lazily built multi-thread runtime that can be shut down once.
pub struct PluginRuntime {
    name: &'static str,
    worker_threads: usize,
    state: Mutex<State>,
    /// The running runtime's handle, for the lock-free fast path of [`PluginRuntime::handle`].
    handle: OnceLock<Handle>,
    /// Set (under the `state` lock) by `shutdown`; checked before the fast path hands out a handle.
    stopped: AtomicBool,
}

/// Where the runtime is in its life.
enum State {
    NotStarted,
    Running(Runtime),
    Failed(String),
    Stopped,
}

impl State {
    /// The running runtime's handle, or the error a runtime in this state answers with.
    fn handle(&self) -> Result<Handle, Error> {
        match self {
            State::Running(rt) => Ok(rt.handle().clone()),
            State::NotStarted => Err(Error::internal("the plugin runtime is not started")),
            State::Failed(message) => Err(Error::internal(message.clone())),
            State::Stopped => Err(Error::new(ErrorCode::SHUTTING_DOWN, "the plugin runtime was shut down")),
        }
    }
}

impl PluginRuntime {
    /// A runtime whose threads are named `name` with `worker_threads` workers (at least 1).
    pub const fn new(name: &'static str, worker_threads: usize) -> Self {
        PluginRuntime {
            name,
            worker_threads,
            state: Mutex::new(State::NotStarted),
            handle: OnceLock::new(),
            stopped: AtomicBool::new(false),
        }
    }

    /// The runtime's handle, building the runtime on first call. Fails after `shutdown`, and
    /// keeps failing with the same message if the runtime could not be built.
    pub fn handle(&self) -> Result<Handle, Error> {
        if !self.stopped.load(Ordering::Acquire) {
            if let Some(handle) = self.handle.get() {
                return Ok(handle.clone());
            }
        }
        let mut state = self.state.lock();
        if let State::NotStarted = *state {
            *state = self.build();
        }
        let handle = state.handle()?;
        let _ = self.handle.set(handle.clone());
        Ok(handle)
    }

    /// Builds the runtime: `Running`, or `Failed` with the reason.
    fn build(&self) -> State {
        let built = Builder::new_multi_thread()
            .worker_threads(self.worker_threads.max(1))
            .thread_name(self.name)
            .enable_all()
            .build();
        match built {
            Ok(rt) => State::Running(rt),
            Err(e) => State::Failed(format!("cannot start the plugin runtime: {e}")),
        }
    }

    /// Fails with `SHUTTING_DOWN` once `shutdown` was called (or with the start error if the
    /// runtime could not be built), without starting anything: `register` uses it to refuse a new
    /// installation of a stopped plugin.
    pub fn ensure_not_stopped(&self) -> Result<(), Error> {
        match &*self.state.lock() {
            State::NotStarted => Ok(()),
            started => started.handle().map(drop),
        }
    }

    /// Stops every task and waits at most `timeout` for them. Must be called from a thread that
    /// is not one of this runtime's workers. Calling it again does nothing; a runtime that was
    /// never started is simply marked stopped, so no later call starts it.
    pub fn shutdown(&self, timeout: Duration) {
        let previous = {
            let mut state = self.state.lock();
            self.stopped.store(true, Ordering::Release);
            std::mem::replace(&mut *state, State::Stopped)
        };
        if let State::Running(rt) = previous {
            rt.shutdown_timeout(timeout);
        }
    }

    /// Whether the runtime has been started and not shut down.
    pub fn is_running(&self) -> bool {
        matches!(&*self.state.lock(), State::Running(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_runtime_starts_on_first_use_and_stops_for_good() {
        let runtime = PluginRuntime::new("test-runtime", 1);
        assert!(!runtime.is_running(), "nothing is started before the first use");
        runtime.ensure_not_stopped().expect("a runtime not yet started is usable");
        assert!(!runtime.is_running(), "checking does not start it");
        let handle = runtime.handle().expect("first use starts the runtime");
        assert!(runtime.is_running());
        assert_eq!(handle.block_on(async { 6 * 7 }), 42);
        runtime.shutdown(Duration::from_secs(1));
        assert!(!runtime.is_running());
        assert_eq!(runtime.ensure_not_stopped().unwrap_err().code, ErrorCode::SHUTTING_DOWN);
        let err = runtime.handle().expect_err("a stopped runtime hands out no handle");
        assert_eq!(err.code, ErrorCode::SHUTTING_DOWN);
        runtime.shutdown(Duration::from_secs(1)); // a second call is harmless
    }

    #[test]
    fn a_runtime_stopped_before_its_first_use_never_starts() {
        let runtime = PluginRuntime::new("test-runtime", 1);
        runtime.shutdown(Duration::from_millis(10));
        let err = runtime.handle().expect_err("no start after shutdown");
        assert_eq!(err.code, ErrorCode::SHUTTING_DOWN);
        assert!(!runtime.is_running());
    }
}

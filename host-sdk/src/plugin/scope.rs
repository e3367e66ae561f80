//! One installation as the plugin sees it: its tenant, its host, its log sink, and the tasks it
//! started — so that `stop` can end exactly what this installation started and nothing else.
//!
//! The library's runtime is shared by every installation (one set of threads per process); what
//! belongs to an installation hangs off its [`InstallationScope`], never off a process global.

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use abi_stable::std_types::RResult;
use async_ffi::FfiFuture;
use parking_lot::Mutex;
use tokio::task::AbortHandle;
use tokio_util::sync::{CancellationToken, WaitForCancellationFutureOwned};
use tokio_util::task::TaskTracker;

use super::host_client::Host;
use super::logging::{with_sink, LogScoped, LogSink};
use super::runtime::PluginRuntime;
use crate::abi::FfiError;
use crate::guard::{catch_sync, guarded_future};
use crate::{Error, ErrorCode, InstallLevel};

/// One installation: cheap to clone, shared by everything the installation registered.
#[derive(Clone)]
pub struct InstallationScope {
    inner: Arc<Inner>,
}

struct Inner {
    tenant_id: String,
    level: InstallLevel,
    host: Host,
    sink: Arc<LogSink>,
    runtime: &'static PluginRuntime,
    cancel: CancellationToken,
    tasks: TaskTracker,
    aborts: Mutex<Vec<AbortHandle>>,
    stopped: AtomicBool,
    /// Renders the installation's metrics for the host's `/metrics` (set once by `register`).
    metrics: std::sync::OnceLock<MetricsSource>,
}

/// Renders an installation's metrics in the Prometheus text format.
pub type MetricsSource = Box<dyn Fn() -> String + Send + Sync>;

impl InstallationScope {
    /// A scope for one installation in `tenant_id`, running on the library's `runtime`.
    pub fn new(
        tenant_id: String,
        level: InstallLevel,
        host: Host,
        log_level: tracing::Level,
        runtime: &'static PluginRuntime,
    ) -> Self {
        let sink = LogSink::new(host.clone(), log_level);
        InstallationScope {
            inner: Arc::new(Inner {
                tenant_id,
                level,
                host,
                sink,
                runtime,
                cancel: CancellationToken::new(),
                tasks: TaskTracker::new(),
                aborts: Mutex::new(Vec::new()),
                stopped: AtomicBool::new(false),
                metrics: std::sync::OnceLock::new(),
            }),
        }
    }

    /// The tenant this installation belongs to.
    pub fn tenant_id(&self) -> &str {
        &self.inner.tenant_id
    }

    /// The level it was installed at.
    pub fn level(&self) -> InstallLevel {
        self.inner.level
    }

    /// The host, as this installation sees it (every service scoped to its tenant).
    pub fn host(&self) -> &Host {
        &self.inner.host
    }

    /// Sets what renders this installation's metrics (Prometheus text, labelled with the tenant)
    /// when the host scrapes them; the first call wins. The source must not hold the scope itself
    /// (that would keep the installation alive forever): give it the metrics registry only.
    pub fn set_metrics_source(&self, source: MetricsSource) {
        let _ = self.inner.metrics.set(source);
    }

    /// The installation's metrics text (empty when no source was set).
    pub fn metrics_text(&self) -> String {
        self.inner.metrics.get().map(|render| render()).unwrap_or_default()
    }

    /// Whether `stop` was called.
    pub fn is_stopping(&self) -> bool {
        self.inner.stopped.load(Ordering::Acquire)
    }

    /// A token cancelled when the installation stops; long-running tasks select on
    /// `token.cancelled()` and then clean up (close sockets, release leases, write last status).
    pub fn cancellation(&self) -> CancellationToken {
        self.inner.cancel.clone()
    }

    /// Spawns a task that belongs to this installation: it runs on the library runtime with the
    /// installation's log sink, a panic ends only the task, and `stop` waits for it (cancelling
    /// it through [`InstallationScope::cancellation`], aborting it if it overstays the timeout).
    pub fn spawn<F>(&self, task: F) -> Result<(), Error>
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if self.is_stopping() {
            return Err(stopped_error());
        }
        let handle = self.inner.runtime.handle()?;
        let scoped = LogScoped::new(self.inner.sink.clone(), CatchPanic(Box::pin(task)));
        let join = handle.spawn(self.inner.tasks.track_future(scoped));
        let mut aborts = self.inner.aborts.lock();
        // Finished tasks are dropped from the list once it has doubled since the last pruning:
        // amortized O(1) per spawn (pruning on every spawn made starting N actors O(N²)).
        if aborts.len() == aborts.capacity() {
            aborts.retain(|a| !a.is_finished());
            let live = aborts.len();
            aborts.reserve(live.max(32));
        }
        aborts.push(join.abort_handle());
        Ok(())
    }

    /// Runs a synchronous entry point with this installation's log sink, catching panics.
    pub fn call_sync<T>(&self, f: impl FnOnce() -> Result<T, Error>) -> RResult<T, FfiError> {
        catch_sync(|| with_sink(&self.inner.sink, f))
    }

    /// Runs `f` with this installation's log sink current (e.g. during `register`).
    pub fn in_log_scope<T>(&self, f: impl FnOnce() -> T) -> T {
        with_sink(&self.inner.sink, f)
    }

    /// Wraps an async entry point for export: polled inside the library runtime (started on first
    /// use) with this installation's log sink; it answers `SHUTTING_DOWN` once the installation
    /// stops, including when it stops while the call is in flight.
    pub fn call_async<T, F>(&self, fut: F) -> FfiFuture<RResult<T, FfiError>>
    where
        T: Send + 'static,
        F: Future<Output = Result<T, Error>> + Send + 'static,
    {
        if self.is_stopping() {
            return guarded_future(None, async { Err(stopped_error()) });
        }
        let handle = match self.inner.runtime.handle() {
            Ok(h) => h,
            Err(e) => return guarded_future(None, async move { Err(e) }),
        };
        guarded_future(Some(handle), ScopedCall { scope: self.inner.clone(), call: fut, on_cancel: None })
    }

    /// Stops the installation: new calls are refused, its tasks are cancelled and awaited for
    /// three quarters of `timeout`, then whatever is left is aborted and awaited for the rest.
    /// Blocks; call it from a thread that is not a worker of the library runtime. Calling it
    /// again does nothing.
    pub fn stop(&self, timeout: Duration) -> Result<(), Error> {
        if self.inner.stopped.swap(true, Ordering::AcqRel) {
            return Ok(());
        }
        let started = Instant::now();
        self.inner.cancel.cancel();
        self.inner.tasks.close();
        if self.inner.tasks.is_empty() {
            return Ok(());
        }
        // Tasks exist only if the runtime was started; a runtime already shut down took them.
        let Ok(handle) = self.inner.runtime.handle() else { return Ok(()) };
        let graceful = timeout.mul_f32(0.75);
        let tasks = self.inner.tasks.clone();
        let finished = handle.block_on(async { tokio::time::timeout(graceful, tasks.wait()).await.is_ok() });
        if finished {
            return Ok(());
        }
        let left = self.inner.tasks.len();
        for abort in self.inner.aborts.lock().drain(..) {
            abort.abort();
        }
        let rest = timeout.saturating_sub(started.elapsed());
        let tasks = self.inner.tasks.clone();
        let finished = handle.block_on(async { tokio::time::timeout(rest, tasks.wait()).await.is_ok() });
        self.in_log_scope(|| {
            tracing::warn!(tenant = %self.inner.tenant_id, aborted = left, "installation tasks overstayed the stop timeout and were aborted")
        });
        if finished {
            Ok(())
        } else {
            Err(Error::new(
                ErrorCode::TIMEOUT,
                format!(
                    "{} installation task(s) still running after the {timeout:?} stop timeout",
                    self.inner.tasks.len()
                ),
            ))
        }
    }
}

pin_project_lite::pin_project! {
    /// An exported call of an installation: each poll runs with the installation's log sink, and
    /// the call ends with `SHUTTING_DOWN` when the installation stops while it is pending. A call
    /// that is ready at once (most are) never touches the cancellation token.
    struct ScopedCall<F> {
        scope: Arc<Inner>,
        #[pin]
        call: F,
        on_cancel: Option<Pin<Box<WaitForCancellationFutureOwned>>>,
    }
}

impl<T, F: Future<Output = Result<T, Error>>> Future for ScopedCall<F> {
    type Output = Result<T, Error>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let sink = &this.scope.sink;
        if let Poll::Ready(result) = with_sink(sink, || this.call.poll(cx)) {
            return Poll::Ready(result);
        }
        let cancel = this.scope.cancel.clone();
        let on_cancel = this.on_cancel.get_or_insert_with(|| Box::pin(cancel.cancelled_owned()));
        match on_cancel.as_mut().poll(cx) {
            Poll::Ready(()) => Poll::Ready(Err(stopped_error())),
            Poll::Pending => Poll::Pending,
        }
    }
}

fn stopped_error() -> Error {
    Error::new(ErrorCode::SHUTTING_DOWN, "this plugin installation was stopped")
}

/// Ends a task quietly when it panics (the panic hook of the plugin image still reports it).
struct CatchPanic(crate::BoxFuture<'static, ()>);

impl Future for CatchPanic {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        let inner = &mut self.0;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(poll) => poll,
            Err(payload) => {
                tracing::error!("an installation task panicked: {}", Error::from_panic(payload.as_ref()).message);
                Poll::Ready(())
            }
        }
    }
}

impl std::fmt::Debug for InstallationScope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InstallationScope")
            .field("tenant_id", &self.inner.tenant_id)
            .field("level", &self.inner.level)
            .field("stopping", &self.is_stopping())
            .finish()
    }
}

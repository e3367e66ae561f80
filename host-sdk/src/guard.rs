//! The two guards every boundary crossing goes through: panics are caught and become errors, and
//! futures are polled inside the runtime of the side that created them.
//!
//! A plugin statically links its own copy of tokio, so the host's runtime context is invisible to
//! plugin code (and the other way round). A future that uses tokio timers or sockets must run with
//! its own side's runtime entered. [`guarded_future`] does that on every poll, which costs no task
//! spawn: the caller's thread polls, and the creating runtime's workers drive its I/O and timers.

use std::future::Future;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::pin::Pin;
use std::task::{Context, Poll};

use abi_stable::std_types::RResult;
use async_ffi::{FfiFuture, FutureExt as _};
use tokio::runtime::Handle;

use crate::abi::FfiError;
use crate::Error;

/// Runs `f`, turning a panic into an [`Error`] with code `PANICKED`. Use it at every synchronous
/// entry point that may be called from the other side of the boundary.
pub fn catch_sync<T>(f: impl FnOnce() -> Result<T, Error>) -> RResult<T, FfiError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(v)) => RResult::ROk(v),
        Ok(Err(e)) => RResult::RErr(e.into()),
        Err(payload) => RResult::RErr(Error::from_panic(payload.as_ref()).into()),
    }
}

/// Like [`catch_sync`] for calls that cannot fail except by panicking: a panic yields `fallback`.
pub fn catch_or<T>(fallback: T, f: impl FnOnce() -> T) -> T {
    catch_unwind(AssertUnwindSafe(f)).unwrap_or(fallback)
}

/// Wraps a future for export: every poll runs inside `runtime` (when given) and a panic during a
/// poll ends the future with a `PANICKED` error instead of unwinding into the other side.
pub fn guarded_future<T, F>(runtime: Option<Handle>, fut: F) -> FfiFuture<RResult<T, FfiError>>
where
    T: Send + 'static,
    F: Future<Output = Result<T, Error>> + Send + 'static,
{
    Guarded { runtime, inner: Some(Box::pin(fut)) }.into_ffi()
}

/// The future behind [`guarded_future`].
struct Guarded<T> {
    runtime: Option<Handle>,
    inner: Option<crate::BoxFuture<'static, Result<T, Error>>>,
}

impl<T> Future for Guarded<T> {
    type Output = RResult<T, FfiError>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        let Some(inner) = this.inner.as_mut() else {
            return Poll::Ready(RResult::RErr(Error::internal("future polled after completion").into()));
        };
        let _entered = this.runtime.as_ref().map(Handle::enter);
        match catch_unwind(AssertUnwindSafe(|| inner.as_mut().poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(result)) => {
                this.inner = None;
                Poll::Ready(match result {
                    Ok(v) => RResult::ROk(v),
                    Err(e) => RResult::RErr(e.into()),
                })
            }
            Err(payload) => {
                // The inner future may be in a broken state: drop it without letting a second
                // panic (from its destructor) escape.
                let broken = this.inner.take();
                let _ = catch_unwind(AssertUnwindSafe(move || drop(broken)));
                Poll::Ready(RResult::RErr(Error::from_panic(payload.as_ref()).into()))
            }
        }
    }
}

impl<T> Drop for Guarded<T> {
    fn drop(&mut self) {
        // Destructors of plugin futures may touch the plugin runtime (e.g. dropping a timer) and
        // must never unwind across the boundary.
        let _entered = self.runtime.as_ref().map(Handle::enter);
        let inner = self.inner.take();
        let _ = catch_unwind(AssertUnwindSafe(move || drop(inner)));
    }
}

/// Awaits a future that came from the other side and converts its result. A future whose poll
/// panicked on the other side (which the guards prevent) becomes a `PANICKED` error here rather
/// than a panic in the caller.
pub async fn await_foreign<T>(fut: FfiFuture<RResult<T, FfiError>>) -> Result<T, Error> {
    let mut fut = fut;
    std::future::poll_fn(move |cx| match catch_unwind(AssertUnwindSafe(|| Pin::new(&mut fut).poll(cx))) {
        Ok(Poll::Pending) => Poll::Pending,
        Ok(Poll::Ready(RResult::ROk(v))) => Poll::Ready(Ok(v)),
        Ok(Poll::Ready(RResult::RErr(e))) => Poll::Ready(Err(e.into())),
        Err(_) => Poll::Ready(Err(Error::new(crate::ErrorCode::PANICKED, "the other side's future panicked"))),
    })
    .await
}

/// Converts an FFI result into the plain one.
pub fn from_ffi_result<T>(r: RResult<T, FfiError>) -> Result<T, Error> {
    r.into_result().map_err(Error::from)
}

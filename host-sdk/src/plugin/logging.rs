//! Forwards the plugin's `tracing` events to the host of the installation that emitted them.
//!
//! A plugin image has its own copy of `tracing` and so its own global dispatcher, shared by every
//! installation in the process. The dispatcher installed here holds no installation: each event
//! goes to the *current* installation's sink, a thread-local that the installation's entry points
//! and tasks set for the duration of each call or poll ([`LogScoped`], [`with_sink`]). Two
//! installations in one process therefore never see each other's logs, and an event emitted
//! outside any installation is dropped rather than sent to a host that did not ask for it.
//! Spans are not forwarded (only their events are).

use std::cell::Cell;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::task::{Context, Poll};

use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::subscriber::Interest;
use tracing::{Event, Level, Metadata, Subscriber};

use super::host_client::Host;
use crate::{LogLevel, LogRecord};

/// Where one installation's log records go, and from which level.
pub struct LogSink {
    host: Host,
    max_level: Level,
}

impl LogSink {
    /// A sink forwarding events at `max_level` and above to `host`.
    pub fn new(host: Host, max_level: Level) -> Arc<LogSink> {
        Arc::new(LogSink { host, max_level })
    }
}

thread_local! {
    /// The sink of the installation whose code runs on this thread right now, or null. Set only
    /// by [`scoped`], whose guard restores the previous value before the borrowed sink can go away
    /// (also on unwind), so the pointer is valid whenever it is not null. A plain pointer (no
    /// reference count, no `RefCell`) keeps every boundary call a few nanoseconds.
    static CURRENT: Cell<*const LogSink> = const { Cell::new(std::ptr::null()) };
}

/// Restores the previous sink when dropped (also on unwind).
struct Restore<'a> {
    cell: &'a Cell<*const LogSink>,
    previous: *const LogSink,
}

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        self.cell.set(self.previous);
    }
}

/// Runs `f` with `sink` current; the previous sink is restored afterwards, also on unwind. One
/// thread-local lookup per call: in a shared library each lookup is a `__tls_get_addr` call.
fn scoped<T>(sink: &LogSink, f: impl FnOnce() -> T) -> T {
    CURRENT.with(|cell| {
        let _restore = Restore { cell, previous: cell.replace(sink as *const LogSink) };
        f()
    })
}

/// Runs `f` with the current sink, if any.
fn with_current<T>(f: impl FnOnce(&LogSink) -> T) -> Option<T> {
    let ptr = CURRENT.try_with(Cell::get).ok()?;
    // SAFETY: a non-null pointer was set by `scoped` from a live `&LogSink` whose guard is still
    // in scope on this thread (guards restore the previous value when they drop).
    unsafe { ptr.as_ref() }.map(f)
}

/// Runs `f` with `sink` as the current installation's sink.
pub fn with_sink<T>(sink: &Arc<LogSink>, f: impl FnOnce() -> T) -> T {
    scoped(sink, f)
}

pin_project_lite::pin_project! {
    /// A future whose every poll runs with an installation's sink current.
    pub struct LogScoped<F> {
        sink: Arc<LogSink>,
        #[pin]
        inner: F,
    }
}

impl<F> LogScoped<F> {
    /// Wraps `inner`.
    pub fn new(sink: Arc<LogSink>, inner: F) -> Self {
        LogScoped { sink, inner }
    }
}

impl<F: Future> Future for LogScoped<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        scoped(this.sink, || this.inner.poll(cx))
    }
}

/// Installs the forwarding dispatcher once per plugin image (later calls do nothing). It is
/// stateless: which host receives an event is decided per event by the current sink.
pub fn install_forwarder() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let _ = tracing::subscriber::set_global_default(Forwarder { next_span: AtomicU64::new(1) });
    });
}

struct Forwarder {
    next_span: AtomicU64,
}

fn current_allows(level: &Level) -> bool {
    with_current(|s| level <= &s.max_level).unwrap_or(false)
}

impl Subscriber for Forwarder {
    fn register_callsite(&self, _metadata: &'static Metadata<'static>) -> Interest {
        // Whether an event is wanted depends on the installation current at the time.
        Interest::sometimes()
    }

    fn enabled(&self, metadata: &Metadata<'_>) -> bool {
        current_allows(metadata.level())
    }

    fn new_span(&self, _span: &Attributes<'_>) -> Id {
        Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed))
    }

    fn record(&self, _span: &Id, _values: &Record<'_>) {}

    fn record_follows_from(&self, _span: &Id, _follows: &Id) {}

    fn event(&self, event: &Event<'_>) {
        with_current(|sink| forward(sink, event));
    }

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
}

/// Sends one event to an installation's host.
fn forward(sink: &LogSink, event: &Event<'_>) {
    let mut visitor = FieldCollector::default();
    event.record(&mut visitor);
    let meta = event.metadata();
    let level = match *meta.level() {
        Level::TRACE => LogLevel::Trace,
        Level::DEBUG => LogLevel::Debug,
        Level::INFO => LogLevel::Info,
        Level::WARN => LogLevel::Warn,
        Level::ERROR => LogLevel::Error,
    };
    sink.host.log(LogRecord {
        level,
        target: meta.target().to_string(),
        message: visitor.message,
        fields_json: serde_json::Value::Object(visitor.fields).to_string(),
    });
}

#[derive(Default)]
struct FieldCollector {
    message: String,
    fields: serde_json::Map<String, serde_json::Value>,
}

impl Visit for FieldCollector {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            let _ = write!(self.message, "{value:?}");
        } else {
            self.fields.insert(field.name().to_string(), serde_json::Value::String(format!("{value:?}")));
        }
    }

    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.message.push_str(value);
        } else {
            self.fields.insert(field.name().to_string(), serde_json::Value::String(value.to_string()));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.fields.insert(field.name().to_string(), value.into());
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.fields.insert(field.name().to_string(), value.into());
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.fields.insert(field.name().to_string(), value.into());
    }
}

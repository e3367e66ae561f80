//! Forwards the plugin's `tracing` events to the host of the installation that emitted them.
//!
//! A plugin image has its own copy of `tracing` and so its own global dispatcher, shared by every
//! installation in the process. The dispatcher installed here holds no installation: each event
//! goes to the *current* installation's sink, a thread-local that the installation's entry points
//! and tasks set for the duration of each call or poll ([`LogScoped`], [`with_sink`]). Two
//! installations in one process therefore never see each other's logs, and an event emitted
//! outside any installation is dropped rather than sent to a host that did not ask for it.
//! Spans are not forwarded (only their events are).

use std::cell::RefCell;
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
    static CURRENT: RefCell<Option<Arc<LogSink>>> = const { RefCell::new(None) };
}

/// Restores the previous sink when dropped (also on unwind).
struct Restore(Option<Arc<LogSink>>);

impl Drop for Restore {
    fn drop(&mut self) {
        let previous = self.0.take();
        let _ = CURRENT.try_with(|c| *c.borrow_mut() = previous);
    }
}

fn enter(sink: &Arc<LogSink>) -> Restore {
    Restore(CURRENT.with(|c| c.borrow_mut().replace(sink.clone())))
}

/// Runs `f` with `sink` as the current installation's sink.
pub fn with_sink<T>(sink: &Arc<LogSink>, f: impl FnOnce() -> T) -> T {
    let _restore = enter(sink);
    f()
}

/// A future whose every poll runs with an installation's sink current.
pub struct LogScoped<F> {
    sink: Arc<LogSink>,
    inner: Pin<Box<F>>,
}

impl<F> LogScoped<F> {
    /// Wraps `inner`.
    pub fn new(sink: Arc<LogSink>, inner: F) -> Self {
        LogScoped { sink, inner: Box::pin(inner) }
    }
}

impl<F: Future> Future for LogScoped<F> {
    type Output = F::Output;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = &mut *self;
        let _restore = enter(&this.sink);
        this.inner.as_mut().poll(cx)
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
    CURRENT.try_with(|c| c.borrow().as_ref().is_some_and(|s| level <= &s.max_level)).unwrap_or(false)
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
        let Some(sink) = CURRENT.try_with(|c| c.borrow().clone()).ok().flatten() else { return };
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

    fn enter(&self, _span: &Id) {}

    fn exit(&self, _span: &Id) {}
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

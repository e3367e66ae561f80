//! What the operator sees of an integration's short connection, kept in the shared KV store:
//! the last verification, callback, refusal and error (one key per field), callback counters per
//! minute, outcome and instance (each instance writes only its own, so no two ever contend;
//! they expire after the hour they are shown for), and the streams not sealed yet (a count per
//! instance, which expires when its instance is gone).
//!
//! Callbacks and open streams are counted by a [`Recorder`] in the installation's memory and
//! written to the store every `WECOM_SHORT_STATUS_FLUSH_MS` (and when the installation stops): a
//! callback costs no store write for its bookkeeping, and the tab lags by at most that interval.
//! Recording never fails a callback: a store error is logged and the callback goes on.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use host_sdk::{Error, I18nText};
use parking_lot::Mutex;
use serde_json::{json, Value};

use crate::keys;
use crate::state::{rfc3339, PluginState};

/// One minute in milliseconds.
const MINUTE_MS: i64 = 60_000;
/// Counters are shown for the last hour; they expire a little after it.
const COUNT_TTL_MS: u64 = 62 * 60_000;
/// The last-event fields live a month.
const FIELD_TTL_MS: u64 = 31 * 24 * 3600 * 1000;
/// How long an instance's count of open streams outlives its last write: a count is written
/// again at least every third of it while it is not zero, so only a vanished instance's expires.
const INFLIGHT_TTL_MS: i64 = 60_000;

/// Why a callback was refused: a stable code (logs, counters, the Status tab), its HTTP status
/// and a description that never includes a secret or a value from the request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// The body is larger than `WECOM_SHORT_MAX_BODY_BYTES` (413).
    TooLarge,
    /// The query string cannot be read exactly (400).
    MalformedQuery,
    /// `msg_signature`, `timestamp` or `nonce` is missing (401).
    Unsigned,
    /// The body has no `encrypt` field: a plaintext callback (400).
    NoEncrypt,
    /// The body is neither JSON nor an XML envelope (400).
    MalformedBody,
    /// The signature does not match the Token (403).
    BadSignature,
    /// The ciphertext does not decrypt with the EncodingAESKey (400).
    DecryptFailed,
    /// The decrypted callback is not a callback this plugin can type (400).
    BadPayload,
    /// The integration's own options are invalid, so nothing can be verified (503).
    ConfigInvalid,
    /// The shared store could not be read to answer a refresh (503: WeCom calls again). Never
    /// answered as an unknown stream, which would seal a stream that is still being written.
    StoreUnavailable,
}

impl Refusal {
    /// The stable code.
    pub fn code(self) -> &'static str {
        match self {
            Refusal::TooLarge => "body_too_large",
            Refusal::MalformedQuery => "malformed_query",
            Refusal::Unsigned => "unsigned",
            Refusal::NoEncrypt => "no_encrypt",
            Refusal::MalformedBody => "malformed_body",
            Refusal::BadSignature => "bad_signature",
            Refusal::DecryptFailed => "decrypt_failed",
            Refusal::BadPayload => "bad_payload",
            Refusal::ConfigInvalid => "config_invalid",
            Refusal::StoreUnavailable => "store_unavailable",
        }
    }

    /// The HTTP status of the refusal.
    pub fn status(self) -> u16 {
        match self {
            Refusal::TooLarge => 413,
            Refusal::Unsigned => 401,
            Refusal::BadSignature => 403,
            Refusal::ConfigInvalid | Refusal::StoreUnavailable => 503,
            _ => 400,
        }
    }

    /// What is wrong, in words.
    pub fn describe(self) -> &'static str {
        match self {
            Refusal::TooLarge => "the body exceeds the size limit",
            Refusal::MalformedQuery => "the query string is malformed",
            Refusal::Unsigned => "msg_signature, timestamp and nonce are all required",
            Refusal::NoEncrypt => "the body has no encrypt field (plaintext callbacks are not accepted)",
            Refusal::MalformedBody => "the body is neither a JSON object nor an XML envelope",
            Refusal::BadSignature => "the signature does not match the integration's Token",
            Refusal::DecryptFailed => "the ciphertext does not decrypt with the integration's EncodingAESKey",
            Refusal::BadPayload => "the decrypted callback is not a WeCom callback",
            Refusal::ConfigInvalid => "the integration's Token or EncodingAESKey is invalid",
            Refusal::StoreUnavailable => "the shared store could not be read to answer this refresh",
        }
    }
}

/// Records a field, logging (not failing) when the store is unavailable; whether it did.
async fn set_field(state: &PluginState, integration_id: &str, field: &str, value: &str) -> bool {
    match state.host().kv().set(&keys::short_status(integration_id, field), value, FIELD_TTL_MS).await {
        Ok(()) => true,
        Err(e) => {
            tracing::debug!(integration_id, field, error = %e, "recording the short connection's status failed");
            false
        }
    }
}

/// Callback bookkeeping of one installation on this instance, written to the store in batches.
pub struct Recorder {
    state: Arc<PluginState>,
    instance: String,
    interval: Duration,
    pending: Mutex<Pending>,
    flusher: AtomicBool,
}

#[derive(Default)]
struct Pending {
    /// Last-event fields not written yet: (integration, field) → value.
    fields: HashMap<(String, &'static str), String>,
    /// This instance's totals: (integration, minute, outcome) → (count, written?).
    counts: HashMap<(String, i64, String), (u64, bool)>,
    /// This instance's streams opened and not sealed yet, per integration.
    open_streams: HashMap<String, OpenStreams>,
}

/// What one flush could not write (the store failed), to be marked pending again.
#[derive(Default)]
struct Unwritten {
    fields: Vec<((String, &'static str), String)>,
    counts: Vec<(String, i64, String)>,
    open_streams: Vec<String>,
}

impl Unwritten {
    fn is_empty(&self) -> bool {
        self.fields.is_empty() && self.counts.is_empty() && self.open_streams.is_empty()
    }
}

/// An integration's open streams on this instance, and when their count was last written.
#[derive(Default)]
struct OpenStreams {
    count: u64,
    /// Host clock (Unix ms) of the last write; `None`: the count changed since.
    written_at: Option<i64>,
}

impl Recorder {
    /// A recorder writing every `interval` as `instance`.
    pub fn new(state: Arc<PluginState>, instance: String, interval: Duration) -> Arc<Self> {
        Arc::new(Recorder {
            state,
            instance,
            interval: interval.max(Duration::from_millis(1)),
            pending: Mutex::new(Pending::default()),
            flusher: AtomicBool::new(false),
        })
    }

    fn count(self: &Arc<Self>, integration_id: &str, outcome: String, fields: &[(&'static str, String)]) {
        let minute = self.state.host().now_ms().div_euclid(MINUTE_MS);
        {
            let mut pending = self.pending.lock();
            let entry = pending.counts.entry((integration_id.to_string(), minute, outcome)).or_insert((0, false));
            entry.0 += 1;
            entry.1 = false;
            for (field, value) in fields {
                pending.fields.insert((integration_id.to_string(), field), value.clone());
            }
        }
        self.start_flusher();
    }

    /// An accepted callback of kind `kind` (`message`, `refresh`, `event`, `retry`, `disabled`).
    pub fn accepted(self: &Arc<Self>, integration_id: &str, kind: &str) {
        let now = self.state.now_rfc3339();
        self.count(integration_id, format!("accepted:{kind}"), &[("lastCallbackAt", now)]);
    }

    /// A refused callback.
    pub fn refused(self: &Arc<Self>, integration_id: &str, refusal: Refusal) {
        let now = self.state.now_rfc3339();
        let error = format!("callback refused ({}): {}", refusal.code(), refusal.describe());
        self.count(
            integration_id,
            format!("refused:{}", refusal.code()),
            &[
                ("lastRefusedAt", now.clone()),
                ("lastRefusal", refusal.code().to_string()),
                ("lastError", error),
                ("lastErrorAt", now),
            ],
        );
    }

    fn start_flusher(self: &Arc<Self>) {
        if self.flusher.swap(true, Ordering::AcqRel) {
            return;
        }
        let this = self.clone();
        let stopping = self.state.scope.cancellation();
        let spawned = self.state.scope.spawn(async move {
            loop {
                let stop = tokio::select! {
                    () = tokio::time::sleep(this.interval) => false,
                    () = stopping.cancelled() => true,
                };
                this.flush(stop).await;
                if stop {
                    return;
                }
            }
        });
        if spawned.is_err() {
            // Stopping: nothing flushes any more, so nothing is kept for it either.
            self.pending.lock().fields.clear();
        }
    }

    /// A stream of `integration_id` got its first open frame: it is in flight until sealed.
    pub fn stream_opened(self: &Arc<Self>, integration_id: &str) {
        {
            let mut pending = self.pending.lock();
            let open = pending.open_streams.entry(integration_id.to_string()).or_default();
            open.count += 1;
            open.written_at = None;
        }
        self.start_flusher();
    }

    /// A stream of `integration_id` that was in flight is sealed (or can no longer be polled).
    pub fn stream_sealed(self: &Arc<Self>, integration_id: &str) {
        if let Some(open) = self.pending.lock().open_streams.get_mut(integration_id) {
            open.count = open.count.saturating_sub(1);
            open.written_at = None;
        }
        self.start_flusher();
    }

    /// Writes what changed since the last flush. `stopping`: the installation's tasks are ending,
    /// so none of its streams is in flight any more.
    pub async fn flush(&self, stopping: bool) {
        let now = self.state.host().now_ms();
        let now_minute = now.div_euclid(MINUTE_MS);
        let open_streams = self.open_streams_due(now, stopping);
        let (fields, counts) = {
            let mut pending = self.pending.lock();
            let fields: Vec<_> = pending.fields.drain().collect();
            pending.counts.retain(|(_, minute, _), _| *minute > now_minute - 61);
            let counts: Vec<_> = pending
                .counts
                .iter_mut()
                .filter(|(_, (_, written))| !*written)
                .map(|(key, (n, written))| {
                    *written = true;
                    (key.clone(), *n)
                })
                .collect();
            (fields, counts)
        };
        let kv = self.state.host().kv();
        // What could not be written goes back to pending, so the next flush tries again (a
        // store that blinked must not lose the refusals it caused).
        let mut unwritten = Unwritten::default();
        for ((integration_id, field), value) in fields {
            if !set_field(&self.state, &integration_id, field, &value).await {
                unwritten.fields.push(((integration_id, field), value));
            }
        }
        for ((integration_id, minute, outcome), n) in counts {
            let key = keys::short_count(&integration_id, minute, &outcome, &self.instance);
            if let Err(e) = kv.set(&key, &n.to_string(), COUNT_TTL_MS).await {
                tracing::debug!(integration_id, error = %e, "writing the callback counters failed");
                unwritten.counts.push((integration_id, minute, outcome));
            }
        }
        for (integration_id, count) in open_streams {
            let key = keys::short_inflight(&integration_id, &self.instance);
            let written = if count == 0 {
                kv.delete(&key).await.map(drop)
            } else {
                kv.set(&key, &count.to_string(), INFLIGHT_TTL_MS as u64).await
            };
            if let Err(e) = written {
                tracing::debug!(integration_id, error = %e, "writing the count of streams in flight failed");
                unwritten.open_streams.push(integration_id);
            }
        }
        if !unwritten.is_empty() {
            let mut pending = self.pending.lock();
            for (key, value) in unwritten.fields {
                // A newer value recorded meanwhile wins.
                pending.fields.entry(key).or_insert(value);
            }
            for key in unwritten.counts {
                if let Some((_, written)) = pending.counts.get_mut(&key) {
                    *written = false;
                }
            }
            for integration_id in unwritten.open_streams {
                // A zero count is gone already; its key expires on its own.
                if let Some(open) = pending.open_streams.get_mut(&integration_id) {
                    open.written_at = None;
                }
            }
        }
    }

    /// The open-stream counts to write now: changed ones, and non-zero ones whose last write is
    /// a third of their expiry old. Zero counts are forgotten once taken.
    fn open_streams_due(&self, now: i64, stopping: bool) -> Vec<(String, u64)> {
        let mut pending = self.pending.lock();
        let mut due = Vec::new();
        pending.open_streams.retain(|integration_id, open| {
            if stopping {
                open.count = 0;
                open.written_at = None;
            }
            let stale = open.written_at.is_none_or(|at| now - at >= INFLIGHT_TTL_MS / 3);
            if stale {
                due.push((integration_id.clone(), open.count));
                open.written_at = Some(now);
            }
            open.count > 0
        });
        due
    }
}

/// A URL verification: `Ok` or the reason it failed.
pub async fn verification(state: &PluginState, integration_id: &str, result: Result<(), &str>) {
    set_field(state, integration_id, "lastVerificationAt", &state.now_rfc3339()).await;
    set_field(state, integration_id, "lastVerificationResult", result.err().unwrap_or("ok")).await;
    if let Err(why) = result {
        error(state, integration_id, &format!("URL verification failed: {why}")).await;
    }
}

/// The last error (secret-free by construction of its callers).
pub async fn error(state: &PluginState, integration_id: &str, message: &str) {
    set_field(state, integration_id, "lastError", message).await;
    set_field(state, integration_id, "lastErrorAt", &state.now_rfc3339()).await;
}

/// The Status tab's item of a `wecom` integration.
pub async fn read(state: &PluginState, integration_id: &str, enabled: bool, bound: bool) -> Result<Value, Error> {
    let fields = state.scan_all(&keys::short_status_prefix(integration_id)).await?;
    let field = |name: &str| fields.get(name).cloned();
    let counts = state.scan_all(&keys::short_counts_prefix(integration_id)).await?;
    let now_minute = state.host().now_ms().div_euclid(MINUTE_MS);
    let mut accepted: BTreeMap<String, u64> = BTreeMap::new();
    let mut refused: BTreeMap<String, u64> = BTreeMap::new();
    for (rest, value) in &counts {
        // `<minute>:<accepted|refused>:<what>:<instance>`
        let mut parts = rest.splitn(4, ':');
        let (Some(minute), Some(side), Some(what)) = (parts.next(), parts.next(), parts.next()) else { continue };
        let Ok(minute) = minute.parse::<i64>() else { continue };
        if minute <= now_minute - 60 || minute > now_minute {
            continue;
        }
        let n = value.parse::<u64>().unwrap_or(0);
        let target = if side == "refused" { &mut refused } else { &mut accepted };
        *target.entry(what.to_string()).or_default() += n;
    }
    // One count per instance (keys of earlier versions, one per stream, hold "1").
    let in_flight: u64 = state
        .scan_all(&keys::short_inflight_prefix(integration_id))
        .await?
        .values()
        .map(|v| v.parse::<u64>().unwrap_or(0))
        .sum();
    let (state_name, state_text) = match (enabled, bound) {
        (false, _) => (
            "disabled",
            I18nText::new(
                "Disabled: WeCom's callbacks are acknowledged with an empty answer and not handled",
                "已停用：企业微信的回调以空回复确认，不做处理",
            ),
        ),
        (true, false) => (
            "unbound",
            I18nText::new(
                "No published WeCom Trigger: users are told the bot is not connected to a Digital Expert",
                "没有已发布的企业微信触发器：用户会收到“未连接数字专家”的提示",
            ),
        ),
        (true, true) => ("receiving", I18nText::new("Receiving callbacks", "正在接收回调")),
    };
    let refused_summary = if refused.is_empty() {
        "none".to_string()
    } else {
        refused.iter().map(|(reason, n)| format!("{reason} {n}")).collect::<Vec<_>>().join(", ")
    };
    Ok(json!({
        "connectionMode": "short_connection",
        "state": state_name,
        "stateText": state_text,
        "lastVerificationAt": field("lastVerificationAt"),
        "lastVerificationResult": field("lastVerificationResult"),
        "lastCallbackAt": field("lastCallbackAt"),
        "lastRefusedAt": field("lastRefusedAt"),
        "lastRefusal": field("lastRefusal"),
        "lastError": field("lastError"),
        "lastErrorAt": field("lastErrorAt"),
        "acceptedLastHour": accepted.values().sum::<u64>(),
        "refusedLastHour": refused.values().sum::<u64>(),
        "acceptedByKind": accepted,
        "refusedByReason": refused,
        "refusedSummary": refused_summary,
        "streamsInFlight": in_flight,
        "generatedAt": rfc3339(state.host().now_ms()),
    }))
}

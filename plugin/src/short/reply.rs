//! The short connection's [`ReplyChannel`]. WeCom's HTTP call waits for the first answer: the
//! pipeline's first frame is handed to the waiting webhook (a oneshot) and becomes the passive
//! answer, which the webhook stores (a text message's thinking frame is given by the webhook
//! itself, [`FirstAnswer::Given`]). Every later frame of the stream is written to the shared KV
//! store as its snapshot; WeCom's refresh callbacks find the snapshot (or, before the second
//! frame, the stored first one) on whichever instance they land, and on the instance writing the
//! stream in its memory ([`LocalStreams`]). What a stream can no longer carry (its window passed,
//! or a continuation stream WeCom never heard of) goes to the callback's `response_url`, which
//! works once.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use host_sdk::BoxFuture;
use parking_lot::Mutex;
use serde_json::{json, Value};
use tokio::sync::oneshot;

use super::{status, ShortSettings};
use crate::http_client::HttpClient;
use crate::keys;
use crate::pipeline::{ReplyChannel, ReplyError};
use crate::protocol::command::{
    card_body, stream_body, stream_with_card_body, truncate_utf8, update_card_body, CONTENT_LIMIT,
};
use crate::state::PluginState;

/// How often a sealing frame the store refused is offered to it again.
const SEAL_RETRY: Duration = Duration::from_secs(1);

/// The reply body of a refresh for a stream nobody knows (restart, expiry): seals it, empty.
pub fn unknown_stream_body(stream_id: &str) -> Value {
    stream_body(stream_id, "", true)
}

/// How a callback's first answer reaches WeCom.
pub enum FirstAnswer {
    /// The webhook waits for the pipeline's first frame (it becomes the passive answer).
    Awaited(oneshot::Sender<String>),
    /// The webhook already answered with this frame (the stream's opening, which the pipeline
    /// sends first as well): the pipeline's first frame, when identical, needs nothing more.
    Given(String),
}

/// What one callback's answer needs besides the installation.
pub struct ShortReplyParams {
    /// The integration.
    pub integration_id: String,
    /// The stream the passive answer opens (the pipeline's `event.stream_id`).
    pub stream_id: String,
    /// When the user sent the message (Unix ms): WeCom polls the stream for the window from it.
    pub started_ms: i64,
    /// The callback's single-use `response_url`, if it carried one.
    pub response_url: Option<String>,
    /// The integration's `timeoutMs` for the `response_url` call.
    pub timeout: Duration,
}

/// The latest frame of each stream this instance's pipelines are writing, by its KV key. A
/// stream has one writer (the pipeline on the instance that took its msgid), so for a refresh
/// landing on that instance this is the stream's current state, without a store read; refreshes
/// landing elsewhere, or after the pipeline ended, read the shared store. An entry lives as long
/// as its [`ShortReply`], or, when the store refused the stream's sealing frame, until that frame
/// is stored.
#[derive(Default)]
pub struct LocalStreams(Mutex<HashMap<String, Arc<str>>>);

impl LocalStreams {
    /// The latest frame of `stream_id` when a pipeline of this instance is writing it.
    pub fn latest(&self, integration_id: &str, stream_id: &str) -> Option<Arc<str>> {
        self.0.lock().get(&keys::short_stream(integration_id, stream_id)).cloned()
    }

    fn put(&self, key: &str, frame: &str) {
        self.0.lock().insert(key.to_string(), Arc::from(frame));
    }

    fn remove(&self, key: &str) {
        self.0.lock().remove(key);
    }
}

/// Answers one short-connection callback.
pub struct ShortReply {
    state: Arc<PluginState>,
    settings: Arc<ShortSettings>,
    /// Where the stream's being in flight is counted.
    recorder: Arc<status::Recorder>,
    /// Where refreshes on this instance find the stream's latest frame.
    local: Arc<LocalStreams>,
    /// The stream's snapshot key in the KV store (and in `local`).
    stream_key: String,
    params: ShortReplyParams,
    /// The webhook waiting for the passive answer (taken by the first answer).
    first: Mutex<Option<oneshot::Sender<String>>>,
    /// The first frame the webhook already gave WeCom as the passive answer (and stored), so
    /// the pipeline's identical first frame has nothing left to do.
    given: Mutex<Option<String>>,
    /// The `response_url`, taken by its one use.
    response_url: Mutex<Option<String>>,
    /// Whether the stream is marked in flight (between its first open frame and its seal).
    in_flight: std::sync::atomic::AtomicBool,
    /// The store refused the sealing frame: `local` keeps it past this reply, until a task of
    /// [`ShortReply::keep_sealing`] has stored it.
    seal_unstored: std::sync::atomic::AtomicBool,
    /// When the main stream's first frame was handled (Unix ms, host clock; 0: not yet).
    first_frame_ms: std::sync::atomic::AtomicI64,
}

impl ShortReply {
    /// A reply channel whose first answer goes to `first` (the waiting webhook).
    pub fn new(
        state: Arc<PluginState>,
        settings: Arc<ShortSettings>,
        recorder: Arc<status::Recorder>,
        local: Arc<LocalStreams>,
        mut params: ShortReplyParams,
        first: FirstAnswer,
    ) -> Self {
        let stream_key = keys::short_stream(&params.integration_id, &params.stream_id);
        let (first, given) = match first {
            FirstAnswer::Awaited(tx) => (Some(tx), None),
            FirstAnswer::Given(body) => {
                local.put(&stream_key, &body);
                (None, Some(body))
            }
        };
        let response_url = params.response_url.take();
        ShortReply {
            state,
            settings,
            recorder,
            local,
            stream_key,
            params,
            first: Mutex::new(first),
            given: Mutex::new(given),
            response_url: Mutex::new(response_url),
            in_flight: std::sync::atomic::AtomicBool::new(false),
            seal_unstored: std::sync::atomic::AtomicBool::new(false),
            first_frame_ms: std::sync::atomic::AtomicI64::new(0),
        }
    }

    /// When WeCom stops polling the stream (Unix ms).
    fn window_end_ms(&self) -> i64 {
        self.params.started_ms.saturating_add(self.settings.stream_window.as_millis() as i64)
    }

    /// Whether `plain` is the first frame the webhook already gave (true once).
    fn already_given(&self, plain: &str) -> bool {
        let mut given = self.given.lock();
        if given.as_deref() == Some(plain) {
            *given = None;
            return true;
        }
        false
    }

    /// Hands `plain` to the waiting webhook; false when it no longer waits (or already answered).
    fn answer_first(&self, plain: &str) -> bool {
        let answered = match self.first.lock().take() {
            Some(tx) => tx.send(plain.to_string()).is_ok(),
            None => false,
        };
        if answered {
            self.local.put(&self.stream_key, plain);
        }
        answered
    }

    /// Stores a snapshot of the main stream for refreshes, and counts the stream in flight
    /// from its first open frame to its seal.
    async fn snapshot(&self, body: &Value, finish: bool, ttl_ms: u64) {
        let this = &self.params;
        let body = body.to_string();
        let stored = self.state.host().kv().set(&self.stream_key, &body, ttl_ms.max(1)).await;
        self.local.put(&self.stream_key, &body);
        if let Err(e) = stored {
            tracing::warn!(integration_id = %this.integration_id, error = %e, "storing a stream snapshot failed");
            if finish {
                self.keep_sealing(body);
            }
        }
        if finish {
            self.sealed();
        } else {
            self.opened();
        }
    }

    /// The store refused the sealing frame `body`. Left so, refreshes would find the stream
    /// open in the store until WeCom's window ends. So this instance keeps answering them with
    /// the seal from its memory, and a task offers the seal to the store every [`SEAL_RETRY`]
    /// until it is taken (refreshes on other instances then see it too) or the window is over.
    fn keep_sealing(&self, body: String) {
        use std::sync::atomic::Ordering;
        self.seal_unstored.store(true, Ordering::Release);
        let (state, local, key) = (self.state.clone(), self.local.clone(), self.stream_key.clone());
        let integration_id = self.params.integration_id.clone();
        // A minute past the window, as every snapshot: a last refresh may still be under way.
        let until = self.window_end_ms().saturating_add(60_000);
        let stopping = self.state.scope.cancellation();
        let spawned = self.state.scope.spawn(async move {
            loop {
                tokio::select! {
                    () = tokio::time::sleep(SEAL_RETRY) => {}
                    () = stopping.cancelled() => break,
                }
                let left = until.saturating_sub(state.host().now_ms());
                if left <= 0 {
                    break;
                }
                if state.host().kv().set(&key, &body, left as u64).await.is_ok() {
                    tracing::info!(integration_id = %integration_id, "a stream's sealing frame was stored after the store came back");
                    break;
                }
            }
            local.remove(&key);
        });
        if spawned.is_err() {
            // The installation is stopping: nothing would ever let go of the frame in memory.
            self.seal_unstored.store(false, Ordering::Release);
        }
    }

    /// The stream is in flight (from its first open frame).
    fn opened(&self) {
        if !self.in_flight.swap(true, std::sync::atomic::Ordering::AcqRel) {
            self.recorder.stream_opened(&self.params.integration_id);
        }
    }

    /// The stream is no longer in flight (sealed, or out of WeCom's polling window).
    fn sealed(&self) {
        if self.in_flight.swap(false, std::sync::atomic::Ordering::AcqRel) {
            self.recorder.stream_sealed(&self.params.integration_id);
        }
    }

    fn frame(
        self: &Arc<Self>,
        stream_id: &str,
        body: Value,
        finish: bool,
    ) -> BoxFuture<'static, Result<(), ReplyError>> {
        let this = self.clone();
        let stream_id = stream_id.to_string();
        Box::pin(async move {
            if stream_id != this.params.stream_id {
                // WeCom only polls the stream the passive answer opened: a further stream (the
                // rest of a long answer) can only reach the user through response_url.
                let content = body["stream"]["content"].as_str().unwrap_or_default().to_string();
                return this.post_markdown(&content).await;
            }
            let now = this.state.host().now_ms();
            let _ = this.first_frame_ms.compare_exchange(
                0,
                now,
                std::sync::atomic::Ordering::AcqRel,
                std::sync::atomic::Ordering::Acquire,
            );
            let left = this.window_end_ms().saturating_sub(now);
            if left <= 0 && finish {
                // WeCom stopped polling: the sealing frame can only reach the user through
                // response_url (once). The pipeline seals before the window ends when it can
                // (`stream_lifetime`); this catches an answer that outlived it anyway.
                this.sealed();
                let content = body["stream"]["content"].as_str().unwrap_or_default().to_string();
                return this.post_markdown(&content).await;
            }
            if left <= 0 {
                return Err(ReplyError::StreamExpired(
                    "WeCom no longer polls this stream: its window since the user's message has passed".into(),
                ));
            }
            // The first frame is the passive answer: the webhook stores it (as every retry's
            // answer) before it answers WeCom, and refreshes find it there until a later frame
            // is stored as the stream's snapshot.
            let plain = body.to_string();
            if this.already_given(&plain) || this.answer_first(&plain) {
                if !finish {
                    this.opened();
                }
                return Ok(());
            }
            // Kept a minute past the window: a last refresh may still be under way.
            this.snapshot(&body, finish, left as u64 + 60_000).await;
            Ok(())
        })
    }

    fn passive_only(&self, body: Value, what: &str) -> BoxFuture<'static, Result<(), ReplyError>> {
        let answered = self.answer_first(&body.to_string());
        let what = what.to_string();
        Box::pin(async move {
            if answered {
                Ok(())
            } else {
                Err(ReplyError::Lost(format!("{what}: WeCom's call was already answered or its 5 s passed")))
            }
        })
    }

    /// Posts markdown to the response_url, once.
    async fn post_markdown(&self, markdown: &str) -> Result<(), ReplyError> {
        let integration_id = &self.params.integration_id;
        let Some(url) = self.response_url.lock().take() else {
            return Err(ReplyError::Lost(
                "response_url: none left (it is single use, and this callback's was used or never given)".into(),
            ));
        };
        if !self.settings.origin_allowed(&url) {
            let host = reqwest::Url::parse(&url).ok().and_then(|u| u.host_str().map(str::to_string));
            let message = format!(
                "response_url refused: its origin ({}) is not in WECOM_API_ORIGINS",
                host.as_deref().unwrap_or("unreadable")
            );
            tracing::warn!(integration_id = %integration_id, "{message}");
            status::error(&self.state, integration_id, &message).await;
            return Err(ReplyError::Failed(message));
        }
        let tls = self.settings.tls.get().map_err(|e| ReplyError::Failed(format!("response_url: {e}")))?;
        let client = HttpClient::new(&tls, self.params.timeout).map_err(|e| ReplyError::Failed(e.to_string()))?;
        let body = json!({"msgtype": "markdown", "markdown": {"content": truncate_utf8(markdown, CONTENT_LIMIT)}});
        let result = match client.post_json(&url, &body).await {
            Ok(answer) => match answer.get("errcode").and_then(Value::as_i64) {
                Some(0) => Ok(()),
                code => Err(format!(
                    "response_url answered errcode {}: {}",
                    code.map_or_else(|| "(none)".to_string(), |c| c.to_string()),
                    answer.get("errmsg").and_then(Value::as_str).unwrap_or_default()
                )),
            },
            Err(e) => Err(format!("response_url: {e}")),
        };
        match result {
            Ok(()) => {
                tracing::info!(integration_id = %integration_id, "answer sent through response_url");
                Ok(())
            }
            Err(message) => {
                tracing::warn!(integration_id = %integration_id, "{message}");
                status::error(&self.state, integration_id, &message).await;
                Err(ReplyError::Failed(message))
            }
        }
    }
}

impl Drop for ShortReply {
    /// A pipeline that ended (or was cancelled) without sealing the stream leaves nothing in
    /// flight: nothing will write to the stream any more.
    fn drop(&mut self) {
        self.sealed();
        // Refreshes from now on read the shared store, where every frame was written; a seal
        // the store refused stays in memory until its task has stored it.
        if !self.seal_unstored.load(std::sync::atomic::Ordering::Acquire) {
            self.local.remove(&self.stream_key);
        }
    }
}

/// The channel the pipeline holds: the reply behind an `Arc` (its futures outlive the call).
#[derive(Clone)]
pub struct ShortChannel(pub Arc<ShortReply>);

impl ReplyChannel for ShortChannel {
    fn stream(&self, stream_id: &str, content: &str, finish: bool) -> BoxFuture<'static, Result<(), ReplyError>> {
        self.0.frame(stream_id, stream_body(stream_id, content, finish), finish)
    }

    fn stream_with_card(
        &self,
        stream_id: &str,
        content: &str,
        card: &Value,
    ) -> BoxFuture<'static, Result<(), ReplyError>> {
        // WeCom takes a card with a stream only in the answer to the message callback itself;
        // an answer to a refresh may carry a stream alone. Refused here, the pipeline seals the
        // stream without the card.
        if self.0.first.lock().is_none() || stream_id != self.0.params.stream_id {
            return Box::pin(std::future::ready(Err(ReplyError::Failed(
                "the short connection shows a card only in the answer to the message itself, not in a refresh's".into(),
            ))));
        }
        self.0.frame(stream_id, stream_with_card_body(stream_id, content, card), true)
    }

    fn welcome(&self, card: &Value) -> BoxFuture<'static, Result<(), ReplyError>> {
        self.0.passive_only(card_body(card), "welcome")
    }

    fn update_card(&self, card: &Value) -> BoxFuture<'static, Result<(), ReplyError>> {
        self.0.passive_only(update_card_body(card), "card update")
    }

    fn send(&self, markdown: &str) -> BoxFuture<'static, Result<(), ReplyError>> {
        let this = self.0.clone();
        let markdown = markdown.to_string();
        Box::pin(async move { this.post_markdown(&markdown).await })
    }

    fn sends_left(&self) -> Option<usize> {
        // `response_url` works once.
        Some(usize::from(self.0.response_url.lock().is_some()))
    }

    fn stream_lifetime(&self) -> Duration {
        // Measured from the first frame, as the trait says: WeCom polls until its window (from
        // the user's message) ends; the pipeline must seal the stream a margin before that.
        let reply = &self.0;
        let first = match reply.first_frame_ms.load(std::sync::atomic::Ordering::Acquire) {
            0 => reply.state.host().now_ms(),
            ms => ms,
        };
        let usable = reply.window_end_ms().saturating_sub(first);
        let margin = reply.settings.stream_margin.as_millis() as i64;
        Duration::from_millis(usable.saturating_sub(margin).max(0) as u64)
    }
}

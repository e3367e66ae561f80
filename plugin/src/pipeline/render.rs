//! Renders an agent's answer as WeCom stream snapshots: a thinking frame at once, full-text
//! snapshots at most every `throttle`, and a sealing frame with the final text (or a fallback) —
//! the thinking bubble is always closed, whatever fails.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::reply::ReplyChannel;
use crate::i18n::Lang;
use crate::protocol::command::{truncate_utf8, CONTENT_LIMIT as MAX_STREAM_BYTES};

/// One answer being streamed.
pub struct StreamRenderer {
    reply: Arc<dyn ReplyChannel>,
    stream_id: String,
    throttle: Duration,
    lang: Lang,
    text: String,
    last_sent: Option<Instant>,
    sent_len: usize,
    finished: bool,
}

impl StreamRenderer {
    /// A renderer for the stream `stream_id`.
    pub fn new(reply: Arc<dyn ReplyChannel>, stream_id: String, throttle: Duration, lang: Lang) -> Self {
        StreamRenderer {
            reply,
            stream_id,
            throttle,
            lang,
            text: String::new(),
            last_sent: None,
            sent_len: 0,
            finished: false,
        }
    }

    async fn send(&mut self, content: &str, finish: bool) {
        let content = truncate_utf8(content, MAX_STREAM_BYTES);
        if let Err(e) = self.reply.stream(&self.stream_id, content, finish).await {
            tracing::warn!(stream_id = %self.stream_id, finish, error = %e, "a stream frame was refused");
        }
        self.last_sent = Some(Instant::now());
        self.finished |= finish;
    }

    /// The thinking frame, sent before the agent starts.
    pub async fn thinking(&mut self) {
        let text = self.lang.pick("Thinking…", "思考中…").to_string();
        self.send(&text, false).await;
    }

    /// Adds visible text; sends a snapshot when the throttle allows.
    pub async fn append(&mut self, delta: &str) {
        self.text.push_str(delta);
        let due = self.last_sent.is_none_or(|t| t.elapsed() >= self.throttle);
        if due && self.text.len() != self.sent_len && !self.text.trim().is_empty() {
            let snapshot = self.text.clone();
            self.sent_len = snapshot.len();
            self.send(&snapshot, false).await;
        }
    }

    /// Seals the stream with the whole answer (a fallback when the agent said nothing visible).
    pub async fn finish(&mut self) {
        let text = if self.text.trim().is_empty() {
            self.lang.pick("(The Digital Expert gave no answer.)", "（数字专家没有给出回答。）").to_string()
        } else {
            self.text.clone()
        };
        self.send(&text, true).await;
    }

    /// Seals the stream with an error text for the user.
    pub async fn fail(&mut self, message: &str) {
        let message = message.to_string();
        self.send(&message, true).await;
    }

    /// Whether a sealing frame was sent.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

//! Renders an agent's answer as WeCom stream snapshots: a thinking frame at once, full-text
//! snapshots at most every `throttle`, and a sealing frame with the final text (or a fallback) —
//! the thinking bubble is always closed, whatever fails. An answer longer than one frame allows
//! is cut on character boundaries and the rest follows as further sealed streams: nothing is lost.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::reply::ReplyChannel;
use crate::i18n::Lang;
use crate::protocol::command::{truncate_utf8, CONTENT_LIMIT as MAX_STREAM_BYTES};

/// `text` in pieces of at most `max` bytes, cut on character boundaries.
fn split_utf8(text: &str, max: usize) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = text;
    while !rest.is_empty() {
        let part = truncate_utf8(rest, max);
        let part = if part.is_empty() { &rest[..rest.chars().next().map_or(0, char::len_utf8)] } else { part };
        parts.push(part);
        rest = &rest[part.len()..];
    }
    if parts.is_empty() {
        parts.push("");
    }
    parts
}

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

    /// Adds visible text; sends a snapshot when the throttle allows (and when the first frame's
    /// worth of text changed: past the limit the rest waits for [`StreamRenderer::finish`]).
    pub async fn append(&mut self, delta: &str) {
        self.text.push_str(delta);
        let due = self.last_sent.is_none_or(|t| t.elapsed() >= self.throttle);
        let shown = truncate_utf8(&self.text, MAX_STREAM_BYTES).len();
        if due && shown != self.sent_len && !self.text.trim().is_empty() {
            let snapshot = self.text[..shown].to_string();
            self.sent_len = shown;
            self.send(&snapshot, false).await;
        }
    }

    /// Seals the stream with the whole answer (a fallback when the agent said nothing visible);
    /// what does not fit in one frame follows as further sealed streams.
    pub async fn finish(&mut self) {
        let text = if self.text.trim().is_empty() {
            self.lang.pick("(The Digital Expert gave no answer.)", "（数字专家没有给出回答。）").to_string()
        } else {
            self.text.clone()
        };
        self.seal(&text).await;
    }

    /// Seals the stream with an error text for the user, after whatever the agent already said.
    pub async fn fail(&mut self, message: &str) {
        let text =
            if self.text.trim().is_empty() { message.to_string() } else { format!("{}\n\n{message}", self.text) };
        self.seal(&text).await;
    }

    /// Sends `text` as the sealed main stream and, past the frame limit, as further sealed streams.
    async fn seal(&mut self, text: &str) {
        let mut parts = split_utf8(text, MAX_STREAM_BYTES).into_iter();
        let first = parts.next().unwrap_or_default();
        self.send(first, true).await;
        for (n, part) in parts.enumerate() {
            let stream_id = format!("{}-{}", self.stream_id, n + 2);
            if let Err(e) = self.reply.stream(&stream_id, part, true).await {
                tracing::warn!(stream_id = %stream_id, error = %e, "a continuation of a long answer was refused");
            }
        }
    }

    /// Whether a sealing frame was sent.
    pub fn is_finished(&self) -> bool {
        self.finished
    }
}

#[cfg(test)]
mod tests {
    use super::split_utf8;

    #[test]
    fn long_text_is_split_on_character_boundaries_and_nothing_is_lost() {
        let text = "中".repeat(10_000); // 30 000 bytes
        let parts = split_utf8(&text, 20_480);
        assert_eq!(parts.len(), 2);
        assert!(parts.iter().all(|p| p.len() <= 20_480));
        assert_eq!(parts.concat(), text);
        assert_eq!(split_utf8("", 10), [""]);
        assert_eq!(split_utf8("abc", 2), ["ab", "c"]);
    }
}

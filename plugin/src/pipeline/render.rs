//! Renders an agent's answer as WeCom stream snapshots: a thinking frame at once, full-text
//! snapshots at most every `throttle`, and a sealing frame with the final text (or a fallback) —
//! the thinking bubble is always closed, whatever fails. The agent's Markdown is converted to
//! WeCom's subset. An answer longer than one frame allows is cut on character boundaries and the
//! rest follows as messages to the same chat; so does whatever a stream can no longer carry (its
//! lifetime ended, WeCom answered 846608, the connection that brought the message is gone).
//! Nothing is lost, and nothing goes to another chat.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::reply::{ReplyChannel, ReplyError};
use super::{cards, markdown};
use crate::i18n::Lang;
use crate::metrics::Metrics;
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

/// The thinking frame's text: the first frame of every text message's answer.
pub fn thinking_text(lang: Lang) -> &'static str {
    lang.pick("Thinking…", "思考中…")
}

/// Where the answer goes next.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// The stream takes snapshots.
    Streaming,
    /// The stream is sealed or can no longer be updated: what the complete rendered answer has
    /// beyond `delivered` goes out with [`ReplyChannel::send`] when the answer is complete.
    HandedOff {
        /// The rendered answer as the user sees it in the stream. Kept as text, not as a length:
        /// rendering a partial answer is not always a prefix of rendering the whole (an open
        /// code fence is closed, a table becomes a list once complete).
        delivered: String,
    },
    /// The answer is complete and delivered.
    Done,
}

/// One answer being streamed.
pub struct StreamRenderer {
    reply: Arc<dyn ReplyChannel>,
    stream_id: String,
    throttle: Duration,
    lang: Lang,
    /// The agent's visible text so far, as it wrote it.
    text: String,
    last_sent: Option<Instant>,
    /// When the first frame went out: the stream's lifetime counts from then.
    first_frame_at: Option<Instant>,
    /// The rendered answer in the last snapshot WeCom accepted.
    shown: String,
    /// Bytes of the rendered answer in the last snapshot attempted.
    sent_len: usize,
    /// Text arrived since the last snapshot (held back by the throttle).
    unsent: bool,
    phase: Phase,
    /// Where expiries and fallbacks are counted, and for which integration.
    metrics: Option<(Arc<Metrics>, String)>,
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
            first_frame_at: None,
            shown: String::new(),
            sent_len: 0,
            unsent: false,
            phase: Phase::Streaming,
            metrics: None,
        }
    }

    /// Counts this answer's stream expiries and proactive fallbacks in `metrics`.
    pub fn observed_by(mut self, metrics: Arc<Metrics>, integration_id: &str) -> Self {
        self.metrics = Some((metrics, integration_id.to_string()));
        self
    }

    fn count(&self, pick: impl Fn(&Metrics) -> &prometheus::IntCounterVec) {
        if let Some((metrics, integration_id)) = &self.metrics {
            pick(metrics).with_label_values(&[integration_id.as_str()]).inc();
        }
    }

    /// The answer so far in WeCom's markdown.
    fn rendered(&self) -> String {
        markdown::to_wecom(&self.text)
    }

    /// When the stream must be sealed and continued by proactive messages (None once it is):
    /// its transport's usable lifetime after the first frame.
    pub fn handoff_at(&self) -> Option<Instant> {
        match self.phase {
            Phase::Streaming => self.first_frame_at.map(|t| t + self.reply.stream_lifetime()),
            _ => None,
        }
    }

    /// Sends one stream frame; a stream WeCom no longer takes hands the rest over to proactive
    /// messages (the user sees the last accepted snapshot). True when the frame was accepted.
    async fn frame(&mut self, content: &str, finish: bool, card: Option<&Value>) -> bool {
        let content = truncate_utf8(content, MAX_STREAM_BYTES);
        self.first_frame_at.get_or_insert_with(Instant::now);
        self.last_sent = Some(Instant::now());
        let sent = match card {
            Some(card) => self.reply.stream_with_card(&self.stream_id, content, card).await,
            None => self.reply.stream(&self.stream_id, content, finish).await,
        };
        match sent {
            Ok(()) => true,
            Err(e @ (ReplyError::StreamExpired(_) | ReplyError::Lost(_))) => {
                tracing::info!(stream_id = %self.stream_id, error = %e, "the stream can no longer be updated: the rest follows as messages");
                if matches!(e, ReplyError::StreamExpired(_)) {
                    self.count(|m| &m.stream_expiries);
                }
                self.phase = Phase::HandedOff { delivered: self.shown.clone() };
                false
            }
            Err(e) => {
                tracing::warn!(stream_id = %self.stream_id, finish, error = %e, "a stream frame was refused");
                false
            }
        }
    }

    /// The thinking frame, sent before the agent starts.
    pub async fn thinking(&mut self) {
        self.frame(thinking_text(self.lang), false, None).await;
    }

    /// Adds visible text; sends a snapshot when the throttle allows (and when the first frame's
    /// worth of text changed: past the limit the rest waits for [`StreamRenderer::finish`]).
    /// Text held back by the throttle goes out at [`StreamRenderer::snapshot_due_at`].
    pub async fn append(&mut self, delta: &str) {
        self.text.push_str(delta);
        self.unsent = true;
        self.flush().await;
    }

    /// When text held back by the throttle is due (None when nothing waits).
    pub fn snapshot_due_at(&self) -> Option<Instant> {
        if self.phase != Phase::Streaming || !self.unsent {
            return None;
        }
        Some(self.last_sent.map_or_else(Instant::now, |t| t + self.throttle))
    }

    /// Sends a snapshot of the text so far if the throttle allows; close to the stream's end of
    /// life, seals it and continues with proactive messages instead.
    pub async fn flush(&mut self) {
        if self.phase != Phase::Streaming {
            return;
        }
        if self.handoff_at().is_some_and(|at| Instant::now() >= at) {
            self.hand_off().await;
            return;
        }
        let due = self.last_sent.is_none_or(|t| t.elapsed() >= self.throttle);
        if !due {
            return;
        }
        self.unsent = false;
        if self.text.trim().is_empty() {
            return;
        }
        let rendered = self.rendered();
        let snapshot = truncate_utf8(&rendered, MAX_STREAM_BYTES);
        if snapshot.len() != self.sent_len {
            self.sent_len = snapshot.len();
            if self.frame(snapshot, false, None).await {
                self.shown = snapshot.to_string();
            }
        }
    }

    /// Seals the stream before WeCom stops taking its updates, with what is written so far and a
    /// note that the answer continues; the rest goes out as messages when the answer is complete.
    pub async fn hand_off(&mut self) {
        if self.phase != Phase::Streaming {
            return;
        }
        self.count(|m| &m.stream_expiries);
        let note = self.lang.pick("\n\n(continued in the next message)", "\n\n（未完，见下一条消息）");
        let rendered = self.rendered();
        let part = truncate_utf8(&rendered, MAX_STREAM_BYTES - note.len());
        let sealed = if part.trim().is_empty() { note.trim_start().to_string() } else { format!("{part}{note}") };
        let delivered = if self.frame(&sealed, true, None).await { part.to_string() } else { self.shown.clone() };
        // Whatever happened, the stream takes no more snapshots (no retry loop near its end).
        self.phase = Phase::HandedOff { delivered };
    }

    /// Seals the stream with the whole answer (a fallback when the agent said nothing visible);
    /// what does not fit in one frame follows as messages to the same chat.
    pub async fn finish(&mut self) {
        let text = if self.text.trim().is_empty() {
            self.lang.pick("(The Digital Expert gave no answer.)", "（数字专家没有给出回答。）").to_string()
        } else {
            self.rendered()
        };
        self.conclude(&text, None).await;
    }

    /// Seals the stream with an error text for the user, after whatever the agent already said,
    /// and a card whose button starts a new conversation.
    pub async fn fail(&mut self, message: &str) {
        let card = cards::reset(self.lang, &cards::task_id("reset", &self.stream_id));
        let text = self.with_note(message);
        self.conclude(&text, Some(&card)).await;
    }

    /// Seals the stream with a short notice (a confirmation, not an error), after whatever the
    /// agent already said.
    pub async fn notice(&mut self, message: &str) {
        let text = self.with_note(message);
        self.conclude(&text, None).await;
    }

    fn with_note(&self, message: &str) -> String {
        if self.text.trim().is_empty() {
            message.to_string()
        } else {
            format!("{}\n\n{message}", self.rendered())
        }
    }

    /// Delivers the complete answer `text`: the sealing frame while the stream lives (with
    /// `card` if any), then every byte the user does not see yet as messages to the same chat.
    async fn conclude(&mut self, text: &str, card: Option<&Value>) {
        if self.phase == Phase::Streaming {
            let first = truncate_utf8(text, MAX_STREAM_BYTES);
            let mut sealed = self.frame(first, true, card).await;
            if !sealed && card.is_some() && self.phase == Phase::Streaming {
                // The card was refused (WeCom shows one per message, and not every deployment
                // takes cards on streams): the bubble must still be closed, so seal without it.
                sealed = self.frame(first, true, None).await;
            }
            if sealed {
                self.shown = first.to_string();
                self.phase = Phase::HandedOff { delivered: first.to_string() };
            } else if self.phase == Phase::Streaming {
                // Refused for another reason: never resend what may have been applied.
                self.phase = Phase::HandedOff { delivered: first.to_string() };
            }
        }
        if let Phase::HandedOff { delivered } = &self.phase {
            // The rest starts where the answer stops matching what the user sees: nothing is
            // skipped, and at most the part rendered differently is shown again.
            let mut from = delivered.bytes().zip(text.bytes()).take_while(|(a, b)| a == b).count();
            while !text.is_char_boundary(from) {
                from -= 1;
            }
            let rest = text[from..].trim_start();
            if !rest.trim().is_empty() {
                self.count(|m| &m.stream_fallbacks);
                for part in self.continuation(rest) {
                    if let Err(e) = self.reply.send(&part).await {
                        tracing::warn!(stream_id = %self.stream_id, error = %e, "a continuation of an answer could not be sent");
                        break;
                    }
                }
            }
        }
        self.phase = Phase::Done;
    }

    /// The messages that carry `rest`: one per frame's worth, as many as the channel can still
    /// send. When it can send fewer, the last one is cut to end with a note that the answer is
    /// incomplete (the short connection's `response_url` delivers one message only).
    fn continuation(&self, rest: &str) -> Vec<String> {
        let parts = split_utf8(rest, MAX_STREAM_BYTES);
        let left = self.reply.sends_left().unwrap_or(usize::MAX);
        if parts.len() <= left {
            return parts.into_iter().map(str::to_string).collect();
        }
        tracing::warn!(stream_id = %self.stream_id, parts = parts.len(), left, "an answer is longer than the reply path can carry: it is cut, and the user is told");
        if left == 0 {
            return Vec::new();
        }
        let note = self.lang.pick(
            "\n\n(The answer is too long to show in full here; ask for the rest.)",
            "\n\n（回答过长，此处未能完整显示，可请求继续。）",
        );
        let mut kept: Vec<String> = parts[..left - 1].iter().map(|p| p.to_string()).collect();
        let last_start: usize = kept.iter().map(String::len).sum();
        kept.push(format!("{}{note}", truncate_utf8(&rest[last_start..], MAX_STREAM_BYTES - note.len())));
        kept
    }

    /// Whether the answer was concluded.
    pub fn is_finished(&self) -> bool {
        self.phase == Phase::Done
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};
    use std::time::Duration;

    use host_sdk::BoxFuture;
    use serde_json::Value;

    use super::{split_utf8, StreamRenderer};
    use crate::i18n::Lang;
    use crate::pipeline::{ReplyChannel, ReplyError};

    /// What reached the user through a channel whose streams live `lifetime` after their first
    /// frame: the stream's frames (content, finish) and the messages sent outside it.
    #[derive(Default)]
    struct Seen {
        lifetime: Duration,
        /// What `sends_left` says (`None`: no limit).
        sends: Option<usize>,
        frames: Mutex<Vec<(String, bool)>>,
        messages: Mutex<Vec<String>>,
    }

    impl ReplyChannel for Seen {
        fn stream(&self, _: &str, content: &str, finish: bool) -> BoxFuture<'static, Result<(), ReplyError>> {
            self.frames.lock().unwrap().push((content.to_string(), finish));
            Box::pin(std::future::ready(Ok(())))
        }
        fn stream_with_card(&self, id: &str, content: &str, _: &Value) -> BoxFuture<'static, Result<(), ReplyError>> {
            self.stream(id, content, true)
        }
        fn welcome(&self, _: &Value) -> BoxFuture<'static, Result<(), ReplyError>> {
            Box::pin(std::future::ready(Ok(())))
        }
        fn update_card(&self, _: &Value) -> BoxFuture<'static, Result<(), ReplyError>> {
            Box::pin(std::future::ready(Ok(())))
        }
        fn send(&self, markdown: &str) -> BoxFuture<'static, Result<(), ReplyError>> {
            self.messages.lock().unwrap().push(markdown.to_string());
            Box::pin(std::future::ready(Ok(())))
        }
        fn stream_lifetime(&self) -> Duration {
            self.lifetime
        }
        fn sends_left(&self) -> Option<usize> {
            self.sends.map(|n| n.saturating_sub(self.messages.lock().unwrap().len()))
        }
    }

    /// An answer of `len` bytes streamed through `seen` (whose streams outlive it) and finished.
    async fn answer(seen: &Arc<Seen>, len: usize) -> String {
        let text: String = (0..len).map(|i| char::from(b'a' + (i % 26) as u8)).collect();
        let mut renderer = StreamRenderer::new(seen.clone(), "s1".into(), Duration::ZERO, Lang::En);
        renderer.thinking().await;
        renderer.append(&text).await;
        renderer.finish().await;
        text
    }

    #[tokio::test]
    async fn an_answer_longer_than_the_reply_path_carries_is_cut_with_a_note_not_silently() {
        // Unlimited messages: the stream's frame and two messages carry every byte.
        let seen = Arc::new(Seen { lifetime: Duration::from_secs(600), ..Seen::default() });
        let text = answer(&seen, 50_000).await;
        let (sealed, _) = seen.frames.lock().unwrap().last().unwrap().clone();
        let messages = seen.messages.lock().unwrap().clone();
        assert_eq!(messages.len(), 2);
        assert_eq!(format!("{sealed}{}", messages.concat()), text, "nothing lost");

        // One message left (the short connection's response_url): it ends with the note.
        let seen = Arc::new(Seen { lifetime: Duration::from_secs(600), sends: Some(1), ..Seen::default() });
        let text = answer(&seen, 50_000).await;
        let messages = seen.messages.lock().unwrap().clone();
        assert_eq!(messages.len(), 1, "never more than the channel can send");
        let last = &messages[0];
        assert!(last.len() <= super::MAX_STREAM_BYTES, "{}", last.len());
        assert!(last.ends_with("(The answer is too long to show in full here; ask for the rest.)"), "the cut is told");
        let (sealed, _) = seen.frames.lock().unwrap().last().unwrap().clone();
        let shown = format!("{sealed}{}", last.split("\n\n(The answer").next().unwrap());
        assert!(text.starts_with(&shown), "what is shown is the answer's beginning, in order");

        // It fits: no note.
        let seen = Arc::new(Seen { lifetime: Duration::from_secs(600), sends: Some(1), ..Seen::default() });
        let text = answer(&seen, 30_000).await;
        let (sealed, _) = seen.frames.lock().unwrap().last().unwrap().clone();
        assert_eq!(format!("{sealed}{}", seen.messages.lock().unwrap().concat()), text);
    }

    #[tokio::test]
    async fn the_continuation_after_a_hand_off_mid_code_block_skips_nothing() {
        // A stream whose life ends at once: the first snapshot after the thinking frame seals it.
        let seen = Arc::new(Seen::default());
        let mut renderer = StreamRenderer::new(seen.clone(), "s1".into(), Duration::ZERO, Lang::En);
        renderer.thinking().await;
        // Sealed here, inside an open code fence, which the rendering closes for display.
        renderer.append("```rust\nfn a()").await;
        renderer.append(" {}\n```\nmore text").await;
        renderer.finish().await;
        let frames = seen.frames.lock().unwrap().clone();
        let (sealed, finish) = frames.last().unwrap().clone();
        assert!(finish && sealed.contains("fn a()"), "{frames:?}");
        let messages = seen.messages.lock().unwrap().concat();
        // What the sealed stream showed ended at `fn a()`: the rest must carry all that follows.
        assert!(messages.contains("{}") && messages.contains("more text"), "continuation: {messages:?}");
    }

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

//! The conversation pipeline: what happens between a typed WeCom event and what the user sees,
//! for both transports. A transport turns its traffic into an [`InboundEvent`] plus a
//! [`ReplyChannel`]; everything after that is here, and the pipeline never learns which
//! transport it serves.
//!
//! Today it answers each text message once (dedup by `msgid` in the shared store), keeps a
//! session per (chat, sender) whose conversation continues until the trigger's session timeout
//! (`/new` starts a new one, `/new <text>` with `<text>` as its first question; a leading
//! @mention is stripped in groups), routes the text to the bound Digital Expert and streams the
//! answer back (thinking first, throttled full-text snapshots, `finish` last), and welcomes users
//! who open a single chat. Aggregation and images are the conversation issue's.

mod aggregate;
mod cards;
mod event;
mod images;
pub mod markdown;
mod render;
mod reply;

use std::sync::Arc;
use std::time::Duration;

pub use event::{ChatKind, ImageRef, InboundEvent, InboundKind, MediaKey};
pub use render::{thinking_text, StreamRenderer};
pub use reply::{ReplyChannel, ReplyError};

use host_sdk::{AgentEvent, AgentRequest, Error};

use crate::http_client::HttpClient;
use crate::i18n::Lang;
use crate::long::transport::LazyTls;
use crate::state::PluginState;
use crate::{keys, sessions};

/// The text of a group message without the leading @mention of the bot, so that commands such
/// as `/new` are recognized after it.
fn strip_mention(text: &str) -> &str {
    let text = text.trim_start();
    match text.strip_prefix('@') {
        Some(rest) => rest.split_once(char::is_whitespace).map(|(_, after)| after.trim()).unwrap_or(""),
        None => text.trim(),
    }
}

/// The pipeline of one installation.
pub struct Pipeline {
    state: Arc<PluginState>,
    throttle: Duration,
    /// How long an agent run may stay silent before it is given up.
    agent_idle_timeout: Duration,
    tls: LazyTls,
    /// The HTTP client for images, built with `tls` at the first image.
    media: std::sync::OnceLock<Result<HttpClient, String>>,
}

impl Pipeline {
    /// A pipeline over an installation's state; `throttle` is the least time between two
    /// snapshots of one streamed answer; an agent silent for `agent_idle_timeout` is given up;
    /// `tls` is what image downloads trust.
    pub fn new(state: Arc<PluginState>, throttle: Duration, agent_idle_timeout: Duration, tls: LazyTls) -> Self {
        Pipeline { state, throttle, agent_idle_timeout, tls, media: std::sync::OnceLock::new() }
    }

    /// The client for image downloads (the reason when none can be built).
    fn media(&self) -> Result<&HttpClient, String> {
        let client = self.media.get_or_init(|| {
            let tls = self.tls.get()?;
            HttpClient::new(&tls, Duration::from_secs(30)).map_err(|e| e.to_string())
        });
        client.as_ref().map_err(Clone::clone)
    }

    /// Handles one event to its end, answering through `reply`. Errors are logged and, where a
    /// user waits for an answer, told to the user; nothing is left on "thinking".
    pub async fn handle(&self, event: InboundEvent, reply: Arc<dyn ReplyChannel>) {
        let integration_id = event.integration_id.clone();
        let kind = match &event.kind {
            InboundKind::Text { images, .. } if images.is_empty() => "text",
            InboundKind::Text { .. } => "media",
            InboundKind::EnterChat => "enter_chat",
            InboundKind::CardClick { .. } => "card_click",
            InboundKind::Feedback => "feedback",
            InboundKind::Unreadable { .. } => "unreadable",
            InboundKind::Other { .. } => "other",
        };
        self.state.metrics.callbacks.with_label_values(&[integration_id.as_str(), kind]).inc();
        match &event.kind {
            InboundKind::Text { text, .. } => {
                let text = text.clone();
                self.answer_text(&event, &text, reply).await;
            }
            InboundKind::EnterChat => {
                if event.chat_kind == ChatKind::Single {
                    let card = cards::welcome(event.lang, &cards::task_id("welcome", &event.stream_id));
                    if let Err(e) = reply.welcome(&card).await {
                        tracing::warn!(integration_id = %integration_id, error = %e, "welcome message failed");
                    }
                }
            }
            InboundKind::CardClick { event_key, task_id } => {
                if event_key != cards::RESET_KEY {
                    tracing::debug!(integration_id = %integration_id, event_key = %event_key, "a card button this plugin did not send");
                    return;
                }
                // WeCom waits 5 s for the card update: reset first (one store write), then answer.
                let session_id = sessions::session_id(&event.chat_id, &event.sender_id);
                let reset = sessions::reset(&self.state, &integration_id, &session_id).await;
                if let Err(e) = &reset {
                    tracing::warn!(integration_id = %integration_id, error = %e, "resetting a session from its card failed");
                }
                let card = cards::reset_done(event.lang, task_id, reset.is_ok());
                if let Err(e) = reply.update_card(&card).await {
                    tracing::warn!(integration_id = %integration_id, error = %e, "answering a card click failed");
                }
            }
            InboundKind::Feedback => {
                tracing::debug!(integration_id = %integration_id, "feedback on an answer: acknowledged with nothing");
            }
            InboundKind::Unreadable { msgid, msgtype } => {
                if !event.deduplicated && !msgid.is_empty() && !self.first_delivery(&integration_id, msgid).await {
                    self.state.metrics.dedup_hits.with_label_values(&[integration_id.as_str()]).inc();
                    return;
                }
                tracing::info!(integration_id = %integration_id, msgtype = %msgtype, "a message the bot cannot read: the user is told");
                let mut renderer = StreamRenderer::new(reply, event.stream_id.clone(), self.throttle, event.lang)
                    .observed_by(self.state.metrics.clone(), &integration_id);
                renderer.notice(&unreadable_notice(event.lang, msgtype)).await;
            }
            InboundKind::Other { kind } => {
                tracing::debug!(integration_id = %integration_id, kind = %kind, "event not handled yet");
            }
        }
    }

    async fn answer_text(&self, event: &InboundEvent, text: &str, reply: Arc<dyn ReplyChannel>) {
        let integration_id = &event.integration_id;
        let lang = event.lang;
        if let InboundKind::Text { msgid, .. } = &event.kind {
            if !event.deduplicated && !msgid.is_empty() && !self.first_delivery(integration_id, msgid).await {
                tracing::info!(integration_id = %integration_id, msgid = %msgid, "a message seen before: not answered twice");
                self.state.metrics.dedup_hits.with_label_values(&[integration_id.as_str()]).inc();
                return;
            }
        }
        let mut renderer = StreamRenderer::new(reply, event.stream_id.clone(), self.throttle, lang)
            .observed_by(self.state.metrics.clone(), integration_id);
        // The user sees the bot working at once; everything else (binding, session, commands,
        // aggregation, images) happens behind the thinking bubble.
        renderer.thinking().await;
        self.state.metrics.first_frame_seconds.observe(event.received.elapsed().as_secs_f64());
        let binding = match self.state.binding(integration_id).await {
            Ok(Some((binding, _))) => binding,
            Ok(None) => {
                tracing::warn!(integration_id = %integration_id, "message for an integration without a published WeCom Trigger");
                renderer
                    .fail(lang.pick(
                        "This bot is not connected to a Digital Expert yet: the WeCom Trigger is missing or not published.",
                        "该机器人尚未连接数字专家：企业微信触发器缺失或未发布。",
                    ))
                    .await;
                return;
            }
            Err(e) => {
                tracing::warn!(integration_id = %integration_id, error = %e, "reading the trigger binding failed");
                renderer.fail(lang.pick("Something went wrong; please try again.", "出错了，请稍后重试。")).await;
                return;
            }
        };
        let text = match event.chat_kind {
            ChatKind::Group => strip_mention(text),
            ChatKind::Single => text.trim(),
        };
        let session_id = sessions::session_id(&event.chat_id, &event.sender_id);
        let question = match text.strip_prefix("/new") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
                if let Err(e) = sessions::reset(&self.state, integration_id, &session_id).await {
                    // Never claim a new conversation that did not start.
                    tracing::warn!(integration_id = %integration_id, error = %e, "resetting a session failed");
                    renderer
                        .fail(lang.pick(
                            "The conversation could not be reset; please send /new again.",
                            "无法重置对话，请再次发送 /new。",
                        ))
                        .await;
                    return;
                }
                let rest = rest.trim();
                if rest.is_empty() {
                    renderer.notice(lang.pick("New conversation started.", "已开始新的对话。")).await;
                    return;
                }
                rest
            }
            _ => text,
        };
        let mut question = question.to_string();
        let mut images = match &event.kind {
            InboundKind::Text { images, .. } => images.clone(),
            _ => Vec::new(),
        };
        if binding.summary_window_seconds > 0 {
            let window = Duration::from_secs(binding.summary_window_seconds);
            let message =
                aggregate::Gathered { arrival: event.arrival, text: question.clone(), images: images.clone() };
            match aggregate::join(&self.state, integration_id, &session_id, message, window).await {
                Ok(aggregate::Role::Follower) => {
                    renderer
                        .notice(lang.pick(
                            "Got it — this is answered together with your previous message.",
                            "收到——这条消息将与您的上一条消息一并回答。",
                        ))
                        .await;
                    return;
                }
                Ok(aggregate::Role::Leader) => {
                    let stopping = self.state.scope.cancellation();
                    tokio::select! {
                        () = tokio::time::sleep(window) => {}
                        () = stopping.cancelled() => {
                            renderer.notice(lang.pick("The bot is restarting; please send your message again.", "机器人正在重启，请重新发送消息。")).await;
                            return;
                        }
                    }
                    match aggregate::take(&self.state, integration_id, &session_id).await {
                        Ok(gathered) if !gathered.is_empty() => {
                            let texts: Vec<&str> =
                                gathered.iter().map(|g| g.text.as_str()).filter(|t| !t.is_empty()).collect();
                            question = texts.join("\n");
                            images = gathered.iter().flat_map(|g| g.images.iter().cloned()).collect();
                        }
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(integration_id = %integration_id, error = %e, "taking the aggregated messages failed")
                        }
                    }
                }
                Err(e) => {
                    tracing::warn!(integration_id = %integration_id, error = %e, "aggregation unavailable: answering alone")
                }
            }
        }
        let conversation_id =
            self.current_conversation(integration_id, &session_id, binding.session_timeout_seconds).await;
        let mut files = Vec::new();
        for (n, image) in images.iter().enumerate() {
            match images::fetch(self.media(), image, event.media_key.as_ref(), n + 1).await {
                Ok(file) => files.push(file),
                Err(e) => {
                    tracing::warn!(integration_id = %integration_id, image = n + 1, error = %e, "an image could not be read");
                    let reason = e.user_text(lang);
                    let note = match lang {
                        Lang::En => format!("(Image {} could not be read: {reason}.)\n\n", n + 1),
                        Lang::Zh => format!("（第 {} 张图片无法读取：{reason}。）\n\n", n + 1),
                    };
                    renderer.append(&note).await;
                }
            }
        }
        let request = AgentRequest {
            xpert_id: binding.xpert_id.clone(),
            conversation_id,
            input: question.clone(),
            files,
            options: serde_json::json!({"channel": "wecom", "integrationId": integration_id, "senderId": event.sender_id}),
        };
        let run_started = std::time::Instant::now();
        let (outcome, started) = self.run_agent(request, &mut renderer).await;
        let outcome_label = match &outcome {
            Ok(()) => "ok",
            Err(RunError::Failed(_)) => "failed",
            Err(RunError::Timeout(_)) => "timeout",
        };
        self.state
            .metrics
            .agent_run_seconds
            .with_label_values(&[outcome_label])
            .observe(run_started.elapsed().as_secs_f64());
        if let Some(conversation_id) = started {
            let now = self.state.host().now_ms();
            let session = sessions::Session {
                id: session_id.clone(),
                chat_type: match event.chat_kind {
                    ChatKind::Single => "single".into(),
                    ChatKind::Group => "group".into(),
                },
                chat_id: event.chat_id.clone(),
                sender_id: event.sender_id.clone(),
                xpert_id: binding.xpert_id.clone(),
                conversation_id: Some(conversation_id),
                updated_at: crate::state::rfc3339(now),
                updated_at_ms: now,
            };
            if let Err(e) = sessions::save(&self.state, integration_id, &session).await {
                tracing::warn!(integration_id = %integration_id, error = %e, "saving the session failed");
            }
        }
        match outcome {
            Ok(()) => renderer.finish().await,
            Err(RunError::Failed(e)) => {
                tracing::warn!(integration_id = %integration_id, error = %e, "the agent run failed");
                renderer
                    .fail(lang.pick(
                        "Sorry, the Digital Expert could not answer. Please try again.",
                        "抱歉，数字专家暂时无法回答，请稍后重试。",
                    ))
                    .await;
            }
            Err(e @ RunError::Timeout(_)) => {
                // Dropping the run's stream cancels it at the host.
                tracing::warn!(integration_id = %integration_id, error = %e, "the agent run was given up");
                renderer
                    .fail(lang.pick(
                        "Sorry, the Digital Expert took too long to answer. Please try again.",
                        "抱歉，数字专家响应超时，请稍后重试。",
                    ))
                    .await;
            }
        }
    }

    /// Marks a message as taken, in the store every instance shares (for a day); false when it
    /// was taken before: a redelivery after a reconnect, or a retry.
    async fn first_delivery(&self, integration_id: &str, msgid: &str) -> bool {
        const DAY_MS: u64 = 24 * 3600 * 1000;
        let started = std::time::Instant::now();
        let taken = self.state.host().kv().set_if_absent(&keys::dedup(integration_id, msgid), "1", DAY_MS).await;
        self.state.metrics.dedup_seconds.observe(started.elapsed().as_secs_f64());
        match taken {
            Ok(first) => first,
            Err(e) => {
                // Better a rare double answer than a lost message when the store is unavailable.
                tracing::warn!(integration_id, error = %e, "the dedup store is unavailable: answering anyway");
                true
            }
        }
    }

    /// The conversation a session continues: its last one, unless it has been idle for longer
    /// than the trigger's session timeout.
    async fn current_conversation(
        &self,
        integration_id: &str,
        session_id: &str,
        timeout_seconds: u64,
    ) -> Option<String> {
        let session = sessions::load(&self.state, integration_id, session_id).await.ok().flatten()?;
        let idle_ms = self.state.host().now_ms().saturating_sub(session.updated_at_ms);
        if idle_ms > (timeout_seconds as i64).saturating_mul(1000) {
            return None;
        }
        session.conversation_id
    }

    /// Streams the agent's visible text into the renderer (reasoning stays out of it); returns
    /// how it ended and the conversation the run belonged to.
    async fn run_agent(
        &self,
        request: AgentRequest,
        renderer: &mut StreamRenderer,
    ) -> (Result<(), RunError>, Option<String>) {
        let mut conversation = None;
        let mut stream = match self.state.host().agents().invoke(request).await {
            Ok(stream) => stream,
            Err(e) => return (Err(RunError::Failed(e)), None),
        };
        let mut silent_until = tokio::time::Instant::now() + self.agent_idle_timeout;
        loop {
            // Text held back by the throttle goes out when due, and a stream close to its end of
            // life is sealed and continued as messages, even while the agent is silent.
            let wake = match (renderer.snapshot_due_at(), renderer.handoff_at()) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let event = tokio::select! {
                event = stream.next() => event,
                () = sleep_until_opt(wake) => {
                    renderer.flush().await;
                    continue;
                }
                () = tokio::time::sleep_until(silent_until) => {
                    return (Err(RunError::Timeout(self.agent_idle_timeout)), conversation);
                }
            };
            silent_until = tokio::time::Instant::now() + self.agent_idle_timeout;
            let Some(event) = event else { break };
            match event {
                AgentEvent::ConversationStart { conversation_id } => conversation = Some(conversation_id),
                AgentEvent::TextDelta(delta) => renderer.append(&delta).await,
                AgentEvent::Error { message } => {
                    return (Err(RunError::Failed(Error::internal(message))), conversation)
                }
                AgentEvent::ConversationEnd { error: Some(message), .. } => {
                    return (Err(RunError::Failed(Error::internal(message))), conversation)
                }
                AgentEvent::Done => break,
                _ => {}
            }
        }
        (Ok(()), conversation)
    }
}

/// Why an agent run gave no complete answer.
#[derive(Debug, thiserror::Error)]
enum RunError {
    /// The host or the agent reported an error.
    #[error("{0}")]
    Failed(Error),
    /// The agent sent nothing for this long.
    #[error("the agent sent nothing for {0:?}")]
    Timeout(Duration),
}

/// Sleeps until `at`, or forever when there is no such instant.
async fn sleep_until_opt(at: Option<std::time::Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}

impl std::fmt::Debug for Pipeline {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pipeline").field("throttle", &self.throttle).finish()
    }
}

/// The language of the messages the pipeline writes for an integration.
pub fn language_of(options: &serde_json::Value) -> Lang {
    Lang::from_preference(options.get("preferLanguage").and_then(serde_json::Value::as_str))
}

/// What a user who sent something the bot cannot read is told, naming what it was.
fn unreadable_notice(lang: Lang, msgtype: &str) -> String {
    let (en, zh) = match msgtype {
        "file" => ("files", "文件"),
        "video" => ("videos", "视频"),
        _ => ("this kind of message", "这类消息"),
    };
    match lang {
        Lang::En => format!("Sorry, I cannot read {en} yet. Please send text, voice or images."),
        Lang::Zh => format!("抱歉，我暂时无法读取{zh}，请发送文字、语音或图片。"),
    }
}

#[cfg(test)]
mod tests {
    use super::strip_mention;

    #[test]
    fn a_leading_mention_is_stripped_before_commands() {
        assert_eq!(strip_mention("@bot /new"), "/new");
        assert_eq!(strip_mention("  @机器人  /new 你好"), "/new 你好");
        assert_eq!(strip_mention("@bot"), "");
        assert_eq!(strip_mention("hello @bot"), "hello @bot", "only a leading mention");
    }
}

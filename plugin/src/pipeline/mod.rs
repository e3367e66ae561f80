//! The conversation pipeline: what happens between a typed WeCom event and what the user sees,
//! for both transports. A transport turns its traffic into an [`InboundEvent`] plus a
//! [`ReplyChannel`]; everything after that is here, and the pipeline never learns which
//! transport it serves.
//!
//! Today it routes a text message to the bound Digital Expert and streams the answer back
//! (thinking first, throttled full-text snapshots, `finish` last), and welcomes users who open a
//! single chat. Sessions, dedup, aggregation and images are the conversation issue's.

mod event;
mod render;
mod reply;

use std::sync::Arc;
use std::time::Duration;

pub use event::{ChatKind, InboundEvent, InboundKind};
pub use render::StreamRenderer;
pub use reply::ReplyChannel;

use host_sdk::{AgentEvent, AgentRequest, Error};

use crate::i18n::Lang;
use crate::state::PluginState;

/// The pipeline of one installation.
pub struct Pipeline {
    state: Arc<PluginState>,
    throttle: Duration,
}

impl Pipeline {
    /// A pipeline over an installation's state; `throttle` is the least time between two
    /// snapshots of one streamed answer.
    pub fn new(state: Arc<PluginState>, throttle: Duration) -> Self {
        Pipeline { state, throttle }
    }

    /// Handles one event to its end, answering through `reply`. Errors are logged and, where a
    /// user waits for an answer, told to the user; nothing is left on "thinking".
    pub async fn handle(&self, event: InboundEvent, reply: Arc<dyn ReplyChannel>) {
        let integration_id = event.integration_id.clone();
        match &event.kind {
            InboundKind::Text { text, .. } => {
                let text = text.clone();
                self.answer_text(&event, &text, reply).await;
            }
            InboundKind::EnterChat => {
                if event.chat_kind == ChatKind::Single {
                    let welcome = event.lang.pick(
                        "Hello! Ask me anything. Send /new to start a new conversation.",
                        "你好！有什么可以帮你？发送 /new 可开始新的对话。",
                    );
                    if let Err(e) = reply.welcome(welcome).await {
                        tracing::warn!(integration_id = %integration_id, error = %e, "welcome message failed");
                    }
                }
            }
            InboundKind::Other { kind } => {
                tracing::debug!(integration_id = %integration_id, kind = %kind, "event not handled yet");
            }
        }
    }

    async fn answer_text(&self, event: &InboundEvent, text: &str, reply: Arc<dyn ReplyChannel>) {
        let integration_id = &event.integration_id;
        let lang = event.lang;
        let mut renderer = StreamRenderer::new(reply, event.stream_id.clone(), self.throttle, lang);
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
        renderer.thinking().await;
        let request = AgentRequest {
            xpert_id: binding.xpert_id.clone(),
            conversation_id: None,
            input: text.to_string(),
            files: Vec::new(),
            options: serde_json::json!({"channel": "wecom", "integrationId": integration_id, "senderId": event.sender_id}),
        };
        let outcome = self.run_agent(request, &mut renderer).await;
        match outcome {
            Ok(()) => renderer.finish().await,
            Err(e) => {
                tracing::warn!(integration_id = %integration_id, error = %e, "the agent run failed");
                renderer
                    .fail(lang.pick(
                        "Sorry, the Digital Expert could not answer. Please try again.",
                        "抱歉，数字专家暂时无法回答，请稍后重试。",
                    ))
                    .await;
            }
        }
    }

    /// Streams the agent's visible text into the renderer; reasoning stays out of it.
    async fn run_agent(&self, request: AgentRequest, renderer: &mut StreamRenderer) -> Result<(), Error> {
        let mut stream = self.state.host().agents().invoke(request).await?;
        while let Some(event) = stream.next().await {
            match event {
                AgentEvent::TextDelta(delta) => renderer.append(&delta).await,
                AgentEvent::Error { message } => return Err(Error::internal(message)),
                AgentEvent::ConversationEnd { error: Some(message), .. } => return Err(Error::internal(message)),
                AgentEvent::Done => break,
                _ => {}
            }
        }
        Ok(())
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

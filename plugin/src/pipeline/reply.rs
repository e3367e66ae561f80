//! The one thing the pipeline knows of a transport: how to answer the event it is handling.

use std::time::Duration;

use host_sdk::BoxFuture;
use serde_json::Value;

/// Why a reply did not reach WeCom, in the terms the pipeline acts on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReplyError {
    /// The stream can no longer be updated (WeCom's 846608, or its window has passed): what is
    /// left must go out with [`ReplyChannel::send`].
    #[error("the stream can no longer be updated: {0}")]
    StreamExpired(String),
    /// The way back to this event is gone (the connection that brought it closed, the reply
    /// window of its `req_id` passed): what is left must go out with [`ReplyChannel::send`].
    #[error("the reply path is gone: {0}")]
    Lost(String),
    /// Refused or failed for another reason (WeCom's code and message, or a local reason).
    #[error("{0}")]
    Failed(String),
}

/// How the answer to one inbound event reaches the user. The long connection sends commands on
/// the callback's `req_id`; the short connection answers WeCom's HTTP calls (the callback and its
/// refresh polls). One channel belongs to one event and only ever reaches that event's chat.
/// Implementations are cheap to share (`Arc`) and may be called from any task.
pub trait ReplyChannel: Send + Sync + 'static {
    /// Replaces the content of the stream `stream_id` with `content` (a full snapshot, at most
    /// [`crate::protocol::command::CONTENT_LIMIT`] bytes); `finish` seals it.
    fn stream(&self, stream_id: &str, content: &str, finish: bool) -> BoxFuture<'static, Result<(), ReplyError>>;

    /// Seals the stream `stream_id` with `content` and shows `card` (a WeCom `template_card`)
    /// with it (`stream_with_template_card`; a card can be shown once per message).
    fn stream_with_card(
        &self,
        stream_id: &str,
        content: &str,
        card: &Value,
    ) -> BoxFuture<'static, Result<(), ReplyError>>;

    /// Answers an `enter_chat` with a welcome card (a WeCom `template_card`).
    fn welcome(&self, card: &Value) -> BoxFuture<'static, Result<(), ReplyError>>;

    /// Answers a `template_card_event` by replacing the card that was clicked (WeCom allows
    /// 5 s); `card` carries the event's `task_id`.
    fn update_card(&self, card: &Value) -> BoxFuture<'static, Result<(), ReplyError>>;

    /// Sends `markdown` (at most [`crate::protocol::command::CONTENT_LIMIT`] bytes) to the
    /// event's own chat outside any stream: the long connection's proactive `aibot_send_msg`,
    /// the short connection's single-use `response_url`. Used for what a stream cannot carry.
    fn send(&self, markdown: &str) -> BoxFuture<'static, Result<(), ReplyError>>;

    /// How long after its first frame the pipeline may keep updating this stream: the
    /// transport's end of life for it minus the transport's safety margin. The pipeline seals the
    /// stream then and continues with [`ReplyChannel::send`].
    fn stream_lifetime(&self) -> Duration;

    /// How many more messages [`ReplyChannel::send`] can deliver (`None`: no limit). When an
    /// answer's rest needs more, the pipeline cuts it to fit and says so in the last one, rather
    /// than losing the end without a word.
    fn sends_left(&self) -> Option<usize> {
        None
    }
}

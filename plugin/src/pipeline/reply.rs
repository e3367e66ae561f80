//! The one thing the pipeline knows of a transport: how to answer the event it is handling.

use host_sdk::{BoxFuture, Error};

/// How the answer to one inbound event reaches the user. The long connection sends commands on
/// the callback's `req_id`; the short connection answers WeCom's refresh polls. Implementations
/// are cheap to share (`Arc`) and may be called from any task.
pub trait ReplyChannel: Send + Sync + 'static {
    /// Replaces the content of the stream `stream_id` with `content` (a full snapshot, at most
    /// [`crate::protocol::command::CONTENT_LIMIT`] bytes); `finish` seals it.
    fn stream(&self, stream_id: &str, content: &str, finish: bool) -> BoxFuture<'static, Result<(), Error>>;
    /// Answers an `enter_chat` with a welcome text.
    fn welcome(&self, text: &str) -> BoxFuture<'static, Result<(), Error>>;
}

//! The long connection's [`ReplyChannel`]: commands on the callback's own `req_id`.

use host_sdk::{BoxFuture, Error, ErrorCode};
use serde_json::json;

use super::client::{Client, CommandError};
use crate::pipeline::ReplyChannel;

/// Answers one callback over the socket that received it.
pub struct LongReply {
    client: Client,
    req_id: String,
}

impl LongReply {
    /// Replies to the callback whose `req_id` is given.
    pub fn new(client: Client, req_id: String) -> Self {
        LongReply { client, req_id }
    }
}

/// A refused or failed command as the pipeline sees it (WeCom's code and message kept).
fn to_error(cmd: &str, e: CommandError) -> Error {
    match e {
        CommandError::Closed => Error::unavailable(format!("{cmd}: the connection closed before the answer was sent")),
        other => Error::new(ErrorCode::UNAVAILABLE, format!("{cmd}: {other}")),
    }
}

impl ReplyChannel for LongReply {
    fn stream(&self, stream_id: &str, content: &str, finish: bool) -> BoxFuture<'static, Result<(), Error>> {
        let client = self.client.clone();
        let req_id = self.req_id.clone();
        let body = json!({"msgtype": "stream", "stream": {"id": stream_id, "finish": finish, "content": content}});
        Box::pin(async move {
            client
                .request("aibot_respond_msg", Some(&req_id), body)
                .await
                .map(drop)
                .map_err(|e| to_error("aibot_respond_msg", e))
        })
    }

    fn welcome(&self, text: &str) -> BoxFuture<'static, Result<(), Error>> {
        let client = self.client.clone();
        let req_id = self.req_id.clone();
        let body = json!({"msgtype": "text", "text": {"content": text}});
        Box::pin(async move {
            client
                .request("aibot_respond_welcome_msg", Some(&req_id), body)
                .await
                .map(drop)
                .map_err(|e| to_error("aibot_respond_welcome_msg", e))
        })
    }
}

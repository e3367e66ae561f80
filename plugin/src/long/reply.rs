//! The long connection's [`ReplyChannel`]: commands on the callback's own `req_id`.

use host_sdk::{BoxFuture, Error, ErrorCode};

use super::client::{Client, CommandError};
use crate::pipeline::ReplyChannel;
use crate::protocol::command::{stream_body, welcome_text_body, CMD_RESPOND_MSG, CMD_RESPOND_WELCOME_MSG};

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
        let body = stream_body(stream_id, content, finish);
        Box::pin(async move {
            client
                .request(CMD_RESPOND_MSG, Some(&req_id), body)
                .await
                .map(drop)
                .map_err(|e| to_error(CMD_RESPOND_MSG, e))
        })
    }

    fn welcome(&self, text: &str) -> BoxFuture<'static, Result<(), Error>> {
        let client = self.client.clone();
        let req_id = self.req_id.clone();
        let body = welcome_text_body(text);
        Box::pin(async move {
            client
                .request(CMD_RESPOND_WELCOME_MSG, Some(&req_id), body)
                .await
                .map(drop)
                .map_err(|e| to_error(CMD_RESPOND_WELCOME_MSG, e))
        })
    }
}

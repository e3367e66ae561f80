//! The long connection's [`ReplyChannel`]: commands on the callback's own `req_id`, and proactive
//! sends to the callback's own chat on whichever connection is current.

use std::sync::Arc;
use std::time::Duration;

use host_sdk::BoxFuture;
use parking_lot::RwLock;
use serde_json::Value;

use super::client::{Client, CommandError};
use crate::pipeline::{ChatKind, ReplyChannel, ReplyError};
use crate::protocol::command::{
    card_body, send_markdown_body, stream_body, stream_with_card_body, update_card_body, SendChatType,
    CMD_RESPOND_MSG, CMD_RESPOND_UPDATE_MSG, CMD_RESPOND_WELCOME_MSG, CMD_SEND_MSG,
};
use crate::protocol::errcode;

/// The subscribed connection of one integration, if any: replies outliving the socket that
/// brought their callback (a reconnect happened meanwhile) send on it.
#[derive(Clone, Default)]
pub struct CurrentClient(Arc<RwLock<Option<Client>>>);

impl CurrentClient {
    /// Records the connection now subscribed (`None` when it ended).
    pub fn set(&self, client: Option<Client>) {
        *self.0.write() = client;
    }

    fn get(&self) -> Option<Client> {
        self.0.read().clone()
    }
}

/// The chat a callback came from: where proactive sends go, and nowhere else.
#[derive(Clone, Debug)]
pub struct ReplyTarget {
    /// The group's chatid, or the user's id in a single chat.
    pub chat_id: String,
    /// Single or group.
    pub chat_kind: ChatKind,
}

/// Answers one callback over the socket that received it.
pub struct LongReply {
    client: Client,
    current: CurrentClient,
    req_id: String,
    target: ReplyTarget,
    stream_lifetime: Duration,
}

impl LongReply {
    /// Replies to the callback `req_id` received on `client`; proactive sends go to `target` on
    /// `current`'s connection.
    pub fn new(
        client: Client,
        current: CurrentClient,
        req_id: String,
        target: ReplyTarget,
        stream_lifetime: Duration,
    ) -> Self {
        LongReply { client, current, req_id, target, stream_lifetime }
    }

    /// Sends `body` as `cmd` on the callback's req_id.
    fn respond(&self, cmd: &'static str, body: Value) -> BoxFuture<'static, Result<(), ReplyError>> {
        let client = self.client.clone();
        let req_id = self.req_id.clone();
        Box::pin(async move { client.request(cmd, Some(&req_id), body).await.map(drop).map_err(|e| to_error(cmd, e)) })
    }
}

/// A refused or failed command in the pipeline's terms (WeCom's code and message kept).
fn to_error(cmd: &str, e: CommandError) -> ReplyError {
    match e {
        CommandError::Closed => ReplyError::Lost(format!("{cmd}: the connection closed before the answer was sent")),
        CommandError::WeCom { errcode: code, errmsg } if code == errcode::STREAM_EXPIRED => {
            ReplyError::StreamExpired(format!("{cmd}: errcode {code}: {errmsg}"))
        }
        CommandError::WeCom { errcode: code, errmsg } if code == errcode::INVALID_REQ_ID => {
            ReplyError::Lost(format!("{cmd}: errcode {code}: {errmsg}"))
        }
        other => ReplyError::Failed(format!("{cmd}: {other}")),
    }
}

impl ReplyChannel for LongReply {
    fn stream(&self, stream_id: &str, content: &str, finish: bool) -> BoxFuture<'static, Result<(), ReplyError>> {
        self.respond(CMD_RESPOND_MSG, stream_body(stream_id, content, finish))
    }

    fn stream_with_card(
        &self,
        stream_id: &str,
        content: &str,
        card: &Value,
    ) -> BoxFuture<'static, Result<(), ReplyError>> {
        self.respond(CMD_RESPOND_MSG, stream_with_card_body(stream_id, content, card))
    }

    fn welcome(&self, card: &Value) -> BoxFuture<'static, Result<(), ReplyError>> {
        self.respond(CMD_RESPOND_WELCOME_MSG, card_body(card))
    }

    fn update_card(&self, card: &Value) -> BoxFuture<'static, Result<(), ReplyError>> {
        self.respond(CMD_RESPOND_UPDATE_MSG, update_card_body(card))
    }

    fn send(&self, markdown: &str) -> BoxFuture<'static, Result<(), ReplyError>> {
        // The connection that brought the callback if it still serves, else the current one.
        let client = if self.client.is_closed() { self.current.get() } else { Some(self.client.clone()) };
        let chat_type = match self.target.chat_kind {
            ChatKind::Single => SendChatType::Single,
            ChatKind::Group => SendChatType::Group,
        };
        let body = send_markdown_body(&self.target.chat_id, chat_type, markdown);
        Box::pin(async move {
            let Some(client) = client else {
                return Err(ReplyError::Lost(format!("{CMD_SEND_MSG}: the bot is not connected")));
            };
            client.request(CMD_SEND_MSG, None, body).await.map(drop).map_err(|e| to_error(CMD_SEND_MSG, e))
        })
    }

    fn stream_lifetime(&self) -> Duration {
        self.stream_lifetime
    }
}

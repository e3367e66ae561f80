//! The long connection's [`ReplyChannel`]: commands on the callback's own `req_id`, and proactive
//! sends to the callback's own chat on whichever connection is current.

use std::sync::Arc;
use std::time::Duration;

use host_sdk::BoxFuture;
use serde_json::Value;
use tokio::sync::watch;

use super::client::{Client, CommandError};
use crate::pipeline::{ChatKind, ReplyChannel, ReplyError};
use crate::protocol::command::{
    card_body, send_markdown_body, stream_body, stream_with_card_body, update_card_body, SendChatType, CMD_RESPOND_MSG,
    CMD_RESPOND_UPDATE_MSG, CMD_RESPOND_WELCOME_MSG, CMD_SEND_MSG,
};
use crate::protocol::errcode;

/// The subscribed connection of one integration, if any: replies outliving the socket that
/// brought their callback (a reconnect happened meanwhile) send on it, waiting for the reconnect
/// when it has not happened yet.
#[derive(Clone)]
pub struct CurrentClient(Arc<watch::Sender<Option<Client>>>);

impl Default for CurrentClient {
    fn default() -> Self {
        CurrentClient(Arc::new(watch::channel(None).0))
    }
}

impl CurrentClient {
    /// Records the connection now subscribed (`None` when it ended).
    pub fn set(&self, client: Option<Client>) {
        self.0.send_replace(client);
    }

    /// The subscribed connection, waiting up to `patience` for one (a reconnect in progress).
    async fn wait(&self, patience: Duration) -> Option<Client> {
        let mut current = self.0.subscribe();
        let usable = |c: &Option<Client>| c.as_ref().is_some_and(|c| !c.is_closed());
        let found = match tokio::time::timeout(patience, current.wait_for(usable)).await {
            Ok(Ok(client)) => client.clone(),
            _ => None,
        };
        found
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
    /// How long a proactive send waits for a reconnect when the connection is down.
    reconnect_patience: Duration,
}

impl LongReply {
    /// Replies to the callback `req_id` received on `client`; proactive sends go to `target` on
    /// `current`'s connection, waiting up to `reconnect_patience` for one when it is down.
    pub fn new(
        client: Client,
        current: CurrentClient,
        req_id: String,
        target: ReplyTarget,
        stream_lifetime: Duration,
        reconnect_patience: Duration,
    ) -> Self {
        LongReply { client, current, req_id, target, stream_lifetime, reconnect_patience }
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
        // The connection that brought the callback if it still serves, else the current one (after
        // the reconnect, if one is under way).
        let own = (!self.client.is_closed()).then(|| self.client.clone());
        let current = self.current.clone();
        let patience = self.reconnect_patience;
        let chat_type = match self.target.chat_kind {
            ChatKind::Single => SendChatType::Single,
            ChatKind::Group => SendChatType::Group,
        };
        let body = send_markdown_body(&self.target.chat_id, chat_type, markdown);
        Box::pin(async move {
            let client = match own {
                Some(client) => Some(client),
                None => current.wait(patience).await,
            };
            let Some(client) = client else {
                return Err(ReplyError::Lost(format!(
                    "{CMD_SEND_MSG}: the bot did not reconnect within {} ms",
                    patience.as_millis()
                )));
            };
            client.request(CMD_SEND_MSG, None, body).await.map(drop).map_err(|e| to_error(CMD_SEND_MSG, e))
        })
    }

    fn stream_lifetime(&self) -> Duration {
        // Sealed a fifth of the lifetime (at most 30 s) before WeCom would refuse it (846608).
        let margin = (self.stream_lifetime / 5).min(Duration::from_secs(30));
        self.stream_lifetime.saturating_sub(margin)
    }
}

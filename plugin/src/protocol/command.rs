//! The bodies of the commands the plugin sends (protocol §3.3, §3.4, §3.6), as JSON values ready
//! for [`crate::long::client::Client::request`].
//!
//! A subscribe body holds the bot's secret: hand it to the client and never log it.

use serde_json::{json, Value};

/// Authenticates the connection (fresh req_id).
pub const CMD_SUBSCRIBE: &str = "aibot_subscribe";
/// The application-level heartbeat (fresh req_id, no body).
pub const CMD_PING: &str = "ping";
/// A reply to a message callback (the callback's req_id).
pub const CMD_RESPOND_MSG: &str = "aibot_respond_msg";
/// A welcome reply to an `enter_chat` event (its req_id, within 5 s).
pub const CMD_RESPOND_WELCOME_MSG: &str = "aibot_respond_welcome_msg";
/// A card update in answer to a `template_card_event` (its req_id, within 5 s).
pub const CMD_RESPOND_UPDATE_MSG: &str = "aibot_respond_update_msg";
/// A proactive message (fresh req_id).
pub const CMD_SEND_MSG: &str = "aibot_send_msg";

/// The longest `content` of a stream frame or a markdown message, in UTF-8 bytes.
pub const CONTENT_LIMIT: usize = 20480;

/// The longest prefix of `s` that fits in `max_bytes` without splitting a character.
pub fn truncate_utf8(s: &str, max_bytes: usize) -> &str {
    if s.len() <= max_bytes {
        return s;
    }
    let mut end = max_bytes;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    &s[..end]
}

/// `aibot_subscribe`'s body: `{bot_id, secret}`.
pub fn subscribe_body(bot_id: &str, secret: &str) -> Value {
    json!({"bot_id": bot_id, "secret": secret})
}

/// `aibot_respond_msg`'s stream body: `{msgtype:"stream", stream:{id, finish, content}}`.
///
/// Content is a snapshot (the whole text so far, not a delta) and is cut to [`CONTENT_LIMIT`]
/// bytes on a character boundary; send any overflow another way (a new stream or
/// `aibot_send_msg`). The final frame needs visible text: WeCom ignores whitespace-only content.
pub fn stream_body(stream_id: &str, content: &str, finish: bool) -> Value {
    json!({"msgtype": "stream", "stream": {
        "id": stream_id, "finish": finish, "content": truncate_utf8(content, CONTENT_LIMIT)}})
}

/// `aibot_respond_welcome_msg`'s text body: `{msgtype:"text", text:{content}}` (cut to
/// [`CONTENT_LIMIT`] bytes).
pub fn welcome_text_body(content: &str) -> Value {
    json!({"msgtype": "text", "text": {"content": truncate_utf8(content, CONTENT_LIMIT)}})
}

/// `aibot_respond_msg`'s `stream_with_template_card` body: a sealing stream frame and a card
/// shown with it (once per message).
pub fn stream_with_card_body(stream_id: &str, content: &str, card: &Value) -> Value {
    json!({"msgtype": "stream_with_template_card",
        "stream": {"id": stream_id, "finish": true, "content": truncate_utf8(content, CONTENT_LIMIT)},
        "template_card": card})
}

/// A `template_card` message body (welcome replies, proactive cards): `{msgtype, template_card}`.
pub fn card_body(card: &Value) -> Value {
    json!({"msgtype": "template_card", "template_card": card})
}

/// `aibot_respond_update_msg`'s body: replaces the clicked card for everyone who received it.
pub fn update_card_body(card: &Value) -> Value {
    json!({"response_type": "update_template_card", "template_card": card})
}

/// Who an `aibot_send_msg` is addressed to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendChatType {
    /// A single chat: the chatid is the user's userid (`chat_type: 1`).
    Single,
    /// A group chat: the chatid is the group's (`chat_type: 2`).
    Group,
    /// Let WeCom try a group first (`chat_type: 0`); single-chat pushes may then fail.
    Auto,
}

impl SendChatType {
    /// The wire value.
    pub fn code(self) -> u8 {
        match self {
            SendChatType::Single => 1,
            SendChatType::Group => 2,
            SendChatType::Auto => 0,
        }
    }
}

/// `aibot_send_msg`'s markdown body: `{chatid, chat_type, msgtype:"markdown", markdown:{content}}`
/// (content cut to [`CONTENT_LIMIT`] bytes). `msgtype:"text"` is refused by WeCom (40008).
pub fn send_markdown_body(chatid: &str, chat_type: SendChatType, content: &str) -> Value {
    json!({"chatid": chatid, "chat_type": chat_type.code(), "msgtype": "markdown",
        "markdown": {"content": truncate_utf8(content, CONTENT_LIMIT)}})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn truncation_keeps_whole_characters_within_the_limit() {
        assert_eq!(truncate_utf8("abc", 10), "abc");
        assert_eq!(truncate_utf8("abc", 2), "ab");
        // "甲" is 3 bytes: a limit inside it keeps the characters before it.
        assert_eq!(truncate_utf8("a甲乙", 5), "a甲");
        assert_eq!(truncate_utf8("a甲乙", 3), "a");
        assert_eq!(truncate_utf8("甲", 0), "");
        let long = "好".repeat(10_000); // 30000 bytes
        let body = stream_body("s1", &long, true);
        let content = body["stream"]["content"].as_str().unwrap();
        assert!(content.len() <= CONTENT_LIMIT && content.len() > CONTENT_LIMIT - 3, "{}", content.len());
        assert!(long.starts_with(content));
    }

    #[test]
    fn bodies_have_the_documented_shapes() {
        assert_eq!(subscribe_body("B", "S"), json!({"bot_id":"B","secret":"S"}));
        assert_eq!(
            stream_body("sid", "hi", false),
            json!({"msgtype":"stream","stream":{"id":"sid","finish":false,"content":"hi"}})
        );
        assert_eq!(welcome_text_body("hello"), json!({"msgtype":"text","text":{"content":"hello"}}));
        assert_eq!(
            send_markdown_body("alice", SendChatType::Single, "**x**"),
            json!({"chatid":"alice","chat_type":1,"msgtype":"markdown","markdown":{"content":"**x**"}})
        );
        assert_eq!(SendChatType::Group.code(), 2);
        let card = json!({"card_type":"text_notice","task_id":"T"});
        assert_eq!(
            stream_with_card_body("sid", "done", &card),
            json!({"msgtype":"stream_with_template_card","stream":{"id":"sid","finish":true,"content":"done"},
                "template_card":{"card_type":"text_notice","task_id":"T"}})
        );
        assert_eq!(card_body(&card), json!({"msgtype":"template_card","template_card":card}));
        assert_eq!(update_card_body(&card), json!({"response_type":"update_template_card","template_card":card}));
        assert_eq!(SendChatType::Auto.code(), 0);
    }
}

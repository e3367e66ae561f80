//! Typed callbacks (protocol §2.1–2.3, §3.5), parsed leniently from a callback's body: unknown
//! fields are ignored, unknown msgtypes and eventtypes are kept as `Unknown`, a wrongly typed
//! optional field reads as absent, and nothing panics. Only what a callback cannot be handled
//! without is required (a message's `msgid`, `from.userid` and `msgtype`; an event's
//! `event.eventtype`).

use serde_json::Value;

use super::frame::{CMD_EVENT_CALLBACK, CMD_MSG_CALLBACK};

/// Why a callback body could not be typed. Names the field, never its value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CallbackError {
    /// The body is not a JSON object.
    #[error("the callback body is not a JSON object")]
    NotObject,
    /// A required field is missing or not a string.
    #[error("the callback has no {0} string")]
    Missing(&'static str),
}

/// Single or group chat.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ChatType {
    /// A direct chat; the conversation is keyed on `from.userid`.
    Single,
    /// A group chat; the conversation is keyed on `chatid` (case-sensitive).
    Group,
    /// Another value, kept as sent.
    Unknown(String),
}

impl ChatType {
    pub(crate) fn parse(s: &str) -> Self {
        match s {
            "single" => ChatType::Single,
            "group" => ChatType::Group,
            other => ChatType::Unknown(other.to_owned()),
        }
    }
}

/// The sender (`from`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Sender {
    /// The user's id.
    pub userid: String,
    /// The user's corp, absent for internal bots.
    pub corpid: Option<String>,
}

/// An encrypted file's address: download `url` (valid 5 min), decrypt with `aeskey` (long
/// connection: per URL, Base64) or the EncodingAESKey (short connection).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MediaRef {
    /// Where the encrypted file is.
    pub url: String,
    /// Its key (long connection).
    pub aeskey: Option<String>,
}

/// One item of a `mixed` message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MixedItem {
    /// Text.
    Text {
        /// The text.
        content: String,
    },
    /// An image.
    Image(MediaRef),
    /// Another item type, kept by name.
    Unknown {
        /// Its msgtype.
        msgtype: String,
    },
}

/// What a message says (also the shape of a `quote`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MessageContent {
    /// `text.content` (in groups it includes the @mention).
    Text {
        /// The text.
        content: String,
    },
    /// `image.{url, aeskey}`.
    Image(MediaRef),
    /// `mixed.msg_item[]`.
    Mixed(Vec<MixedItem>),
    /// `voice.content`: speech already turned into text.
    Voice {
        /// The transcription.
        content: String,
    },
    /// `file.{url, aeskey}`.
    File(MediaRef),
    /// `video.{url, aeskey}`.
    Video(MediaRef),
    /// `stream.id`: a short-connection refresh poll.
    Stream {
        /// The stream id.
        id: String,
    },
    /// Another msgtype, kept by name.
    Unknown {
        /// The msgtype.
        msgtype: String,
    },
}

/// An `aibot_msg_callback` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageCallback {
    /// Unique per message: deduplicate on it (WeCom may deliver twice).
    pub msgid: String,
    /// The bot's id as WeCom knows it.
    pub aibotid: String,
    /// The group's chatid (groups only).
    pub chatid: Option<String>,
    /// Single or group (absent reads as single).
    pub chattype: ChatType,
    /// Who wrote.
    pub from: Sender,
    /// Unix seconds, when sent.
    pub create_time: Option<i64>,
    /// The single-use active-reply URL (1 h).
    pub response_url: Option<String>,
    /// The content.
    pub content: MessageContent,
    /// The quoted message, if any.
    pub quote: Option<MessageContent>,
}

impl MessageCallback {
    /// The conversation key: the chatid in groups, the userid in single chats.
    pub fn chat_key(&self) -> &str {
        match (&self.chattype, &self.chatid) {
            (ChatType::Group, Some(chatid)) => chatid,
            _ => &self.from.userid,
        }
    }
}

/// One question's answer in a template card submission.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SelectedItem {
    /// The question.
    pub question_key: String,
    /// The chosen option ids.
    pub option_ids: Vec<String>,
}

/// A `template_card_event`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateCardEvent {
    /// `button_interaction`, `vote_interaction`, `multiple_interaction`, `text_notice`, …
    pub card_type: String,
    /// The button or menu item.
    pub event_key: String,
    /// The card's task id (an update must carry the same).
    pub task_id: String,
    /// Submitted answers (absent for action-menu clicks).
    pub selected_items: Vec<SelectedItem>,
}

/// A `feedback_event`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FeedbackEvent {
    /// The `feedback.id` the reply carried.
    pub id: String,
    /// 1 accurate, 2 inaccurate, 3 cancelled.
    pub feedback_type: i64,
    /// The user's words (type 2 only).
    pub content: Option<String>,
    /// Reasons: 1 unrelated, 2 incomplete, 3 wrong, 4 data analysis (type 2 only).
    pub inaccurate_reason_list: Vec<i64>,
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// The user opened the single chat (first time today): answer with a welcome within 5 s.
    EnterChat,
    /// A card button, vote or menu: answer with a card update within 5 s.
    TemplateCardEvent(TemplateCardEvent),
    /// 👍/👎 on a reply: answer with nothing.
    FeedbackEvent(FeedbackEvent),
    /// A newer connection of this bot subscribed: this one is displaced (stop, do not fight).
    Disconnected,
    /// Another eventtype, kept by name.
    Unknown(String),
}

/// An `aibot_event_callback` body.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EventCallback {
    /// The event's msgid (deduplicate on it when present).
    pub msgid: Option<String>,
    /// The bot's id as WeCom knows it.
    pub aibotid: Option<String>,
    /// The group's chatid (groups only).
    pub chatid: Option<String>,
    /// Single or group, when given.
    pub chattype: Option<ChatType>,
    /// Who acted (absent on `disconnected_event`).
    pub from: Option<Sender>,
    /// Unix seconds.
    pub create_time: Option<i64>,
    /// The active-reply URL (template card events).
    pub response_url: Option<String>,
    /// The event.
    pub event: Event,
}

/// A typed callback.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CallbackBody {
    /// `aibot_msg_callback`.
    Message(MessageCallback),
    /// `aibot_event_callback`.
    Event(EventCallback),
    /// Another callback command, kept by name.
    Unknown(String),
}

/// Types a callback by its `cmd`.
pub fn parse_callback(cmd: &str, body: &Value) -> Result<CallbackBody, CallbackError> {
    match cmd {
        CMD_MSG_CALLBACK => parse_message(body).map(CallbackBody::Message),
        CMD_EVENT_CALLBACK => parse_event(body).map(CallbackBody::Event),
        other => Ok(CallbackBody::Unknown(other.to_owned())),
    }
}

fn string(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn required(v: &Value, key: &'static str) -> Result<String, CallbackError> {
    string(v, key).ok_or(CallbackError::Missing(key))
}

/// A number, or a string holding one (WeCom is not consistent).
fn integer(v: &Value, key: &str) -> Option<i64> {
    match v.get(key)? {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn sender(v: &Value) -> Option<Sender> {
    let from = v.get("from")?;
    Some(Sender { userid: string(from, "userid")?, corpid: string(from, "corpid") })
}

fn media(v: &Value, key: &str) -> MediaRef {
    let m = v.get(key).unwrap_or(&Value::Null);
    MediaRef { url: string(m, "url").unwrap_or_default(), aeskey: string(m, "aeskey") }
}

fn text_of(v: &Value, key: &str) -> String {
    v.get(key).map(|t| string(t, "content").unwrap_or_default()).unwrap_or_default()
}

/// The content of a message or quote object: `msgtype` plus the object named by it.
fn content(v: &Value, msgtype: &str) -> MessageContent {
    match msgtype {
        "text" => MessageContent::Text { content: text_of(v, "text") },
        "voice" => MessageContent::Voice { content: text_of(v, "voice") },
        "image" => MessageContent::Image(media(v, "image")),
        "file" => MessageContent::File(media(v, "file")),
        "video" => MessageContent::Video(media(v, "video")),
        "stream" => MessageContent::Stream { id: v.get("stream").and_then(|s| string(s, "id")).unwrap_or_default() },
        "mixed" => {
            let items = v.get("mixed").and_then(|m| m.get("msg_item")).and_then(Value::as_array);
            MessageContent::Mixed(
                items
                    .into_iter()
                    .flatten()
                    .map(|item| match item.get("msgtype").and_then(Value::as_str).unwrap_or_default() {
                        "text" => MixedItem::Text { content: text_of(item, "text") },
                        "image" => MixedItem::Image(media(item, "image")),
                        other => MixedItem::Unknown { msgtype: other.to_owned() },
                    })
                    .collect(),
            )
        }
        other => MessageContent::Unknown { msgtype: other.to_owned() },
    }
}

/// Types an `aibot_msg_callback` body.
pub fn parse_message(body: &Value) -> Result<MessageCallback, CallbackError> {
    if !body.is_object() {
        return Err(CallbackError::NotObject);
    }
    let msgtype = required(body, "msgtype")?;
    let quote = body.get("quote").filter(|q| q.is_object()).map(|q| {
        let kind = q.get("msgtype").and_then(Value::as_str).unwrap_or_default();
        content(q, kind)
    });
    Ok(MessageCallback {
        msgid: required(body, "msgid")?,
        aibotid: string(body, "aibotid").unwrap_or_default(),
        chatid: string(body, "chatid").filter(|c| !c.is_empty()),
        chattype: string(body, "chattype").map(|c| ChatType::parse(&c)).unwrap_or(ChatType::Single),
        from: sender(body).ok_or(CallbackError::Missing("from.userid"))?,
        create_time: integer(body, "create_time"),
        response_url: string(body, "response_url"),
        content: content(body, &msgtype),
        quote,
    })
}

/// Types an `aibot_event_callback` body.
pub fn parse_event(body: &Value) -> Result<EventCallback, CallbackError> {
    if !body.is_object() {
        return Err(CallbackError::NotObject);
    }
    let ev = body.get("event").ok_or(CallbackError::Missing("event.eventtype"))?;
    let eventtype = string(ev, "eventtype").ok_or(CallbackError::Missing("event.eventtype"))?;
    let inner = ev.get(eventtype.as_str()).unwrap_or(&Value::Null);
    let event = match eventtype.as_str() {
        "enter_chat" => Event::EnterChat,
        "disconnected_event" => Event::Disconnected,
        "template_card_event" => Event::TemplateCardEvent(TemplateCardEvent {
            card_type: string(inner, "card_type").unwrap_or_default(),
            event_key: string(inner, "event_key").unwrap_or_default(),
            task_id: string(inner, "task_id").unwrap_or_default(),
            selected_items: inner
                .get("selected_items")
                .and_then(|s| s.get("selected_item"))
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|item| SelectedItem {
                    question_key: string(item, "question_key").unwrap_or_default(),
                    option_ids: item
                        .get("option_ids")
                        .and_then(|o| o.get("option_id"))
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .filter_map(|o| o.as_str().map(str::to_owned))
                        .collect(),
                })
                .collect(),
        }),
        "feedback_event" => Event::FeedbackEvent(FeedbackEvent {
            id: string(inner, "id").unwrap_or_default(),
            feedback_type: integer(inner, "type").unwrap_or_default(),
            content: string(inner, "content"),
            inaccurate_reason_list: inner
                .get("inaccurate_reason_list")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_i64)
                .collect(),
        }),
        other => Event::Unknown(other.to_owned()),
    };
    Ok(EventCallback {
        msgid: string(body, "msgid"),
        aibotid: string(body, "aibotid"),
        chatid: string(body, "chatid").filter(|c| !c.is_empty()),
        chattype: string(body, "chattype").map(|c| ChatType::parse(&c)),
        from: sender(body),
        create_time: integer(body, "create_time"),
        response_url: string(body, "response_url"),
        event,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_group_text_with_a_quote_is_typed() {
        let body = json!({"msgid":"CAIQ16","aibotid":"AIBOTID","chatid":"CHATID","chattype":"group",
            "from":{"userid":"USERID"},"response_url":"https://x/r","msgtype":"text",
            "text":{"content":"@RobotA hello robot"},"create_time":"1700000000",
            "quote":{"msgtype":"text","text":{"content":"这是今日的测试情况"}},"unknown_field":[1,2]});
        let m = parse_message(&body).unwrap();
        assert_eq!(m.msgid, "CAIQ16");
        assert_eq!(m.chattype, ChatType::Group);
        assert_eq!(m.chat_key(), "CHATID");
        assert_eq!(m.from, Sender { userid: "USERID".into(), corpid: None });
        assert_eq!(m.create_time, Some(1_700_000_000));
        assert_eq!(m.content, MessageContent::Text { content: "@RobotA hello robot".into() });
        assert_eq!(m.quote, Some(MessageContent::Text { content: "这是今日的测试情况".into() }));
    }

    #[test]
    fn media_messages_carry_their_per_url_aeskey() {
        let single = |msgtype: &str, payload: Value| {
            let mut b = json!({"msgid":"m","aibotid":"a","chattype":"single","from":{"userid":"u"},"msgtype":msgtype});
            b[msgtype] = payload;
            parse_message(&b).unwrap()
        };
        let m = single("image", json!({"url":"https://img","aeskey":"K1"}));
        assert_eq!(m.content, MessageContent::Image(MediaRef { url: "https://img".into(), aeskey: Some("K1".into()) }));
        assert_eq!(m.chat_key(), "u");
        assert!(
            matches!(single("file", json!({"url":"f","aeskey":"K2"})).content, MessageContent::File(MediaRef { aeskey: Some(k), .. }) if k == "K2")
        );
        assert!(matches!(
            single("video", json!({"url":"v"})).content,
            MessageContent::Video(MediaRef { aeskey: None, .. })
        ));
        assert_eq!(
            single("voice", json!({"content":"spoken"})).content,
            MessageContent::Voice { content: "spoken".into() }
        );
        let mixed = single(
            "mixed",
            json!({"msg_item":[{"msgtype":"text","text":{"content":"look"}},
            {"msgtype":"image","image":{"url":"i","aeskey":"K3"}},{"msgtype":"sticker"}]}),
        );
        assert_eq!(
            mixed.content,
            MessageContent::Mixed(vec![
                MixedItem::Text { content: "look".into() },
                MixedItem::Image(MediaRef { url: "i".into(), aeskey: Some("K3".into()) }),
                MixedItem::Unknown { msgtype: "sticker".into() },
            ])
        );
        assert_eq!(single("hologram", json!({})).content, MessageContent::Unknown { msgtype: "hologram".into() });
    }

    #[test]
    fn events_are_typed_and_unknown_ones_kept() {
        let ev = |event: Value| {
            parse_event(&json!({"msgid":"e","aibotid":"a","chattype":"single","from":{"userid":"u"},"msgtype":"event","event":event})).unwrap().event
        };
        assert_eq!(ev(json!({"eventtype":"enter_chat"})), Event::EnterChat);
        let card = ev(json!({"eventtype":"template_card_event","template_card_event":{"card_type":"vote_interaction",
            "event_key":"k","task_id":"T","selected_items":{"selected_item":[{"question_key":"q1","option_ids":{"option_id":["one","two"]}}]}}}));
        assert_eq!(
            card,
            Event::TemplateCardEvent(TemplateCardEvent {
                card_type: "vote_interaction".into(),
                event_key: "k".into(),
                task_id: "T".into(),
                selected_items: vec![SelectedItem {
                    question_key: "q1".into(),
                    option_ids: vec!["one".into(), "two".into()]
                }],
            })
        );
        let fb = ev(
            json!({"eventtype":"feedback_event","feedback_event":{"id":"F","type":2,"content":"more","inaccurate_reason_list":[2,4]}}),
        );
        assert_eq!(
            fb,
            Event::FeedbackEvent(FeedbackEvent {
                id: "F".into(),
                feedback_type: 2,
                content: Some("more".into()),
                inaccurate_reason_list: vec![2, 4]
            })
        );
        assert_eq!(ev(json!({"eventtype":"auth_change_event"})), Event::Unknown("auth_change_event".into()));
        // disconnected_event has no `from`.
        let d = parse_event(&json!({"msgid":"M","create_time":1700000000,"aibotid":"A","msgtype":"event","event":{"eventtype":"disconnected_event"}})).unwrap();
        assert_eq!((d.event, d.from, d.msgid.as_deref()), (Event::Disconnected, None, Some("M")));
    }

    #[test]
    fn odd_bodies_are_errors_or_unknowns_never_panics() {
        assert_eq!(parse_message(&json!([1])), Err(CallbackError::NotObject));
        assert_eq!(
            parse_message(&json!({"msgtype":"text","from":{"userid":"u"}})),
            Err(CallbackError::Missing("msgid"))
        );
        assert_eq!(parse_message(&json!({"msgid":"m","msgtype":"text"})), Err(CallbackError::Missing("from.userid")));
        assert_eq!(parse_event(&json!({"event":{}})), Err(CallbackError::Missing("event.eventtype")));
        // Wrong types in optional places read as absent or empty.
        let m = parse_message(&json!({"msgid":"m","msgtype":"text","from":{"userid":"u"},"text":5,"chattype":7,"quote":"x","create_time":[]}))
            .unwrap();
        assert_eq!((m.content, m.quote, m.create_time), (MessageContent::Text { content: String::new() }, None, None));
        assert_eq!(
            parse_callback("aibot_future_callback", &Value::Null),
            Ok(CallbackBody::Unknown("aibot_future_callback".into()))
        );
        for junk in [
            json!(null),
            json!("s"),
            json!({"msgtype":"mixed","mixed":{"msg_item":"no"},"msgid":"m","from":{"userid":"u"}}),
        ] {
            let _ = parse_callback(CMD_MSG_CALLBACK, &junk);
            let _ = parse_callback(CMD_EVENT_CALLBACK, &junk);
        }
    }
}

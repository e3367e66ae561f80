//! Turns a long-connection callback into the pipeline's [`InboundEvent`].

use serde_json::Value;

use crate::i18n::Lang;
use crate::pipeline::{ChatKind, ImageRef, InboundEvent, InboundKind};

/// What a callback is, for the connection's owner.
pub enum Classified {
    /// WeCom says another connection took the bot.
    Displaced,
    /// An event for the pipeline (boxed: an event is much larger than a kick).
    Event(Box<InboundEvent>),
}

fn text_at<'a>(value: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(value, |v, key| v.get(key)).and_then(Value::as_str)
}

/// An image's download URL and per-URL key.
fn image_at(value: &Value) -> Option<ImageRef> {
    let url = value["url"].as_str().filter(|u| !u.is_empty())?;
    Some(ImageRef { url: url.to_string(), aeskey: value["aeskey"].as_str().map(str::to_string) })
}

/// Classifies a callback of `integration_id`; `req_id` names its stream, `arrival` orders it.
pub fn classify(
    integration_id: &str,
    lang: Lang,
    cmd: &str,
    req_id: &str,
    body: &Value,
    arrival: (i64, u64),
) -> Classified {
    let event_type = text_at(body, &["event", "eventtype"]).unwrap_or_default();
    if cmd == "aibot_event_callback" && event_type == "disconnected_event" {
        return Classified::Displaced;
    }
    let chat_kind = if text_at(body, &["chattype"]) == Some("group") { ChatKind::Group } else { ChatKind::Single };
    let sender_id = text_at(body, &["from", "userid"]).unwrap_or_default().to_string();
    let chat_id = match chat_kind {
        ChatKind::Group => text_at(body, &["chatid"]).unwrap_or_default().to_string(),
        ChatKind::Single => sender_id.clone(),
    };
    let msgid = text_at(body, &["msgid"]).unwrap_or_default().to_string();
    let kind = match (cmd, text_at(body, &["msgtype"]).unwrap_or_default()) {
        ("aibot_msg_callback", "text") => InboundKind::Text {
            msgid,
            text: text_at(body, &["text", "content"]).unwrap_or_default().to_string(),
            images: Vec::new(),
        },
        // Voice arrives already transcribed.
        ("aibot_msg_callback", "voice") => InboundKind::Text {
            msgid,
            text: text_at(body, &["voice", "content"]).unwrap_or_default().to_string(),
            images: Vec::new(),
        },
        ("aibot_msg_callback", "image") => {
            InboundKind::Text { msgid, text: String::new(), images: image_at(&body["image"]).into_iter().collect() }
        }
        ("aibot_msg_callback", "mixed") => {
            let items = body["mixed"]["msg_item"].as_array().cloned().unwrap_or_default();
            let texts: Vec<&str> =
                items.iter().filter(|i| i["msgtype"] == "text").filter_map(|i| i["text"]["content"].as_str()).collect();
            let images =
                items.iter().filter(|i| i["msgtype"] == "image").filter_map(|i| image_at(&i["image"])).collect();
            InboundKind::Text { msgid, text: texts.join("\n"), images }
        }
        ("aibot_event_callback", _) if event_type == "enter_chat" => InboundKind::EnterChat,
        ("aibot_event_callback", _) if event_type == "template_card_event" => InboundKind::CardClick {
            event_key: text_at(body, &["event", "template_card_event", "event_key"]).unwrap_or_default().to_string(),
            task_id: text_at(body, &["event", "template_card_event", "task_id"]).unwrap_or_default().to_string(),
        },
        ("aibot_event_callback", _) if event_type == "feedback_event" => InboundKind::Feedback,
        ("aibot_event_callback", _) => InboundKind::Other { kind: format!("event:{event_type}") },
        ("aibot_msg_callback", msgtype) => {
            InboundKind::Unreadable { msgid, msgtype: msgtype.chars().take(32).collect() }
        }
        (_, msgtype) => InboundKind::Other { kind: format!("message:{msgtype}") },
    };
    Classified::Event(Box::new(InboundEvent {
        integration_id: integration_id.to_string(),
        chat_kind,
        chat_id,
        sender_id,
        stream_id: format!("stream_{req_id}"),
        lang,
        arrival,
        received: std::time::Instant::now(),
        media_key: None,
        deduplicated: false,
        kind,
    }))
}

//! A message callback typed straight from its JSON text, without building a `serde_json::Value`
//! tree first: the short connection's webhook opens every callback this way (building the tree
//! was a quarter of opening a 1 KiB callback: a map node and a string per key).
//!
//! It handles the well-formed common case only and answers `None` for anything else — an
//! event, a field of an unexpected type, a duplicated key — so the caller falls back to the
//! lenient tree parser ([`super::callback::parse_message`]), which decides what such a callback
//! means. Whenever it answers `Some`, the answer equals the tree parser's (a property test in the
//! webhook's tests holds the two together).

use std::borrow::Cow;

use serde::{Deserialize, Deserializer};

use super::callback::{ChatType, MediaRef, MessageCallback, MessageContent, MixedItem, Sender};

/// `text` / `voice`: `{content}`.
#[derive(Deserialize)]
struct WireText<'a> {
    #[serde(borrow, default)]
    content: Option<Cow<'a, str>>,
}

/// `image` / `file` / `video`: `{url, aeskey}`.
#[derive(Deserialize)]
struct WireMedia<'a> {
    #[serde(borrow, default)]
    url: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    aeskey: Option<Cow<'a, str>>,
}

/// `stream`: `{id}`.
#[derive(Deserialize)]
struct WireStream<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
}

/// One `mixed.msg_item[]`.
#[derive(Deserialize)]
struct WireItem<'a> {
    #[serde(borrow, default)]
    msgtype: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Obj<WireText<'a>>>,
    #[serde(borrow, default)]
    image: Option<Obj<WireMedia<'a>>>,
}

/// `mixed`: `{msg_item}`.
#[derive(Deserialize)]
struct WireMixed<'a> {
    #[serde(borrow, default)]
    msg_item: Option<Vec<Obj<WireItem<'a>>>>,
}

/// `from`: `{userid, corpid}`.
#[derive(Deserialize)]
struct WireSender<'a> {
    #[serde(borrow, default)]
    userid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    corpid: Option<Cow<'a, str>>,
}

/// The content objects a message (or its quote) may carry, the one named by `msgtype` counting.
struct WireContent<'a> {
    text: Option<Obj<WireText<'a>>>,
    voice: Option<Obj<WireText<'a>>>,
    image: Option<Obj<WireMedia<'a>>>,
    file: Option<Obj<WireMedia<'a>>>,
    video: Option<Obj<WireMedia<'a>>>,
    stream: Option<Obj<WireStream<'a>>>,
    mixed: Option<Obj<WireMixed<'a>>>,
}

/// A `quote`: its `msgtype` and content objects (listed, not flattened: see [`WireMessage`]).
#[derive(Deserialize)]
struct WireQuote<'a> {
    #[serde(borrow, default)]
    msgtype: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    text: Option<Obj<WireText<'a>>>,
    #[serde(borrow, default)]
    voice: Option<Obj<WireText<'a>>>,
    #[serde(borrow, default)]
    image: Option<Obj<WireMedia<'a>>>,
    #[serde(borrow, default)]
    file: Option<Obj<WireMedia<'a>>>,
    #[serde(borrow, default)]
    video: Option<Obj<WireMedia<'a>>>,
    #[serde(borrow, default)]
    stream: Option<Obj<WireStream<'a>>>,
    #[serde(borrow, default)]
    mixed: Option<Obj<WireMixed<'a>>>,
}

/// An `aibot_msg_callback` body. The content objects are listed here again rather than
/// flattened: serde's `flatten` buffers the whole object first, which is what this avoids.
#[derive(Deserialize)]
struct WireMessage<'a> {
    #[serde(borrow, default)]
    msgid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    aibotid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    chatid: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    chattype: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    from: Option<Obj<WireSender<'a>>>,
    #[serde(default, deserialize_with = "lenient_integer")]
    create_time: Option<i64>,
    #[serde(borrow, default)]
    response_url: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    msgtype: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    quote: Option<Obj<WireQuote<'a>>>,
    #[serde(borrow, default)]
    text: Option<Obj<WireText<'a>>>,
    #[serde(borrow, default)]
    voice: Option<Obj<WireText<'a>>>,
    #[serde(borrow, default)]
    image: Option<Obj<WireMedia<'a>>>,
    #[serde(borrow, default)]
    file: Option<Obj<WireMedia<'a>>>,
    #[serde(borrow, default)]
    video: Option<Obj<WireMedia<'a>>>,
    #[serde(borrow, default)]
    stream: Option<Obj<WireStream<'a>>>,
    #[serde(borrow, default)]
    mixed: Option<Obj<WireMixed<'a>>>,
}

/// A number, or a string holding one (WeCom is not consistent); absent for null, a boolean, a
/// fraction or a number beyond `i64`, as the tree parser reads them.
fn lenient_integer<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    struct Lenient;
    impl<'de> serde::de::Visitor<'de> for Lenient {
        type Value = Option<i64>;
        fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("an integer or a string holding one")
        }
        fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
            Ok(Some(v))
        }
        fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
            Ok(i64::try_from(v).ok())
        }
        fn visit_f64<E>(self, _: f64) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
            Ok(None)
        }
        fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
            Ok(v.trim().parse().ok())
        }
        fn visit_unit<E>(self) -> Result<Self::Value, E> {
            Ok(None)
        }
    }
    d.deserialize_any(Lenient)
}

/// An object, and only an object: serde's derived structs also accept an array (fields by
/// position), which the tree parser never reads as one.
struct Obj<T>(T);

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Obj<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Only<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Only<T> {
            type Value = T;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> Result<T, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
            }
        }
        d.deserialize_map(Only(std::marker::PhantomData)).map(Obj)
    }
}

fn owned(s: Option<Cow<'_, str>>) -> Option<String> {
    s.map(Cow::into_owned)
}

fn text(t: Option<Obj<WireText<'_>>>) -> String {
    t.and_then(|Obj(t)| owned(t.content)).unwrap_or_default()
}

fn media(m: Option<Obj<WireMedia<'_>>>) -> MediaRef {
    match m {
        Some(Obj(m)) => MediaRef { url: owned(m.url).unwrap_or_default(), aeskey: owned(m.aeskey) },
        None => MediaRef { url: String::new(), aeskey: None },
    }
}

/// The content named by `msgtype`, as the tree parser's `content` reads it.
fn content(msgtype: &str, c: WireContent<'_>) -> MessageContent {
    match msgtype {
        "text" => MessageContent::Text { content: text(c.text) },
        "voice" => MessageContent::Voice { content: text(c.voice) },
        "image" => MessageContent::Image(media(c.image)),
        "file" => MessageContent::File(media(c.file)),
        "video" => MessageContent::Video(media(c.video)),
        "stream" => MessageContent::Stream { id: c.stream.and_then(|Obj(s)| owned(s.id)).unwrap_or_default() },
        "mixed" => MessageContent::Mixed(
            c.mixed
                .and_then(|Obj(m)| m.msg_item)
                .unwrap_or_default()
                .into_iter()
                .map(|Obj(item)| match item.msgtype.as_deref().unwrap_or_default() {
                    "text" => MixedItem::Text { content: text(item.text) },
                    "image" => MixedItem::Image(media(item.image)),
                    other => MixedItem::Unknown { msgtype: other.to_owned() },
                })
                .collect(),
        ),
        other => MessageContent::Unknown { msgtype: other.to_owned() },
    }
}

/// Types a message callback from its JSON text; `None` for an event or anything the tree parser
/// must judge (see the module documentation).
pub fn parse_message_json(json: &str) -> Option<MessageCallback> {
    let Obj(w): Obj<WireMessage<'_>> = serde_json::from_str(json).ok()?;
    let msgtype = w.msgtype?;
    if msgtype == "event" {
        return None;
    }
    let Obj(from) = w.from?;
    let userid = owned(from.userid)?;
    let msgid = owned(w.msgid)?;
    let quote = w.quote.map(|Obj(q)| {
        let c = WireContent {
            text: q.text,
            voice: q.voice,
            image: q.image,
            file: q.file,
            video: q.video,
            stream: q.stream,
            mixed: q.mixed,
        };
        content(q.msgtype.as_deref().unwrap_or_default(), c)
    });
    let body = WireContent {
        text: w.text,
        voice: w.voice,
        image: w.image,
        file: w.file,
        video: w.video,
        stream: w.stream,
        mixed: w.mixed,
    };
    Some(MessageCallback {
        msgid,
        aibotid: owned(w.aibotid).unwrap_or_default(),
        chatid: owned(w.chatid).filter(|c| !c.is_empty()),
        chattype: w.chattype.map(|c| ChatType::parse(&c)).unwrap_or(ChatType::Single),
        from: Sender { userid, corpid: owned(from.corpid) },
        create_time: w.create_time,
        response_url: owned(w.response_url),
        content: content(&msgtype, body),
        quote,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::protocol::callback::parse_message;

    fn both(v: serde_json::Value) -> (Option<MessageCallback>, Option<MessageCallback>) {
        (parse_message_json(&v.to_string()), parse_message(&v).ok())
    }

    #[test]
    fn the_common_messages_type_as_the_tree_parser_types_them() {
        let base = json!({"msgid":"CAIQ16","aibotid":"AIB","chatid":"CHAT","chattype":"group","from":{"userid":"u","corpid":"c"},
            "response_url":"https://x/r","create_time":"1700000000","unknown":[1,{"a":2}]});
        for (msgtype, payload) in [
            ("text", json!({"content":"héllo \"quoted\" \\n"})),
            ("voice", json!({"content":"spoken"})),
            ("image", json!({"url":"https://img","aeskey":"K"})),
            ("file", json!({"url":"f"})),
            ("video", json!(null)),
            ("stream", json!({"id":"S1"})),
            (
                "mixed",
                json!({"msg_item":[{"msgtype":"text","text":{"content":"a"}},{"msgtype":"image","image":{"url":"i"}},{"msgtype":"x"}]}),
            ),
            ("location", json!({"latitude":1})),
        ] {
            let mut v = base.clone();
            v["msgtype"] = json!(msgtype);
            v[msgtype] = payload;
            v["quote"] = json!({"msgtype":"image","image":{"url":"q","aeskey":"QK"}});
            let (fast, tree) = both(v);
            assert!(fast.is_some(), "{msgtype} takes the fast way");
            assert_eq!(fast, tree, "{msgtype}");
        }
    }

    #[test]
    fn what_the_tree_parser_must_judge_falls_back() {
        for v in [
            json!({"msgid":"m","msgtype":"event","from":{"userid":"u"},"event":{"eventtype":"enter_chat"}}),
            json!({"msgid":"m","msgtype":"text","from":{"userid":"u"},"text":"not an object"}),
            json!({"msgid":5,"msgtype":"text","from":{"userid":"u"}}),
            json!({"msgtype":"text","from":{"userid":"u"}}),
            json!({"msgid":"m","msgtype":"text"}),
            json!([1, 2]),
        ] {
            assert_eq!(parse_message_json(&v.to_string()), None, "{v}");
        }
        assert_eq!(parse_message_json(r#"{"msgid":"a","msgid":"b","msgtype":"text","from":{"userid":"u"}}"#), None);
        assert_eq!(parse_message_json("{not json"), None);
    }

    #[test]
    fn create_time_reads_like_the_tree_parser_reads_it() {
        for t in [json!(1700000000), json!(" 17 "), json!("x"), json!(1.5), json!(u64::MAX), json!(null), json!(true)] {
            let v = json!({"msgid":"m","msgtype":"text","from":{"userid":"u"},"create_time":t});
            let (fast, tree) = both(v);
            assert_eq!(fast, tree, "{t}");
        }
    }
}

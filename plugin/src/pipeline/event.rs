//! The normalized inbound event: what the pipeline needs of a WeCom callback, whichever
//! transport brought it.

use crate::i18n::Lang;

/// Single or group chat.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChatKind {
    /// A one-to-one chat (the chat is the user).
    Single,
    /// A group chat.
    Group,
}

/// An image sent with a message: where to download it and its own key, if it has one. Images
/// are kept in the shared store while messages are gathered, so this never holds the
/// integration's EncodingAESKey (that travels as the event's [`InboundEvent::media_key`]). Its
/// `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ImageRef {
    /// The download URL (valid for a few minutes).
    pub url: String,
    /// The image's own AES key (Base64, padded or not: the long connection's per-URL key);
    /// `None` when it is encrypted with the event's media key.
    pub aeskey: Option<String>,
}

/// The key an integration's media are encrypted with when they carry none of their own (the
/// short connection's EncodingAESKey). A secret: its `Debug` shows nothing, and it is never
/// serialized.
#[derive(Clone, PartialEq, Eq)]
pub struct MediaKey(String);

impl MediaKey {
    /// Wraps the key (Base64, as configured).
    pub fn new(key: String) -> Self {
        MediaKey(key)
    }

    /// The key, for decrypting.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for MediaKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("MediaKey(******)")
    }
}

impl std::fmt::Debug for ImageRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ImageRef")
            .field("url", &self.url)
            .field("aeskey", &self.aeskey.as_ref().map(|_| "******"))
            .finish()
    }
}

/// What happened.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum InboundKind {
    /// A message with text and/or images (`text`, `image`, `mixed`).
    Text {
        /// WeCom's message id.
        msgid: String,
        /// The text as sent (empty for an image alone).
        text: String,
        /// The images, in order.
        images: Vec<ImageRef>,
    },
    /// The user opened the chat with the bot.
    EnterChat,
    /// The user pressed a button of a card the bot sent (`template_card_event`).
    CardClick {
        /// The key of the button (the pipeline's own keys, e.g. the reset card's).
        event_key: String,
        /// The card's task id; the answering card must carry it.
        task_id: String,
    },
    /// The user rated an answer (`feedback_event`): acknowledged with nothing.
    Feedback,
    /// A message the bot cannot read (a file, a video, a message type it does not know): the
    /// user is told so rather than left without an answer.
    Unreadable {
        /// WeCom's message id.
        msgid: String,
        /// Its msgtype (`file`, `video`, …).
        msgtype: String,
    },
    /// An event the pipeline does not handle (kept so it can be logged).
    Other {
        /// The message type or event type.
        kind: String,
    },
}

/// One inbound event of one integration.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InboundEvent {
    /// The integration it arrived on.
    pub integration_id: String,
    /// Single or group.
    pub chat_kind: ChatKind,
    /// The chat (the user id in single chats; WeCom's case-sensitive chatid in groups).
    pub chat_id: String,
    /// Who sent it.
    pub sender_id: String,
    /// The stream id the answer uses (one per answered message).
    pub stream_id: String,
    /// The language of the integration's messages to users.
    pub lang: Lang,
    /// When it arrived (Unix ms) and its arrival number on its connection: orders messages that
    /// are handled concurrently (aggregation joins them in this order).
    pub arrival: (i64, u64),
    /// When the transport received it (monotonic): the first frame's latency is measured from it.
    pub received: std::time::Instant,
    /// The key of this integration's media that carry none of their own, if the transport has
    /// one (never stored: gathered images are stored without it and decrypted with the answering
    /// event's key, which is the same integration's).
    pub media_key: Option<MediaKey>,
    /// Whether the transport has already taken this message's msgid in the shared store (the
    /// short connection's passive-answer key does so for every delivery): then the pipeline
    /// does not take it a second time.
    pub deduplicated: bool,
    /// What happened.
    pub kind: InboundKind,
}

#[cfg(test)]
mod tests {
    use super::ImageRef;

    #[test]
    fn an_image_reference_never_shows_its_key() {
        let image = ImageRef {
            url: "https://media/x".into(),
            aeskey: Some("kWxPEV2UEDyxWpmPdKC3F4dgPDmOvfKX1HGnEUDS1aQ".into()),
        };
        let shown = format!("{image:?}");
        assert!(shown.contains("https://media/x") && !shown.contains("kWxPEV2"), "{shown}");
    }
}

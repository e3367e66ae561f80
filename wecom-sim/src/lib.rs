//! # wecom-sim: a WeCom smart-bot simulator
//!
//! An independent peer that speaks both WeCom transports over real sockets, so every behaviour of
//! a bot can be tested without WeCom (unreachable from here) — and a newcomer can watch a bot
//! work on the chat page. It shares no code with the plugin: its protocol handling is written
//! again on purpose, so a symmetric mistake cannot hide.
//!
//! One listener serves the long connection (WebSocket upgrades on any path), the `response_url`
//! endpoint, the media host, the control API under `/sim/` and the chat page. With
//! [`SimConfig::tls`] (CLI `--tls`) it speaks TLS (`wss://`, `https://`) with a certificate signed
//! by a CA generated at start: [`Simulator::ca_pem`] (CLI `--ca-out PATH`) hands the CA to a client's
//! extra-CA file. Nothing else needs configuring: [`Simulator::start_on`] and [`Simulator::add_bot`]
//! are all a host demo needs.
//!
//! Control API (JSON; bots are named `botId` everywhere): `GET/POST /sim/bots`, `POST /sim/messages`
//! (text, voice, image, file, video, mixed, with an optional `quote`; 409 `bot_not_connected` with
//! `"delivered": false` when the bot has no live socket), `POST /sim/events`, `GET /sim/transcript`,
//! `GET /sim/violations`, `GET /sim/frames`, `GET /sim/disconnects` (every socket that ended and
//! why), `GET /sim/sockets` (connected bots, the most sockets one bot had at once, kicks),
//! `GET /sim/responses`, `POST /sim/faults` (see [`FaultSpec`]), `POST /sim/drop`,
//! `POST /sim/restart`, `POST /sim/short/{bots,verify,messages}`.
//!
//! ```no_run
//! # async fn demo() -> Result<(), wecom_sim::SimError> {
//! use wecom_sim::{Chat, SimConfig, Simulator};
//! let sim = Simulator::start(SimConfig::default()).await?;
//! sim.add_bot("BOT1", "SECRET");
//! // … connect a bot to sim.ws_url(), then:
//! let req_id = sim.send_text("BOT1", "alice", Chat::Single, "hello")?;
//! # let _ = req_id; Ok(()) }
//! ```

#![deny(missing_docs)]

pub mod config;
pub mod crypto;
pub mod faults;
mod page;
pub mod server;
pub mod short;
pub mod sim;
mod tls;
pub mod upload;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use parking_lot::Mutex;
use serde_json::{json, Value};

pub use config::{AesKeyForm, SimConfig};
pub use faults::FaultSpec;
pub use server::{EventBody, MessageBody, QuoteBody};
pub use short::ShortOutcome;
pub use sim::{Bubble, CallbackKind, Chat, Disconnect, DisconnectReason, ReceivedFrame, Violation};

use server::AppState;
use sim::{Core, NewCallback};

/// Simulator errors.
#[derive(Debug, thiserror::Error)]
pub enum SimError {
    /// The bot has no live, subscribed connection.
    #[error("bot {0} is not connected")]
    NotConnected(String),
    /// The listener could not be bound.
    #[error("cannot listen: {0}")]
    Bind(std::io::Error),
    /// A request was malformed.
    #[error("{0}")]
    Invalid(String),
    /// The TLS certificate or configuration could not be made.
    #[error("TLS setup failed: {0}")]
    Tls(String),
}

/// A running simulator.
pub struct Simulator {
    state: AppState,
    addr: SocketAddr,
    server: tokio::task::JoinHandle<()>,
    /// The TLS accept loop, when serving TLS.
    acceptor: Option<tokio::task::JoinHandle<()>>,
    /// The generated CA, when serving TLS.
    ca_pem: Option<String>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.server.abort();
        if let Some(a) = &self.acceptor {
            a.abort();
        }
        self.state.core.drop_all_sockets();
    }
}

impl Simulator {
    /// Starts on 127.0.0.1 with a free port.
    pub async fn start(config: SimConfig) -> Result<Simulator, SimError> {
        Self::start_on("127.0.0.1:0".parse().expect("valid address"), config).await
    }

    /// Starts on the given address (port 0 picks a free one). With [`SimConfig::tls`] the
    /// listener speaks TLS with a certificate generated now; nothing else is required:
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), wecom_sim::SimError> {
    /// let sim = wecom_sim::Simulator::start_on("127.0.0.1:8090".parse().unwrap(), Default::default()).await?;
    /// sim.add_bot("DEMOBOT", "demo-secret");
    /// # Ok(()) }
    /// ```
    pub async fn start_on(listen: SocketAddr, config: SimConfig) -> Result<Simulator, SimError> {
        let listener = tokio::net::TcpListener::bind(listen).await.map_err(SimError::Bind)?;
        let addr = listener.local_addr().map_err(SimError::Bind)?;
        let tls = if config.tls { Some(tls::generate(addr, &config.tls_names)?) } else { None };
        let scheme = if tls.is_some() { "https" } else { "http" };
        let state = AppState {
            core: Core::new(config),
            base_url: Arc::new(format!("{scheme}://{}", reachable(addr))),
            response_urls: Arc::new(Mutex::new(Default::default())),
            responses: Arc::new(Mutex::new(Vec::new())),
            media: Arc::new(Mutex::new(Default::default())),
            short: Arc::new(short::ShortDriver::default()),
        };
        let app = server::router(state.clone());
        let (server, acceptor, ca_pem) = match tls {
            Some(material) => {
                let (tls_listener, acceptor) = tls::listen(listener, addr, material.server);
                let server = tokio::spawn(async move {
                    let _ = axum::serve(tls_listener, app).await;
                });
                (server, Some(acceptor), Some(material.ca_pem))
            }
            None => {
                // Frames go out as they are written (no Nagle delay behind an unacknowledged one),
                // as a latency measurement through the simulator needs.
                use axum::serve::ListenerExt as _;
                let listener = listener.tap_io(|tcp| {
                    let _ = tcp.set_nodelay(true);
                });
                let server = tokio::spawn(async move {
                    let _ = axum::serve(listener, app).await;
                });
                (server, None, None)
            }
        };
        Ok(Simulator { state, addr, server, acceptor, ca_pem })
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The long-connection URL: `ws://ADDR`, or `wss://ADDR` when serving TLS (a wildcard bind
    /// such as `0.0.0.0` is written as its loopback address, which the certificate names).
    pub fn ws_url(&self) -> String {
        let scheme = if self.ca_pem.is_some() { "wss" } else { "ws" };
        format!("{scheme}://{}", reachable(self.addr))
    }

    /// `http://ADDR`, or `https://ADDR` when serving TLS (control API, chat page, media host,
    /// response_url).
    pub fn base_url(&self) -> String {
        self.state.base_url.to_string()
    }

    /// The generated CA certificate (PEM) when serving TLS, for a client's extra-CA file
    /// (`None` without [`SimConfig::tls`]).
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
    }

    /// Registers a long-connection bot.
    pub fn add_bot(&self, bot_id: &str, secret: &str) {
        self.state.core.add_bot(bot_id, secret);
    }

    /// Whether the bot has a live subscribed connection.
    pub fn is_connected(&self, bot_id: &str) -> bool {
        self.state.core.is_connected(bot_id)
    }

    /// Waits until the bot is connected (or not), up to `timeout`.
    pub async fn wait_connected(&self, bot_id: &str, connected: bool, timeout: Duration) -> bool {
        self.state.core.wait_until(timeout, |c| c.is_connected(bot_id) == connected).await
    }

    /// Pushes a text message from `user` in `chat`; returns the callback's req_id.
    pub fn send_text(&self, bot_id: &str, user: &str, chat: Chat, text: &str) -> Result<String, SimError> {
        push_message(
            &self.state,
            &MessageBody {
                bot_id: bot_id.into(),
                user_id: user.into(),
                chat_id: match chat {
                    Chat::Single => None,
                    Chat::Group(id) => Some(id),
                },
                msgtype: Some("text".into()),
                text: text.into(),
                ..MessageBody::default()
            },
        )
    }

    /// Pushes a message of any kind (`text`, `voice`, `image`, `file`, `video`, `mixed`, with an
    /// optional `quote`) as the control API takes it; returns the callback's req_id.
    pub fn send_message(&self, body: MessageBody) -> Result<String, SimError> {
        push_message(&self.state, &body)
    }

    /// Pushes an event (`enter_chat`, `template_card_event`, `feedback_event`).
    pub fn send_event(&self, body: EventBody) -> Result<String, SimError> {
        push_event(&self.state, &body)
    }

    /// Waits for a frame from a bot matching `pred` (frames received before the call count too).
    pub async fn wait_frame(&self, timeout: Duration, pred: impl Fn(&ReceivedFrame) -> bool) -> Option<ReceivedFrame> {
        let mut found = None;
        self.state
            .core
            .wait_until(timeout, |c| {
                found = c.frames().into_iter().find(|f| pred(f));
                found.is_some()
            })
            .await;
        found
    }

    /// Waits until the conversation's transcript satisfies `pred`.
    pub async fn wait_transcript(
        &self,
        bot_id: &str,
        chat_key: &str,
        timeout: Duration,
        pred: impl Fn(&[Bubble]) -> bool,
    ) -> Vec<Bubble> {
        self.state.core.wait_until(timeout, |c| pred(&c.transcript_of(bot_id, chat_key))).await;
        self.transcript(bot_id, chat_key)
    }

    /// The conversation as its user sees it (`chat_key`: the user id for single chats, the
    /// chatid for groups).
    pub fn transcript(&self, bot_id: &str, chat_key: &str) -> Vec<Bubble> {
        self.state.core.transcript_of(bot_id, chat_key)
    }

    /// Every socket that ended so far, with the bot it was subscribed as and why it ended.
    pub fn disconnects(&self) -> Vec<Disconnect> {
        self.state.core.disconnects()
    }

    /// Waits for a recorded disconnect matching `pred` (earlier ones count too), up to `timeout`.
    pub async fn wait_disconnect(&self, timeout: Duration, pred: impl Fn(&Disconnect) -> bool) -> Option<Disconnect> {
        let mut found = None;
        self.state
            .core
            .wait_until(timeout, |c| {
                found = c.disconnects().into_iter().find(|d| pred(d));
                found.is_some()
            })
            .await;
        found
    }

    /// Every protocol violation the bots committed.
    pub fn violations(&self) -> Vec<Violation> {
        self.state.core.violations()
    }

    /// A finished upload (`aibot_upload_media_*`): its type and bytes.
    pub fn uploaded(&self, media_id: &str) -> Option<(String, Vec<u8>)> {
        self.state.core.uploaded(media_id)
    }

    /// Every frame received from bots.
    pub fn frames(&self) -> Vec<ReceivedFrame> {
        self.state.core.frames()
    }

    /// The frames received after the first `start` ones (for watchers that keep their place).
    pub fn frames_since(&self, start: usize) -> Vec<ReceivedFrame> {
        self.state.core.frames_since(start)
    }

    /// How many bots have a live subscribed connection.
    pub fn connected_count(&self) -> usize {
        self.state.core.connected_count()
    }

    /// How many subscribed sockets each bot has open now (bots with none are left out).
    pub fn sockets_per_bot(&self) -> std::collections::HashMap<String, usize> {
        self.state.core.sockets_per_bot()
    }

    /// The most subscribed sockets one bot ever had open at once, and that bot: more than one
    /// means two clients held the bot together, however briefly.
    pub fn most_sockets_of_one_bot(&self) -> (usize, String) {
        self.state.core.most_sockets_of_one_bot()
    }

    /// How many subscribes displaced a live socket of the same bot (kicks).
    pub fn kicks(&self) -> u64 {
        self.state.core.kicks()
    }

    /// Waits until `cond` holds for the simulator (re-checked on every change), up to `timeout`.
    pub async fn wait_until(&self, timeout: Duration, mut cond: impl FnMut(&Simulator) -> bool) -> bool {
        self.state.core.wait_until(timeout, |_| cond(self)).await
    }

    /// Bodies POSTed to response_urls.
    pub fn responses(&self) -> Vec<serde_json::Value> {
        self.state.responses.lock().clone()
    }

    /// How many callbacks were pushed (duplicates included).
    pub fn callbacks_sent(&self) -> u64 {
        self.state.core.callbacks_sent()
    }

    /// Applies a fault.
    pub fn fault(&self, spec: FaultSpec) {
        self.state.core.faults.apply(spec);
    }

    /// Drops a bot's sockets abruptly (no close frame).
    pub fn drop_connections(&self, bot_id: &str) -> usize {
        self.state.core.drop_bot_sockets(bot_id)
    }

    /// Restarts: every socket dropped, every pending callback and response_url forgotten.
    pub fn restart(&self) {
        self.state.core.drop_all_sockets();
        self.state.response_urls.lock().clear();
    }

    /// Registers a short-connection bot.
    pub fn add_short_bot(
        &self,
        bot_id: &str,
        callback_url: &str,
        token: &str,
        encoding_aes_key: &str,
    ) -> Result<(), SimError> {
        self.state
            .short
            .register(bot_id, callback_url, token, encoding_aes_key)
            .map_err(|e| SimError::Invalid(e.to_string()))
    }

    /// Runs URL verification against a short-connection bot.
    pub async fn verify_url(&self, bot_id: &str) -> Result<(), String> {
        self.state.short.verify_url(bot_id).await
    }

    /// Sends a text over the short connection and follows the passive stream.
    pub async fn short_send_text(
        &self,
        bot_id: &str,
        user: &str,
        chat: Chat,
        text: &str,
    ) -> Result<ShortOutcome, String> {
        self.state.short.send_text(&self.state, bot_id, user, &chat, text).await
    }

    /// Sends an image over the short connection (hosted encrypted with the bot's
    /// EncodingAESKey) and follows the passive stream.
    pub async fn short_send_image(
        &self,
        bot_id: &str,
        user: &str,
        bytes: &[u8],
        name: &str,
    ) -> Result<ShortOutcome, String> {
        self.state.short.send_image(&self.state, bot_id, user, bytes, name).await
    }

    /// Posts one signed, encrypted callback with plaintext `plain` to a short-connection bot
    /// (one attempt): the HTTP status and the decrypted, validated passive reply.
    pub async fn short_post(
        &self,
        bot_id: &str,
        plain: &serde_json::Value,
    ) -> Result<(u16, Option<serde_json::Value>), String> {
        self.state.short.post_callback(&self.state, bot_id, plain).await
    }
}

/// The address clients use: the bound one, or loopback for a wildcard bind.
fn reachable(addr: SocketAddr) -> SocketAddr {
    match addr.ip() {
        std::net::IpAddr::V4(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv4Addr::LOCALHOST, addr.port()))
        }
        std::net::IpAddr::V6(ip) if ip.is_unspecified() => {
            SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, addr.port()))
        }
        _ => addr,
    }
}

fn chat_of(chat_id: &Option<String>) -> Chat {
    match chat_id.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Chat::Group(c.to_string()),
        None => Chat::Single,
    }
}

/// A message payload (`body[msgtype]`) and the text its bubble shows.
fn payload(
    state: &AppState,
    msgtype: &str,
    text: &str,
    data: Option<&str>,
    name: Option<&str>,
) -> Result<(Value, String), SimError> {
    let file = || -> Result<Vec<u8>, SimError> {
        let data = data.ok_or_else(|| SimError::Invalid(format!("data (base64) is required for {msgtype}")))?;
        base64::engine::general_purpose::STANDARD
            .decode(data)
            .map_err(|_| SimError::Invalid("data is not base64".into()))
    };
    Ok(match msgtype {
        "text" | "voice" => (json!({"content": text}), text.to_string()),
        "image" | "file" | "video" => {
            let name = name.map(str::to_string).unwrap_or_else(|| format!("{msgtype}.bin"));
            let (url, aeskey) = state.host_media(&file()?, &name);
            (json!({"url": url, "aeskey": aeskey}), format!("[{msgtype}] {name}"))
        }
        "mixed" => {
            let mut items = vec![json!({"msgtype": "text", "text": {"content": text}})];
            if data.is_some() {
                let (url, aeskey) = state.host_media(&file()?, "image.png");
                items.push(json!({"msgtype": "image", "image": {"url": url, "aeskey": aeskey}}));
            }
            (json!({"msg_item": items}), text.to_string())
        }
        other => return Err(SimError::Invalid(format!("unsupported msgtype {other:?}"))),
    })
}

/// Pushes a message callback (shared by the Rust and control APIs).
pub(crate) fn push_message(state: &AppState, m: &MessageBody) -> Result<String, SimError> {
    let chat = chat_of(&m.chat_id);
    let chat_key = chat.key(&m.user_id);
    let msgtype = m.msgtype.clone().unwrap_or_else(|| "text".into());
    if matches!(msgtype.as_str(), "image" | "file" | "video") && !matches!(chat, Chat::Single) {
        return Err(SimError::Invalid(format!("{msgtype} messages exist only in single chats")));
    }
    if !state.core.is_connected(&m.bot_id) {
        return Err(SimError::NotConnected(m.bot_id.clone()));
    }
    let (body_payload, bubble_text) = payload(state, &msgtype, &m.text, m.data.as_deref(), m.name.as_deref())?;
    let quote = match &m.quote {
        Some(q) => {
            let qt = q.msgtype.clone().unwrap_or_else(|| "text".into());
            let (qp, _) = payload(state, &qt, &q.text, q.data.as_deref(), q.name.as_deref())?;
            let mut quote = json!({"msgtype": qt});
            quote[qt.as_str()] = qp;
            Some(quote)
        }
        None => None,
    };
    let response_url = state.new_response_url(&m.bot_id, &chat_key);
    let mut body = state.core.message_body(&m.bot_id, &m.user_id, &chat, &msgtype, body_payload, &response_url);
    if let Some(msgid) = &m.msgid {
        body["msgid"] = json!(msgid);
    }
    if let Some(q) = &quote {
        body["quote"] = q.clone();
    }
    let bubble = Bubble {
        from: "user".into(),
        kind: msgtype.clone(),
        text: bubble_text,
        finished: true,
        updates: 1,
        quote,
        ..Bubble::default()
    };
    let cb = NewCallback {
        cmd: "aibot_msg_callback",
        kind: CallbackKind::Message,
        chat_key,
        task_id: None,
        body,
        user_bubble: Some(bubble),
    };
    state.core.push_callback(&m.bot_id, cb)
}

/// Pushes an event callback (shared by the Rust and control APIs).
pub(crate) fn push_event(state: &AppState, e: &EventBody) -> Result<String, SimError> {
    let chat = chat_of(&e.chat_id);
    let chat_key = chat.key(&e.user_id);
    let mut response_url = None;
    let (kind, event, task_id) = match e.eventtype.as_str() {
        "enter_chat" => (CallbackKind::EnterChat, json!({"eventtype": "enter_chat"}), None),
        "template_card_event" => {
            let task_id = e.task_id.clone().unwrap_or_default();
            response_url = Some(state.new_response_url(&e.bot_id, &chat_key));
            let ev = json!({"eventtype": "template_card_event", "template_card_event": {
                "card_type": "button_interaction", "event_key": e.event_key.clone().unwrap_or_default(), "task_id": task_id}});
            (CallbackKind::CardEvent, ev, Some(task_id))
        }
        "feedback_event" => {
            let t = e.feedback_type.unwrap_or(1);
            let mut fb = json!({"id": state.core.id("fb"), "type": t});
            if t == 2 {
                fb["content"] = json!("inaccurate");
                fb["inaccurate_reason_list"] = json!([2]);
            }
            (CallbackKind::Feedback, json!({"eventtype": "feedback_event", "feedback_event": fb}), None)
        }
        other => return Err(SimError::Invalid(format!("unsupported eventtype {other:?}"))),
    };
    let mut body = state.core.event_body(&e.bot_id, &e.user_id, &chat, event);
    if let Some(url) = response_url {
        body["response_url"] = json!(url);
    }
    let cb = NewCallback { cmd: "aibot_event_callback", kind, chat_key, task_id, body, user_bubble: None };
    state.core.push_callback(&e.bot_id, cb)
}

#[cfg(test)]
mod tests {
    use super::reachable;

    #[test]
    fn a_wildcard_bind_is_reached_on_loopback() {
        assert_eq!(reachable("0.0.0.0:8090".parse().unwrap()).to_string(), "127.0.0.1:8090");
        assert_eq!(reachable("[::]:8090".parse().unwrap()).to_string(), "[::1]:8090");
        assert_eq!(reachable("127.0.0.2:8090".parse().unwrap()).to_string(), "127.0.0.2:8090");
    }
}

//! The simulator's state and WeCom's long-connection rules: subscribe, ping, one ack per command,
//! callbacks, one live connection per bot, the reply rules with their errcodes, rate limits,
//! stream snapshots, transcripts as users see them, and the violations a bot committed.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Value};
use tokio::sync::{mpsc, watch};

use crate::config::SimConfig;
use crate::faults::Faults;

/// WeCom errcodes the simulator answers with.
pub mod errcode {
    /// Success.
    pub const OK: i64 = 0;
    /// Wrong bot id or secret on subscribe.
    pub const INVALID_CREDENTIALS: i64 = 853000;
    /// A command before a successful subscribe (not documented; our choice).
    pub const NOT_SUBSCRIBED: i64 = 853001;
    /// A req_id not valid for that command (or its window passed).
    pub const INVALID_REQ_ID: i64 = 846605;
    /// A single-shot req_id answered twice.
    pub const ALREADY_RESPONDED: i64 = 846606;
    /// Per-conversation rate limit.
    pub const RATE_LIMITED: i64 = 846607;
    /// Stream older than its lifetime.
    pub const STREAM_EXPIRED: i64 = 846608;
    /// `msgtype: text` where it is not allowed.
    pub const INVALID_MSGTYPE: i64 = 40008;
    /// Content over 20480 bytes.
    pub const CONTENT_TOO_LONG: i64 = 45002;
    /// Unknown or unsupported chat.
    pub const INVALID_CHATID: i64 = 93006;
    /// A `media_id` this simulator never issued to this bot (by upload), one of another type, or
    /// one older than its 3 days: WeCom's general "invalid media_id" code.
    pub const INVALID_MEDIA_ID: i64 = 40007;
    /// A parameter outside its allowed values (e.g. `chat_type` other than 0, 1, 2): WeCom's
    /// general "invalid parameter" code.
    pub const INVALID_PARAMETER: i64 = 40058;
    /// A frame that is not a JSON command, or a command the simulator does not know (our choice).
    pub const INVALID_FRAME: i64 = 40001;
}

/// The longest `content` of a stream or markdown message, in bytes.
pub const CONTENT_LIMIT: usize = 20480;

/// Single chat (keyed by the user id) or group chat (keyed by the chatid).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize)]
pub enum Chat {
    /// A direct chat with this user.
    Single,
    /// A group chat with this chatid (case-sensitive).
    Group(String),
}

impl Chat {
    /// The conversation key: the user id in single chats, the chatid in groups.
    pub fn key(&self, user: &str) -> String {
        match self {
            Chat::Single => user.to_string(),
            Chat::Group(id) => id.clone(),
        }
    }
    fn chattype(&self) -> &'static str {
        match self {
            Chat::Single => "single",
            Chat::Group(_) => "group",
        }
    }
}

/// What a callback's req_id may be answered with.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CallbackKind {
    /// A message: `aibot_respond_msg` within 24 h.
    Message,
    /// enter_chat: `aibot_respond_welcome_msg` within 5 s, once.
    EnterChat,
    /// template_card_event: `aibot_respond_update_msg` within 5 s, once.
    CardEvent,
    /// feedback_event: nothing.
    Feedback,
}

#[derive(Clone, Debug)]
struct CallbackInfo {
    bot_id: String,
    kind: CallbackKind,
    chat_key: String,
    at: Instant,
    task_id: Option<String>,
    responded: bool,
    /// A `stream_with_template_card` card was shown for this message (once per message).
    card_shown: bool,
}

/// One bubble of a conversation, as the user sees it.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct Bubble {
    /// `user` or `bot`.
    pub from: String,
    /// `text`, `voice`, `image`, `file`, `video`, `mixed`, `stream`, `markdown`, `card`,
    /// `welcome`.
    pub kind: String,
    /// The visible text (a stream's latest snapshot).
    pub text: String,
    /// For streams: sealed with `finish:true`.
    pub finished: bool,
    /// The stream id, for streams.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream_id: Option<String>,
    /// The card, for template cards and card welcomes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<Value>,
    /// How many snapshots a stream received.
    pub updates: u32,
    /// For media the bot sent (`image`, `file`, `voice`, `video`): its media_id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub media_id: Option<String>,
    /// For user messages that quote another: the quote as the callback carried it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote: Option<Value>,
}

/// Why the simulator's side of a socket ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum DisconnectReason {
    /// The client sent a close frame; the simulator echoed it (RFC 6455 close handshake).
    ClientClose {
        /// The close code the client sent (`None`: a close frame without a code).
        code: Option<u16>,
    },
    /// The client left without a close handshake (EOF or a socket error).
    ClientGone,
    /// The client answered `missed` consecutive WebSocket pings with no pong.
    MissedPongs {
        /// Pings left unanswered when the socket was dropped.
        missed: u32,
    },
    /// No `ping` command within the configured idle timeout.
    IdleTimeout,
    /// A newer connection subscribed as the same bot.
    Displaced,
    /// Dropped by the control API or [`crate::Simulator::drop_connections`].
    Dropped,
    /// The simulator restarted or stopped.
    Restart,
}

/// A socket that ended, and why.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Disconnect {
    /// The bot it was subscribed as (empty if it never subscribed).
    pub bot_id: String,
    /// Why it ended.
    pub reason: DisconnectReason,
}

/// A rule the bot broke, with the errcode it was answered with.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Violation {
    /// The bot.
    pub bot_id: String,
    /// The command.
    pub cmd: String,
    /// Its req_id.
    pub req_id: String,
    /// The errcode returned.
    pub errcode: i64,
    /// What was wrong.
    pub reason: String,
}

/// A frame a bot sent, and the errcode its ack carried (`None`: no ack was sent).
#[derive(Clone, Debug, Serialize)]
pub struct ReceivedFrame {
    /// The bot (empty before subscribe).
    pub bot_id: String,
    /// The frame as sent.
    pub frame: Value,
    /// The ack's errcode.
    pub errcode: Option<i64>,
}

#[derive(Clone)]
pub(crate) struct Connection {
    pub tx: mpsc::UnboundedSender<Outgoing>,
    pub bot_id: Option<String>,
    /// Why the simulator is ending this socket, once it decided to.
    pub ending: Option<DisconnectReason>,
    /// Its end is already in the disconnect list (recorded when the client's close frame came).
    pub recorded: bool,
}

/// What the writer task of a connection sends.
#[derive(Debug)]
pub enum Outgoing {
    /// A JSON text frame.
    Frame(Value),
    /// Close the socket with a close frame.
    Close,
    /// The client sent a close frame: flush the echo (queued by the WebSocket layer), then close.
    EchoClose,
    /// Drop the TCP connection without a close frame.
    Abort,
}

#[derive(Default)]
struct BotState {
    secret: String,
    live_conn: Option<u64>,
}

struct StreamState {
    first_at: Instant,
    finished: bool,
}

#[derive(Default)]
struct State {
    bots: HashMap<String, BotState>,
    conns: HashMap<u64, Connection>,
    callbacks: HashMap<String, CallbackInfo>,
    streams: HashMap<(String, String), StreamState>,
    transcripts: HashMap<(String, String), Vec<Bubble>>,
    violations: Vec<Violation>,
    frames: Vec<ReceivedFrame>,
    /// (bot, is_group, userid or chatid) of every chat that messaged the bot.
    spoken: HashSet<(String, bool, String)>,
    disconnects: Vec<Disconnect>,
    /// The most subscribed sockets one bot had at once (a subscribe while another socket of the
    /// same bot is still open counts both), and that bot.
    most_sockets: (usize, String),
    /// Subscribes that displaced a live socket of the same bot (kicks).
    kicks: u64,
    rate: HashMap<(String, String), VecDeque<Instant>>,
    callbacks_sent: u64,
    uploads: crate::upload::Uploads,
    /// Bodies to attach to the next ack of a req_id (upload answers).
    ack_bodies: HashMap<String, Value>,
}

/// Shared simulator core (transport-independent).
pub struct Core {
    pub(crate) config: SimConfig,
    state: Mutex<State>,
    pub(crate) faults: Faults,
    changed: watch::Sender<u64>,
    next_id: AtomicU64,
}

fn ack(req_id: &str, errcode: i64, errmsg: &str) -> Value {
    json!({"headers": {"req_id": req_id}, "errcode": errcode, "errmsg": errmsg})
}

impl Core {
    /// A fresh core.
    pub fn new(config: SimConfig) -> Arc<Core> {
        let (changed, _) = watch::channel(0);
        Arc::new(Core {
            config,
            state: Mutex::new(State::default()),
            faults: Faults::default(),
            changed,
            next_id: AtomicU64::new(1),
        })
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v += 1);
    }

    /// A new unique id with a prefix.
    pub fn id(&self, prefix: &str) -> String {
        format!("{prefix}{}{:06x}", self.next_id.fetch_add(1, Ordering::Relaxed), rand::random::<u32>() & 0xff_ffff)
    }

    /// Adds (or re-keys) a bot.
    pub fn add_bot(&self, bot_id: &str, secret: &str) {
        self.state.lock().bots.entry(bot_id.to_string()).or_default().secret = secret.to_string();
    }

    /// Registered bot ids.
    pub fn bots(&self) -> Vec<String> {
        let mut v: Vec<String> = self.state.lock().bots.keys().cloned().collect();
        v.sort();
        v
    }

    /// Whether a bot has a live, subscribed connection.
    pub fn is_connected(&self, bot_id: &str) -> bool {
        self.state.lock().bots.get(bot_id).and_then(|b| b.live_conn).is_some()
    }

    /// Registers a new socket; returns its id.
    pub(crate) fn connect(&self, tx: mpsc::UnboundedSender<Outgoing>) -> u64 {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        self.state.lock().conns.insert(id, Connection { tx, bot_id: None, ending: None, recorded: false });
        id
    }

    /// The bot a socket subscribed as.
    pub(crate) fn frame_bot(&self, conn: u64) -> Option<String> {
        self.state.lock().conns.get(&conn).and_then(|c| c.bot_id.clone())
    }

    /// Forgets a closed socket, recording why it ended (a reason the simulator decided earlier,
    /// such as a drop or a displacement, wins over what the socket task saw).
    pub(crate) fn disconnect(&self, conn: u64, seen: DisconnectReason) {
        let mut st = self.state.lock();
        if let Some(c) = st.conns.remove(&conn) {
            let reason = c.ending.unwrap_or(seen);
            if !c.recorded {
                st.disconnects.push(Disconnect { bot_id: c.bot_id.clone().unwrap_or_default(), reason });
            }
            if let Some(bot) = c.bot_id.and_then(|b| st.bots.get_mut(&b).map(|s| (s, b))) {
                if bot.0.live_conn == Some(conn) {
                    bot.0.live_conn = None;
                }
            }
        }
        drop(st);
        self.bump();
    }

    /// The client sent a close frame: from now on the socket is no longer the bot's live one
    /// (a callback pushed now would be lost with it), even before the close handshake finishes.
    pub(crate) fn client_closing(&self, conn: u64, code: Option<u16>) {
        let mut st = self.state.lock();
        let Some(c) = st.conns.get_mut(&conn) else { return };
        let reason = c.ending.get_or_insert(DisconnectReason::ClientClose { code }).clone();
        c.recorded = true;
        let bot_id = c.bot_id.clone();
        // Recorded now, as the bot stops counting as connected now: a watcher that sees it
        // disconnected also sees why.
        st.disconnects.push(Disconnect { bot_id: bot_id.clone().unwrap_or_default(), reason });
        if let Some(bot) = bot_id {
            if let Some(b) = st.bots.get_mut(&bot) {
                if b.live_conn == Some(conn) {
                    b.live_conn = None;
                }
            }
        }
        drop(st);
        self.bump();
    }

    /// How many subscribed sockets each bot has open now (sockets the simulator or the client is
    /// already closing do not count). Bots with none are left out.
    pub fn sockets_per_bot(&self) -> HashMap<String, usize> {
        let st = self.state.lock();
        let mut counts = HashMap::new();
        for c in st.conns.values().filter(|c| c.ending.is_none()) {
            if let Some(bot) = &c.bot_id {
                *counts.entry(bot.clone()).or_insert(0) += 1;
            }
        }
        counts
    }

    /// The most subscribed sockets one bot ever had open at once, and that bot (`(0, "")` before
    /// any subscribe). More than one means two clients held the bot together.
    pub fn most_sockets_of_one_bot(&self) -> (usize, String) {
        self.state.lock().most_sockets.clone()
    }

    /// How many subscribes displaced a live socket of the same bot (each sent that socket a
    /// `disconnected_event`).
    pub fn kicks(&self) -> u64 {
        self.state.lock().kicks
    }

    /// Every socket that ended so far, in order.
    pub fn disconnects(&self) -> Vec<Disconnect> {
        self.state.lock().disconnects.clone()
    }

    /// Closes every socket of a bot abruptly (a fault). The bot counts as disconnected from this
    /// call on, not from the moment its socket tasks notice: a message pushed right after the drop
    /// is refused instead of going to a dying socket.
    pub fn drop_bot_sockets(&self, bot_id: &str) -> usize {
        let mut st = self.state.lock();
        let mut n = 0;
        for c in st.conns.values_mut().filter(|c| c.bot_id.as_deref() == Some(bot_id)) {
            c.ending.get_or_insert(DisconnectReason::Dropped);
            let _ = c.tx.send(Outgoing::Abort);
            n += 1;
        }
        if let Some(bot) = st.bots.get_mut(bot_id) {
            bot.live_conn = None;
        }
        drop(st);
        self.bump();
        n
    }

    /// Closes every socket (restart).
    pub fn drop_all_sockets(&self) {
        let mut st = self.state.lock();
        for c in st.conns.values_mut() {
            c.ending.get_or_insert(DisconnectReason::Restart);
            let _ = c.tx.send(Outgoing::Abort);
        }
        for b in st.bots.values_mut() {
            b.live_conn = None;
        }
        st.callbacks.clear();
    }

    fn record(&self, st: &mut State, bot_id: &str, frame: &Value, errcode: Option<i64>) {
        st.frames.push(ReceivedFrame { bot_id: bot_id.to_string(), frame: frame.clone(), errcode });
    }

    fn violate(st: &mut State, bot_id: &str, cmd: &str, req_id: &str, errcode: i64, reason: impl Into<String>) {
        st.violations.push(Violation {
            bot_id: bot_id.into(),
            cmd: cmd.into(),
            req_id: req_id.into(),
            errcode,
            reason: reason.into(),
        });
    }

    fn rate_ok(&self, st: &mut State, bot_id: &str, chat_key: &str) -> bool {
        let now = Instant::now();
        let q = st.rate.entry((bot_id.to_string(), chat_key.to_string())).or_default();
        while q.front().is_some_and(|t| now.duration_since(*t) > Duration::from_secs(3600)) {
            q.pop_front();
        }
        let last_minute = q.iter().filter(|t| now.duration_since(**t) <= Duration::from_secs(60)).count();
        if last_minute >= self.config.rate_per_minute as usize || q.len() >= self.config.rate_per_hour as usize {
            return false;
        }
        q.push_back(now);
        true
    }

    fn transcript<'a>(st: &'a mut State, bot_id: &str, chat_key: &str) -> &'a mut Vec<Bubble> {
        st.transcripts.entry((bot_id.to_string(), chat_key.to_string())).or_default()
    }

    fn bot_bubble(kind: &str, text: &str, card: Option<Value>) -> Bubble {
        Bubble {
            from: "bot".into(),
            kind: kind.into(),
            text: text.into(),
            finished: true,
            card,
            updates: 1,
            ..Bubble::default()
        }
    }

    pub(crate) fn card_bubble(kind: &str, card: Value) -> Bubble {
        let title = card["main_title"]["title"].as_str().unwrap_or_default().to_string();
        Self::bot_bubble(kind, &title, Some(card))
    }

    /// Handles one text frame from a socket; returns the ack to send (if any) after the
    /// configured ack delay.
    pub(crate) fn handle_frame(&self, conn: u64, text: &str) -> Option<Value> {
        let frame: Value = match serde_json::from_str(text) {
            Ok(v @ Value::Object(_)) => v,
            _ => {
                let mut st = self.state.lock();
                let bot = st.conns.get(&conn).and_then(|c| c.bot_id.clone()).unwrap_or_default();
                Self::violate(&mut st, &bot, "", "", errcode::INVALID_FRAME, "frame is not a JSON object");
                drop(st);
                self.bump();
                return Some(
                    json!({"headers": {"req_id": ""}, "errcode": errcode::INVALID_FRAME, "errmsg": "invalid frame: not a JSON object"}),
                );
            }
        };
        let cmd = frame.get("cmd").and_then(Value::as_str).unwrap_or_default().to_string();
        let req_id = frame["headers"]["req_id"].as_str().unwrap_or_default().to_string();
        let (answer, bot_id, ack_body) = {
            let mut st = self.state.lock();
            let bot_id = st.conns.get(&conn).and_then(|c| c.bot_id.clone());
            let answer = self.command(&mut st, conn, bot_id.as_deref(), &cmd, &req_id, &frame);
            let bot_for_record = st.conns.get(&conn).and_then(|c| c.bot_id.clone()).unwrap_or_default();
            self.record(&mut st, &bot_for_record, &frame, answer.as_ref().map(|(c, _)| *c));
            let ack_body = st.ack_bodies.remove(&req_id);
            (answer, bot_id, ack_body)
        };
        self.bump();
        let (code, msg) = answer?;
        if let Some(bot) = bot_id.as_deref() {
            if self.faults.withhold_ack(bot, &cmd) {
                return None;
            }
        }
        let mut frame = ack(&req_id, code, &msg);
        if let Some(body) = ack_body {
            frame["body"] = body;
        }
        Some(frame)
    }

    fn command(
        &self,
        st: &mut State,
        conn: u64,
        bot_id: Option<&str>,
        cmd: &str,
        req_id: &str,
        frame: &Value,
    ) -> Option<(i64, String)> {
        if req_id.is_empty() {
            Self::violate(
                st,
                bot_id.unwrap_or_default(),
                cmd,
                req_id,
                errcode::INVALID_FRAME,
                "headers.req_id is missing",
            );
            return Some((errcode::INVALID_FRAME, "headers.req_id is required".into()));
        }
        if cmd == "aibot_subscribe" {
            return Some(self.subscribe(st, conn, frame));
        }
        let Some(bot_id) = bot_id else {
            Self::violate(st, "", cmd, req_id, errcode::NOT_SUBSCRIBED, "command before a successful aibot_subscribe");
            return Some((errcode::NOT_SUBSCRIBED, "not subscribed".into()));
        };
        if let Some(code) = self.faults.refusal(bot_id, cmd) {
            return Some((code, "refused by fault injection".into()));
        }
        let body = &frame["body"];
        let result = match cmd {
            "ping" => {
                if self.faults.withhold_ping(bot_id) {
                    return None;
                }
                (errcode::OK, "ok".to_string())
            }
            "aibot_respond_msg" => self.respond_msg(st, bot_id, req_id, body),
            "aibot_respond_welcome_msg" => self.respond_event(st, bot_id, req_id, body, CallbackKind::EnterChat),
            "aibot_respond_update_msg" => self.respond_event(st, bot_id, req_id, body, CallbackKind::CardEvent),
            "aibot_send_msg" => self.send_msg(st, bot_id, body),
            "aibot_upload_media_init" | "aibot_upload_media_chunk" | "aibot_upload_media_finish" => {
                let step = match cmd {
                    "aibot_upload_media_init" => {
                        let id = self.id("up_");
                        st.uploads.init(bot_id, id, body)
                    }
                    "aibot_upload_media_chunk" => st.uploads.chunk(bot_id, body),
                    _ => {
                        let id = self.id("media_");
                        st.uploads.finish(bot_id, id, body)
                    }
                };
                match step {
                    Ok(v) => {
                        if !v.is_null() {
                            st.ack_bodies.insert(req_id.to_string(), v);
                        }
                        (errcode::OK, "ok".to_string())
                    }
                    Err(e) => e,
                }
            }
            other => (errcode::INVALID_FRAME, format!("unknown cmd {other:?}")),
        };
        if result.0 != errcode::OK {
            Self::violate(st, bot_id, cmd, req_id, result.0, result.1.clone());
        }
        Some(result)
    }

    fn subscribe(&self, st: &mut State, conn: u64, frame: &Value) -> (i64, String) {
        let bot_id = frame["body"]["bot_id"].as_str().unwrap_or_default().to_string();
        let secret = frame["body"]["secret"].as_str().unwrap_or_default();
        let ok = st.bots.get(&bot_id).is_some_and(|b| !b.secret.is_empty() && b.secret == secret);
        if !ok || self.faults.bot_in_outage(&bot_id) {
            // WeCom leaves the socket open after a failed subscribe.
            return (errcode::INVALID_CREDENTIALS, "invalid bot_id or secret".into());
        }
        let open = st
            .conns
            .iter()
            .filter(|(id, c)| **id != conn && c.ending.is_none() && c.bot_id.as_deref() == Some(bot_id.as_str()))
            .count()
            + 1;
        if open > st.most_sockets.0 {
            st.most_sockets = (open, bot_id.clone());
        }
        let old = st.bots.get(&bot_id).and_then(|b| b.live_conn).filter(|c| *c != conn);
        if let Some(old) = old {
            st.kicks += 1;
            if let Some(c) = st.conns.get_mut(&old) {
                c.ending.get_or_insert(DisconnectReason::Displaced);
                let ev = json!({"cmd": "aibot_event_callback", "headers": {"req_id": self.id("disc_")},
                    "body": {"msgid": self.id("msg_"), "create_time": unix_now(), "aibotid": bot_id, "msgtype": "event",
                             "event": {"eventtype": "disconnected_event"}}});
                let _ = c.tx.send(Outgoing::Frame(ev));
                let tx = c.tx.clone();
                let delay = self.config.displaced_close_delay;
                tokio::spawn(async move {
                    tokio::time::sleep(delay).await;
                    let _ = tx.send(Outgoing::Abort);
                });
            }
        }
        if let Some(c) = st.conns.get_mut(&conn) {
            c.bot_id = Some(bot_id.clone());
        }
        st.bots.entry(bot_id).or_default().live_conn = Some(conn);
        (errcode::OK, "ok".into())
    }

    fn callback_for(st: &State, bot_id: &str, req_id: &str) -> Option<CallbackInfo> {
        st.callbacks.get(req_id).filter(|c| c.bot_id == bot_id).cloned()
    }

    fn content_ok(body: &Value, key: &str) -> Result<String, (i64, String)> {
        let content = body[key]["content"].as_str().unwrap_or_default();
        if content.len() > CONTENT_LIMIT {
            return Err((
                errcode::CONTENT_TOO_LONG,
                format!("content is {} bytes, over the 20480-byte limit", content.len()),
            ));
        }
        Ok(content.to_string())
    }

    fn respond_msg(&self, st: &mut State, bot_id: &str, req_id: &str, body: &Value) -> (i64, String) {
        let Some(cb) = Self::callback_for(st, bot_id, req_id) else {
            return (errcode::INVALID_REQ_ID, "invalid req_id".into());
        };
        if cb.kind != CallbackKind::Message || cb.at.elapsed() > self.config.reply_window {
            return (
                errcode::INVALID_REQ_ID,
                "invalid req_id: not a message callback, or its reply window passed".into(),
            );
        }
        let msgtype = body["msgtype"].as_str().unwrap_or_default();
        if !matches!(
            msgtype,
            "stream"
                | "markdown"
                | "template_card"
                | "stream_with_template_card"
                | "image"
                | "file"
                | "voice"
                | "video"
        ) {
            return (errcode::INVALID_MSGTYPE, format!("invalid message type {msgtype:?}"));
        }
        if !self.rate_ok(st, bot_id, &cb.chat_key) {
            return (errcode::RATE_LIMITED, "aibot send msg frequency limit exceeded".into());
        }
        let result = match msgtype {
            "stream" => self.apply_stream(st, bot_id, req_id, &cb.chat_key, &body["stream"]),
            "stream_with_template_card" => self.stream_with_card(st, bot_id, req_id, &cb, body),
            "markdown" => Self::content_ok(body, "markdown").map(|c| {
                Self::transcript(st, bot_id, &cb.chat_key).push(Self::bot_bubble("markdown", &c, None));
            }),
            "template_card" => {
                let card = body["template_card"].clone();
                Self::transcript(st, bot_id, &cb.chat_key).push(Self::card_bubble("card", card));
                Ok(())
            }
            media => self.media_bubble(st, bot_id, media, body).map(|b| {
                Self::transcript(st, bot_id, &cb.chat_key).push(b);
            }),
        };
        match result {
            Ok(()) => (errcode::OK, "ok".into()),
            Err(e) => e,
        }
    }

    /// A stream frame (`stream` or the stream part of `stream_with_template_card`): the first id
    /// creates the bubble, later frames replace its snapshot, `finish` seals it, and the stream
    /// lifetime and the 20480-byte limit apply.
    fn apply_stream(
        &self,
        st: &mut State,
        bot_id: &str,
        req_id: &str,
        chat_key: &str,
        stream: &Value,
    ) -> Result<(), (i64, String)> {
        let stream_id = stream["id"].as_str().unwrap_or_default().to_string();
        if stream_id.is_empty() {
            return Err((errcode::INVALID_FRAME, "stream.id is required".into()));
        }
        let content = stream["content"].as_str().unwrap_or_default();
        if content.len() > CONTENT_LIMIT {
            return Err((
                errcode::CONTENT_TOO_LONG,
                format!("content is {} bytes, over the 20480-byte limit", content.len()),
            ));
        }
        let content = content.to_string();
        let finish = stream["finish"].as_bool().unwrap_or(false);
        let key = (bot_id.to_string(), stream_id.clone());
        let lifetime = self.config.stream_lifetime;
        let stream = st.streams.entry(key).or_insert(StreamState { first_at: Instant::now(), finished: false });
        if stream.first_at.elapsed() > lifetime {
            return Err((
                errcode::STREAM_EXPIRED,
                format!("stream message update expired (>{} seconds), cannot update", lifetime.as_secs()),
            ));
        }
        let was_finished = stream.finished;
        stream.finished |= finish;
        let transcript = Self::transcript(st, bot_id, chat_key);
        match transcript.iter_mut().find(|b| b.stream_id.as_deref() == Some(stream_id.as_str())) {
            Some(b) => {
                if !was_finished {
                    b.text = content;
                    b.finished = finish;
                    b.updates += 1;
                }
            }
            None => transcript.push(Bubble {
                from: "bot".into(),
                kind: "stream".into(),
                text: content,
                finished: finish,
                stream_id: Some(stream_id.clone()),
                updates: 1,
                ..Bubble::default()
            }),
        }
        if was_finished {
            Self::violate(
                st,
                bot_id,
                "aibot_respond_msg",
                req_id,
                errcode::OK,
                format!("update of finished stream {stream_id} ignored"),
            );
        }
        Ok(())
    }

    /// `stream_with_template_card`: the stream part as [`Self::apply_stream`]; the card is shown
    /// after the stream's bubble, once per message. A later card for the same message is
    /// accepted (the stream part still applies) but not shown, and recorded as a violation.
    fn stream_with_card(
        &self,
        st: &mut State,
        bot_id: &str,
        req_id: &str,
        cb: &CallbackInfo,
        body: &Value,
    ) -> Result<(), (i64, String)> {
        self.apply_stream(st, bot_id, req_id, &cb.chat_key, &body["stream"])?;
        let card = &body["template_card"];
        if card.is_object() {
            if cb.card_shown {
                Self::violate(
                    st,
                    bot_id,
                    "aibot_respond_msg",
                    req_id,
                    errcode::OK,
                    "a second template_card for the same message ignored (once per message)",
                );
            } else {
                if let Some(c) = st.callbacks.get_mut(req_id) {
                    c.card_shown = true;
                }
                Self::transcript(st, bot_id, &cb.chat_key).push(Self::card_bubble("card", card.clone()));
            }
        }
        Ok(())
    }

    /// A media message by `media_id` (`image`, `file`, `voice`, `video`): the id must come from
    /// an upload of this bot to this simulator, of the same type, within its 3 days; a video's
    /// `title` is at most 64 bytes and its `description` at most 512.
    fn media_bubble(&self, st: &State, bot_id: &str, kind: &str, body: &Value) -> Result<Bubble, (i64, String)> {
        let part = &body[kind];
        let media_id = part["media_id"].as_str().unwrap_or_default();
        let media = st.uploads.media.get(media_id).filter(|m| m.bot_id == bot_id);
        let Some(media) = media.filter(|m| m.created.elapsed() <= self.config.media_id_ttl) else {
            return Err((errcode::INVALID_MEDIA_ID, format!("invalid media_id {media_id:?}")));
        };
        if media.kind != kind {
            return Err((
                errcode::INVALID_MEDIA_ID,
                format!("invalid media_id {media_id:?}: it is a {} upload, not {kind}", media.kind),
            ));
        }
        let mut text = if media.filename.is_empty() { format!("[{kind}]") } else { media.filename.clone() };
        if kind == "video" {
            let title = part["title"].as_str().unwrap_or_default();
            let description = part["description"].as_str().unwrap_or_default();
            if title.len() > 64 {
                return Err((errcode::CONTENT_TOO_LONG, format!("video title is {} bytes, over 64", title.len())));
            }
            if description.len() > 512 {
                return Err((
                    errcode::CONTENT_TOO_LONG,
                    format!("video description is {} bytes, over 512", description.len()),
                ));
            }
            if !title.is_empty() {
                text = title.to_string();
            }
        }
        Ok(Bubble { media_id: Some(media_id.to_string()), ..Self::bot_bubble(kind, &text, None) })
    }

    fn respond_event(
        &self,
        st: &mut State,
        bot_id: &str,
        req_id: &str,
        body: &Value,
        kind: CallbackKind,
    ) -> (i64, String) {
        let Some(cb) = Self::callback_for(st, bot_id, req_id) else {
            return (errcode::INVALID_REQ_ID, "invalid req_id".into());
        };
        if cb.kind != kind || cb.at.elapsed() > self.config.event_reply_window {
            return (errcode::INVALID_REQ_ID, "invalid req_id: wrong callback type or past its 5 s window".into());
        }
        if cb.responded {
            return (errcode::ALREADY_RESPONDED, "request already responded, cannot respond again".into());
        }
        let bubble = if kind == CallbackKind::EnterChat {
            match body["msgtype"].as_str() {
                Some("text") => Self::bot_bubble("welcome", body["text"]["content"].as_str().unwrap_or_default(), None),
                Some("template_card") => {
                    let card = body["template_card"].clone();
                    Self::card_bubble("welcome", card)
                }
                _ => return (errcode::INVALID_MSGTYPE, "a welcome is text or template_card".into()),
            }
        } else {
            let card = body["template_card"].clone();
            if card["task_id"].as_str() != cb.task_id.as_deref() {
                return (errcode::INVALID_REQ_ID, "template_card.task_id must equal the event's task_id".into());
            }
            Self::card_bubble("card", card)
        };
        if let Some(c) = st.callbacks.get_mut(req_id) {
            c.responded = true;
        }
        Self::transcript(st, bot_id, &cb.chat_key).push(bubble);
        (errcode::OK, "ok".into())
    }

    /// Resolves `aibot_send_msg`'s `chatid` with `chat_type` (1: a userid of a single chat, 2: a
    /// group chatid, 0 or absent: a group first, then a single chat). Only chats that messaged the
    /// bot resolve; chatids are case-sensitive.
    fn resolve_chat(st: &State, bot_id: &str, chat_id: &str, chat_type: i64) -> Option<bool> {
        let spoke = |group: bool| st.spoken.contains(&(bot_id.to_string(), group, chat_id.to_string()));
        match chat_type {
            1 => spoke(false).then_some(false),
            2 => spoke(true).then_some(true),
            _ => {
                if spoke(true) {
                    Some(true)
                } else {
                    spoke(false).then_some(false)
                }
            }
        }
    }

    fn send_msg(&self, st: &mut State, bot_id: &str, body: &Value) -> (i64, String) {
        let chat_id = body["chatid"].as_str().unwrap_or_default().to_string();
        let chat_type = match &body["chat_type"] {
            Value::Null => 0,
            v => match v.as_i64() {
                Some(t @ 0..=2) => t,
                _ => return (errcode::INVALID_PARAMETER, format!("invalid chat_type {v}: 1, 2 or 0")),
            },
        };
        if Self::resolve_chat(st, bot_id, &chat_id, chat_type).is_none() {
            return (errcode::INVALID_CHATID, "invalid chatid: no such chat has messaged the bot".into());
        }
        let msgtype = body["msgtype"].as_str().unwrap_or_default();
        if !matches!(msgtype, "markdown" | "template_card" | "file" | "image" | "voice" | "video") {
            return (errcode::INVALID_MSGTYPE, "invalid message type".into());
        }
        if !self.rate_ok(st, bot_id, &chat_id) {
            return (errcode::RATE_LIMITED, "aibot send msg frequency limit exceeded".into());
        }
        let bubble = match msgtype {
            "markdown" => Self::content_ok(body, "markdown").map(|c| Self::bot_bubble("markdown", &c, None)),
            "template_card" => Ok(Self::card_bubble("card", body["template_card"].clone())),
            media => self.media_bubble(st, bot_id, media, body),
        };
        match bubble {
            Ok(b) => {
                Self::transcript(st, bot_id, &chat_id).push(b);
                (errcode::OK, "ok".into())
            }
            Err(e) => e,
        }
    }

    /// Sends a callback to a bot's live connection, registering its req_id. Returns the req_id.
    pub(crate) fn push_callback(&self, bot_id: &str, cb: NewCallback) -> Result<String, crate::SimError> {
        let NewCallback { cmd, kind, chat_key, task_id, body, user_bubble } = cb;
        let is_group = body.get("chatid").is_some();
        let chat_key = chat_key.as_str();
        let req_id = self.id("req_");
        let frame = json!({"cmd": cmd, "headers": {"req_id": req_id}, "body": body});
        let copies = if self.faults.take_duplicate(bot_id) { 2 } else { 1 };
        {
            let mut st = self.state.lock();
            let conn = st
                .bots
                .get(bot_id)
                .and_then(|b| b.live_conn)
                .ok_or_else(|| crate::SimError::NotConnected(bot_id.to_string()))?;
            let tx = st
                .conns
                .get(&conn)
                .map(|c| c.tx.clone())
                .ok_or_else(|| crate::SimError::NotConnected(bot_id.to_string()))?;
            st.callbacks.insert(
                req_id.clone(),
                CallbackInfo {
                    bot_id: bot_id.into(),
                    kind,
                    chat_key: chat_key.into(),
                    at: Instant::now(),
                    task_id,
                    responded: false,
                    card_shown: false,
                },
            );
            if kind == CallbackKind::Message {
                st.spoken.insert((bot_id.to_string(), is_group, chat_key.to_string()));
            }
            if let Some(b) = user_bubble {
                Self::transcript(&mut st, bot_id, chat_key).push(b);
            }
            for _ in 0..copies {
                tx.send(Outgoing::Frame(frame.clone()))
                    .map_err(|_| crate::SimError::NotConnected(bot_id.to_string()))?;
            }
            st.callbacks_sent += copies;
        }
        self.bump();
        Ok(req_id)
    }

    /// Builds a message callback body.
    pub(crate) fn message_body(
        &self,
        bot_id: &str,
        user: &str,
        chat: &Chat,
        msgtype: &str,
        payload: Value,
        response_url: &str,
    ) -> Value {
        let mut body = json!({
            "msgid": self.id("msg_"), "create_time": unix_now(), "aibotid": bot_id, "chattype": chat.chattype(),
            "from": {"userid": user}, "response_url": response_url, "msgtype": msgtype,
        });
        if let Chat::Group(id) = chat {
            body["chatid"] = json!(id);
        }
        body[msgtype] = payload;
        body
    }

    /// Builds an event callback body.
    pub(crate) fn event_body(&self, bot_id: &str, user: &str, chat: &Chat, event: Value) -> Value {
        let mut body = json!({
            "msgid": self.id("msg_"), "create_time": unix_now(), "aibotid": bot_id, "chattype": chat.chattype(),
            "from": {"userid": user}, "msgtype": "event", "event": event,
        });
        if let Chat::Group(id) = chat {
            body["chatid"] = json!(id);
        }
        body
    }

    /// Appends a bubble (used by the short-connection driver and response_url).
    pub(crate) fn add_bubble(&self, bot_id: &str, chat_key: &str, bubble: Bubble) {
        Self::transcript(&mut self.state.lock(), bot_id, chat_key).push(bubble);
        self.bump();
    }

    /// Replaces or adds a stream bubble's snapshot (short connection).
    pub(crate) fn stream_snapshot(&self, bot_id: &str, chat_key: &str, stream_id: &str, content: &str, finish: bool) {
        let mut st = self.state.lock();
        let t = Self::transcript(&mut st, bot_id, chat_key);
        match t.iter_mut().find(|b| b.stream_id.as_deref() == Some(stream_id)) {
            Some(b) => {
                b.text = content.into();
                b.finished = finish;
                b.updates += 1;
            }
            None => t.push(Bubble {
                from: "bot".into(),
                kind: "stream".into(),
                text: content.into(),
                finished: finish,
                stream_id: Some(stream_id.into()),
                updates: 1,
                ..Bubble::default()
            }),
        }
        drop(st);
        self.bump();
    }

    /// Records a violation found outside a command (short connection).
    pub(crate) fn add_violation(&self, bot_id: &str, cmd: &str, req_id: &str, errcode: i64, reason: &str) {
        Self::violate(&mut self.state.lock(), bot_id, cmd, req_id, errcode, reason);
        self.bump();
    }

    /// Marks a chat as having spoken (short connection).
    pub(crate) fn mark_spoken(&self, bot_id: &str, chat: &Chat, user: &str) {
        let is_group = matches!(chat, Chat::Group(_));
        self.state.lock().spoken.insert((bot_id.into(), is_group, chat.key(user)));
    }

    /// A conversation's bubbles.
    pub fn transcript_of(&self, bot_id: &str, chat_key: &str) -> Vec<Bubble> {
        self.state.lock().transcripts.get(&(bot_id.to_string(), chat_key.to_string())).cloned().unwrap_or_default()
    }

    /// Every violation so far.
    pub fn violations(&self) -> Vec<Violation> {
        self.state.lock().violations.clone()
    }

    /// A finished upload's type and bytes, by media id.
    pub fn uploaded(&self, media_id: &str) -> Option<(String, Vec<u8>)> {
        self.state.lock().uploads.media.get(media_id).map(|m| (m.kind.clone(), m.bytes.clone()))
    }

    /// Every frame received from bots so far.
    pub fn frames(&self) -> Vec<ReceivedFrame> {
        self.state.lock().frames.clone()
    }

    /// The frames received since the first `start` ones (cheap to call repeatedly with a
    /// growing `start`, unlike [`Core::frames`]).
    pub fn frames_since(&self, start: usize) -> Vec<ReceivedFrame> {
        let state = self.state.lock();
        state.frames.get(start..).map(<[ReceivedFrame]>::to_vec).unwrap_or_default()
    }

    /// How many bots have a live subscribed connection.
    pub fn connected_count(&self) -> usize {
        self.state.lock().bots.values().filter(|b| b.live_conn.is_some()).count()
    }

    /// How many callbacks were pushed.
    pub fn callbacks_sent(&self) -> u64 {
        self.state.lock().callbacks_sent
    }

    /// Waits until `cond` holds (re-checked on every state change), up to `timeout`.
    pub async fn wait_until(&self, timeout: Duration, mut cond: impl FnMut(&Core) -> bool) -> bool {
        let mut rx = self.changed.subscribe();
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            if cond(self) {
                return true;
            }
            match tokio::time::timeout_at(deadline, rx.changed()).await {
                Ok(Ok(())) => {}
                _ => return cond(self),
            }
        }
    }
}

/// A callback about to be pushed.
pub(crate) struct NewCallback {
    /// `aibot_msg_callback` or `aibot_event_callback`.
    pub cmd: &'static str,
    /// What its req_id may be answered with.
    pub kind: CallbackKind,
    /// The conversation.
    pub chat_key: String,
    /// For card events.
    pub task_id: Option<String>,
    /// The body.
    pub body: Value,
    /// What the user sees of it.
    pub user_bubble: Option<Bubble>,
}

/// Unix seconds now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64).unwrap_or(0)
}

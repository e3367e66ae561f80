//! The one listener: WebSocket upgrades on any path (the long connection), the `response_url`
//! endpoint, the media host, the JSON control API under `/sim/`, and the chat page at `/`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, Query, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use futures_util::{SinkExt, StreamExt};
use parking_lot::Mutex;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;

use crate::faults::FaultSpec;
use crate::short::ShortDriver;
use crate::sim::{Bubble, Chat, Core, DisconnectReason, Outgoing};

/// A `response_url` handed out with a callback.
pub(crate) struct ResponseUrl {
    pub bot_id: String,
    pub chat_key: String,
    pub created: Instant,
    pub used: bool,
}

/// An encrypted file on the media host.
pub(crate) struct MediaFile {
    pub bytes: Vec<u8>,
    pub name: String,
    pub created: Instant,
}

/// Everything the HTTP side shares.
#[derive(Clone)]
pub struct AppState {
    pub(crate) core: Arc<Core>,
    pub(crate) base_url: Arc<String>,
    pub(crate) response_urls: Arc<Mutex<HashMap<String, ResponseUrl>>>,
    pub(crate) responses: Arc<Mutex<Vec<Value>>>,
    pub(crate) media: Arc<Mutex<HashMap<String, MediaFile>>>,
    pub(crate) short: Arc<ShortDriver>,
}

impl AppState {
    /// A fresh single-use response_url for a conversation.
    pub(crate) fn new_response_url(&self, bot_id: &str, chat_key: &str) -> String {
        let code = self.core.id("rc");
        self.response_urls.lock().insert(
            code.clone(),
            ResponseUrl { bot_id: bot_id.into(), chat_key: chat_key.into(), created: Instant::now(), used: false },
        );
        format!("{}/cgi-bin/aibot/response?response_code={code}", self.base_url)
    }

    /// Stores a file encrypted with `key` (a short-connection bot's EncodingAESKey: no per-URL key
    /// travels with it) and returns its url.
    pub(crate) fn host_media_with_key(&self, plain: &[u8], name: &str, key: &[u8; 32]) -> String {
        let id = self.core.id("m");
        self.media.lock().insert(
            id.clone(),
            MediaFile { bytes: crate::crypto::seal(key, plain), name: name.into(), created: Instant::now() },
        );
        format!("{}/media/{id}", self.base_url)
    }

    /// Stores an encrypted file and returns (url, aeskey in base64).
    pub(crate) fn host_media(&self, plain: &[u8], name: &str) -> (String, String) {
        let key: [u8; 32] = rand::random();
        let id = self.core.id("m");
        self.media.lock().insert(
            id.clone(),
            MediaFile { bytes: crate::crypto::seal(&key, plain), name: name.into(), created: Instant::now() },
        );
        (format!("{}/media/{id}", self.base_url), crate::crypto::media_key(&key, self.core.config.aeskey_form))
    }
}

/// The router.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/", get(root))
        .route("/chat", get(page))
        .route("/cgi-bin/aibot/response", post(response_url))
        .route("/media/{id}", get(media))
        .route("/sim/bots", get(list_bots).post(add_bot))
        .route("/sim/messages", post(push_message))
        .route("/sim/events", post(push_event))
        .route("/sim/transcript", get(transcript))
        .route("/sim/violations", get(violations))
        .route("/sim/disconnects", get(disconnects))
        .route("/sim/sockets", get(sockets))
        .route("/sim/frames", get(frames))
        .route("/sim/responses", get(responses))
        .route("/sim/faults", post(faults))
        .route("/sim/drop", post(drop_bot))
        .route("/sim/restart", post(restart))
        .route("/sim/short/bots", post(short_bot))
        .route("/sim/short/verify", post(short_verify))
        .route("/sim/short/messages", post(short_message))
        .fallback(any_path)
        .with_state(state)
}

type Upgrade = Result<WebSocketUpgrade, WebSocketUpgradeRejection>;

async fn root(State(state): State<AppState>, ws: Upgrade) -> Response {
    match ws {
        Ok(ws) => upgrade(state, ws),
        Err(_) => page().await.into_response(),
    }
}

async fn any_path(State(state): State<AppState>, ws: Upgrade) -> Response {
    match ws {
        Ok(ws) => upgrade(state, ws),
        Err(_) => (StatusCode::NOT_FOUND, Json(json!({"errcode": 404, "errmsg": "not found"}))).into_response(),
    }
}

async fn page() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], crate::page::CHAT_PAGE).into_response()
}

fn upgrade(state: AppState, ws: WebSocketUpgrade) -> Response {
    if state.core.faults.in_outage() {
        return (StatusCode::SERVICE_UNAVAILABLE, "outage").into_response();
    }
    ws.on_upgrade(move |socket| serve_socket(state.core, socket))
}

async fn serve_socket(core: Arc<Core>, socket: WebSocket) {
    let (mut sink, mut stream) = socket.split();
    let (tx, mut rx) = mpsc::unbounded_channel::<Outgoing>();
    let conn = core.connect(tx.clone());
    // Why the writer ended the socket on its own (missed pongs), for the reader to record.
    let writer_reason: Arc<Mutex<Option<DisconnectReason>>> = Arc::new(Mutex::new(None));
    let abort = Arc::new(tokio::sync::Notify::new());
    let writer_abort = abort.clone();
    // Pings sent since the last pong.
    let unanswered = Arc::new(AtomicU32::new(0));
    let writer_unanswered = unanswered.clone();
    let writer_reason_set = writer_reason.clone();
    let missed_limit = core.config.missed_pongs_limit;
    let ping_every = core.config.ws_ping_interval.max(Duration::from_millis(10));
    let mut writer = tokio::spawn(async move {
        let mut pings = tokio::time::interval_at(tokio::time::Instant::now() + ping_every, ping_every);
        loop {
            let out = tokio::select! {
                out = rx.recv() => out,
                _ = pings.tick() => {
                    let missed = writer_unanswered.load(Ordering::SeqCst);
                    if missed_limit.is_some_and(|limit| missed >= limit) {
                        // A dead peer: drop the TCP connection, no close frame.
                        *writer_reason_set.lock() = Some(DisconnectReason::MissedPongs { missed });
                        break;
                    }
                    writer_unanswered.fetch_add(1, Ordering::SeqCst);
                    if sink.send(Message::Ping(Vec::new().into())).await.is_err() {
                        break;
                    }
                    continue;
                }
            };
            let Some(out) = out else { break };
            match out {
                Outgoing::Frame(v) => {
                    if sink.send(Message::Text(v.to_string().into())).await.is_err() {
                        break;
                    }
                }
                Outgoing::Close => {
                    let _ = sink.send(Message::Close(None)).await;
                    break;
                }
                Outgoing::EchoClose => {
                    // The WebSocket layer queued the echo of the client's close frame when it read
                    // it; flushing sends it, closing ends the TCP connection (the server closes
                    // first, RFC 6455 §7.1.1).
                    let _ = sink.flush().await;
                    let _ = sink.close().await;
                    break;
                }
                Outgoing::Abort => break,
            }
        }
        writer_abort.notify_one();
    });
    let idle = core.config.idle_timeout;
    let mut last_ping = Instant::now();
    let mut idle_check =
        tokio::time::interval(idle.unwrap_or(Duration::from_secs(3600)).max(Duration::from_millis(10)) / 4);
    let reason = loop {
        tokio::select! {
            _ = idle_check.tick(), if idle.is_some() => {
                if idle.is_some_and(|t| last_ping.elapsed() > t) {
                    break DisconnectReason::IdleTimeout; // no close frame, as a dead peer would see it
                }
            }
            msg = stream.next() => {
                let Some(Ok(msg)) = msg else { break DisconnectReason::ClientGone };
                let text = match msg {
                    Message::Text(t) => t.to_string(),
                    Message::Binary(b) => String::from_utf8_lossy(&b).into_owned(),
                    Message::Close(frame) => {
                        core.client_closing(conn, frame.as_ref().map(|f| f.code));
                        let _ = tx.send(Outgoing::EchoClose);
                        let _ = tokio::time::timeout(Duration::from_secs(1), &mut writer).await;
                        break DisconnectReason::ClientClose { code: frame.map(|f| f.code) };
                    }
                    Message::Pong(_) => {
                        unanswered.store(0, Ordering::SeqCst);
                        continue;
                    }
                    _ => continue,
                };
                if text.contains("\"ping\"") && serde_json::from_str::<Value>(&text).is_ok_and(|v| v["cmd"] == "ping") {
                    last_ping = Instant::now();
                }
                let bot = core.frame_bot(conn);
                if let Some(ack) = core.handle_frame(conn, &text) {
                    let delay = bot.as_deref().and_then(|b| core.faults.ack_delay(b)).unwrap_or(core.config.ack_delay);
                    if delay.is_zero() {
                        let _ = tx.send(Outgoing::Frame(ack));
                    } else {
                        let tx = tx.clone();
                        tokio::spawn(async move {
                            tokio::time::sleep(delay).await;
                            let _ = tx.send(Outgoing::Frame(ack));
                        });
                    }
                }
            }
            _ = abort.notified() => break writer_reason.lock().take().unwrap_or(DisconnectReason::ClientGone),
        }
    };
    core.disconnect(conn, reason);
    writer.abort();
}

#[derive(Deserialize)]
struct ResponseQuery {
    response_code: String,
}

async fn response_url(
    State(state): State<AppState>,
    Query(q): Query<ResponseQuery>,
    body: axum::body::Bytes,
) -> Response {
    let ttl = state.core.config.response_url_ttl;
    let target = {
        let mut urls = state.response_urls.lock();
        match urls.get_mut(&q.response_code) {
            Some(u) if !u.used && u.created.elapsed() <= ttl => {
                u.used = true;
                Some((u.bot_id.clone(), u.chat_key.clone()))
            }
            _ => None,
        }
    };
    let Some((bot_id, chat_key)) = target else {
        let code = state.core.config.response_url_errcode;
        return Json(json!({"errcode": code, "errmsg": "response_url expired or already used"})).into_response();
    };
    let Ok(value) = serde_json::from_slice::<Value>(&body) else {
        return Json(json!({"errcode": 40001, "errmsg": "body is not JSON"})).into_response();
    };
    state.responses.lock().push(json!({"botId": bot_id, "chatId": chat_key, "body": value}));
    let (kind, text, card) = match value["msgtype"].as_str() {
        Some("markdown") => ("markdown", value["markdown"]["content"].as_str().unwrap_or_default().to_string(), None),
        Some("template_card") => (
            "card",
            value["template_card"]["main_title"]["title"].as_str().unwrap_or_default().to_string(),
            Some(value["template_card"].clone()),
        ),
        Some("stream") => ("markdown", value["stream"]["content"].as_str().unwrap_or_default().to_string(), None),
        _ => return Json(json!({"errcode": 40008, "errmsg": "invalid message type"})).into_response(),
    };
    if text.len() > crate::sim::CONTENT_LIMIT {
        return Json(json!({"errcode": 45002, "errmsg": "content size out of limit"})).into_response();
    }
    state.core.add_bubble(
        &bot_id,
        &chat_key,
        Bubble { from: "bot".into(), kind: kind.into(), text, finished: true, card, updates: 1, ..Bubble::default() },
    );
    Json(json!({"errcode": 0, "errmsg": "ok"})).into_response()
}

async fn media(State(state): State<AppState>, Path(id): Path<String>) -> Response {
    let ttl = state.core.config.media_ttl;
    let media = state.media.lock();
    match media.get(&id) {
        Some(f) if f.created.elapsed() <= ttl => (
            [
                (header::CONTENT_TYPE, "application/octet-stream".to_string()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename*=UTF-8''{}", crate::short::percent_encode(&f.name)),
                ),
            ],
            f.bytes.clone(),
        )
            .into_response(),
        _ => (StatusCode::NOT_FOUND, "media expired or unknown").into_response(),
    }
}

async fn list_bots(State(state): State<AppState>) -> Response {
    let bots: Vec<Value> =
        state.core.bots().into_iter().map(|b| json!({"botId": b, "connected": state.core.is_connected(&b)})).collect();
    Json(bots).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct BotBody {
    bot_id: String,
    secret: String,
}

async fn add_bot(State(state): State<AppState>, Json(b): Json<BotBody>) -> Response {
    state.core.add_bot(&b.bot_id, &b.secret);
    Json(json!({"ok": true})).into_response()
}

/// A message pushed as a user (control API `POST /sim/messages`, and
/// [`crate::Simulator::send_message`]). Build one with [`MessageBody::new`] or a struct literal
/// ending in `..Default::default()`.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageBody {
    /// The bot.
    pub bot_id: String,
    /// The user.
    pub user_id: String,
    /// The group chatid (absent: single chat).
    #[serde(default)]
    pub chat_id: Option<String>,
    /// `text` (default), `voice`, `image`, `file`, `video` (base64 `data` + optional `name`;
    /// single chats only) or `mixed` (`text` plus an optional image from `data`).
    #[serde(default)]
    pub msgtype: Option<String>,
    /// Text (text, voice, mixed).
    #[serde(default)]
    pub text: String,
    /// Base64 file bytes (image, file, video; the image of mixed).
    #[serde(default)]
    pub data: Option<String>,
    /// File name.
    #[serde(default)]
    pub name: Option<String>,
    /// A quoted earlier message, carried in the callback's `quote`.
    #[serde(default)]
    pub quote: Option<QuoteBody>,
    /// The `msgid` to carry (default: a fresh one). Reusing one replays a message as WeCom
    /// does after a reconnect: same message, new `req_id`.
    #[serde(default)]
    pub msgid: Option<String>,
}

impl MessageBody {
    /// A text message from `user_id` to `bot_id` in a single chat.
    pub fn new(bot_id: &str, user_id: &str, text: &str) -> MessageBody {
        MessageBody { bot_id: bot_id.into(), user_id: user_id.into(), text: text.into(), ..Default::default() }
    }

    /// The same message in the group chat `chat_id`.
    pub fn in_group(self, chat_id: &str) -> MessageBody {
        MessageBody { chat_id: Some(chat_id.into()), ..self }
    }

    /// The same message carrying `msgid` (a redelivery when it was used before).
    pub fn with_msgid(self, msgid: &str) -> MessageBody {
        MessageBody { msgid: Some(msgid.into()), ..self }
    }

    /// A media message instead (`image`, `file`, `video`, or the image of `mixed`): the bytes are
    /// hosted encrypted on the media host and the callback carries their URL and `aeskey`.
    pub fn media(self, msgtype: &str, bytes: &[u8], name: &str) -> MessageBody {
        use base64::Engine as _;
        MessageBody {
            msgtype: Some(msgtype.into()),
            data: Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
            name: Some(name.into()),
            ..self
        }
    }

    /// Quoting `quote`.
    pub fn quoting(self, quote: QuoteBody) -> MessageBody {
        MessageBody { quote: Some(quote), ..self }
    }
}

/// The quoted message inside a [`MessageBody`]: any message type (media in quotes carry their own
/// `url` and `aeskey`, in group chats too).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuoteBody {
    /// `text` (default), `voice`, `image`, `file`, `video` or `mixed`.
    #[serde(default)]
    pub msgtype: Option<String>,
    /// Text (text, voice, mixed).
    #[serde(default)]
    pub text: String,
    /// Base64 file bytes (image, file, video; the image of mixed).
    #[serde(default)]
    pub data: Option<String>,
    /// File name.
    #[serde(default)]
    pub name: Option<String>,
}

fn chat_of(chat_id: &Option<String>) -> Chat {
    match chat_id.as_deref().filter(|c| !c.is_empty()) {
        Some(c) => Chat::Group(c.to_string()),
        None => Chat::Single,
    }
}

fn error(status: StatusCode, message: String) -> Response {
    (status, Json(json!({"error": message}))).into_response()
}

/// The answer to a message or event that did not reach the bot: 409 with
/// `{"error", "code": "bot_not_connected", "delivered": false}` when the bot has no live socket,
/// 400 with `"code": "invalid"` for a malformed request. Nothing was delivered in either case.
fn not_delivered(e: crate::SimError) -> Response {
    let (status, code) = match &e {
        crate::SimError::NotConnected(_) => (StatusCode::CONFLICT, "bot_not_connected"),
        _ => (StatusCode::BAD_REQUEST, "invalid"),
    };
    (status, Json(json!({"error": e.to_string(), "code": code, "delivered": false}))).into_response()
}

async fn push_message(State(state): State<AppState>, Json(m): Json<MessageBody>) -> Response {
    match crate::push_message(&state, &m) {
        Ok(req_id) => Json(json!({"reqId": req_id, "delivered": true})).into_response(),
        Err(e) => not_delivered(e),
    }
}

/// An event pushed as a user (control API `POST /sim/events`, and
/// [`crate::Simulator::send_event`]).
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EventBody {
    /// The bot.
    pub bot_id: String,
    /// The user.
    pub user_id: String,
    /// Group chatid, if any.
    #[serde(default)]
    pub chat_id: Option<String>,
    /// `enter_chat`, `template_card_event` or `feedback_event`.
    pub eventtype: String,
    /// For card events.
    #[serde(default)]
    pub task_id: Option<String>,
    /// For card events.
    #[serde(default)]
    pub event_key: Option<String>,
    /// For feedback events: 1, 2 or 3.
    #[serde(default)]
    pub feedback_type: Option<u8>,
}

async fn push_event(State(state): State<AppState>, Json(e): Json<EventBody>) -> Response {
    match crate::push_event(&state, &e) {
        Ok(req_id) => Json(json!({"reqId": req_id, "delivered": true})).into_response(),
        Err(err) => not_delivered(err),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ChatQuery {
    bot_id: String,
    chat_id: String,
}

async fn transcript(State(state): State<AppState>, Query(q): Query<ChatQuery>) -> Response {
    Json(state.core.transcript_of(&q.bot_id, &q.chat_id)).into_response()
}

async fn violations(State(state): State<AppState>) -> Response {
    Json(state.core.violations()).into_response()
}

/// `GET /sim/sockets`: how many bots have a live connection, the most sockets one bot ever had
/// at once (more than one: two clients held it together), and the kicks so far.
async fn sockets(State(state): State<AppState>) -> Response {
    let (most, bot) = state.core.most_sockets_of_one_bot();
    Json(json!({
        "connected": state.core.connected_count(),
        "mostSocketsOfOneBot": most,
        "thatBot": bot,
        "kicks": state.core.kicks(),
    }))
    .into_response()
}

async fn disconnects(State(state): State<AppState>, Query(q): Query<FramesQuery>) -> Response {
    let list: Vec<_> =
        state.core.disconnects().into_iter().filter(|d| q.bot_id.as_deref().is_none_or(|b| b == d.bot_id)).collect();
    Json(list).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct FramesQuery {
    #[serde(default)]
    bot_id: Option<String>,
}

async fn frames(State(state): State<AppState>, Query(q): Query<FramesQuery>) -> Response {
    let frames: Vec<_> =
        state.core.frames().into_iter().filter(|f| q.bot_id.as_deref().is_none_or(|b| b == f.bot_id)).collect();
    Json(frames).into_response()
}

async fn responses(State(state): State<AppState>) -> Response {
    Json(state.responses.lock().clone()).into_response()
}

async fn faults(State(state): State<AppState>, Json(spec): Json<FaultSpec>) -> Response {
    let bot_id = spec.bot_id().map(str::to_string);
    state.core.faults.apply(spec);
    Json(json!({"ok": true, "botId": bot_id})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DropBody {
    bot_id: String,
}

async fn drop_bot(State(state): State<AppState>, Json(b): Json<DropBody>) -> Response {
    Json(json!({"dropped": state.core.drop_bot_sockets(&b.bot_id)})).into_response()
}

async fn restart(State(state): State<AppState>) -> Response {
    state.core.drop_all_sockets();
    state.response_urls.lock().clear();
    Json(json!({"ok": true})).into_response()
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShortBotBody {
    bot_id: String,
    callback_url: String,
    token: String,
    encoding_aes_key: String,
}

async fn short_bot(State(state): State<AppState>, Json(b): Json<ShortBotBody>) -> Response {
    match state.short.register(&b.bot_id, &b.callback_url, &b.token, &b.encoding_aes_key) {
        Ok(()) => Json(json!({"ok": true})).into_response(),
        Err(e) => error(StatusCode::BAD_REQUEST, e.to_string()),
    }
}

async fn short_verify(State(state): State<AppState>, Json(b): Json<DropBody>) -> Response {
    match state.short.verify_url(&b.bot_id).await {
        Ok(()) => Json(json!({"ok": true})).into_response(),
        Err(e) => Json(json!({"ok": false, "error": e})).into_response(),
    }
}

async fn short_message(State(state): State<AppState>, Json(m): Json<MessageBody>) -> Response {
    let chat = chat_of(&m.chat_id);
    match state.short.send_text(&state, &m.bot_id, &m.user_id, &chat, &m.text).await {
        Ok(outcome) => Json(outcome).into_response(),
        Err(e) => error(StatusCode::CONFLICT, e),
    }
}

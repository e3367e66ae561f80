//! One long connection to WeCom: a WebSocket speaking the frame protocol of
//! [`crate::protocol`], with acks matched to commands by exact `req_id`, commands on one `req_id`
//! serialized, callbacks handed to a channel, the application heartbeat and dead-link detection.
//!
//! There is no reconnect logic here: when the connection ends, [`Driver`] resolves with a
//! [`ConnectionEnd`] and the caller (the actor) decides what to do.
//!
//! ```text
//! connect(&config) ──> (Client, Driver, Receiver<Callback>)
//!   Client   cheap to clone: subscribe, request, close, last_ping_ack_ms
//!   Driver   the only owner of the socket; the caller awaits or selects it (it spawns nothing)
//!   Receiver the callbacks (aibot_msg_callback, aibot_event_callback, …) in arrival order
//! ```
//!
//! **Acks.** Every command gets one ack carrying its `req_id` and no `cmd`. A command waits for
//! its ack at most [`ClientConfig::ack_timeout`], counted from when its frame is written.
//! Commands on the same `req_id` (the frames of one reply) go out one at a time: the next is
//! written only after the previous one's ack or timeout, as WeCom acks them in order and the
//! `req_id` is all an ack carries. Consequently, a late ack of a timed-out frame is taken for the
//! ack of the next frame on that `req_id`: nothing in the protocol tells them apart. Commands
//! with fresh req_ids ([`crate::protocol::new_req_id`]) are not affected.
//!
//! **Callbacks.** They go to a bounded channel of [`CALLBACK_CHANNEL_CAPACITY`]. The driver never
//! waits for room in it, so acks and heartbeats keep flowing while the consumer is slow: when the
//! channel is full the callback is dropped, a warning naming its `cmd` and `req_id` is logged and
//! [`Client::dropped_callbacks`] counts it. WeCom does not redeliver, so the consumer must keep up.
//!
//! **Heartbeat.** After a successful `aibot_subscribe` the driver sends `ping` every
//! [`ClientConfig::heartbeat_interval`]. Each ping counts as outstanding until any ping ack
//! arrives (which clears the count and sets [`Client::last_ping_ack_ms`]); at a tick where
//! [`ClientConfig::max_missed_pings`] are outstanding the link is dead and the driver ends with
//! [`ConnectionEnd::DeadLink`]. WebSocket-protocol pings from the server are answered with pongs.
//!
//! **Secrets.** Frames are never logged or put into errors; logs name a frame's `cmd` and
//! `req_id` only, so the secret in the subscribe body cannot leak.

use std::collections::{HashMap, HashSet, VecDeque};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use serde_json::Value;
use tokio::sync::{mpsc, oneshot, Notify};
use tokio::time::{sleep_until, timeout_at, Instant, Interval, MissedTickBehavior};
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;

use super::transport::{self, TlsSettings, TransportError, WsStream};
use crate::protocol::callback::{parse_callback, CallbackBody, CallbackError};
use crate::protocol::command::{subscribe_body, CMD_PING, CMD_SUBSCRIBE};
pub use crate::protocol::frame::Ack;
use crate::protocol::frame::{classify, new_req_id, unix_ms, Incoming, Outgoing};

/// Default [`ClientConfig::connect_timeout`]: 10 s.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// Default [`ClientConfig::ack_timeout`]: 5 s, the official SDK's reply-ack timeout.
pub const DEFAULT_ACK_TIMEOUT: Duration = Duration::from_secs(5);
/// Default [`ClientConfig::heartbeat_interval`]: WeCom's recommended 30 s.
pub const DEFAULT_HEARTBEAT_INTERVAL: Duration = Duration::from_secs(30);
/// Default [`ClientConfig::max_missed_pings`]: 2, as the official SDK.
pub const DEFAULT_MAX_MISSED_PINGS: u32 = 2;
/// Room in the callback channel; see the module documentation for what happens when it is full.
pub const CALLBACK_CHANNEL_CAPACITY: usize = 256;
/// The most commands that may wait behind the one in flight on a single `req_id` (the Node
/// SDK's limit); one more fails with [`CommandError::Queue`].
pub const MAX_QUEUED_PER_REQ_ID: usize = 500;
/// After [`Client::close`], the driver waits at most this long (and at most the ack timeout) for
/// the close frame to be written and the peer's close to arrive.
pub const CLOSE_WAIT: Duration = Duration::from_secs(2);

/// How to open and run one connection. Every timing has WeCom's (or the official SDK's) value as
/// its default; see [`ClientConfig::new`].
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// `wss://openws.work.weixin.qq.com` or a private deployment's URL (`ws://` in tests).
    pub url: String,
    /// An `Origin` header to send, if any.
    pub origin: Option<String>,
    /// Trust settings for `wss://`.
    pub tls: TlsSettings,
    /// Bounds DNS, TCP, TLS and the WebSocket upgrade together. Default 10 s.
    pub connect_timeout: Duration,
    /// How long a command waits for its ack once written (the integration's `timeoutMs`).
    pub ack_timeout: Duration,
    /// The `ping` interval after subscribe (`WECOM_HEARTBEAT_MS`). Default 30 s.
    pub heartbeat_interval: Duration,
    /// At a heartbeat tick where this many ping acks are outstanding, the link is dead. Default 2;
    /// 0 counts as 1.
    pub max_missed_pings: u32,
}

impl ClientConfig {
    /// A configuration for `url` with every timing at its default and no `Origin`.
    pub fn new(url: impl Into<String>, tls: TlsSettings) -> Self {
        ClientConfig {
            url: url.into(),
            origin: None,
            tls,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            ack_timeout: DEFAULT_ACK_TIMEOUT,
            heartbeat_interval: DEFAULT_HEARTBEAT_INTERVAL,
            max_missed_pings: DEFAULT_MAX_MISSED_PINGS,
        }
    }
}

/// A callback from WeCom, as received. Answer it with commands on its `req_id`
/// ([`Client::request`]); it needs no ack.
#[derive(Clone, Debug, PartialEq)]
pub struct Callback {
    /// `aibot_msg_callback`, `aibot_event_callback` or another command.
    pub cmd: String,
    /// The server's req_id: reuse it for the replies.
    pub req_id: String,
    /// The body (`Value::Null` when absent).
    pub body: Value,
    /// Unix ms when the driver read it.
    pub received_at_ms: i64,
}

impl Callback {
    /// The body typed by its `cmd` (lenient; see [`crate::protocol::callback`]).
    pub fn parse(&self) -> Result<CallbackBody, CallbackError> {
        parse_callback(&self.cmd, &self.body)
    }
}

/// Why the connection could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The socket could not be opened (URL, DNS, TCP, TLS, upgrade or timeout); names the host,
    /// never the URL.
    #[error(transparent)]
    Transport(#[from] TransportError),
}

/// Why a command failed. Messages carry WeCom's errcode and errmsg, never a frame's body.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum CommandError {
    /// No ack within the ack timeout. The frame may still have been applied; do not resend a
    /// stream frame blindly (the next snapshot overwrites anyway).
    #[error("no ack for {cmd} (req_id {req_id}) within the ack timeout")]
    Timeout {
        /// The command.
        cmd: String,
        /// Its req_id.
        req_id: String,
    },
    /// WeCom answered with a non-zero errcode (see [`crate::protocol::errcode`]). Only this
    /// command failed; the connection stays usable.
    #[error("WeCom refused the command: errcode {errcode}: {errmsg}")]
    WeCom {
        /// WeCom's errcode.
        errcode: i64,
        /// WeCom's errmsg.
        errmsg: String,
    },
    /// The connection is closed or closing; the command's fate is unknown if it was written.
    #[error("the connection is closed")]
    Closed,
    /// More than [`MAX_QUEUED_PER_REQ_ID`] commands are already waiting on this req_id.
    #[error("too many commands are queued on one req_id")]
    Queue,
}

impl CommandError {
    /// WeCom's errcode, for [`CommandError::WeCom`].
    pub fn errcode(&self) -> Option<i64> {
        match self {
            CommandError::WeCom { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }
}

/// How a connection ended (what [`Driver`] resolves to).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ConnectionEnd {
    /// [`Client::close`] was called; a close frame was sent.
    ClosedByUs,
    /// The server sent a close frame (`code: None` when it carried none) or ended the stream
    /// after one.
    ClosedByPeer {
        /// The close code.
        code: Option<u16>,
        /// The close reason.
        reason: String,
    },
    /// This many pings went unacknowledged: the socket was dropped without a close frame.
    DeadLink {
        /// Outstanding pings at the fatal tick.
        missed_pings: u32,
    },
    /// The socket failed (reset without a close frame, a write that timed out, a protocol
    /// error).
    Io(String),
}

impl fmt::Display for ConnectionEnd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConnectionEnd::ClosedByUs => f.write_str("closed by us"),
            ConnectionEnd::ClosedByPeer { code: Some(code), reason } => {
                write!(f, "closed by the server (code {code}: {reason})")
            }
            ConnectionEnd::ClosedByPeer { code: None, .. } => f.write_str("closed by the server"),
            ConnectionEnd::DeadLink { missed_pings } => write!(f, "dead link: {missed_pings} pings unacknowledged"),
            ConnectionEnd::Io(e) => write!(f, "connection failed: {e}"),
        }
    }
}

/// A command on its way to the driver.
struct Pending {
    cmd: String,
    req_id: String,
    text: String,
    reply: oneshot::Sender<Result<Ack, CommandError>>,
}

/// What the handles share with the driver.
///
/// Commands reach the driver through a queue here rather than a tokio channel: an mpsc channel
/// allocates its first 32-slot block and its cache-padded state when it is created, about 3 KiB
/// for [`Pending`], which every idle connection would keep for nothing.
struct Shared {
    /// Commands not yet taken by the driver, in call order; `None` once the driver has ended
    /// (or was dropped), when new commands fail at once.
    ops: parking_lot::Mutex<Option<VecDeque<Pending>>>,
    /// Wakes the driver when `ops` gains a command.
    ops_ready: Notify,
    /// Callbacks for an [`Inbox`] (unused with a channel).
    inbox: parking_lot::Mutex<InboxState>,
    /// Wakes the [`Inbox`] when `inbox` gains a callback or the connection ends.
    inbox_ready: Notify,
    close: Notify,
    closing: AtomicBool,
    /// Unix ms of the last ping ack, [`NO_PING_ACK`] before the first.
    last_ping_ack_ms: AtomicI64,
    dropped_callbacks: AtomicU64,
}

const NO_PING_ACK: i64 = i64::MIN;

/// A handle on one connection. Cheap to clone; every clone drives the same socket.
#[derive(Clone)]
pub struct Client {
    shared: Arc<Shared>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("closing", &self.shared.closing.load(Ordering::Relaxed))
            .field("last_ping_ack_ms", &self.last_ping_ack_ms())
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Sends `aibot_subscribe` with the bot's credentials. `Ok` on errcode 0, after which the
    /// driver starts the heartbeat; [`CommandError::WeCom`] with errcode 853000 on bad
    /// credentials (the server leaves the socket open: close it, and do not retry in a loop).
    pub async fn subscribe(&self, bot_id: &str, secret: &str) -> Result<(), CommandError> {
        self.request(CMD_SUBSCRIBE, None, subscribe_body(bot_id, secret)).await.map(|_| ())
    }

    /// Sends one command and waits for its ack, matched by exact `req_id`, within the ack
    /// timeout. `req_id: None` = a fresh one. Commands on the same req_id are serialized (the
    /// next is sent only after the previous one's ack or timeout), in the order they were
    /// called. A non-zero errcode is [`CommandError::WeCom`]. A `Value::Null` body is left out.
    ///
    /// Dropping the returned future before its frame is written withdraws the command.
    pub async fn request(&self, cmd: &str, req_id: Option<&str>, body: Value) -> Result<Ack, CommandError> {
        if self.shared.closing.load(Ordering::Acquire) {
            return Err(CommandError::Closed);
        }
        let req_id = req_id.map_or_else(|| new_req_id(cmd), str::to_owned);
        let text = Outgoing::new(cmd, req_id.clone(), body).to_text();
        let (reply, answer) = oneshot::channel();
        {
            let mut ops = self.shared.ops.lock();
            let queue = ops.as_mut().ok_or(CommandError::Closed)?;
            queue.push_back(Pending { cmd: cmd.to_owned(), req_id, text, reply });
        }
        self.shared.ops_ready.notify_one();
        let ack = answer.await.map_err(|_| CommandError::Closed)??;
        if ack.errcode != 0 {
            return Err(CommandError::WeCom { errcode: ack.errcode, errmsg: ack.errmsg });
        }
        Ok(ack)
    }

    /// Sends a clean close frame (1000) and makes the driver finish with
    /// [`ConnectionEnd::ClosedByUs`] once the peer's close arrives or [`CLOSE_WAIT`] (capped by
    /// the ack timeout) passes. Commands still pending and later requests fail with
    /// [`CommandError::Closed`]; frames read while closing are discarded. Idempotent.
    pub fn close(&self) {
        if !self.shared.closing.swap(true, Ordering::AcqRel) {
            self.shared.close.notify_one();
        }
    }

    /// Whether the connection is closing or has ended (its commands fail with
    /// [`CommandError::Closed`]).
    pub fn is_closed(&self) -> bool {
        self.shared.closing.load(Ordering::Acquire)
    }

    /// Unix ms of the last ping ack (None before the first).
    pub fn last_ping_ack_ms(&self) -> Option<i64> {
        Some(self.shared.last_ping_ack_ms.load(Ordering::Acquire)).filter(|ms| *ms != NO_PING_ACK)
    }

    /// How many callbacks were dropped because the callback channel was full (or its receiver
    /// gone).
    pub fn dropped_callbacks(&self) -> u64 {
        self.shared.dropped_callbacks.load(Ordering::Relaxed)
    }
}

/// Owns the socket: reads frames (callbacks to the channel, acks to their waiters, answers
/// protocol pings with pongs), writes queued commands, runs the heartbeat (after subscribe) and
/// detects a dead link. Resolves when the connection ends; every command still pending then
/// fails with [`CommandError::Closed`]. It spawns nothing: poll it (await or select) for the
/// connection to make progress. Dropping it drops the socket.
pub struct Driver(Pin<Box<dyn Future<Output = ConnectionEnd> + Send + 'static>>);

impl fmt::Debug for Driver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Driver")
    }
}

impl Future for Driver {
    type Output = ConnectionEnd;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<ConnectionEnd> {
        self.0.as_mut().poll(cx)
    }
}

/// Opens the socket; returns a cheap-to-clone handle, the driver future that owns the socket
/// (the caller awaits/selects it; it spawns no tasks of its own), and the inbound callbacks.
pub async fn connect(config: &ClientConfig) -> Result<(Client, Driver, mpsc::Receiver<Callback>), ClientError> {
    let ws = transport::connect(&config.url, config.origin.as_deref(), &config.tls, config.connect_timeout).await?;
    let (callbacks, callbacks_rx) = mpsc::channel(CALLBACK_CHANNEL_CAPACITY);
    let (client, driver) = start(ws, config, CallbackSink::Channel(callbacks));
    Ok((client, driver, callbacks_rx))
}

/// [`connect`] for callers that hold thousands of connections (the actors): the same connection,
/// with the callbacks in an [`Inbox`] instead of a tokio channel. A channel allocates its
/// cache-padded state and its first block of 32 slots when it is created and keeps them, 3.3 KiB
/// for [`Callback`]s (0.8 KiB even boxed); an inbox holds nothing while it is empty.
pub async fn connect_compact(config: &ClientConfig) -> Result<(Client, Driver, Inbox), ClientError> {
    let ws = transport::connect(&config.url, config.origin.as_deref(), &config.tls, config.connect_timeout).await?;
    let (client, driver) = start(ws, config, CallbackSink::Inbox);
    let inbox = Inbox { shared: client.shared.clone() };
    Ok((client, driver, inbox))
}

/// The callbacks of one connection opened by [`connect_compact`], in arrival order, with the
/// channel's rules: at most [`CALLBACK_CHANNEL_CAPACITY`] wait, the driver never waits for room
/// (a callback that finds the inbox full is dropped and counted), and dropping the inbox drops
/// what it held and every later callback.
pub struct Inbox {
    shared: Arc<Shared>,
}

impl fmt::Debug for Inbox {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Inbox").field("waiting", &self.shared.inbox.lock().queue.len()).finish()
    }
}

impl Inbox {
    /// The next callback; `None` once the connection has ended and every callback was taken.
    /// Cancel-safe: a callback is only taken by a call that returns it.
    pub async fn recv(&mut self) -> Option<Callback> {
        loop {
            {
                let mut inbox = self.shared.inbox.lock();
                if let Some(callback) = inbox.queue.pop_front() {
                    if inbox.queue.is_empty() {
                        inbox.queue = VecDeque::new(); // an idle connection keeps no queue
                    }
                    return Some(callback);
                }
                if inbox.ended {
                    return None;
                }
            }
            // A callback (or the end) arriving between the check and this wait leaves a permit.
            self.shared.inbox_ready.notified().await;
        }
    }
}

impl Drop for Inbox {
    fn drop(&mut self) {
        let mut inbox = self.shared.inbox.lock();
        inbox.receiver_gone = true;
        inbox.queue = VecDeque::new();
    }
}

/// What an [`Inbox`] holds, in the shared state.
#[derive(Default)]
struct InboxState {
    queue: VecDeque<Callback>,
    /// The driver has ended: no callback will come.
    ended: bool,
    /// The [`Inbox`] was dropped: callbacks are dropped.
    receiver_gone: bool,
}

/// Where the driver hands callbacks.
enum CallbackSink {
    Channel(mpsc::Sender<Callback>),
    Inbox,
}

fn start(ws: WsStream, config: &ClientConfig, callbacks: CallbackSink) -> (Client, Driver) {
    let shared = Arc::new(Shared {
        ops: parking_lot::Mutex::new(Some(VecDeque::new())),
        ops_ready: Notify::new(),
        inbox: parking_lot::Mutex::default(),
        inbox_ready: Notify::new(),
        close: Notify::new(),
        closing: AtomicBool::new(false),
        last_ping_ack_ms: AtomicI64::new(NO_PING_ACK),
        dropped_callbacks: AtomicU64::new(0),
    });
    let (sink, stream) = ws.split();
    let state = DriverState {
        shared: shared.clone(),
        sink,
        callbacks,
        ack_timeout: config.ack_timeout,
        heartbeat_interval: config.heartbeat_interval,
        max_missed_pings: config.max_missed_pings.max(1),
        in_flight: HashMap::new(),
        waiting: HashMap::new(),
        heartbeat: None,
        outstanding_pings: 0,
        ping_ids: HashSet::new(),
    };
    // The guard is an argument, not made inside `run`: dropping a driver that was never polled
    // must fail its queued commands too.
    let guard = EndGuard(shared.clone());
    let driver = Driver(Box::pin(run(state, stream, guard)));
    (Client { shared }, driver)
}

type Sink = SplitSink<WsStream, Message>;
type Stream = SplitStream<WsStream>;

/// A command written and waiting for its ack.
struct InFlight {
    cmd: String,
    deadline: Instant,
    reply: oneshot::Sender<Result<Ack, CommandError>>,
}

struct DriverState {
    shared: Arc<Shared>,
    sink: Sink,
    callbacks: CallbackSink,
    ack_timeout: Duration,
    heartbeat_interval: Duration,
    max_missed_pings: u32,
    /// At most one per req_id.
    in_flight: HashMap<String, InFlight>,
    /// Commands behind the one in flight on their req_id, in call order.
    waiting: HashMap<String, VecDeque<Pending>>,
    heartbeat: Option<Interval>,
    outstanding_pings: u32,
    ping_ids: HashSet<String>,
}

/// Ends the driver's loop.
type Ended = Result<(), ConnectionEnd>;

/// Marks the connection ended when the driver finishes or is dropped: later commands fail at once
/// and the queued ones with [`CommandError::Closed`] (those in flight or waiting on a req_id fail
/// when the driver's state is dropped with their reply senders).
struct EndGuard(Arc<Shared>);

impl Drop for EndGuard {
    fn drop(&mut self) {
        self.0.closing.store(true, Ordering::Release);
        let queued = self.0.ops.lock().take();
        for pending in queued.into_iter().flatten() {
            let _ = pending.reply.send(Err(CommandError::Closed));
        }
        self.0.inbox.lock().ended = true;
        self.0.inbox_ready.notify_one();
    }
}

// The future is kept small because every idle connection holds one for its lifetime: what runs
// only now and then (handling a frame, writing commands, a heartbeat, closing, the ack deadline's
// timer) is boxed where it is awaited instead of being laid out inline. That costs one short-lived
// allocation per event, next to the many that parsing a frame makes anyway.
#[allow(clippy::manual_async_fn)] // an async block on purpose: see the comment inside
fn run(mut st: DriverState, mut stream: Stream, guard: EndGuard) -> impl Future<Output = ConnectionEnd> + Send {
    // An async block, not an async fn: an async fn keeps its arguments twice in its future (as
    // given and as moved into its body), the block uses them where they were captured.
    async move {
        let shared = st.shared.clone();
        let end = loop {
            let next_deadline = st.in_flight.values().map(|f| f.deadline).min();
            let step = tokio::select! {
                _ = shared.close.notified() => {
                    Box::pin(st.close_gracefully(&mut stream)).await;
                    break ConnectionEnd::ClosedByUs;
                }
                message = stream.next() => Box::pin(st.on_message(message)).await,
                () = shared.ops_ready.notified() => Box::pin(st.submit_queued()).await,
                _ = until(next_deadline) => Box::pin(st.expire()).await,
                _ = tick(&mut st.heartbeat) => Box::pin(st.beat()).await,
            };
            if let Err(end) = step {
                break end;
            }
        };
        // No command may hang on a finished connection.
        drop(guard);
        for (_, flight) in st.in_flight.drain() {
            let _ = flight.reply.send(Err(CommandError::Closed));
        }
        for pending in st.waiting.drain().flat_map(|(_, queue)| queue) {
            let _ = pending.reply.send(Err(CommandError::Closed));
        }
        tracing::debug!(end = %end, "long connection ended");
        end
    }
}

async fn until(deadline: Option<Instant>) {
    match deadline {
        Some(deadline) => Box::pin(sleep_until(deadline)).await,
        None => std::future::pending().await,
    }
}

async fn tick(heartbeat: &mut Option<Interval>) {
    match heartbeat {
        Some(interval) => {
            interval.tick().await;
        }
        None => std::future::pending().await,
    }
}

impl DriverState {
    /// Writes one frame, bounded by the ack timeout (a peer that stops reading is a dead link).
    async fn write(&mut self, message: Message) -> Ended {
        match Box::pin(timeout_at(Instant::now() + self.ack_timeout, self.sink.send(message))).await {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(socket_end(e)),
            Err(_) => Err(ConnectionEnd::Io("writing a frame timed out".into())),
        }
    }

    /// Takes every queued command, in call order.
    async fn submit_queued(&mut self) -> Ended {
        loop {
            let next = self.shared.ops.lock().as_mut().and_then(VecDeque::pop_front);
            let Some(pending) = next else { break };
            self.submit(pending).await?;
        }
        if let Some(queue) = self.shared.ops.lock().as_mut().filter(|q| q.is_empty()) {
            queue.shrink_to_fit(); // an idle connection keeps no queue
        }
        Ok(())
    }

    /// A new command: written now, or queued behind the one in flight on its req_id.
    async fn submit(&mut self, pending: Pending) -> Ended {
        if pending.reply.is_closed() {
            return Ok(()); // the caller gave up before it was written
        }
        if self.in_flight.contains_key(&pending.req_id) {
            let queue = self.waiting.entry(pending.req_id.clone()).or_default();
            if queue.len() >= MAX_QUEUED_PER_REQ_ID {
                tracing::warn!(cmd = %pending.cmd, req_id = %pending.req_id, "command queue of a req_id is full");
                let _ = pending.reply.send(Err(CommandError::Queue));
            } else {
                queue.push_back(pending);
            }
            return Ok(());
        }
        self.send_now(pending).await
    }

    async fn send_now(&mut self, pending: Pending) -> Ended {
        let Pending { cmd, req_id, text, reply } = pending;
        self.write(Message::Text(text.into())).await?;
        tracing::trace!(cmd = %cmd, req_id = %req_id, "command sent");
        self.in_flight.insert(req_id, InFlight { cmd, deadline: Instant::now() + self.ack_timeout, reply });
        Ok(())
    }

    /// Writes the next live command waiting on `req_id`, if any.
    async fn advance(&mut self, req_id: &str) -> Ended {
        while let Some(next) = self.waiting.get_mut(req_id).and_then(VecDeque::pop_front) {
            if next.reply.is_closed() {
                continue;
            }
            return self.send_now(next).await;
        }
        self.waiting.remove(req_id);
        Ok(())
    }

    /// Fails every command whose ack is overdue.
    async fn expire(&mut self) -> Ended {
        let now = Instant::now();
        let overdue: Vec<String> =
            self.in_flight.iter().filter(|(_, f)| f.deadline <= now).map(|(id, _)| id.clone()).collect();
        for req_id in overdue {
            if let Some(flight) = self.in_flight.remove(&req_id) {
                tracing::warn!(cmd = %flight.cmd, req_id = %req_id, "no ack within the ack timeout");
                let _ = flight.reply.send(Err(CommandError::Timeout { cmd: flight.cmd, req_id: req_id.clone() }));
            }
            self.advance(&req_id).await?;
        }
        self.release_idle_tables();
        Ok(())
    }

    /// Frees the command tables once nothing is in flight: a hash map keeps its buckets after its
    /// last entry is removed, a few hundred bytes that every idle connection would hold.
    fn release_idle_tables(&mut self) {
        if self.in_flight.is_empty() && self.in_flight.capacity() > 0 {
            self.in_flight = HashMap::new();
        }
        if self.waiting.is_empty() && self.waiting.capacity() > 0 {
            self.waiting = HashMap::new();
        }
    }

    /// A heartbeat tick: the link is dead, or one more ping goes out.
    async fn beat(&mut self) -> Ended {
        if self.outstanding_pings >= self.max_missed_pings {
            tracing::warn!(missed_pings = self.outstanding_pings, "ping acks missing: the link is dead");
            return Err(ConnectionEnd::DeadLink { missed_pings: self.outstanding_pings });
        }
        let req_id = new_req_id(CMD_PING);
        let text = Outgoing::new(CMD_PING, req_id.clone(), Value::Null).to_text();
        self.write(Message::Text(text.into())).await?;
        self.outstanding_pings += 1;
        self.ping_ids.insert(req_id);
        Ok(())
    }

    fn ping_acked(&mut self) {
        self.outstanding_pings = 0;
        self.ping_ids = HashSet::new(); // an idle connection keeps no table
        self.shared.last_ping_ack_ms.store(unix_ms(), Ordering::Release);
    }

    fn start_heartbeat(&mut self) {
        if self.heartbeat.is_none() {
            let every = self.heartbeat_interval.max(Duration::from_millis(1));
            let mut interval = tokio::time::interval_at(Instant::now() + every, every);
            interval.set_missed_tick_behavior(MissedTickBehavior::Delay);
            self.heartbeat = Some(interval);
        }
    }

    async fn on_message(&mut self, message: Option<Result<Message, tungstenite::Error>>) -> Ended {
        match message {
            None => Err(ConnectionEnd::ClosedByPeer { code: None, reason: String::new() }),
            Some(Err(e)) => Err(socket_end(e)),
            Some(Ok(Message::Text(text))) => self.on_text(text.as_str()).await,
            Some(Ok(Message::Binary(bytes))) => match std::str::from_utf8(&bytes) {
                Ok(text) => self.on_text(text).await,
                Err(_) => {
                    tracing::warn!(len = bytes.len(), "a binary frame that is not UTF-8 was ignored");
                    Ok(())
                }
            },
            Some(Ok(Message::Ping(_))) => {
                // tungstenite has queued the pong; push it out now rather than on the next read.
                match timeout_at(Instant::now() + self.ack_timeout, self.sink.flush()).await {
                    Ok(Err(e)) => Err(socket_end(e)),
                    _ => Ok(()),
                }
            }
            Some(Ok(Message::Close(frame))) => {
                // tungstenite has queued the close reply; flush it, bounded.
                let _ = timeout_at(Instant::now() + CLOSE_WAIT.min(self.ack_timeout), self.sink.flush()).await;
                Err(match frame {
                    Some(f) => {
                        ConnectionEnd::ClosedByPeer { code: Some(u16::from(f.code)), reason: f.reason.to_string() }
                    }
                    None => ConnectionEnd::ClosedByPeer { code: None, reason: String::new() },
                })
            }
            Some(Ok(Message::Pong(_) | Message::Frame(_))) => Ok(()),
        }
    }

    async fn on_text(&mut self, text: &str) -> Ended {
        match classify(text) {
            Err(e) => {
                tracing::warn!(error = %e, "an unreadable frame was ignored");
                Ok(())
            }
            Ok(Incoming::Callback { cmd, req_id, body }) => {
                self.deliver(Callback { cmd, req_id, body, received_at_ms: unix_ms() });
                Ok(())
            }
            Ok(Incoming::Ack(ack)) => self.on_ack(ack).await,
        }
    }

    /// Hands a callback over without ever waiting for room.
    fn deliver(&mut self, callback: Callback) {
        let handed = match &self.callbacks {
            CallbackSink::Channel(tx) => tx.try_send(callback),
            CallbackSink::Inbox => {
                let mut inbox = self.shared.inbox.lock();
                if inbox.receiver_gone {
                    Err(mpsc::error::TrySendError::Closed(callback))
                } else if inbox.queue.len() >= CALLBACK_CHANNEL_CAPACITY {
                    Err(mpsc::error::TrySendError::Full(callback))
                } else {
                    inbox.queue.push_back(callback);
                    drop(inbox);
                    self.shared.inbox_ready.notify_one();
                    Ok(())
                }
            }
        };
        match handed {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(cb)) => {
                self.shared.dropped_callbacks.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(cmd = %cb.cmd, req_id = %cb.req_id, "callback channel full: callback dropped");
            }
            Err(mpsc::error::TrySendError::Closed(cb)) => {
                self.shared.dropped_callbacks.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(cmd = %cb.cmd, req_id = %cb.req_id, "callback receiver gone: callback dropped");
            }
        }
    }

    async fn on_ack(&mut self, ack: Ack) -> Ended {
        if self.ping_ids.contains(&ack.req_id) {
            self.ping_acked();
            return Ok(());
        }
        let Some(flight) = self.in_flight.remove(&ack.req_id) else {
            tracing::debug!(req_id = %ack.req_id, errcode = ack.errcode, "an ack for no pending command (late?) was ignored");
            return Ok(());
        };
        if flight.cmd == CMD_SUBSCRIBE && ack.errcode == 0 {
            self.start_heartbeat();
        } else if flight.cmd == CMD_PING {
            self.ping_acked();
        }
        let req_id = ack.req_id.clone();
        let _ = flight.reply.send(Ok(ack));
        self.release_idle_tables();
        self.advance(&req_id).await
    }

    /// Sends our close frame and waits, bounded, for the peer's.
    async fn close_gracefully(&mut self, stream: &mut Stream) {
        let deadline = Instant::now() + CLOSE_WAIT.min(self.ack_timeout);
        let close = Message::Close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() }));
        if !matches!(timeout_at(deadline, self.sink.send(close)).await, Ok(Ok(()))) {
            return;
        }
        let _ = timeout_at(deadline, async {
            while let Some(Ok(message)) = stream.next().await {
                if message.is_close() {
                    break;
                }
            }
        })
        .await;
    }
}

/// How a socket error ends the connection.
fn socket_end(e: tungstenite::Error) -> ConnectionEnd {
    match e {
        tungstenite::Error::ConnectionClosed | tungstenite::Error::AlreadyClosed => {
            ConnectionEnd::ClosedByPeer { code: None, reason: String::new() }
        }
        tungstenite::Error::Protocol(tungstenite::error::ProtocolError::ResetWithoutClosingHandshake) => {
            ConnectionEnd::Io("the server dropped the connection without a close frame".into())
        }
        other => ConnectionEnd::Io(other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_and_ends_say_what_happened() {
        let e = CommandError::WeCom { errcode: 853000, errmsg: "invalid bot_id or secret".into() };
        assert_eq!(e.to_string(), "WeCom refused the command: errcode 853000: invalid bot_id or secret");
        assert_eq!(e.errcode(), Some(853000));
        assert_eq!(CommandError::Closed.errcode(), None);
        let t = CommandError::Timeout { cmd: "ping".into(), req_id: "ping_1".into() };
        assert!(t.to_string().contains("ping_1"), "{t}");
        assert_eq!(
            ConnectionEnd::ClosedByPeer { code: Some(1001), reason: "bye".into() }.to_string(),
            "closed by the server (code 1001: bye)"
        );
        assert!(ConnectionEnd::DeadLink { missed_pings: 2 }.to_string().contains('2'));
    }

    /// The size of the future a function of three arguments returns.
    fn future_size<A, B, C, F: Future>(_: fn(A, B, C) -> F) -> usize {
        std::mem::size_of::<F>()
    }

    #[test]
    fn an_idle_drivers_future_stays_small() {
        // Every idle connection holds one for its lifetime: 1 864 bytes before the rarely run
        // steps were boxed and the state stopped being kept twice (see `run`), 608 after.
        let size = future_size(run);
        assert!(size <= 768, "the driver's future is {size} bytes; its budget is 768");
    }

    #[test]
    fn the_default_config_has_wecoms_timings() {
        let tls = TlsSettings::new(None).expect("public roots");
        let c = ClientConfig::new("wss://openws.work.weixin.qq.com", tls);
        assert_eq!(
            (c.connect_timeout, c.ack_timeout, c.heartbeat_interval, c.max_missed_pings, c.origin),
            (Duration::from_secs(10), Duration::from_secs(5), Duration::from_secs(30), 2, None)
        );
    }
}

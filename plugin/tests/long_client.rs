//! The long-connection client against the WeCom simulator over real sockets on 127.0.0.1 (and,
//! where the simulator cannot show a frame, against a raw WebSocket peer): subscribe, heartbeat and
//! dead links, acks by exact req_id, timeouts, per-req_id serialization, callbacks, stream
//! replies, WeCom errcodes, and each way a connection ends.
//!
//! Nothing here sleeps and hopes: every wait is for an event (an ack, a frame the simulator
//! recorded, a callback, the driver's end), bounded by [`WAIT`] so a bug fails instead of hanging.

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use plugin_wecom::long::client::{connect, Callback, Client, ClientConfig, CommandError, ConnectionEnd};
use plugin_wecom::long::transport::TlsSettings;
use plugin_wecom::protocol::callback::{CallbackBody, ChatType, Event, MessageContent};
use plugin_wecom::protocol::command::{self, SendChatType};
use plugin_wecom::protocol::errcode;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::{timeout, Instant};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::Message;
use wecom_sim::{Chat, FaultSpec, SimConfig, Simulator};

const BOT: &str = "BOT1";
const SECRET: &str = "long-secret-7f3a9c";
/// The bound of every wait: generous, because a failing test must fail, not hang.
const WAIT: Duration = Duration::from_secs(10);
const ACK_TIMEOUT: Duration = Duration::from_millis(1500);
const HEARTBEAT: Duration = Duration::from_millis(100);

/// Fast timings: 100 ms heartbeat, 1.5 s ack timeout.
fn config(url: String) -> ClientConfig {
    ClientConfig {
        url,
        origin: None,
        tls: TlsSettings::new(None).expect("public roots alone always build"),
        connect_timeout: Duration::from_secs(5),
        ack_timeout: ACK_TIMEOUT,
        heartbeat_interval: HEARTBEAT,
        max_missed_pings: 2,
    }
}

/// No heartbeat within a test's lifetime: for tests whose faults would also swallow ping acks.
fn quiet(url: String) -> ClientConfig {
    ClientConfig { heartbeat_interval: Duration::from_secs(3600), ..config(url) }
}

struct Conn {
    client: Client,
    driver: JoinHandle<ConnectionEnd>,
    callbacks: mpsc::Receiver<Callback>,
}

async fn open(config: ClientConfig) -> Conn {
    let (client, driver, callbacks) = connect(&config).await.expect("connect to the simulator");
    Conn { client, driver: tokio::spawn(driver), callbacks }
}

async fn simulator(config: SimConfig) -> Simulator {
    let sim = Simulator::start(config).await.expect("start the simulator");
    sim.add_bot(BOT, SECRET);
    sim
}

async fn subscribed(config: ClientConfig) -> Conn {
    let conn = open(config).await;
    conn.client.subscribe(BOT, SECRET).await.expect("subscribe with the right secret");
    conn
}

async fn end_of(driver: JoinHandle<ConnectionEnd>) -> ConnectionEnd {
    timeout(WAIT, driver).await.expect("the driver ends").expect("the driver does not panic")
}

async fn next_callback(callbacks: &mut mpsc::Receiver<Callback>) -> Callback {
    timeout(WAIT, callbacks.recv()).await.expect("a callback arrives").expect("the channel is open")
}

/// The frames the simulator received on `req_id`, in arrival order.
fn frames_on(sim: &Simulator, req_id: &str) -> Vec<Value> {
    sim.frames().into_iter().filter(|f| f.frame["headers"]["req_id"] == req_id).map(|f| f.frame).collect()
}

fn ping_count(sim: &Simulator) -> usize {
    sim.frames().iter().filter(|f| f.frame["cmd"] == "ping").count()
}

/// A user says something; returns the callback the bot received.
async fn user_says(sim: &Simulator, conn: &mut Conn, chat: Chat, text: &str) -> Callback {
    let req_id = sim.send_text(BOT, "alice", chat, text).expect("the bot is connected");
    let callback = next_callback(&mut conn.callbacks).await;
    assert_eq!(callback.req_id, req_id);
    callback
}

#[tokio::test]
async fn subscribe_is_accepted_and_the_simulator_sees_the_bot_online() {
    let sim = simulator(SimConfig::default()).await;
    let conn = subscribed(config(sim.ws_url())).await;
    assert!(sim.is_connected(BOT));
    let sub = sim.frames().into_iter().find(|f| f.frame["cmd"] == "aibot_subscribe").expect("subscribe frame");
    assert_eq!(sub.errcode, Some(0));
    assert_eq!(sub.frame["body"], json!({"bot_id": BOT, "secret": SECRET}));
    assert!(sub.frame["headers"]["req_id"].as_str().is_some_and(|r| r.starts_with("aibot_subscribe_")));
    assert!(!conn.driver.is_finished());
}

#[tokio::test]
async fn a_wrong_secret_is_wecom_853000_the_socket_stays_open_and_no_heartbeat_starts() {
    // Every ack takes 350 ms (3.5 heartbeat intervals), so a heartbeat started by mistake would
    // have put pings on the wire before the next ack comes back.
    let sim = simulator(SimConfig { ack_delay: Duration::from_millis(350), ..SimConfig::default() }).await;
    let conn = open(config(sim.ws_url())).await;
    let err = conn.client.subscribe(BOT, "wrong-secret-1234").await.expect_err("a wrong secret is refused");
    assert!(matches!(&err, CommandError::WeCom { errcode: errcode::INVALID_CREDENTIALS, .. }), "{err:?}");
    assert_eq!(err.errcode(), Some(853000));
    assert!(err.to_string().contains("853000"), "{err}");
    assert!(!err.to_string().contains("wrong-secret-1234") && !format!("{err:?}").contains("wrong-secret"));

    // Still open: the server did not close it, the client reports and leaves closing to its caller.
    let unsubscribed = conn.client.request("aibot_send_msg", None, json!({"chatid": "alice"})).await;
    assert!(matches!(unsubscribed, Err(CommandError::WeCom { .. })), "{unsubscribed:?}");
    assert!(!conn.driver.is_finished());
    assert_eq!(ping_count(&sim), 0, "no ping may go out before a successful subscribe");

    // The same socket subscribes with the right secret, and then the heartbeat starts.
    conn.client.subscribe(BOT, SECRET).await.expect("the right secret on the same socket");
    assert!(sim.is_connected(BOT));
    assert!(sim.wait_frame(WAIT, |f| f.frame["cmd"] == "ping").await.is_some(), "pings after subscribe");
}

#[tokio::test]
async fn the_heartbeat_pings_at_its_interval_and_records_the_last_ping_ack() {
    let sim = simulator(SimConfig::default()).await;
    let conn = open(config(sim.ws_url())).await;
    assert_eq!(conn.client.last_ping_ack_ms(), None);
    let before_ms = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    conn.client.subscribe(BOT, SECRET).await.expect("subscribe");
    let subscribed_at = Instant::now();

    let mut seen: Vec<String> = Vec::new();
    for _ in 0..3 {
        let ping = sim
            .wait_frame(WAIT, |f| {
                f.frame["cmd"] == "ping" && !seen.iter().any(|s| f.frame["headers"]["req_id"] == s.as_str())
            })
            .await
            .expect("one more ping");
        assert_eq!(ping.errcode, Some(0), "the simulator acks pings");
        assert!(ping.frame.get("body").is_none(), "a ping has no body: {}", ping.frame);
        seen.push(ping.frame["headers"]["req_id"].as_str().expect("req_id").to_owned());
    }
    assert!(seen.iter().all(|id| id.starts_with("ping_")), "{seen:?}");
    // Ticks never come early: three pings take at least about three intervals.
    assert!(subscribed_at.elapsed() >= HEARTBEAT * 2, "{:?}", subscribed_at.elapsed());
    // A third ping is only sent when fewer than 2 were outstanding, so an ack was processed.
    let last = conn.client.last_ping_ack_ms().expect("a ping ack was recorded");
    assert!(last >= before_ms, "{last} < {before_ms}");
    assert!(!conn.driver.is_finished());
}

#[tokio::test]
async fn withheld_ping_acks_end_the_driver_with_a_dead_link() {
    let sim = simulator(SimConfig::default()).await;
    sim.fault(FaultSpec::WithholdPingAcks { bot_id: BOT.into() });
    let conn = subscribed(config(sim.ws_url())).await;
    assert_eq!(end_of(conn.driver).await, ConnectionEnd::DeadLink { missed_pings: 2 });
    assert_eq!(ping_count(&sim), 2, "two pings, then the third tick declares the link dead");
    assert_eq!(conn.client.last_ping_ack_ms(), None);
    assert_eq!(conn.client.request("ping", None, Value::Null).await, Err(CommandError::Closed));
    assert!(sim.wait_connected(BOT, false, WAIT).await, "the socket was dropped");
}

#[tokio::test]
async fn two_concurrent_requests_each_get_the_ack_of_their_exact_req_id() {
    let sim = simulator(SimConfig::default()).await;
    let mut conn = subscribed(quiet(sim.ws_url())).await;
    user_says(&sim, &mut conn, Chat::Single, "hi").await; // alice may now be pushed to
    sim.fault(FaultSpec::DelayAcks { bot_id: BOT.into(), ms: 200 });
    // One req_id is a prefix of the other: prefix matching (the SDK's) would mix them up.
    let to_nobody = command::send_markdown_body("nobody", SendChatType::Single, "lost");
    let to_alice = command::send_markdown_body("alice", SendChatType::Single, "**pushed**");
    let (a, b) = tokio::join!(
        conn.client.request("aibot_send_msg", Some("push_1"), to_nobody),
        conn.client.request("aibot_send_msg", Some("push_1_b"), to_alice),
    );
    assert!(matches!(&a, Err(CommandError::WeCom { errcode: errcode::INVALID_CHATID, .. })), "{a:?}");
    let b = b.expect("the push to alice is acked");
    assert_eq!((b.req_id.as_str(), b.errcode), ("push_1_b", 0));
    let transcript = sim.transcript(BOT, "alice");
    assert_eq!(transcript.last().map(|b| b.text.as_str()), Some("**pushed**"));
}

#[tokio::test]
async fn a_lost_ack_is_a_timeout_after_the_ack_timeout_and_the_connection_stays_usable() {
    let sim = simulator(SimConfig::default()).await;
    let conn = subscribed(quiet(sim.ws_url())).await;
    sim.fault(FaultSpec::WithholdAcks { bot_id: BOT.into() });
    let started = Instant::now();
    let lost = timeout(WAIT, conn.client.request("ping", Some("lost-1"), Value::Null)).await.expect("no hang");
    assert_eq!(lost, Err(CommandError::Timeout { cmd: "ping".into(), req_id: "lost-1".into() }));
    assert!(started.elapsed() >= ACK_TIMEOUT, "gave up early: {:?}", started.elapsed());
    assert_eq!(frames_on(&sim, "lost-1").len(), 1, "the frame was on the wire");

    sim.fault(FaultSpec::Clear { bot_id: None });
    let ack = conn.client.request("ping", None, Value::Null).await.expect("acked once the fault is cleared");
    assert_eq!(ack.errcode, 0);
    assert!(!conn.driver.is_finished());
}

#[tokio::test]
async fn commands_on_one_req_id_wait_for_the_previous_ones_ack_or_timeout() {
    let sim = simulator(SimConfig::default()).await;
    let mut conn = subscribed(quiet(sim.ws_url())).await;
    let callback = user_says(&sim, &mut conn, Chat::Single, "count").await;
    let req_id = callback.req_id.as_str();
    sim.fault(FaultSpec::WithholdAcks { bot_id: BOT.into() });

    let first = conn.client.request("aibot_respond_msg", Some(req_id), command::stream_body("s1", "one", false));
    let second = conn.client.request("aibot_respond_msg", Some(req_id), command::stream_body("s1", "one two", true));
    let check = async {
        sim.wait_frame(WAIT, |f| f.frame["body"]["stream"]["content"] == "one").await.expect("the first frame");
        // The first one's ack is withheld and its timeout is 1.5 s away: the second must wait.
        assert_eq!(frames_on(&sim, req_id).len(), 1, "the second frame went out before the first's ack");
        sim.fault(FaultSpec::Clear { bot_id: None });
    };
    let (first, second, ()) = tokio::join!(first, second, check);
    assert!(matches!(&first, Err(CommandError::Timeout { req_id: r, .. }) if r == req_id), "{first:?}");
    assert_eq!(second.expect("the second is sent after the first's timeout and acked").req_id, req_id);
    let contents: Vec<Value> = frames_on(&sim, req_id).iter().map(|f| f["body"]["stream"]["content"].clone()).collect();
    assert_eq!(contents, [json!("one"), json!("one two")], "sent in call order");
}

#[tokio::test]
async fn a_text_callback_arrives_typed() {
    let sim = simulator(SimConfig::default()).await;
    let mut conn = subscribed(quiet(sim.ws_url())).await;
    let callback = user_says(&sim, &mut conn, Chat::Group("GroupA".into()), "@bot hello").await;
    assert_eq!(callback.cmd, "aibot_msg_callback");
    assert!(callback.received_at_ms > 0);
    let CallbackBody::Message(message) = callback.parse().expect("typed") else { panic!("{callback:?}") };
    assert_eq!(message.content, MessageContent::Text { content: "@bot hello".into() });
    assert_eq!((message.chattype, message.chatid.as_deref()), (ChatType::Group, Some("GroupA")));
    assert_eq!(message.from.userid, "alice");
    assert_eq!(message.aibotid, BOT);
    assert!(!message.msgid.is_empty());
    assert!(message.response_url.is_some_and(|u| u.contains("response_code=")));
}

#[tokio::test]
async fn stream_frames_make_one_bubble_that_ends_with_finish() {
    let sim = simulator(SimConfig::default()).await;
    let mut conn = subscribed(quiet(sim.ws_url())).await;
    let callback = user_says(&sim, &mut conn, Chat::Single, "write a poem").await;
    for (content, finish) in [("甲", false), ("甲乙", false), ("甲乙丙", true)] {
        let body = command::stream_body("stream-1", content, finish);
        conn.client.request("aibot_respond_msg", Some(&callback.req_id), body).await.expect("frame acked");
    }
    let transcript = sim.transcript(BOT, "alice");
    let bot: Vec<_> = transcript.iter().filter(|b| b.from == "bot").collect();
    assert_eq!(bot.len(), 1, "{transcript:?}");
    assert_eq!(
        (bot[0].kind.as_str(), bot[0].text.as_str(), bot[0].finished, bot[0].updates),
        ("stream", "甲乙丙", true, 3)
    );
    assert_eq!(sim.violations(), vec![]);
}

#[tokio::test]
async fn a_nonzero_errcode_is_a_typed_wecom_error_and_the_connection_stays_usable() {
    let sim = simulator(SimConfig::default()).await;
    let mut conn = subscribed(quiet(sim.ws_url())).await;
    let callback = user_says(&sim, &mut conn, Chat::Single, "hi").await;
    let text = json!({"msgtype": "text", "text": {"content": "plain text is refused"}});
    let err = conn.client.request("aibot_respond_msg", Some(&callback.req_id), text).await.expect_err("40008");
    assert!(
        matches!(&err, CommandError::WeCom { errcode: errcode::INVALID_MSGTYPE, errmsg } if !errmsg.is_empty()),
        "{err:?}"
    );
    assert!(err.to_string().contains("40008"), "{err}");

    let body = command::stream_body("s1", "a proper reply", true);
    conn.client.request("aibot_respond_msg", Some(&callback.req_id), body).await.expect("same req_id still works");
    assert!(!conn.driver.is_finished());
    assert_eq!(sim.transcript(BOT, "alice").last().map(|b| b.text.as_str()), Some("a proper reply"));
}

#[tokio::test]
async fn a_displacing_subscribe_reaches_the_old_connection_as_a_disconnected_event_callback() {
    let sim = simulator(SimConfig::default()).await;
    let mut old = subscribed(quiet(sim.ws_url())).await;
    let _new = subscribed(quiet(sim.ws_url())).await;
    let callback = next_callback(&mut old.callbacks).await;
    assert_eq!(callback.cmd, "aibot_event_callback");
    let CallbackBody::Event(event) = callback.parse().expect("typed") else { panic!("{callback:?}") };
    assert_eq!((event.event, event.from), (Event::Disconnected, None));
    // The client only reports it (deciding to stop is the actor's job); the new one is online.
    assert!(sim.is_connected(BOT));
}

#[tokio::test]
async fn a_full_callback_channel_drops_with_a_count_and_never_holds_up_acks() {
    let (logs, _guard) = capture::install();
    let sim = simulator(SimConfig::default()).await;
    let mut conn = subscribed(quiet(sim.ws_url())).await;
    let capacity = plugin_wecom::long::client::CALLBACK_CHANNEL_CAPACITY;
    let sent: Vec<String> = (0..capacity + 44)
        .map(|i| sim.send_text(BOT, "alice", Chat::Single, &format!("m{i}")).expect("connected"))
        .collect();
    // Nobody reads the callbacks; this ack comes after all of them on the socket and still arrives.
    timeout(WAIT, conn.client.request("ping", None, Value::Null))
        .await
        .expect("the driver is not stuck on the full channel")
        .expect("acks flow past a full callback channel");
    assert_eq!(conn.client.dropped_callbacks(), 44);
    let drop_lines = logs.lines().iter().filter(|l| l.starts_with("WARN") && l.contains("callback dropped")).count();
    assert_eq!(drop_lines, 44, "every dropped callback is logged");
    let mut received = Vec::new();
    while let Ok(callback) = conn.callbacks.try_recv() {
        received.push(callback.req_id);
    }
    assert_eq!(received, sent[..capacity], "the first ones were kept, in order");
}

#[tokio::test]
async fn close_sends_a_close_frame_and_the_driver_ends_closed_by_us() {
    let mut peer = raw_peer().await;
    let conn = open(config(peer.url.clone())).await;
    conn.client.close();
    conn.client.close(); // idempotent
    match timeout(WAIT, peer.seen.recv()).await.expect("a frame reaches the peer") {
        Some(Message::Close(Some(frame))) => assert_eq!(frame.code, CloseCode::Normal),
        other => panic!("expected a close frame, got {other:?}"),
    }
    assert_eq!(end_of(conn.driver).await, ConnectionEnd::ClosedByUs);
    assert_eq!(conn.client.request("ping", None, Value::Null).await, Err(CommandError::Closed));
}

#[tokio::test]
async fn after_close_the_simulator_sees_the_bot_offline() {
    let sim = simulator(SimConfig::default()).await;
    let conn = subscribed(config(sim.ws_url())).await;
    conn.client.close();
    assert_eq!(end_of(conn.driver).await, ConnectionEnd::ClosedByUs);
    assert!(sim.wait_connected(BOT, false, WAIT).await);
    assert_eq!(sim.violations(), vec![]);
}

#[tokio::test]
async fn protocol_pings_are_answered_with_pongs() {
    let mut peer = raw_peer().await;
    let conn = open(quiet(peer.url.clone())).await;
    peer.send.send(Message::Ping(b"are-you-there".to_vec().into())).expect("peer alive");
    match timeout(WAIT, peer.seen.recv()).await.expect("an answer") {
        Some(Message::Pong(payload)) => assert_eq!(&payload[..], b"are-you-there"),
        other => panic!("expected a pong, got {other:?}"),
    }
    assert!(!conn.driver.is_finished());
}

#[tokio::test]
async fn the_server_dropping_the_socket_ends_the_driver_and_fails_pending_requests_with_closed() {
    let sim = simulator(SimConfig::default()).await;
    let conn = subscribed(quiet(sim.ws_url())).await;
    sim.fault(FaultSpec::WithholdAcks { bot_id: BOT.into() });
    let client = conn.client.clone();
    let pending = tokio::spawn(async move { client.request("ping", Some("pending-1"), Value::Null).await });
    sim.wait_frame(WAIT, |f| f.frame["headers"]["req_id"] == "pending-1").await.expect("the request is on the wire");
    assert_eq!(sim.drop_connections(BOT), 1);
    let end = end_of(conn.driver).await;
    assert!(matches!(end, ConnectionEnd::ClosedByPeer { .. } | ConnectionEnd::Io(_)), "{end:?}");
    let result = timeout(WAIT, pending).await.expect("no hang").expect("no panic");
    assert_eq!(result, Err(CommandError::Closed));
    assert_eq!(conn.client.request("ping", None, Value::Null).await, Err(CommandError::Closed));
}

#[tokio::test]
async fn the_secret_appears_in_no_log_line_error_or_debug_output() {
    let (logs, _guard) = capture::install();
    let sim = simulator(SimConfig::default()).await;
    // Pings run, but withheld acks below must end in a command timeout, not a dead link.
    let mut conn = open(ClientConfig { max_missed_pings: 100, ..config(sim.ws_url()) }).await;
    let wrong = "wrong-secret-5b1e";
    let refused = conn.client.subscribe(BOT, wrong).await.expect_err("refused");
    conn.client.subscribe(BOT, SECRET).await.expect("subscribe");
    let callback = user_says(&sim, &mut conn, Chat::Single, "hi").await;
    let reply = command::stream_body("s1", "hello", true);
    conn.client.request("aibot_respond_msg", Some(&callback.req_id), reply).await.expect("reply");
    sim.wait_frame(WAIT, |f| f.frame["cmd"] == "ping").await.expect("a heartbeat ran");
    sim.fault(FaultSpec::WithholdAcks { bot_id: BOT.into() });
    let lost = conn.client.request("ping", None, Value::Null).await.expect_err("times out");
    assert!(matches!(lost, CommandError::Timeout { .. }), "{lost:?}");
    conn.client.close();
    let end = end_of(conn.driver).await;

    let lines = logs.lines();
    assert!(lines.iter().any(|l| l.contains("no ack within the ack timeout")), "the timeout was logged: {lines:?}");
    let reports = [
        format!("{refused} {refused:?} {lost} {lost:?} {end} {end:?}"),
        format!("{:?} {:?} {:?}", conn.client, config(sim.ws_url()), callback),
        lines.join("\n"),
    ];
    for report in reports {
        assert!(!report.contains(SECRET) && !report.contains(wrong), "a secret leaked: {report}");
    }
}

/// A log capture for the current thread (`#[tokio::test]` runs everything on one thread).
mod capture {
    use std::fmt::Write as _;
    use std::sync::atomic::{AtomicU64, Ordering};
    use std::sync::{Arc, Mutex};

    use tracing::field::{Field, Visit};
    use tracing::span::{Attributes, Id, Record};
    use tracing::subscriber::{DefaultGuard, Interest};
    use tracing::{Event, Metadata, Subscriber};

    /// Every event as one line: `LEVEL target: field=value …`, at every level.
    #[derive(Clone, Default)]
    pub struct Logs {
        lines: Arc<Mutex<Vec<String>>>,
        next_span: Arc<AtomicU64>,
    }

    impl Logs {
        pub fn lines(&self) -> Vec<String> {
            self.lines.lock().expect("log lock").clone()
        }
    }

    pub fn install() -> (Logs, DefaultGuard) {
        let logs = Logs::default();
        let guard = tracing::subscriber::set_default(logs.clone());
        (logs, guard)
    }

    struct Line(String);

    impl Visit for Line {
        fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
            let _ = write!(self.0, " {}={value:?}", field.name());
        }
    }

    impl Subscriber for Logs {
        fn register_callsite(&self, _: &'static Metadata<'static>) -> Interest {
            Interest::sometimes()
        }
        fn enabled(&self, _: &Metadata<'_>) -> bool {
            true
        }
        fn new_span(&self, _: &Attributes<'_>) -> Id {
            Id::from_u64(self.next_span.fetch_add(1, Ordering::Relaxed) + 1)
        }
        fn record(&self, _: &Id, _: &Record<'_>) {}
        fn record_follows_from(&self, _: &Id, _: &Id) {}
        fn event(&self, event: &Event<'_>) {
            let meta = event.metadata();
            let mut line = Line(format!("{} {}:", meta.level(), meta.target()));
            event.record(&mut line);
            self.lines.lock().expect("log lock").push(line.0);
        }
        fn enter(&self, _: &Id) {}
        fn exit(&self, _: &Id) {}
    }
}

/// A bare WebSocket server for one connection: what the client sends arrives on `seen`; what is
/// put on `send` goes to the client. tungstenite answers pings and close frames by itself.
struct RawPeer {
    url: String,
    seen: mpsc::UnboundedReceiver<Message>,
    send: mpsc::UnboundedSender<Message>,
}

async fn raw_peer() -> RawPeer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("ws://{}", listener.local_addr().expect("local addr"));
    let (seen_tx, seen) = mpsc::unbounded_channel();
    let (send, mut outgoing) = mpsc::unbounded_channel::<Message>();
    tokio::spawn(async move {
        let Ok((tcp, _)) = listener.accept().await else { return };
        let Ok(mut ws) = tokio_tungstenite::accept_async(tcp).await else { return };
        loop {
            tokio::select! {
                message = ws.next() => match message {
                    Some(Ok(message)) => { let _ = seen_tx.send(message); }
                    _ => break,
                },
                Some(message) = outgoing.recv() => {
                    if ws.send(message).await.is_err() {
                        break;
                    }
                }
            }
        }
    });
    RawPeer { url, seen, send }
}

//! The short connection end to end: the real `xpert-host` binary loads the real plugin, and
//! `wecom-sim`'s callback driver plays WeCom against its webhook over loopback — URL
//! verification, signed callbacks streamed to completion through refresh polls, refusals of
//! unsigned and tampered callbacks (by reason), retries of one msgid, the response_url fallback,
//! images, events, and two host processes sharing one stream.

mod host_common;
mod plugin_common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use host_common::*;
use serde_json::{json, Value};
use wecom_sim::crypto as simcrypto;
use wecom_sim::sim::Chat;
use wecom_sim::{SimConfig, Simulator};

/// The simulator's name for the bot.
const BOT: &str = "SHORTBOT";
/// How long a test waits for something asynchronous (generous: two shared cores).
const WAIT: Duration = Duration::from_secs(20);

/// A host with the plugin installed, one `wecom` integration bound to a Digital Expert, and
/// the simulator registered against its webhook.
struct Setup {
    host: Host,
    sim: Simulator,
    id: String,
    _dir: tempfile::TempDir,
}

fn fast_sim() -> SimConfig {
    SimConfig {
        refresh_interval: Duration::from_millis(50),
        callback_timeout: Duration::from_secs(5),
        ..SimConfig::default()
    }
}

/// Starts a host (with `extra` environment) whose Digital Expert runs `agent`.
async fn setup_with(sim: SimConfig, extra: &[(&str, &str)], agent: Value) -> Setup {
    let sim = Simulator::start(sim).await.unwrap();
    let dir = tempfile::tempdir().unwrap();
    let origins = sim.base_url();
    let mut env = vec![
        ("WECOM_API_ORIGINS", origins.as_str()),
        ("WECOM_STREAM_THROTTLE_MS", "50"),
        ("WECOM_SHORT_STATUS_FLUSH_MS", "20"),
    ];
    env.extend_from_slice(extra);
    let host = start(dir.path(), &env).await;
    host.install_wecom().await;
    let options = json!({"token": WECOM_TOKEN, "encodingAesKey": AES_KEY, "timeoutMs": 3000, "preferLanguage": "en"});
    let (status, integration) =
        host.post("/api/integration", json!({"name": "short", "provider": "wecom", "options": options})).await;
    assert_eq!(status, 201, "{integration}");
    let id = integration["id"].as_str().unwrap().to_string();
    let (_, x) = host.post("/api/xpert", json!({"name": "x", "agent": agent})).await;
    let xpert = x["id"].as_str().unwrap().to_string();
    let triggers = json!([{"provider": "wecom", "config": {"enabled": true, "integrationId": id}}]);
    host.call("PUT", &format!("/api/xpert/{xpert}/triggers"), Some(triggers)).await;
    let (status, published) = host.post(&format!("/api/xpert/{xpert}/publish"), json!({})).await;
    assert_eq!(status, 200, "{published}");
    sim.add_short_bot(BOT, &host.url(&format!("/api/wecom/webhook/{id}")), WECOM_TOKEN, AES_KEY).unwrap();
    Setup { host, sim, id, _dir: dir }
}

async fn setup(extra: &[(&str, &str)]) -> Setup {
    setup_with(fast_sim(), extra, json!({"kind": "echo"})).await
}

impl Setup {
    async fn status(&self) -> Value {
        let (code, body) = self.host.get(&format!("/api/integration/{}/views/status/data", self.id)).await;
        assert_eq!(code, 200, "{body}");
        body["item"].clone()
    }

    /// The Status tab's item once `done` holds for it (its counters are written every 20 ms
    /// here), or the last one read after [`WAIT`].
    async fn status_when(&self, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            let item = self.status().await;
            if done(&item) || Instant::now() >= deadline {
                return item;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Disables the integration through the API.
    async fn disable(&self) {
        let (_, mut integration) = self.host.get(&format!("/api/integration/{}", self.id)).await;
        integration["enabled"] = json!(false);
        let (code, body) = self.host.call("PUT", &format!("/api/integration/{}", self.id), Some(integration)).await;
        assert_eq!(code, 200, "{body}");
    }

    fn webhook(&self) -> String {
        self.host.url(&format!("/api/wecom/webhook/{}", self.id))
    }
}

/// A text callback's plaintext, as WeCom sends it.
fn text_callback(msgid: &str, user: &str, text: &str) -> Value {
    json!({"msgid": msgid, "aibotid": BOT, "chattype": "single", "from": {"userid": user},
           "create_time": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
           "msgtype": "text", "text": {"content": text}})
}

fn refresh_callback(user: &str, stream_id: &str) -> Value {
    json!({"msgid": format!("refresh-{}", rand_id()), "aibotid": BOT, "chattype": "single",
           "from": {"userid": user}, "msgtype": "stream", "stream": {"id": stream_id}})
}

fn rand_id() -> u64 {
    static N: AtomicUsize = AtomicUsize::new(0);
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    nanos * 1000 + N.fetch_add(1, Ordering::Relaxed) as u64
}

/// Posts `body` to `url` with `query`; status and text.
async fn raw_post(url: &str, query: &str, body: impl Into<reqwest::Body>) -> (u16, String) {
    let resp = reqwest::Client::new()
        .post(format!("{url}?{query}"))
        .header("content-type", "application/json")
        .body(body)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

/// A correctly signed query for `encrypt`.
fn signed(encrypt: &str) -> String {
    let sig = simcrypto::sign(WECOM_TOKEN, "1700000000", "n0nce", encrypt);
    format!("msg_signature={sig}&timestamp=1700000000&nonce=n0nce")
}

#[tokio::test]
async fn verification_then_a_signed_message_streams_to_completion_through_refresh_polls() {
    let s = setup(&[]).await;
    s.sim.verify_url(BOT).await.expect("URL verification answers the exact plaintext");
    let out = s.sim.short_send_text(BOT, "alice", Chat::Single, "hello").await.unwrap();
    assert_eq!(out.attempts, 1, "answered within WeCom's deadline the first time");
    let first = &out.replies[0];
    assert_eq!((first["msgtype"].as_str(), first["stream"]["finish"].as_bool()), (Some("stream"), Some(false)));
    assert_eq!(first["stream"]["content"], "Thinking…", "the passive answer is the thinking frame");
    assert!(out.finished, "{out:?}");
    assert!(out.refreshes >= 1, "the answer came through refresh polls: {out:?}");
    assert_eq!(out.final_text.as_deref(), Some("echo: hello"));
    assert!(s.sim.violations().is_empty(), "{:?}", s.sim.violations());
    let refreshes = out.refreshes;
    let status =
        s.status_when(|st| st["acceptedByKind"]["refresh"] == refreshes && st["lastVerificationAt"].is_string()).await;
    assert_eq!(status["connectionMode"], "short_connection");
    assert_eq!(status["state"], "receiving");
    assert_eq!(status["lastVerificationResult"], "ok");
    assert!(status["lastVerificationAt"].is_string() && status["lastCallbackAt"].is_string(), "{status}");
    assert_eq!(status["acceptedByKind"]["message"], 1, "{status}");
    assert_eq!(status["acceptedByKind"]["refresh"], out.refreshes, "{status}");
    assert_eq!(status["refusedLastHour"], 0, "{status}");
    assert_eq!(status["streamsInFlight"], 0, "the sealed stream is no longer in flight: {status}");
}

#[tokio::test]
async fn a_failed_agent_run_seals_its_stream_with_a_stream_answer_alone() {
    // The pipeline seals a failed run with a reset card; a refresh's answer may carry only a
    // stream, so the card is left out here (and the simulator checks every answer's type).
    let s = setup(&[]).await;
    let out = s.sim.short_send_text(BOT, "jo", Chat::Single, "/fail now").await.unwrap();
    assert!(out.finished, "{out:?}");
    let text = out.final_text.unwrap_or_default();
    assert!(
        text.starts_with("echo:") && text.len() > "echo: ".len(),
        "the error is told after the partial answer: {text}"
    );
    assert!(s.sim.violations().is_empty(), "{:?}", s.sim.violations());
}

#[tokio::test]
async fn unsigned_plaintext_tampered_and_oversized_callbacks_are_refused_by_reason_and_change_nothing() {
    let s = setup(&[("WECOM_SHORT_MAX_BODY_BYTES", "4096")]).await;
    let url = s.webhook();
    let key = simcrypto::aes_key(AES_KEY).unwrap();
    let plain = text_callback("M-REFUSED", "mallory", "run the agent please");
    let encrypt = simcrypto::encrypt(&key, &plain.to_string());
    let envelope = json!({"encrypt": encrypt}).to_string();

    // The original plugin's gap: a plaintext POST with no signature at all.
    let (status, body) = raw_post(&url, "", plain.to_string()).await;
    assert_eq!(status, 401, "{body}");
    assert!(body.contains("unsigned"), "{body}");
    // Signed query, but a plaintext body: no encrypt field.
    let (status, body) = raw_post(&url, &signed("x"), plain.to_string()).await;
    assert_eq!((status, body.contains("no_encrypt")), (400, true), "{body}");
    // The right envelope with a signature that is one character off.
    let query = signed(&encrypt);
    let good_sig = simcrypto::sign(WECOM_TOKEN, "1700000000", "n0nce", &encrypt);
    let mut flipped = good_sig.clone().into_bytes();
    flipped[0] = if flipped[0] == b'0' { b'1' } else { b'0' };
    let tampered_sig = query.replace(&good_sig, std::str::from_utf8(&flipped).unwrap());
    let (status, body) = raw_post(&url, &tampered_sig, envelope.clone()).await;
    assert_eq!((status, body.contains("bad_signature")), (403, true), "{body}");
    // A ciphertext changed after signing.
    let mut bytes = encrypt.clone().into_bytes();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let changed = String::from_utf8(bytes).unwrap();
    let (status, body) = raw_post(&url, &query, json!({"encrypt": changed}).to_string()).await;
    assert_eq!((status, body.contains("bad_signature")), (403, true), "{body}");
    // Signed with the Token but encrypted with another key: it cannot be opened.
    let foreign = simcrypto::encrypt(&[9u8; 32], &plain.to_string());
    let (status, body) = raw_post(&url, &signed(&foreign), json!({"encrypt": foreign}).to_string()).await;
    assert_eq!((status, body.contains("decrypt_failed")), (400, true), "{body}");
    // Over the size limit.
    let (status, body) = raw_post(&url, &query, "x".repeat(5000)).await;
    assert_eq!((status, body.contains("body_too_large")), (413, true), "{body}");
    // Unknown integrations are 404, whatever is posted.
    let (status, _) = raw_post(&s.host.url("/api/wecom/webhook/nope"), &query, envelope.clone()).await;
    assert_eq!(status, 404);

    // Nothing happened: no agent run, no session, no bubble; every refusal counted by reason.
    let (_, sessions) = s.host.get(&format!("/api/integration/{}/views/sessions/data", s.id)).await;
    assert_eq!(sessions["total"], 0, "{sessions}");
    assert!(s.sim.transcript(BOT, "mallory").is_empty());
    let status = s.status_when(|st| st["refusedLastHour"] == 6).await;
    assert_eq!(
        status["refusedByReason"],
        json!({"unsigned": 1, "no_encrypt": 1, "bad_signature": 2, "decrypt_failed": 1, "body_too_large": 1}),
        "{status}"
    );
    assert_eq!(status["acceptedLastHour"], 0, "{status}");
    assert_eq!(
        status["refusedSummary"], "bad_signature 2, body_too_large 1, decrypt_failed 1, no_encrypt 1, unsigned 1",
        "{status}"
    );
    assert_eq!(status["lastRefusal"], "body_too_large");
    assert!(status["lastError"].as_str().unwrap().contains("body_too_large"), "{status}");
    // The same callback, correctly signed, is then accepted: the refusals left no dedup mark.
    let (status, reply) = s.sim.short_post(BOT, &plain).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(reply.unwrap()["msgtype"], "stream");

    // An XML envelope (tolerated) of a signed callback is read like the JSON one.
    let xml_plain = text_callback("M-XML", "mallory", "hello in xml");
    let xml_encrypt = simcrypto::encrypt(&key, &xml_plain.to_string());
    let xml = format!("<xml><ToUserName><![CDATA[x]]></ToUserName><Encrypt><![CDATA[{xml_encrypt}]]></Encrypt></xml>");
    let (status, body) = raw_post(&url, &signed(&xml_encrypt), xml).await;
    assert_eq!(status, 200, "{body}");
    let answer: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(answer["nonce"], "n0nce", "the passive answer carries the callback's nonce");
    let reply: Value =
        serde_json::from_str(&simcrypto::decrypt(&key, answer["encrypt"].as_str().unwrap(), "").unwrap()).unwrap();
    assert_eq!(reply["msgtype"], "stream");

    // One log line per refusal, with its reason and no secret.
    let output = s.host.server.output().await;
    for reason in ["unsigned", "no_encrypt", "bad_signature", "decrypt_failed", "body_too_large"] {
        assert!(output.contains(&format!("WeCom callback refused ({reason})")), "no log line for {reason}:\n{output}");
    }
    assert!(!output.contains(WECOM_TOKEN) && !output.contains(AES_KEY), "a secret reached the logs");
}

/// A stub `/v1/chat/completions` that counts runs and answers `answer <n>`.
async fn completions(
    axum::extract::State(runs): axum::extract::State<Arc<AtomicUsize>>,
    _body: axum::Json<Value>,
) -> impl axum::response::IntoResponse {
    let n = runs.fetch_add(1, Ordering::SeqCst) + 1;
    let sse = format!(
        "data: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
        json!({"choices": [{"delta": {"content": "answer "}}]}),
        json!({"choices": [{"delta": {"content": n.to_string()}}]}),
    );
    ([("content-type", "text/event-stream")], sse)
}

/// Refreshes `stream_id` until it is sealed; returns the final content and the refreshes made.
async fn poll_to_end(sim: &Simulator, bot: &str, user: &str, stream_id: &str) -> (String, usize) {
    let deadline = Instant::now() + WAIT;
    let mut n = 0;
    loop {
        n += 1;
        let (status, reply) = sim.short_post(bot, &refresh_callback(user, stream_id)).await.unwrap();
        assert_eq!(status, 200);
        let reply = reply.expect("a refresh is answered with a stream");
        if reply["stream"]["finish"] == true {
            return (reply["stream"]["content"].as_str().unwrap_or_default().to_string(), n);
        }
        assert!(Instant::now() < deadline, "the stream never finished: {reply}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn retries_of_one_msgid_get_the_same_passive_answer_and_run_the_agent_once() {
    let runs = Arc::new(AtomicUsize::new(0));
    let app =
        axum::Router::new().route("/v1/chat/completions", axum::routing::post(completions)).with_state(runs.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stub = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let s = setup_with(fast_sim(), &[], json!({"kind": "openai", "baseUrl": stub, "model": "m"})).await;

    // WeCom's retries of one callback, the three at once (one may land while the first is
    // still being answered).
    let plain = text_callback("M-RETRY-1", "bob", "question");
    let (a, b, c) =
        tokio::join!(s.sim.short_post(BOT, &plain), s.sim.short_post(BOT, &plain), s.sim.short_post(BOT, &plain));
    let replies: Vec<Value> = [a, b, c]
        .into_iter()
        .map(|r| {
            let (status, reply) = r.unwrap();
            assert_eq!(status, 200);
            reply.expect("each delivery gets a passive answer")
        })
        .collect();
    assert_eq!(replies[0], replies[1], "every delivery gets the same answer");
    assert_eq!(replies[1], replies[2], "every delivery gets the same answer");
    let stream_id = replies[0]["stream"]["id"].as_str().unwrap().to_string();
    let (text, _) = poll_to_end(&s.sim, BOT, "bob", &stream_id).await;
    assert_eq!(text, "answer 1");
    // A late retry, after the answer finished, still gets the first answer and runs nothing.
    let (_, late) = s.sim.short_post(BOT, &plain).await.unwrap();
    assert_eq!(late.as_ref(), Some(&replies[0]));
    assert_eq!(runs.load(Ordering::SeqCst), 1, "exactly one agent run");
    let status = s.status_when(|st| st["acceptedByKind"]["retry"] == 3).await;
    assert_eq!(
        (status["acceptedByKind"]["message"].clone(), status["acceptedByKind"]["retry"].clone()),
        (json!(1), json!(3)),
        "{status}"
    );
    assert!(s.sim.violations().is_empty(), "{:?}", s.sim.violations());
}

#[tokio::test]
async fn an_unknown_stream_is_sealed_and_a_late_answer_goes_to_response_url_once() {
    let sim = SimConfig { refresh_window: Duration::from_millis(1500), ..fast_sim() };
    let s = setup_with(
        sim,
        &[("WECOM_SHORT_STREAM_WINDOW_MS", "1500"), ("WECOM_SHORT_STREAM_MARGIN_MS", "500")],
        json!({"kind": "echo"}),
    )
    .await;
    let (status, reply) = s.sim.short_post(BOT, &refresh_callback("carol", "no-such-stream")).await.unwrap();
    assert_eq!(status, 200);
    let reply = reply.unwrap();
    assert_eq!((reply["stream"]["finish"].as_bool(), reply["stream"]["content"].as_str()), (Some(true), Some("")));

    // The answer takes 3 s; WeCom polls for 1.5 s.
    let out = s.sim.short_send_text(BOT, "carol", Chat::Single, "/slow 3").await.unwrap();
    // The pipeline seals the stream before WeCom stops polling, saying the answer goes on.
    assert!(
        out.finished && out.final_text.as_deref().is_some_and(|t| t.contains("continued in the next message")),
        "{out:?}"
    );
    let deadline = Instant::now() + WAIT;
    while s.sim.responses().is_empty() {
        assert!(Instant::now() < deadline, "nothing reached response_url");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let responses = s.sim.responses();
    assert_eq!(responses.len(), 1, "{responses:?}");
    assert_eq!(responses[0]["body"]["msgtype"], "markdown");
    // What the sealed stream showed and what response_url carried make the whole answer.
    let rest = responses[0]["body"]["markdown"]["content"].as_str().unwrap().to_string();
    let shown = out.final_text.as_deref().unwrap().replace("(continued in the next message)", "");
    assert_eq!(format!("{shown}{rest}").replace(char::is_whitespace, ""), "echo:/slow3", "{shown:?} + {rest:?}");
    let bubble = s.sim.transcript(BOT, "carol").last().cloned().unwrap();
    assert_eq!((bubble.kind.as_str(), bubble.text.as_str()), ("markdown", rest.as_str()));
}

#[tokio::test]
async fn a_response_url_outside_the_allowed_origins_is_never_called() {
    let sim = SimConfig { refresh_window: Duration::from_millis(1000), ..fast_sim() };
    let s = setup_with(
        sim,
        &[
            ("WECOM_API_ORIGINS", "https://qyapi.weixin.qq.com"),
            ("WECOM_SHORT_STREAM_WINDOW_MS", "1000"),
            ("WECOM_SHORT_STREAM_MARGIN_MS", "300"),
        ],
        json!({"kind": "echo"}),
    )
    .await;
    let out = s.sim.short_send_text(BOT, "dan", Chat::Single, "/slow 2").await.unwrap();
    // The pipeline seals the stream before its window ends, saying the answer goes on; the rest
    // would follow through response_url.
    assert!(
        out.finished && out.final_text.as_deref().is_some_and(|t| t.contains("continued in the next message")),
        "{out:?}"
    );
    let deadline = Instant::now() + WAIT;
    let status = loop {
        let status = s.status().await;
        if status["lastError"].as_str().is_some_and(|e| e.contains("WECOM_API_ORIGINS")) {
            break status;
        }
        assert!(Instant::now() < deadline, "the refusal never showed: {status}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert!(status["lastError"].as_str().unwrap().contains("127.0.0.1"), "names the host: {status}");
    assert!(s.sim.responses().is_empty(), "the simulator's response_url was not called");
}

#[tokio::test]
async fn an_image_is_downloaded_and_decrypted_with_the_encoding_aes_key() {
    let s = setup(&[]).await;
    let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR\0\0\0\x01\0\0\0\x01\x08\x06\0\0\0\x1f\x15\xc4\x89".to_vec();
    let out = s.sim.short_send_image(BOT, "erin", &png, "pic.png").await.unwrap();
    assert!(out.finished, "{out:?}");
    // An unreadable image is named in the answer; this one was read (downloaded, decrypted with
    // the EncodingAESKey, recognised as PNG) and handed to the agent, whose echo is of no text
    // (Markdown conversion drops the trailing space).
    assert_eq!(out.final_text.as_deref(), Some("echo:"), "{out:?}");

    // The type is told by the bytes, not by the name: a text file called .png is not handed on.
    let out = s.sim.short_send_image(BOT, "erin", b"just some text, not an image", "fake.png").await.unwrap();
    let text = out.final_text.unwrap_or_default();
    assert!(text.contains("Image 1 could not be read") && text.contains("not a PNG, JPEG, GIF or WebP"), "{text}");

    // Expired media degrade: the answer says which image could not be read.
    let expiring =
        setup_with(SimConfig { media_ttl: Duration::ZERO, ..fast_sim() }, &[], json!({"kind": "echo"})).await;
    let out = expiring.sim.short_send_image(BOT, "erin", &png, "pic.png").await.unwrap();
    let text = out.final_text.unwrap_or_default();
    assert!(text.contains("Image 1 could not be read"), "{text}");
}

#[tokio::test]
async fn enter_chat_gets_a_welcome_card_a_click_its_update_feedback_nothing_and_a_disabled_integration_no_retry() {
    let s = setup(&[]).await;
    let enter = json!({"msgid": "EV-1", "aibotid": BOT, "chattype": "single", "from": {"userid": "fay"},
                       "msgtype": "event", "event": {"eventtype": "enter_chat"}});
    let (status, reply) = s.sim.short_post(BOT, &enter).await.unwrap();
    assert_eq!(status, 200);
    let reply = reply.expect("a welcome");
    assert_eq!(reply["msgtype"], "template_card", "{reply}");
    let feedback = json!({"msgid": "EV-2", "aibotid": BOT, "chattype": "single", "from": {"userid": "fay"},
                          "msgtype": "event", "event": {"eventtype": "feedback_event",
                          "feedback_event": {"id": "F1", "type": 1}}});
    assert_eq!(s.sim.short_post(BOT, &feedback).await.unwrap(), (200, None), "feedback allows only an empty answer");
    // The welcome card's button: the session is reset and the card updated within the call.
    let task_id = reply["template_card"]["task_id"].as_str().unwrap().to_string();
    let click = json!({"msgid": "EV-3", "aibotid": BOT, "chattype": "single", "from": {"userid": "fay"},
                       "msgtype": "event", "event": {"eventtype": "template_card_event", "template_card_event":
                       {"card_type": "button_interaction", "event_key": "wecom_reset_session", "task_id": task_id}}});
    let (status, update) = s.sim.short_post(BOT, &click).await.unwrap();
    assert_eq!(status, 200);
    let update = update.expect("a card update");
    assert_eq!(update["response_type"], "update_template_card", "{update}");
    assert_eq!(update["template_card"]["task_id"], task_id.as_str());
    assert_eq!(update["template_card"]["main_title"]["title"], "New conversation started", "{update}");
    assert!(s.sim.violations().is_empty(), "{:?}", s.sim.violations());

    // Disabled: WeCom gets an empty 200 (delivered, no retry) and nothing runs.
    s.disable().await;
    let (status, reply) = s.sim.short_post(BOT, &text_callback("M-OFF", "fay", "hello?")).await.unwrap();
    assert_eq!((status, reply), (200, None));
    let status = s.status_when(|st| st["acceptedByKind"]["disabled"] == 1).await;
    assert_eq!(status["state"], "disabled");
    assert_eq!(status["acceptedByKind"]["disabled"], 1, "{status}");
    let (_, sessions) = s.host.get(&format!("/api/integration/{}/views/sessions/data", s.id)).await;
    assert_eq!(sessions["total"], 0, "{sessions}");
}

#[tokio::test]
async fn a_stream_running_when_its_integration_is_disabled_is_answered_to_its_seal() {
    let s = setup(&[]).await;
    let (status, first) = s.sim.short_post(BOT, &text_callback("M-RUNNING", "hal", "/slow 1")).await.unwrap();
    assert_eq!(status, 200);
    let stream_id = first.unwrap()["stream"]["id"].as_str().unwrap().to_string();
    s.disable().await;
    // A new message now gets the empty acknowledgement...
    let (status, reply) = s.sim.short_post(BOT, &text_callback("M-AFTER", "hal", "hello?")).await.unwrap();
    assert_eq!((status, reply), (200, None));
    // ...but the stream that was running is still answered, until it is sealed: an empty answer
    // would leave WeCom polling it until its window ends.
    let deadline = Instant::now() + WAIT;
    let last = loop {
        let (status, reply) = s.sim.short_post(BOT, &refresh_callback("hal", &stream_id)).await.unwrap();
        assert_eq!(status, 200);
        let reply = reply.expect("a refresh of a running stream is answered with its frame");
        assert_eq!(reply["stream"]["id"], stream_id.as_str(), "{reply}");
        if reply["stream"]["finish"] == true || Instant::now() >= deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(last["stream"]["finish"], true, "the stream was sealed: {last}");
    let status = s.status_when(|st| st["acceptedByKind"]["disabled"] == 1).await;
    assert_eq!(status["acceptedByKind"]["disabled"], 1, "only the new message was turned away: {status}");
}

/// The plugin KV on Redis behind a proxy a test cuts: a shared store that fails on demand.
struct CuttableStore {
    proxy: testkit::proxy::Proxy,
    url: String,
    prefix: String,
}

impl CuttableStore {
    /// `None` when `XPERT_SKIP_SERVER_TESTS=1` (no Redis on this machine).
    async fn start() -> Option<CuttableStore> {
        if std::env::var("XPERT_SKIP_SERVER_TESTS").is_ok_and(|v| v == "1") {
            return None;
        }
        let redis = std::env::var("XPERT_TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let url = reqwest::Url::parse(&redis).expect("XPERT_TEST_REDIS_URL");
        let upstream = tokio::net::lookup_host((url.host_str().unwrap(), url.port().unwrap_or(6379)))
            .await
            .unwrap()
            .next()
            .unwrap();
        let proxy = testkit::proxy::Proxy::start(upstream).await.unwrap();
        let url = format!("redis://{}/0", proxy.addr());
        Some(CuttableStore { proxy, url, prefix: format!("short-{}:", rand_id()) })
    }

    /// A host's settings for the KV on this store (a key prefix of the test's own).
    fn env(&self) -> Vec<(&str, &str)> {
        vec![("XPERT_REDIS_URL", self.url.as_str()), ("XPERT_REDIS_PREFIX", self.prefix.as_str())]
    }
}

/// A refresh of `stream_id` posted to `bot` until `done` holds for its status and reply, or
/// [`WAIT`] passed; the last status and reply.
async fn refresh_until(
    sim: &Simulator,
    bot: &str,
    user: &str,
    stream_id: &str,
    done: impl Fn(u16, &Option<Value>) -> bool,
) -> (u16, Option<Value>) {
    let deadline = Instant::now() + WAIT;
    loop {
        let (status, reply) = sim.short_post(bot, &refresh_callback(user, stream_id)).await.unwrap();
        if done(status, &reply) || Instant::now() >= deadline {
            return (status, reply);
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_refresh_the_store_cannot_answer_is_refused_for_another_call_never_sealed_empty() {
    let Some(store) = CuttableStore::start().await else { return };
    let mut env = store.env();
    // The plugin's debug lines tell when its status flush failed.
    env.extend([("XPERT_PLUGIN_LOG_LEVEL", "debug"), ("RUST_LOG", "info,plugin=debug")]);
    let s = setup(&env).await;
    let proxy = &store.proxy;
    let out = s.sim.short_send_text(BOT, "ivy", Chat::Single, "hello").await.unwrap();
    assert_eq!(out.final_text.as_deref(), Some("echo: hello"), "{out:?}");
    let stream_id = out.replies[0]["stream"]["id"].as_str().unwrap().to_string();

    proxy.cut();
    // While its pipeline still runs, this host answers the stream from memory; after that only
    // the store knows it, and a store that cannot be read must not answer "unknown stream"
    // (`finish:true` with no content would seal it empty).
    let key = simcrypto::aes_key(AES_KEY).unwrap();
    let deadline = Instant::now() + WAIT;
    let (status, body) = loop {
        let encrypt = simcrypto::encrypt(&key, &refresh_callback("ivy", &stream_id).to_string());
        let (status, body) = raw_post(&s.webhook(), &signed(&encrypt), json!({"encrypt": encrypt}).to_string()).await;
        if status != 200 || Instant::now() >= deadline {
            break (status, body);
        }
        let answer: Value = serde_json::from_str(&body).unwrap();
        let plain = simcrypto::decrypt(&key, answer["encrypt"].as_str().unwrap(), "").unwrap();
        let reply: Value = serde_json::from_str(&plain).unwrap();
        assert_eq!(reply["stream"]["content"], "echo: hello", "only ever the stream's own frame: {reply}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(status, 503, "{body}");
    assert!(body.contains("store_unavailable"), "{body}");
    // The refusal's counter cannot be written either; the store comes back only once a flush
    // has failed, so the counter must survive that failure.
    let deadline = Instant::now() + WAIT;
    while !s.host.server.output().await.contains("writing the callback counters failed") {
        assert!(Instant::now() < deadline, "no status flush failed while the store was cut");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    proxy.restore();
    let deadline = Instant::now() + WAIT;
    let reply = loop {
        let (status, reply) = s.sim.short_post(BOT, &refresh_callback("ivy", &stream_id)).await.unwrap();
        if status == 200 || Instant::now() >= deadline {
            break reply;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    let reply = reply.expect("the stream's sealed frame, once the store answers again");
    assert_eq!((&reply["stream"]["content"], &reply["stream"]["finish"]), (&json!("echo: hello"), &json!(true)));
    // The refusal reached the Status tab although the store was down when it happened.
    let status = s.status_when(|st| st["refusedByReason"]["store_unavailable"].as_u64() >= Some(1)).await;
    assert!(status["refusedByReason"]["store_unavailable"].as_u64() >= Some(1), "{status}");
}

#[tokio::test]
async fn a_seal_the_store_refused_is_answered_from_memory_and_stored_once_the_store_is_back() {
    let Some(store) = CuttableStore::start().await else { return };
    let s = setup(&store.env()).await;
    let mut other_env = store.env();
    let origins = s.sim.base_url();
    other_env.push(("WECOM_API_ORIGINS", origins.as_str()));
    let other = start(s._dir.path(), &other_env).await;
    s.sim.add_short_bot("OTHER", &other.url(&format!("/api/wecom/webhook/{}", s.id)), WECOM_TOKEN, AES_KEY).unwrap();

    let (status, first) = s.sim.short_post(BOT, &text_callback("M-SEAL", "kim", "/slow 0.5")).await.unwrap();
    assert_eq!(status, 200);
    let stream_id = first.unwrap()["stream"]["id"].as_str().unwrap().to_string();
    // From here on nothing the pipeline writes reaches the store, its sealing frame included.
    store.proxy.cut();
    let sealed = |status: u16, reply: &Option<Value>| {
        status == 200 && reply.as_ref().is_some_and(|r| r["stream"]["finish"] == true)
    };
    let (_, reply) = refresh_until(&s.sim, BOT, "kim", &stream_id, sealed).await;
    let seal = reply.expect("the instance that wrote the stream answers it from memory");
    assert_eq!(seal["stream"]["finish"], true, "{seal}");
    let content = seal["stream"]["content"].as_str().unwrap().to_string();
    assert!(!content.is_empty(), "{seal}");
    let (status, _) = s.sim.short_post("OTHER", &refresh_callback("kim", &stream_id)).await.unwrap();
    assert_eq!(status, 503, "the other instance cannot read the store");
    // Still answered from memory after its pipeline ended, while the seal is not stored.
    let (status, again) = s.sim.short_post(BOT, &refresh_callback("kim", &stream_id)).await.unwrap();
    assert_eq!((status, again.as_ref().map(|r| &r["stream"]["content"])), (200, Some(&json!(content))));

    store.proxy.restore();
    // Once the store takes writes again the seal is stored: the other instance, which reads
    // only the store, sees the stream sealed with the same content (else it would answer the
    // stored thinking frame, open, until WeCom's window ends).
    let (status, reply) = refresh_until(&s.sim, "OTHER", "kim", &stream_id, sealed).await;
    assert_eq!(status, 200);
    let reply = reply.unwrap();
    assert_eq!((&reply["stream"]["content"], &reply["stream"]["finish"]), (&json!(content), &json!(true)), "{reply}");
}

#[tokio::test]
async fn a_store_that_hangs_does_not_keep_wecom_past_its_deadline() {
    // Frozen, the store takes calls and never answers (a silent partition): only the webhook's
    // own wait (`WECOM_SHORT_STORE_WAIT_MS`, 1 s) gets WeCom its answer within the simulator's
    // 5 s, the host's Redis timeout being 5 s itself.
    let Some(store) = CuttableStore::start().await else { return };
    let s = setup(&store.env()).await;
    store.proxy.freeze();
    let (status, reply) =
        s.sim.short_post(BOT, &text_callback("M-HANG", "lee", "hello")).await.expect("answered in time");
    assert_eq!(status, 200);
    let reply = reply.expect("the thinking frame, although the msgid could not be taken");
    assert_eq!((&reply["stream"]["content"], &reply["stream"]["finish"]), (&json!("Thinking…"), &json!(false)));
    let (status, reply) =
        s.sim.short_post(BOT, &refresh_callback("lee", "s-not-in-memory")).await.expect("answered in time");
    assert_eq!((status, reply), (503, None), "a refresh the store cannot answer is refused, not sealed");
}

#[tokio::test]
async fn two_host_processes_answer_refreshes_of_one_stream() {
    let s = setup(&[]).await;
    // A second host process on the same store (the same data directory): another instance.
    let other = start(s._dir.path(), &[("WECOM_API_ORIGINS", s.sim.base_url().as_str())]).await;
    let other_hook = other.url(&format!("/api/wecom/webhook/{}", s.id));
    s.sim.add_short_bot("OTHER", &other_hook, WECOM_TOKEN, AES_KEY).unwrap();

    let (status, first) = s.sim.short_post(BOT, &text_callback("M-TWO", "gus", "/slow 1.5")).await.unwrap();
    assert_eq!(status, 200);
    let first = first.unwrap();
    let stream_id = first["stream"]["id"].as_str().unwrap().to_string();
    // Before the agent's first words, a refresh on the other instance gets the stream's first
    // frame (the stored passive answer), still open.
    let (_, early) = s.sim.short_post("OTHER", &refresh_callback("gus", &stream_id)).await.unwrap();
    let early = early.unwrap();
    assert_eq!((&early["stream"]["content"], &early["stream"]["finish"]), (&first["stream"]["content"], &json!(false)));
    let status = s.status_when(|st| st["streamsInFlight"] == 1).await;
    assert_eq!(status["streamsInFlight"], 1, "the answer being streamed shows: {status}");
    // Refreshes alternate between the instances; the one that did not take the message answers
    // from the shared store as well as the one running the agent.
    let deadline = Instant::now() + WAIT;
    let mut seen_on_other = Vec::new();
    // Every refresh's answer text, in order, whichever instance gave it (the thinking text as "").
    let mut seen = vec![String::new()];
    let thinking = first["stream"]["content"].as_str().unwrap().to_string();
    let mut turn = 0;
    let final_text = loop {
        turn += 1;
        let bot = if turn % 2 == 0 { BOT } else { "OTHER" };
        let (status, reply) = s.sim.short_post(bot, &refresh_callback("gus", &stream_id)).await.unwrap();
        assert_eq!(status, 200);
        let reply = reply.unwrap();
        let content = reply["stream"]["content"].as_str().unwrap_or_default().to_string();
        if bot == "OTHER" {
            seen_on_other.push(content.clone());
        }
        // The instance running the agent answers from its memory, the other from the store:
        // neither is ever behind what the other has shown.
        let text = if content == thinking { String::new() } else { content.clone() };
        let last = seen.last().unwrap();
        assert!(text.starts_with(last.as_str()), "refresh {turn} on {bot} went back from {last:?} to {text:?}");
        seen.push(text);
        if reply["stream"]["finish"] == true {
            break content;
        }
        assert!(Instant::now() < deadline, "never finished");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(final_text, "echo: /slow 1.5");
    assert!(
        seen_on_other.iter().any(|c| !c.is_empty()),
        "the other instance answered with the stream's snapshots, not as an unknown stream: {seen_on_other:?}"
    );
    let status = s.status_when(|st| st["streamsInFlight"] == 0).await;
    assert_eq!(status["streamsInFlight"], 0, "sealed: {status}");
    // Either instance answers the last snapshot.
    let (_, again) = s.sim.short_post("OTHER", &refresh_callback("gus", &stream_id)).await.unwrap();
    assert_eq!(again.unwrap()["stream"]["content"], "echo: /slow 1.5");
}

/// A TestHost with the plugin installed, one `wecom` integration `id` (English) bound by
/// `trigger`, and its webhook served on loopback and registered with the simulator as `BOT`.
fn bridged_host(
    rt: &tokio::runtime::Runtime,
    sim: &Simulator,
    id: &str,
    trigger: Value,
) -> (std::sync::Arc<host_sdk::host::TestHost>, host_sdk::host::Installation) {
    let host = host_sdk::host::TestHost::new();
    host.set_config("WECOM_API_ORIGINS", &sim.base_url());
    host.set_config("WECOM_STREAM_THROTTLE_MS", "20");
    host.put_integration(host_sdk::Integration {
        id: id.into(),
        name: id.into(),
        provider: "wecom".into(),
        enabled: true,
        options: json!({"token": WECOM_TOKEN, "encodingAesKey": AES_KEY, "preferLanguage": "en"}),
    });
    let inst = host.install(&plugin_common::load_wecom(), host_sdk::InstallLevel::Tenant).expect("install");
    let params = host_sdk::TriggerParams { xpert_id: "x1".into(), config: trigger };
    host.block_on(async { inst.trigger("wecom").unwrap().trigger.publish(&params).await.unwrap() });
    let base = rt.block_on(bridge(&inst));
    sim.add_short_bot(BOT, &format!("{base}/api/wecom/webhook/{id}"), WECOM_TOKEN, AES_KEY).unwrap();
    (host, inst)
}

/// Serves an installation's plugin routes on a loopback port (what the host does for them), so
/// that the simulator can call the webhook of a TestHost installation.
async fn bridge(inst: &host_sdk::host::Installation) -> String {
    let routes: Vec<_> = inst.routes.iter().map(|r| (r.spec.clone(), r.handler.clone())).collect();
    let app = axum::Router::new().fallback(move |request: axum::extract::Request| {
        let routes = routes.clone();
        async move {
            let method = request.method().as_str().to_string();
            let path = request.uri().path().to_string();
            let query = request.uri().query().unwrap_or_default().to_string();
            let body = axum::body::to_bytes(request.into_body(), 1 << 20).await.unwrap().to_vec();
            let below = path.strip_prefix("/api").unwrap_or(&path).to_string();
            let id = below.rsplit('/').next().unwrap_or_default().to_string();
            let (_, handler) = routes
                .iter()
                .find(|(spec, _)| spec.method == method && spec.path == "/wecom/webhook/{integrationId}")
                .unwrap();
            let request = host_sdk::HttpRequest {
                method,
                path,
                query,
                path_params: vec![("integrationId".into(), id)],
                headers: vec![],
                body,
            };
            let answer = handler.handle(request).await.unwrap();
            (axum::http::StatusCode::from_u16(answer.status).unwrap(), answer.body)
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    base
}

#[test]
fn an_image_reaches_the_agent_decrypted_with_the_encoding_aes_key() {
    use base64::Engine as _;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(fast_sim())).unwrap();
    let (host, inst) = bridged_host(&rt, &sim, "si", json!({"enabled": true, "integrationId": "si"}));

    let png: Vec<u8> = [b"\x89PNG\r\n\x1a\n".as_slice(), &[7u8; 300]].concat();
    let out = rt.block_on(sim.short_send_image(BOT, "ivy", &png, "pic.png")).unwrap();
    assert!(out.finished, "{out:?}");
    let request = host.agent().requests().pop().expect("the agent ran");
    assert_eq!(request.files.len(), 1, "{request:?}");
    let file = &request.files[0];
    assert_eq!((file.mime_type.as_str(), file.name.as_str()), ("image/png", "image-1.png"));
    let encoded = file.url.strip_prefix("data:image/png;base64,").expect("a data URL");
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap(), png, "decrypted byte for byte");
    // The EncodingAESKey used for the media never reaches a log.
    assert!(host.logs().iter().all(|l| !l.record.message.contains(AES_KEY) && !l.record.fields_json.contains(AES_KEY)));
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[tokio::test]
async fn a_response_url_refused_by_wecom_is_reported_with_its_errcode() {
    // A margin wide enough that a loaded CI machine seals in time (300 ms of 1 s was not, once).
    let sim = SimConfig { refresh_window: Duration::from_millis(2500), response_url_ttl: Duration::ZERO, ..fast_sim() };
    let s = setup_with(
        sim,
        &[("WECOM_SHORT_STREAM_WINDOW_MS", "2500"), ("WECOM_SHORT_STREAM_MARGIN_MS", "1000")],
        json!({"kind": "echo"}),
    )
    .await;
    let out = s.sim.short_send_text(BOT, "hal", Chat::Single, "/slow 4").await.unwrap();
    // The pipeline seals the stream before its window ends, saying the answer goes on; the rest
    // would follow through response_url.
    assert!(
        out.finished && out.final_text.as_deref().is_some_and(|t| t.contains("continued in the next message")),
        "{out:?}"
    );
    let status = s.status_when(|st| st["lastError"].as_str().is_some_and(|e| e.contains("errcode"))).await;
    let error = status["lastError"].as_str().unwrap_or_default();
    assert!(error.contains("response_url answered errcode 60140"), "WeCom's code is kept: {status}");
    assert!(!error.contains("response_code"), "the single-use URL itself is never shown: {status}");
    assert!(s.sim.responses().is_empty());
}

#[tokio::test]
async fn a_response_url_that_never_answers_is_given_up_after_the_integrations_timeout() {
    // A response_url host that accepts the call and never answers.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let sim = SimConfig { refresh_window: Duration::from_millis(1000), ..fast_sim() };
    let s = setup_with(
        sim,
        &[
            ("WECOM_API_ORIGINS", silent.as_str()),
            ("WECOM_SHORT_STREAM_WINDOW_MS", "1000"),
            ("WECOM_SHORT_STREAM_MARGIN_MS", "300"),
        ],
        json!({"kind": "echo"}),
    )
    .await;
    let mut plain = text_callback("M-SILENT", "ian", "/slow 1.5");
    plain["response_url"] = json!(format!("{silent}/cgi-bin/aibot/response?response_code=secret-code"));
    let (status, reply) = s.sim.short_post(BOT, &plain).await.unwrap();
    assert_eq!((status, reply.map(|r| r["msgtype"].clone())), (200, Some(json!("stream"))));
    // The answer outlives the 1 s window; its response_url call is bounded by timeoutMs (3 000).
    let status = s.status_when(|st| st["lastError"].as_str().is_some_and(|e| e.contains("did not answer"))).await;
    let error = status["lastError"].as_str().unwrap_or_default();
    assert!(error.contains("did not answer within 3s"), "{status}");
    assert!(!error.contains("secret-code"), "the single-use URL itself is never shown: {status}");
}

#[tokio::test]
async fn a_file_gets_a_notice_as_its_passive_answer_also_on_a_retry() {
    let s = setup(&[]).await;
    let file = json!({"msgid": "M-FILE", "aibotid": BOT, "chattype": "single", "from": {"userid": "fred"},
                      "msgtype": "file", "file": {"url": "https://example.invalid/f"}});
    let (status, reply) = s.sim.short_post(BOT, &file).await.unwrap();
    assert_eq!(status, 200);
    let reply = reply.expect("a passive answer, not silence");
    assert_eq!(reply["stream"]["finish"], true, "{reply}");
    let content = reply["stream"]["content"].as_str().unwrap_or_default();
    assert!(
        content == "Sorry, I cannot read files yet. Please send text, voice or images."
            || content == "抱歉，我暂时无法读取文件，请发送文字、语音或图片。",
        "{content}"
    );
    // A retry of the same callback gets the same answer.
    let (_, again) = s.sim.short_post(BOT, &file).await.unwrap();
    assert_eq!(again.unwrap()["stream"]["content"], content);
}

#[test]
fn gathered_images_are_stored_without_the_encoding_aes_key_and_still_decrypt() {
    use base64::Engine as _;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = std::sync::Arc::new(rt.block_on(Simulator::start(fast_sim())).unwrap());
    // Messages of one user within a second are answered together: they wait in the shared KV.
    let trigger = json!({"enabled": true, "integrationId": "sa", "summaryWindowSeconds": 1});
    let (host, inst) = bridged_host(&rt, &sim, "sa", trigger);

    let png: Vec<u8> = [b"\x89PNG\r\n\x1a\n".as_slice(), &[5u8; 300]].concat();
    let image = rt.spawn({
        let sim = sim.clone();
        let png = png.clone();
        async move { sim.short_send_image(BOT, "gus", &png, "pic.png").await }
    });
    // While the image waits to be answered, what the store holds for it has no EncodingAESKey.
    let deadline = std::time::Instant::now() + WAIT;
    let gathered = loop {
        let entries = host.kv().snapshot();
        if let Some(agg) = entries.iter().find(|e| e.key.contains("agg:sa:") && e.value.contains("url")) {
            break agg.value.clone();
        }
        assert!(std::time::Instant::now() < deadline, "the image was never gathered: {entries:?}");
        std::thread::yield_now();
    };
    assert!(!gathered.contains(AES_KEY), "the stored image carries no EncodingAESKey: {gathered}");
    assert!(host.kv().snapshot().iter().all(|e| !e.value.contains(AES_KEY)), "no stored value holds it");
    let out = rt.block_on(image).unwrap().unwrap();
    assert!(out.finished, "{out:?}");
    // Answered after the window, decrypted with the answering event's key.
    let request = host.agent().requests().pop().expect("the agent ran");
    assert_eq!(request.files.len(), 1, "{request:?}");
    let encoded = request.files[0].url.strip_prefix("data:image/png;base64,").expect("a data URL");
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap(), png);
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[tokio::test]
async fn a_host_stopped_mid_answer_leaves_no_stream_in_flight() {
    // The answer streams for a minute; the host is stopped (SIGTERM) while it does. Its count of
    // open streams goes with it: a host started on the same data afterwards shows none in flight
    // (the stream can no longer progress), instead of one until the polling window ends.
    let mut s = setup(&[]).await;
    let (status, first) = s.sim.short_post(BOT, &text_callback("M-STOP", "hal", "/slow 60")).await.unwrap();
    assert_eq!(status, 200);
    assert_eq!(first.unwrap()["stream"]["finish"], false);
    s.status_when(|st| st["streamsInFlight"] == 1).await;
    let exit = s.host.server.stop(Duration::from_secs(15)).await.unwrap();
    assert!(exit.success(), "a graceful stop: {exit:?}");
    let env = [("WECOM_API_ORIGINS", s.sim.base_url()), ("WECOM_SHORT_STATUS_FLUSH_MS", "20".to_string())];
    let env: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    s.host = start(s._dir.path(), &env).await;
    let status = s.status().await;
    assert_eq!(status["streamsInFlight"], 0, "{status}");
}

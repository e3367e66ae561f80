//! The short-connection driver against a webhook written in the test (playing the bot, with the
//! simulator's own crypto): URL verification, encrypted callbacks, retries with the same msgid,
//! passive stream replies followed by refresh polling, validation of replies; and response_url.

mod common;

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use common::Client;
use serde_json::{json, Value};
use wecom_sim::crypto;
use wecom_sim::{Chat, SimConfig, Simulator};

const TOKEN: &str = "tok3n";
const KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";

#[derive(Default)]
struct Bot {
    posts: AtomicU32,
    fail_first: bool,
    wrong_nonce: bool,
    /// Answer the message with `stream_with_template_card` instead of `stream`.
    with_card: bool,
    refreshes: AtomicU32,
    msgids: parking_lot::Mutex<Vec<String>>,
}

fn query_map(raw: &str) -> std::collections::HashMap<String, String> {
    raw.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| {
            let mut out = Vec::new();
            let b = v.as_bytes();
            let mut i = 0;
            while i < b.len() {
                if b[i] == b'%' {
                    out.push(u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap());
                    i += 3;
                } else {
                    out.push(b[i]);
                    i += 1;
                }
            }
            (k.to_string(), String::from_utf8(out).unwrap())
        })
        .collect()
}

async fn verify(RawQuery(q): RawQuery) -> impl IntoResponse {
    let q = query_map(&q.unwrap_or_default());
    let key = crypto::aes_key(KEY).unwrap();
    assert_eq!(crypto::sign(TOKEN, &q["timestamp"], &q["nonce"], &q["echostr"]), q["msg_signature"]);
    crypto::decrypt(&key, &q["echostr"], "").unwrap()
}

async fn callback(State(bot): State<Arc<Bot>>, RawQuery(q): RawQuery, body: String) -> axum::response::Response {
    let n = bot.posts.fetch_add(1, Ordering::SeqCst);
    let q = query_map(&q.unwrap_or_default());
    let key = crypto::aes_key(KEY).unwrap();
    let env: Value = serde_json::from_str(&body).unwrap();
    let encrypt = env["encrypt"].as_str().unwrap();
    assert_eq!(crypto::sign(TOKEN, &q["timestamp"], &q["nonce"], encrypt), q["msg_signature"], "callbacks are signed");
    let msg: Value = serde_json::from_str(&crypto::decrypt(&key, encrypt, "").unwrap()).unwrap();
    if msg["msgtype"] == "text" {
        bot.msgids.lock().push(msg["msgid"].as_str().unwrap().to_string());
        if bot.fail_first && n == 0 {
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    }
    let reply = if msg["msgtype"] == "stream" {
        let r = bot.refreshes.fetch_add(1, Ordering::SeqCst) + 1;
        json!({"msgtype": "stream", "stream": {"id": msg["stream"]["id"], "finish": r >= 2, "content": if r >= 2 { "final answer" } else { "thinking" }}})
    } else if bot.with_card {
        json!({"msgtype": "stream_with_template_card", "stream": {"id": "S1", "finish": false, "content": ""},
               "template_card": {"card_type": "text_notice", "main_title": {"title": "Passive card"}}})
    } else {
        json!({"msgtype": "stream", "stream": {"id": "S1", "finish": false, "content": ""}})
    };
    let enc = crypto::encrypt(&key, &reply.to_string());
    let ts = "1700000000";
    let nonce = if bot.wrong_nonce { "other".to_string() } else { q["nonce"].clone() };
    let sig = crypto::sign(TOKEN, ts, &nonce, &enc);
    axum::Json(json!({"encrypt": enc, "msgsignature": sig, "timestamp": 1700000000, "nonce": nonce})).into_response()
}

async fn webhook(bot: Arc<Bot>) -> String {
    let app = axum::Router::new().route("/hook", get(verify).post(callback)).with_state(bot);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

fn fast() -> SimConfig {
    SimConfig {
        refresh_interval: Duration::from_millis(20),
        callback_timeout: Duration::from_secs(2),
        ..SimConfig::default()
    }
}

#[tokio::test]
async fn url_verification_and_a_streamed_passive_reply() {
    let sim = Simulator::start(fast()).await.unwrap();
    let bot = Arc::new(Bot::default());
    sim.add_short_bot("SB", &webhook(bot.clone()).await, TOKEN, KEY).unwrap();
    sim.verify_url("SB").await.expect("verification passes");

    let out = sim.short_send_text("SB", "alice", Chat::Single, "hello").await.unwrap();
    assert_eq!(out.attempts, 1);
    assert!(out.finished);
    assert_eq!(out.refreshes, 2);
    assert_eq!(out.final_text.as_deref(), Some("final answer"));
    let t = sim.transcript("SB", "alice");
    assert_eq!(t.last().unwrap().text, "final answer");
    assert!(t.last().unwrap().finished);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[tokio::test]
async fn a_passive_stream_with_template_card_streams_and_shows_its_card() {
    let sim = Simulator::start(fast()).await.unwrap();
    let bot = Arc::new(Bot { with_card: true, ..Bot::default() });
    sim.add_short_bot("SB", &webhook(bot).await, TOKEN, KEY).unwrap();
    let out = sim.short_send_text("SB", "alice", Chat::Single, "hello").await.unwrap();
    assert!(out.finished);
    let t = sim.transcript("SB", "alice");
    let kinds: Vec<(&str, &str)> = t.iter().map(|b| (b.kind.as_str(), b.text.as_str())).collect();
    assert_eq!(kinds, [("text", "hello"), ("stream", "final answer"), ("card", "Passive card")]);
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
}

#[tokio::test]
async fn an_unanswered_callback_is_retried_with_the_same_msgid() {
    let sim = Simulator::start(fast()).await.unwrap();
    let bot = Arc::new(Bot { fail_first: true, ..Bot::default() });
    sim.add_short_bot("SB", &webhook(bot.clone()).await, TOKEN, KEY).unwrap();
    let out = sim.short_send_text("SB", "alice", Chat::Single, "hello").await.unwrap();
    assert_eq!(out.attempts, 2);
    let ids = bot.msgids.lock().clone();
    assert_eq!(ids.len(), 2);
    assert_eq!(ids[0], ids[1], "a retry carries the same msgid");
}

#[tokio::test]
async fn a_reply_with_another_nonce_is_a_violation() {
    let sim = Simulator::start(fast()).await.unwrap();
    let bot = Arc::new(Bot { wrong_nonce: true, ..Bot::default() });
    sim.add_short_bot("SB", &webhook(bot).await, TOKEN, KEY).unwrap();
    let err = sim.short_send_text("SB", "alice", Chat::Single, "hello").await.unwrap_err();
    assert!(err.contains("nonce"), "{err}");
    assert!(sim.violations().iter().any(|v| v.reason.contains("nonce")));
    assert!(sim.add_short_bot("SB", "http://x", TOKEN, "short").is_err(), "bad keys are refused");
}

#[tokio::test]
async fn response_urls_are_single_use() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.add_bot("B", "S");
    let mut c = Client::connect(&sim.ws_url()).await;
    c.subscribe("B", "S").await;
    sim.send_text("B", "alice", Chat::Single, "q").unwrap();
    let url = c.callback().await["body"]["response_url"].as_str().unwrap().to_string();
    let http = reqwest::Client::new();
    let body = json!({"msgtype": "markdown", "markdown": {"content": "**late** answer"}});
    let first: Value = http.post(&url).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(first["errcode"], 0);
    let second: Value = http.post(&url).json(&body).send().await.unwrap().json().await.unwrap();
    assert_ne!(second["errcode"], 0, "a response_url works once");
    assert_eq!(sim.transcript("B", "alice").last().unwrap().text, "**late** answer");
    assert_eq!(sim.responses().len(), 1);
}

/// A bot that downloads the image of an image callback and decrypts it with the EncodingAESKey.
async fn image_callback(
    State(seen): State<Arc<parking_lot::Mutex<Vec<Value>>>>,
    RawQuery(q): RawQuery,
    body: String,
) -> axum::response::Response {
    let q = query_map(&q.unwrap_or_default());
    let key = crypto::aes_key(KEY).unwrap();
    let env: Value = serde_json::from_str(&body).unwrap();
    let msg: Value =
        serde_json::from_str(&crypto::decrypt(&key, env["encrypt"].as_str().unwrap(), "").unwrap()).unwrap();
    seen.lock().push(msg.clone());
    let reply = json!({"msgtype": "stream", "stream": {"id": "S1", "finish": true, "content": "seen"}});
    let enc = crypto::encrypt(&key, &reply.to_string());
    let sig = crypto::sign(TOKEN, "1700000000", &q["nonce"], &enc);
    axum::Json(json!({"encrypt": enc, "msgsignature": sig, "timestamp": 1700000000, "nonce": q["nonce"]}))
        .into_response()
}

#[tokio::test]
async fn short_connection_images_are_hosted_encrypted_with_the_encoding_aes_key() {
    let sim = Simulator::start(fast()).await.unwrap();
    let seen = Arc::new(parking_lot::Mutex::new(Vec::new()));
    let app = axum::Router::new().route("/hook", axum::routing::post(image_callback)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    sim.add_short_bot("SB", &url, TOKEN, KEY).unwrap();

    let png = b"\x89PNG\r\n\x1a\nnot really a picture".to_vec();
    let out = sim.short_send_image("SB", "alice", &png, "pic.png").await.unwrap();
    assert!(out.finished);
    let msg = seen.lock()[0].clone();
    assert_eq!(msg["msgtype"], "image");
    assert!(msg["image"].get("aeskey").is_none(), "short-connection media carry no per-URL key: {msg}");
    let media = reqwest::get(msg["image"]["url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap();
    assert_ne!(&media[..], &png[..], "hosted encrypted");
    let key = crypto::aes_key(KEY).unwrap();
    assert_eq!(crypto::open(&key, &media).unwrap(), png, "decrypts with the EncodingAESKey, IV = key[..16]");
    assert!(!matches!(crypto::open(&[7u8; 32], &media), Ok(p) if p == png), "another key does not open it");
}

//! The binary, the JSON control API (so tests in any language can drive the simulator), and the
//! chat page in headless Chromium.

mod common;

use std::time::Duration;

use common::{stream, Client};
use serde_json::{json, Value};
use testkit::browser::launch_or_skip;
use testkit::process::{run, ChildServer};

#[tokio::test]
async fn the_binary_serves_the_control_api() {
    let bin = env!("CARGO_BIN_EXE_wecom-sim");
    let (status, help, _) = run(bin, &["serve", "--help"], &[]).await.unwrap();
    assert!(status.success());
    for option in [
        "--listen",
        "--bot",
        "--stream-lifetime-secs",
        "--ack-delay-ms",
        "--callback-attempts",
        "--refresh-window-secs",
    ] {
        assert!(help.contains(option), "--help lists {option}");
    }
    let server =
        ChildServer::spawn(bin, &["serve", "--listen", "127.0.0.1:0", "--bot", "BOTX:SEC"], &[]).await.unwrap();
    let base = server.base_url();
    let http = reqwest::Client::new();
    let bots: Value = http.get(format!("{base}/sim/bots")).send().await.unwrap().json().await.unwrap();
    assert_eq!(bots, json!([{"botId": "BOTX", "connected": false}]));

    let mut c = Client::connect(&format!("ws://{}", server.addr())).await;
    assert_eq!(c.subscribe("BOTX", "SEC").await, 0);
    let pushed: Value = http
        .post(format!("{base}/sim/messages"))
        .json(&json!({"botId": "BOTX", "userId": "bob", "text": "from the control API"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let req = pushed["reqId"].as_str().unwrap().to_string();
    assert_eq!(c.callback().await["body"]["text"]["content"], "from the control API");
    assert_eq!(c.call("aibot_respond_msg", &req, stream("s1", "answer", true)).await, 0);
    assert_eq!(c.call("aibot_respond_msg", &req, json!({"msgtype": "text"})).await, 40008);
    let t: Value =
        http.get(format!("{base}/sim/transcript?botId=BOTX&chatId=bob")).send().await.unwrap().json().await.unwrap();
    assert_eq!(t[1]["text"], "answer");
    let v: Value = http.get(format!("{base}/sim/violations")).send().await.unwrap().json().await.unwrap();
    assert_eq!(v[0]["errcode"], 40008);
    let ok: Value = http
        .post(format!("{base}/sim/faults"))
        .json(&json!({"kind": "withhold_ping_acks", "bot_id": "BOTX"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(ok["ok"], true);
    let dropped: Value = http
        .post(format!("{base}/sim/drop"))
        .json(&json!({"botId": "BOTX"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(dropped["dropped"], 1);
    let none: Value = http
        .post(format!("{base}/sim/messages"))
        .json(&json!({"botId": "BOTX", "userId": "bob", "text": "x"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(none["error"].as_str().unwrap().contains("not connected"));
}

#[tokio::test]
async fn the_chat_page_shows_a_streaming_answer() {
    let Some(browser) = launch_or_skip().await.expect("chromium starts") else { return };
    let sim = wecom_sim::Simulator::start(wecom_sim::SimConfig::default()).await.unwrap();
    sim.add_bot("PAGEBOT", "S");
    let mut bot = Client::connect(&sim.ws_url()).await;
    assert_eq!(bot.subscribe("PAGEBOT", "S").await, 0);

    let page = browser.open(&sim.base_url()).await.unwrap();
    page.wait_until("document.querySelector('#bot').value === 'PAGEBOT'", Duration::from_secs(10)).await.unwrap();
    page.fill("[data-testid='msg']", "你好, bot").await.unwrap();
    page.click("[data-testid='send']").await.unwrap();

    // The raw bot receives what the user typed on the page…
    let cb = bot.callback().await;
    assert_eq!(cb["body"]["text"]["content"], "你好, bot");
    let req = cb["headers"]["req_id"].as_str().unwrap().to_string();
    // …answers with a thinking frame, then streams.
    assert_eq!(bot.call("aibot_respond_msg", &req, stream("st", "", false)).await, 0);
    page.wait_until("[...document.querySelectorAll('.thinking')].length === 1", Duration::from_secs(10)).await.unwrap();
    assert_eq!(bot.call("aibot_respond_msg", &req, stream("st", "Hello", false)).await, 0);
    assert_eq!(bot.call("aibot_respond_msg", &req, stream("st", "Hello from the bot", true)).await, 0);
    page.wait_until(
        "document.querySelector('#log').textContent.includes('Hello from the bot')",
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    let bubbles = page.eval("document.querySelectorAll(\"[data-testid='bubble']\").length").await.unwrap();
    assert_eq!(bubbles, json!(2), "one user bubble and one bot bubble (snapshots replace)");
    page.screenshot(&std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("wecom-sim-chat.png")).await.unwrap();
}

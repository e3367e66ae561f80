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

async fn post(http: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let resp = http.post(url).json(&body).send().await.unwrap();
    let status = resp.status().as_u16();
    (status, resp.json().await.unwrap())
}

#[tokio::test]
async fn a_message_for_an_offline_bot_is_refused_409_not_delivered() {
    let sim = wecom_sim::Simulator::start(wecom_sim::SimConfig::default()).await.unwrap();
    sim.add_bot("BOT1", "S");
    let http = reqwest::Client::new();
    let url = format!("{}/sim/messages", sim.base_url());
    let (status, body) = post(&http, url.clone(), json!({"botId": "BOT1", "userId": "bob", "text": "anyone?"})).await;
    assert_eq!(status, 409);
    assert_eq!((body["code"].clone(), body["delivered"].clone()), (json!("bot_not_connected"), json!(false)));
    assert!(body["error"].as_str().unwrap().contains("not connected"), "{body}");
    assert!(sim.transcript("BOT1", "bob").is_empty(), "nothing was delivered, nothing is shown as sent");
    let (status, body) = post(
        &http,
        format!("{}/sim/events", sim.base_url()),
        json!({"botId": "BOT1", "userId": "bob", "eventtype": "enter_chat"}),
    )
    .await;
    assert_eq!((status, body["delivered"].clone()), (409, json!(false)));

    let mut bot = Client::connect(&sim.ws_url()).await;
    assert_eq!(bot.subscribe("BOT1", "S").await, 0);
    // A malformed message is a 400, still not delivered.
    let (status, body) =
        post(&http, url.clone(), json!({"botId": "BOT1", "userId": "bob", "msgtype": "sticker"})).await;
    assert_eq!((status, body["code"].clone(), body["delivered"].clone()), (400, json!("invalid"), json!(false)));
    let (status, body) = post(&http, url, json!({"botId": "BOT1", "userId": "bob", "text": "now?"})).await;
    assert_eq!((status, body["delivered"].clone()), (200, json!(true)));
    assert_eq!(bot.callback().await["body"]["text"]["content"], "now?");
}

#[tokio::test]
async fn the_chat_page_keeps_an_undelivered_message_and_retries_it() {
    let Some(browser) = launch_or_skip().await.expect("chromium starts") else { return };
    let sim = wecom_sim::Simulator::start(wecom_sim::SimConfig::default()).await.unwrap();
    sim.add_bot("PAGEBOT", "S");
    let page = browser.open(&sim.base_url()).await.unwrap();
    page.wait_until("document.querySelector('#bot').value === 'PAGEBOT'", Duration::from_secs(10)).await.unwrap();
    page.fill("[data-testid='msg']", "are you there?").await.unwrap();
    page.click("[data-testid='send']").await.unwrap();

    // The bot is offline: the message stays on the page, marked not delivered.
    page.wait_until("document.querySelectorAll(\"[data-testid='undelivered']\").length === 1", Duration::from_secs(10))
        .await
        .unwrap();
    let shown = page.text("[data-testid='undelivered']").await.unwrap();
    assert!(shown.contains("are you there?") && shown.contains("not delivered"), "{shown}");
    assert!(sim.transcript("PAGEBOT", "alice").is_empty());
    let shots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR"));
    page.screenshot(&shots.join("wecom-sim-undelivered.png")).await.unwrap();

    // Once the bot is back, Retry delivers it and the mark goes away.
    let mut bot = Client::connect(&sim.ws_url()).await;
    assert_eq!(bot.subscribe("PAGEBOT", "S").await, 0);
    page.click("[data-testid='retry']").await.unwrap();
    assert_eq!(bot.callback().await["body"]["text"]["content"], "are you there?");
    page.wait_until(
        "document.querySelectorAll(\"[data-testid='undelivered']\").length === 0 && \
         [...document.querySelectorAll(\"[data-testid='bubble']\")].some(b => b.textContent.includes('are you there?'))",
        Duration::from_secs(10),
    )
    .await
    .unwrap();
    page.screenshot(&shots.join("wecom-sim-retried.png")).await.unwrap();
}

#[tokio::test]
async fn faults_take_a_bot_id_like_every_control_endpoint() {
    let sim = wecom_sim::Simulator::start(wecom_sim::SimConfig::default()).await.unwrap();
    sim.add_bot("BOT1", "S1");
    sim.add_bot("BOT2", "S2");
    let mut one = Client::connect(&sim.ws_url()).await;
    assert_eq!(one.subscribe("BOT1", "S1").await, 0);
    let mut two = Client::connect(&sim.ws_url()).await;
    assert_eq!(two.subscribe("BOT2", "S2").await, 0);
    let http = reqwest::Client::new();
    let faults = format!("{}/sim/faults", sim.base_url());

    // A refusal for BOT1 only.
    let (status, ok) =
        post(&http, faults.clone(), json!({"kind": "refuse", "botId": "BOT1", "cmd": "ping", "errcode": 600001})).await;
    assert_eq!((status, ok["ok"].clone(), ok["botId"].clone()), (200, json!(true), json!("BOT1")));
    assert_eq!(one.call("ping", "p1", json!(null)).await, 600001);
    assert_eq!(two.call("ping", "p2", json!(null)).await, 0);

    // Withheld ping acks for BOT2 only (`bot_id` is accepted too): its next frame is the ack of a
    // later command, so the ping's ack was never sent.
    post(&http, faults.clone(), json!({"kind": "withhold_ping_acks", "bot_id": "BOT2"})).await;
    two.send_with("ping", "p3", json!(null)).await;
    two.send_with("frobnicate", "after-p3", json!({})).await;
    assert_eq!(two.recv().await.unwrap()["headers"]["req_id"], "after-p3");

    // Clearing BOT1 leaves BOT2's fault in place.
    post(&http, faults.clone(), json!({"kind": "clear", "botId": "BOT1"})).await;
    assert_eq!(one.call("ping", "p4", json!(null)).await, 0);
    two.send_with("ping", "p5", json!(null)).await;
    two.send_with("frobnicate", "after-p5", json!({})).await;
    assert_eq!(two.recv().await.unwrap()["headers"]["req_id"], "after-p5");

    // An outage of BOT2: its subscribes are refused, other bots subscribe as usual.
    post(&http, faults.clone(), json!({"kind": "outage", "botId": "BOT2", "ms": 60000})).await;
    let mut again = Client::connect(&sim.ws_url()).await;
    assert_eq!(again.subscribe("BOT2", "S2").await, 853000);
    let mut one_again = Client::connect(&sim.ws_url()).await;
    assert_eq!(one_again.subscribe("BOT1", "S1").await, 0);

    // Without botId, outage and clear keep their simulator-wide meaning.
    post(&http, faults.clone(), json!({"kind": "outage", "ms": 60000})).await;
    assert!(tokio_tungstenite::connect_async(sim.ws_url()).await.is_err(), "every handshake is refused");
    let (_, cleared) = post(&http, faults.clone(), json!({"kind": "clear"})).await;
    assert_eq!(cleared["botId"], Value::Null);
    let mut back = Client::connect(&sim.ws_url()).await;
    assert_eq!(back.subscribe("BOT2", "S2").await, 0, "BOT2's own outage is cleared too");
    back.send_with("ping", "p6", json!(null)).await;
    assert_eq!(back.recv().await.unwrap()["headers"]["req_id"], "p6", "and its withheld ping acks");
}

#[tokio::test]
async fn a_host_demo_starts_the_simulator_on_an_address_in_two_lines() {
    // 127.0.0.2 is loopback too: the simulator listens where it is told, not on a default.
    let sim = wecom_sim::Simulator::start_on("127.0.0.2:0".parse().unwrap(), Default::default()).await.unwrap();
    sim.add_bot("DEMOBOT", "demo-secret");

    assert_eq!(sim.addr().ip().to_string(), "127.0.0.2");
    assert_eq!(sim.ws_url(), format!("ws://{}", sim.addr()));
    let mut bot = Client::connect(&sim.ws_url()).await;
    assert_eq!(bot.subscribe("DEMOBOT", "demo-secret").await, 0);
    assert!(sim.wait_connected("DEMOBOT", true, Duration::from_secs(2)).await);
    let req = sim.send_text("DEMOBOT", "alice", wecom_sim::Chat::Single, "hello").unwrap();
    assert_eq!(bot.callback().await["headers"]["req_id"], req.as_str());
}

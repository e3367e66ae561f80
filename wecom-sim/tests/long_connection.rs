//! Each long-connection rule and fault, exercised by a raw WebSocket client.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::json;
use wecom_sim::server::{EventBody, MessageBody};
use wecom_sim::{Chat, FaultSpec, SimConfig, Simulator};

fn fast() -> SimConfig {
    SimConfig {
        stream_lifetime: Duration::from_millis(1000),
        event_reply_window: Duration::from_millis(1000),
        displaced_close_delay: Duration::from_millis(100),
        ..SimConfig::default()
    }
}

async fn setup() -> (Simulator, Client) {
    let sim = Simulator::start(fast()).await.unwrap();
    sim.add_bot("BOT1", "SECRET1");
    let mut c = Client::connect(&sim.ws_url()).await;
    assert_eq!(c.subscribe("BOT1", "SECRET1").await, 0);
    (sim, c)
}

fn event(kind: &str, task: Option<&str>) -> EventBody {
    EventBody {
        bot_id: "BOT1".into(),
        user_id: "alice".into(),
        chat_id: None,
        eventtype: kind.into(),
        task_id: task.map(str::to_string),
        event_key: Some("k".into()),
        feedback_type: Some(2),
    }
}

#[tokio::test]
async fn a_wrong_secret_gets_853000_and_the_socket_stays_open() {
    let sim = Simulator::start(fast()).await.unwrap();
    sim.add_bot("BOT1", "SECRET1");
    let mut c = Client::connect(&sim.ws_url()).await;
    assert_eq!(c.subscribe("BOT1", "wrong").await, 853000);
    assert!(!sim.is_connected("BOT1"));
    // Commands before a successful subscribe are refused, and no callback reaches the socket.
    let r = c.send("ping", json!(null)).await;
    assert_eq!(c.ack_of(&r).await, 853001);
    assert!(sim.send_text("BOT1", "alice", Chat::Single, "hi").is_err());
    // The same socket can still subscribe.
    assert_eq!(c.subscribe("BOT1", "SECRET1").await, 0);
    assert!(sim.is_connected("BOT1"));
}

#[tokio::test]
async fn every_command_gets_one_ack_with_its_req_id_and_no_cmd() {
    let (_sim, mut c) = setup().await;
    let r = c.send("ping", json!(null)).await;
    let ack = c.recv().await.unwrap();
    assert_eq!(ack["headers"]["req_id"], r.as_str());
    assert_eq!(ack["errcode"], 0);
    assert!(ack.get("cmd").is_none());
    c.send_with("frobnicate", "x1", json!({})).await;
    let ack = c.recv().await.unwrap();
    assert_eq!((ack["headers"]["req_id"].clone(), ack["errcode"].clone()), (json!("x1"), json!(40001)));
    c.ws_send_raw("not json").await;
    assert_eq!(c.recv().await.unwrap()["errcode"], 40001);
}

trait Raw {
    async fn ws_send_raw(&mut self, text: &str);
}

impl Raw for Client {
    async fn ws_send_raw(&mut self, text: &str) {
        use futures_util::SinkExt;
        self.ws.send(tokio_tungstenite::tungstenite::Message::text(text.to_string())).await.unwrap();
    }
}

#[tokio::test]
async fn message_callbacks_carry_the_documented_fields_and_encrypted_media() {
    let (sim, mut c) = setup().await;
    let req = sim.send_text("BOT1", "alice", Chat::Group("Grp9".into()), "@bot hello").unwrap();
    let cb = c.callback().await;
    assert_eq!(cb["cmd"], "aibot_msg_callback");
    assert_eq!(cb["headers"]["req_id"], req.as_str());
    let body = &cb["body"];
    assert_eq!((body["chattype"].clone(), body["chatid"].clone()), (json!("group"), json!("Grp9")));
    assert_eq!(body["from"]["userid"], "alice");
    assert_eq!(body["text"]["content"], "@bot hello");
    assert!(body["msgid"].is_string() && body["response_url"].as_str().unwrap().contains("response_code="));

    // A redelivery: the same msgid again, under a new req_id.
    let again =
        sim.send_message(MessageBody::new("BOT1", "alice", "again").with_msgid(body["msgid"].as_str().unwrap()));
    let cb = c.callback().await;
    assert_eq!(cb["body"]["msgid"], body["msgid"]);
    assert_eq!(cb["headers"]["req_id"].as_str(), again.as_deref().ok(), "a new req_id");

    let png = b"\x89PNG\r\n\x1a\nfake image bytes".to_vec();
    sim.send_message(MessageBody {
        bot_id: "BOT1".into(),
        user_id: "alice".into(),
        chat_id: None,
        msgtype: Some("image".into()),
        text: String::new(),
        data: Some(base64::engine::general_purpose::STANDARD.encode(&png)),
        name: Some("cat.png".into()),
        quote: None,
        msgid: None,
    })
    .unwrap();
    let cb = c.callback().await;
    let image = &cb["body"]["image"];
    assert!(cb["body"].get("chatid").is_none(), "single chats carry no chatid");
    let key = wecom_sim::crypto::media_key_bytes(image["aeskey"].as_str().unwrap()).unwrap();
    let resp = reqwest::get(image["url"].as_str().unwrap()).await.unwrap();
    assert!(resp.headers()["content-disposition"].to_str().unwrap().contains("filename*=UTF-8''cat.png"));
    let cipher = resp.bytes().await.unwrap();
    assert_eq!(wecom_sim::crypto::open(&key, &cipher).unwrap(), png);

    // Images exist only in single chats.
    let group_image = sim.send_message(MessageBody {
        bot_id: "BOT1".into(),
        user_id: "alice".into(),
        chat_id: Some("Grp9".into()),
        msgtype: Some("image".into()),
        text: String::new(),
        data: Some("AAAA".into()),
        name: None,
        quote: None,
        msgid: None,
    });
    assert!(group_image.is_err());
}

#[tokio::test]
async fn streams_are_snapshots_sealed_by_finish_and_expire() {
    let (sim, mut c) = setup().await;
    let req = sim.send_text("BOT1", "alice", Chat::Single, "q").unwrap();
    c.callback().await;
    for (text, finish) in [("甲", false), ("甲乙", false), ("甲乙丙", true)] {
        assert_eq!(c.call("aibot_respond_msg", &req, stream("s1", text, finish)).await, 0);
    }
    let t = sim.transcript("BOT1", "alice");
    assert_eq!(t.len(), 2, "{t:?}");
    assert_eq!((t[1].text.as_str(), t[1].finished, t[1].updates), ("甲乙丙", true, 3));

    // A second stream on the same req_id is allowed; after its lifetime it expires (846608).
    assert_eq!(c.call("aibot_respond_msg", &req, stream("s2", "x", false)).await, 0);
    let ok = sim.wait_transcript("BOT1", "alice", Duration::from_secs(2), |t| t.len() == 3).await;
    assert_eq!(ok.len(), 3);
    tokio::time::sleep(Duration::from_millis(1050)).await; // the configured stream lifetime is 1 s
    assert_eq!(c.call("aibot_respond_msg", &req, stream("s2", "late", true)).await, 846608);

    // Rule breaks: text msgtype, oversized content, a req_id that is not a message callback.
    assert_eq!(c.call("aibot_respond_msg", &req, json!({"msgtype": "text", "text": {"content": "x"}})).await, 40008);
    assert_eq!(c.call("aibot_respond_msg", &req, stream("s3", &"字".repeat(7000), false)).await, 45002);
    assert_eq!(c.call("aibot_respond_msg", "made_up", stream("s4", "x", false)).await, 846605);
    let codes: Vec<i64> = sim.violations().iter().map(|v| v.errcode).collect();
    for code in [846608, 40008, 45002, 846605] {
        assert!(codes.contains(&code), "{codes:?}");
    }
}

#[tokio::test]
async fn welcome_and_card_updates_only_on_their_event_within_the_window() {
    let (sim, mut c) = setup().await;
    let enter = sim.send_event(event("enter_chat", None)).unwrap();
    c.callback().await;
    assert_eq!(
        c.call("aibot_respond_msg", &enter, stream("s", "x", true)).await,
        846605,
        "an enter_chat req_id cannot stream"
    );
    let welcome = json!({"msgtype": "template_card", "template_card": {"card_type": "text_notice", "main_title": {"title": "Welcome"}}});
    assert_eq!(c.call("aibot_respond_welcome_msg", &enter, welcome.clone()).await, 0);
    assert_eq!(c.call("aibot_respond_welcome_msg", &enter, welcome.clone()).await, 846606);
    let t = sim.transcript("BOT1", "alice");
    assert_eq!((t[0].kind.as_str(), t[0].text.as_str()), ("welcome", "Welcome"));

    let late = sim.send_event(event("enter_chat", None)).unwrap();
    c.callback().await;
    tokio::time::sleep(Duration::from_millis(1050)).await; // past the configured 1 s window
    assert_eq!(c.call("aibot_respond_welcome_msg", &late, welcome).await, 846605);

    let card_event = sim.send_event(event("template_card_event", Some("task-1"))).unwrap();
    let cb = c.callback().await;
    assert!(cb["body"]["response_url"].is_string());
    let update = |task: &str| json!({"response_type": "update_template_card", "template_card": {"card_type": "button_interaction", "task_id": task, "main_title": {"title": "Done"}}});
    assert_eq!(c.call("aibot_respond_update_msg", &card_event, update("other")).await, 846605);
    assert_eq!(c.call("aibot_respond_update_msg", &card_event, update("task-1")).await, 0);
    let fb = sim.send_event(event("feedback_event", None)).unwrap();
    let cb = c.callback().await;
    assert_eq!(cb["headers"]["req_id"], fb.as_str());
    assert_eq!(cb["body"]["event"]["feedback_event"]["type"], 2);
}

#[tokio::test]
async fn proactive_sends_need_a_chat_that_spoke_and_the_rate_limit_holds() {
    let sim = Simulator::start(SimConfig { rate_per_minute: 3, ..fast() }).await.unwrap();
    sim.add_bot("BOT1", "S");
    let mut c = Client::connect(&sim.ws_url()).await;
    c.subscribe("BOT1", "S").await;
    let md = |chat: &str| json!({"chatid": chat, "chat_type": 1, "msgtype": "markdown", "markdown": {"content": "hi"}});
    let r = c.send("aibot_send_msg", md("alice")).await;
    assert_eq!(c.ack_of(&r).await, 93006, "alice never spoke");
    sim.send_text("BOT1", "alice", Chat::Single, "hello").unwrap();
    c.callback().await;
    let r = c.send("aibot_send_msg", json!({"chatid": "alice", "msgtype": "text", "text": {"content": "x"}})).await;
    assert_eq!(c.ack_of(&r).await, 40008);
    let r = c.send("aibot_send_msg", md("ALICE")).await;
    assert_eq!(c.ack_of(&r).await, 93006, "chat ids are case-sensitive");
    for _ in 0..3 {
        let r = c.send("aibot_send_msg", md("alice")).await;
        assert_eq!(c.ack_of(&r).await, 0);
    }
    let r = c.send("aibot_send_msg", md("alice")).await;
    assert_eq!(c.ack_of(&r).await, 846607, "30/min (3 here) per conversation");
}

#[tokio::test]
async fn a_newer_subscribe_displaces_the_older_socket() {
    let (sim, mut old) = setup().await;
    let mut new = Client::connect(&sim.ws_url()).await;
    assert_eq!(new.subscribe("BOT1", "SECRET1").await, 0);
    let ev = old.callback().await;
    assert_eq!(ev["cmd"], "aibot_event_callback");
    assert_eq!(ev["body"]["event"]["eventtype"], "disconnected_event");
    assert!(ev["body"].get("from").is_none());
    assert_eq!(old.recv_within(Duration::from_secs(5)).await, Ok(None), "the old socket is closed after the delay");
    let displaced = sim.wait_disconnect(Duration::from_secs(2), |d| d.bot_id == "BOT1").await.unwrap();
    assert_eq!(displaced.reason, wecom_sim::DisconnectReason::Displaced);
    sim.send_text("BOT1", "alice", Chat::Single, "to the new one").unwrap();
    assert_eq!(new.callback().await["body"]["text"]["content"], "to the new one");
}

#[tokio::test]
async fn faults_drop_withhold_delay_refuse_duplicate_and_outage() {
    let (sim, mut c) = setup().await;
    // Duplicate: the same callback twice.
    sim.fault(FaultSpec::DuplicateCallbacks { bot_id: "BOT1".into(), count: 1 });
    sim.send_text("BOT1", "alice", Chat::Single, "dup").unwrap();
    let (a, b) = (c.callback().await, c.callback().await);
    assert_eq!(a, b);
    // Refuse after one success.
    sim.fault(FaultSpec::Refuse { bot_id: "BOT1".into(), cmd: "ping".into(), errcode: 600001, after: 1 });
    let r = c.send("ping", json!(null)).await;
    assert_eq!(c.ack_of(&r).await, 0);
    let r = c.send("ping", json!(null)).await;
    assert_eq!(c.ack_of(&r).await, 600001);
    sim.fault(FaultSpec::Clear { bot_id: None });
    // Delayed acks still arrive, in order.
    sim.fault(FaultSpec::DelayAcks { bot_id: "BOT1".into(), ms: 50 });
    let r = c.send("ping", json!(null)).await;
    assert_eq!(c.ack_of(&r).await, 0);
    // Withheld ping acks: the ping is received (recorded without an ack) and nothing comes back.
    sim.fault(FaultSpec::Clear { bot_id: None });
    sim.fault(FaultSpec::WithholdPingAcks { bot_id: "BOT1".into() });
    let r = c.send("ping", json!(null)).await;
    let seen = sim.wait_frame(Duration::from_secs(2), |f| f.frame["headers"]["req_id"] == r.as_str()).await.unwrap();
    assert_eq!(seen.errcode, None);
    assert_eq!(c.recv_within(Duration::from_millis(200)).await, Err(()), "no ack");
    sim.fault(FaultSpec::Clear { bot_id: None });
    // Drop: the socket ends without a close frame.
    assert_eq!(sim.drop_connections("BOT1"), 1);
    assert!(!sim.is_connected("BOT1"), "a dropped bot is disconnected at once");
    assert!(sim.send_text("BOT1", "alice", Chat::Single, "into the void").is_err(), "nothing goes to a dying socket");
    assert_eq!(c.recv_within(Duration::from_secs(2)).await, Ok(None));
    assert!(sim.wait_connected("BOT1", false, Duration::from_secs(2)).await);
    let dropped = sim.wait_disconnect(Duration::from_secs(2), |d| d.bot_id == "BOT1").await.unwrap();
    assert_eq!(dropped.reason, wecom_sim::DisconnectReason::Dropped);
    // Outage: handshakes are refused until it ends.
    sim.fault(FaultSpec::Outage { ms: 300, bot_id: None });
    assert!(tokio_tungstenite::connect_async(sim.ws_url()).await.is_err());
    let mut back = loop {
        if let Some(c) = Client::try_connect(&sim.ws_url()).await {
            break c;
        }
        tokio::time::sleep(Duration::from_millis(50)).await; // retry until the outage ends
    };
    assert_eq!(back.subscribe("BOT1", "SECRET1").await, 0);
    // Restart: sockets dropped, earlier req_ids forgotten.
    let old_req = sim.send_text("BOT1", "alice", Chat::Single, "before restart").unwrap();
    back.callback().await;
    sim.restart();
    assert_eq!(back.recv_within(Duration::from_secs(2)).await, Ok(None));
    let restarted =
        sim.wait_disconnect(Duration::from_secs(2), |d| d.reason == wecom_sim::DisconnectReason::Restart).await;
    assert_eq!(restarted.map(|d| d.bot_id), Some("BOT1".to_string()));
    let mut again = Client::connect(&sim.ws_url()).await;
    again.subscribe("BOT1", "SECRET1").await;
    assert_eq!(again.call("aibot_respond_msg", &old_req, stream("s", "x", true)).await, 846605);
}

#[tokio::test]
async fn withheld_acks_send_nothing_back() {
    let (sim, mut c) = setup().await;
    sim.fault(FaultSpec::WithholdAcks { bot_id: "BOT1".into() });
    let req = sim.send_text("BOT1", "alice", Chat::Single, "q").unwrap();
    c.callback().await;
    c.send_with("aibot_respond_msg", &req, stream("s", "applied", true)).await;
    sim.wait_transcript("BOT1", "alice", Duration::from_secs(2), |t| t.iter().any(|b| b.text == "applied")).await;
    assert_eq!(c.recv_within(Duration::from_millis(200)).await, Err(()), "the frame was applied but never acked");
}

#[tokio::test]
async fn voice_file_and_mixed_callbacks_have_their_payloads() {
    let (sim, mut c) = setup().await;
    let body = |msgtype: &str, data: Option<&str>| MessageBody {
        bot_id: "BOT1".into(),
        user_id: "alice".into(),
        chat_id: None,
        msgtype: Some(msgtype.into()),
        text: "spoken words".into(),
        data: data.map(str::to_string),
        name: Some("report.pdf".into()),
        quote: None,
        msgid: None,
    };
    sim.send_message(body("voice", None)).unwrap();
    let cb = c.callback().await;
    assert_eq!(cb["body"]["voice"]["content"], "spoken words");
    sim.send_message(body("file", Some("JVBERi0xLjQ="))).unwrap();
    let cb = c.callback().await;
    assert!(cb["body"]["file"]["url"].as_str().unwrap().contains("/media/"));
    assert!(cb["body"]["file"]["aeskey"].as_str().unwrap().len() >= 43);
    sim.send_message(body("mixed", Some("iVBORw0KGgo="))).unwrap();
    let cb = c.callback().await;
    let items = cb["body"]["mixed"]["msg_item"].as_array().unwrap();
    assert_eq!(items[0]["text"]["content"], "spoken words");
    assert_eq!(items[1]["msgtype"], "image");
    assert!(items[1]["image"]["aeskey"].is_string());
    assert!(sim.send_message(body("video_call", None)).is_err(), "unknown msgtypes are refused");
}

#[tokio::test]
async fn uploads_are_chunked_checked_and_bound_to_the_bot() {
    use md5::Digest as _;
    let (sim, mut c) = setup().await;
    let data: Vec<u8> = (0..700_000u32).map(|i| (i % 251) as u8).collect();
    let md5: String = md5::Md5::digest(&data).iter().map(|b| format!("{b:02x}")).collect();
    let init = c
        .send(
            "aibot_upload_media_init",
            json!({"type": "file", "filename": "big.bin", "total_size": data.len(), "total_chunks": 2, "md5": md5}),
        )
        .await;
    let ack = loop {
        let f = c.recv().await.unwrap();
        if f["headers"]["req_id"] == init.as_str() {
            break f;
        }
    };
    let upload_id = ack["body"]["upload_id"].as_str().expect("upload_id in the ack body").to_string();
    let b64 = |d: &[u8]| base64::engine::general_purpose::STANDARD.encode(d);
    // Chunks in any order, idempotent; a chunk over 512 KiB is refused.
    let r = c
        .send("aibot_upload_media_chunk", json!({"upload_id": upload_id, "chunk_index": 0, "base64_data": b64(&data)}))
        .await;
    assert_ne!(c.ack_of(&r).await, 0, "over 512 KiB");
    for (i, part) in [(1, &data[400_000..]), (0, &data[..400_000]), (1, &data[400_000..])] {
        let r = c
            .send(
                "aibot_upload_media_chunk",
                json!({"upload_id": upload_id, "chunk_index": i, "base64_data": b64(part)}),
            )
            .await;
        assert_eq!(c.ack_of(&r).await, 0);
    }
    let fin = c.send("aibot_upload_media_finish", json!({"upload_id": upload_id})).await;
    let ack = loop {
        let f = c.recv().await.unwrap();
        if f["headers"]["req_id"] == fin.as_str() {
            break f;
        }
    };
    assert_eq!(ack["errcode"], 0, "{ack}");
    let media_id = ack["body"]["media_id"].as_str().unwrap();
    assert_eq!(ack["body"]["type"], "file");
    assert_eq!(sim.uploaded(media_id).unwrap().1, data);
    // Limits: at least 5 bytes, at most 100 chunks, per-type size caps.
    for bad in [
        json!({"type": "image", "total_size": 4, "total_chunks": 1}),
        json!({"type": "file", "total_size": 100, "total_chunks": 101}),
        json!({"type": "voice", "total_size": 3 * 1024 * 1024, "total_chunks": 6}),
        json!({"type": "sticker", "total_size": 100, "total_chunks": 1}),
    ] {
        let r = c.send("aibot_upload_media_init", bad).await;
        assert_ne!(c.ack_of(&r).await, 0);
    }
}

#[tokio::test]
async fn the_server_pings_and_kills_idle_sockets_when_asked() {
    use futures_util::StreamExt;
    let sim = Simulator::start(SimConfig {
        ws_ping_interval: Duration::from_millis(50),
        idle_timeout: Some(Duration::from_millis(400)),
        missed_pongs_limit: None, // this test is about the idle timeout alone
        ..fast()
    })
    .await
    .unwrap();
    sim.add_bot("BOT1", "S");
    let mut c = Client::connect(&sim.ws_url()).await;
    c.subscribe("BOT1", "S").await;
    let ping = tokio::time::timeout(Duration::from_secs(2), async {
        loop {
            if let Some(Ok(tokio_tungstenite::tungstenite::Message::Ping(_))) = c.ws.next().await {
                return true;
            }
        }
    })
    .await;
    assert_eq!(ping, Ok(true), "a protocol ping arrives");
    // No `ping` command for longer than the idle timeout: the socket is dropped, and why is recorded.
    assert_eq!(c.recv_within(Duration::from_secs(3)).await, Ok(None));
    assert!(sim.wait_connected("BOT1", false, Duration::from_secs(2)).await);
    let d = sim.disconnects();
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!((d[0].bot_id.as_str(), &d[0].reason), ("BOT1", &wecom_sim::DisconnectReason::IdleTimeout));
}

//! Where the simulator caught up with WeCom (issue 9, point 8): `stream_with_template_card`,
//! media replies and sends by uploaded `media_id`, `chat_type` on `aibot_send_msg`, injected
//! video and quoted messages, and both forms of the media `aeskey` — each over a raw WebSocket
//! client on 127.0.0.1.

mod common;

use std::time::Duration;

use base64::Engine as _;
use common::*;
use serde_json::{json, Value};
use wecom_sim::{AesKeyForm, Chat, MessageBody, QuoteBody, SimConfig, Simulator};

async fn setup_with(config: SimConfig) -> (Simulator, Client) {
    let sim = Simulator::start(config).await.unwrap();
    sim.add_bot("BOT1", "SECRET1");
    let mut c = Client::connect(&sim.ws_url()).await;
    assert_eq!(c.subscribe("BOT1", "SECRET1").await, 0);
    (sim, c)
}

fn card(title: &str) -> Value {
    json!({"card_type": "text_notice", "main_title": {"title": title}, "card_action": {"type": 1, "url": "https://example.com"}})
}

fn stream_card(id: &str, content: &str, finish: bool, card: Option<Value>) -> Value {
    let mut body =
        json!({"msgtype": "stream_with_template_card", "stream": {"id": id, "finish": finish, "content": content}});
    if let Some(c) = card {
        body["template_card"] = c;
    }
    body
}

/// Downloads a callback's media (`{url, aeskey}`) from the media host and decrypts it.
async fn fetch_media(http: &reqwest::Client, part: &Value) -> (Vec<u8>, String) {
    let key = wecom_sim::crypto::media_key_bytes(part["aeskey"].as_str().expect("aeskey")).expect("32-byte key");
    let resp = http.get(part["url"].as_str().expect("url")).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    let disposition = resp.headers()["content-disposition"].to_str().unwrap().to_string();
    let plain = wecom_sim::crypto::open(&key, &resp.bytes().await.unwrap()).expect("decrypts with its aeskey");
    (plain, disposition)
}

#[tokio::test]
async fn stream_with_template_card_streams_like_stream_and_shows_its_card_once() {
    let (sim, mut c) =
        setup_with(SimConfig { stream_lifetime: Duration::from_millis(300), ..SimConfig::default() }).await;
    let req = sim.send_text("BOT1", "alice", Chat::Single, "q").unwrap();
    c.callback().await;

    // The first id creates the bubble; the card shows after it.
    assert_eq!(c.call("aibot_respond_msg", &req, stream_card("s1", "甲", false, Some(card("Card A")))).await, 0);
    let t = sim.transcript("BOT1", "alice");
    assert_eq!(t.len(), 3, "{t:?}");
    assert_eq!((t[1].kind.as_str(), t[1].text.as_str(), t[1].finished), ("stream", "甲", false));
    assert_eq!((t[2].kind.as_str(), t[2].text.as_str()), ("card", "Card A"));

    // Later frames replace the snapshot; a second card for the same message is not shown again.
    assert_eq!(c.call("aibot_respond_msg", &req, stream_card("s1", "甲乙", false, Some(card("Card B")))).await, 0);
    assert_eq!(c.call("aibot_respond_msg", &req, stream_card("s1", "甲乙丙", true, None)).await, 0);
    let t = sim.transcript("BOT1", "alice");
    assert_eq!(t.len(), 3, "still one stream bubble and one card: {t:?}");
    assert_eq!((t[1].text.as_str(), t[1].finished, t[1].updates), ("甲乙丙", true, 3));
    assert_eq!(t.iter().filter(|b| b.kind == "card").count(), 1);
    assert!(sim.violations().iter().any(|v| v.reason.contains("second template_card")), "{:?}", sim.violations());

    // finish sealed it: a later frame changes nothing.
    assert_eq!(c.call("aibot_respond_msg", &req, stream_card("s1", "after", false, None)).await, 0);
    assert_eq!(sim.transcript("BOT1", "alice")[1].text, "甲乙丙");

    // The 20480-byte limit and stream.id apply as for `stream`.
    let too_long = "a".repeat(20481);
    assert_eq!(c.call("aibot_respond_msg", &req, stream_card("s2", &too_long, false, None)).await, 45002);
    assert_eq!(
        c.call("aibot_respond_msg", &req, json!({"msgtype": "stream_with_template_card", "stream": {"content": "x"}}))
            .await,
        40001
    );
    let exactly = "a".repeat(20480);
    assert_eq!(c.call("aibot_respond_msg", &req, stream_card("s2", &exactly, false, None)).await, 0);

    // The stream lifetime (846608) applies, measured from the stream's first frame.
    tokio::time::sleep(Duration::from_millis(350)).await; // past the configured 300 ms lifetime
    assert_eq!(c.call("aibot_respond_msg", &req, stream_card("s2", "late", true, None)).await, 846608);
    // Another message gets its own card.
    let req2 = sim.send_text("BOT1", "alice", Chat::Single, "q2").unwrap();
    c.callback().await;
    assert_eq!(c.call("aibot_respond_msg", &req2, stream_card("s3", "x", true, Some(card("Card C")))).await, 0);
    let cards: Vec<String> =
        sim.transcript("BOT1", "alice").into_iter().filter(|b| b.kind == "card").map(|b| b.text).collect();
    assert_eq!(cards, ["Card A", "Card C"]);
}

#[tokio::test]
async fn media_replies_and_sends_need_a_media_id_uploaded_here() {
    let (sim, mut c) = setup_with(SimConfig::default()).await;
    let req = sim.send_text("BOT1", "alice", Chat::Single, "send me things").unwrap();
    c.callback().await;
    let image = c.upload("image", "cat.png", b"\x89PNG\r\n\x1a\nimage").await;
    let voice = c.upload("voice", "hello.amr", b"#!AMR\nvoice").await;
    let video = c.upload("video", "clip.mp4", b"\0\0\0\x18ftypmp4 video").await;
    let file = c.upload("file", "report.pdf", b"%PDF-1.4 file").await;

    // Replies by media_id are accepted and shown as bubbles of their kind.
    let media = |kind: &str, part: Value| {
        let mut body = json!({"msgtype": kind});
        body[kind] = part;
        body
    };
    assert_eq!(c.call("aibot_respond_msg", &req, media("image", json!({"media_id": image}))).await, 0);
    assert_eq!(c.call("aibot_respond_msg", &req, media("voice", json!({"media_id": voice}))).await, 0);
    let title = "t".repeat(64);
    let description = "d".repeat(512);
    let ok_video = json!({"media_id": video, "title": title, "description": description});
    assert_eq!(c.call("aibot_respond_msg", &req, media("video", ok_video)).await, 0);
    assert_eq!(c.call("aibot_respond_msg", &req, media("file", json!({"media_id": file}))).await, 0);

    // Refusals: a media_id never uploaded here, one of another type, and video text over its limits.
    assert_eq!(
        c.call("aibot_respond_msg", &req, media("image", json!({"media_id": "3abc_not_uploaded"}))).await,
        40007
    );
    assert_eq!(c.call("aibot_respond_msg", &req, media("file", json!({"media_id": image}))).await, 40007);
    assert_eq!(c.call("aibot_respond_msg", &req, media("image", json!({}))).await, 40007);
    let long_title = json!({"media_id": video, "title": "t".repeat(65)});
    assert_eq!(c.call("aibot_respond_msg", &req, media("video", long_title)).await, 45002);
    let long_description = json!({"media_id": video, "description": "d".repeat(513)});
    assert_eq!(c.call("aibot_respond_msg", &req, media("video", long_description)).await, 45002);

    // Proactive sends likewise.
    let send = |kind: &str, part: Value| {
        let mut body = json!({"chatid": "alice", "chat_type": 1, "msgtype": kind});
        body[kind] = part;
        body
    };
    let r = c.send("aibot_send_msg", send("image", json!({"media_id": image}))).await;
    assert_eq!(c.ack_of(&r).await, 0);
    let r = c.send("aibot_send_msg", send("video", json!({"media_id": video, "title": "Clip"}))).await;
    assert_eq!(c.ack_of(&r).await, 0);
    let r = c.send("aibot_send_msg", send("file", json!({"media_id": "never_uploaded"}))).await;
    assert_eq!(c.ack_of(&r).await, 40007);

    let t = sim.transcript("BOT1", "alice");
    let bot: Vec<(String, String, Option<String>)> =
        t.iter().filter(|b| b.from == "bot").map(|b| (b.kind.clone(), b.text.clone(), b.media_id.clone())).collect();
    assert_eq!(
        bot,
        [
            ("image".to_string(), "cat.png".to_string(), Some(image.clone())),
            ("voice".to_string(), "hello.amr".to_string(), Some(voice.clone())),
            ("video".to_string(), title.clone(), Some(video.clone())),
            ("file".to_string(), "report.pdf".to_string(), Some(file.clone())),
            ("image".to_string(), "cat.png".to_string(), Some(image.clone())),
            ("video".to_string(), "Clip".to_string(), Some(video.clone())),
        ]
    );
    let refused: Vec<i64> =
        sim.violations().iter().filter(|v| v.errcode == 40007 || v.errcode == 45002).map(|v| v.errcode).collect();
    assert_eq!(refused, [40007, 40007, 40007, 45002, 45002, 40007]);

    // A media_id belongs to the bot that uploaded it.
    sim.add_bot("BOT2", "SECRET2");
    let mut other = Client::connect(&sim.ws_url()).await;
    assert_eq!(other.subscribe("BOT2", "SECRET2").await, 0);
    sim.send_text("BOT2", "alice", Chat::Single, "hi").unwrap();
    other.callback().await;
    let r = other.send("aibot_send_msg", send("image", json!({"media_id": image}))).await;
    assert_eq!(other.ack_of(&r).await, 40007);
}

#[tokio::test]
async fn video_messages_are_injected_with_an_aeskey_and_a_hosted_url() {
    let (sim, mut c) = setup_with(SimConfig::default()).await;
    let http = reqwest::Client::new();
    let clip: Vec<u8> = (0..3000u32).map(|i| (i % 253) as u8).collect();

    // Rust API.
    let req = sim.send_message(MessageBody::new("BOT1", "alice", "").media("video", &clip, "clip.mp4")).unwrap();
    let cb = c.callback().await;
    assert_eq!(cb["headers"]["req_id"], req.as_str());
    assert_eq!(cb["body"]["msgtype"], "video");
    let (plain, disposition) = fetch_media(&http, &cb["body"]["video"]).await;
    assert_eq!(plain, clip);
    assert!(disposition.contains("filename*=UTF-8''clip.mp4"), "{disposition}");
    assert_eq!(sim.transcript("BOT1", "alice")[0].kind, "video");

    // Control API.
    let pushed: Value = http
        .post(format!("{}/sim/messages", sim.base_url()))
        .json(&json!({"botId": "BOT1", "userId": "alice", "msgtype": "video", "name": "two.mp4",
                      "data": base64::engine::general_purpose::STANDARD.encode(&clip[..100])}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(pushed["reqId"].is_string(), "{pushed}");
    let cb = c.callback().await;
    assert_eq!(fetch_media(&http, &cb["body"]["video"]).await.0, &clip[..100]);

    // Like image and file, video exists only in single chats.
    let group = sim.send_message(MessageBody::new("BOT1", "alice", "").in_group("Grp1").media("video", &clip, "v.mp4"));
    assert!(matches!(group, Err(wecom_sim::SimError::Invalid(_))), "{group:?}");
}

#[tokio::test]
async fn aibot_send_msg_resolves_chatid_by_chat_type() {
    let (sim, mut c) = setup_with(SimConfig::default()).await;
    sim.send_text("BOT1", "alice", Chat::Single, "hi from alice").unwrap();
    c.callback().await;
    sim.send_text("BOT1", "bob", Chat::Group("GrpA".into()), "@bot hi from the group").unwrap();
    c.callback().await;
    let mut send = async |chatid: &str, chat_type: Option<Value>| {
        let mut body =
            json!({"chatid": chatid, "msgtype": "markdown", "markdown": {"content": format!("to {chatid}")}});
        if let Some(t) = chat_type {
            body["chat_type"] = t;
        }
        let r = c.send("aibot_send_msg", body).await;
        c.ack_of(&r).await
    };
    // 1 = single: the chatid is a userid.
    assert_eq!(send("alice", Some(json!(1))).await, 0);
    assert_eq!(send("GrpA", Some(json!(1))).await, 93006, "a group chatid is no userid");
    assert_eq!(send("bob", Some(json!(1))).await, 93006, "bob spoke only in the group");
    // 2 = group.
    assert_eq!(send("GrpA", Some(json!(2))).await, 0);
    assert_eq!(send("alice", Some(json!(2))).await, 93006, "a userid is no group chatid");
    // 0 or absent: a group first, then a single chat.
    assert_eq!(send("GrpA", Some(json!(0))).await, 0);
    assert_eq!(send("alice", Some(json!(0))).await, 0);
    assert_eq!(send("GrpA", None).await, 0);
    assert_eq!(send("alice", None).await, 0);
    // Unknown and case-changed chatids: 93006; chat_type outside 0..=2: 40058.
    assert_eq!(send("grpa", Some(json!(2))).await, 93006);
    assert_eq!(send("Alice", None).await, 93006);
    assert_eq!(send("nobody", None).await, 93006);
    assert_eq!(send("alice", Some(json!(3))).await, 40058);

    let texts = |key: &str| -> Vec<String> {
        sim.transcript("BOT1", key).into_iter().filter(|b| b.from == "bot").map(|b| b.text).collect()
    };
    assert_eq!(texts("alice"), ["to alice"; 3]);
    assert_eq!(texts("GrpA"), ["to GrpA"; 3]);
}

#[tokio::test]
async fn the_media_aeskey_is_43_unpadded_characters_by_default_and_44_padded_on_request() {
    let bytes = b"\x89PNG\r\n\x1a\nsome image".to_vec();
    for (form, len) in [(AesKeyForm::default(), 43), (AesKeyForm::Padded44, 44)] {
        let (sim, mut c) = setup_with(SimConfig { aeskey_form: form, ..SimConfig::default() }).await;
        sim.send_message(MessageBody::new("BOT1", "alice", "").media("image", &bytes, "a.png")).unwrap();
        let cb = c.callback().await;
        let aeskey = cb["body"]["image"]["aeskey"].as_str().unwrap().to_string();
        assert_eq!(aeskey.len(), len, "{form:?}: {aeskey}");
        let key: Vec<u8> = if len == 43 {
            assert!(!aeskey.ends_with('='));
            base64::engine::general_purpose::STANDARD_NO_PAD.decode(&aeskey).unwrap()
        } else {
            assert!(aeskey.ends_with('='));
            base64::engine::general_purpose::STANDARD.decode(&aeskey).unwrap()
        };
        let key: [u8; 32] = key.try_into().unwrap();
        let cipher = reqwest::get(cb["body"]["image"]["url"].as_str().unwrap()).await.unwrap().bytes().await.unwrap();
        assert_eq!(wecom_sim::crypto::open(&key, &cipher).unwrap(), bytes);
    }
    assert_eq!(AesKeyForm::default(), AesKeyForm::Unpadded43);
}

#[tokio::test]
async fn quotes_are_injected_with_media_carrying_their_aeskey() {
    let (sim, mut c) = setup_with(SimConfig::default()).await;
    let http = reqwest::Client::new();
    let photo = b"\x89PNG\r\n\x1a\nquoted photo".to_vec();

    // A group message quoting an image (media inside quotes exist in groups too).
    let quote = QuoteBody {
        msgtype: Some("image".into()),
        data: Some(base64::engine::general_purpose::STANDARD.encode(&photo)),
        name: Some("photo.png".into()),
        ..QuoteBody::default()
    };
    sim.send_message(MessageBody::new("BOT1", "bob", "@bot what is this?").in_group("GrpA").quoting(quote)).unwrap();
    let cb = c.callback().await;
    assert_eq!(cb["body"]["text"]["content"], "@bot what is this?");
    assert_eq!(cb["body"]["quote"]["msgtype"], "image");
    let (plain, _) = fetch_media(&http, &cb["body"]["quote"]["image"]).await;
    assert_eq!(plain, photo);
    let t = sim.transcript("BOT1", "GrpA");
    assert_eq!(t[0].quote.as_ref().unwrap()["msgtype"], "image");

    // A text quote and a file quote through the control API.
    for (quote, kind) in [
        (json!({"text": "earlier words"}), "text"),
        (json!({"msgtype": "file", "name": "q.pdf", "data": "JVBERi0xLjQ="}), "file"),
    ] {
        let pushed: Value = http
            .post(format!("{}/sim/messages", sim.base_url()))
            .json(&json!({"botId": "BOT1", "userId": "alice", "text": "and this?", "quote": quote}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        assert!(pushed["reqId"].is_string(), "{pushed}");
        let cb = c.callback().await;
        assert_eq!(cb["body"]["quote"]["msgtype"], kind);
        if kind == "text" {
            assert_eq!(cb["body"]["quote"]["text"]["content"], "earlier words");
        } else {
            assert_eq!(fetch_media(&http, &cb["body"]["quote"]["file"]).await.0, b"%PDF-1.4");
        }
    }
    // A message without a quote has no `quote` field.
    sim.send_text("BOT1", "alice", Chat::Single, "plain").unwrap();
    assert!(c.callback().await["body"].get("quote").is_none());
    assert!(sim.transcript("BOT1", "alice").iter().all(|b| b.quote.is_none() || b.text == "and this?"));
}

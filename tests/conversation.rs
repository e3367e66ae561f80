//! The conversation pipeline end to end over the long connection: the real plugin library in a
//! TestHost, the WeCom simulator over real sockets, and what the user sees in the simulator's
//! transcript — error cards and their reset button, streams that outlive their lifetime or are
//! refused with 846608, and mixed messages.

mod long_common;
mod plugin_common;

use std::time::Duration;

use host_sdk::AgentEvent;
use long_common::*;
use wecom_sim::sim::{Bubble, Chat};
use wecom_sim::{EventBody, MessageBody, SimConfig, Simulator};

/// The bot's bubbles in one chat.
fn bot_bubbles(sim: &Simulator, bot: &str, chat: &str) -> Vec<Bubble> {
    sim.transcript(bot, chat).into_iter().filter(|b| b.from == "bot").collect()
}

#[test]
fn an_error_shows_a_reset_card_whose_button_starts_a_new_conversation() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTR", "s");
    let host = fast_host(&sim);
    host.agent().on_prefix(
        "break",
        vec![
            AgentEvent::ConversationStart { conversation_id: "conv-1".into() },
            AgentEvent::TextDelta("Half of it".into()),
            AgentEvent::Error { message: "the model endpoint is unreachable".into() },
        ],
    );
    let lr = long("lr", "BOTR", "s");
    let inst = installed_and_bound(&host, &lr);
    wait_status(&host, &inst, &lr, |i| i["state"] == "connected");

    sim.send_text("BOTR", "kim", Chat::Single, "hello").unwrap();
    rt.block_on(sim.wait_transcript("BOTR", "kim", WAIT, |b| b.iter().any(|b| b.from == "bot" && b.finished)));
    sim.send_text("BOTR", "kim", Chat::Single, "break it").unwrap();
    let bubbles = rt.block_on(sim.wait_transcript("BOTR", "kim", WAIT, |b| b.iter().any(|b| b.kind == "card")));
    let failed = bubbles.iter().filter(|b| b.kind == "stream").nth(1).expect("the second answer's stream");
    assert!(failed.finished, "the bubble is closed: {failed:?}");
    assert!(failed.text.starts_with("Half of it") && failed.text.contains("数字专家暂时无法回答"), "{failed:?}");
    let card = bubbles.iter().find(|b| b.kind == "card").unwrap().card.clone().unwrap();
    assert_eq!(card["button_list"][0]["text"], "开始新对话", "{card}");
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());

    // The button does what /new does, and the card says so within WeCom's 5 s.
    let before = sim.transcript("BOTR", "kim").len();
    sim.send_event(EventBody {
        bot_id: "BOTR".into(),
        user_id: "kim".into(),
        eventtype: "template_card_event".into(),
        task_id: card["task_id"].as_str().map(str::to_string),
        event_key: card["button_list"][0]["key"].as_str().map(str::to_string),
        ..Default::default()
    })
    .unwrap();
    let bubbles = rt.block_on(sim.wait_transcript("BOTR", "kim", WAIT, |b| b.len() > before));
    let updated = bubbles.last().unwrap().card.clone().expect("the clicked card is replaced");
    assert_eq!(updated["main_title"]["title"], "已开始新的对话", "{updated}");
    assert_eq!(updated["task_id"], card["task_id"]);
    sim.send_text("BOTR", "kim", Chat::Single, "again").unwrap();
    rt.block_on(
        sim.wait_transcript("BOTR", "kim", WAIT, |b| {
            b.iter().filter(|b| b.kind == "stream" && b.finished).count() >= 3
        }),
    );
    let conversations: Vec<Option<String>> = host.agent().requests().into_iter().map(|r| r.conversation_id).collect();
    assert_eq!(conversations, [None, Some("conv-1".into()), None], "the card reset the session");
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn a_stream_refused_with_846608_mid_answer_continues_as_a_message_to_the_same_chat() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    // WeCom stops taking updates of a stream 300 ms after its first frame.
    let config = SimConfig { stream_lifetime: Duration::from_millis(300), ..SimConfig::default() };
    let sim = rt.block_on(Simulator::start(config)).unwrap();
    sim.add_bot("BOTL", "s");
    let host = fast_host(&sim);
    let gate = host.agent().gate();
    host.agent()
        .on_prefix("slow", vec![AgentEvent::TextDelta("Part one.".into()), AgentEvent::TextDelta(" Part two.".into())]);
    let ll = long("ll", "BOTL", "s");
    let inst = installed_and_bound(&host, &ll);
    wait_status(&host, &inst, &ll, |i| i["state"] == "connected");
    // Another chat of the same bot, which a proactive send could reach: nothing may.
    sim.send_text("BOTL", "other", Chat::Single, "hi").unwrap();
    gate.add_permits(5); // the echo answer's events
    rt.block_on(sim.wait_transcript("BOTL", "other", WAIT, |b| b.iter().any(|b| b.from == "bot" && b.finished)));

    sim.send_text("BOTL", "lea", Chat::Single, "slow question").unwrap();
    gate.add_permits(1);
    rt.block_on(sim.wait_transcript("BOTL", "lea", WAIT, |b| b.iter().any(|b| b.text == "Part one.")));
    // The stream's lifetime passes on WeCom's side (a rule of time, not an event to await).
    std::thread::sleep(Duration::from_millis(400));
    gate.add_permits(2);
    let bubbles = rt.block_on(sim.wait_transcript("BOTL", "lea", WAIT, |b| b.iter().any(|b| b.kind == "markdown")));
    let bot: Vec<&Bubble> = bubbles.iter().filter(|b| b.from == "bot").collect();
    assert_eq!(bot[0].text, "Part one.", "the stream keeps what WeCom accepted: {bot:?}");
    assert_eq!(bot[1].kind, "markdown");
    assert_eq!(bot[1].text, "Part two.", "the rest arrives as a message, nothing lost: {bot:?}");
    assert!(!bot[0].finished, "WeCom refused the sealing frame too (846608): {bot:?}");
    // Never to another chat, although that one spoke to the bot too.
    let other: Vec<String> = bot_bubbles(&sim, "BOTL", "other").into_iter().map(|b| b.text).collect();
    assert_eq!(other, ["echo: hi"], "the other chat got only its own answer: {:?}", sim.transcript("BOTL", "other"));
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn a_stream_near_its_lifetime_is_sealed_and_the_answer_continues_as_a_message() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTH", "s");
    let host = fast_host(&sim);
    // Our side knows the stream lives 500 ms: it seals it 100 ms before, while the agent is
    // still silent, and sends the rest once the answer is complete.
    host.set_config("WECOM_STREAM_LIFETIME_MS", "500");
    let gate = host.agent().gate();
    host.agent()
        .on_prefix("long", vec![AgentEvent::TextDelta("Part one.".into()), AgentEvent::TextDelta(" Part two.".into())]);
    let lh = long("lh", "BOTH", "s");
    let inst = installed_and_bound(&host, &lh);
    wait_status(&host, &inst, &lh, |i| i["state"] == "connected");

    sim.send_text("BOTH", "max", Chat::Single, "long question").unwrap();
    gate.add_permits(1);
    let bubbles =
        rt.block_on(sim.wait_transcript("BOTH", "max", WAIT, |b| b.iter().any(|b| b.from == "bot" && b.finished)));
    let sealed = bubbles.iter().find(|b| b.from == "bot").unwrap();
    assert_eq!(sealed.text, "Part one.\n\n（未完，见下一条消息）", "{sealed:?}");
    gate.add_permits(2);
    let bubbles = rt.block_on(sim.wait_transcript("BOTH", "max", WAIT, |b| b.iter().any(|b| b.kind == "markdown")));
    let rest = bubbles.iter().find(|b| b.kind == "markdown").unwrap();
    assert_eq!(rest.text, "Part two.");
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn a_mixed_message_brings_its_text_and_its_image_to_the_agent_and_markdown_is_converted() {
    let png: Vec<u8> = [b"\x89PNG\r\n\x1a\n".as_slice(), &[9u8; 200]].concat();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTM", "s");
    let host = fast_host(&sim);
    host.agent().on_prefix(
        "what",
        vec![AgentEvent::TextDelta("## Result\n\n| Item | Count |\n|---|---|\n| cats | 2 |\n".into())],
    );
    let lm = long("lm", "BOTM", "s");
    let inst = installed_and_bound(&host, &lm);
    wait_status(&host, &inst, &lm, |i| i["state"] == "connected");
    sim.send_message(MessageBody::new("BOTM", "ned", "what is in this picture?").media("mixed", &png, "p.png"))
        .unwrap();
    let bubbles =
        rt.block_on(sim.wait_transcript("BOTM", "ned", WAIT, |b| b.iter().any(|b| b.from == "bot" && b.finished)));
    let request = host.agent().requests().pop().unwrap();
    assert_eq!(request.input, "what is in this picture?");
    assert_eq!(request.files.len(), 1, "{request:?}");
    assert_eq!(request.files[0].mime_type, "image/png");
    let answer = bubbles.iter().find(|b| b.from == "bot").unwrap();
    assert_eq!(answer.text, "## Result\n\n- Item: cats, Count: 2", "the table became a list");
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn an_agent_that_falls_silent_is_given_up_with_an_error_and_a_reset_card() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTT", "s");
    let host = fast_host(&sim);
    host.set_config("WECOM_AGENT_IDLE_TIMEOUT_MS", "300");
    let gate = host.agent().gate();
    host.agent().on_prefix("hang", vec![AgentEvent::TextDelta("Started".into())]);
    let lt = long("lt", "BOTT", "s");
    let inst = installed_and_bound(&host, &lt);
    wait_status(&host, &inst, &lt, |i| i["state"] == "connected");

    sim.send_text("BOTT", "ola", Chat::Single, "hang on").unwrap();
    gate.add_permits(1); // "Started", then nothing
    let bubbles = rt.block_on(sim.wait_transcript("BOTT", "ola", WAIT, |b| b.iter().any(|b| b.kind == "card")));
    let closed = bubbles.iter().find(|b| b.kind == "stream").unwrap();
    assert!(closed.finished, "{closed:?}");
    assert_eq!(closed.text, "Started\n\n抱歉，数字专家响应超时，请稍后重试。");
    // The run was dropped: the agent sees its stream closed at its next event.
    gate.add_permits(1);
    let deadline = std::time::Instant::now() + WAIT;
    while host.agent().cancelled() == 0 {
        assert!(std::time::Instant::now() < deadline, "the run was never cancelled");
        std::thread::sleep(Duration::from_millis(10));
    }
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn a_message_for_an_integration_whose_binding_is_gone_gets_a_localized_answer_and_a_log_line() {
    use host_sdk::host::KvBackend;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTU", "s");
    let host = fast_host(&sim);
    // The supervisor would close the socket at its next reconcile: not during this test.
    host.set_config("WECOM_RECONCILE_MS", "600000");
    let mut lu = long("lu", "BOTU", "s");
    lu.options["preferLanguage"] = "en".into();
    let inst = installed_and_bound(&host, &lu);
    wait_status(&host, &inst, &lu, |i| i["state"] == "connected");
    // The binding disappears between the unpublish and the socket's close (as with a second
    // instance unpublishing): the message in between is still answered.
    let key = host.kv().snapshot().into_iter().map(|e| e.key).find(|k| k.ends_with("binding:lu")).unwrap();
    assert!(host.block_on(host.kv().delete(key)).unwrap());

    sim.send_text("BOTU", "pia", Chat::Single, "anyone there?").unwrap();
    let bubbles = rt.block_on(sim.wait_transcript("BOTU", "pia", WAIT, |b| b.iter().any(|b| b.kind == "card")));
    let answer = bubbles.iter().find(|b| b.kind == "stream").unwrap();
    assert!(answer.finished);
    assert_eq!(
        answer.text,
        "This bot is not connected to a Digital Expert yet: the WeCom Trigger is missing or not published."
    );
    assert!(host.agent().requests().is_empty(), "no agent ran");
    let logged = host.logs().into_iter().any(|l| {
        l.record.message.contains("without a published WeCom Trigger")
            && serde_json::from_str::<serde_json::Value>(&l.record.fields_json).unwrap()["integration_id"] == "lu"
    });
    assert!(logged, "a log line names the integration: {:?}", host.logs());
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn an_answer_whose_connection_dropped_mid_stream_arrives_as_a_message_after_the_reconnect() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTD", "s");
    let host = fast_host(&sim);
    let gate = host.agent().gate();
    host.agent().on_prefix(
        "tell",
        vec![AgentEvent::TextDelta("First half.".into()), AgentEvent::TextDelta(" Second half.".into())],
    );
    let ld = long("ld", "BOTD", "s");
    let inst = installed_and_bound(&host, &ld);
    wait_status(&host, &inst, &ld, |i| i["state"] == "connected");

    sim.send_text("BOTD", "quinn", Chat::Single, "tell me").unwrap();
    gate.add_permits(1);
    rt.block_on(sim.wait_transcript("BOTD", "quinn", WAIT, |b| b.iter().any(|b| b.text == "First half.")));
    // The socket drops while the agent is still answering; the actor reconnects.
    let subscribed_before = sim.frames().iter().filter(|f| f.frame["cmd"] == "aibot_subscribe").count();
    assert_eq!(sim.drop_connections("BOTD"), 1);
    assert!(rt.block_on(sim.wait_until(WAIT, |s| {
        s.is_connected("BOTD")
            && s.frames().iter().filter(|f| f.frame["cmd"] == "aibot_subscribe").count() > subscribed_before
    })));
    gate.add_permits(2);
    let bubbles = rt.block_on(sim.wait_transcript("BOTD", "quinn", WAIT, |b| b.iter().any(|b| b.kind == "markdown")));
    let rest = &bubbles.iter().find(|b| b.kind == "markdown").unwrap().text;
    // What the stream showed plus the continuation is the whole answer. Whether the snapshot's
    // ack crossed before the drop decides where the continuation starts: an unacknowledged
    // snapshot is sent again rather than risked.
    assert!(
        rest == "Second half." || rest == "First half. Second half.",
        "the rest of the answer, on the new connection: {bubbles:?}"
    );
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn a_voice_message_is_answered_as_its_text_and_a_file_or_video_gets_a_notice_instead_of_silence() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTV", "s");
    let host = fast_host(&sim);
    let mut lv = long("lv", "BOTV", "s");
    lv.options["preferLanguage"] = "en".into();
    let inst = installed_and_bound(&host, &lv);
    wait_status(&host, &inst, &lv, |i| i["state"] == "connected");

    // Voice arrives transcribed: the agent gets the words.
    let voice = MessageBody { msgtype: Some("voice".into()), ..MessageBody::new("BOTV", "vic", "what time is it") };
    sim.send_message(voice).unwrap();
    rt.block_on(sim.wait_transcript("BOTV", "vic", WAIT, |b| b.iter().any(|b| b.from == "bot" && b.finished)));
    let request = host.agent().requests().pop().expect("the voice message reached the agent");
    assert_eq!(request.input, "what time is it");

    // A file and a video cannot be read: each gets its own notice, and no agent runs.
    let runs = host.agent().requests().len();
    sim.send_message(MessageBody::new("BOTV", "fay", "").media("file", b"%PDF-1.4 report", "report.pdf")).unwrap();
    sim.send_message(MessageBody::new("BOTV", "fay", "").media("video", b"\x00\x00\x00\x18ftypmp42", "clip.mp4"))
        .unwrap();
    let bubbles = rt.block_on(
        sim.wait_transcript("BOTV", "fay", WAIT, |b| b.iter().filter(|b| b.from == "bot" && b.finished).count() >= 2),
    );
    let mut answers: Vec<&str> = bubbles.iter().filter(|b| b.from == "bot").map(|b| b.text.as_str()).collect();
    answers.sort_unstable(); // the two are answered concurrently
    assert_eq!(
        answers,
        [
            "Sorry, I cannot read files yet. Please send text, voice or images.",
            "Sorry, I cannot read videos yet. Please send text, voice or images."
        ]
    );
    assert_eq!(host.agent().requests().len(), runs, "no agent ran for them");
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    inst.stop(Duration::from_secs(3)).unwrap();
}

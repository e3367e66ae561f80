//! `xpert-host --demo`: one command gives a bot anyone can talk to. The real binary runs with the
//! simulator in-process; the test types into the chat as the chat page does (the simulator's
//! control API) and reads the streamed echo answer from the transcript.

mod host_common;

use std::time::{Duration, Instant};

use serde_json::{json, Value};

/// The value after `prefix` on a line of the host's output, waiting for it up to 20 s.
async fn line_value(server: &testkit::process::ChildServer, prefix: &str) -> String {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let output = server.output().await;
        if let Some(line) = output.lines().find_map(|l| l.strip_prefix(prefix)) {
            return line.trim().to_string();
        }
        assert!(Instant::now() < deadline, "no {prefix:?} line in:\n{output}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn the_demo_prints_where_to_chat_and_the_bot_answers_with_a_streamed_echo() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let mut server = testkit::process::ChildServer::spawn(
        env!("CARGO_BIN_EXE_xpert-host"),
        &["--demo"],
        &[("XPERT_LISTEN", "127.0.0.1:0"), ("XPERT_DATA_DIR", data), ("XPERT_ADMIN_TOKEN", host_common::TOKEN)],
    )
    .await
    .expect("the demo starts");
    let chat = line_value(&server, "demo chat: ").await;
    let bot = line_value(&server, "demo bot: ").await;
    assert!(chat.starts_with("http://127.0.0.1:") && chat.ends_with("/chat"), "{chat}");
    let sim = chat.trim_end_matches("/chat").to_string();
    let http = reqwest::Client::new();
    let page = http.get(&chat).send().await.unwrap();
    assert_eq!(page.status().as_u16(), 200, "the chat page is served");

    // The bot is connected once the demo printed its lines; type as a user would.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let sent = http
            .post(format!("{sim}/sim/messages"))
            .json(&json!({"botId": bot, "userId": "visitor", "text": "hello demo"}))
            .send()
            .await
            .unwrap();
        if sent.status().is_success() {
            break;
        }
        assert!(Instant::now() < deadline, "the demo bot never came online: {}", sent.text().await.unwrap());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deadline = Instant::now() + Duration::from_secs(20);
    let answer = loop {
        let bubbles: Value = http
            .get(format!("{sim}/sim/transcript?botId={bot}&chatId=visitor"))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let done = bubbles.as_array().unwrap().iter().find(|b| b["from"] == "bot" && b["finished"] == true).cloned();
        if let Some(done) = done {
            break done;
        }
        assert!(Instant::now() < deadline, "no finished answer: {bubbles}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(answer["kind"], "stream");
    assert!(answer["text"].as_str().unwrap().contains("hello demo"), "the echo expert answered: {answer}");
    let exit = server.stop(Duration::from_secs(20)).await.unwrap();
    assert!(exit.success(), "{exit:?}");
}

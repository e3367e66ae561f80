//! The agents behind Digital Experts, driven through `POST /api/xpert/{id}/chat`: `echo` as the
//! contract describes it, and `openai` against a local OpenAI-compatible stub that records what it
//! was sent (history included).

mod host_common;

use std::sync::Arc;

use axum::extract::State;
use axum::response::IntoResponse;
use axum::routing::post;
use host_common::*;
use serde_json::{json, Value};
use tokio::sync::Mutex;

#[tokio::test]
async fn echo_streams_in_chunks_and_fails_on_request() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    let (_, x) = host.post("/api/xpert", json!({"name": "e", "agent": {"kind": "echo"}})).await;
    let id = x["id"].as_str().unwrap();

    let (status, turn) = host.post(&format!("/api/xpert/{id}/chat"), json!({"input": "hello world"})).await;
    assert_eq!(status, 200, "{turn}");
    assert_eq!(turn["text"], "echo: hello world");
    assert_eq!(turn["status"], "success");
    let events: Vec<&str> = turn["events"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    assert_eq!(events.first(), Some(&"conversation_start"));
    assert!(events.iter().filter(|e| **e == "text").count() >= 3, "several chunks: {events:?}");
    assert_eq!(&events[events.len() - 2..], ["conversation_end", "done"]);

    let (_, failed) = host.post(&format!("/api/xpert/{id}/chat"), json!({"input": "/fail please"})).await;
    assert_eq!(failed["status"], "error");
    assert!(failed["error"].as_str().unwrap().contains("fail"));

    let (_, slow) = host.post(&format!("/api/xpert/{id}/chat"), json!({"input": "/slow 0.2"})).await;
    assert_eq!(slow["text"], "echo: /slow 0.2");
    assert_eq!(slow["status"], "success");
}

/// A stub `/v1/chat/completions` that records requests and streams two deltas.
async fn completions(State(seen): State<Arc<Mutex<Vec<Value>>>>, body: axum::Json<Value>) -> impl IntoResponse {
    let n = {
        let mut seen = seen.lock().await;
        seen.push(body.0.clone());
        seen.len()
    };
    let sse = format!(
        "data: {}\n\ndata: {}\n\ndata: {}\n\ndata: [DONE]\n\n",
        json!({"choices": [{"delta": {"reasoning_content": "thinking"}}]}),
        json!({"choices": [{"delta": {"content": "answer "}}]}),
        json!({"choices": [{"delta": {"content": n.to_string()}}]}),
    );
    ([("content-type", "text/event-stream")], sse)
}

#[tokio::test]
async fn openai_streams_from_a_compatible_endpoint_and_sends_the_history() {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let app = axum::Router::new().route("/v1/chat/completions", post(completions)).with_state(seen.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stub = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    let agent = json!({"kind": "openai", "baseUrl": stub, "apiKey": "sk-test-SECRET", "model": "m1", "systemPrompt": "be brief"});
    let (status, x) = host.post("/api/xpert", json!({"name": "o", "agent": agent})).await;
    assert_eq!(status, 201, "{x}");
    assert_eq!(x["agent"]["apiKey"], "******", "the API key is a secret");
    let id = x["id"].as_str().unwrap();

    let (_, first) = host.post(&format!("/api/xpert/{id}/chat"), json!({"input": "q1"})).await;
    assert_eq!(first["text"], "answer 1");
    assert!(first["events"].as_array().unwrap().contains(&json!("reasoning")));
    let conversation = first["conversationId"].as_str().unwrap().to_string();
    let (_, second) =
        host.post(&format!("/api/xpert/{id}/chat"), json!({"input": "q2", "conversationId": conversation})).await;
    assert_eq!(second["text"], "answer 2");
    assert_eq!(second["conversationId"], conversation.as_str());

    let seen = seen.lock().await;
    assert_eq!(seen[0]["stream"], true);
    assert_eq!(seen[0]["model"], "m1");
    assert_eq!(
        seen[1]["messages"],
        json!([
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": "q1"},
            {"role": "assistant", "content": "answer 1"},
            {"role": "user", "content": "q2"}
        ]),
        "the earlier turn is sent as history"
    );

    let (status, bad) = host.post("/api/xpert", json!({"name": "o", "agent": {"kind": "openai", "model": "m"}})).await;
    assert_eq!((status, bad["error"]["code"].clone()), (422, json!("INVALID_AGENT")));
    assert!(!host.server.output().await.contains("sk-test-SECRET"));
}

/// A stub whose SSE answer reaches the client in two HTTP chunks split inside a Chinese character
/// (the body is a stream of two frames, which hyper sends as two chunks and the client decodes
/// one chunk at a time, however the bytes travel).
async fn split_completions() -> impl IntoResponse {
    let event = format!("data: {}\n\ndata: [DONE]\n\n", json!({"choices": [{"delta": {"content": "你好，世界"}}]}));
    let bytes = event.into_bytes();
    let cut = bytes.iter().position(|b| *b == 0xE4).expect("the first byte of 你") + 1;
    let halves = vec![
        Ok::<_, std::io::Error>(axum::body::Bytes::copy_from_slice(&bytes[..cut])),
        Ok(axum::body::Bytes::copy_from_slice(&bytes[cut..])),
    ];
    ([("content-type", "text/event-stream")], axum::body::Body::from_stream(futures_util::stream::iter(halves)))
}

#[tokio::test]
async fn openai_text_split_inside_a_character_across_chunks_arrives_whole() {
    let app = axum::Router::new().route("/v1/chat/completions", post(split_completions));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let stub = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    let agent = json!({"kind": "openai", "baseUrl": stub, "model": "m1"});
    let (_, x) = host.post("/api/xpert", json!({"name": "zh", "agent": agent})).await;
    let id = x["id"].as_str().unwrap();
    let (status, turn) = host.post(&format!("/api/xpert/{id}/chat"), json!({"input": "你好"})).await;
    assert_eq!(status, 200, "{turn}");
    assert_eq!(turn["text"], "你好，世界", "no replacement characters: {turn}");
    assert_eq!(turn["status"], "success");
}

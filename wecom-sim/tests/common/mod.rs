//! A raw long-connection client for the simulator's tests: plain tokio-tungstenite frames.
#![allow(dead_code)]

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::Message;

/// The socket type.
pub type Ws = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw client.
pub struct Client {
    pub ws: Ws,
    n: u64,
}

impl Client {
    /// Connects to `ws://ADDR`.
    pub async fn connect(url: &str) -> Client {
        let (ws, _) = tokio_tungstenite::connect_async(url).await.expect("connect");
        Client { ws, n: 0 }
    }

    /// Connects, or `None` when the handshake is refused.
    pub async fn try_connect(url: &str) -> Option<Client> {
        tokio_tungstenite::connect_async(url).await.ok().map(|(ws, _)| Client { ws, n: 0 })
    }

    /// Sends a command with a fresh req_id; returns it.
    pub async fn send(&mut self, cmd: &str, body: Value) -> String {
        self.n += 1;
        let req_id = format!("{cmd}_{}", self.n);
        self.send_with(cmd, &req_id, body).await;
        req_id
    }

    /// Sends a command with a given req_id.
    pub async fn send_with(&mut self, cmd: &str, req_id: &str, body: Value) {
        let frame = json!({"cmd": cmd, "headers": {"req_id": req_id}, "body": body});
        self.ws.send(Message::text(frame.to_string())).await.expect("send");
    }

    /// The next JSON frame (panics after 5 s); `None` when the socket closed.
    pub async fn recv(&mut self) -> Option<Value> {
        self.recv_within(Duration::from_secs(5)).await.expect("a frame within 5 s")
    }

    /// The next JSON frame within `timeout`: `Err` on timeout, `Ok(None)` when closed.
    pub async fn recv_within(&mut self, timeout: Duration) -> Result<Option<Value>, ()> {
        let next = tokio::time::timeout(timeout, async {
            loop {
                match self.ws.next().await {
                    Some(Ok(Message::Text(t))) => return Some(serde_json::from_str::<Value>(&t).expect("json frame")),
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return None,
                    Some(Ok(_)) => continue,
                }
            }
        })
        .await;
        next.map_err(|_| ())
    }

    /// Waits for the ack of `req_id` (skipping callbacks) and returns its errcode.
    pub async fn ack_of(&mut self, req_id: &str) -> i64 {
        loop {
            let f = self.recv().await.expect("socket open");
            if f.get("cmd").is_none() && f["headers"]["req_id"] == req_id {
                return f["errcode"].as_i64().expect("errcode");
            }
        }
    }

    /// Waits for the next callback frame (one with a `cmd`).
    pub async fn callback(&mut self) -> Value {
        loop {
            let f = self.recv().await.expect("socket open");
            if f.get("cmd").is_some() {
                return f;
            }
        }
    }

    /// Subscribes; returns the errcode.
    pub async fn subscribe(&mut self, bot: &str, secret: &str) -> i64 {
        let r = self.send("aibot_subscribe", json!({"bot_id": bot, "secret": secret})).await;
        self.ack_of(&r).await
    }

    /// Sends a command and returns its ack's errcode.
    pub async fn call(&mut self, cmd: &str, req_id: &str, body: Value) -> i64 {
        self.send_with(cmd, req_id, body).await;
        self.ack_of(req_id).await
    }
}

/// A stream frame body.
pub fn stream(id: &str, content: &str, finish: bool) -> Value {
    json!({"msgtype": "stream", "stream": {"id": id, "finish": finish, "content": content}})
}

impl Client {
    /// Waits for the ack of `req_id` (skipping callbacks) and returns the whole ack frame.
    pub async fn ack_frame(&mut self, req_id: &str) -> Value {
        loop {
            let f = self.recv().await.expect("socket open");
            if f.get("cmd").is_none() && f["headers"]["req_id"] == req_id {
                return f;
            }
        }
    }

    /// Uploads `bytes` as a temporary media of `kind` in one chunk; returns its media_id.
    pub async fn upload(&mut self, kind: &str, filename: &str, bytes: &[u8]) -> String {
        use base64::Engine as _;
        let init = self
            .send(
                "aibot_upload_media_init",
                json!({"type": kind, "filename": filename, "total_size": bytes.len(), "total_chunks": 1}),
            )
            .await;
        let ack = self.ack_frame(&init).await;
        assert_eq!(ack["errcode"], 0, "{ack}");
        let upload_id = ack["body"]["upload_id"].as_str().expect("upload_id").to_string();
        let data = base64::engine::general_purpose::STANDARD.encode(bytes);
        let chunk = self
            .send("aibot_upload_media_chunk", json!({"upload_id": upload_id, "chunk_index": 0, "base64_data": data}))
            .await;
        assert_eq!(self.ack_of(&chunk).await, 0);
        let fin = self.send("aibot_upload_media_finish", json!({"upload_id": upload_id})).await;
        let ack = self.ack_frame(&fin).await;
        assert_eq!(ack["errcode"], 0, "{ack}");
        ack["body"]["media_id"].as_str().expect("media_id").to_string()
    }
}

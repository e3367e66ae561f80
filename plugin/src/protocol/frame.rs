//! The frame envelope of the long connection (protocol §3.2).
//!
//! Out: `{"cmd":..,"headers":{"req_id":..},"body":..}` (body optional). In: a callback (it has a
//! `cmd`) or an ack (it has none). Classification never panics and its errors never repeat the
//! frame: a frame may hold a secret or a user's message.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use serde_json::Value;

/// The longest client-generated `req_id` WeCom accepts, in bytes.
pub const MAX_REQ_ID_LEN: usize = 256;

/// The message callback command.
pub const CMD_MSG_CALLBACK: &str = "aibot_msg_callback";
/// The event callback command.
pub const CMD_EVENT_CALLBACK: &str = "aibot_event_callback";

/// The `headers` object of every frame.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Headers {
    /// The request id: fresh for client commands, the callback's for replies.
    pub req_id: String,
}

/// A client-to-server frame. Its `Debug` shows the command and req_id only: a body may hold the
/// bot's secret.
#[derive(Clone, PartialEq, Serialize)]
pub struct Outgoing {
    /// The command, e.g. `aibot_respond_msg`.
    pub cmd: String,
    /// The headers (the req_id).
    pub headers: Headers,
    /// The body; absent for `ping`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
}

impl fmt::Debug for Outgoing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Outgoing")
            .field("cmd", &self.cmd)
            .field("req_id", &self.headers.req_id)
            .field("body", &self.body.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl Outgoing {
    /// A frame for `cmd` on `req_id`; a `Value::Null` body is left out.
    pub fn new(cmd: impl Into<String>, req_id: impl Into<String>, body: Value) -> Self {
        Outgoing {
            cmd: cmd.into(),
            headers: Headers { req_id: req_id.into() },
            body: (!body.is_null()).then_some(body),
        }
    }

    /// The frame as JSON text.
    pub fn to_text(&self) -> String {
        // Serializing a struct of strings and a `Value` cannot fail (string map keys only).
        serde_json::to_string(self).unwrap_or_default()
    }
}

/// A server's answer to one client command: same `req_id`, no `cmd`.
#[derive(Clone, Debug, PartialEq)]
pub struct Ack {
    /// The req_id of the command it answers.
    pub req_id: String,
    /// 0 on success, else a WeCom errcode (see [`crate::protocol::errcode`]).
    pub errcode: i64,
    /// WeCom's message ("ok" on success).
    pub errmsg: String,
    /// The answer's body, for the commands that have one (uploads).
    pub body: Option<Value>,
}

/// A classified server-to-client frame.
#[derive(Clone, Debug, PartialEq)]
pub enum Incoming {
    /// A callback (`aibot_msg_callback`, `aibot_event_callback`, or another `cmd`).
    Callback {
        /// The command.
        cmd: String,
        /// The server's req_id, to be reused by the replies.
        req_id: String,
        /// The body (`Value::Null` when absent).
        body: Value,
    },
    /// An ack of one of our commands.
    Ack(Ack),
}

/// Why a frame could not be classified. Messages never contain the frame's content.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    /// The text is not JSON (serde's category and position only).
    #[error("the frame is not JSON ({category} at line {line}, column {column})")]
    NotJson {
        /// Syntax, EOF, data or I/O.
        category: &'static str,
        /// Line of the problem.
        line: usize,
        /// Column of the problem.
        column: usize,
    },
    /// The JSON is not an object.
    #[error("the frame is not a JSON object")]
    NotObject,
    /// `cmd` is present but not a string.
    #[error("the frame's cmd is not a string")]
    BadCmd,
    /// `headers.req_id` is missing or not a string.
    #[error("the frame has no headers.req_id string")]
    MissingReqId,
    /// A frame without `cmd` lacks a numeric `errcode`, so it is neither a callback nor an ack.
    #[error("the frame has neither a cmd nor a numeric errcode")]
    UnknownShape,
}

/// Classifies one text frame from the server.
pub fn classify(text: &str) -> Result<Incoming, FrameError> {
    let value: Value = serde_json::from_str(text).map_err(|e| FrameError::NotJson {
        category: match e.classify() {
            serde_json::error::Category::Io => "I/O error",
            serde_json::error::Category::Syntax => "syntax error",
            serde_json::error::Category::Data => "data error",
            serde_json::error::Category::Eof => "unexpected end",
        },
        line: e.line(),
        column: e.column(),
    })?;
    classify_value(value)
}

/// Classifies a parsed frame.
pub fn classify_value(value: Value) -> Result<Incoming, FrameError> {
    let Value::Object(mut map) = value else { return Err(FrameError::NotObject) };
    let req_id = map
        .get("headers")
        .and_then(|h| h.get("req_id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or(FrameError::MissingReqId);
    match map.remove("cmd") {
        Some(Value::String(cmd)) => {
            Ok(Incoming::Callback { cmd, req_id: req_id?, body: map.remove("body").unwrap_or(Value::Null) })
        }
        Some(_) => Err(FrameError::BadCmd),
        None => {
            let errcode = map.get("errcode").and_then(Value::as_i64).ok_or(FrameError::UnknownShape)?;
            let errmsg = map.get("errmsg").and_then(Value::as_str).unwrap_or_default().to_owned();
            let body = map.remove("body").filter(|b| !b.is_null());
            Ok(Incoming::Ack(Ack { req_id: req_id?, errcode, errmsg, body }))
        }
    }
}

/// Unix time in milliseconds (0 if the clock is before 1970).
pub fn unix_ms() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

/// A fresh req_id in the SDK's format, `{cmd}_{unix ms}_{8 hex}`, at most [`MAX_REQ_ID_LEN`]
/// bytes (a very long `cmd` is cut on a character boundary).
pub fn new_req_id(cmd: &str) -> String {
    let suffix = format!("_{}_{:08x}", unix_ms(), rand::random::<u32>());
    let prefix = crate::protocol::command::truncate_utf8(cmd, MAX_REQ_ID_LEN - suffix.len());
    format!("{prefix}{suffix}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn outgoing_frames_have_the_envelope_and_leave_out_a_null_body() {
        let ping = Outgoing::new("ping", "ping_1_00000000", Value::Null);
        assert_eq!(
            serde_json::from_str::<Value>(&ping.to_text()).unwrap(),
            json!({"cmd":"ping","headers":{"req_id":"ping_1_00000000"}})
        );
        let sub = Outgoing::new("aibot_subscribe", "r1", json!({"bot_id":"B","secret":"TOPSECRET"}));
        let v: Value = serde_json::from_str(&sub.to_text()).unwrap();
        assert_eq!(v["body"]["secret"], "TOPSECRET");
        assert!(!format!("{sub:?}").contains("TOPSECRET"), "Debug must not show the body");
    }

    #[test]
    fn frames_with_cmd_are_callbacks_and_frames_without_are_acks() {
        let cb = classify(r#"{"cmd":"aibot_msg_callback","headers":{"req_id":"R"},"body":{"msgid":"m"}}"#).unwrap();
        assert_eq!(
            cb,
            Incoming::Callback { cmd: "aibot_msg_callback".into(), req_id: "R".into(), body: json!({"msgid":"m"}) }
        );
        let ack = classify(r#"{"headers":{"req_id":"ping_1"},"errcode":0,"errmsg":"ok"}"#).unwrap();
        assert_eq!(ack, Incoming::Ack(Ack { req_id: "ping_1".into(), errcode: 0, errmsg: "ok".into(), body: None }));
        let up = classify(r#"{"headers":{"req_id":"u"},"errcode":0,"errmsg":"ok","body":{"upload_id":"x"}}"#).unwrap();
        assert!(matches!(up, Incoming::Ack(Ack { body: Some(_), .. })));
        let fail =
            classify(r#"{"headers":{"req_id":"s"},"errcode":853000,"errmsg":"invalid bot_id or secret"}"#).unwrap();
        assert!(matches!(fail, Incoming::Ack(Ack { errcode: 853000, .. })));
    }

    #[test]
    fn malformed_frames_are_errors_that_do_not_repeat_the_frame() {
        let cases = [
            (r#"{"cmd":"x","secret":"TOPSECRET""#, "not JSON"),
            (r#"["TOPSECRET"]"#, "not a JSON object"),
            (r#"{"cmd":7,"headers":{"req_id":"TOPSECRET"}}"#, "cmd"),
            (r#"{"cmd":"aibot_msg_callback","body":{"x":"TOPSECRET"}}"#, "req_id"),
            (r#"{"headers":{"req_id":"TOPSECRET"},"errmsg":"ok"}"#, "neither"),
            (r#"{"headers":{"req_id":"r"},"errcode":"0"}"#, "neither"),
            ("", "not JSON"),
        ];
        for (text, expected) in cases {
            let err = classify(text).unwrap_err().to_string();
            assert!(err.contains(expected), "{text:?} gave {err:?}");
            assert!(!err.contains("TOPSECRET"), "{err}");
        }
    }

    #[test]
    fn req_ids_follow_the_sdk_format_and_stay_within_256_bytes() {
        let id = new_req_id("aibot_subscribe");
        let parts: Vec<&str> = id.rsplitn(3, '_').collect();
        assert_eq!(parts.len(), 3, "{id}");
        assert_eq!(parts[2], "aibot_subscribe");
        assert!(parts[1].parse::<i64>().is_ok_and(|ms| ms > 1_600_000_000_000), "{id}");
        assert!(parts[0].len() == 8 && parts[0].chars().all(|c| c.is_ascii_hexdigit()), "{id}");
        assert_ne!(new_req_id("ping"), new_req_id("ping"));
        let long = new_req_id(&"é".repeat(300));
        assert!(long.len() <= MAX_REQ_ID_LEN, "{}", long.len());
    }
}

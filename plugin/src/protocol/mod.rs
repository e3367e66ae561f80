//! The long connection's frames as typed Rust values: plain serde, no I/O.
//!
//! - [`frame`]: the envelope (`{cmd, headers:{req_id}, body}` out; callbacks and acks in);
//! - [`callback`]: typed message and event callbacks, parsed leniently;
//! - [`message_json`]: the common message callback typed straight from its JSON text (the
//!   webhook's fast way; anything unusual falls back to [`callback`]);
//! - [`command`]: the bodies the plugin sends (`aibot_subscribe`, stream replies, welcomes,
//!   proactive markdown);
//! - [`errcode`]: the WeCom error codes the plugin acts on.
//!
//! Nothing here logs or formats a frame's body: a subscribe body carries the bot's secret.

pub mod callback;
pub mod command;
pub mod errcode;
pub mod frame;
pub mod message_json;

pub use callback::{CallbackBody, CallbackError, Event, EventCallback, MessageCallback, MessageContent};
pub use frame::{new_req_id, Ack, FrameError, Incoming, Outgoing};

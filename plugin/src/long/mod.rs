//! The long connection (WeCom's WebSocket mode).
//!
//! - [`transport`]: opening a `ws://` or `wss://` socket with the plugin's own trust settings;
//! - [`client`]: one connection — acks by exact `req_id`, heartbeat, dead-link detection;
//! - [`actor`]: one integration's connection — lease, subscribe, reconnect with backoff, kick
//!   handling, fenced status;
//! - [`balance`]: spreading bots over the live host instances (heartbeats, rendezvous
//!   preference, hand-off on purpose);
//! - [`supervisor`]: one per installation — runs the actors the desired state asks for;
//! - [`inbound`], [`reply`]: callbacks into the pipeline, answers back over the socket;
//! - [`settings`]: every timing, with WeCom's values as defaults.

pub mod actor;
pub mod balance;
pub mod client;
pub mod inbound;
pub mod reply;
pub mod settings;
pub mod supervisor;
pub mod transport;

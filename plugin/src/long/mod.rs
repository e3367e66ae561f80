//! The long connection (WeCom's WebSocket mode).
//!
//! For now only the transport: opening a `ws://` or `wss://` socket with the plugin's own trust
//! settings. The client (acks by `req_id`), the actor and the supervisor build on it.

pub mod client;
pub mod transport;

//! Every protocol timing and limit, with WeCom's value as the default.

use std::time::Duration;

/// The simulator's configuration.
#[derive(Clone, Debug)]
pub struct SimConfig {
    /// Delay before each ack (WeCom's are ~250 ms live; 0 by default for tests).
    pub ack_delay: Duration,
    /// A long-connection stream accepts updates this long after its first frame (846608 after).
    pub stream_lifetime: Duration,
    /// Welcome and card-update replies must come within this window of their event.
    pub event_reply_window: Duration,
    /// Message callbacks may be answered this long.
    pub reply_window: Duration,
    /// A displaced (older) socket is closed this long after its `disconnected_event`.
    pub displaced_close_delay: Duration,
    /// Replies plus pushes per conversation per minute.
    pub rate_per_minute: u32,
    /// Replies plus pushes per conversation per hour.
    pub rate_per_hour: u32,
    /// A `response_url` is valid this long (and once).
    pub response_url_ttl: Duration,
    /// Media URLs are valid this long.
    pub media_ttl: Duration,
    /// Short connection: a callback unanswered within this deadline is retried.
    pub callback_timeout: Duration,
    /// Short connection: attempts per callback (first try included).
    pub callback_attempts: u32,
    /// Short connection: interval between stream-refresh callbacks.
    pub refresh_interval: Duration,
    /// Short connection: refresh polling stops this long after the user's message.
    pub refresh_window: Duration,
    /// The errcode a reused or expired `response_url` answers with (undocumented; our choice).
    pub response_url_errcode: i64,
    /// Interval of WebSocket-protocol pings the server sends (clients must answer with pongs).
    pub ws_ping_interval: Duration,
    /// Close a socket whose bot sent no `ping` command for this long (`None`: never; WeCom's
    /// exact idle timeout is undocumented).
    pub idle_timeout: Option<Duration>,
    /// Drop a socket (without a close frame, recorded as
    /// [`DisconnectReason::MissedPongs`](crate::sim::DisconnectReason::MissedPongs)) when this many
    /// consecutive WebSocket pings of the server went unanswered by a pong (`None`: never). WeCom's
    /// exact rule is undocumented; the default 2 mirrors the official SDK's own dead-peer rule
    /// (two outstanding heartbeats, wecom-protocol.md §3.4), about 60 to 90 s at the 30 s interval.
    pub missed_pongs_limit: Option<u32>,
    /// A `media_id` from an upload is valid this long (WeCom: 3 days).
    pub media_id_ttl: Duration,
    /// The form of the per-URL media `aeskey` in callbacks. See [`AesKeyForm`] for the default.
    pub aeskey_form: AesKeyForm,
    /// Serve TLS (`wss://` and `https://`) with a certificate generated at start and signed by a
    /// CA also generated at start; [`crate::Simulator::ca_pem`] hands out the CA so a client can
    /// trust it. The certificate names `localhost`, `127.0.0.1`, `::1`, the bound IP and
    /// [`SimConfig::tls_names`]. WeCom itself is TLS-only; the default stays plain so tests and
    /// the demo need no CA.
    pub tls: bool,
    /// Extra DNS names or IPs for the generated certificate (with [`SimConfig::tls`]).
    pub tls_names: Vec<String>,
}

/// How the media `aeskey` (32 random bytes per URL) is written in callbacks.
///
/// The default is [`AesKeyForm::Unpadded43`]: wecom-protocol.md §1.9 reports that the Python and
/// Rust ports of the official SDK had to append the `=` themselves before decoding (Node's lenient
/// decoder hid it), so the live key arrives as 43 characters without padding, the same shape as an
/// EncodingAESKey. §6.2 asks a mock to exercise both forms; clients must accept either.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AesKeyForm {
    /// 43 characters of standard Base64, no `=` (WeCom's form; the default).
    #[default]
    Unpadded43,
    /// 44 characters of standard Base64 ending in `=`.
    Padded44,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            ack_delay: Duration::ZERO,
            stream_lifetime: Duration::from_secs(600),
            event_reply_window: Duration::from_secs(5),
            reply_window: Duration::from_secs(24 * 3600),
            displaced_close_delay: Duration::from_secs(2),
            rate_per_minute: 30,
            rate_per_hour: 1000,
            response_url_ttl: Duration::from_secs(3600),
            media_ttl: Duration::from_secs(300),
            callback_timeout: Duration::from_secs(5),
            callback_attempts: 3,
            refresh_interval: Duration::from_millis(1000),
            refresh_window: Duration::from_secs(360),
            response_url_errcode: 60140,
            ws_ping_interval: Duration::from_secs(30),
            idle_timeout: None,
            missed_pongs_limit: Some(2),
            media_id_ttl: Duration::from_secs(3 * 24 * 3600),
            aeskey_form: AesKeyForm::default(),
            tls: false,
            tls_names: Vec::new(),
        }
    }
}

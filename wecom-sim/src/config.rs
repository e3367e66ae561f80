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
        }
    }
}

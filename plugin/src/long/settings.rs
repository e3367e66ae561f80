//! The long connection's settings: every protocol timing with WeCom's value as its default, each
//! overridable from the host's config (so tests run fast and operators can adapt).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::Semaphore;

use super::transport::LazyTls;
use crate::DEFAULT_WS_URL;

/// Settings shared by every long connection of an installation.
#[derive(Clone, Debug)]
pub struct LongSettings {
    /// Where to connect (`WECOM_WS_URL`, default WeCom's endpoint).
    pub ws_url: String,
    /// Trust for `wss://` and downloads (`WECOM_EXTRA_CA_FILE` adds CAs to the public roots),
    /// built on first use.
    pub tls: LazyTls,
    /// This host instance (`INSTANCE_ID`): the lease owner and the status's owner.
    pub instance_id: String,
    /// Ping interval (`WECOM_HEARTBEAT_MS`, 30 000).
    pub heartbeat: Duration,
    /// Ping acks outstanding at a tick that make the link dead (`WECOM_MAX_MISSED_PINGS`, 2).
    pub max_missed_pings: u32,
    /// Opening the socket and the TLS and WebSocket handshakes (`WECOM_CONNECT_TIMEOUT_MS`, 10 000).
    pub connect_timeout: Duration,
    /// The bot lease's lifetime (`WECOM_LEASE_TTL_MS`, 30 000); renewed every third of it, and
    /// treated as lost when a renewal fails, before it can expire.
    pub lease_ttl: Duration,
    /// First reconnect delay (`WECOM_BACKOFF_BASE_MS`, 1 000), doubled per attempt…
    pub backoff_base: Duration,
    /// …up to this cap (`WECOM_BACKOFF_MAX_MS`, 30 000).
    pub backoff_max: Duration,
    /// Refused subscribes (853000) in a row before the integration is `unhealthy` with
    /// `config_invalid` (`WECOM_AUTH_FAILURE_LIMIT`, 5).
    pub auth_failure_limit: u32,
    /// How often the supervisor re-reads intent and bindings, so that an action taken on another
    /// instance reaches the bot's owner (`WECOM_RECONCILE_MS`, 2 000).
    pub reconcile_interval: Duration,
    /// Least time between two stream snapshots of one answer (`WECOM_STREAM_THROTTLE_MS`, 1 000).
    pub stream_throttle: Duration,
    /// How long after its first frame WeCom accepts updates of a stream
    /// (`WECOM_STREAM_LIFETIME_MS`, 600 000: ten minutes, formerly six; 846608 after that).
    pub stream_lifetime: Duration,
    /// How long an agent run may stay silent (no event at all) before the user is told it took
    /// too long (`WECOM_AGENT_IDLE_TIMEOUT_MS`, 300 000).
    pub agent_idle_timeout: Duration,
    /// How many of the installation's connections may be opening (TCP, TLS, upgrade, subscribe)
    /// at once (`WECOM_CONNECT_CONCURRENCY`, 128). Without a bound, thousands of bots started
    /// together send their SYNs in one burst: the server's accept queue overflows and the dropped
    /// ones wait out TCP's one-second retransmission, so the last percent of them arrive a second
    /// late (measured with 1 000 bots against the simulator). Connected bots hold no slot.
    pub connect_gate: Arc<Semaphore>,
    /// How bots are spread over the live host instances (see [`super::balance`]).
    pub balance: BalanceSettings,
    /// How long a connection that is being given up on purpose (host shutdown, hand-off to
    /// another instance) keeps serving the answers it has in flight before it closes
    /// (`WECOM_DRAIN_MS`, 2 000: well inside the host's 5 s stop timeout).
    pub drain: Duration,
}

/// The timings of bot balancing across host instances; each has a production default and a
/// `WECOM_*` setting so that tests run fast.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BalanceSettings {
    /// How often an instance writes its heartbeat key and re-reads the live instances
    /// (`WECOM_INSTANCE_HEARTBEAT_MS`, 5 000).
    pub heartbeat: Duration,
    /// The heartbeat key's lifetime: an instance unheard of for this long is gone
    /// (`WECOM_INSTANCE_TTL_MS`, 15 000; at least two heartbeats). Shorter than the lease TTL, so
    /// that a dead instance has left every view by the time its leases expire.
    pub instance_ttl: Duration,
    /// How long an instance must have been seen alive, and a holder must have held a bot, before
    /// the bot is handed over to it on purpose (`WECOM_SETTLE_MS`, 60 000).
    pub settle: Duration,
    /// Least time between two hand-offs by one installation (`WECOM_HANDOFF_INTERVAL_MS`, 200:
    /// five bots a second), so that an instance joining never makes many bots deaf at once.
    pub handoff_interval: Duration,
    /// How long a standby that is not a bot's preferred instance leaves a free lease to the
    /// preferred one before taking it itself (`WECOM_HOLD_BACK_MS`, 3 000).
    pub hold_back: Duration,
    /// How often a standby polls a lease it should take soon: it is the bot's preferred instance,
    /// the lease is free, or its holder's instance is gone (`WECOM_TAKEOVER_POLL_MS`, 1 000).
    pub takeover_poll: Duration,
}

impl Default for BalanceSettings {
    fn default() -> Self {
        BalanceSettings {
            heartbeat: Duration::from_secs(5),
            instance_ttl: Duration::from_secs(15),
            settle: Duration::from_secs(60),
            handoff_interval: Duration::from_millis(200),
            hold_back: Duration::from_secs(3),
            takeover_poll: Duration::from_secs(1),
        }
    }
}

/// The shortest heartbeat or poll period accepted (a zero would spin).
const MIN_PERIOD: Duration = Duration::from_millis(10);

/// A setting that could not be read.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// A number that is not one.
    #[error("{key} must be a whole number of milliseconds (or a count), got {value:?}")]
    NotANumber {
        /// The config key.
        key: &'static str,
        /// What was configured (timings and counts are not secret).
        value: String,
    },
}

impl LongSettings {
    /// Reads the settings from the host's config (`lookup`), with WeCom's values as defaults.
    pub fn from_config(lookup: impl Fn(&str) -> Option<String>) -> Result<LongSettings, SettingsError> {
        let number = |key: &'static str, default: u64| -> Result<u64, SettingsError> {
            match lookup(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| SettingsError::NotANumber { key, value: v }),
            }
        };
        let ms = |key: &'static str, default: u64| number(key, default).map(Duration::from_millis);
        Ok(LongSettings {
            ws_url: lookup("WECOM_WS_URL").filter(|u| !u.trim().is_empty()).unwrap_or_else(|| DEFAULT_WS_URL.into()),
            tls: LazyTls::from_config(&lookup),
            instance_id: lookup("INSTANCE_ID").filter(|i| !i.is_empty()).unwrap_or_else(|| "instance".into()),
            heartbeat: ms("WECOM_HEARTBEAT_MS", 30_000)?,
            max_missed_pings: number("WECOM_MAX_MISSED_PINGS", 2)? as u32,
            connect_timeout: ms("WECOM_CONNECT_TIMEOUT_MS", 10_000)?,
            lease_ttl: ms("WECOM_LEASE_TTL_MS", 30_000)?,
            backoff_base: ms("WECOM_BACKOFF_BASE_MS", 1_000)?,
            backoff_max: ms("WECOM_BACKOFF_MAX_MS", 30_000)?,
            auth_failure_limit: number("WECOM_AUTH_FAILURE_LIMIT", 5)?.max(1) as u32,
            reconcile_interval: ms("WECOM_RECONCILE_MS", 2_000)?,
            stream_throttle: ms("WECOM_STREAM_THROTTLE_MS", 1_000)?,
            stream_lifetime: ms("WECOM_STREAM_LIFETIME_MS", 600_000)?,
            agent_idle_timeout: ms("WECOM_AGENT_IDLE_TIMEOUT_MS", 300_000)?,
            connect_gate: Arc::new(Semaphore::new(number("WECOM_CONNECT_CONCURRENCY", 128)?.clamp(1, 65_536) as usize)),
            balance: {
                let d = BalanceSettings::default();
                let heartbeat = ms("WECOM_INSTANCE_HEARTBEAT_MS", d.heartbeat.as_millis() as u64)?.max(MIN_PERIOD);
                BalanceSettings {
                    heartbeat,
                    instance_ttl: ms("WECOM_INSTANCE_TTL_MS", d.instance_ttl.as_millis() as u64)?.max(heartbeat * 2),
                    settle: ms("WECOM_SETTLE_MS", d.settle.as_millis() as u64)?,
                    handoff_interval: ms("WECOM_HANDOFF_INTERVAL_MS", d.handoff_interval.as_millis() as u64)?,
                    hold_back: ms("WECOM_HOLD_BACK_MS", d.hold_back.as_millis() as u64)?,
                    takeover_poll: ms("WECOM_TAKEOVER_POLL_MS", d.takeover_poll.as_millis() as u64)?.max(MIN_PERIOD),
                }
            },
            drain: ms("WECOM_DRAIN_MS", 2_000)?,
        })
    }

    /// The delay before reconnect attempt `attempt` (1-based): `base · 2^(attempt−1)` capped at
    /// the maximum, then jittered into its upper half so that many bots dropped together do not
    /// reconnect together. `unit` in [0, 1] is the random draw.
    pub fn backoff(&self, attempt: u32, unit: f64) -> Duration {
        let exponent = attempt.saturating_sub(1).min(20);
        let full = self.backoff_base.saturating_mul(1u32 << exponent).min(self.backoff_max);
        full.mul_f64(0.5 + 0.5 * unit.clamp(0.0, 1.0))
    }

    /// How often the lease is renewed.
    pub fn lease_renew_interval(&self) -> Duration {
        self.lease_ttl / 3
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<LongSettings, SettingsError> {
        let map: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        LongSettings::from_config(move |k| map.get(k).cloned())
    }

    #[test]
    fn defaults_are_wecoms_values() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.ws_url, DEFAULT_WS_URL);
        assert_eq!(s.heartbeat, Duration::from_secs(30));
        assert_eq!((s.max_missed_pings, s.auth_failure_limit), (2, 5));
        assert_eq!((s.backoff_base, s.backoff_max), (Duration::from_secs(1), Duration::from_secs(30)));
        assert_eq!(s.connect_gate.available_permits(), 128);
        assert_eq!(s.balance, BalanceSettings::default());
        assert_eq!((s.balance.settle, s.drain), (Duration::from_secs(60), Duration::from_secs(2)));
        let s = settings(&[("WECOM_INSTANCE_HEARTBEAT_MS", "500"), ("WECOM_INSTANCE_TTL_MS", "100")]).unwrap();
        assert_eq!(s.balance.instance_ttl, Duration::from_secs(1), "an instance lives at least two heartbeats");
        let s = settings(&[("WECOM_CONNECT_CONCURRENCY", "0")]).unwrap();
        assert_eq!(s.connect_gate.available_permits(), 1, "at least one connection may open");
        let s = settings(&[("WECOM_HEARTBEAT_MS", "100"), ("WECOM_WS_URL", "ws://127.0.0.1:9")]).unwrap();
        assert_eq!((s.heartbeat, s.ws_url.as_str()), (Duration::from_millis(100), "ws://127.0.0.1:9"));
        let err = settings(&[("WECOM_LEASE_TTL_MS", "soon")]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "WECOM_LEASE_TTL_MS must be a whole number of milliseconds (or a count), got \"soon\""
        );
    }

    #[test]
    fn backoff_doubles_from_one_second_to_the_cap_with_jitter_in_the_upper_half() {
        let s = settings(&[]).unwrap();
        let top: Vec<u64> = (1..=7).map(|a| s.backoff(a, 1.0).as_millis() as u64).collect();
        assert_eq!(top, [1000, 2000, 4000, 8000, 16000, 30000, 30000]);
        assert_eq!(s.backoff(1, 0.0), Duration::from_millis(500));
        assert_eq!(s.backoff(40, 0.0), Duration::from_secs(15), "huge attempt counts stay capped");
    }
}

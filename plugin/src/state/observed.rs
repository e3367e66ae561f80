//! Observed status of a long connection: what the bot's owner saw. Only the holder of the bot's
//! lease writes it, and every write carries the lease's fencing token: a write whose token is
//! older than the stored one is refused, so an owner that lost its lease (paused, partitioned)
//! can never overwrite what the new owner wrote. Readers (the Status tab) never write.

use host_sdk::plugin::Kv;
use host_sdk::{Error, Lease};
use serde::{Deserialize, Serialize};

use crate::keys;

/// How many times a write is retried when the stored value changed in between.
const CAS_ATTEMPTS: usize = 16;

/// The connection's state as its owner reports it (`idle` and `standby` are never written: the
/// Status tab derives them when no owner reports).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConnectionState {
    /// Opening the socket or subscribing.
    Connecting,
    /// Subscribed; callbacks arrive.
    Connected,
    /// Waiting to reconnect after a failure.
    Retrying,
    /// Failing for a reason that retrying does not fix (e.g. refused credentials).
    Unhealthy,
    /// Stopped on purpose, with a stop reason.
    Stopped,
}

/// What the owner observed (field names follow the Status tab's contract).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ObservedStatus {
    /// The connection's state.
    pub state: ConnectionState,
    /// The instance that holds the lease (and the socket).
    pub owner_instance_id: String,
    /// The lease owner the writer held (see `keys::lease_owner`).
    #[serde(default)]
    pub lease_owner: String,
    /// The fencing token of the lease the writer held.
    pub fence_token: u64,
    /// The desired-state generation the owner was serving: a stop reason that forbids restarts
    /// (`displaced`, `config_invalid`) holds only until an operator moves the generation on
    /// (Reconnect, or saving the config).
    #[serde(default)]
    pub generation: u64,
    /// Last successful subscribe (RFC 3339).
    #[serde(default)]
    pub last_connected_at: Option<String>,
    /// Last disconnect (RFC 3339).
    #[serde(default)]
    pub last_disconnected_at: Option<String>,
    /// Last callback frame (RFC 3339).
    #[serde(default)]
    pub last_callback_at: Option<String>,
    /// Last ping ack (RFC 3339).
    #[serde(default)]
    pub last_ping_at: Option<String>,
    /// Last error (secret-free).
    #[serde(default)]
    pub last_error: Option<String>,
    /// Reconnect attempts since the last successful subscribe.
    #[serde(default)]
    pub reconnect_attempts: u32,
    /// When the next reconnect attempt is due (RFC 3339), while retrying.
    #[serde(default)]
    pub next_reconnect_at: Option<String>,
    /// Why the owner stopped (`displaced`, `config_invalid`, …), when `state` is `stopped` or
    /// `unhealthy`.
    #[serde(default)]
    pub stop_reason: Option<String>,
    /// When this status was written (Unix ms, host clock).
    pub written_at_ms: i64,
}

/// The stored status, if any owner ever wrote one (a malformed one reads as absent).
pub async fn load(kv: &Kv, integration_id: &str) -> Result<Option<ObservedStatus>, Error> {
    Ok(read(kv, integration_id).await?.and_then(|(status, _)| status))
}

async fn read(kv: &Kv, integration_id: &str) -> Result<Option<(Option<ObservedStatus>, String)>, Error> {
    let Some(raw) = kv.get(&keys::status(integration_id)).await? else { return Ok(None) };
    Ok(Some((serde_json::from_str(&raw).ok(), raw)))
}

/// Writes `status` on behalf of `lease` unless a newer owner already wrote: true when written,
/// false when refused as stale. The status's lease owner and token are taken from the lease.
pub async fn write_fenced(
    kv: &Kv,
    integration_id: &str,
    lease: &Lease,
    mut status: ObservedStatus,
) -> Result<bool, Error> {
    status.lease_owner = lease.owner.clone();
    status.fence_token = lease.token;
    let json = serde_json::to_string(&status).map_err(|e| Error::internal(e.to_string()))?;
    let key = keys::status(integration_id);
    for _ in 0..CAS_ATTEMPTS {
        let current = read(kv, integration_id).await?;
        if let Some((Some(stored), _)) = &current {
            if stored.fence_token > lease.token {
                tracing::warn!(
                    integration_id,
                    stale_token = lease.token,
                    current_token = stored.fence_token,
                    "refused a status write from a lease that was taken over"
                );
                return Ok(false);
            }
        }
        let expected = current.map(|(_, raw)| raw);
        if kv.compare_and_swap(&key, expected.as_deref(), &json, 0).await? {
            return Ok(true);
        }
    }
    Err(Error::conflict(format!("the status of integration {integration_id} kept changing under concurrent writers")))
}

/// Forgets the status (when the integration is deleted).
pub async fn forget(kv: &Kv, integration_id: &str) -> Result<(), Error> {
    kv.delete(&keys::status(integration_id)).await.map(drop)
}

impl ObservedStatus {
    /// A status with no history yet (lease owner and token are set when it is written).
    pub fn new(state: ConnectionState, owner_instance_id: &str, generation: u64) -> Self {
        ObservedStatus {
            state,
            owner_instance_id: owner_instance_id.to_string(),
            lease_owner: String::new(),
            fence_token: 0,
            generation,
            last_connected_at: None,
            last_disconnected_at: None,
            last_callback_at: None,
            last_ping_at: None,
            last_error: None,
            reconnect_attempts: 0,
            next_reconnect_at: None,
            stop_reason: None,
            written_at_ms: 0,
        }
    }

    /// Whether this status forbids restarting the connection until an operator acts: a kick
    /// (`displaced`) or refused credentials (`config_invalid`) recorded for `generation`.
    pub fn latches(&self, generation: u64) -> Option<&str> {
        match self.stop_reason.as_deref() {
            Some(r @ (super::reason::DISPLACED | super::reason::CONFIG_INVALID)) if self.generation == generation => {
                Some(r)
            }
            _ => None,
        }
    }
}

impl ConnectionState {
    /// The snake-case name shown in the Status tab.
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Connecting => "connecting",
            ConnectionState::Connected => "connected",
            ConnectionState::Retrying => "retrying",
            ConnectionState::Unhealthy => "unhealthy",
            ConnectionState::Stopped => "stopped",
        }
    }
}

//! The runtime status of a long-connection integration, as stored in the shared KV store and shown
//! on the Status tab. Any host instance can read it; the owner of the bot's lease writes it.

use host_sdk::{Error, Integration};
use serde::{Deserialize, Serialize};

use crate::config::LongConfig;
use crate::keys;
use crate::state::PluginState;

/// Why a long connection is not running. Persisted, so a stop survives restarts.
pub mod reason {
    /// The operator pressed Disconnect.
    pub const MANUAL_DISCONNECT: &str = "manual_disconnect";
    /// The integration is disabled.
    pub const INTEGRATION_DISABLED: &str = "integration_disabled";
    /// No published WeCom Trigger binds the integration.
    pub const XPERT_UNBOUND: &str = "xpert_unbound";
    /// The configuration is invalid (or WeCom refused the credentials).
    pub const CONFIG_INVALID: &str = "config_invalid";
    /// Another connection to the same bot took over.
    pub const DISPLACED: &str = "displaced";
}

/// The Status tab's item (field names are the host contract's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuntimeStatus {
    /// Always `long_connection` for `wecom_long`.
    pub connection_mode: String,
    /// `idle`, `connecting`, `connected`, `retrying` or `unhealthy`.
    pub state: String,
    /// The bot id.
    pub bot_id: String,
    /// The instance holding the bot's lease (and so the socket).
    pub owner_instance_id: Option<String>,
    /// Last successful subscribe (RFC 3339).
    pub last_connected_at: Option<String>,
    /// Last disconnect (RFC 3339).
    pub last_disconnected_at: Option<String>,
    /// Last callback frame (RFC 3339).
    pub last_callback_at: Option<String>,
    /// Last ping ack (RFC 3339).
    pub last_ping_at: Option<String>,
    /// Last error text (secret-free).
    pub last_error: Option<String>,
    /// Reconnect attempts since the last successful subscribe.
    pub reconnect_attempts: u32,
    /// Why it is not running, if it is not.
    pub disabled_reason: Option<String>,
}

impl RuntimeStatus {
    /// A status for an integration that has never run.
    pub fn idle(bot_id: &str, reason: Option<&str>) -> RuntimeStatus {
        RuntimeStatus {
            connection_mode: "long_connection".into(),
            state: "idle".into(),
            bot_id: bot_id.into(),
            owner_instance_id: None,
            last_connected_at: None,
            last_disconnected_at: None,
            last_callback_at: None,
            last_ping_at: None,
            last_error: None,
            reconnect_attempts: 0,
            disabled_reason: reason.map(str::to_string),
        }
    }
}

/// Why an integration should not run right now, from its own state and its binding
/// (`None`: it should run). A persisted manual disconnect wins until the operator reconnects.
pub async fn stop_reason(state: &PluginState, integration: &Integration) -> Result<Option<&'static str>, Error> {
    if !integration.enabled {
        return Ok(Some(reason::INTEGRATION_DISABLED));
    }
    if LongConfig::from_options(&integration.options).is_err() {
        return Ok(Some(reason::CONFIG_INVALID));
    }
    if let Some(stored) = load(state, &integration.id).await? {
        if stored.disabled_reason.as_deref() == Some(reason::MANUAL_DISCONNECT) {
            return Ok(Some(reason::MANUAL_DISCONNECT));
        }
    }
    if state.binding(&integration.id).await?.is_none() {
        return Ok(Some(reason::XPERT_UNBOUND));
    }
    Ok(None)
}

/// The stored status, if any.
pub async fn load(state: &PluginState, integration_id: &str) -> Result<Option<RuntimeStatus>, Error> {
    match state.host.kv().get(&keys::status(integration_id)).await? {
        Some(raw) => Ok(serde_json::from_str(&raw).ok()),
        None => Ok(None),
    }
}

/// Stores a status.
pub async fn save(state: &PluginState, integration_id: &str, status: &RuntimeStatus) -> Result<(), Error> {
    let json = serde_json::to_string(status).map_err(|e| Error::internal(e.to_string()))?;
    state.host.kv().set(&keys::status(integration_id), &json, 0).await
}

/// Re-derives the stop reason of an integration and records it, keeping the connection history.
pub async fn refresh(state: &PluginState, integration: &Integration) -> Result<RuntimeStatus, Error> {
    let bot_id = integration.options.get("botId").and_then(|v| v.as_str()).unwrap_or_default().to_string();
    let reason = stop_reason(state, integration).await?;
    let mut status = load(state, &integration.id).await?.unwrap_or_else(|| RuntimeStatus::idle(&bot_id, None));
    status.bot_id = bot_id;
    status.disabled_reason = reason.map(str::to_string);
    if reason.is_some() && status.state != "idle" {
        status.state = "idle".into();
        status.owner_instance_id = None;
    }
    save(state, &integration.id, &status).await?;
    Ok(status)
}

//! Desired state of a long-connection integration: what operators and lifecycle hooks asked for.
//! Any instance writes it (compare-and-swap, so concurrent writers never lose an update); the
//! supervisor of the bot's owner reconciles the connection with it.

use host_sdk::plugin::Kv;
use host_sdk::Error;
use serde::{Deserialize, Serialize};

use crate::keys;

/// How many times an update is retried when another instance wrote in between.
const CAS_ATTEMPTS: usize = 16;

/// Operator intent for one integration.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DesiredState {
    /// Disconnect was pressed and Reconnect has not been pressed since.
    #[serde(default)]
    pub manual_disconnect: bool,
    /// When Disconnect was pressed (RFC 3339).
    #[serde(default)]
    pub manual_disconnect_at: Option<String>,
    /// When Reconnect was last pressed (RFC 3339).
    #[serde(default)]
    pub reconnect_requested_at: Option<String>,
    /// When the options were last saved (RFC 3339): a running connection restarts with them.
    #[serde(default)]
    pub config_changed_at: Option<String>,
    /// Grows with every request that asks a running connection to restart (Reconnect, a config
    /// change); the owner compares it with the generation it started with.
    #[serde(default)]
    pub generation: u64,
}

/// The desired state of an integration (default when nothing was asked yet).
pub async fn load(kv: &Kv, integration_id: &str) -> Result<DesiredState, Error> {
    Ok(read(kv, integration_id).await?.map(|(state, _)| state).unwrap_or_default())
}

async fn read(kv: &Kv, integration_id: &str) -> Result<Option<(DesiredState, String)>, Error> {
    let Some(raw) = kv.get(&keys::desired(integration_id)).await? else { return Ok(None) };
    match serde_json::from_str(&raw) {
        Ok(state) => Ok(Some((state, raw))),
        Err(e) => {
            tracing::warn!(integration_id, error = %e, "replacing a malformed desired state");
            Ok(Some((DesiredState::default(), raw)))
        }
    }
}

/// Applies `change` to the stored desired state atomically and returns the result.
pub async fn update(kv: &Kv, integration_id: &str, change: impl Fn(&mut DesiredState)) -> Result<DesiredState, Error> {
    let key = keys::desired(integration_id);
    for _ in 0..CAS_ATTEMPTS {
        let current = read(kv, integration_id).await?;
        let (mut state, expected) = match current {
            Some((state, raw)) => (state, Some(raw)),
            None => (DesiredState::default(), None),
        };
        change(&mut state);
        let json = serde_json::to_string(&state).map_err(|e| Error::internal(e.to_string()))?;
        if kv.compare_and_swap(&key, expected.as_deref(), &json, 0).await? {
            return Ok(state);
        }
    }
    Err(Error::conflict(format!(
        "the desired state of integration {integration_id} kept changing under concurrent writers; try again"
    )))
}

/// Forgets the desired state (when the integration is deleted).
pub async fn forget(kv: &Kv, integration_id: &str) -> Result<(), Error> {
    kv.delete(&keys::desired(integration_id)).await.map(drop)
}

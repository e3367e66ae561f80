//! The aggregation window: messages of one session that arrive within the trigger's
//! `summaryWindowSeconds` are answered by one agent run. The buffer lives in the shared KV store
//! (any instance may receive the messages): the first message's handler leads — it waits out the
//! window from its own arrival, then takes the buffer atomically — and every later message joins
//! the buffer and is answered at once with a note that the answer follows in one reply.

use std::time::Duration;

use host_sdk::Error;
use serde::{Deserialize, Serialize};

use super::event::ImageRef;
use crate::state::PluginState;

/// How many times a join is retried when another message wrote in between.
const CAS_ATTEMPTS: usize = 32;

/// One gathered message.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Gathered {
    /// When it arrived, and its number on its connection.
    pub arrival: (i64, u64),
    /// Its text.
    pub text: String,
    /// Its images.
    #[serde(default)]
    pub images: Vec<ImageRef>,
}

/// The messages gathered so far for one session.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Buffer {
    /// In the order handlers joined (sorted by arrival when taken).
    items: Vec<Gathered>,
}

/// What this message's handler does.
#[derive(Debug, PartialEq, Eq)]
pub enum Role {
    /// It leads: wait for the window, then answer everything gathered.
    Leader,
    /// It joined a buffer another handler leads.
    Follower,
}

fn key(integration_id: &str, session_id: &str) -> String {
    format!("agg:{integration_id}:{session_id}")
}

/// Adds `text` to the session's buffer; the handler that created the buffer leads.
pub async fn join(
    state: &PluginState,
    integration_id: &str,
    session_id: &str,
    message: Gathered,
    window: Duration,
) -> Result<Role, Error> {
    let kv = state.host().kv();
    let key = key(integration_id, session_id);
    // The buffer outlives the window a little, so a stuck leader's buffer does not last forever.
    let ttl_ms = (window.as_millis() as u64).saturating_mul(4).max(10_000);
    for _ in 0..CAS_ATTEMPTS {
        let current = kv.get(&key).await?;
        let mut buffer: Buffer = current.as_deref().and_then(|raw| serde_json::from_str(raw).ok()).unwrap_or_default();
        let role = if current.is_some() { Role::Follower } else { Role::Leader };
        buffer.items.push(message.clone());
        let json = serde_json::to_string(&buffer).map_err(|e| Error::internal(e.to_string()))?;
        if kv.compare_and_swap(&key, current.as_deref(), &json, ttl_ms).await? {
            return Ok(role);
        }
    }
    Err(Error::conflict("the aggregation buffer kept changing; the message is answered alone"))
}

/// Takes everything gathered, in arrival order (the leader, after the window); later messages
/// start a new buffer.
pub async fn take(state: &PluginState, integration_id: &str, session_id: &str) -> Result<Vec<Gathered>, Error> {
    let kv = state.host().kv();
    let key = key(integration_id, session_id);
    for _ in 0..CAS_ATTEMPTS {
        let Some(raw) = kv.get(&key).await? else { return Ok(Vec::new()) };
        if kv.compare_and_delete(&key, &raw).await? {
            let mut buffer: Buffer = serde_json::from_str(&raw).unwrap_or_default();
            buffer.items.sort_by_key(|item| item.arrival);
            return Ok(buffer.items);
        }
    }
    Err(Error::conflict("the aggregation buffer kept changing"))
}

//! Conversation sessions of an integration: one per (chat, sender), kept in the shared KV store.
//! The Sessions tab lists them; resetting one equals the user sending `/new`.

use host_sdk::{Error, KvEntry, ViewQuery};
use serde::{Deserialize, Serialize};

use crate::keys;
use crate::state::PluginState;

/// One session row (field names are the host contract's).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    /// The session id inside its integration: `<chatId>:<senderId>`.
    pub id: String,
    /// `single` or `group`.
    pub chat_type: String,
    /// The chat (the user id in single chats; WeCom's chatid in groups, case-sensitive).
    pub chat_id: String,
    /// The sender's user id.
    pub sender_id: String,
    /// The Digital Expert answering in this session.
    pub xpert_id: String,
    /// The agent conversation continued by the next message.
    pub conversation_id: Option<String>,
    /// Last activity (RFC 3339).
    pub updated_at: String,
    /// Last activity (Unix ms, host clock): what the session timeout is measured from.
    #[serde(default)]
    pub updated_at_ms: i64,
}

/// The session id of a (chat, sender) pair.
pub fn session_id(chat_id: &str, sender_id: &str) -> String {
    format!("{chat_id}:{sender_id}")
}

/// Every session of an integration (paged through the store; O(sessions of this integration)).
pub async fn list_all(state: &PluginState, integration_id: &str) -> Result<Vec<Session>, Error> {
    let prefix = keys::sessions_prefix(integration_id);
    let mut after = String::new();
    let mut sessions = Vec::new();
    loop {
        let page: Vec<KvEntry> = state.host().kv().scan_prefix(&prefix, &after, 200).await?;
        let Some(last) = page.last() else { break };
        after = last.key.clone();
        let full = page.len() == 200;
        sessions.extend(page.into_iter().filter_map(|e| serde_json::from_str::<Session>(&e.value).ok()));
        if !full {
            break;
        }
    }
    Ok(sessions)
}

/// One page of sessions, filtered by `search` (any field contains it), sorted (default:
/// `updatedAt` descending).
pub async fn query(state: &PluginState, integration_id: &str, q: &ViewQuery) -> Result<(Vec<Session>, usize), Error> {
    let mut rows = list_all(state, integration_id).await?;
    if let Some(search) = q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        let needle = search.to_lowercase();
        rows.retain(|s| {
            [&s.chat_type, &s.chat_id, &s.sender_id, &s.xpert_id, &s.updated_at]
                .iter()
                .any(|f| f.to_lowercase().contains(&needle))
                || s.conversation_id.as_deref().is_some_and(|c| c.to_lowercase().contains(&needle))
        });
    }
    let sort_by = q.sort_by.as_deref().unwrap_or("updatedAt");
    let desc = q.sort_direction.as_deref().map(|d| d.eq_ignore_ascii_case("desc")).unwrap_or(sort_by == "updatedAt");
    rows.sort_by(|a, b| {
        let key = |s: &Session| match sort_by {
            "chatType" => s.chat_type.clone(),
            "chatId" => s.chat_id.clone(),
            "senderId" => s.sender_id.clone(),
            "xpertId" => s.xpert_id.clone(),
            "conversationId" => s.conversation_id.clone().unwrap_or_default(),
            "id" => s.id.clone(),
            _ => s.updated_at.clone(),
        };
        let ord = key(a).cmp(&key(b));
        if desc {
            ord.reverse()
        } else {
            ord
        }
    });
    let total = rows.len();
    let size = q.page_size.clamp(1, 200) as usize;
    let start = (q.page.max(1) as usize - 1).saturating_mul(size);
    Ok((rows.into_iter().skip(start).take(size).collect(), total))
}

/// One session, if it exists.
pub async fn load(state: &PluginState, integration_id: &str, session_id: &str) -> Result<Option<Session>, Error> {
    Ok(state
        .host()
        .kv()
        .get(&keys::session(integration_id, session_id))
        .await?
        .and_then(|raw| serde_json::from_str(&raw).ok()))
}

/// Stores a session.
pub async fn save(state: &PluginState, integration_id: &str, session: &Session) -> Result<(), Error> {
    let json = serde_json::to_string(session).map_err(|e| Error::internal(e.to_string()))?;
    state.host().kv().set(&keys::session(integration_id, &session.id), &json, 0).await
}

/// Resets a session (forgets its conversation), as `/new` does. False when it did not exist.
pub async fn reset(state: &PluginState, integration_id: &str, session_id: &str) -> Result<bool, Error> {
    state.host().kv().delete(&keys::session(integration_id, session_id)).await
}

/// Forgets every session of an integration (when it is deleted).
pub async fn clear(state: &PluginState, integration_id: &str) -> Result<usize, Error> {
    let sessions = list_all(state, integration_id).await?;
    for s in &sessions {
        reset(state, integration_id, &s.id).await?;
    }
    Ok(sessions.len())
}

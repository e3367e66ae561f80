//! Conversation sessions of an integration: one per (chat, sender), kept in the host's sessions
//! store (SQLite or PostgreSQL in the host, shared by every instance), where the Sessions tab's
//! search, sort and paging run. Resetting one equals the user sending `/new`.

use host_sdk::{Error, SessionQuery, SessionRecord, SessionSort, ViewQuery, SESSION_PAGE_MAX};
use serde::{Deserialize, Serialize};

use crate::state::{rfc3339, PluginState};

/// One session row as the Sessions tab shows it (field names are the host contract's).
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

impl Session {
    fn from_record(record: SessionRecord) -> Session {
        Session {
            id: record.session_key,
            chat_type: record.chat_type,
            chat_id: record.chat_id,
            sender_id: record.sender_id,
            xpert_id: record.xpert_id,
            conversation_id: record.conversation_id,
            updated_at: rfc3339(record.updated_at_ms),
            updated_at_ms: record.updated_at_ms,
        }
    }

    fn into_record(self, integration_id: &str) -> SessionRecord {
        SessionRecord {
            integration_id: integration_id.to_string(),
            session_key: self.id,
            chat_type: self.chat_type,
            chat_id: self.chat_id,
            sender_id: self.sender_id,
            xpert_id: self.xpert_id,
            conversation_id: self.conversation_id,
            updated_at_ms: self.updated_at_ms,
        }
    }
}

/// The session id of a (chat, sender) pair.
pub fn session_id(chat_id: &str, sender_id: &str) -> String {
    format!("{chat_id}:{sender_id}")
}

/// The store query for one page of the Sessions tab: `search` over the visible columns, sorted
/// by a column (default: latest activity first), `page` and `pageSize` as offset and limit.
fn store_query(integration_id: &str, q: &ViewQuery) -> SessionQuery {
    let column = q.sort_by.as_deref().unwrap_or("updatedAt");
    // `id` is `<chatId>:<senderId>`: the chat id orders it.
    let sort_by =
        if column == "id" { SessionSort::ChatId } else { SessionSort::from_column(column).unwrap_or_default() };
    let descending = match q.sort_direction.as_deref() {
        Some(direction) => direction.eq_ignore_ascii_case("desc"),
        None => sort_by == SessionSort::UpdatedAt,
    };
    let limit = q.page_size.clamp(1, SESSION_PAGE_MAX);
    SessionQuery {
        integration_id: integration_id.to_string(),
        search: q.search.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_string),
        sort_by,
        descending,
        offset: (q.page.max(1) - 1).saturating_mul(limit),
        limit,
    }
}

/// One page of sessions and the total that match, searched, sorted and paged by the store.
pub async fn query(state: &PluginState, integration_id: &str, q: &ViewQuery) -> Result<(Vec<Session>, usize), Error> {
    let page = state.host().sessions().query(&store_query(integration_id, q)).await?;
    Ok((page.items.into_iter().map(Session::from_record).collect(), page.total as usize))
}

/// One session, if it exists.
pub async fn load(state: &PluginState, integration_id: &str, session_id: &str) -> Result<Option<Session>, Error> {
    Ok(state.host().sessions().get(integration_id, session_id).await?.map(Session::from_record))
}

/// Stores a session (replacing an earlier version).
pub async fn save(state: &PluginState, integration_id: &str, session: &Session) -> Result<(), Error> {
    state.host().sessions().put(&session.clone().into_record(integration_id)).await
}

/// Resets a session (forgets its conversation), as `/new` does. False when it did not exist.
pub async fn reset(state: &PluginState, integration_id: &str, session_id: &str) -> Result<bool, Error> {
    state.host().sessions().delete(integration_id, session_id).await
}

/// Forgets every session of an integration (when it is deleted).
pub async fn clear(state: &PluginState, integration_id: &str) -> Result<usize, Error> {
    Ok(state.host().sessions().delete_integration(integration_id).await? as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tab_query_becomes_a_store_query() {
        let q = store_query("i1", &ViewQuery::default());
        assert_eq!((q.sort_by, q.descending, q.offset, q.search), (SessionSort::UpdatedAt, true, 0, None));
        let q = store_query(
            "i1",
            &ViewQuery {
                page: 3,
                page_size: 10,
                search: Some("  alice ".into()),
                sort_by: Some("senderId".into()),
                sort_direction: None,
            },
        );
        assert_eq!((q.sort_by, q.descending, q.offset, q.limit), (SessionSort::SenderId, false, 20, 10));
        assert_eq!(q.search.as_deref(), Some("alice"));
        let q = store_query(
            "i1",
            &ViewQuery {
                page: 1,
                page_size: 5000,
                search: None,
                sort_by: Some("id".into()),
                sort_direction: Some("DESC".into()),
            },
        );
        assert_eq!((q.sort_by, q.descending, q.limit), (SessionSort::ChatId, true, SESSION_PAGE_MAX));
    }
}

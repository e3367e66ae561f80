//! Plain Rust types used by the host services and the lifecycle hooks.

/// Severity of a log record forwarded from a plugin to the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Very detailed diagnostics.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that was handled.
    Warn,
    /// A failure.
    Error,
}

/// A log record forwarded from a plugin; the host emits it into its own `tracing` stream, tagged
/// with the plugin's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// Severity.
    pub level: LogLevel,
    /// The plugin module that logged it (`tracing` target).
    pub target: String,
    /// The formatted message (never carries secrets).
    pub message: String,
    /// Structured fields as a JSON object string (may be `{}`).
    pub fields_json: String,
}

/// One entry of the shared key-value store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvEntry {
    /// The key (inside the plugin's namespace).
    pub key: String,
    /// The value.
    pub value: String,
}

/// A held lease: proof that one owner is the only holder of a key until `expires_at_ms`.
///
/// `token` is a fencing token: it strictly increases each time the key changes hands, so a
/// stale holder's writes can be told apart from the current one's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The leased key, e.g. `wecom:ws:bot:<botId>`.
    pub key: String,
    /// Who holds it (an instance id).
    pub owner: String,
    /// The fencing token.
    pub token: u64,
    /// When the lease lapses unless renewed, in Unix milliseconds.
    pub expires_at_ms: i64,
}

/// What happened to an integration, as told to its provider's lifecycle hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifecycleEvent {
    /// It was created.
    Created,
    /// Its options or name changed.
    Updated,
    /// It was deleted.
    Deleted,
    /// It was enabled (or is enabled at host start: the hook is replayed so runtimes come back).
    Enabled,
    /// It was disabled.
    Disabled,
}

impl LifecycleEvent {
    /// The lower-case name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }
}

/// An integration as the host stores it and hands it to plugins (options unmasked). Its `Debug`
/// output names the option keys only, so logging one never leaks a secret.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    /// Stable id (used in webhook URLs).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Provider name, e.g. `wecom` or `wecom_long`.
    pub provider: String,
    /// Whether the integration is enabled; runtimes run only while it is.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The provider-specific options (a JSON object), secrets included.
    #[serde(default)]
    pub options: serde_json::Value,
}

fn default_true() -> bool {
    true
}

/// The keys of a JSON object, for `Debug` output that must not show values.
fn option_keys(options: &serde_json::Value) -> Vec<&str> {
    options.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default()
}

impl std::fmt::Debug for Integration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integration")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("enabled", &self.enabled)
            .field("option_keys", &option_keys(&self.options))
            .finish()
    }
}

/// The largest page [`SessionQuery::limit`] may ask for; larger limits are clamped to it.
pub const SESSION_PAGE_MAX: u32 = 200;

/// One conversation session of an integration, as the host's sessions service stores it: which
/// Digital Expert answers a (chat, sender) pair and which agent conversation the next message
/// continues. Kept by the host (not in the plugin's KV) so that listing, search, sort and paging
/// run in the store.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionRecord {
    /// The integration the session belongs to.
    pub integration_id: String,
    /// The session's key inside its integration, e.g. `<chatId>:<senderId>`; unique per
    /// integration (a second `put` with the same key replaces the first).
    pub session_key: String,
    /// `single` or `group`.
    pub chat_type: String,
    /// The chat id (the user id in single chats, the group's chat id in groups).
    pub chat_id: String,
    /// The sender's user id.
    pub sender_id: String,
    /// The Digital Expert answering in this session.
    pub xpert_id: String,
    /// The agent conversation the next message continues, once there is one.
    #[serde(default)]
    pub conversation_id: Option<String>,
    /// Last activity, Unix milliseconds (host clock).
    pub updated_at_ms: i64,
}

impl SessionRecord {
    /// Whether the record can be stored: a session needs its integration id and its key.
    pub fn validate(&self) -> Result<(), crate::Error> {
        if self.integration_id.is_empty() {
            return Err(crate::Error::invalid_argument("a session needs an integration id"));
        }
        if self.session_key.is_empty() {
            return Err(crate::Error::invalid_argument("a session needs a session key"));
        }
        Ok(())
    }

    /// Whether any searchable field (chat type, chat id, sender id, expert id, conversation id)
    /// contains `needle_lower`, ASCII case-insensitively (`needle_lower` is already
    /// ASCII-lowercased): the same rule as SQL `LIKE`, so every backend finds the same rows.
    pub fn matches(&self, needle_lower: &str) -> bool {
        let hit = |field: &str| field.to_ascii_lowercase().contains(needle_lower);
        hit(&self.chat_type)
            || hit(&self.chat_id)
            || hit(&self.sender_id)
            || hit(&self.xpert_id)
            || self.conversation_id.as_deref().is_some_and(hit)
    }
}

/// The column a session query sorts by. Ties are broken by the session key, in the same
/// direction, so paging is stable.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum SessionSort {
    /// Last activity (the default: the Sessions tab shows the latest first).
    #[default]
    UpdatedAt,
    /// Chat type.
    ChatType,
    /// Chat id.
    ChatId,
    /// Sender id.
    SenderId,
    /// Digital Expert id.
    XpertId,
    /// Conversation id (sessions without one come first in ascending order).
    ConversationId,
}

impl SessionSort {
    /// The sort named by a view column (`updatedAt`, `chatType`, `chatId`, `senderId`, `xpertId`,
    /// `conversationId`); `None` for any other name.
    pub fn from_column(column: &str) -> Option<SessionSort> {
        Some(match column {
            "updatedAt" => SessionSort::UpdatedAt,
            "chatType" => SessionSort::ChatType,
            "chatId" => SessionSort::ChatId,
            "senderId" => SessionSort::SenderId,
            "xpertId" => SessionSort::XpertId,
            "conversationId" => SessionSort::ConversationId,
            _ => return None,
        })
    }

    /// Orders two records by this column, then by session key (ascending; callers reverse the
    /// whole order for a descending query). Text compares byte-wise, as SQL's `BINARY`
    /// collation does, and a missing conversation id sorts before any present one, as SQL's
    /// `NULL` does.
    pub fn compare(self, a: &SessionRecord, b: &SessionRecord) -> std::cmp::Ordering {
        let primary = match self {
            SessionSort::UpdatedAt => a.updated_at_ms.cmp(&b.updated_at_ms),
            SessionSort::ChatType => a.chat_type.cmp(&b.chat_type),
            SessionSort::ChatId => a.chat_id.cmp(&b.chat_id),
            SessionSort::SenderId => a.sender_id.cmp(&b.sender_id),
            SessionSort::XpertId => a.xpert_id.cmp(&b.xpert_id),
            SessionSort::ConversationId => a.conversation_id.cmp(&b.conversation_id),
        };
        primary.then_with(|| a.session_key.cmp(&b.session_key))
    }
}

/// One page of one integration's sessions: filtered by `search`, sorted by `sort_by`, then
/// `offset` rows skipped and at most `limit` returned.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionQuery {
    /// The integration whose sessions are listed.
    pub integration_id: String,
    /// A case-insensitive (ASCII) substring of the chat type, chat id, sender id, expert id or
    /// conversation id; surrounding whitespace is ignored, and an empty text filters nothing.
    /// `%`, `_` and `\` are literal characters, not wildcards.
    #[serde(default)]
    pub search: Option<String>,
    /// The sort column.
    #[serde(default)]
    pub sort_by: SessionSort,
    /// Descending instead of ascending.
    #[serde(default)]
    pub descending: bool,
    /// Rows to skip (after filtering and sorting).
    #[serde(default)]
    pub offset: u32,
    /// Rows wanted, clamped to `1..=`[`SESSION_PAGE_MAX`].
    #[serde(default = "default_session_limit")]
    pub limit: u32,
}

fn default_session_limit() -> u32 {
    50
}

impl SessionQuery {
    /// The first page (50 rows) of an integration's sessions, latest activity first.
    pub fn new(integration_id: impl Into<String>) -> SessionQuery {
        SessionQuery {
            integration_id: integration_id.into(),
            search: None,
            sort_by: SessionSort::UpdatedAt,
            descending: true,
            offset: 0,
            limit: default_session_limit(),
        }
    }

    /// The page size a backend must use: `limit` clamped to `1..=`[`SESSION_PAGE_MAX`].
    pub fn effective_limit(&self) -> u32 {
        self.limit.clamp(1, SESSION_PAGE_MAX)
    }

    /// The search text a backend must match, trimmed and ASCII-lowercased; `None` when there is
    /// nothing to filter by.
    pub fn needle(&self) -> Option<String> {
        self.search.as_deref().map(str::trim).filter(|s| !s.is_empty()).map(str::to_ascii_lowercase)
    }
}

/// One page of sessions and how many match the query in all.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionPage {
    /// The rows of this page, in the query's order.
    pub items: Vec<SessionRecord>,
    /// How many sessions match the query (before `offset` and `limit`).
    pub total: u64,
}

#[cfg(test)]
mod tests {
    use super::Integration;

    #[test]
    fn debug_output_never_shows_option_values() {
        let i = Integration {
            id: "1".into(),
            name: "n".into(),
            provider: "wecom_long".into(),
            enabled: true,
            options: serde_json::json!({"botId": "b", "secret": "TOP-SECRET"}),
        };
        let text = format!("{i:?}");
        assert!(text.contains("secret") && !text.contains("TOP-SECRET"), "{text}");
    }
}

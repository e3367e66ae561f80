//! SQL text the two relational stores (SQLite and PostgreSQL) share: column lists in the order
//! their row readers expect, the whitelist of session sort columns, and the pattern a session
//! search matches with.

use host_sdk::SessionSort;

/// A session row's columns, in the order the stores' `session_row` reads them.
pub const SESSION_COLUMNS: &str =
    "integration_id, session_key, chat_type, chat_id, sender_id, xpert_id, conversation_id, updated_at_ms";
/// A Digital Expert row's columns, in the order the stores' `xpert_row` reads them.
pub const XPERT_COLUMNS: &str =
    "id, name, agent, triggers, published, published_triggers, created_at, updated_at, tenant_id";
/// An integration row's columns, in the order the stores' `integration_row` reads them.
pub const INTEGRATION_COLUMNS: &str = "id, name, provider, enabled, options, created_at, updated_at, tenant_id";

/// The column a sort names: a fixed whitelist, so no caller text ever reaches `ORDER BY`.
pub fn session_sort_column(sort: SessionSort) -> &'static str {
    match sort {
        SessionSort::UpdatedAt => "updated_at_ms",
        SessionSort::ChatType => "chat_type",
        SessionSort::ChatId => "chat_id",
        SessionSort::SenderId => "sender_id",
        SessionSort::XpertId => "xpert_id",
        SessionSort::ConversationId => "conversation_id",
    }
}

/// A `LIKE`/`ILIKE … ESCAPE '\'` pattern matching `text` anywhere: `%`, `_` and `\` in it are
/// literal.
pub fn like_contains(text: &str) -> String {
    let mut pattern = String::with_capacity(text.len() + 2);
    pattern.push('%');
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_search_pattern_matches_its_text_literally() {
        assert_eq!(super::like_contains(r"50%_a\b"), r"%50\%\_a\\b%");
    }
}

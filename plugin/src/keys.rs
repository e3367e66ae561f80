//! Names of the keys this plugin keeps in the host's KV store (inside its per-tenant namespace).

/// The trigger binding of an integration: which Digital Expert it routes to.
pub fn binding(integration_id: &str) -> String {
    format!("binding:{integration_id}")
}

/// The runtime status of a long-connection integration.
pub fn status(integration_id: &str) -> String {
    format!("status:{integration_id}")
}

/// Prefix of every session of an integration.
pub fn sessions_prefix(integration_id: &str) -> String {
    format!("session:{integration_id}:")
}

/// One session: a (chat, sender) pair of an integration.
pub fn session(integration_id: &str, session_id: &str) -> String {
    format!("session:{integration_id}:{session_id}")
}

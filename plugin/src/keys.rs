//! Names of the keys this plugin keeps in the host's KV store (inside its per-tenant namespace).

/// The trigger binding of an integration: which Digital Expert it routes to.
pub fn binding(integration_id: &str) -> String {
    format!("binding:{integration_id}")
}

/// The observed status of a long-connection integration (written by the bot's owner, fenced).
pub fn status(integration_id: &str) -> String {
    format!("status:{integration_id}")
}

/// The desired state of an integration (operator intent: manual disconnect, reconnect requests).
pub fn desired(integration_id: &str) -> String {
    format!("desired:{integration_id}")
}

/// The lease key of a bot: one connection per bot worldwide, so it is keyed by bot id, not by
/// integration or tenant.
pub fn bot_lease(bot_id: &str) -> String {
    format!("wecom:ws:bot:{bot_id}")
}

/// The marker that a message of an integration was already taken (WeCom redelivers on
/// reconnects and retries; every instance shares this, so each message is answered once).
pub fn dedup(integration_id: &str, msgid: &str) -> String {
    format!("dedup:{integration_id}:{msgid}")
}

/// The owner name of a bot's lease: the instance, and which installation's integration holds it
/// (`<instance>#<tenant>/<integration>`). Two integrations with the same Bot ID on one instance
/// therefore never share a lease, and the Status tab can tell its own integration's owner from
/// another holder of the same bot.
pub fn lease_owner(instance: &str, tenant: &str, integration_id: &str) -> String {
    format!("{instance}#{}", lease_holder(tenant, integration_id))
}

/// The part of a lease owner that names the integration (`<tenant>/<integration>`).
pub fn lease_holder(tenant: &str, integration_id: &str) -> String {
    format!("{tenant}/{integration_id}")
}

/// The instance part of a lease owner.
pub fn owner_instance(owner: &str) -> &str {
    owner.split('#').next().unwrap_or(owner)
}

/// The short connection's passive answer to a callback (`pending` while the first delivery is
/// still being answered), named by the stream its `msgid` opens: WeCom's retries of the same
/// `msgid` get the same answer from it, and a refresh finds the stream's first frame in it.
pub fn short_passive(integration_id: &str, stream_id: &str) -> String {
    format!("short:passive:{integration_id}:{stream_id}")
}

/// The current snapshot of a short-connection stream (the plaintext reply body), read by
/// WeCom's refresh callbacks on whichever instance they land.
pub fn short_stream(integration_id: &str, stream_id: &str) -> String {
    format!("short:stream:{integration_id}:{stream_id}")
}

/// Prefix of the counts of an integration's short-connection streams not sealed yet.
pub fn short_inflight_prefix(integration_id: &str) -> String {
    format!("short:inflight:{integration_id}:")
}

/// One instance's count of an integration's short-connection streams not sealed yet.
pub fn short_inflight(integration_id: &str, instance: &str) -> String {
    format!("short:inflight:{integration_id}:{instance}")
}

/// Prefix of the short connection's last-event fields of an integration (one key per field, so
/// concurrent callbacks never overwrite each other's fields).
pub fn short_status_prefix(integration_id: &str) -> String {
    format!("short:status:{integration_id}:")
}

/// One last-event field of an integration's short connection (`lastCallbackAt`, …).
pub fn short_status(integration_id: &str, field: &str) -> String {
    format!("short:status:{integration_id}:{field}")
}

/// Prefix of the per-minute callback counters of an integration.
pub fn short_counts_prefix(integration_id: &str) -> String {
    format!("short:count:{integration_id}:")
}

/// One instance's count of one outcome (`accepted:message`, `refused:bad_signature`, …) in one
/// minute (each instance writes only its own, so counting never contends across instances).
pub fn short_count(integration_id: &str, minute: i64, outcome: &str, instance: &str) -> String {
    format!("short:count:{integration_id}:{minute}:{outcome}:{instance}")
}

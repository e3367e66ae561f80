//! What one installation keeps, and where: everything lives in the host's shared KV store (never
//! in process memory alone), in two kinds that are never mixed —
//!
//! - **desired state** ([`desired`]): what operators and lifecycle hooks asked for (trigger
//!   bindings, manual disconnect, reconnect requests), written by any instance;
//! - **observed status** ([`observed`]): what the connection's owner saw, written only by the
//!   holder of the bot's lease and fenced by its token, so a stale owner cannot overwrite it.
//!
//! Views combine the two into read models ([`crate::views`]) and never write either.

pub mod desired;
pub mod observed;
pub mod reason;

use std::sync::Arc;

use host_sdk::plugin::{Host, InstallationScope};
use host_sdk::{Error, Integration};
use serde::{Deserialize, Serialize};
use tokio::sync::Notify;

use crate::config::LongConfig;
use crate::keys;

/// Everything an installation's objects share. Cheap to clone through an `Arc`.
pub struct PluginState {
    /// The installation: tenant, host services, log sink, tasks.
    pub scope: InstallationScope,
    /// Wakes this installation's long-connection supervisor at once (after an operator action or
    /// a lifecycle event); other instances notice the same change at their next reconcile.
    pub supervisor_wake: Arc<Notify>,
    /// The installation's supervisor (weak: the supervisor holds this state; the long-connection
    /// provider holds the supervisor for as long as the installation's objects live).
    pub supervisor: std::sync::OnceLock<std::sync::Weak<crate::long::supervisor::Supervisor>>,
    /// The installation's metrics, rendered for the host's `/metrics`.
    pub metrics: Arc<crate::metrics::Metrics>,
}

/// Why a long-connection integration must not connect now, in order of precedence (`None`: it
/// should): disabled, invalid options, disconnected by an operator, not bound to a published
/// WeCom Trigger, or latched by its owner (kicked, or credentials refused) for this generation.
pub fn blocking_reason_of(
    integration: &Integration,
    desired: &desired::DesiredState,
    observed: Option<&observed::ObservedStatus>,
    bound: bool,
) -> Option<&'static str> {
    if !integration.enabled {
        return Some(reason::INTEGRATION_DISABLED);
    }
    if LongConfig::from_options(&integration.options).is_err() {
        return Some(reason::CONFIG_INVALID);
    }
    if desired.manual_disconnect {
        return Some(reason::MANUAL_DISCONNECT);
    }
    if !bound {
        return Some(reason::XPERT_UNBOUND);
    }
    match observed.and_then(|o| o.latches(desired.generation)) {
        Some(reason::DISPLACED) => Some(reason::DISPLACED),
        Some(_) => Some(reason::CONFIG_INVALID),
        None => None,
    }
}

/// A published WeCom Trigger: integration → Digital Expert, with its conversation settings.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Binding {
    /// The integration.
    pub integration_id: String,
    /// The Digital Expert it routes to.
    pub xpert_id: String,
    /// Idle time after which the next message starts a new conversation.
    pub session_timeout_seconds: u64,
    /// Messages within this window are merged (0: none).
    pub summary_window_seconds: u64,
    /// When it was published (Unix ms).
    pub published_at_ms: i64,
}

impl PluginState {
    /// The state of one installation.
    pub fn new(scope: InstallationScope) -> Self {
        let metrics = crate::metrics::Metrics::new(scope.tenant_id());
        let render = metrics.clone();
        scope.set_metrics_source(Box::new(move || render.render()));
        PluginState { scope, supervisor_wake: Arc::new(Notify::new()), supervisor: std::sync::OnceLock::new(), metrics }
    }

    /// Stops this instance's connection of an integration, if it runs one here, and waits until
    /// it has closed its socket and released its lease (so nothing it writes outlives a delete).
    pub async fn stop_connection(&self, integration_id: &str, why: &'static str) {
        let supervisor = self.supervisor.get().and_then(std::sync::Weak::upgrade);
        if let Some(supervisor) = supervisor {
            supervisor.stop_now(integration_id, why).await;
        }
    }

    /// Asks the local supervisor to reconcile now, starting it on first use.
    pub fn wake_supervisor(&self) {
        if let Some(supervisor) = self.supervisor.get().and_then(std::sync::Weak::upgrade) {
            if let Err(e) = supervisor.ensure_started() {
                tracing::warn!(error = %e, "the long-connection supervisor could not start");
            }
        }
        self.supervisor_wake.notify_one();
    }

    /// The first reason, in order of precedence, why a long-connection integration must not
    /// connect now; `None` when it should. Shared by the supervisor (which acts on it) and the
    /// Status tab (which shows it), so both always agree.
    pub async fn blocking_reason(
        &self,
        integration: &Integration,
        desired: &desired::DesiredState,
        observed: Option<&observed::ObservedStatus>,
    ) -> Result<Option<&'static str>, Error> {
        let bound = self.binding(&integration.id).await?.is_some();
        Ok(blocking_reason_of(integration, desired, observed, bound))
    }

    /// Every value under `prefix` in the KV store, by the rest of its key (paged, so a tenant
    /// with thousands of integrations costs a few calls instead of one per integration).
    pub async fn scan_all(&self, prefix: &str) -> Result<std::collections::HashMap<String, String>, Error> {
        // Small pages, with a yield between them: a backend that answers at once (the embedded
        // KV runs on the caller's thread, under its lock) would otherwise keep this thread, and
        // every message's dedup key waiting for that lock, for the whole scan.
        const PAGE: u32 = 128;
        let mut all = std::collections::HashMap::new();
        let mut after = String::new();
        loop {
            let page = self.host().kv().scan_prefix(prefix, &after, PAGE).await?;
            let full = page.len() == PAGE as usize;
            if let Some(last) = page.last() {
                after = last.key.clone();
            }
            for entry in page {
                let rest = entry.key.strip_prefix(prefix).unwrap_or(&entry.key).to_string();
                all.insert(rest, entry.value);
            }
            if !full {
                return Ok(all);
            }
            tokio::task::yield_now().await;
        }
    }

    /// The host, as this installation sees it (every service scoped to its tenant).
    pub fn host(&self) -> &Host {
        self.scope.host()
    }

    /// The binding of an integration, if its trigger is published.
    pub async fn binding(&self, integration_id: &str) -> Result<Option<(Binding, String)>, Error> {
        let Some(raw) = self.host().kv().get(&keys::binding(integration_id)).await? else {
            return Ok(None);
        };
        match serde_json::from_str::<Binding>(&raw) {
            Ok(b) => Ok(Some((b, raw))),
            Err(e) => {
                tracing::warn!(integration_id, error = %e, "ignoring a malformed trigger binding");
                Ok(None)
            }
        }
    }

    /// The current time from the host's clock, as RFC 3339.
    pub fn now_rfc3339(&self) -> String {
        rfc3339(self.host().now_ms())
    }
}

/// Formats Unix milliseconds as an RFC 3339 UTC timestamp (`2026-11-24T20:06:15.123Z`).
pub fn rfc3339(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let millis = ms.rem_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, (rem % 3600) / 60, rem % 60);
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(mo <= 2);
    format!("{y:04}-{mo:02}-{d:02}T{h:02}:{m:02}:{s:02}.{millis:03}Z")
}

#[cfg(test)]
mod tests {
    use super::rfc3339;

    #[test]
    fn formats_unix_millis_as_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(rfc3339(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
        assert_eq!(rfc3339(951_782_400_000), "2000-02-29T00:00:00.000Z");
    }
}

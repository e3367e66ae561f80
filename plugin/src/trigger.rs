//! The WeCom Trigger: binds one integration to one published Digital Expert.
//!
//! The binding lives in the shared KV store under `binding:<integrationId>` and is written with
//! compare-and-swap, so two experts publishing at once cannot both win.

use std::sync::Arc;

use host_sdk::plugin::TriggerImpl;
use host_sdk::{BoxFuture, ChecklistItem, ChecklistLevel, Error, TriggerParams};
use serde_json::Value;

use crate::state::{Binding, PluginState};
use crate::{keys, PROVIDER_LONG, PROVIDER_SHORT};

/// Default idle time before a new conversation starts.
pub const DEFAULT_SESSION_TIMEOUT_SECONDS: u64 = 3600;

/// The trigger's config, parsed leniently (defaults applied) for publishing.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TriggerConfig {
    /// Whether the trigger routes at all.
    pub enabled: bool,
    /// The bound integration.
    pub integration_id: Option<String>,
    /// Session timeout in seconds (> 0).
    pub session_timeout_seconds: u64,
    /// Aggregation window in seconds (≥ 0).
    pub summary_window_seconds: u64,
}

/// Problems in the config itself, as checklist items.
fn parse_config(config: &Value) -> (TriggerConfig, Vec<ChecklistItem>) {
    let mut problems = Vec::new();
    let enabled = config.get("enabled").and_then(Value::as_bool).unwrap_or(true);
    let integration_id = config
        .get("integrationId")
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let mut number = |key: &str, default: u64, min: u64| -> u64 {
        match config.get(key) {
            None | Some(Value::Null) => default,
            Some(v) => {
                match v.as_u64().or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && *f >= 0.0).map(|f| f as u64)) {
                    Some(n) if n >= min => n,
                    _ => {
                        problems.push(error_item(
                            "TRIGGER_WECOM_CONFIG_INVALID",
                            &format!("{key} must be a whole number of seconds, at least {min}"),
                        ));
                        default
                    }
                }
            }
        }
    };
    let session_timeout_seconds = number("sessionTimeoutSeconds", DEFAULT_SESSION_TIMEOUT_SECONDS, 1);
    let summary_window_seconds = number("summaryWindowSeconds", 0, 0);
    (TriggerConfig { enabled, integration_id, session_timeout_seconds, summary_window_seconds }, problems)
}

fn error_item(code: &str, message: &str) -> ChecklistItem {
    ChecklistItem { code: code.into(), level: ChecklistLevel::Error, message: message.into() }
}

/// The WeCom Trigger.
pub struct WecomTrigger {
    state: Arc<PluginState>,
}

impl WecomTrigger {
    /// A trigger over an installation's state.
    pub fn new(state: Arc<PluginState>) -> Self {
        WecomTrigger { state }
    }
}

async fn validate(state: &PluginState, params: &TriggerParams) -> Result<Vec<ChecklistItem>, Error> {
    let (config, mut items) = parse_config(&params.config);
    let Some(integration_id) = config.integration_id.as_deref() else {
        items.push(error_item(
            "TRIGGER_WECOM_INTEGRATION_REQUIRED",
            "Select the WeCom integration this trigger listens to.",
        ));
        return Ok(items);
    };
    match state.host().integrations().get(integration_id).await? {
        None => items.push(error_item(
            "TRIGGER_WECOM_INTEGRATION_NOT_FOUND",
            &format!("WeCom integration {integration_id} does not exist."),
        )),
        Some(i) if i.provider != PROVIDER_SHORT && i.provider != PROVIDER_LONG => items.push(error_item(
            "TRIGGER_WECOM_INTEGRATION_PROVIDER",
            &format!("Integration {integration_id} is not a WeCom integration (provider {}).", i.provider),
        )),
        Some(_) => {}
    }
    if config.enabled {
        if let Some((binding, _)) = state.binding(integration_id).await? {
            if binding.xpert_id != params.xpert_id {
                items.push(error_item(
                    "TRIGGER_WECOM_INTEGRATION_CONFLICT",
                    &format!(
                        "WeCom integration {integration_id} is already bound to Digital Expert {}; one integration can serve only one expert.",
                        binding.xpert_id
                    ),
                ));
            }
        }
    }
    Ok(items)
}

async fn publish(state: &PluginState, params: &TriggerParams) -> Result<(), Error> {
    let (config, problems) = parse_config(&params.config);
    if let Some(p) = problems.first() {
        return Err(Error::invalid_config(p.message.clone()));
    }
    if !config.enabled {
        return Ok(());
    }
    let integration_id =
        config.integration_id.ok_or_else(|| Error::invalid_config("the WeCom Trigger needs an integrationId"))?;
    if state.host().integrations().get(&integration_id).await?.is_none() {
        return Err(Error::not_found(format!("WeCom integration {integration_id} does not exist")));
    }
    let binding = Binding {
        integration_id: integration_id.clone(),
        xpert_id: params.xpert_id.clone(),
        session_timeout_seconds: config.session_timeout_seconds,
        summary_window_seconds: config.summary_window_seconds,
        published_at_ms: state.host().now_ms(),
    };
    let json = serde_json::to_string(&binding).map_err(|e| Error::internal(e.to_string()))?;
    let key = keys::binding(&integration_id);
    let expected = match state.binding(&integration_id).await? {
        Some((existing, _)) if existing.xpert_id != params.xpert_id => {
            return Err(Error::conflict(format!(
                "WeCom integration {integration_id} is already bound to Digital Expert {}",
                existing.xpert_id
            )));
        }
        Some((_, raw)) => Some(raw),
        None => None,
    };
    if !state.host().kv().compare_and_swap(&key, expected.as_deref(), &json, 0).await? {
        return Err(Error::conflict(format!(
            "WeCom integration {integration_id} was bound concurrently; publish again"
        )));
    }
    tracing::info!(integration_id, xpert_id = %params.xpert_id, "WeCom trigger published");
    state.wake_supervisor();
    Ok(())
}

async fn stop(state: &PluginState, params: &TriggerParams) -> Result<(), Error> {
    let (config, _) = parse_config(&params.config);
    let Some(integration_id) = config.integration_id else { return Ok(()) };
    if let Some((binding, raw)) = state.binding(&integration_id).await? {
        if binding.xpert_id == params.xpert_id {
            state.host().kv().compare_and_delete(&keys::binding(&integration_id), &raw).await?;
            tracing::info!(integration_id, xpert_id = %params.xpert_id, "WeCom trigger stopped");
            state.wake_supervisor();
        }
    }
    Ok(())
}

impl TriggerImpl for WecomTrigger {
    fn validate(&self, params: TriggerParams) -> BoxFuture<'static, Result<Vec<ChecklistItem>, Error>> {
        let state = self.state.clone();
        Box::pin(async move { validate(&state, &params).await })
    }

    fn publish(&self, params: TriggerParams) -> BoxFuture<'static, Result<(), Error>> {
        let state = self.state.clone();
        Box::pin(async move { publish(&state, &params).await })
    }

    fn stop(&self, params: TriggerParams) -> BoxFuture<'static, Result<(), Error>> {
        let state = self.state.clone();
        Box::pin(async move { stop(&state, &params).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn config_defaults_are_3600_and_0() {
        let (cfg, problems) = parse_config(&json!({"integrationId": "i1"}));
        assert!(problems.is_empty());
        assert_eq!(
            cfg,
            TriggerConfig {
                enabled: true,
                integration_id: Some("i1".into()),
                session_timeout_seconds: 3600,
                summary_window_seconds: 0
            }
        );
    }

    #[test]
    fn invalid_numbers_become_checklist_errors() {
        let (_, problems) =
            parse_config(&json!({"integrationId": "i1", "sessionTimeoutSeconds": 0, "summaryWindowSeconds": -1}));
        assert_eq!(problems.len(), 2);
        assert!(problems.iter().all(|p| p.code == "TRIGGER_WECOM_CONFIG_INVALID"));
    }
}

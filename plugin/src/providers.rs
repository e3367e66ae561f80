//! The two integration providers: `wecom` (short connection, WeCom calls our webhook) and
//! `wecom_long` (long connection, we hold a WebSocket to WeCom).

use std::sync::Arc;

use host_sdk::plugin::ProviderImpl;
use host_sdk::{BoxFuture, Error, Integration, LifecycleEvent};
use serde_json::{json, Value};

use crate::config::{LongConfig, ShortConfig};
use crate::state::PluginState;
use crate::{keys, sessions, status, DEFAULT_WS_URL};

/// Shown instead of an id in setup information before the first save.
pub const ID_PLACEHOLDER: &str = "<save_and_get_your_integration_id>";

/// Removes everything the plugin kept for a deleted integration.
async fn forget_integration(state: &PluginState, integration_id: &str) -> Result<(), Error> {
    state.host.kv().delete(&keys::binding(integration_id)).await?;
    state.host.kv().delete(&keys::status(integration_id)).await?;
    let cleared = sessions::clear(state, integration_id).await?;
    tracing::info!(integration_id, sessions = cleared, "forgot a deleted WeCom integration");
    Ok(())
}

/// The answer of `test`: the validation's setup information, or its error.
fn test_answer(validated: Result<Value, Error>) -> BoxFuture<'static, Result<Value, Error>> {
    Box::pin(async move { Ok(json!({ "ok": true, "setup": validated? })) })
}

/// The short-connection provider.
pub struct ShortProvider {
    state: Arc<PluginState>,
}

impl ShortProvider {
    /// A provider over an installation's state.
    pub fn new(state: Arc<PluginState>) -> Self {
        ShortProvider { state }
    }

    /// The setup information for an integration: the callback URL to paste into WeCom.
    pub fn setup(&self, integration_id: &str) -> Value {
        let base = self.state.host.config("API_BASE_URL").unwrap_or_default();
        let id = if integration_id.is_empty() { ID_PLACEHOLDER } else { integration_id };
        let callback_url = format!("{}/api/wecom/webhook/{id}", base.trim_end_matches('/'));
        json!({
            "mode": "webhook",
            "callbackUrl": callback_url,
            "webhookUrl": callback_url,
            "signatureAlgorithm": "sha1(sort(token,timestamp,nonce,encrypt))",
            "receiveId": "",
            "hints": [
                "Paste the callback URL, Token and EncodingAESKey into the bot's API-mode settings in the WeCom admin console.",
                "API_BASE_URL must be a public HTTPS address reachable from WeCom."
            ]
        })
    }
}

impl ProviderImpl for ShortProvider {
    fn validate_config(&self, integration: Integration) -> Result<Value, Error> {
        ShortConfig::from_options(&integration.options).map_err(|e| Error::invalid_config(e.0))?;
        Ok(self.setup(&integration.id))
    }

    fn on_lifecycle(
        &self,
        event: LifecycleEvent,
        integration: Integration,
        _previous: Option<Integration>,
    ) -> BoxFuture<'static, Result<(), Error>> {
        let state = self.state.clone();
        Box::pin(async move {
            tracing::debug!(integration_id = %integration.id, event = event.as_str(), "wecom lifecycle");
            if event == LifecycleEvent::Deleted {
                forget_integration(&state, &integration.id).await?;
            }
            Ok(())
        })
    }

    fn test(&self, integration: Integration) -> BoxFuture<'static, Result<Value, Error>> {
        test_answer(self.validate_config(integration))
    }
}

/// The long-connection provider.
pub struct LongProvider {
    state: Arc<PluginState>,
}

impl LongProvider {
    /// A provider over an installation's state.
    pub fn new(state: Arc<PluginState>) -> Self {
        LongProvider { state }
    }

    /// The setup information: where the connection goes and in which mode.
    pub fn setup(&self) -> Value {
        let url =
            self.state.host.config("WECOM_WS_URL").filter(|u| !u.is_empty()).unwrap_or_else(|| DEFAULT_WS_URL.into());
        json!({
            "mode": "long_connection",
            "websocketUrl": url,
            "webhookUrl": url,
            "hints": [
                "Choose API mode with long connection for the bot in the WeCom admin console.",
                "The connection runs while the integration is enabled and bound to a published WeCom Trigger."
            ]
        })
    }
}

impl ProviderImpl for LongProvider {
    fn validate_config(&self, integration: Integration) -> Result<Value, Error> {
        LongConfig::from_options(&integration.options).map_err(|e| Error::invalid_config(e.0))?;
        Ok(self.setup())
    }

    fn on_lifecycle(
        &self,
        event: LifecycleEvent,
        integration: Integration,
        _previous: Option<Integration>,
    ) -> BoxFuture<'static, Result<(), Error>> {
        let state = self.state.clone();
        Box::pin(async move {
            if event == LifecycleEvent::Deleted {
                return forget_integration(&state, &integration.id).await;
            }
            let status = status::refresh(&state, &integration).await?;
            tracing::info!(
                integration_id = %integration.id,
                event = event.as_str(),
                stop_reason = status.disabled_reason.as_deref().unwrap_or("none"),
                "wecom_long lifecycle"
            );
            Ok(())
        })
    }

    fn test(&self, integration: Integration) -> BoxFuture<'static, Result<Value, Error>> {
        test_answer(self.validate_config(integration))
    }
}

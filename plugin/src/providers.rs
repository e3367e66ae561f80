//! The two integration providers: `wecom` (short connection, WeCom calls our webhook) and
//! `wecom_long` (long connection, we hold a WebSocket to WeCom).
//!
//! Lifecycle hooks record intent only (what the operator changed); they never write the observed
//! status, which belongs to the bot's owner.

use std::sync::Arc;

use host_sdk::contract::{SetupInfo, TestResult};
use host_sdk::plugin::ProviderImpl;
use host_sdk::{BoxFuture, Error, I18nText, Integration, LifecycleEvent};
use serde_json::{json, Map};

use crate::config::{LongConfig, ShortConfig};
use crate::long::client::{self, ClientConfig, CommandError};
use crate::long::settings::LongSettings;
use crate::long::supervisor::Supervisor;
use crate::short::integrations::IntegrationCache;
use crate::state::{desired, observed, PluginState};
use crate::{keys, sessions, DEFAULT_WS_URL};

/// Shown instead of an id in setup information before the first save.
pub const ID_PLACEHOLDER: &str = "<save_and_get_your_integration_id>";

/// Removes everything the plugin kept for a deleted integration.
async fn forget_integration(state: &PluginState, integration_id: &str) -> Result<(), Error> {
    let kv = state.host().kv();
    kv.delete(&keys::binding(integration_id)).await?;
    desired::forget(kv, integration_id).await?;
    observed::forget(kv, integration_id).await?;
    let cleared = sessions::clear(state, integration_id).await?;
    tracing::info!(integration_id, sessions = cleared, "forgot a deleted WeCom integration");
    Ok(())
}

/// A real, time-bounded subscribe with the entered credentials — unless this bot's connection
/// runs (a second subscribe would displace it), which is said instead. Returns (ok, what was
/// checked, the finding in words).
async fn test_subscribe(
    state: &PluginState,
    settings: &LongSettings,
    config: &LongConfig,
) -> (bool, &'static str, I18nText) {
    let url = settings.ws_url.clone();
    match state.host().leases().current(&keys::bot_lease(&config.bot_id)).await {
        Ok(Some(lease)) => {
            return (
                true,
                "skipped",
                I18nText::new(
                    format!("Not tried: this bot's connection is running on instance {}, and a test subscribe would displace it. The format is valid.", keys::owner_instance(&lease.owner)),
                    format!("未测试：此机器人的连接正在实例 {} 上运行，测试订阅会将其挤下线。格式有效。", keys::owner_instance(&lease.owner)),
                ),
            )
        }
        Ok(None) => {}
        Err(e) => tracing::warn!(error = %e, "reading the bot's lease failed; testing anyway"),
    }
    let tls = match settings.tls.get() {
        Ok(tls) => tls,
        Err(e) => {
            return (
                false,
                "connection",
                I18nText::new(
                    format!("Not tried: WECOM_EXTRA_CA_FILE: {e}"),
                    format!("未测试：WECOM_EXTRA_CA_FILE：{e}"),
                ),
            )
        }
    };
    let client_config = ClientConfig {
        url: url.clone(),
        origin: config.ws_origin.clone(),
        tls,
        connect_timeout: settings.connect_timeout,
        ack_timeout: std::time::Duration::from_millis(config.timeout_ms),
        heartbeat_interval: settings.heartbeat,
        max_missed_pings: settings.max_missed_pings,
    };
    let (client, driver, _callbacks) = match client::connect(&client_config).await {
        Ok(connected) => connected,
        Err(e) => {
            return (
                false,
                "connection",
                I18nText::new(format!("WeCom is unreachable at {url}: {e}"), format!("无法连接企业微信 {url}：{e}")),
            )
        }
    };
    let mut driver = Box::pin(driver);
    let (answer, ended) = tokio::select! {
        answer = client.subscribe(&config.bot_id, &config.secret) => (answer, false),
        _ = &mut driver => (Err(CommandError::Closed), true),
    };
    client.close();
    if !ended {
        let _ = tokio::time::timeout(std::time::Duration::from_secs(2), &mut driver).await;
    }
    match answer {
        Ok(()) => (
            true,
            "connection",
            I18nText::new(
                "WeCom accepted the Bot ID and Secret (a test subscribe, closed at once). If another deployment outside this platform uses this bot, the test took it over for a moment.",
                "企业微信接受了 Bot ID 与 Secret（测试订阅后已立即关闭）。如果本平台之外还有部署在使用此机器人，测试会短暂将其挤下线。",
            ),
        ),
        Err(CommandError::WeCom { errcode, .. }) if errcode == crate::protocol::errcode::INVALID_CREDENTIALS => (
            false,
            "connection",
            I18nText::new(
                format!("WeCom rejected the Bot ID or Secret ({errcode})."),
                format!("企业微信拒绝了 Bot ID 或 Secret（{errcode}）。"),
            ),
        ),
        Err(e) => (
            false,
            "connection",
            I18nText::new(format!("WeCom did not accept the subscribe: {e}"), format!("企业微信未接受订阅：{e}")),
        ),
    }
}

/// A format-only test result: what was checked, and that nothing was tried against WeCom.
fn format_checked(
    validated: Result<SetupInfo, Error>,
    message: I18nText,
) -> BoxFuture<'static, Result<TestResult, Error>> {
    Box::pin(async move { Ok(TestResult { ok: true, checked: "format".into(), message, setup: Some(validated?) }) })
}

/// The short-connection provider.
pub struct ShortProvider {
    state: Arc<PluginState>,
    /// The webhook's cache of integrations, told of every change made through this host.
    integrations: Arc<IntegrationCache>,
}

impl ShortProvider {
    /// A provider over an installation's state and the webhook's integration cache.
    pub fn new(state: Arc<PluginState>, integrations: Arc<IntegrationCache>) -> Self {
        ShortProvider { state, integrations }
    }

    /// The setup information for an integration: the callback URL to paste into WeCom.
    pub fn setup(&self, integration_id: &str) -> SetupInfo {
        let base = self.state.host().config("API_BASE_URL").unwrap_or_default();
        let id = if integration_id.is_empty() { ID_PLACEHOLDER } else { integration_id };
        let callback_url = format!("{}/api/wecom/webhook/{id}", base.trim_end_matches('/'));
        let mut extra = Map::new();
        extra.insert("webhookUrl".into(), json!(callback_url));
        extra.insert("signatureAlgorithm".into(), json!("sha1(sort(token,timestamp,nonce,encrypt))"));
        extra.insert("receiveId".into(), json!(""));
        SetupInfo {
            mode: "webhook".into(),
            callback_url: Some(callback_url),
            websocket_url: None,
            hints: vec![
                I18nText::new(
                    "Paste the callback URL, Token and EncodingAESKey into the bot's API-mode settings in the WeCom admin console.",
                    "在企业微信管理后台的机器人 API 模式设置中填入回调地址、Token 与 EncodingAESKey。",
                ),
                I18nText::new(
                    "API_BASE_URL must be a public HTTPS address reachable from WeCom.",
                    "API_BASE_URL 必须是企业微信可访问的公网 HTTPS 地址。",
                ),
            ],
            extra,
        }
    }
}

impl ProviderImpl for ShortProvider {
    fn validate_config(&self, integration: Integration) -> Result<SetupInfo, Error> {
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
        // The host calls this after storing the change: the next callback reads it afresh.
        self.integrations.forget(&integration.id);
        Box::pin(async move {
            tracing::debug!(integration_id = %integration.id, event = event.as_str(), "wecom lifecycle");
            if event == LifecycleEvent::Deleted {
                forget_integration(&state, &integration.id).await?;
            }
            Ok(())
        })
    }

    fn test(&self, integration: Integration) -> BoxFuture<'static, Result<TestResult, Error>> {
        format_checked(
            self.validate_config(integration),
            I18nText::new(
                "Format checked: the Token is present and the EncodingAESKey decodes to a 32-byte AES key. WeCom itself checks them when you save the callback URL in its admin console.",
                "已检查格式：Token 已填写，EncodingAESKey 可解码为 32 字节 AES 密钥。企业微信会在管理后台保存回调地址时自行校验。",
            ),
        )
    }
}

/// The long-connection provider.
pub struct LongProvider {
    state: Arc<PluginState>,
    settings: Arc<LongSettings>,
    /// Keeps the installation's supervisor alive (the state holds it weakly).
    _supervisor: Arc<Supervisor>,
}

impl LongProvider {
    /// A provider over an installation's state, its long-connection settings and supervisor.
    pub fn new(state: Arc<PluginState>, settings: Arc<LongSettings>, supervisor: Arc<Supervisor>) -> Self {
        LongProvider { state, settings, _supervisor: supervisor }
    }

    /// The setup information: where the connection goes and in which mode.
    pub fn setup(&self) -> SetupInfo {
        let url =
            self.state.host().config("WECOM_WS_URL").filter(|u| !u.is_empty()).unwrap_or_else(|| DEFAULT_WS_URL.into());
        // No `webhookUrl`: WeCom calls nothing in this mode; the WebSocket URL is its own field.
        let extra = Map::new();
        SetupInfo {
            mode: "long_connection".into(),
            callback_url: None,
            websocket_url: Some(url),
            hints: vec![
                I18nText::new(
                    "Choose API mode with long connection for the bot in the WeCom admin console, and copy its Bot ID and Secret here.",
                    "在企业微信管理后台为机器人选择 API 模式（长连接），并将其 Bot ID 与 Secret 填到这里。",
                ),
                I18nText::new(
                    "The Status tab shows whether the bot is connected and, when it is not, why.",
                    "“连接状态”页签显示机器人是否已连接，以及未连接的原因。",
                ),
            ],
            extra,
        }
    }
}

impl ProviderImpl for LongProvider {
    fn validate_config(&self, integration: Integration) -> Result<SetupInfo, Error> {
        LongConfig::from_options(&integration.options).map_err(|e| Error::invalid_config(e.0))?;
        Ok(self.setup())
    }

    fn on_lifecycle(
        &self,
        event: LifecycleEvent,
        integration: Integration,
        previous: Option<Integration>,
    ) -> BoxFuture<'static, Result<(), Error>> {
        let state = self.state.clone();
        Box::pin(async move {
            match event {
                LifecycleEvent::Deleted => {
                    // Close the connection first, so nothing it writes outlives the delete.
                    state.stop_connection(&integration.id, crate::state::reason::INTEGRATION_DELETED).await;
                    forget_integration(&state, &integration.id).await?;
                    state.wake_supervisor();
                    return Ok(());
                }
                LifecycleEvent::Updated if previous.as_ref().is_some_and(|p| p.options != integration.options) => {
                    // A running connection restarts with the new options.
                    let now = state.now_rfc3339();
                    desired::update(state.host().kv(), &integration.id, |d| {
                        d.config_changed_at = Some(now.clone());
                        d.generation += 1;
                    })
                    .await?;
                }
                _ => {}
            }
            tracing::info!(integration_id = %integration.id, event = event.as_str(), "wecom_long lifecycle");
            state.wake_supervisor();
            Ok(())
        })
    }

    fn test(&self, integration: Integration) -> BoxFuture<'static, Result<TestResult, Error>> {
        let setup = self.validate_config(integration.clone());
        let state = self.state.clone();
        let settings = self.settings.clone();
        Box::pin(async move {
            let setup = setup?;
            let config = LongConfig::from_options(&integration.options).map_err(|e| Error::invalid_config(e.0))?;
            let (ok, checked, message) = test_subscribe(&state, &settings, &config).await;
            Ok(TestResult { ok, checked: checked.into(), message, setup: Some(setup) })
        })
    }
}

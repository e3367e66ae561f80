//! The integration detail page's tabs: Status and Sessions (both modes; the short connection's
//! Status tab is [`crate::short::status_view`]).
//!
//! Read models only: reading a tab never writes. The Status tab combines the integration, its
//! trigger binding, the desired state (operator intent) and the observed status (written by the
//! bot's owner, trusted only while that owner still holds the bot's lease), and always says why
//! the bot is not connected when it is not. Actions record intent and say exactly what they
//! recorded and what will happen.

use std::sync::Arc;

use host_sdk::contract::{
    ActionResult, ActionScope, FieldKind, ViewAction, ViewData, ViewField, ViewKind, ViewManifest,
};
use host_sdk::plugin::ViewImpl;
use host_sdk::{BoxFuture, Error, I18nText, Integration, ViewQuery};
use serde_json::{json, Value};

use crate::config::LongConfig;
use crate::state::desired;
use crate::state::observed::{self, ObservedStatus};
use crate::state::{reason, PluginState};
use crate::{keys, sessions, PROVIDER_LONG, PROVIDER_SHORT};

/// The view extension.
pub struct WecomViews {
    state: Arc<PluginState>,
}

impl WecomViews {
    /// Views over an installation's state.
    pub fn new(state: Arc<PluginState>) -> Self {
        WecomViews { state }
    }
}

/// A read-only field of a tab, labelled in both languages.
pub(crate) fn field(key: &str, en: &str, zh: &str, kind: FieldKind) -> ViewField {
    ViewField { key: key.into(), label: I18nText::new(en, zh), kind, sortable: false }
}

/// A Status tab (stats kind, polled every 15 s) with these fields and toolbar actions.
pub(crate) fn status_tab(items: Vec<ViewField>, actions: Vec<ViewAction>) -> ViewManifest {
    ViewManifest {
        key: "status".into(),
        title: I18nText::new("Status", "连接状态"),
        kind: ViewKind::Stats,
        order: 10,
        poll_seconds: Some(15),
        items,
        columns: Vec::new(),
        row_key: None,
        searchable: false,
        page_size: None,
        actions,
    }
}

/// The toolbar action that re-reads a tab.
pub(crate) fn refresh_action() -> ViewAction {
    ViewAction {
        key: "refresh".into(),
        label: I18nText::new("Refresh", "刷新"),
        scope: ActionScope::Toolbar,
        confirm: None,
    }
}

fn status_manifest() -> ViewManifest {
    status_tab(
        vec![
            field("connectionModeText", "Connection mode", "连接模式", FieldKind::Text),
            field("stateText", "State", "状态", FieldKind::Text),
            field("reason", "Why", "原因", FieldKind::Text),
            field("botId", "Bot ID", "Bot ID", FieldKind::Text),
            field("ownerInstanceId", "Owner instance", "所属实例", FieldKind::Text),
            field("lastConnectedAt", "Last connected", "最近连接", FieldKind::Datetime),
            field("lastDisconnectedAt", "Last disconnected", "最近断开", FieldKind::Datetime),
            field("lastCallbackAt", "Last callback", "最近回调", FieldKind::Datetime),
            field("lastPingAt", "Last heartbeat", "最近心跳", FieldKind::Datetime),
            field("lastError", "Last error", "最近错误", FieldKind::Text),
            field("reconnectAttempts", "Reconnect attempts", "重连次数", FieldKind::Number),
            field("nextReconnectAt", "Next reconnect", "下次重连", FieldKind::Datetime),
            field("reconnectRequestedAt", "Reconnect requested", "请求重连时间", FieldKind::Datetime),
        ],
        vec![
            refresh_action(),
            ViewAction {
                key: "reconnect".into(),
                label: I18nText::new("Reconnect", "重新连接"),
                scope: ActionScope::Toolbar,
                confirm: None,
            },
            ViewAction {
                key: "disconnect".into(),
                label: I18nText::new("Disconnect", "断开连接"),
                scope: ActionScope::Toolbar,
                confirm: Some(I18nText::new(
                    "Disconnect this bot? It stays disconnected until you press Reconnect.",
                    "确定断开该机器人？在点击“重新连接”之前将保持断开。",
                )),
            },
        ],
    )
}

fn sessions_manifest() -> ViewManifest {
    let col = |key: &str, en: &str, zh: &str, kind: FieldKind| ViewField { sortable: true, ..field(key, en, zh, kind) };
    ViewManifest {
        key: "sessions".into(),
        title: I18nText::new("Sessions", "会话"),
        kind: ViewKind::Table,
        order: 30,
        poll_seconds: None,
        items: Vec::new(),
        columns: vec![
            col("chatType", "Chat type", "会话类型", FieldKind::Text),
            col("chatId", "Chat ID", "会话 ID", FieldKind::Text),
            col("senderId", "Sender ID", "发送者 ID", FieldKind::Text),
            col("xpertId", "Digital Expert", "数字专家", FieldKind::Text),
            col("conversationId", "Conversation ID", "对话 ID", FieldKind::Text),
            col("updatedAt", "Updated", "更新时间", FieldKind::Datetime),
        ],
        row_key: Some("id".into()),
        searchable: true,
        page_size: Some(10),
        actions: vec![ViewAction {
            key: "reset".into(),
            label: I18nText::new("Reset", "重置会话"),
            scope: ActionScope::Row,
            confirm: Some(I18nText::new(
                "Reset this session? It is the same as the user sending /new.",
                "确定重置该会话？效果等同于用户发送 /new。",
            )),
        }],
    }
}

fn answer(success: bool, message: I18nText) -> ActionResult {
    ActionResult { success, message, refresh: true }
}

/// The observed status, if it was written by the owner that still holds the bot's lease, and the
/// lease's current holder.
async fn live_status(
    state: &PluginState,
    integration: &Integration,
    observed: Option<&ObservedStatus>,
) -> Result<(Option<ObservedStatus>, Option<host_sdk::Lease>), Error> {
    let Ok(config) = LongConfig::from_options(&integration.options) else { return Ok((None, None)) };
    let lease = state.host().leases().current(&keys::bot_lease(&config.bot_id)).await?;
    let live = match (observed, &lease) {
        (Some(o), Some(l)) if l.token == o.fence_token && l.owner == o.lease_owner => Some(o.clone()),
        _ => None,
    };
    Ok((live, lease))
}

/// A connection state in words, for people (the item's `state` keeps the code).
fn state_words(state: &str) -> I18nText {
    match state {
        "idle" => I18nText::new("Not connected yet", "尚未连接"),
        "connecting" => I18nText::new("Connecting", "连接中"),
        "connected" => I18nText::new("Connected", "已连接"),
        "retrying" => I18nText::new("Reconnecting after a failure", "失败后重连中"),
        "standby" => I18nText::new("Standing by", "待命"),
        "unhealthy" => I18nText::new("Failing: needs your attention", "异常：需要处理"),
        "stopped" => I18nText::new("Stopped", "已停止"),
        other => I18nText::new(other, other),
    }
}

/// The Status tab's item: the owner's report while it holds the bot, else why nobody connects
/// (`disabledReason` is the stable code, `reason` its words in both languages).
async fn status_item(state: &PluginState, integration: &Integration) -> Result<Value, Error> {
    let kv = state.host().kv();
    let desired = desired::load(kv, &integration.id).await?;
    let observed = observed::load(kv, &integration.id).await?;
    let (live, lease) = live_status(state, integration, observed.as_ref()).await?;
    let blocking = state.blocking_reason(integration, &desired, observed.as_ref()).await?;
    let (state_name, code, words, owner) = match (&live, blocking) {
        (Some(o), _) => {
            let code = o.stop_reason.clone();
            let words = code.as_deref().map(reason::explain);
            (o.state.as_str(), code, words, Some(o.owner_instance_id.clone()))
        }
        (None, Some(why)) => {
            let latched = observed.as_ref().and_then(|o| o.latches(desired.generation));
            let (name, words) = match (why, latched) {
                (reason::CONFIG_INVALID, Some(_)) => ("unhealthy", reason::explain(reason::CONFIG_INVALID_BY_WECOM)),
                _ => ("stopped", reason::explain(why)),
            };
            (name, Some(why.to_string()), Some(words), None)
        }
        (None, None) => {
            let ours = format!("#{}", keys::lease_holder(state.scope.tenant_id(), &integration.id));
            match &lease {
                // This integration's own actor took the bot and has not reported yet.
                Some(l) if l.owner.ends_with(&ours) => (
                    "connecting",
                    None,
                    Some(reason::explain(reason::STARTING)),
                    Some(keys::owner_instance(&l.owner).to_string()),
                ),
                Some(l) => (
                    "standby",
                    Some(reason::STANDBY.to_string()),
                    Some(reason::explain(reason::STANDBY)),
                    Some(keys::owner_instance(&l.owner).to_string()),
                ),
                // Nothing stops it (no stop reason): it is being started.
                None => ("idle", None, Some(reason::explain(reason::STARTING)), None),
            }
        }
    };
    let bot_id = integration.options.get("botId").and_then(Value::as_str).unwrap_or_default();
    let history = observed.as_ref();
    Ok(json!({
        "connectionMode": "long_connection",
        "connectionModeText": crate::i18n::connection_mode("long_connection"),
        "state": state_name,
        "stateText": state_words(state_name),
        "reason": words,
        "botId": bot_id,
        "ownerInstanceId": owner,
        "lastConnectedAt": history.and_then(|o| o.last_connected_at.clone()),
        "lastDisconnectedAt": history.and_then(|o| o.last_disconnected_at.clone()),
        "lastCallbackAt": history.and_then(|o| o.last_callback_at.clone()),
        "lastPingAt": history.and_then(|o| o.last_ping_at.clone()),
        "lastError": history.and_then(|o| o.last_error.clone()),
        "reconnectAttempts": live.as_ref().map(|o| o.reconnect_attempts).unwrap_or(0),
        "nextReconnectAt": live.as_ref().and_then(|o| o.next_reconnect_at.clone()),
        "disabledReason": code,
        "manualDisconnect": desired.manual_disconnect,
        "reconnectRequestedAt": desired.reconnect_requested_at,
        "requestedGeneration": desired.generation,
        "servingGeneration": history.map(|o| o.generation),
    }))
}

async fn data(
    state: &PluginState,
    integration: &Integration,
    view: &str,
    query: &ViewQuery,
) -> Result<ViewData, Error> {
    match view {
        "status" if integration.provider == PROVIDER_LONG => {
            Ok(ViewData::Stats { item: status_item(state, integration).await? })
        }
        "status" => Ok(ViewData::Stats { item: crate::short::status_view::item(state, integration).await? }),
        "sessions" => {
            let (items, total) = sessions::query(state, &integration.id, query).await?;
            let items = items
                .into_iter()
                .map(|s| {
                    let mut row = serde_json::to_value(s).unwrap_or(Value::Null);
                    // Words for the chat type next to its code (the UI shows `<key>Text` when present).
                    let words = row.get("chatType").and_then(Value::as_str).map(crate::i18n::chat_type);
                    if let (Value::Object(map), Some(words)) = (&mut row, words) {
                        map.insert("chatTypeText".into(), serde_json::to_value(words).unwrap_or(Value::Null));
                    }
                    row
                })
                .collect();
            Ok(ViewData::Table { items, total: total as u64 })
        }
        other => Err(Error::not_found(format!("no view {other:?} for a {} integration", integration.provider))),
    }
}

/// How long an action waits for the bot's owner to carry it out before answering.
const CONFIRM_WAIT: std::time::Duration = std::time::Duration::from_secs(10);
/// How often it looks at the shared status meanwhile.
const CONFIRM_POLL: std::time::Duration = std::time::Duration::from_millis(100);

/// Reads the Status tab's item until `done` holds for it or [`CONFIRM_WAIT`] passes; returns the
/// last item and whether `done` held. The owner may be another instance: the shared store is
/// where its report arrives.
async fn wait_for(
    state: &PluginState,
    integration: &Integration,
    done: impl Fn(&Value) -> bool,
) -> Result<(Value, bool), Error> {
    let deadline = tokio::time::Instant::now() + CONFIRM_WAIT;
    loop {
        let item = status_item(state, integration).await?;
        if done(&item) {
            return Ok((item, true));
        }
        if tokio::time::Instant::now() >= deadline {
            return Ok((item, false));
        }
        tokio::time::sleep(CONFIRM_POLL).await;
    }
}

/// The words of an item's reason.
fn words(item: &Value) -> I18nText {
    serde_json::from_value(item["reason"].clone()).unwrap_or_default()
}

/// Disconnect: records the intent, then reports what the owner did with it.
async fn disconnect(state: &PluginState, integration: &Integration) -> Result<ActionResult, Error> {
    let now = state.now_rfc3339();
    let before = status_item(state, integration).await?;
    desired::update(state.host().kv(), &integration.id, |d| {
        d.manual_disconnect = true;
        d.manual_disconnect_at = Some(now.clone());
    })
    .await?;
    state.wake_supervisor();
    tracing::info!(integration_id = %integration.id, "manual disconnect recorded");
    if !matches!(before["state"].as_str(), Some("connected" | "connecting" | "retrying")) {
        return Ok(answer(
            true,
            I18nText::new(
                "Recorded: the bot stays disconnected until you press Reconnect. It was not connected, so nothing was closed.",
                "已记录：在点击“重新连接”之前机器人将保持断开。它当前未连接，因此没有关闭任何连接。",
            ),
        ));
    }
    let owner = before["ownerInstanceId"].as_str().unwrap_or("?").to_string();
    let was_open = before["state"] == "connected";
    let (_, closed) =
        wait_for(state, integration, |item| item["state"] == "stopped" && item["ownerInstanceId"].is_null()).await?;
    Ok(if closed && was_open {
        answer(
            true,
            I18nText::new(
                format!("Disconnected: instance {owner} closed the bot's connection. It stays disconnected until you press Reconnect."),
                format!("已断开：实例 {owner} 已关闭机器人的连接。在点击“重新连接”之前将保持断开。"),
            ),
        )
    } else if closed {
        answer(
            true,
            I18nText::new(
                format!("Disconnected: instance {owner} stopped trying to connect. It stays disconnected until you press Reconnect."),
                format!("已断开：实例 {owner} 已停止尝试连接。在点击“重新连接”之前将保持断开。"),
            ),
        )
    } else {
        answer(
            false,
            I18nText::new(
                format!("Recorded, but instance {owner} has not closed the connection yet; the Status tab shows when it does."),
                format!("已记录，但实例 {owner} 尚未关闭连接；关闭后“连接状态”页签会显示。"),
            ),
        )
    })
}

/// Reconnect: clears a manual disconnect and any latch, asks the owner to reconnect, and reports
/// what happened — connected, or why it does not connect.
async fn reconnect(state: &PluginState, integration: &Integration) -> Result<ActionResult, Error> {
    let now = state.now_rfc3339();
    let desired = desired::update(state.host().kv(), &integration.id, |d| {
        d.manual_disconnect = false;
        d.reconnect_requested_at = Some(now.clone());
        d.generation += 1;
    })
    .await?;
    state.wake_supervisor();
    tracing::info!(integration_id = %integration.id, generation = desired.generation, "reconnect requested");
    let observed = observed::load(state.host().kv(), &integration.id).await?;
    if let Some(why) = state.blocking_reason(integration, &desired, observed.as_ref()).await? {
        let why = reason::explain(why);
        return Ok(answer(
            false,
            I18nText::new(
                format!("Recorded: manual disconnect cleared. It does not connect: {}", why.en_us),
                format!("已记录：已清除手动断开。不会连接：{}", why.zh_hans),
            ),
        ));
    }
    let requested = desired.generation;
    let (item, settled) = wait_for(state, integration, |item| {
        // Settled once the owner reports on a connection of this request (or a later one) —
        // connected, or stopped again for a reason — or another holder keeps the bot.
        let fresh = item["servingGeneration"].as_u64().is_some_and(|g| g >= requested);
        match item["state"].as_str().unwrap_or_default() {
            "connected" | "unhealthy" | "stopped" => fresh,
            "retrying" => fresh && item["lastError"].is_string(),
            "standby" => true,
            _ => false,
        }
    })
    .await?;
    let owner = item["ownerInstanceId"].as_str().unwrap_or("?").to_string();
    Ok(match (item["state"].as_str(), settled) {
        (Some("connected"), true) => answer(
            true,
            I18nText::new(
                format!("Reconnected: instance {owner} subscribed the bot again."),
                format!("已重新连接：实例 {owner} 已重新订阅机器人。"),
            ),
        ),
        (Some("retrying"), true) => {
            let error = item["lastError"].as_str().unwrap_or_default();
            answer(
                false,
                I18nText::new(
                    format!("Reconnecting: instance {owner} could not connect yet ({error}); it keeps trying with backoff."),
                    format!("正在重新连接：实例 {owner} 暂未连上（{error}）；将按退避策略继续重试。"),
                ),
            )
        }
        (_, true) => {
            let why = words(&item);
            answer(false, I18nText::new(format!("Reconnect did not connect: {}", why.en_us), format!("重新连接未成功：{}", why.zh_hans)))
        }
        (_, false) => answer(
            false,
            I18nText::new(
                "Recorded: a reconnect was requested, but no instance has confirmed it yet; the Status tab shows when it connects.",
                "已记录：已请求重新连接，但尚无实例确认；连接后“连接状态”页签会显示。",
            ),
        ),
    })
}

async fn action(
    state: &PluginState,
    integration: &Integration,
    view: &str,
    action: &str,
    request: &Value,
) -> Result<ActionResult, Error> {
    match (view, action) {
        ("status", _) if integration.provider != PROVIDER_LONG => crate::short::status_view::action(action),
        ("status", "refresh") => Ok(answer(true, I18nText::new("Status re-read.", "已重新读取状态。"))),
        ("status", "disconnect") => disconnect(state, integration).await,
        ("status", "reconnect") => reconnect(state, integration).await,
        ("sessions", "reset") => {
            let target = request.get("targetId").and_then(Value::as_str).map(str::trim).unwrap_or_default();
            if target.is_empty() {
                return Err(Error::invalid_argument("reset needs the targetId of a session"));
            }
            if sessions::reset(state, &integration.id, target).await? {
                Ok(answer(
                    true,
                    I18nText::new(
                        "Session reset. The next message starts a new conversation.",
                        "会话已重置，下一条消息将开启新对话。",
                    ),
                ))
            } else {
                Ok(answer(
                    false,
                    I18nText::new("This session does not exist or was already reset.", "该会话不存在或已被重置。"),
                ))
            }
        }
        (view, action) => Err(Error::not_found(format!("no action {action:?} on view {view:?}"))),
    }
}

impl ViewImpl for WecomViews {
    fn supports(&self, provider: &str) -> bool {
        provider == PROVIDER_SHORT || provider == PROVIDER_LONG
    }

    fn manifests(&self, integration: Integration) -> BoxFuture<'static, Result<Vec<ViewManifest>, Error>> {
        Box::pin(async move {
            let mut tabs = Vec::new();
            if integration.provider == PROVIDER_LONG {
                tabs.push(status_manifest());
            } else {
                tabs.push(crate::short::status_view::manifest());
            }
            tabs.push(sessions_manifest());
            Ok(tabs)
        })
    }

    fn data(
        &self,
        integration: Integration,
        view: String,
        query: ViewQuery,
    ) -> BoxFuture<'static, Result<ViewData, Error>> {
        let state = self.state.clone();
        Box::pin(async move { data(&state, &integration, &view, &query).await })
    }

    fn action(
        &self,
        integration: Integration,
        view: String,
        action_key: String,
        request: Value,
    ) -> BoxFuture<'static, Result<ActionResult, Error>> {
        let state = self.state.clone();
        Box::pin(async move { action(&state, &integration, &view, &action_key, &request).await })
    }
}

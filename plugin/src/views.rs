//! The integration detail page's tabs: Status (long connection only) and Sessions (both modes).

use std::sync::Arc;

use host_sdk::plugin::ViewImpl;
use host_sdk::{BoxFuture, Error, Integration, ViewQuery};
use serde_json::{json, Value};

use crate::i18n::label;
use crate::state::PluginState;
use crate::status::{self, reason};
use crate::{sessions, PROVIDER_LONG, PROVIDER_SHORT};

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

fn status_manifest() -> Value {
    let item = |key: &str, en: &str, zh: &str, kind: &str| json!({"key": key, "label": label(en, zh), "type": kind});
    json!({
        "key": "status",
        "title": label("Status", "连接状态"),
        "kind": "stats",
        "order": 10,
        "pollSeconds": 15,
        "items": [
            item("connectionMode", "Connection mode", "连接模式", "text"),
            item("state", "State", "状态", "status"),
            item("botId", "Bot ID", "Bot ID", "text"),
            item("ownerInstanceId", "Owner instance", "所属实例", "text"),
            item("lastConnectedAt", "Last connected", "最近连接", "datetime"),
            item("lastDisconnectedAt", "Last disconnected", "最近断开", "datetime"),
            item("lastCallbackAt", "Last callback", "最近回调", "datetime"),
            item("lastPingAt", "Last heartbeat", "最近心跳", "datetime"),
            item("lastError", "Last error", "最近错误", "text"),
            item("reconnectAttempts", "Reconnect attempts", "重连次数", "number"),
            item("disabledReason", "Stop reason", "停止原因", "text")
        ],
        "actions": [
            {"key": "refresh", "label": label("Refresh", "刷新"), "scope": "toolbar"},
            {"key": "reconnect", "label": label("Reconnect", "重新连接"), "scope": "toolbar"},
            {"key": "disconnect", "label": label("Disconnect", "断开连接"), "scope": "toolbar",
             "confirm": label("Disconnect this bot? It stays stopped until you reconnect.", "确定断开该机器人？在重新连接前将保持停止。")}
        ]
    })
}

fn sessions_manifest() -> Value {
    let col = |key: &str, en: &str, zh: &str, kind: &str| json!({"key": key, "label": label(en, zh), "type": kind, "sortable": true});
    json!({
        "key": "sessions",
        "title": label("Sessions", "会话"),
        "kind": "table",
        "order": 30,
        "rowKey": "id",
        "searchable": true,
        "pageSize": 10,
        "columns": [
            col("chatType", "Chat type", "会话类型", "text"),
            col("chatId", "Chat ID", "会话 ID", "text"),
            col("senderId", "Sender ID", "发送者 ID", "text"),
            col("xpertId", "Digital Expert", "数字专家", "text"),
            col("conversationId", "Conversation ID", "对话 ID", "text"),
            col("updatedAt", "Updated", "更新时间", "datetime")
        ],
        "actions": [
            {"key": "reset", "label": label("Reset", "重置会话"), "scope": "row",
             "confirm": label("Reset this session? It is the same as the user sending /new.", "确定重置该会话？效果等同于用户发送 /new。")}
        ]
    })
}

fn result(success: bool, en: &str, zh: &str) -> Value {
    json!({"success": success, "message": label(en, zh), "refresh": true})
}

async fn data(state: &PluginState, integration: &Integration, view: &str, query: &ViewQuery) -> Result<Value, Error> {
    match view {
        "status" if integration.provider == PROVIDER_LONG => {
            let status = status::refresh(state, integration).await?;
            Ok(json!({ "item": status }))
        }
        "sessions" => {
            let (items, total) = sessions::query(state, &integration.id, query).await?;
            Ok(json!({ "items": items, "total": total }))
        }
        other => Err(Error::not_found(format!("no view {other:?} for a {} integration", integration.provider))),
    }
}

async fn action(
    state: &PluginState,
    integration: &Integration,
    view: &str,
    action: &str,
    request: &Value,
) -> Result<Value, Error> {
    match (view, action) {
        ("status", _) if integration.provider != PROVIDER_LONG => {
            Err(Error::not_found("the Status tab exists only for long-connection integrations"))
        }
        ("status", "refresh") => {
            status::refresh(state, integration).await?;
            Ok(result(true, "Status refreshed.", "状态已刷新。"))
        }
        ("status", "disconnect") => {
            let mut current = status::refresh(state, integration).await?;
            current.state = "idle".into();
            current.owner_instance_id = None;
            current.disabled_reason = Some(reason::MANUAL_DISCONNECT.into());
            status::save(state, &integration.id, &current).await?;
            tracing::info!(integration_id = %integration.id, "long connection stopped by the operator");
            Ok(result(true, "Disconnected. It stays stopped until you reconnect.", "已断开，重新连接前将保持停止。"))
        }
        ("status", "reconnect") => {
            if let Some(mut current) = status::load(state, &integration.id).await? {
                current.disabled_reason = None;
                current.reconnect_attempts = 0;
                current.last_error = None;
                status::save(state, &integration.id, &current).await?;
            }
            let current = status::refresh(state, integration).await?;
            match current.disabled_reason.as_deref() {
                None => Ok(result(true, "Reconnect requested.", "已请求重新连接。")),
                Some(reason::XPERT_UNBOUND) => Ok(result(
                    false,
                    "Not connected: publish a Digital Expert with a WeCom Trigger bound to this integration first.",
                    "未连接：请先发布绑定此集成的企业微信触发器的数字专家。",
                )),
                Some(reason::INTEGRATION_DISABLED) => {
                    Ok(result(false, "Not connected: the integration is disabled.", "未连接：该集成已停用。"))
                }
                Some(_) => Ok(result(false, "Not connected: the configuration is invalid.", "未连接：配置无效。")),
            }
        }
        ("sessions", "reset") => {
            let target = request.get("targetId").and_then(Value::as_str).map(str::trim).unwrap_or_default();
            if target.is_empty() {
                return Err(Error::invalid_argument("reset needs the targetId of a session"));
            }
            if sessions::reset(state, &integration.id, target).await? {
                Ok(result(
                    true,
                    "Session reset. The next message starts a new conversation.",
                    "会话已重置，下一条消息将开启新对话。",
                ))
            } else {
                Ok(result(false, "This session does not exist or was already reset.", "该会话不存在或已被重置。"))
            }
        }
        (view, action) => Err(Error::not_found(format!("no action {action:?} on view {view:?}"))),
    }
}

impl ViewImpl for WecomViews {
    fn supports(&self, provider: &str) -> bool {
        if self.state.panic_probes && provider == "__panic_probe__" {
            panic!("panic probe: deliberate panic inside a synchronous plugin call");
        }
        provider == PROVIDER_SHORT || provider == PROVIDER_LONG
    }

    fn manifests(&self, integration: Integration) -> BoxFuture<'static, Result<Value, Error>> {
        Box::pin(async move {
            let mut tabs = Vec::new();
            if integration.provider == PROVIDER_LONG {
                tabs.push(status_manifest());
            }
            tabs.push(sessions_manifest());
            Ok(Value::Array(tabs))
        })
    }

    fn data(
        &self,
        integration: Integration,
        view: String,
        query: ViewQuery,
    ) -> BoxFuture<'static, Result<Value, Error>> {
        let state = self.state.clone();
        Box::pin(async move { data(&state, &integration, &view, &query).await })
    }

    fn action(
        &self,
        integration: Integration,
        view: String,
        action_key: String,
        request: Value,
    ) -> BoxFuture<'static, Result<Value, Error>> {
        let state = self.state.clone();
        Box::pin(async move { action(&state, &integration, &view, &action_key, &request).await })
    }
}

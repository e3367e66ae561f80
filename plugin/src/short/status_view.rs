//! The Status tab of a `wecom` (short-connection) integration: whether WeCom's callbacks get
//! through and, when they do not, why. A read model: reading it never writes.

use host_sdk::contract::{ActionResult, FieldKind, ViewManifest};
use host_sdk::{Error, I18nText, Integration};
use serde_json::Value;

use super::status;
use crate::i18n;
use crate::state::PluginState;
use crate::views::{field, refresh_action, status_tab};

/// The tab's manifest.
pub fn manifest() -> ViewManifest {
    status_tab(
        vec![
            field("connectionModeText", "Connection mode", "连接模式", FieldKind::Text),
            field("stateText", "State", "状态", FieldKind::Text),
            field("lastVerificationAt", "Last URL verification", "最近 URL 验证", FieldKind::Datetime),
            field("lastVerificationResultText", "Verification result", "验证结果", FieldKind::Text),
            field("lastCallbackAt", "Last callback", "最近回调", FieldKind::Datetime),
            field("acceptedLastHour", "Callbacks accepted (last hour)", "近一小时接受的回调", FieldKind::Number),
            field("refusedLastHour", "Callbacks refused (last hour)", "近一小时拒绝的回调", FieldKind::Number),
            field("refusedSummaryText", "Refused by reason (last hour)", "近一小时拒绝原因", FieldKind::Text),
            field("lastRefusedAt", "Last refusal", "最近拒绝", FieldKind::Datetime),
            field("lastError", "Last error", "最近错误", FieldKind::Text),
            field("streamsInFlight", "Streams in flight", "进行中的流式回复", FieldKind::Number),
        ],
        vec![refresh_action()],
    )
}

/// The tab's item.
pub async fn item(state: &PluginState, integration: &Integration) -> Result<Value, Error> {
    let bound = state.binding(&integration.id).await?.is_some();
    let mut item = status::read(state, &integration.id, integration.enabled, bound).await?;
    with_words(&mut item);
    Ok(item)
}

/// Adds words in both languages next to the item's codes (`connectionModeText`,
/// `lastVerificationResultText`, `refusedSummaryText`); the codes themselves stay as they are.
fn with_words(item: &mut Value) {
    let Value::Object(map) = item else { return };
    let text = |t: I18nText| serde_json::to_value(t).unwrap_or(Value::Null);
    let mode = map.get("connectionMode").and_then(Value::as_str).unwrap_or("short_connection").to_string();
    map.insert("connectionModeText".into(), text(i18n::connection_mode(&mode)));
    let verification =
        map.get("lastVerificationResult").and_then(Value::as_str).map(|r| text(i18n::verification_result(r)));
    map.insert("lastVerificationResultText".into(), verification.unwrap_or(Value::Null));
    let refused = map.get("refusedByReason").and_then(Value::as_object).cloned().unwrap_or_default();
    map.insert("refusedSummaryText".into(), text(i18n::refused_summary(&refused)));
}

/// The tab's actions: only `refresh` (there is no connection to open or close).
pub fn action(action: &str) -> Result<ActionResult, Error> {
    match action {
        "refresh" => Ok(ActionResult {
            success: true,
            message: I18nText::new("Status re-read.", "已重新读取状态。"),
            refresh: true,
        }),
        other => Err(Error::not_found(format!(
            "no action {other:?} on a short-connection integration's Status tab (WeCom calls the webhook; there is no connection to open or close)"
        ))),
    }
}

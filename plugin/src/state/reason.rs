//! Why a long connection is not running, as stable codes (stored, shown, tested) with words for
//! people.

use host_sdk::I18nText;

/// The operator pressed Disconnect; cleared by Reconnect.
pub const MANUAL_DISCONNECT: &str = "manual_disconnect";
/// The integration is disabled.
pub const INTEGRATION_DISABLED: &str = "integration_disabled";
/// No published WeCom Trigger binds the integration.
pub const XPERT_UNBOUND: &str = "xpert_unbound";
/// The configuration is invalid (or WeCom refused the credentials).
pub const CONFIG_INVALID: &str = "config_invalid";
/// Another connection to the same bot took over.
pub const DISPLACED: &str = "displaced";
/// Nothing blocks the connection, but this build of the plugin has no long-connection client:
/// no socket is opened.
pub const NO_CONNECTION_CLIENT: &str = "no_connection_client";

/// What a reason means, for the Status tab and action answers.
pub fn explain(reason: &str) -> I18nText {
    match reason {
        MANUAL_DISCONNECT => I18nText::new(
            "Disconnected by an operator; it stays disconnected until someone presses Reconnect.",
            "已被操作员断开；在有人点击“重新连接”之前将保持断开。",
        ),
        INTEGRATION_DISABLED => I18nText::new(
            "The integration is disabled; enable it to connect.",
            "该集成已停用；启用后才会连接。",
        ),
        XPERT_UNBOUND => I18nText::new(
            "No published Digital Expert has a WeCom Trigger bound to this integration; publish one to connect.",
            "没有已发布的数字专家通过企业微信触发器绑定此集成；发布后才会连接。",
        ),
        CONFIG_INVALID => I18nText::new(
            "The configuration is invalid; correct the Bot ID and Secret and save.",
            "配置无效；请更正 Bot ID 与 Secret 后保存。",
        ),
        DISPLACED => I18nText::new(
            "Another connection took this bot over (WeCom allows one per bot); look for a second deployment using the same Bot ID, then press Reconnect.",
            "另一个连接接管了此机器人（企业微信每个机器人只允许一个连接）；请检查是否有另一处部署使用相同的 Bot ID，然后点击“重新连接”。",
        ),
        NO_CONNECTION_CLIENT => I18nText::new(
            "Ready to connect, but this build of the WeCom plugin has no long-connection client yet: no connection is opened.",
            "已满足连接条件，但此版本的企业微信插件尚未包含长连接客户端：不会建立连接。",
        ),
        other => I18nText::new(format!("Not connected ({other})."), format!("未连接（{other}）。")),
    }
}

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
/// The plugin's installation on the owning instance stopped (uninstall, or host shutdown); a
/// restart brings the connection back.
pub const INSTALLATION_STOPPED: &str = "installation_stopped";
/// Another instance, or another integration with the same Bot ID, holds the bot's connection;
/// this one takes over when it frees.
pub const STANDBY: &str = "standby";
/// Nothing blocks the connection and no instance reports it yet: it is being started.
pub const STARTING: &str = "starting";
/// The connection restarts with new settings or on an operator's Reconnect.
pub const RESTARTING: &str = "restarting";
/// The integration was deleted (or moved to another provider).
pub const INTEGRATION_DELETED: &str = "integration_deleted";

/// `config_invalid` as recorded by the owner when WeCom refused the credentials (the stored code
/// is `config_invalid`; the Status tab explains it with this key's words).
pub const CONFIG_INVALID_BY_WECOM: &str = "config_invalid_by_wecom";

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
            "No published Digital Expert uses this integration: publish one with a WeCom Trigger bound to it to connect.",
            "没有已发布的数字专家使用此集成：发布一个绑定此集成的企业微信触发器后才会连接。",
        ),
        CONFIG_INVALID => I18nText::new(
            "The configuration is invalid; correct the Bot ID and Secret and save.",
            "配置无效；请更正 Bot ID 与 Secret 后保存。",
        ),
        DISPLACED => I18nText::new(
            "Another connection took this bot over (WeCom allows one per bot); look for a second deployment using the same Bot ID, then press Reconnect.",
            "另一个连接接管了此机器人（企业微信每个机器人只允许一个连接）；请检查是否有另一处部署使用相同的 Bot ID，然后点击“重新连接”。",
        ),
        CONFIG_INVALID_BY_WECOM => I18nText::new(
            "WeCom refused the Bot ID or Secret several times in a row; correct them and save, or press Reconnect.",
            "企业微信多次拒绝了 Bot ID 或 Secret；请更正后保存，或点击“重新连接”。",
        ),
        INSTALLATION_STOPPED => I18nText::new(
            "The WeCom plugin stopped on the instance that held the connection (uninstalled, or the host shut down); it reconnects when the plugin runs again.",
            "持有连接的实例上的企业微信插件已停止（被卸载或主机关闭）；插件再次运行时会重新连接。",
        ),
        STANDBY => I18nText::new(
            "Standing by: another instance, or another integration with the same Bot ID, holds this bot's connection (WeCom allows one); it takes over when that one stops.",
            "待命：另一个实例或使用相同 Bot ID 的另一个集成持有此机器人的连接（企业微信只允许一个）；对方停止后将接管。",
        ),
        RESTARTING => I18nText::new(
            "Reconnecting with the latest settings.",
            "正在使用最新设置重新连接。",
        ),
        INTEGRATION_DELETED => I18nText::new("The integration was deleted.", "该集成已被删除。"),
        STARTING => I18nText::new(
            "Starting: nothing blocks the connection and an instance is opening it.",
            "正在启动：连接条件已满足，实例正在建立连接。",
        ),
        other => I18nText::new(format!("Not connected ({other})."), format!("未连接（{other}）。")),
    }
}

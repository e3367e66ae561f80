//! User-facing text in English and Simplified Chinese.

use host_sdk::I18nText;
use serde_json::{json, Value};

/// A label object as the host and UI expect it: `{"en_US": …, "zh_Hans": …}`.
pub fn label(en: &str, zh: &str) -> Value {
    json!({ "en_US": en, "zh_Hans": zh })
}

/// The language a user-facing message is written in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lang {
    /// English.
    En,
    /// Simplified Chinese (the default, as on the WeCom platform).
    Zh,
}

impl Lang {
    /// From an integration's `preferLanguage`: empty, missing or any `zh*` means Chinese.
    pub fn from_preference(pref: Option<&str>) -> Lang {
        match pref.map(str::trim) {
            Some(p) if !p.is_empty() && !p.to_ascii_lowercase().starts_with("zh") => Lang::En,
            _ => Lang::Zh,
        }
    }

    /// Picks the text for this language.
    pub fn pick<'a>(self, en: &'a str, zh: &'a str) -> &'a str {
        match self {
            Lang::En => en,
            Lang::Zh => zh,
        }
    }
}

/// A connection mode's name for people (the status item's `connectionMode` keeps the code).
pub fn connection_mode(mode: &str) -> I18nText {
    match mode {
        "long_connection" => I18nText::new("Long connection (WebSocket)", "长连接（WebSocket）"),
        "short_connection" | "webhook" => I18nText::new("Short connection (callback URL)", "短连接（回调地址）"),
        other => I18nText::new(other, other),
    }
}

/// A URL verification result in words (the item's `lastVerificationResult` keeps what was
/// recorded: `ok` or the rule that failed).
pub fn verification_result(result: &str) -> I18nText {
    match result {
        "ok" => I18nText::new("Passed", "通过"),
        "the integration's configuration is invalid" => {
            I18nText::new("Failed: the integration's configuration is invalid", "失败：该集成的配置无效")
        }
        "echostr does not decrypt with the EncodingAESKey" => I18nText::new(
            "Failed: WeCom's test string does not decrypt with the EncodingAESKey",
            "失败：企业微信的验证串无法用 EncodingAESKey 解密",
        ),
        "signature mismatch" => {
            I18nText::new("Failed: the signature does not match the Token", "失败：签名与 Token 不匹配")
        }
        "msg_signature, timestamp, nonce and echostr are all required" => {
            I18nText::new("Failed: the verification request was incomplete", "失败：验证请求缺少参数")
        }
        other => I18nText::new(format!("Failed: {other}"), format!("失败：{other}")),
    }
}

/// A chat's type in words (`single` or `group`, as WeCom names them).
pub fn chat_type(chat_type: &str) -> I18nText {
    match chat_type {
        "single" => I18nText::new("Direct chat", "单聊"),
        "group" => I18nText::new("Group chat", "群聊"),
        other => I18nText::new(other, other),
    }
}

/// Why a callback was refused, in words (the status item's `refusedByReason` keeps the codes).
pub fn refusal(code: &str) -> I18nText {
    match code {
        "body_too_large" => I18nText::new("body too large", "请求体过大"),
        "malformed_query" => I18nText::new("unreadable query", "查询参数无法解析"),
        "unsigned" => I18nText::new("unsigned", "缺少签名"),
        "no_encrypt" => I18nText::new("not encrypted", "未加密"),
        "malformed_body" => I18nText::new("unreadable body", "请求体无法解析"),
        "bad_signature" => I18nText::new("wrong signature", "签名错误"),
        "decrypt_failed" => I18nText::new("does not decrypt", "无法解密"),
        "bad_payload" => I18nText::new("unknown content", "无法识别的内容"),
        "config_invalid" => I18nText::new("configuration invalid", "配置无效"),
        "store_unavailable" => I18nText::new("store unavailable", "存储不可用"),
        other => I18nText::new(other, other),
    }
}

/// The refused callbacks of the last hour by reason, in words (`None` refused: "none").
pub fn refused_summary(by_reason: &serde_json::Map<String, Value>) -> I18nText {
    if by_reason.is_empty() {
        return I18nText::new("none", "无");
    }
    let part = |zh: bool| {
        by_reason
            .iter()
            .map(|(code, n)| {
                let words = refusal(code);
                format!("{} {}", if zh { words.zh_hans } else { words.en_us }, n)
            })
            .collect::<Vec<_>>()
            .join(if zh { "，" } else { ", " })
    };
    I18nText::new(part(false), part(true))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_is_the_default_language() {
        assert_eq!(Lang::from_preference(None), Lang::Zh);
        assert_eq!(Lang::from_preference(Some("")), Lang::Zh);
        assert_eq!(Lang::from_preference(Some("zh-Hans")), Lang::Zh);
        assert_eq!(Lang::from_preference(Some("en")), Lang::En);
    }

    #[test]
    fn enum_values_have_words_in_both_languages() {
        let mode = connection_mode("long_connection");
        assert_ne!(mode.en_us, "long_connection");
        assert!(!mode.zh_hans.is_ascii());
        let mut refused = serde_json::Map::new();
        refused.insert("bad_signature".into(), json!(2));
        let summary = refused_summary(&refused);
        assert_eq!((summary.en_us.as_str(), summary.zh_hans.as_str()), ("wrong signature 2", "签名错误 2"));
        assert_eq!(verification_result("ok").zh_hans, "通过");
        assert_eq!(chat_type("group").zh_hans, "群聊");
    }
}

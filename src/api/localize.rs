//! Words for people in both languages where the API passes on what a plugin said in English:
//! a provider's validation message (`<optionKey> <rule>`, as the WeCom plugin and the
//! `host-api.md` examples phrase them) becomes a sentence naming the field by its label from the
//! provider's schema, in English and Chinese, with the field's key in `fields` so a form can
//! highlight it. `message` stays exactly what the plugin said, for scripts.

use host_sdk::contract::ConfigSchema;
use serde_json::Value;

use super::ApiError;

/// A schema property's label: `(en, zh)`, the key itself when the schema has none.
pub fn label(schema: &ConfigSchema, key: &str) -> (String, String) {
    let title = schema.properties.get(key).and_then(|p| p.get("title"));
    match title {
        Some(Value::Object(t)) => {
            let en = t.get("en_US").and_then(Value::as_str).unwrap_or(key).to_string();
            let zh = t.get("zh_Hans").and_then(Value::as_str).unwrap_or(&en).to_string();
            (en, zh)
        }
        Some(Value::String(s)) => (s.clone(), s.clone()),
        _ => (key.to_string(), key.to_string()),
    }
}

/// The numbers in a text, in order.
fn numbers(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_ascii_digit()).filter(|s| !s.is_empty()).map(str::to_string).collect()
}

/// A rule (the part of a validation message after the option's key) in Chinese.
pub fn rule_zh(rule: &str) -> String {
    let n = numbers(rule);
    let nth = |i: usize| n.get(i).cloned().unwrap_or_default();
    if rule == "is required" {
        "为必填项".into()
    } else if rule == "must be a string" {
        "必须是文本".into()
    } else if rule.starts_with("must be exactly") && rule.contains("characters") {
        if n.len() >= 2 {
            format!("必须正好为 {} 个字符（当前为 {} 个）", nth(0), nth(1))
        } else {
            format!("必须正好为 {} 个字符", nth(0))
        }
    } else if rule.starts_with("may only contain letters, digits") {
        "只能包含字母、数字、+ 和 /".into()
    } else if rule.contains("base64") {
        "不是有效的 Base64 文本".into()
    } else if rule.contains("does not decode to") {
        format!("无法解码为 {} 字节", nth(0))
    } else if rule.starts_with("must be a whole number of milliseconds") {
        format!("必须是 {} 到 {} 之间的整数（毫秒）", nth(0), nth(1))
    } else if rule.starts_with("must be a whole number of seconds") {
        format!("必须是不小于 {} 的整数（秒）", nth(0))
    } else if rule.contains("\"en\" or \"zh-Hans\"") {
        "必须是英文或简体中文".into()
    } else if rule.starts_with("must be the bot's") {
        "必须是机器人的 ID（仅字母、数字、_ 或 -）".into()
    } else if rule.starts_with("must be an origin") {
        "必须是形如 https://example.com 的来源地址".into()
    } else {
        format!("：{rule}")
    }
}

/// English and Chinese for a rule about an option with this label.
pub fn sentence(label: &(String, String), rule: &str) -> (String, String) {
    let rule_en = rule.trim_end_matches('.');
    (format!("{} {rule_en}.", label.0), format!("{}{}。", label.1, rule_zh(rule_en)))
}

/// A provider's validation error in both languages, naming the field by its label, with the
/// field in `fields` when the message names an option of the schema.
pub fn config_error(err: ApiError, schema: &ConfigSchema) -> ApiError {
    if err.code != "INVALID_CONFIG" || err.has_zh() {
        return err;
    }
    let message = err.message.clone();
    let Some((key, rule)) = message.split_once(' ') else { return err };
    if !schema.properties.contains_key(key) {
        return match message.as_str() {
            "options must be a JSON object" | "options are required" => {
                err.en("The settings must be a JSON object.").zh("配置必须是 JSON 对象。")
            }
            _ => err,
        };
    }
    let (en, zh) = sentence(&label(schema, key), rule);
    err.en(en.clone()).zh(zh.clone()).field(key, en, zh)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::StatusCode;
    use serde_json::json;

    fn schema() -> ConfigSchema {
        serde_json::from_value(json!({
            "type": "object",
            "properties": {"token": {"type": "string", "title": {"en_US": "Callback Token", "zh_Hans": "回调 Token"}}},
            "required": ["token"], "secret": ["token"]
        }))
        .unwrap()
    }

    #[test]
    fn a_rule_about_an_option_names_its_label_in_both_languages() {
        let err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_CONFIG", "token is required");
        let err = config_error(err, &schema());
        assert_eq!(err.message, "token is required", "scripts keep the plugin's text");
        assert_eq!(err.localized(), json!({"en_US": "Callback Token is required.", "zh_Hans": "回调 Token为必填项。"}));
        assert_eq!(err.fields()[0]["key"], "token");
    }

    #[test]
    fn every_rule_of_the_wecom_options_has_chinese() {
        for rule in [
            "is required",
            "must be a string",
            "must be exactly 43 characters (got 44)",
            "may only contain letters, digits, + and /",
            "is not decodable base64",
            "does not decode to 32 bytes",
            "must be a whole number of milliseconds between 100 and 120000",
            "must be \"en\" or \"zh-Hans\"",
            "must be the bot's alphanumeric id (letters, digits, _ or -)",
            "must be an origin such as https://example.com",
            "must be a whole number of seconds, at least 1",
        ] {
            let zh = rule_zh(rule);
            assert!(!zh.starts_with('：'), "{rule}: {zh}");
        }
        assert_eq!(rule_zh("must be exactly 43 characters (got 44)"), "必须正好为 43 个字符（当前为 44 个）");
    }
}

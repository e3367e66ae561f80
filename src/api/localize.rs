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
    } else if rule.starts_with("must be at least") && rule.contains("characters") {
        format!("至少需要 {} 个字符（当前为 {} 个）", nth(0), nth(1))
    } else if rule.starts_with("must be at most") && rule.contains("characters") {
        format!("最多 {} 个字符（当前为 {} 个）", nth(0), nth(1))
    } else if rule == "must be one of the listed choices" {
        "必须是列出的选项之一".into()
    } else if rule == "must be a number" {
        "必须是数字".into()
    } else if rule.starts_with("must be between") {
        format!("必须在 {} 到 {} 之间", nth(0), nth(1))
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

/// The problems the schema itself shows in `options` (required, string length, number range,
/// enum), one per option, as `(key, en, zh)`: with a provider's refusal, which names only the
/// first rule it broke, they let a form mark every invalid field at once.
pub fn schema_problems(schema: &ConfigSchema, options: &Value) -> Vec<(String, String, String)> {
    let Value::Object(options) = options else { return Vec::new() };
    let mut problems = Vec::new();
    for (key, prop) in &schema.properties {
        let value = options.get(key);
        let blank = match value {
            None | Some(Value::Null) => true,
            Some(Value::String(s)) => s.trim().is_empty(),
            _ => false,
        };
        let rule = if blank {
            schema.required.contains(key).then(|| "is required".to_string())
        } else {
            let value = value.unwrap_or(&Value::Null);
            let n = |k: &str| prop.get(k).and_then(Value::as_u64);
            let f = |k: &str| prop.get(k).and_then(Value::as_f64);
            let as_number = value.as_f64().or_else(|| value.as_str().and_then(|s| s.trim().parse::<f64>().ok()));
            match (prop.get("type").and_then(Value::as_str), value) {
                (_, _) if prop.get("enum").and_then(Value::as_array).is_some_and(|e| !e.contains(value)) => {
                    Some("must be one of the listed choices".to_string())
                }
                (Some("string"), Value::String(s)) if s.trim() != super::integrations::MASK => {
                    let got = s.trim().chars().count() as u64;
                    match (n("minLength"), n("maxLength")) {
                        (Some(a), Some(b)) if a == b && got != a => {
                            Some(format!("must be exactly {a} characters (got {got})"))
                        }
                        (Some(a), _) if got < a => Some(format!("must be at least {a} characters (got {got})")),
                        (_, Some(b)) if got > b => Some(format!("must be at most {b} characters (got {got})")),
                        _ => None,
                    }
                }
                (Some("integer" | "number"), _) => match as_number {
                    None => Some("must be a number".to_string()),
                    Some(x) if f("minimum").is_some_and(|m| x < m) || f("maximum").is_some_and(|m| x > m) => {
                        Some(format!(
                            "must be between {} and {}",
                            f("minimum").map(|m| m.to_string()).unwrap_or_else(|| "…".into()),
                            f("maximum").map(|m| m.to_string()).unwrap_or_else(|| "…".into())
                        ))
                    }
                    _ => None,
                },
                _ => None,
            }
        };
        if let Some(rule) = rule {
            let (en, zh) = sentence(&label(schema, key), &rule);
            problems.push((key.clone(), en, zh));
        }
    }
    problems
}

/// A provider's validation error in both languages, naming the field by its label, with the
/// field in `fields` when the message names an option of the schema — and every other option
/// the schema itself shows to be invalid in `options`.
pub fn config_error(err: ApiError, schema: &ConfigSchema, options: &Value) -> ApiError {
    if err.code != "INVALID_CONFIG" || err.has_zh() {
        return err;
    }
    let message = err.message.clone();
    let named = message.split_once(' ').filter(|(key, _)| schema.properties.contains_key(*key));
    let mut err = match named {
        Some((key, rule)) => {
            let (en, zh) = sentence(&label(schema, key), rule);
            err.en(en.clone()).zh(zh.clone()).field(key, en, zh)
        }
        None => match message.as_str() {
            "options must be a JSON object" | "options are required" => {
                return err.en("The settings must be a JSON object.").zh("配置必须是 JSON 对象。");
            }
            _ => err,
        },
    };
    for (key, en, zh) in schema_problems(schema, options) {
        if named.is_none_or(|(k, _)| k != key) {
            err = err.field(&key, en, zh);
        }
    }
    err
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
        let err = config_error(err, &schema(), &json!({}));
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
            "must be at least 3 characters (got 1)",
            "must be at most 3 characters (got 5)",
            "must be one of the listed choices",
            "must be a number",
            "must be between 100 and 120000",
        ] {
            let zh = rule_zh(rule);
            assert!(!zh.starts_with('：'), "{rule}: {zh}");
        }
        assert_eq!(rule_zh("must be exactly 43 characters (got 44)"), "必须正好为 43 个字符（当前为 44 个）");
    }
}

#[cfg(test)]
mod schema_tests {
    use super::*;
    use axum::http::StatusCode;
    use serde_json::json;

    #[test]
    fn every_option_the_schema_shows_invalid_is_named_with_the_plugins_refusal() {
        let schema: ConfigSchema = serde_json::from_value(json!({
            "type": "object",
            "properties": {
                "token": {"type": "string", "title": {"en_US": "Callback Token", "zh_Hans": "回调 Token"}},
                "key": {"type": "string", "minLength": 43, "maxLength": 43, "title": {"en_US": "Key", "zh_Hans": "密钥"}},
                "lang": {"type": "string", "enum": ["en", "zh-Hans"]},
                "timeoutMs": {"type": "integer", "minimum": 100, "maximum": 120000}
            },
            "required": ["token", "key"]
        }))
        .unwrap();
        let options = json!({"key": "x".repeat(44), "lang": "fr", "timeoutMs": 5});
        let err = ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_CONFIG", "token is required");
        let err = config_error(err, &schema, &options);
        let keys: Vec<&str> = err.fields().iter().map(|f| f["key"].as_str().unwrap()).collect();
        assert_eq!(keys, ["token", "key", "lang", "timeoutMs"], "the plugin's first, then the schema's");
        assert_eq!(err.fields()[1]["message"]["en_US"], "Key must be exactly 43 characters (got 44).");
        assert_eq!(err.fields()[3]["message"]["zh_Hans"], "timeoutMs必须在 100 到 120000 之间。");
        // A valid value and a kept secret are not problems.
        let ok = json!({"token": "******", "key": "y".repeat(43), "lang": "en", "timeoutMs": "2500"});
        assert!(schema_problems(&schema, &ok).is_empty());
    }
}

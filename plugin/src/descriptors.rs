//! What operators see: the providers' and the trigger's descriptors with schemas and en/zh
//! labels, and the view extension's descriptor.

use host_sdk::contract::{ConfigSchema, ProviderDescriptor, TriggerDescriptor, ViewExtensionDescriptor};
use host_sdk::I18nText;
use serde_json::{json, Map, Value};

use crate::config::{DEFAULT_TIMEOUT_MS, LONG_TIMEOUT_RANGE_MS, SHORT_TIMEOUT_RANGE_MS};
use crate::i18n::label;
use crate::{HELP_URL, PROVIDER_LONG, PROVIDER_SHORT, TRIGGER_NAME};

/// The properties of an options form, from a JSON object literal.
fn properties(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(map) => map,
        _ => Map::new(),
    }
}

fn names(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn prefer_language_field() -> Value {
    json!({
        "type": "string",
        "enum": ["en", "zh-Hans"],
        "enumLabels": { "en": label("English", "英文"), "zh-Hans": label("Simplified Chinese", "简体中文") },
        "title": label("Preferred Language", "首选语言"),
        "description": label("Language of error and system prompts sent to users.", "发送给用户的错误与系统提示所用语言。"),
    })
}

fn timeout_field((min, max): (u64, u64), en: &str, zh: &str) -> Value {
    json!({
        "type": "integer",
        "minimum": min,
        "maximum": max,
        "default": DEFAULT_TIMEOUT_MS,
        "title": label("Request Timeout (ms)", "请求超时（毫秒）"),
        "description": label(en, zh),
    })
}

/// The `wecom` (short connection) provider descriptor.
pub fn short_provider() -> ProviderDescriptor {
    ProviderDescriptor {
        name: PROVIDER_SHORT.into(),
        label: I18nText::new("WeCom (Short Connection)", "企业微信-短连接"),
        description: I18nText::new(
            "WeCom calls the Xpert AI callback URL (needs a public HTTPS address). Configure Token and EncodingAESKey.",
            "企业微信回调 Xpert AI 的回调地址（需要公网 HTTPS 地址），配置 Token 与 EncodingAESKey。",
        ),
        webhook: true,
        help_url: Some(HELP_URL.into()),
        help_label: Some(I18nText::new("Get Callback Config", "获取回调配置")),
        schema: ConfigSchema {
            schema_type: "object".into(),
            properties: properties(json!({
                "token": {
                    "type": "string",
                    "title": label("Callback Token", "回调 Token"),
                    "description": label("Token configured in WeCom API mode.", "企业微信 API 模式中配置的 Token。"),
                    "x-ui": { "component": "password" }
                },
                "encodingAesKey": {
                    "type": "string",
                    "minLength": 43,
                    "maxLength": 43,
                    "title": label("EncodingAESKey", "EncodingAESKey"),
                    "description": label("The 43-character EncodingAESKey configured in WeCom API mode.", "企业微信 API 模式中配置的 43 位 EncodingAESKey。"),
                    "x-ui": { "component": "password" }
                },
                "preferLanguage": prefer_language_field(),
                "timeoutMs": timeout_field(SHORT_TIMEOUT_RANGE_MS, "Timeout of outgoing reply requests.", "发出回复请求的超时时间。"),
            })),
            required: names(&["token", "encodingAesKey"]),
            secret: names(&["token", "encodingAesKey"]),
        },
    }
}

/// The `wecom_long` (long connection) provider descriptor.
pub fn long_provider() -> ProviderDescriptor {
    ProviderDescriptor {
        name: PROVIDER_LONG.into(),
        label: I18nText::new("WeCom (Long Connection)", "企业微信-长连接"),
        description: I18nText::new(
            "Recommended: Xpert AI connects out to WeCom over WebSocket, no public callback URL needed. Configure Bot ID and Secret.",
            "推荐：Xpert AI 通过 WebSocket 主动连接企业微信，无需公网回调地址。配置 Bot ID 与 Secret。",
        ),
        webhook: false,
        help_url: Some(HELP_URL.into()),
        help_label: Some(I18nText::new("Get Bot ID", "获取 Bot ID")),
        schema: ConfigSchema {
            schema_type: "object".into(),
            properties: properties(json!({
                "botId": {
                    "type": "string",
                    "title": label("Bot ID", "Bot ID"),
                    "description": label("Bot ID of the smart bot in API long-connection mode.", "智能机器人 API 长连接模式的 Bot ID。")
                },
                "secret": {
                    "type": "string",
                    "title": label("Secret", "Secret"),
                    "description": label("Long-connection Secret used to subscribe.", "用于订阅（aibot_subscribe）的长连接 Secret。"),
                    "x-ui": { "component": "password" }
                },
                "wsOrigin": {
                    "type": "string",
                    "title": label("WebSocket Origin", "WebSocket Origin"),
                    "description": label("Optional Origin header for the WebSocket handshake.", "可选：WebSocket 握手时的 Origin 请求头。")
                },
                "preferLanguage": prefer_language_field(),
                "timeoutMs": timeout_field(LONG_TIMEOUT_RANGE_MS, "How long to wait for WeCom to acknowledge a command.", "等待企业微信确认指令的时间。"),
            })),
            required: names(&["botId", "secret"]),
            secret: names(&["secret"]),
        },
    }
}

/// The WeCom Trigger descriptor.
pub fn trigger() -> TriggerDescriptor {
    TriggerDescriptor {
        name: TRIGGER_NAME.into(),
        label: I18nText::new("WeCom Trigger", "企业微信触发器"),
        description: I18nText::new(
            "Routes messages of one WeCom integration to this Digital Expert.",
            "将一个企业微信集成的消息路由到此数字专家。",
        ),
        config_schema: json!({
            "type": "object",
            "properties": {
                "enabled": { "type": "boolean", "default": true, "title": label("Enabled", "启用") },
                "integrationId": {
                    "type": "string",
                    "title": label("WeCom Integration", "企业微信集成"),
                    "x-ui": { "component": "integrationSelect", "providers": [PROVIDER_SHORT, PROVIDER_LONG] }
                },
                "sessionTimeoutSeconds": {
                    "type": "integer",
                    "minimum": 1,
                    "default": 3600,
                    "title": label("Session Timeout (s)", "会话超时（秒）"),
                    "description": label("After this idle time the next message starts a new conversation.", "空闲超过该时间后，下一条消息将开启新会话。")
                },
                "summaryWindowSeconds": {
                    "type": "integer",
                    "minimum": 0,
                    "default": 0,
                    "title": label("Message Aggregation Window (s)", "消息聚合窗口（秒）"),
                    "description": label("Messages arriving within this window are merged before the expert answers; 0 answers each at once.", "在该窗口内到达的消息会合并后再交给专家；0 表示逐条立即处理。")
                }
            },
            "required": ["enabled", "integrationId"]
        }),
    }
}

/// The view extension descriptor.
pub fn view_extension() -> ViewExtensionDescriptor {
    ViewExtensionDescriptor {
        key: "wecom_integration".into(),
        host_type: "integration".into(),
        slot: Some("detail.main_tabs".into()),
        providers: names(&[PROVIDER_SHORT, PROVIDER_LONG]),
    }
}

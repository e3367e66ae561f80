//! The error envelope every failing route answers with:
//! `{"error": {"code": "SNAKE_CASE_CODE", "message": "human text", "localized": {"en_US", "zh_Hans"}}}`.
//!
//! `code` is stable (for scripts), `message` is the English text as before, and `localized` is
//! what a person reads in either language: every error carries it, so no UI has to show a code
//! alone. Where the route knows which input was wrong, `fields` lists them:
//! `[{"key", "message": {"en_US", "zh_Hans"}}]`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use host_sdk::ErrorCode;
use serde_json::json;

/// What people read of an error beyond its `message`.
#[derive(Debug, Default)]
pub struct Words {
    /// The English text people read, when it differs from `message` (kept as it was for scripts).
    pub en: Option<String>,
    /// The Chinese text (when `None`, a sentence chosen by the code stands in).
    pub zh: Option<String>,
    /// The inputs that were wrong: `{"key", "message": {"en_US", "zh_Hans"}}`.
    pub fields: Vec<serde_json::Value>,
}

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable upper-snake code.
    pub code: String,
    /// Human text (never a secret).
    pub message: String,
    /// The words for people, when the route gave any beyond `message` (boxed: most errors
    /// are passed around without them, and a `Result` stays small).
    pub words: Option<Box<Words>>,
    /// Extra top-level fields (e.g. `checklist`).
    pub extra: Option<(String, serde_json::Value)>,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError { status, code: code.into(), message: message.into(), words: None, extra: None }
    }
    /// The same error with its Chinese text.
    pub fn zh(mut self, text: impl Into<String>) -> Self {
        self.words.get_or_insert_with(Box::default).zh = Some(text.into());
        self
    }
    /// The same error with the English text people read (the `message` stays for scripts).
    pub fn en(mut self, text: impl Into<String>) -> Self {
        self.words.get_or_insert_with(Box::default).en = Some(text.into());
        self
    }
    /// The same error naming an input that was wrong, with its own message in both languages.
    pub fn field(mut self, key: &str, en: impl Into<String>, zh: impl Into<String>) -> Self {
        let entry = json!({"key": key, "message": {"en_US": en.into(), "zh_Hans": zh.into()}});
        self.words.get_or_insert_with(Box::default).fields.push(entry);
        self
    }
    /// Whether the route gave a Chinese text.
    pub fn has_zh(&self) -> bool {
        self.words.as_ref().is_some_and(|w| w.zh.is_some())
    }
    /// The inputs that were wrong.
    pub fn fields(&self) -> &[serde_json::Value] {
        self.words.as_ref().map(|w| w.fields.as_slice()).unwrap_or_default()
    }
    /// `{en_US, zh_Hans}` of this error.
    pub fn localized(&self) -> serde_json::Value {
        let words = self.words.as_deref();
        let en = words.and_then(|w| w.en.clone()).unwrap_or_else(|| self.message.clone());
        let zh = words.and_then(|w| w.zh.clone()).unwrap_or_else(|| fallback_zh(&self.code, self.status).to_string());
        json!({"en_US": en, "zh_Hans": zh})
    }
    /// 400 with the given code.
    pub fn bad_request(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    /// 404 with the given code.
    pub fn not_found(code: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, message)
    }
    /// 401 for a caller whose tenant was deleted while the request ran.
    pub fn tenant_gone() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "the token's tenant no longer exists")
            .zh("该令牌所属的租户已不存在。")
    }
    /// 500 for a storage failure.
    pub fn storage(e: crate::store::StoreError) -> Self {
        tracing::error!("{e}");
        if e.unavailable {
            // A lost database connection: the client reconnects by itself, so try again later.
            return Self::new(StatusCode::SERVICE_UNAVAILABLE, "STORAGE_UNAVAILABLE", e.to_string())
                .zh("数据库暂时不可用，请稍后重试。");
        }
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "STORAGE_ERROR", e.to_string()).zh("保存或读取数据失败。")
    }
}

impl From<host_sdk::Error> for ApiError {
    fn from(e: host_sdk::Error) -> Self {
        let (status, code) = match e.code {
            ErrorCode::INVALID_CONFIG => (StatusCode::UNPROCESSABLE_ENTITY, "INVALID_CONFIG"),
            ErrorCode::INVALID_ARGUMENT => (StatusCode::BAD_REQUEST, "INVALID_ARGUMENT"),
            ErrorCode::NOT_FOUND => (StatusCode::NOT_FOUND, "NOT_FOUND"),
            ErrorCode::CONFLICT => (StatusCode::CONFLICT, "CONFLICT"),
            ErrorCode::UNAVAILABLE | ErrorCode::SHUTTING_DOWN => (StatusCode::SERVICE_UNAVAILABLE, "UNAVAILABLE"),
            ErrorCode::TIMEOUT => (StatusCode::GATEWAY_TIMEOUT, "TIMEOUT"),
            ErrorCode::UNSUPPORTED => (StatusCode::NOT_IMPLEMENTED, "UNSUPPORTED"),
            ErrorCode::PANICKED => (StatusCode::INTERNAL_SERVER_ERROR, "PLUGIN_PANICKED"),
            _ => (StatusCode::INTERNAL_SERVER_ERROR, "PLUGIN_ERROR"),
        };
        if status.is_server_error() {
            tracing::warn!(code, "plugin call failed: {}", e.message);
        }
        plugin_error(status, code, e.message)
    }
}

/// A plugin's error: its text is English; the plugin may have written it as a JSON object
/// `{"en_US", "zh_Hans"}` (then `message` is the English and `localized` both).
fn plugin_error(status: StatusCode, code: &str, message: String) -> ApiError {
    if message.starts_with('{') {
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&message) {
            if let (Some(en), Some(zh)) = (v["en_US"].as_str(), v["zh_Hans"].as_str()) {
                return ApiError::new(status, code, en).zh(zh);
            }
        }
    }
    ApiError::new(status, code, message)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let localized = self.localized();
        let mut body = json!({"error": {"code": self.code, "message": self.message, "localized": localized}});
        if !self.fields().is_empty() {
            body["error"]["fields"] = json!(self.fields());
        }
        if let Some((k, v)) = self.extra {
            body[k] = v;
        }
        (self.status, axum::Json(body)).into_response()
    }
}

/// A Chinese sentence for an error whose route gave none: what kind of failure it is, by code
/// (then by status), so a person reading Chinese never sees English or a bare code.
pub fn fallback_zh(code: &str, status: StatusCode) -> &'static str {
    match code {
        "UNAUTHORIZED" => "令牌缺失或无效，请重新登录。",
        "FORBIDDEN" => "此操作需要管理员令牌。",
        "NOT_FOUND" => "未找到请求的对象或路径。",
        "INVALID_JSON" | "BAD_REQUEST" | "INVALID_ARGUMENT" | "INVALID_PATH" | "INVALID_QUERY" => "请求格式不正确。",
        "INVALID_CONFIG" => "配置无效。",
        "CONFLICT" => "与现有数据冲突，请刷新后重试。",
        "UNAVAILABLE" => "服务暂时不可用，请稍后重试。",
        "TIMEOUT" => "操作超时，请稍后重试。",
        "UNSUPPORTED" => "不支持此操作。",
        "PLUGIN_PANICKED" | "PLUGIN_ERROR" => "插件内部出错，详情见主机日志。",
        "PAYLOAD_TOO_LARGE" => "请求体过大。",
        "URI_TOO_LONG" => "请求地址过长。",
        "METHOD_NOT_ALLOWED" => "该路径不支持此请求方法。",
        "VIEW_NOT_FOUND" => "该集成没有这个页签。",
        _ if status.is_server_error() => "服务器出错，详情见主机日志。",
        _ => "请求失败。",
    }
}

/// Result of a route.
pub type ApiResult<T> = Result<T, ApiError>;

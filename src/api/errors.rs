//! The error envelope every failing route answers with:
//! `{"error": {"code": "SNAKE_CASE_CODE", "message": "human text"}}`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use host_sdk::ErrorCode;
use serde_json::json;

/// A failed request.
#[derive(Debug)]
pub struct ApiError {
    /// HTTP status.
    pub status: StatusCode,
    /// Stable upper-snake code.
    pub code: String,
    /// Human text (never a secret).
    pub message: String,
    /// Extra top-level fields (e.g. `checklist`).
    pub extra: Option<(String, serde_json::Value)>,
}

impl ApiError {
    /// An error with a status, a code and a message.
    pub fn new(status: StatusCode, code: &str, message: impl Into<String>) -> Self {
        ApiError { status, code: code.into(), message: message.into(), extra: None }
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
    }
    /// 500 for a storage failure.
    pub fn storage(e: crate::store::StoreError) -> Self {
        tracing::error!("{e}");
        if e.unavailable {
            // A lost database connection: the client reconnects by itself, so try again later.
            return Self::new(StatusCode::SERVICE_UNAVAILABLE, "STORAGE_UNAVAILABLE", e.to_string());
        }
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "STORAGE_ERROR", e.to_string())
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
        ApiError::new(status, code, e.message)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({"error": {"code": self.code, "message": self.message}});
        if let Some((k, v)) = self.extra {
            body[k] = v;
        }
        (self.status, axum::Json(body)).into_response()
    }
}

/// Result of a route.
pub type ApiResult<T> = Result<T, ApiError>;

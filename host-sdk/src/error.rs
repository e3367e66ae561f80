//! The plain error type shared by host and plugin, and its stable code.

use std::fmt;

/// A stable, open-ended error code. New codes are constants, not enum variants, so adding one is
/// not an ABI change. Codes below 1000 are the SDK's; plugins may use their own above that.
#[repr(transparent)]
#[derive(Clone, Copy, PartialEq, Eq, Hash, abi_stable::StableAbi)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// Something failed inside the callee for a reason it could not classify.
    pub const INTERNAL: ErrorCode = ErrorCode(1);
    /// The callee panicked; the panic was caught at the boundary.
    pub const PANICKED: ErrorCode = ErrorCode(2);
    /// The arguments were malformed (bad JSON, missing field, wrong type).
    pub const INVALID_ARGUMENT: ErrorCode = ErrorCode(3);
    /// An integration's or trigger's configuration failed validation; the message says why.
    pub const INVALID_CONFIG: ErrorCode = ErrorCode(4);
    /// The thing asked for does not exist.
    pub const NOT_FOUND: ErrorCode = ErrorCode(5);
    /// The request conflicts with the current state (e.g. a binding owned by someone else).
    pub const CONFLICT: ErrorCode = ErrorCode(6);
    /// A dependency is unavailable right now; retrying later may succeed.
    pub const UNAVAILABLE: ErrorCode = ErrorCode(7);
    /// The operation did not finish in time.
    pub const TIMEOUT: ErrorCode = ErrorCode(8);
    /// The callee does not support this operation.
    pub const UNSUPPORTED: ErrorCode = ErrorCode(9);
    /// The plugin or host is shutting down.
    pub const SHUTTING_DOWN: ErrorCode = ErrorCode(10);

    /// A short, stable snake-case name for logs and API answers.
    pub fn name(self) -> &'static str {
        match self {
            Self::INTERNAL => "internal",
            Self::PANICKED => "panicked",
            Self::INVALID_ARGUMENT => "invalid_argument",
            Self::INVALID_CONFIG => "invalid_config",
            Self::NOT_FOUND => "not_found",
            Self::CONFLICT => "conflict",
            Self::UNAVAILABLE => "unavailable",
            Self::TIMEOUT => "timeout",
            Self::UNSUPPORTED => "unsupported",
            Self::SHUTTING_DOWN => "shutting_down",
            _ => "plugin_defined",
        }
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}({})", self.name(), self.0)
    }
}

/// An error returned across the boundary in either direction, in plain Rust form.
///
/// Messages must never contain secrets: they reach logs and API answers.
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Error {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// A human-readable, secret-free explanation.
    pub message: String,
    /// Whether the caller may retry the same call later.
    pub retryable: bool,
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Error({:?}: {})", self.code, self.message)
    }
}

impl Error {
    /// An error with a code and a message, not retryable.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Error { code, message: message.into(), retryable: false }
    }
    /// [`ErrorCode::INTERNAL`].
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INTERNAL, message)
    }
    /// [`ErrorCode::INVALID_ARGUMENT`].
    pub fn invalid_argument(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_ARGUMENT, message)
    }
    /// [`ErrorCode::INVALID_CONFIG`].
    pub fn invalid_config(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::INVALID_CONFIG, message)
    }
    /// [`ErrorCode::NOT_FOUND`].
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NOT_FOUND, message)
    }
    /// [`ErrorCode::CONFLICT`].
    pub fn conflict(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::CONFLICT, message)
    }
    /// [`ErrorCode::UNAVAILABLE`], marked retryable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        Error { retryable: true, ..Self::new(ErrorCode::UNAVAILABLE, message) }
    }
    /// [`ErrorCode::PANICKED`], built from a caught panic's payload.
    pub fn from_panic(payload: &(dyn std::any::Any + Send)) -> Self {
        let text = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            "non-string panic payload".to_string()
        };
        Self::new(ErrorCode::PANICKED, format!("panicked: {text}"))
    }
    /// An [`ErrorCode::INVALID_ARGUMENT`] error for a JSON payload that did not parse.
    pub fn bad_json(what: &str, err: &serde_json::Error) -> Self {
        Self::invalid_argument(format!("malformed {what}: {err}"))
    }
}

//! The error type that crosses the boundary.

use abi_stable::std_types::RString;
use abi_stable::StableAbi;

use crate::{Error, ErrorCode};

/// An error crossing the boundary: the FFI twin of [`crate::Error`].
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiError {
    /// What kind of failure this is.
    pub code: ErrorCode,
    /// A human-readable, secret-free explanation.
    pub message: RString,
    /// Whether the caller may retry later.
    pub retryable: bool,
}

impl From<Error> for FfiError {
    fn from(e: Error) -> Self {
        FfiError { code: e.code, message: e.message.into(), retryable: e.retryable }
    }
}

impl From<FfiError> for Error {
    fn from(e: FfiError) -> Self {
        Error { code: e.code, message: e.message.into_string(), retryable: e.retryable }
    }
}

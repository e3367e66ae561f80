//! What a provider tells an operator about an integration: how to set it up, and what a test found.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::I18nText;

/// Setup information of an integration (returned by `validate_config`), shown next to the form.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SetupInfo {
    /// How the integration talks to the platform (`webhook`, `long_connection`).
    pub mode: String,
    /// The URL to paste into the platform's console (webhook mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_url: Option<String>,
    /// Where the plugin connects (long-connection mode).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub websocket_url: Option<String>,
    /// Steps and facts for the operator, in both languages.
    #[serde(default)]
    pub hints: Vec<I18nText>,
    /// Provider-specific extra fields (e.g. the signature algorithm).
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// What a provider's `test` found, without saving anything.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TestResult {
    /// Whether every check passed.
    pub ok: bool,
    /// What was checked: `format` (the options' shape only) or `connection` (a real handshake).
    pub checked: String,
    /// The result for people, saying what was and was not checked.
    pub message: I18nText,
    /// The setup information of the tested options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub setup: Option<SetupInfo>,
}

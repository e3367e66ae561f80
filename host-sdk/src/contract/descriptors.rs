//! What a plugin registers, described: integration providers, triggers and view extensions.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::I18nText;

/// The options form of a provider: a JSON Schema object whose `secret` list names the options
/// the host must mask in answers (and keep when they come back masked).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct ConfigSchema {
    /// Always `object`.
    #[serde(rename = "type", default = "object_type")]
    pub schema_type: String,
    /// One JSON Schema per option key (with `title`/`description` as [`I18nText`] objects).
    #[serde(default)]
    pub properties: Map<String, Value>,
    /// Options that must be present.
    #[serde(default)]
    pub required: Vec<String>,
    /// Options that are secrets: masked as `"******"` in every answer.
    #[serde(default)]
    pub secret: Vec<String>,
}

fn object_type() -> String {
    "object".into()
}

/// A system-integration provider (e.g. `wecom`, `wecom_long`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProviderDescriptor {
    /// The provider's name, unique in a tenant.
    pub name: String,
    /// Its name for people.
    pub label: I18nText,
    /// One or two sentences for people.
    pub description: I18nText,
    /// Whether the platform calls the provider's webhook (short connection) rather than the
    /// plugin connecting out.
    #[serde(default)]
    pub webhook: bool,
    /// Where to read how to obtain the options.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_url: Option<String>,
    /// The help link's text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help_label: Option<I18nText>,
    /// The options form.
    pub schema: ConfigSchema,
}

/// A workflow trigger that binds a Digital Expert to a channel (e.g. `wecom`).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TriggerDescriptor {
    /// The trigger's name (the `provider` of a Digital Expert's trigger entry).
    pub name: String,
    /// Its name for people.
    pub label: I18nText,
    /// One or two sentences for people.
    pub description: I18nText,
    /// The trigger config form (JSON Schema).
    pub config_schema: Value,
}

/// A view extension: extra tabs on the detail page of the integrations of some providers.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ViewExtensionDescriptor {
    /// The extension's key.
    pub key: String,
    /// What kind of page it extends (`integration`).
    pub host_type: String,
    /// Where on that page (`detail.main_tabs`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slot: Option<String>,
    /// The providers whose integrations get the tabs.
    #[serde(default)]
    pub providers: Vec<String>,
}

//! Plain Rust types used by the host services and the lifecycle hooks.

/// Severity of a log record forwarded from a plugin to the host.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum LogLevel {
    /// Very detailed diagnostics.
    Trace,
    /// Diagnostics.
    Debug,
    /// Normal operation.
    Info,
    /// Something unexpected that was handled.
    Warn,
    /// A failure.
    Error,
}

/// A log record forwarded from a plugin; the host emits it into its own `tracing` stream, tagged
/// with the plugin's name.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogRecord {
    /// Severity.
    pub level: LogLevel,
    /// The plugin module that logged it (`tracing` target).
    pub target: String,
    /// The formatted message (never carries secrets).
    pub message: String,
    /// Structured fields as a JSON object string (may be `{}`).
    pub fields_json: String,
}

/// One entry of the shared key-value store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KvEntry {
    /// The key (inside the plugin's namespace).
    pub key: String,
    /// The value.
    pub value: String,
}

/// A held lease: proof that one owner is the only holder of a key until `expires_at_ms`.
///
/// `token` is a fencing token: it strictly increases each time the key changes hands, so a
/// stale holder's writes can be told apart from the current one's.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease {
    /// The leased key, e.g. `wecom:ws:bot:<botId>`.
    pub key: String,
    /// Who holds it (an instance id).
    pub owner: String,
    /// The fencing token.
    pub token: u64,
    /// When the lease lapses unless renewed, in Unix milliseconds.
    pub expires_at_ms: i64,
}

/// What happened to an integration, as told to its provider's lifecycle hook.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LifecycleEvent {
    /// It was created.
    Created,
    /// Its options or name changed.
    Updated,
    /// It was deleted.
    Deleted,
    /// It was enabled (or is enabled at host start: the hook is replayed so runtimes come back).
    Enabled,
    /// It was disabled.
    Disabled,
}

impl LifecycleEvent {
    /// The lower-case name used in logs.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Updated => "updated",
            Self::Deleted => "deleted",
            Self::Enabled => "enabled",
            Self::Disabled => "disabled",
        }
    }
}

/// An integration as the host stores it and hands it to plugins (options unmasked). Its `Debug`
/// output names the option keys only, so logging one never leaks a secret.
#[derive(Clone, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Integration {
    /// Stable id (used in webhook URLs).
    pub id: String,
    /// Display name.
    #[serde(default)]
    pub name: String,
    /// Provider name, e.g. `wecom` or `wecom_long`.
    pub provider: String,
    /// Whether the integration is enabled; runtimes run only while it is.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// The provider-specific options (a JSON object), secrets included.
    #[serde(default)]
    pub options: serde_json::Value,
}

fn default_true() -> bool {
    true
}

/// The keys of a JSON object, for `Debug` output that must not show values.
fn option_keys(options: &serde_json::Value) -> Vec<&str> {
    options.as_object().map(|m| m.keys().map(String::as_str).collect()).unwrap_or_default()
}

impl std::fmt::Debug for Integration {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Integration")
            .field("id", &self.id)
            .field("name", &self.name)
            .field("provider", &self.provider)
            .field("enabled", &self.enabled)
            .field("option_keys", &option_keys(&self.options))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::Integration;

    #[test]
    fn debug_output_never_shows_option_values() {
        let i = Integration {
            id: "1".into(),
            name: "n".into(),
            provider: "wecom_long".into(),
            enabled: true,
            options: serde_json::json!({"botId": "b", "secret": "TOP-SECRET"}),
        };
        let text = format!("{i:?}");
        assert!(text.contains("secret") && !text.contains("TOP-SECRET"), "{text}");
    }
}

//! The options of the two connection types and their validation.
//!
//! Error messages name the field and the rule, never the value: they reach the API and the logs.

use serde_json::Value;

use crate::crypto;

/// Bounds of `timeoutMs` for the short connection (outgoing `response_url` calls).
pub const SHORT_TIMEOUT_RANGE_MS: (u64, u64) = (100, 120_000);
/// Bounds of `timeoutMs` for the long connection (waiting for a command's ack).
pub const LONG_TIMEOUT_RANGE_MS: (u64, u64) = (1_000, 120_000);
/// The default `timeoutMs` of both connection types.
pub const DEFAULT_TIMEOUT_MS: u64 = 10_000;

/// A configuration problem, phrased for the operator.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ConfigError(pub String);

/// Options of a short-connection (`wecom`) integration.
#[derive(Clone, PartialEq, Eq)]
pub struct ShortConfig {
    /// The callback Token (secret).
    pub token: String,
    /// The 43-character EncodingAESKey (secret).
    pub encoding_aes_key: String,
    /// The decoded 32-byte AES key.
    pub aes_key: [u8; 32],
    /// `en` or `zh-Hans`, if set.
    pub prefer_language: Option<String>,
    /// Timeout of outgoing calls in milliseconds.
    pub timeout_ms: u64,
}

impl std::fmt::Debug for ShortConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ShortConfig")
            .field("token", &"******")
            .field("encoding_aes_key", &"******")
            .field("prefer_language", &self.prefer_language)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

/// Options of a long-connection (`wecom_long`) integration.
#[derive(Clone, PartialEq, Eq)]
pub struct LongConfig {
    /// The bot's id (not secret).
    pub bot_id: String,
    /// The long-connection secret (secret).
    pub secret: String,
    /// An optional `Origin` header for the WebSocket handshake.
    pub ws_origin: Option<String>,
    /// `en` or `zh-Hans`, if set.
    pub prefer_language: Option<String>,
    /// Ack timeout in milliseconds.
    pub timeout_ms: u64,
}

impl std::fmt::Debug for LongConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LongConfig")
            .field("bot_id", &self.bot_id)
            .field("secret", &"******")
            .field("ws_origin", &self.ws_origin)
            .field("prefer_language", &self.prefer_language)
            .field("timeout_ms", &self.timeout_ms)
            .finish()
    }
}

fn object(options: &Value) -> Result<&serde_json::Map<String, Value>, ConfigError> {
    match options {
        Value::Object(map) => Ok(map),
        Value::Null => Err(ConfigError("options are required".into())),
        _ => Err(ConfigError("options must be a JSON object".into())),
    }
}

fn required_string(map: &serde_json::Map<String, Value>, key: &str) -> Result<String, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Err(ConfigError(format!("{key} is required"))),
        Some(Value::String(s)) if s.trim().is_empty() => Err(ConfigError(format!("{key} is required"))),
        Some(Value::String(s)) => Ok(s.trim().to_string()),
        Some(_) => Err(ConfigError(format!("{key} must be a string"))),
    }
}

fn optional_string(map: &serde_json::Map<String, Value>, key: &str) -> Result<Option<String>, ConfigError> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.trim().is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.trim().to_string())),
        Some(_) => Err(ConfigError(format!("{key} must be a string"))),
    }
}

fn prefer_language(map: &serde_json::Map<String, Value>) -> Result<Option<String>, ConfigError> {
    let lang = optional_string(map, "preferLanguage")?;
    match lang.as_deref() {
        None | Some("en") | Some("zh-Hans") => Ok(lang),
        Some(_) => Err(ConfigError("preferLanguage must be \"en\" or \"zh-Hans\"".into())),
    }
}

fn timeout_ms(map: &serde_json::Map<String, Value>, (min, max): (u64, u64)) -> Result<u64, ConfigError> {
    let value = match map.get("timeoutMs") {
        None | Some(Value::Null) => return Ok(DEFAULT_TIMEOUT_MS),
        Some(Value::String(s)) if s.trim().is_empty() => return Ok(DEFAULT_TIMEOUT_MS),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(Value::Number(n)) => n.as_f64(),
        Some(_) => None,
    };
    match value {
        Some(v) if v.fract() == 0.0 && v >= min as f64 && v <= max as f64 => Ok(v as u64),
        _ => Err(ConfigError(format!("timeoutMs must be a whole number of milliseconds between {min} and {max}"))),
    }
}

impl ShortConfig {
    /// Validates `wecom` options: token required; EncodingAESKey exactly 43 characters of the
    /// base64 alphabet that decode to a 32-byte key; optional language and timeout in range.
    pub fn from_options(options: &Value) -> Result<ShortConfig, ConfigError> {
        let map = object(options)?;
        let token = required_string(map, "token")?;
        let encoding_aes_key = required_string(map, "encodingAesKey")?;
        let aes_key = crypto::decode_encoding_aes_key(&encoding_aes_key).map_err(|e| ConfigError(e.to_string()))?;
        Ok(ShortConfig {
            token,
            encoding_aes_key,
            aes_key,
            prefer_language: prefer_language(map)?,
            timeout_ms: timeout_ms(map, SHORT_TIMEOUT_RANGE_MS)?,
        })
    }
}

impl LongConfig {
    /// Validates `wecom_long` options: botId and secret required; optional wsOrigin must be an
    /// http(s) origin; optional language and timeout in range.
    pub fn from_options(options: &Value) -> Result<LongConfig, ConfigError> {
        let map = object(options)?;
        let bot_id = required_string(map, "botId")?;
        if bot_id.len() > 128 || !bot_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(ConfigError("botId must be the bot's alphanumeric id (letters, digits, _ or -)".into()));
        }
        let secret = required_string(map, "secret")?;
        let ws_origin = optional_string(map, "wsOrigin")?;
        if let Some(origin) = &ws_origin {
            let valid = (origin.starts_with("https://") || origin.starts_with("http://"))
                && !origin.contains(char::is_whitespace);
            if !valid {
                return Err(ConfigError("wsOrigin must be an origin such as https://example.com".into()));
            }
        }
        Ok(LongConfig {
            bot_id,
            secret,
            ws_origin,
            prefer_language: prefer_language(map)?,
            timeout_ms: timeout_ms(map, LONG_TIMEOUT_RANGE_MS)?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";

    #[test]
    fn short_config_accepts_the_official_sample_key() {
        let cfg =
            ShortConfig::from_options(&json!({"token": " t ", "encodingAesKey": KEY, "timeoutMs": 5000})).unwrap();
        assert_eq!(cfg.token, "t");
        assert_eq!(cfg.timeout_ms, 5000);
        assert_eq!(cfg.aes_key[0], 0xea);
    }

    #[test]
    fn short_config_errors_name_the_rule_not_the_value() {
        let cases = [
            (json!({"encodingAesKey": KEY}), "token is required"),
            (json!({"token": "  ", "encodingAesKey": KEY}), "token is required"),
            (json!({"token": "t"}), "encodingAesKey is required"),
            (
                json!({"token": "t", "encodingAesKey": &KEY[..42]}),
                "encodingAesKey must be exactly 43 characters (got 42)",
            ),
            (
                json!({"token": "t", "encodingAesKey": format!("{}!", &KEY[..42])}),
                "encodingAesKey may only contain letters, digits, + and /",
            ),
            (
                json!({"token": "t", "encodingAesKey": KEY, "timeoutMs": 99}),
                "timeoutMs must be a whole number of milliseconds between 100 and 120000",
            ),
            (
                json!({"token": "t", "encodingAesKey": KEY, "preferLanguage": "fr"}),
                "preferLanguage must be \"en\" or \"zh-Hans\"",
            ),
            (json!([1, 2]), "options must be a JSON object"),
        ];
        for (options, expected) in cases {
            let err = ShortConfig::from_options(&options).unwrap_err();
            assert_eq!(err.0, expected, "for {options}");
        }
    }

    #[test]
    fn long_config_requires_bot_id_and_secret() {
        assert_eq!(LongConfig::from_options(&json!({"secret": "s"})).unwrap_err().0, "botId is required");
        assert_eq!(LongConfig::from_options(&json!({"botId": "b"})).unwrap_err().0, "secret is required");
        let cfg = LongConfig::from_options(&json!({"botId": "aib123", "secret": "s"})).unwrap();
        assert_eq!(cfg.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert!(LongConfig::from_options(&json!({"botId": "b", "secret": "s", "timeoutMs": 500})).is_err());
        assert!(LongConfig::from_options(&json!({"botId": "b", "secret": "s", "wsOrigin": "ftp://x"})).is_err());
    }

    #[test]
    fn debug_output_masks_secrets() {
        let cfg = LongConfig::from_options(&json!({"botId": "b", "secret": "TOPSECRET"})).unwrap();
        assert!(!format!("{cfg:?}").contains("TOPSECRET"));
        let cfg = ShortConfig::from_options(&json!({"token": "TOKENVALUE", "encodingAesKey": KEY})).unwrap();
        let dbg = format!("{cfg:?}");
        assert!(!dbg.contains("TOKENVALUE") && !dbg.contains(KEY));
    }
}

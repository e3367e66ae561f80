//! The options of the two connection types and their validation.
//!
//! The options parse with `#[derive(Deserialize)]` into structs whose fields never fail to
//! deserialize; validation then checks each rule. Error messages name the field and the rule,
//! never the value: they reach the API and the logs.

use serde::Deserialize;
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

/// One option as sent: missing (absent, `null` or blank), a string, a number, or a value of
/// another JSON type. Deserializing never fails, so the validation below can name the field and
/// the rule instead of echoing serde's message (which quotes the offending value, and a value
/// may be a secret).
#[derive(Clone, Debug, Default, PartialEq)]
enum Field {
    /// Absent, `null`, or a string of whitespace only.
    #[default]
    Missing,
    /// A string (trimmed).
    Text(String),
    /// A number.
    Number(f64),
    /// Any other JSON value.
    Other,
}

impl<'de> Deserialize<'de> for Field {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(match Value::deserialize(deserializer)? {
            Value::Null => Field::Missing,
            Value::String(s) if s.trim().is_empty() => Field::Missing,
            Value::String(s) => Field::Text(s.trim().to_string()),
            Value::Number(n) => n.as_f64().map(Field::Number).unwrap_or(Field::Other),
            _ => Field::Other,
        })
    }
}

impl Field {
    /// A required string option.
    fn required_string(self, key: &str) -> Result<String, ConfigError> {
        match self {
            Field::Missing => Err(ConfigError(format!("{key} is required"))),
            Field::Text(s) => Ok(s),
            _ => Err(ConfigError(format!("{key} must be a string"))),
        }
    }

    /// An optional string option.
    fn optional_string(self, key: &str) -> Result<Option<String>, ConfigError> {
        match self {
            Field::Missing => Ok(None),
            Field::Text(s) => Ok(Some(s)),
            _ => Err(ConfigError(format!("{key} must be a string"))),
        }
    }
}

/// What both connection types share: the language of user-facing messages and the timeout.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct CommonOptions {
    #[serde(default)]
    prefer_language: Field,
    #[serde(default)]
    timeout_ms: Field,
}

/// `wecom` options as sent (unknown keys are ignored).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ShortOptions {
    #[serde(default)]
    token: Field,
    #[serde(default)]
    encoding_aes_key: Field,
    #[serde(flatten)]
    common: CommonOptions,
}

/// `wecom_long` options as sent (unknown keys are ignored).
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LongOptions {
    #[serde(default)]
    bot_id: Field,
    #[serde(default)]
    secret: Field,
    #[serde(default)]
    ws_origin: Field,
    #[serde(flatten)]
    common: CommonOptions,
}

/// Parses the options object into `T`; only a non-object can fail (every field is a [`Field`]).
fn parse_options<T: serde::de::DeserializeOwned>(options: &Value) -> Result<T, ConfigError> {
    match options {
        Value::Object(_) => {
            serde_json::from_value(options.clone()).map_err(|_| ConfigError("options must be a JSON object".into()))
        }
        Value::Null => Err(ConfigError("options are required".into())),
        _ => Err(ConfigError("options must be a JSON object".into())),
    }
}

/// `preferLanguage`: absent, `en` or `zh-Hans`.
fn prefer_language(field: Field) -> Result<Option<String>, ConfigError> {
    let lang = field.optional_string("preferLanguage")?;
    match lang.as_deref() {
        None | Some("en") | Some("zh-Hans") => Ok(lang),
        Some(_) => Err(ConfigError("preferLanguage must be \"en\" or \"zh-Hans\"".into())),
    }
}

/// `timeoutMs`: absent (the default) or a whole number in range, as a number or a numeric string.
fn timeout_ms(field: Field, (min, max): (u64, u64)) -> Result<u64, ConfigError> {
    let value = match field {
        Field::Missing => return Ok(DEFAULT_TIMEOUT_MS),
        Field::Text(s) => s.parse::<f64>().ok(),
        Field::Number(n) => Some(n),
        Field::Other => None,
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
        let raw: ShortOptions = parse_options(options)?;
        let token = raw.token.required_string("token")?;
        let encoding_aes_key = raw.encoding_aes_key.required_string("encodingAesKey")?;
        let aes_key = crypto::decode_encoding_aes_key(&encoding_aes_key).map_err(|e| ConfigError(e.to_string()))?;
        Ok(ShortConfig {
            token,
            encoding_aes_key,
            aes_key,
            prefer_language: prefer_language(raw.common.prefer_language)?,
            timeout_ms: timeout_ms(raw.common.timeout_ms, SHORT_TIMEOUT_RANGE_MS)?,
        })
    }
}

impl LongConfig {
    /// Validates `wecom_long` options: botId and secret required; optional wsOrigin must be an
    /// http(s) origin; optional language and timeout in range.
    pub fn from_options(options: &Value) -> Result<LongConfig, ConfigError> {
        let raw: LongOptions = parse_options(options)?;
        let bot_id = raw.bot_id.required_string("botId")?;
        if bot_id.len() > 128 || !bot_id.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(ConfigError("botId must be the bot's alphanumeric id (letters, digits, _ or -)".into()));
        }
        let secret = raw.secret.required_string("secret")?;
        let ws_origin = raw.ws_origin.optional_string("wsOrigin")?;
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
            prefer_language: prefer_language(raw.common.prefer_language)?,
            timeout_ms: timeout_ms(raw.common.timeout_ms, LONG_TIMEOUT_RANGE_MS)?,
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
            (json!(null), "options are required"),
            (json!({"token": 42, "encodingAesKey": KEY}), "token must be a string"),
            (
                json!({"token": "t", "encodingAesKey": KEY, "timeoutMs": "soon"}),
                "timeoutMs must be a whole number of milliseconds between 100 and 120000",
            ),
            (
                json!({"token": "t", "encodingAesKey": KEY, "timeoutMs": 1000.5}),
                "timeoutMs must be a whole number of milliseconds between 100 and 120000",
            ),
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
    fn numbers_may_come_as_strings_and_unknown_keys_are_ignored() {
        let cfg = ShortConfig::from_options(
            &json!({"token": "t", "encodingAesKey": KEY, "timeoutMs": " 2500 ", "preferLanguage": "en", "extra": [1]}),
        )
        .unwrap();
        assert_eq!((cfg.timeout_ms, cfg.prefer_language.as_deref()), (2500, Some("en")));
        let err = LongConfig::from_options(&json!({"botId": "b", "secret": {"nested": "TOPSECRET"}})).unwrap_err();
        assert_eq!(err.0, "secret must be a string", "the value is never quoted");
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

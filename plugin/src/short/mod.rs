//! The short connection (`wecom` integrations): WeCom calls the plugin's webhook.
//!
//! - [`envelope`]: the signed, encrypted envelope of a callback and of a passive answer;
//! - [`webhook`]: `POST /wecom/webhook/{integrationId}`: verifies, decrypts and types a callback,
//!   answers within WeCom's deadline and hands the work to the pipeline in a task of its own;
//! - [`reply`]: the short connection's [`crate::pipeline::ReplyChannel`]: the first frame is the
//!   passive answer, later snapshots wait in the shared KV store for WeCom's refresh callbacks,
//!   and the single-use `response_url` carries what a stream can no longer;
//! - [`status`]: what the Status tab shows (last events, counters by outcome), kept in the KV
//!   store so every instance adds to it; [`status_view`]: the tab itself.
//!
//! Nothing is kept in process memory alone: a retry, a refresh poll or the Status tab may reach
//! any host instance. ([`integrations`] keeps a short read cache of the host's integrations.)

pub mod envelope;
pub mod integrations;
pub mod reply;
pub mod status;
pub mod status_view;
pub mod webhook;

use std::time::Duration;

use crate::long::settings::SettingsError;
use crate::long::transport::LazyTls;

/// WeCom's public API origin, where `response_url`s point.
pub const DEFAULT_API_ORIGIN: &str = "https://qyapi.weixin.qq.com";

/// Settings of the short connection, shared by every `wecom` integration of an installation;
/// each protocol timing has WeCom's value as default and can be set from the host's config.
#[derive(Clone, Debug)]
pub struct ShortSettings {
    /// How long after the user's message WeCom polls a stream (`WECOM_SHORT_STREAM_WINDOW_MS`,
    /// 360 000: six minutes).
    pub stream_window: Duration,
    /// How long before the window ends the pipeline is told to stop streaming
    /// (`WECOM_SHORT_STREAM_MARGIN_MS`, 30 000, as WeCom's own plugin).
    pub stream_margin: Duration,
    /// How long the webhook waits for the pipeline's first answer before it answers with an
    /// empty stream frame of its own (`WECOM_SHORT_PASSIVE_WAIT_MS`, 3 000; WeCom waits 5 s).
    pub passive_wait: Duration,
    /// The longest the webhook waits for one shared-store call on the way to WeCom's answer
    /// (`WECOM_SHORT_STORE_WAIT_MS`, 1 000). A store that hangs must not keep WeCom past its 5 s:
    /// it would call again, and hang again. Taking a msgid that times out is answered anyway;
    /// a refresh that times out gets a 503.
    pub store_wait: Duration,
    /// The largest callback body accepted (`WECOM_SHORT_MAX_BODY_BYTES`, 65 536); larger → 413.
    pub max_body_bytes: usize,
    /// The origins a `response_url` may point to (`WECOM_API_ORIGINS`, comma-separated).
    pub api_origins: Vec<String>,
    /// What `response_url` calls trust (the same as the long connection's).
    pub tls: LazyTls,
    /// How often the callback counters of the Status tab are written to the store
    /// (`WECOM_SHORT_STATUS_FLUSH_MS`, 1 000).
    pub status_flush: Duration,
    /// This host instance (`INSTANCE_ID`): whose counters these are.
    pub instance_id: String,
    /// How long the webhook keeps an integration it read from the host
    /// (`WECOM_SHORT_INTEGRATION_CACHE_MS`, 1 000; 0: not at all). Changes made through this
    /// host reach it at once; changes made through another host process within this time.
    pub integration_cache: Duration,
}

impl ShortSettings {
    /// Reads the settings from the host's config (`lookup`), with WeCom's values as defaults.
    pub fn from_config(lookup: impl Fn(&str) -> Option<String>, tls: LazyTls) -> Result<Self, SettingsError> {
        let number = |key: &'static str, default: u64| -> Result<u64, SettingsError> {
            match lookup(key).map(|v| v.trim().to_string()).filter(|v| !v.is_empty()) {
                None => Ok(default),
                Some(v) => v.parse().map_err(|_| SettingsError::NotANumber { key, value: v }),
            }
        };
        let ms = |key: &'static str, default: u64| number(key, default).map(Duration::from_millis);
        let origins = lookup("WECOM_API_ORIGINS").unwrap_or_else(|| DEFAULT_API_ORIGIN.to_string());
        Ok(ShortSettings {
            stream_window: ms("WECOM_SHORT_STREAM_WINDOW_MS", 360_000)?,
            stream_margin: ms("WECOM_SHORT_STREAM_MARGIN_MS", 30_000)?,
            passive_wait: ms("WECOM_SHORT_PASSIVE_WAIT_MS", 3_000)?,
            store_wait: ms("WECOM_SHORT_STORE_WAIT_MS", 1_000)?,
            max_body_bytes: number("WECOM_SHORT_MAX_BODY_BYTES", 65_536)? as usize,
            api_origins: origins
                .split(',')
                .map(|o| o.trim().trim_end_matches('/').to_ascii_lowercase())
                .filter(|o| !o.is_empty())
                .collect(),
            tls,
            status_flush: ms("WECOM_SHORT_STATUS_FLUSH_MS", 1_000)?,
            instance_id: lookup("INSTANCE_ID").filter(|i| !i.trim().is_empty()).unwrap_or_else(|| "instance".into()),
            integration_cache: ms("WECOM_SHORT_INTEGRATION_CACHE_MS", 1_000)?,
        })
    }

    /// Whether `url` points into one of the allowed API origins (scheme, host and port equal).
    pub fn origin_allowed(&self, url: &str) -> bool {
        let Ok(url) = reqwest::Url::parse(url) else { return false };
        let origin = url.origin().ascii_serialization();
        self.api_origins.iter().any(|allowed| {
            reqwest::Url::parse(allowed).map(|a| a.origin().ascii_serialization() == origin).unwrap_or(false)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(pairs: &[(&str, &str)]) -> Result<ShortSettings, SettingsError> {
        let map: std::collections::HashMap<String, String> =
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        ShortSettings::from_config(move |k| map.get(k).cloned(), LazyTls::from_config(|_| None))
    }

    #[test]
    fn defaults_are_wecoms_values_and_each_can_be_set() {
        let s = settings(&[]).unwrap();
        assert_eq!(s.stream_window, Duration::from_secs(360));
        assert_eq!(s.stream_margin, Duration::from_secs(30));
        assert_eq!(s.passive_wait, Duration::from_secs(3));
        assert_eq!(s.store_wait, Duration::from_secs(1));
        assert_eq!(s.api_origins, vec![DEFAULT_API_ORIGIN.to_string()]);
        assert_eq!(s.integration_cache, Duration::from_secs(1));
        let s = settings(&[
            ("WECOM_SHORT_STREAM_WINDOW_MS", "2000"),
            ("WECOM_API_ORIGINS", "http://127.0.0.1:9/, https://a.example"),
        ])
        .unwrap();
        assert_eq!(s.stream_window, Duration::from_secs(2));
        assert_eq!(s.api_origins, vec!["http://127.0.0.1:9".to_string(), "https://a.example".to_string()]);
        let err = settings(&[("WECOM_SHORT_PASSIVE_WAIT_MS", "soon")]).unwrap_err();
        assert!(err.to_string().contains("WECOM_SHORT_PASSIVE_WAIT_MS"), "{err}");
    }

    #[test]
    fn response_urls_must_be_in_an_allowed_origin() {
        let s = settings(&[("WECOM_API_ORIGINS", "https://qyapi.weixin.qq.com,http://127.0.0.1:8080")]).unwrap();
        assert!(s.origin_allowed("https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=x"));
        assert!(s.origin_allowed("http://127.0.0.1:8080/cgi-bin/aibot/response?response_code=x"));
        assert!(!s.origin_allowed("http://qyapi.weixin.qq.com/cgi-bin/aibot/response"), "scheme differs");
        assert!(!s.origin_allowed("https://qyapi.weixin.qq.com.evil.example/x"), "host differs");
        assert!(!s.origin_allowed("http://127.0.0.1:8081/x"), "port differs");
        assert!(!s.origin_allowed("not a url"));
    }
}

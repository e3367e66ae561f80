//! The plugin's HTTP routes (mounted by the host under `/api`).
//!
//! - `GET /wecom/ping`: answers at once; lets operators (and the benchmark) see the plugin's
//!   routing path without any work behind it.
//! - `GET /wecom/webhook/{integrationId}`: the short connection's URL verification. Without
//!   parameters it is a reachability probe that answers `success`; an unknown or non-`wecom`
//!   integration is 404. Its callbacks (`POST`) are [`crate::short::webhook`]'s.

use std::sync::Arc;

use host_sdk::plugin::RouteImpl;
use host_sdk::{BoxFuture, Error, HttpRequest, HttpResponse};
use serde_json::json;

use crate::config::ShortConfig;
use crate::crypto;
use crate::short;
use crate::state::PluginState;
use crate::PROVIDER_SHORT;

/// `GET /wecom/ping`.
pub struct PingRoute;

impl RouteImpl for PingRoute {
    fn handle(&self, _request: HttpRequest) -> BoxFuture<'static, Result<HttpResponse, Error>> {
        Box::pin(async {
            Ok(HttpResponse::json(200, &json!({"ok": true, "plugin": "wecom", "version": env!("CARGO_PKG_VERSION")})))
        })
    }
}

/// Decodes `%XX` escapes; `+` stays `+` (WeCom percent-encodes it, and the Base64 `echostr` may
/// carry a literal one). `None` when an escape is malformed (`%zz`, a trailing `%`) or the decoded
/// bytes are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    if !s.contains('%') {
        return Some(s.to_owned());
    }
    // `percent_encoding` passes malformed escapes through unchanged; a query we cannot read exactly
    // is refused instead, so check every `%` is followed by two hex digits first.
    let bytes = s.as_bytes();
    let well_formed = bytes.iter().enumerate().filter(|(_, &b)| b == b'%').all(
        |(i, _)| matches!(bytes.get(i + 1..i + 3), Some([hi, lo]) if hi.is_ascii_hexdigit() && lo.is_ascii_hexdigit()),
    );
    if !well_formed {
        return None;
    }
    percent_encoding::percent_decode_str(s).decode_utf8().ok().map(|decoded| decoded.into_owned())
}

/// The first value of each query parameter, decoded. `None` when the query is malformed.
pub fn parse_query(query: &str) -> Option<Vec<(String, String)>> {
    let mut pairs = Vec::new();
    for part in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = part.split_once('=').unwrap_or((part, ""));
        let (k, v) = (percent_decode(k)?, percent_decode(v)?);
        if !pairs.iter().any(|(existing, _): &(String, String)| existing == &k) {
            pairs.push((k, v));
        }
    }
    Some(pairs)
}

/// `GET /wecom/webhook/{integrationId}`: URL verification.
pub struct WebhookVerifyRoute {
    state: Arc<PluginState>,
}

impl WebhookVerifyRoute {
    /// The route over an installation's state.
    pub fn new(state: Arc<PluginState>) -> Self {
        WebhookVerifyRoute { state }
    }
}

async fn verify(state: &PluginState, request: &HttpRequest) -> Result<HttpResponse, Error> {
    let id = request.path_param("integrationId").unwrap_or_default();
    let integration = state.host().integrations().get(id).await?.filter(|i| i.provider == PROVIDER_SHORT);
    let Some(integration) = integration else {
        return Ok(HttpResponse::text(404, "unknown integration"));
    };
    let Some(query) = parse_query(&request.query) else {
        return Ok(refused(state, id, 400, "malformed query string").await);
    };
    let get = |k: &str| query.iter().find(|(n, _)| n == k).map(|(_, v)| v.as_str());
    let signature = get("msg_signature").or_else(|| get("msgsignature")).or_else(|| get("signature"));
    let params = [signature, get("timestamp"), get("nonce"), get("echostr")];
    if params.iter().all(Option::is_none) {
        return Ok(HttpResponse::text(200, "success"));
    }
    let [Some(signature), Some(timestamp), Some(nonce), Some(echostr)] = params else {
        return Ok(refused(state, id, 400, "msg_signature, timestamp, nonce and echostr are all required").await);
    };
    let config = match ShortConfig::from_options(&integration.options) {
        Ok(c) => c,
        Err(e) => {
            tracing::warn!(integration_id = id, error = %e, "URL verification with an invalid configuration");
            short::status::verification(state, id, Err("the integration's configuration is invalid")).await;
            return Ok(HttpResponse::text(500, "the integration's configuration is invalid"));
        }
    };
    if crypto::verify_signature(&config.token, timestamp, nonce, echostr, signature).is_err() {
        return Ok(refused(state, id, 403, "signature mismatch").await);
    }
    match crypto::decrypt(&config.aes_key, echostr, "") {
        Ok(plain) => {
            tracing::info!(integration_id = id, "WeCom URL verification succeeded");
            short::status::verification(state, id, Ok(())).await;
            Ok(HttpResponse::text(200, plain))
        }
        Err(e) => {
            tracing::warn!(integration_id = id, code = e.code(), "URL verification refused: {e}");
            short::status::verification(state, id, Err("echostr does not decrypt with the EncodingAESKey")).await;
            Ok(HttpResponse::text(400, format!("cannot decrypt echostr: {e}")))
        }
    }
}

/// A refused verification: one log line with the reason, recorded for the Status tab.
async fn refused(state: &PluginState, id: &str, status: u16, why: &'static str) -> HttpResponse {
    tracing::warn!(integration_id = id, "URL verification refused: {why}");
    short::status::verification(state, id, Err(why)).await;
    HttpResponse::text(status, why)
}

impl RouteImpl for WebhookVerifyRoute {
    fn handle(&self, request: HttpRequest) -> BoxFuture<'static, Result<HttpResponse, Error>> {
        let state = self.state.clone();
        Box::pin(async move { verify(&state, &request).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding_keeps_plus_and_decodes_escapes() {
        let q = parse_query("echostr=a%2Bb%2F%3D+c&nonce=1&nonce=2").unwrap();
        assert_eq!(q, vec![("echostr".to_string(), "a+b/=+c".to_string()), ("nonce".into(), "1".into())]);
        assert!(parse_query("a=%zz").is_none());
    }

    #[test]
    fn percent_decode_refuses_what_it_cannot_read_exactly() {
        assert_eq!(percent_decode("a+b%20c%E4%BD%A0").as_deref(), Some("a+b c你"));
        assert_eq!(percent_decode("%41%2b%2B").as_deref(), Some("A++"));
        assert_eq!(percent_decode(""), Some(String::new()));
        for malformed in ["%", "a%4", "%zz", "%+1", "%-1", "%%41"] {
            assert_eq!(percent_decode(malformed), None, "{malformed:?} must be refused");
        }
        // Well-formed escapes of bytes that are not UTF-8.
        assert_eq!(percent_decode("%FF"), None);
        assert_eq!(percent_decode("%E4%BD"), None);
    }
}

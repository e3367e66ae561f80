//! The plugin's outgoing HTTP client: `response_url` replies and media downloads.
//!
//! It trusts exactly what the long connection trusts (the same [`TlsSettings`]: public roots plus
//! the optional extra CA), speaks HTTP/1.1 over rustls, and bounds every request by one timeout.
//! Errors name the host, never the URL: a `response_url` carries a one-time credential in its
//! query, and media URLs are signed.

use std::error::Error as StdError;
use std::time::Duration;

use reqwest::header::{HeaderMap, CONTENT_LENGTH};
use reqwest::Url;
use serde::Serialize;

use crate::long::transport::{find_rustls_error, TlsSettings};

/// Why an HTTP call failed. Messages name the host, never the URL.
#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    /// The client cannot be built with these TLS settings.
    #[error("cannot build the HTTP client: {0}")]
    Build(String),
    /// The URL is not an absolute `http://` or `https://` URL with a host.
    #[error("the URL is not a usable http(s) URL")]
    BadUrl,
    /// The TLS handshake failed: an untrusted or invalid certificate, a name mismatch, an alert.
    #[error("TLS with {host} failed: {source}")]
    Tls {
        /// The host name.
        host: String,
        /// rustls's error, e.g. `InvalidCertificate(UnknownIssuer)`.
        #[source]
        source: rustls::Error,
    },
    /// The host did not resolve or refused the connection.
    #[error("cannot connect to {host}: {reason}")]
    Connect {
        /// The host name.
        host: String,
        /// The error chain, without the URL.
        reason: String,
    },
    /// The request, including reading the body, took longer than the client's timeout.
    #[error("{host} did not answer within {timeout:?}")]
    Timeout {
        /// The host name.
        host: String,
        /// The client's timeout.
        timeout: Duration,
    },
    /// The server answered with a status outside 200–299.
    #[error("{host} answered HTTP {status}")]
    Status {
        /// The host name.
        host: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The body is larger than the caller's limit.
    #[error("the body from {host} exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The host name.
        host: String,
        /// The caller's limit in bytes.
        limit: u64,
    },
    /// A 2xx answer whose body is not the JSON expected.
    #[error("{host} answered with a body that is not JSON")]
    NotJson {
        /// The host name.
        host: String,
    },
    /// Any other failure while sending or reading (connection closed mid-body, …).
    #[error("HTTP call to {host} failed: {reason}")]
    Other {
        /// The host name.
        host: String,
        /// The error chain, without the URL.
        reason: String,
    },
}

/// A downloaded body with the response's headers (`Content-Type`, `Content-Disposition`, …).
#[derive(Debug, Clone)]
pub struct Download {
    /// The response headers.
    pub headers: HeaderMap,
    /// The body, at most the limit given to [`HttpClient::download`].
    pub body: Vec<u8>,
}

/// A `reqwest` client with the plugin's trust settings and a timeout. Cheap to clone (one
/// connection pool shared by the clones).
#[derive(Debug, Clone)]
pub struct HttpClient {
    client: reqwest::Client,
    timeout: Duration,
}

impl HttpClient {
    /// A client trusting what `tls` trusts, each request bounded by `timeout` (connect, send and
    /// reading the whole body).
    pub fn new(tls: &TlsSettings, timeout: Duration) -> Result<Self, HttpError> {
        let client = reqwest::Client::builder()
            .use_preconfigured_tls(rustls::ClientConfig::clone(&tls.client_config()))
            .timeout(timeout)
            .connect_timeout(timeout)
            .user_agent(concat!("xpert-plugin-wecom/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| HttpError::Build(chain(&e.without_url())))?;
        Ok(HttpClient { client, timeout })
    }

    /// The underlying client, for calls these helpers do not cover.
    pub fn client(&self) -> &reqwest::Client {
        &self.client
    }

    /// POSTs `body` as JSON and returns the JSON answer (a `response_url` reply answers
    /// `{"errcode":0,"errmsg":"ok"}`; reading the errcode is the caller's business).
    pub async fn post_json<T: Serialize + ?Sized>(&self, url: &str, body: &T) -> Result<serde_json::Value, HttpError> {
        let (url, host) = parse(url)?;
        let response = self.client.post(url).json(body).send().await.map_err(|e| self.classify(&host, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(HttpError::Status { host, status: status.as_u16() });
        }
        let bytes = response.bytes().await.map_err(|e| self.classify(&host, e))?;
        serde_json::from_slice(&bytes).map_err(|_| HttpError::NotJson { host })
    }

    /// GETs `url` and reads at most `limit` bytes of body; a longer body is refused with
    /// [`HttpError::TooLarge`] without reading it all.
    pub async fn download(&self, url: &str, limit: u64) -> Result<Download, HttpError> {
        let (url, host) = parse(url)?;
        let mut response = self.client.get(url).send().await.map_err(|e| self.classify(&host, e))?;
        let status = response.status();
        if !status.is_success() {
            return Err(HttpError::Status { host, status: status.as_u16() });
        }
        let declared = response.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        if declared.is_some_and(|n| n > limit) {
            return Err(HttpError::TooLarge { host, limit });
        }
        let headers = response.headers().clone();
        let mut body = Vec::with_capacity(declared.unwrap_or(0) as usize);
        while let Some(chunk) = response.chunk().await.map_err(|e| self.classify(&host, e))? {
            if (body.len() + chunk.len()) as u64 > limit {
                return Err(HttpError::TooLarge { host, limit });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Download { headers, body })
    }

    fn classify(&self, host: &str, error: reqwest::Error) -> HttpError {
        let error = error.without_url();
        let host = host.to_owned();
        if let Some(tls) = find_rustls_error(&error) {
            return HttpError::Tls { host, source: tls.clone() };
        }
        if error.is_timeout() {
            return HttpError::Timeout { host, timeout: self.timeout };
        }
        if error.is_connect() {
            return HttpError::Connect { host, reason: chain(&error) };
        }
        HttpError::Other { host, reason: chain(&error) }
    }
}

fn parse(url: &str) -> Result<(Url, String), HttpError> {
    let url = Url::parse(url).map_err(|_| HttpError::BadUrl)?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(HttpError::BadUrl);
    }
    let host = url.host_str().ok_or(HttpError::BadUrl)?.to_owned();
    Ok((url, host))
}

/// An error and its sources, joined with `: `.
fn chain(error: &(dyn StdError + 'static)) -> String {
    let mut message = error.to_string();
    let mut source = error.source();
    while let Some(e) = source {
        message.push_str(": ");
        message.push_str(&e.to_string());
        source = e.source();
    }
    message
}

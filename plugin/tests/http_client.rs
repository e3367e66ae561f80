//! The plugin's HTTP client against local axum servers on 127.0.0.1: HTTPS trusted through the
//! extra CA file, plain HTTP, and the failures callers must tell apart.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::routing::{get, post};
use axum::{Json, Router};
use plugin_wecom::http_client::{HttpClient, HttpError};
use plugin_wecom::long::transport::TlsSettings;
use serde_json::{json, Value};
use tokio::net::{TcpListener, TcpStream};
use tokio_rustls::TlsAcceptor;

const TIMEOUT: Duration = Duration::from_secs(10);
const MEDIA: [u8; 2048] = [7; 2048];

fn router() -> Router {
    Router::new()
        .route(
            "/media",
            get(|| async {
                (
                    [
                        (CONTENT_TYPE, "application/octet-stream"),
                        (CONTENT_DISPOSITION, "attachment; filename=\"a.bin\""),
                    ],
                    MEDIA.to_vec(),
                )
            }),
        )
        // Two chunks and no Content-Length: the limit must be enforced while reading.
        .route(
            "/chunked",
            get(|| async {
                let chunks = [Bytes::from(vec![1u8; 600]), Bytes::from(vec![2u8; 600])];
                Body::from_stream(futures_util::stream::iter(chunks.map(Ok::<_, std::io::Error>)))
            }),
        )
        // A response_url stand-in: answers WeCom's way and reports what it received.
        .route(
            "/respond",
            post(|headers: HeaderMap, Json(body): Json<Value>| async move {
                let content_type =
                    headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or_default().to_owned();
                Json(json!({"errcode": 0, "errmsg": "ok", "received": body, "content_type": content_type}))
            }),
        )
}

/// TLS in front of axum: each accepted connection is handshaken before axum sees it.
struct TlsListener {
    tcp: TcpListener,
    acceptor: TlsAcceptor,
}

impl axum::serve::Listener for TlsListener {
    type Io = tokio_rustls::server::TlsStream<TcpStream>;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        loop {
            let Ok((tcp, addr)) = self.tcp.accept().await else { continue };
            // A client that distrusts the certificate aborts the handshake; wait for the next.
            if let Ok(tls) = self.acceptor.accept(tcp).await {
                return (tls, addr);
            }
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        self.tcp.local_addr()
    }
}

async fn plain_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move { axum::serve(listener, router()).await });
    addr
}

async fn https_server(pki: &support::Pki) -> SocketAddr {
    let tcp = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = tcp.local_addr().expect("local addr");
    let listener = TlsListener { tcp, acceptor: TlsAcceptor::from(pki.server_config.clone()) };
    tokio::spawn(async move { axum::serve(listener, router()).await });
    addr
}

fn client(tls: &TlsSettings, timeout: Duration) -> HttpClient {
    HttpClient::new(tls, timeout).expect("client")
}

fn public_roots() -> TlsSettings {
    TlsSettings::new(None).expect("public roots")
}

#[tokio::test]
async fn https_download_with_the_extra_ca_returns_the_body_and_headers() {
    let pki = support::pki();
    let addr = https_server(&pki).await;
    let tls = TlsSettings::new(Some(&pki.ca_file)).expect("trust settings with the extra CA");
    let download = client(&tls, TIMEOUT)
        .download(&format!("https://localhost:{}/media", addr.port()), 1 << 20)
        .await
        .expect("download");
    assert_eq!(download.body, MEDIA);
    assert_eq!(download.headers.get(CONTENT_DISPOSITION).expect("header"), "attachment; filename=\"a.bin\"");
}

#[tokio::test]
async fn https_without_the_extra_ca_fails_with_the_tls_variant_for_an_unknown_issuer() {
    let pki = support::pki();
    let addr = https_server(&pki).await;
    let err = client(&public_roots(), TIMEOUT)
        .download(&format!("https://localhost:{}/media", addr.port()), 1 << 20)
        .await
        .unwrap_err();
    assert!(
        matches!(
            &err,
            HttpError::Tls {
                source: rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer),
                host,
            } if host == "localhost"
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn post_json_over_plain_http_sends_json_and_parses_the_answer() {
    let addr = plain_server().await;
    let reply = json!({"msgtype": "markdown", "markdown": {"content": "**你好**"}});
    let answer = client(&public_roots(), TIMEOUT)
        .post_json(&format!("http://127.0.0.1:{}/respond?response_code=abc", addr.port()), &reply)
        .await
        .expect("post");
    assert_eq!(answer["errcode"], 0);
    assert_eq!(answer["received"], reply);
    assert_eq!(answer["content_type"], "application/json");
}

#[tokio::test]
async fn an_error_status_names_the_host_but_never_the_url() {
    let addr = plain_server().await;
    let http = client(&public_roots(), TIMEOUT);
    let url = format!("http://127.0.0.1:{}/missing?response_code=s3cr3t", addr.port());
    let err = http.post_json(&url, &json!({})).await.unwrap_err();
    assert!(matches!(&err, HttpError::Status { status: 404, host } if host == "127.0.0.1"), "{err:?}");
    assert!(!err.to_string().contains("s3cr3t") && !format!("{err:?}").contains("s3cr3t"), "{err:?}");
}

#[tokio::test]
async fn a_body_over_the_limit_is_refused_with_or_without_a_content_length() {
    let addr = plain_server().await;
    let http = client(&public_roots(), TIMEOUT);
    let err = http.download(&format!("http://127.0.0.1:{}/media", addr.port()), 1000).await.unwrap_err();
    assert!(matches!(err, HttpError::TooLarge { limit: 1000, .. }), "{err:?}");
    let err = http.download(&format!("http://127.0.0.1:{}/chunked", addr.port()), 1000).await.unwrap_err();
    assert!(matches!(err, HttpError::TooLarge { limit: 1000, .. }), "{err:?}");
    let whole = http.download(&format!("http://127.0.0.1:{}/chunked", addr.port()), 1200).await.expect("at the limit");
    assert_eq!(whole.body.len(), 1200);
}

#[tokio::test]
async fn a_silent_server_times_out_and_a_closed_port_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    let http = client(&public_roots(), Duration::from_millis(300));
    let err = http.download(&format!("http://127.0.0.1:{}/media", addr.port()), 1 << 20).await.unwrap_err();
    assert!(matches!(err, HttpError::Timeout { .. }), "{err:?}");

    let closed = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = closed.local_addr().expect("local addr").port();
    drop(closed);
    let err = http.download(&format!("http://127.0.0.1:{port}/media"), 1 << 20).await.unwrap_err();
    assert!(matches!(err, HttpError::Connect { .. }), "{err:?}");
}

#[tokio::test]
async fn urls_that_are_not_http_are_refused() {
    let http = client(&public_roots(), TIMEOUT);
    for url in ["ftp://example.com/a", "not a url", "wss://example.com"] {
        let err = http.download(url, 10).await.unwrap_err();
        assert!(matches!(err, HttpError::BadUrl), "{url}: {err:?}");
    }
}

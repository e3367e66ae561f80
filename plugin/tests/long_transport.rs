//! The long connection's transport against real sockets on 127.0.0.1: `wss://` trusted through
//! the extra CA file, `ws://`, and each way a connection can fail, told apart by variant.

mod support;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use plugin_wecom::long::transport::{connect, Phase, TlsSettings, TransportError};
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::http;
use tokio_tungstenite::tungstenite::Message;

const TIMEOUT: Duration = Duration::from_secs(10);

/// A WebSocket echo server; `origins` yields the `Origin` header of each upgrade request it saw.
struct EchoServer {
    addr: SocketAddr,
    origins: mpsc::UnboundedReceiver<Option<String>>,
}

/// Starts an echo server, over TLS when `tls` is given; with `refuse_with` it answers every
/// upgrade request with that HTTP status instead.
async fn echo_server(tls: Option<Arc<rustls::ServerConfig>>, refuse_with: Option<u16>) -> EchoServer {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    let (origins_tx, origins) = mpsc::unbounded_channel();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (origins_tx, tls) = (origins_tx.clone(), tls.clone());
            tokio::spawn(async move {
                match tls {
                    // A client that distrusts the certificate aborts here; nothing to serve then.
                    Some(config) => {
                        if let Ok(stream) = TlsAcceptor::from(config).accept(tcp).await {
                            serve_echo(stream, origins_tx, refuse_with).await;
                        }
                    }
                    None => serve_echo(tcp, origins_tx, refuse_with).await,
                }
            });
        }
    });
    EchoServer { addr, origins }
}

// tungstenite's `Callback` fixes the error type as a whole `http::Response`.
#[allow(clippy::result_large_err)]
async fn serve_echo<S: AsyncRead + AsyncWrite + Unpin>(
    stream: S,
    origins: mpsc::UnboundedSender<Option<String>>,
    refuse_with: Option<u16>,
) {
    let callback = |request: &Request, response: Response| -> Result<Response, ErrorResponse> {
        let origin = request.headers().get(http::header::ORIGIN).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let _ = origins.send(origin);
        match refuse_with {
            Some(status) => Err(http::Response::builder()
                .status(status)
                .body(Some("refused by the test server".to_owned()))
                .expect("error response")),
            None => Ok(response),
        }
    };
    let Ok(mut ws) = tokio_tungstenite::accept_hdr_async(stream, callback).await else { return };
    while let Some(Ok(message)) = ws.next().await {
        if (message.is_text() || message.is_binary()) && ws.send(message).await.is_err() {
            return;
        }
    }
}

/// A server that accepts TCP connections and never says a word.
async fn silent_server() -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((tcp, _)) = listener.accept().await {
            held.push(tcp);
        }
    });
    addr
}

async fn expect_err(url: &str, tls: &TlsSettings, timeout: Duration) -> TransportError {
    match connect(url, None, tls, timeout).await {
        Ok(_) => panic!("connecting to {url} must fail"),
        Err(e) => e,
    }
}

#[tokio::test]
async fn wss_with_the_extra_ca_round_trips_a_text_frame_and_sends_the_origin() {
    let pki = support::pki();
    let mut server = echo_server(Some(pki.server_config.clone()), None).await;
    let tls = TlsSettings::new(Some(&pki.ca_file)).expect("trust settings with the extra CA");
    assert_eq!(tls.extra_ca_count(), 1);

    let url = format!("wss://localhost:{}", server.addr.port());
    let mut ws = connect(&url, Some("https://xpert.example"), &tls, TIMEOUT).await.expect("wss connect");
    let frame = Message::text(r#"{"cmd":"ping","headers":{"req_id":"ping_1"},"body":"你好"}"#);
    ws.send(frame.clone()).await.expect("send");
    let echoed = ws.next().await.expect("a frame back").expect("a readable frame");
    assert_eq!(echoed, frame);
    assert_eq!(server.origins.recv().await, Some(Some("https://xpert.example".to_owned())));
    ws.close(None).await.expect("close");
}

#[tokio::test]
async fn wss_to_an_ip_address_is_checked_against_the_ip_in_the_certificate() {
    let pki = support::pki();
    let server = echo_server(Some(pki.server_config.clone()), None).await;
    let tls = TlsSettings::new(Some(&pki.ca_file)).expect("trust settings");
    let url = format!("wss://127.0.0.1:{}", server.addr.port());
    let mut ws = connect(&url, None, &tls, TIMEOUT).await.expect("wss connect by IP");
    ws.send(Message::binary(vec![1, 2, 3])).await.expect("send");
    assert_eq!(ws.next().await.expect("a frame back").expect("readable"), Message::binary(vec![1, 2, 3]));
}

#[tokio::test]
async fn wss_without_the_extra_ca_fails_with_the_tls_variant_for_an_unknown_issuer() {
    let pki = support::pki();
    let server = echo_server(Some(pki.server_config.clone()), None).await;
    let public_only = TlsSettings::new(None).expect("public roots");
    let err = expect_err(&format!("wss://localhost:{}", server.addr.port()), &public_only, TIMEOUT).await;
    assert!(matches!(err, TransportError::Tls { ref host, .. } if host == "localhost"), "{err:?}");
    assert!(
        matches!(err.tls_error(), Some(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer))),
        "{err:?}"
    );
}

#[tokio::test]
async fn ws_works_against_a_plain_server_and_sends_no_origin_unless_asked() {
    let mut server = echo_server(None, None).await;
    let tls = TlsSettings::new(None).expect("public roots");
    let mut ws = connect(&format!("ws://127.0.0.1:{}", server.addr.port()), None, &tls, TIMEOUT).await.expect("ws");
    ws.send(Message::text("hello")).await.expect("send");
    assert_eq!(ws.next().await.expect("a frame back").expect("readable"), Message::text("hello"));
    assert_eq!(server.origins.recv().await, Some(None));
}

#[tokio::test]
async fn a_refused_upgrade_reports_the_http_status() {
    let server = echo_server(None, Some(403)).await;
    let tls = TlsSettings::new(None).expect("public roots");
    let err = expect_err(&format!("ws://127.0.0.1:{}", server.addr.port()), &tls, TIMEOUT).await;
    assert!(matches!(err, TransportError::Refused { status: 403, .. }), "{err:?}");
}

#[tokio::test]
async fn a_closed_port_is_a_connect_error() {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let port = listener.local_addr().expect("local addr").port();
    drop(listener);
    let tls = TlsSettings::new(None).expect("public roots");
    let err = expect_err(&format!("ws://127.0.0.1:{port}/?token=s3cr3t"), &tls, TIMEOUT).await;
    assert!(
        matches!(&err, TransportError::Connect { port: p, source, .. }
            if *p == port && source.kind() == std::io::ErrorKind::ConnectionRefused),
        "{err:?}"
    );
    assert!(!err.to_string().contains("s3cr3t"), "the URL leaked into {err}");
}

#[tokio::test]
async fn a_silent_server_times_out_in_the_phase_it_stalls() {
    let addr = silent_server().await;
    let tls = TlsSettings::new(None).expect("public roots");
    let short = Duration::from_millis(300);
    let err = expect_err(&format!("ws://127.0.0.1:{}", addr.port()), &tls, short).await;
    assert!(matches!(err, TransportError::Timeout { phase: Phase::Handshake, .. }), "{err:?}");
    let err = expect_err(&format!("wss://127.0.0.1:{}", addr.port()), &tls, short).await;
    assert!(matches!(err, TransportError::Timeout { phase: Phase::Tls, .. }), "{err:?}");
}

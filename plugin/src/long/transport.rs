//! Opening the long connection's socket: `ws://` or `wss://`, with the plugin's own trust settings.
//!
//! Trust is the Mozilla root set compiled into the plugin (`webpki-roots`) plus, optionally, the
//! certificates of one extra CA file in PEM (config key [`EXTRA_CA_FILE_KEY`]): private WeCom
//! deployments, corporate TLS inspection and tests use it. The compiled-in set was chosen over the
//! operating system's store because it needs nothing at build time or at run time (no network, no
//! `/etc/ssl` in a slim container), behaves the same on every host, and is the set the host's
//! `reqwest` already builds in, so it costs no extra compilation.
//!
//! TLS is done here with tokio-rustls (the `ring` provider, chosen explicitly rather than through
//! a process-wide default); tokio-tungstenite then runs the WebSocket handshake over the finished
//! stream. Doing each step ourselves lets [`TransportError`] say which step failed.
//!
//! Errors name the host and port, never the URL: a private deployment's URL may carry a token.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, ServerName};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::{timeout_at, Instant};
use tokio_rustls::client::TlsStream;
use tokio_rustls::TlsConnector;
use tokio_tungstenite::tungstenite;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::header::ORIGIN;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::WebSocketStream;

/// The host configuration key naming an extra CA file (PEM) to trust besides the public roots.
pub const EXTRA_CA_FILE_KEY: &str = "WECOM_EXTRA_CA_FILE";

/// An open WebSocket connection, over TLS or not.
pub type WsStream = WebSocketStream<MaybeTlsStream>;

/// Why the trust settings could not be built. Every message names the CA file.
#[derive(Debug, thiserror::Error)]
pub enum TlsConfigError {
    /// The CA file cannot be opened or read (missing, unreadable).
    #[error("cannot read the extra CA file {path}: {source}")]
    Unreadable {
        /// The configured path.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
    /// The CA file is not well-formed PEM (a section without its end line, bad Base64, …).
    #[error("the extra CA file {path} is not valid PEM: {reason}")]
    NotPem {
        /// The configured path.
        path: PathBuf,
        /// What the PEM parser found.
        reason: String,
    },
    /// The CA file holds no `CERTIFICATE` section.
    #[error("the extra CA file {path} holds no PEM certificate")]
    NoCertificate {
        /// The configured path.
        path: PathBuf,
    },
    /// A `CERTIFICATE` section does not hold a certificate usable as a trust anchor.
    #[error("a certificate in the extra CA file {path} cannot be trusted as a CA: {reason}")]
    BadCertificate {
        /// The configured path.
        path: PathBuf,
        /// What rustls found.
        reason: String,
    },
    /// The TLS provider refused the protocol versions (a build problem, not an input problem).
    #[error("the TLS provider cannot be configured: {0}")]
    Provider(String),
}

/// [`TlsSettings`] built on first use and then shared by its clones. Building them copies the
/// public root store and reads the extra CA file, which an installation that never opens a
/// `wss://` socket or downloads a file should not pay for (it was a third of an installation's
/// memory). A bad extra CA file is then reported where it is used: in the connection's status
/// and in `Test`.
#[derive(Clone, Debug)]
pub struct LazyTls {
    extra_ca_file: Option<PathBuf>,
    built: Arc<std::sync::OnceLock<Result<TlsSettings, String>>>,
}

impl LazyTls {
    /// Trust settings for the extra CA file named by [`EXTRA_CA_FILE_KEY`] through `lookup`
    /// (absent or blank: the public roots only); nothing is read yet.
    pub fn from_config(lookup: impl Fn(&str) -> Option<String>) -> Self {
        let path = lookup(EXTRA_CA_FILE_KEY).map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
        LazyTls { extra_ca_file: path.map(PathBuf::from), built: Arc::default() }
    }

    /// Already-built settings (tests, and callers that have them).
    pub fn ready(tls: TlsSettings) -> Self {
        let built = std::sync::OnceLock::new();
        let _ = built.set(Ok(tls));
        LazyTls { extra_ca_file: None, built: Arc::new(built) }
    }

    /// The settings, built on the first call; the same error every time if they cannot be.
    pub fn get(&self) -> Result<TlsSettings, String> {
        self.built.get_or_init(|| TlsSettings::new(self.extra_ca_file.as_deref()).map_err(|e| e.to_string())).clone()
    }
}

/// The trust settings shared by the long connection and the plugin's HTTP client: the public
/// roots plus an optional extra CA. Cheap to clone.
#[derive(Clone)]
pub struct TlsSettings {
    config: Arc<rustls::ClientConfig>,
    extra_ca_file: Option<PathBuf>,
    extra_ca_count: usize,
}

impl fmt::Debug for TlsSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsSettings")
            .field("extra_ca_file", &self.extra_ca_file)
            .field("extra_ca_count", &self.extra_ca_count)
            .finish_non_exhaustive()
    }
}

impl TlsSettings {
    /// The public roots, plus every certificate of `extra_ca_file` (PEM) when given.
    pub fn new(extra_ca_file: Option<&Path>) -> Result<Self, TlsConfigError> {
        let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
        let mut extra_ca_count = 0;
        if let Some(path) = extra_ca_file {
            for cert in load_pem_certificates(path)? {
                roots
                    .add(cert)
                    .map_err(|e| TlsConfigError::BadCertificate { path: path.to_owned(), reason: e.to_string() })?;
                extra_ca_count += 1;
            }
        }
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsConfigError::Provider(e.to_string()))?
            .with_root_certificates(roots)
            .with_no_client_auth();
        Ok(TlsSettings { config: Arc::new(config), extra_ca_file: extra_ca_file.map(Path::to_owned), extra_ca_count })
    }

    /// Reads [`EXTRA_CA_FILE_KEY`] through `lookup` (the host's `config`); absent or blank means
    /// the public roots only.
    pub fn from_config(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, TlsConfigError> {
        let path = lookup(EXTRA_CA_FILE_KEY).map(|p| p.trim().to_owned()).filter(|p| !p.is_empty());
        Self::new(path.as_deref().map(Path::new))
    }

    /// The rustls client configuration (no ALPN: both users speak HTTP/1.1).
    pub fn client_config(&self) -> Arc<rustls::ClientConfig> {
        self.config.clone()
    }

    /// The extra CA file, if one was configured.
    pub fn extra_ca_file(&self) -> Option<&Path> {
        self.extra_ca_file.as_deref()
    }

    /// How many certificates the extra CA file contributed.
    pub fn extra_ca_count(&self) -> usize {
        self.extra_ca_count
    }
}

fn load_pem_certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsConfigError> {
    let pem_error = |e: pem::Error| match e {
        pem::Error::Io(source) => TlsConfigError::Unreadable { path: path.to_owned(), source },
        other => TlsConfigError::NotPem { path: path.to_owned(), reason: other.to_string() },
    };
    let certs =
        CertificateDer::pem_file_iter(path).map_err(pem_error)?.collect::<Result<Vec<_>, _>>().map_err(pem_error)?;
    if certs.is_empty() {
        return Err(TlsConfigError::NoCertificate { path: path.to_owned() });
    }
    Ok(certs)
}

/// The step of [`connect`] that was under way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Resolving the host name.
    Dns,
    /// Opening the TCP connection.
    Connect,
    /// The TLS handshake (`wss://` only).
    Tls,
    /// The HTTP upgrade to WebSocket.
    Handshake,
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Phase::Dns => "DNS resolution",
            Phase::Connect => "TCP connect",
            Phase::Tls => "TLS handshake",
            Phase::Handshake => "WebSocket handshake",
        })
    }
}

/// Why [`connect`] failed. Messages name the host (and port), never the URL or any header value.
#[derive(Debug, thiserror::Error)]
pub enum TransportError {
    /// The URL cannot be used: not parseable, not `ws://`/`wss://`, no host, credentials in it.
    #[error("the WebSocket URL is not usable: {0}")]
    BadUrl(String),
    /// The `Origin` value cannot be sent as an HTTP header.
    #[error("the Origin value is not a valid HTTP header value")]
    BadOrigin,
    /// The host name did not resolve.
    #[error("cannot resolve {host}: {source}")]
    Dns {
        /// The host name.
        host: String,
        /// The resolver's error.
        #[source]
        source: io::Error,
    },
    /// No address of the host accepted a TCP connection.
    #[error("cannot connect to {host}:{port}: {source}")]
    Connect {
        /// The host name.
        host: String,
        /// The port.
        port: u16,
        /// The last address's error.
        #[source]
        source: io::Error,
    },
    /// The TLS handshake failed: an untrusted or invalid certificate, a name mismatch, an alert.
    /// [`TransportError::tls_error`] gives the rustls error when there is one.
    #[error("TLS handshake with {host} failed: {source}")]
    Tls {
        /// The host name.
        host: String,
        /// The handshake's error (usually wrapping a [`rustls::Error`]).
        #[source]
        source: io::Error,
    },
    /// The server answered the upgrade request with an HTTP status other than 101.
    #[error("{host} refused the WebSocket handshake with HTTP {status}")]
    Refused {
        /// The host name.
        host: String,
        /// The HTTP status code.
        status: u16,
    },
    /// The WebSocket handshake failed otherwise (connection closed, protocol violation).
    #[error("WebSocket handshake with {host} failed: {source}")]
    Handshake {
        /// The host name.
        host: String,
        /// tungstenite's error.
        #[source]
        source: tungstenite::Error,
    },
    /// The whole connection did not finish within the timeout.
    #[error("{phase} with {host} did not finish within {timeout:?}")]
    Timeout {
        /// The host name.
        host: String,
        /// The step under way when time ran out.
        phase: Phase,
        /// The timeout given to [`connect`].
        timeout: Duration,
    },
}

impl TransportError {
    /// The rustls error behind a [`TransportError::Tls`], e.g.
    /// `InvalidCertificate(UnknownIssuer)` for an untrusted server.
    pub fn tls_error(&self) -> Option<&rustls::Error> {
        match self {
            TransportError::Tls { source, .. } => find_rustls_error(source),
            _ => None,
        }
    }
}

/// Finds a [`rustls::Error`] in an error's chain, looking inside `io::Error`s (whose `source()`
/// skips the error they wrap).
pub fn find_rustls_error<'a>(err: &'a (dyn StdError + 'static)) -> Option<&'a rustls::Error> {
    let mut current = Some(err);
    while let Some(e) = current {
        if let Some(found) = e.downcast_ref::<rustls::Error>() {
            return Some(found);
        }
        if let Some(inner) = e.downcast_ref::<io::Error>().and_then(io::Error::get_ref) {
            if let Some(found) = find_rustls_error(inner) {
                return Some(found);
            }
        }
        current = e.source();
    }
    None
}

/// A TCP stream, with or without TLS on it.
#[derive(Debug)]
pub enum MaybeTlsStream {
    /// `ws://`.
    Plain(TcpStream),
    /// `wss://`.
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for MaybeTlsStream {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for MaybeTlsStream {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_flush(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            MaybeTlsStream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            MaybeTlsStream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }
}

/// Where a WebSocket URL points.
struct Target {
    secure: bool,
    host: String,
    port: u16,
}

/// tungstenite allocates its read buffer when the socket is made and keeps it for the socket's
/// life (see [`upgrade`] for why the upgrade is done here): 128 KiB by default, which with
/// thousands of idle bots per process was most of each connection's memory. WeCom's frames are
/// small JSON (acks and pings about 100 bytes, a short text callback with its response_url about
/// 400), so 512 bytes take most of them in one read; a larger frame reserves its full length once
/// its header is read and arrives in reads of 512 bytes (a syscall each, microseconds). The
/// buffer keeps the size of the largest frame it was grown for.
pub const READ_BUFFER_SIZE: usize = 512;

/// Buffers sized for WeCom's frames rather than tungstenite's 128 KiB defaults (see
/// [`READ_BUFFER_SIZE`]). Frames are written as soon as they are queued (the client flushes each
/// one), and a message over 1 MiB is refused instead of buffered.
fn socket_config() -> tungstenite::protocol::WebSocketConfig {
    tungstenite::protocol::WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER_SIZE)
        .write_buffer_size(0)
        .max_message_size(Some(1 << 20))
        .max_frame_size(Some(1 << 20))
}

/// Opens a WebSocket connection to `url` (`ws://` or `wss://`), sending `Origin: origin` when
/// given and trusting what `tls` trusts. `timeout` bounds the whole sequence: DNS, TCP, TLS and
/// the upgrade.
pub async fn connect(
    url: &str,
    origin: Option<&str>,
    tls: &TlsSettings,
    timeout: Duration,
) -> Result<WsStream, TransportError> {
    let deadline = Instant::now() + timeout;
    let mut request = url.into_client_request().map_err(|e| TransportError::BadUrl(url_problem(&e)))?;
    let target = target_of(request.uri())?;
    if let Some(origin) = origin {
        let value = HeaderValue::from_str(origin).map_err(|_| TransportError::BadOrigin)?;
        request.headers_mut().insert(ORIGIN, value);
    }
    let within = |phase| {
        let host = target.host.clone();
        move |_| TransportError::Timeout { host, phase, timeout }
    };

    let addrs = timeout_at(deadline, resolve(&target)).await.map_err(within(Phase::Dns))??;
    let tcp = timeout_at(deadline, connect_any(&target, addrs)).await.map_err(within(Phase::Connect))??;
    let stream = if target.secure {
        let name = ServerName::try_from(target.host.clone())
            .map_err(|_| TransportError::BadUrl("the host is not a valid TLS server name".into()))?;
        let handshake = TlsConnector::from(tls.client_config()).connect(name, tcp);
        let tls_stream = timeout_at(deadline, handshake)
            .await
            .map_err(within(Phase::Tls))?
            .map_err(|source| TransportError::Tls { host: target.host.clone(), source })?;
        MaybeTlsStream::Tls(Box::new(tls_stream))
    } else {
        MaybeTlsStream::Plain(tcp)
    };
    timeout_at(deadline, upgrade(stream, request, &target.host)).await.map_err(within(Phase::Handshake))?
}

/// The most the server's answer to the upgrade request (status line and headers) may take.
const MAX_UPGRADE_RESPONSE: usize = 16 * 1024;

/// The WebSocket upgrade (RFC 6455 §4.1), done here with tungstenite's request and response
/// helpers rather than its handshake machine: the machine reads into a 4 KiB buffer and hands
/// that buffer on to the socket, which then keeps 4 KiB for its whole life whatever
/// [`READ_BUFFER_SIZE`] says. Here the bytes after the response head (a first frame the server
/// sent at once) are handed on alone, and the socket's buffer is [`READ_BUFFER_SIZE`].
async fn upgrade(
    mut stream: MaybeTlsStream,
    request: tungstenite::handshake::client::Request,
    host: &str,
) -> Result<WsStream, TransportError> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tungstenite::error::{CapacityError, ProtocolError};
    use tungstenite::handshake::client::{generate_request, Response};
    use tungstenite::handshake::derive_accept_key;
    use tungstenite::handshake::machine::TryParse;

    let failed = |source: tungstenite::Error| TransportError::Handshake { host: host.to_owned(), source };
    let (bytes, key) = generate_request(request).map_err(failed)?;
    stream.write_all(&bytes).await.map_err(|e| failed(e.into()))?;
    stream.flush().await.map_err(|e| failed(e.into()))?;
    let mut head: Vec<u8> = Vec::with_capacity(READ_BUFFER_SIZE);
    let (length, response) = loop {
        if let Some(parsed) = Response::try_parse(&head).map_err(failed)? {
            break parsed;
        }
        if head.len() >= MAX_UPGRADE_RESPONSE {
            return Err(failed(tungstenite::Error::Capacity(CapacityError::TooManyHeaders)));
        }
        let start = head.len();
        head.resize(start + READ_BUFFER_SIZE, 0);
        let read = stream.read(&mut head[start..]).await;
        head.truncate(start + *read.as_ref().unwrap_or(&0));
        match read {
            Ok(0) => return Err(failed(tungstenite::Error::Protocol(ProtocolError::HandshakeIncomplete))),
            Ok(_) => {}
            Err(e) => return Err(failed(e.into())),
        }
    };
    let status = response.status().as_u16();
    if status != 101 {
        return Err(TransportError::Refused { host: host.to_owned(), status });
    }
    let header_is = |name: &str, expected: &str| {
        response.headers().get(name).and_then(|v| v.to_str().ok()).is_some_and(|v| v.eq_ignore_ascii_case(expected))
    };
    if !header_is("Upgrade", "websocket") {
        return Err(failed(tungstenite::Error::Protocol(ProtocolError::MissingUpgradeWebSocketHeader)));
    }
    if !header_is("Connection", "Upgrade") {
        return Err(failed(tungstenite::Error::Protocol(ProtocolError::MissingConnectionUpgradeHeader)));
    }
    if !header_is("Sec-WebSocket-Accept", &derive_accept_key(key.as_bytes())) {
        return Err(failed(tungstenite::Error::Protocol(ProtocolError::SecWebSocketAcceptKeyMismatch)));
    }
    let tail = head.split_off(length);
    drop(head);
    Ok(WebSocketStream::from_partially_read(stream, tail, tungstenite::protocol::Role::Client, Some(socket_config()))
        .await)
}

/// A reason for a URL's refusal that does not repeat the URL.
fn url_problem(e: &tungstenite::Error) -> String {
    match e {
        tungstenite::Error::Url(u) => u.to_string(),
        tungstenite::Error::HttpFormat(h) => h.to_string(),
        _ => "it cannot be parsed".into(),
    }
}

fn target_of(uri: &tungstenite::http::Uri) -> Result<Target, TransportError> {
    let secure = match uri.scheme_str() {
        Some("wss") => true,
        Some("ws") => false,
        _ => return Err(TransportError::BadUrl("the scheme must be ws:// or wss://".into())),
    };
    let authority = uri.authority().ok_or_else(|| TransportError::BadUrl("it has no host".into()))?;
    if authority.as_str().contains('@') {
        return Err(TransportError::BadUrl("credentials in the URL are not supported".into()));
    }
    let host = authority.host().trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(TransportError::BadUrl("it has no host".into()));
    }
    let port = authority.port_u16().unwrap_or(if secure { 443 } else { 80 });
    Ok(Target { secure, host: host.to_owned(), port })
}

async fn resolve(target: &Target) -> Result<Vec<SocketAddr>, TransportError> {
    let addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await
        .map_err(|source| TransportError::Dns { host: target.host.clone(), source })?
        .collect();
    if addrs.is_empty() {
        let source = io::Error::new(io::ErrorKind::NotFound, "the name resolved to no address");
        return Err(TransportError::Dns { host: target.host.clone(), source });
    }
    Ok(addrs)
}

/// Tries the addresses in turn (e.g. `localhost` may give `::1` before `127.0.0.1`).
async fn connect_any(target: &Target, addrs: Vec<SocketAddr>) -> Result<TcpStream, TransportError> {
    let mut last_error = None;
    for addr in addrs {
        match TcpStream::connect(addr).await {
            Ok(stream) => {
                // Frames are small JSON commands; do not hold them back for coalescing.
                let _ = stream.set_nodelay(true);
                return Ok(stream);
            }
            Err(e) => last_error = Some(e),
        }
    }
    let source = last_error.unwrap_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no address to connect to"));
    Err(TransportError::Connect { host: target.host.clone(), port: target.port, source })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> TlsSettings {
        TlsSettings::new(None).expect("public roots alone always build")
    }

    async fn connect_err(url: &str) -> TransportError {
        match connect(url, None, &settings(), Duration::from_secs(5)).await {
            Ok(_) => panic!("connecting to {url:?} must fail"),
            Err(e) => e,
        }
    }

    #[tokio::test]
    async fn unusable_urls_are_refused_before_any_io_and_never_echoed() {
        for url in ["http://example.com", "not a url", "wss://", "wss://bot:s3cr3t@example.com/"] {
            let err = connect_err(url).await;
            assert!(matches!(err, TransportError::BadUrl(_)), "{url:?} gave {err:?}");
            assert!(!err.to_string().contains("s3cr3t"), "{err}");
        }
    }

    #[tokio::test]
    async fn an_origin_that_cannot_be_a_header_is_refused() {
        let err = connect("ws://127.0.0.1:9", Some("bad\norigin"), &settings(), Duration::from_secs(5)).await;
        assert!(matches!(err, Err(TransportError::BadOrigin)), "{err:?}");
    }

    fn ca_file(contents: &[u8]) -> tempfile::NamedTempFile {
        let mut file = tempfile::NamedTempFile::new().expect("temp file");
        std::io::Write::write_all(&mut file, contents).expect("write temp file");
        file
    }

    fn assert_names_file(err: &TlsConfigError, path: &Path) {
        let message = err.to_string();
        assert!(message.contains(&path.display().to_string()), "{message:?} does not name {}", path.display());
    }

    #[test]
    fn a_missing_ca_file_is_unreadable_and_named() {
        let dir = tempfile::tempdir().expect("temp dir");
        let path = dir.path().join("no-such-ca.pem");
        let err = TlsSettings::new(Some(&path)).unwrap_err();
        assert!(matches!(&err, TlsConfigError::Unreadable { source, .. } if source.kind() == io::ErrorKind::NotFound));
        assert_names_file(&err, &path);
    }

    #[test]
    fn a_ca_file_without_certificates_is_refused_and_named() {
        let file = ca_file(b"this is not a certificate\n");
        let err = TlsSettings::new(Some(file.path())).unwrap_err();
        assert!(matches!(err, TlsConfigError::NoCertificate { .. }), "{err:?}");
        assert_names_file(&err, file.path());
    }

    #[test]
    fn a_truncated_pem_section_is_refused_and_named() {
        let file = ca_file(b"-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIU\n");
        let err = TlsSettings::new(Some(file.path())).unwrap_err();
        assert!(matches!(err, TlsConfigError::NotPem { .. }), "{err:?}");
        assert_names_file(&err, file.path());
    }

    #[test]
    fn a_pem_section_that_is_not_a_certificate_is_refused_and_named() {
        // Well-formed PEM whose payload ("hello world") is not DER.
        let file = ca_file(b"-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n");
        let err = TlsSettings::new(Some(file.path())).unwrap_err();
        assert!(matches!(err, TlsConfigError::BadCertificate { .. }), "{err:?}");
        assert_names_file(&err, file.path());
    }

    #[test]
    fn a_blank_config_value_means_public_roots_only() {
        let tls = TlsSettings::from_config(|key| (key == EXTRA_CA_FILE_KEY).then(|| "  ".to_owned())).unwrap();
        assert_eq!((tls.extra_ca_file(), tls.extra_ca_count()), (None, 0));
        let err = TlsSettings::from_config(|_| Some("/nonexistent/wecom-ca.pem".to_owned())).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/wecom-ca.pem"), "{err}");
    }
}

//! `wss://` end to end: with `SimConfig::tls` (CLI `--tls`) the one listener speaks TLS with a
//! certificate signed by a CA generated at start. A client that trusts that CA (from
//! `Simulator::ca_pem()` or the CLI's `--ca-out` file) connects; one that does not is refused.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::stream;
use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio::io::AsyncBufReadExt;
use tokio_rustls::rustls;
use tokio_tungstenite::tungstenite::Message;
use wecom_sim::{Chat, SimConfig, Simulator};

type TlsWs = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

fn client_config(roots: rustls::RootCertStore) -> Arc<rustls::ClientConfig> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// Public web roots plus, when given, the extra CAs of a PEM file (as a client's extra-CA file does).
fn roots(extra_ca_pem: Option<&str>) -> rustls::RootCertStore {
    use rustls::pki_types::pem::PemObject as _;
    let mut roots = rustls::RootCertStore { roots: webpki_roots::TLS_SERVER_ROOTS.to_vec() };
    if let Some(pem) = extra_ca_pem {
        for cert in rustls::pki_types::CertificateDer::pem_slice_iter(pem.as_bytes()) {
            roots.add(cert.expect("a PEM certificate")).unwrap();
        }
    }
    roots
}

/// Opens `wss://ADDR` trusting `roots`; the TLS error when the handshake fails.
async fn connect_wss(ws_url: &str, roots: rustls::RootCertStore) -> Result<TlsWs, std::io::Error> {
    let addr = ws_url.strip_prefix("wss://").expect("a wss:// URL");
    let tcp = tokio::net::TcpStream::connect(addr).await?;
    let host = addr.rsplit_once(':').unwrap().0.to_string();
    let name = rustls::pki_types::ServerName::try_from(host).unwrap();
    let tls = tokio_rustls::TlsConnector::from(client_config(roots)).connect(name, tcp).await?;
    let (ws, _) = tokio_tungstenite::client_async(ws_url, tls).await.map_err(std::io::Error::other)?;
    Ok(ws)
}

async fn send(ws: &mut TlsWs, cmd: &str, req_id: &str, body: Value) {
    let frame = json!({"cmd": cmd, "headers": {"req_id": req_id}, "body": body});
    ws.send(Message::text(frame.to_string())).await.unwrap();
}

async fn next_json(ws: &mut TlsWs) -> Value {
    loop {
        let m = tokio::time::timeout(Duration::from_secs(5), ws.next()).await.expect("a frame within 5 s");
        match m {
            Some(Ok(Message::Text(t))) => return serde_json::from_str(&t).unwrap(),
            Some(Ok(_)) => continue,
            other => panic!("socket ended: {other:?}"),
        }
    }
}

fn is_unknown_issuer(e: &std::io::Error) -> bool {
    let tls = e.get_ref().and_then(|inner| inner.downcast_ref::<rustls::Error>());
    matches!(tls, Some(rustls::Error::InvalidCertificate(rustls::CertificateError::UnknownIssuer)))
}

#[tokio::test]
async fn a_wss_client_trusting_the_generated_ca_connects_and_one_that_does_not_is_refused() {
    let sim = Simulator::start(SimConfig { tls: true, ..SimConfig::default() }).await.unwrap();
    sim.add_bot("BOT1", "S");
    assert!(sim.ws_url().starts_with("wss://127.0.0.1:"), "{}", sim.ws_url());
    assert!(sim.base_url().starts_with("https://127.0.0.1:"), "{}", sim.base_url());
    let ca = sim.ca_pem().expect("a CA when serving TLS").to_string();
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");

    // Without the CA (public roots only) the handshake fails on the certificate.
    let refused = connect_wss(&sim.ws_url(), roots(None)).await.expect_err("an untrusted certificate is refused");
    assert!(is_unknown_issuer(&refused), "{refused:?}");
    assert!(!sim.is_connected("BOT1"));

    // With the CA: the whole long connection works over TLS.
    let mut ws = connect_wss(&sim.ws_url(), roots(Some(&ca))).await.expect("a trusted wss:// connection");
    send(&mut ws, "aibot_subscribe", "sub", json!({"bot_id": "BOT1", "secret": "S"})).await;
    assert_eq!(next_json(&mut ws).await["errcode"], 0);
    let req = sim.send_text("BOT1", "alice", Chat::Single, "over tls").unwrap();
    let cb = next_json(&mut ws).await;
    assert_eq!(cb["body"]["text"]["content"], "over tls");
    assert!(cb["body"]["response_url"].as_str().unwrap().starts_with("https://"));
    send(&mut ws, "aibot_respond_msg", &req, stream("s1", "secure answer", true)).await;
    assert_eq!(next_json(&mut ws).await["errcode"], 0);
    assert_eq!(sim.transcript("BOT1", "alice")[1].text, "secure answer");

    // The HTTP side (control API, media host) is HTTPS with the same certificate.
    let trusting = reqwest::Client::builder()
        .add_root_certificate(reqwest::Certificate::from_pem(ca.as_bytes()).unwrap())
        .build()
        .unwrap();
    let bots: Value = trusting.get(format!("{}/sim/bots", sim.base_url())).send().await.unwrap().json().await.unwrap();
    assert_eq!(bots, json!([{"botId": "BOT1", "connected": true}]));
    assert!(reqwest::get(format!("{}/sim/bots", sim.base_url())).await.is_err(), "an untrusting client is refused");
    let plain = format!("http://{}/sim/bots", sim.addr());
    assert!(reqwest::get(plain).await.is_err(), "no plain HTTP on a TLS listener");
}

#[tokio::test]
async fn the_cli_serves_tls_and_writes_its_ca_for_an_extra_ca_file() {
    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("wecom-sim-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let ca_file = dir.join("ca.pem");
    let _ = std::fs::remove_file(&ca_file);
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_wecom-sim"))
        .args(["serve", "--listen", "127.0.0.1:0", "--bot", "CLIBOT:SEC", "--tls", "--ca-out"])
        .arg(&ca_file)
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let line = tokio::time::timeout(Duration::from_secs(20), lines.next_line())
        .await
        .expect("the simulator starts")
        .unwrap()
        .expect("a line on stdout");
    let addr = line.strip_prefix("listening on https://").unwrap_or_else(|| panic!("{line}")).trim().to_string();
    let ca = std::fs::read_to_string(&ca_file).expect("--ca-out wrote the CA before announcing the address");

    let mut ws = connect_wss(&format!("wss://{addr}"), roots(Some(&ca))).await.expect("trusted via the CA file");
    send(&mut ws, "aibot_subscribe", "sub", json!({"bot_id": "CLIBOT", "secret": "SEC"})).await;
    assert_eq!(next_json(&mut ws).await["errcode"], 0);
    let refused = connect_wss(&format!("wss://{addr}"), roots(None)).await.expect_err("untrusted is refused");
    assert!(is_unknown_issuer(&refused), "{refused:?}");

    let (status, help, _) =
        testkit::process::run(env!("CARGO_BIN_EXE_wecom-sim"), &["serve", "--help"], &[]).await.unwrap();
    assert!(status.success());
    for option in ["--tls", "--ca-out", "--aeskey-form", "--missed-pongs"] {
        assert!(help.contains(option), "--help lists {option}");
    }
    child.kill().await.unwrap();
}

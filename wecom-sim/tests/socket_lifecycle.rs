//! The WebSocket layer of the long connection: the server answers a client's close frame (RFC
//! 6455 close handshake) and drops a client that leaves its pings unanswered, recording why.

mod common;

use std::time::Duration;

use common::*;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::Message;
use wecom_sim::{DisconnectReason, SimConfig, Simulator};

#[tokio::test]
async fn a_close_frame_is_echoed_then_the_server_closes() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.add_bot("BOT1", "S");
    let mut c = Client::connect(&sim.ws_url()).await;
    assert_eq!(c.subscribe("BOT1", "S").await, 0);

    c.ws.send(Message::Close(Some(CloseFrame { code: CloseCode::Away, reason: "deploying".into() }))).await.unwrap();
    // The server's answer is a close frame with the same code…
    let echo = tokio::time::timeout(Duration::from_secs(5), async {
        loop {
            match c.ws.next().await {
                Some(Ok(Message::Close(frame))) => return Some(frame),
                Some(Ok(_)) => continue,
                _ => return None,
            }
        }
    })
    .await
    .expect("an answer within 5 s");
    let echo = echo.expect("a close frame, not a dropped connection").expect("with a code");
    assert_eq!(echo.code, CloseCode::Away);
    // …then the connection ends (the server closes the TCP connection).
    let end = tokio::time::timeout(Duration::from_secs(5), c.ws.next()).await.expect("the server closes");
    assert!(end.is_none(), "{end:?}");

    let d = sim.wait_disconnect(Duration::from_secs(2), |d| d.bot_id == "BOT1").await.unwrap();
    assert_eq!(d.reason, DisconnectReason::ClientClose { code: Some(1001) });
    assert!(!sim.is_connected("BOT1"));
    // The control API tells the same.
    let url = format!("{}/sim/disconnects?botId=BOT1", sim.base_url());
    let listed: serde_json::Value = reqwest::get(url).await.unwrap().json().await.unwrap();
    assert_eq!(listed, serde_json::json!([{"botId": "BOT1", "reason": {"kind": "client_close", "code": 1001}}]));
}

#[tokio::test]
async fn a_client_that_never_answers_pings_is_dropped_and_the_reason_recorded() {
    let sim = Simulator::start(SimConfig {
        ws_ping_interval: Duration::from_millis(100),
        missed_pongs_limit: Some(2),
        ..SimConfig::default()
    })
    .await
    .unwrap();
    sim.add_bot("MUTE", "S");
    sim.add_bot("LIVELY", "S");
    let mut mute = Client::connect(&sim.ws_url()).await;
    assert_eq!(mute.subscribe("MUTE", "S").await, 0);
    let mut lively = Client::connect(&sim.ws_url()).await;
    assert_eq!(lively.subscribe("LIVELY", "S").await, 0);
    // LIVELY keeps reading, so its WebSocket layer answers every ping with a pong; MUTE's socket is
    // never read again, so its pings stay unanswered.
    let (pinged, mut pings) = tokio::sync::mpsc::unbounded_channel();
    let reader = tokio::spawn(async move {
        while let Some(Ok(m)) = lively.ws.next().await {
            if matches!(m, Message::Ping(_)) {
                let _ = pinged.send(());
            }
        }
    });

    let d = sim.wait_disconnect(Duration::from_secs(5), |d| d.bot_id == "MUTE").await.expect("MUTE is dropped");
    assert_eq!(d.reason, DisconnectReason::MissedPongs { missed: 2 });
    assert!(!sim.is_connected("MUTE"));
    // The dropped socket ends without a close frame.
    let mut saw_close = false;
    while let Ok(Some(Ok(m))) = tokio::time::timeout(Duration::from_secs(5), mute.ws.next()).await {
        saw_close |= matches!(m, Message::Close(_));
    }
    assert!(!saw_close, "a dead peer gets no close frame");

    // The answering client outlives more ping rounds than the limit allows unanswered.
    for _ in 0..6 {
        tokio::time::timeout(Duration::from_secs(5), pings.recv()).await.expect("pings keep coming").unwrap();
    }
    assert!(sim.is_connected("LIVELY"), "a client answering pings is kept: {:?}", sim.disconnects());
    reader.abort();

    // With the check off, nobody is dropped for missed pongs (15 ping rounds here).
    let lenient = Simulator::start(SimConfig {
        ws_ping_interval: Duration::from_millis(20),
        missed_pongs_limit: None,
        ..SimConfig::default()
    })
    .await
    .unwrap();
    lenient.add_bot("MUTE", "S");
    let mut mute = Client::connect(&lenient.ws_url()).await;
    assert_eq!(mute.subscribe("MUTE", "S").await, 0);
    assert_eq!(lenient.wait_disconnect(Duration::from_millis(300), |_| true).await, None);
    assert!(lenient.is_connected("MUTE"));
}

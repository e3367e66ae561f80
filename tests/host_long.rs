//! The long connection through the real `xpert-host` binary: a published integration connects
//! to the simulator, SIGTERM closes it cleanly (close frame, lease released), and a restart on
//! the same data directory connects again by itself.

mod host_common;

use std::time::Duration;

use host_common::*;
use serde_json::json;
use wecom_sim::{DisconnectReason, SimConfig, Simulator};

#[tokio::test]
async fn a_host_restart_restores_the_connection_and_shutdown_closes_it_cleanly() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.add_bot("HOSTBOT", "s3cret-value");
    let ws = sim.ws_url();
    let env = [("WECOM_WS_URL", ws.as_str()), ("WECOM_RECONCILE_MS", "100"), ("WECOM_HEARTBEAT_MS", "200")];
    let dir = tempfile::tempdir().unwrap();
    {
        let mut host = start(dir.path(), &env).await;
        host.install_wecom().await;
        let (_, integration) = host
            .post(
                "/api/integration",
                json!({"name": "bot", "provider": "wecom_long", "options": {"botId": "HOSTBOT", "secret": "s3cret-value"}}),
            )
            .await;
        let id = integration["id"].as_str().unwrap().to_string();
        let (_, x) = host.post("/api/xpert", json!({"name": "x", "agent": {"kind": "echo"}})).await;
        let xpert = x["id"].as_str().unwrap().to_string();
        let triggers = json!([{"provider": "wecom", "config": {"enabled": true, "integrationId": id}}]);
        host.call("PUT", &format!("/api/xpert/{xpert}/triggers"), Some(triggers)).await;
        let (status, _) = host.post(&format!("/api/xpert/{xpert}/publish"), json!({})).await;
        assert_eq!(status, 200);
        assert!(sim.wait_connected("HOSTBOT", true, Duration::from_secs(10)).await, "publishing connects");
        let view = host
            .wait_json(&format!("/api/integration/{id}/views/status/data"), |v| v["item"]["state"] == "connected")
            .await;
        assert_eq!(view["item"]["state"], "connected", "{view}");
        assert!(host.server.stop(Duration::from_secs(20)).await.unwrap().success());
        let closed = sim
            .wait_disconnect(Duration::from_secs(5), |d| {
                d.bot_id == "HOSTBOT" && matches!(d.reason, DisconnectReason::ClientClose { .. })
            })
            .await;
        assert!(closed.is_some(), "shutdown sends a close frame: {:?}", sim.disconnects());
        let output = host.server.output().await;
        assert!(!output.contains("s3cret-value"), "the secret never reaches the logs");
    }
    let host = start(dir.path(), &env).await;
    assert!(sim.wait_connected("HOSTBOT", true, Duration::from_secs(10)).await, "a restart connects again by itself");
    drop(host);
}

//! The long connection through the real `xpert-host` binary: a published integration connects
//! to the simulator, SIGTERM closes it cleanly (close frame, lease released), and a restart on
//! the same data directory connects again by itself.

mod host_common;

use std::time::Duration;

use host_common::*;
use serde_json::json;
use wecom_sim::sim::Chat;
use wecom_sim::{DisconnectReason, MessageBody, SimConfig, Simulator};

/// Installs the plugin and publishes an echo Digital Expert bound to a new long-connection
/// integration of `bot`; returns the integration's id.
async fn publish_long_integration(host: &Host, bot: &str, secret: &str) -> String {
    host.install_wecom().await;
    create_and_publish(host, bot, secret).await
}

/// A `wecom_long` integration for `bot` and an echo Digital Expert bound to it, published.
async fn create_and_publish(host: &Host, bot: &str, secret: &str) -> String {
    let (_, integration) = host
        .post(
            "/api/integration",
            json!({"name": "bot", "provider": "wecom_long", "options": {"botId": bot, "secret": secret}}),
        )
        .await;
    let id = integration["id"].as_str().unwrap().to_string();
    let (_, x) = host.post("/api/xpert", json!({"name": "x", "agent": {"kind": "echo"}})).await;
    let xpert = x["id"].as_str().unwrap().to_string();
    let triggers = json!([{"provider": "wecom", "config": {"enabled": true, "integrationId": id}}]);
    host.call("PUT", &format!("/api/xpert/{xpert}/triggers"), Some(triggers)).await;
    let (status, _) = host.post(&format!("/api/xpert/{xpert}/publish"), json!({})).await;
    assert_eq!(status, 200);
    id
}

#[tokio::test]
async fn a_message_redelivered_after_a_host_restart_is_not_answered_again() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.add_bot("DEDUPBOT", "s");
    let ws = sim.ws_url();
    let env = [("WECOM_WS_URL", ws.as_str()), ("WECOM_RECONCILE_MS", "100"), ("WECOM_STREAM_THROTTLE_MS", "20")];
    let dir = tempfile::tempdir().unwrap();
    let wait = Duration::from_secs(20);
    let answers = |sim: &Simulator| -> Vec<String> {
        sim.transcript("DEDUPBOT", "uma").into_iter().filter(|b| b.from == "bot").map(|b| b.text).collect()
    };
    let message = || MessageBody::new("DEDUPBOT", "uma", "hello").with_msgid("msg-fixed-1");
    {
        let mut host = start(dir.path(), &env).await;
        publish_long_integration(&host, "DEDUPBOT", "s").await;
        assert!(sim.wait_connected("DEDUPBOT", true, wait).await);
        sim.send_message(message()).unwrap();
        sim.wait_transcript("DEDUPBOT", "uma", wait, |b| b.iter().any(|b| b.from == "bot" && b.finished)).await;
        assert_eq!(answers(&sim), ["echo: hello"]);
        assert!(host.server.stop(Duration::from_secs(20)).await.unwrap().success());
    }
    let host = start(dir.path(), &env).await;
    assert!(sim.wait_connected("DEDUPBOT", true, wait).await, "the restarted host connects again");
    // WeCom redelivers the message (same msgid, new req_id) on the new connection; then a new one.
    sim.send_message(message()).unwrap();
    sim.send_text("DEDUPBOT", "uma", Chat::Single, "and now?").unwrap();
    // The redelivery is handled first (its thinking frame would come at once): by the time the
    // later message is answered, a second answer to it would be visible.
    sim.wait_transcript("DEDUPBOT", "uma", wait, |b| b.iter().any(|b| b.text == "echo: and now?" && b.finished)).await;
    assert_eq!(answers(&sim), ["echo: hello", "echo: and now?"], "the redelivery got no second answer");
    drop(host);
}

#[tokio::test]
async fn a_host_restart_restores_the_connection_and_shutdown_closes_it_cleanly() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.add_bot("HOSTBOT", "s3cret-value");
    let ws = sim.ws_url();
    let env = [("WECOM_WS_URL", ws.as_str()), ("WECOM_RECONCILE_MS", "100"), ("WECOM_HEARTBEAT_MS", "200")];
    let dir = tempfile::tempdir().unwrap();
    {
        let mut host = start(dir.path(), &env).await;
        let id = publish_long_integration(&host, "HOSTBOT", "s3cret-value").await;
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

#[tokio::test]
async fn metrics_show_connections_callbacks_and_latency_behind_the_admin_token_and_no_secret() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.add_bot("METRICBOT", "metric-s3cret");
    let ws = sim.ws_url();
    let env = [("WECOM_WS_URL", ws.as_str()), ("WECOM_RECONCILE_MS", "100"), ("WECOM_STREAM_THROTTLE_MS", "20")];
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &env).await;
    let id = publish_long_integration(&host, "METRICBOT", "metric-s3cret").await;
    assert!(sim.wait_connected("METRICBOT", true, Duration::from_secs(20)).await);
    sim.send_text("METRICBOT", "vic", Chat::Single, "count me").unwrap();
    sim.wait_transcript("METRICBOT", "vic", Duration::from_secs(20), |b| {
        b.iter().any(|b| b.from == "bot" && b.finished)
    })
    .await;

    let refused = host.http.get(host.url("/metrics")).send().await.unwrap();
    assert_eq!(refused.status(), 401, "labels name tenants and integrations: the admin token is required");
    let scrape = || async {
        let answer = host.http.get(host.url("/metrics")).bearer_auth(TOKEN).send().await.unwrap();
        assert_eq!(answer.status(), 200);
        assert!(answer.headers()["content-type"].to_str().unwrap().starts_with("text/plain; version=0.0.4"));
        answer.text().await.unwrap()
    };
    // The status is written before the answer's last frame; the gauge is set with it.
    let text = scrape().await;
    for expected in [
        "xpert_plugin_installations{plugin=\"wecom\"} 1".to_string(),
        "wecom_connections{state=\"connected\",tenant=\"default\"} 1".to_string(),
        "wecom_subscribes_total{tenant=\"default\"} 1".to_string(),
        "wecom_lease_changes_total{change=\"acquired\",tenant=\"default\"} 1".to_string(),
        format!("wecom_callbacks_total{{integration=\"{id}\",kind=\"text\",tenant=\"default\"}} 1"),
        "wecom_first_frame_seconds_count{tenant=\"default\"} 1".to_string(),
        "wecom_agent_run_seconds_count{outcome=\"ok\",tenant=\"default\"} 1".to_string(),
    ] {
        assert!(text.contains(&expected), "{expected} missing from:\n{text}");
    }
    assert_eq!(text.matches("# TYPE wecom_connections ").count(), 1, "each family once");
    assert!(!text.contains("metric-s3cret") && !text.contains("METRICBOT"), "no secret, no bot id in labels");
    drop(host);
}

#[tokio::test]
async fn a_host_started_before_its_integration_existed_stands_by_and_takes_over_when_the_owner_dies() {
    let sim = Simulator::start(SimConfig::default()).await.unwrap();
    sim.add_bot("PEERBOT", "peer-secret");
    let ws = sim.ws_url();
    let env = [
        ("WECOM_WS_URL", ws.as_str()),
        ("WECOM_RECONCILE_MS", "100"),
        ("WECOM_HEARTBEAT_MS", "200"),
        ("WECOM_LEASE_TTL_MS", "2000"),
        ("WECOM_TAKEOVER_POLL_MS", "100"),
        ("XPERT_PEER_SYNC_MS", "100"),
    ];
    // Two host processes on one data directory (one store); B starts after the plugin is
    // installed and before the integration exists, so it hears no event about it.
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), &env).await;
    a.install_wecom().await;
    let b = start(dir.path(), &env).await;
    let id = create_and_publish(&a, "PEERBOT", "peer-secret").await;
    assert!(sim.wait_connected("PEERBOT", true, Duration::from_secs(10)).await, "A connects the bot");

    // B finds the integration in the store and stands by for it.
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let standby = |text: &str| {
        text.lines()
            .any(|l| l.starts_with("wecom_connections{") && l.contains(r#"state="standby""#) && l.ends_with(" 1"))
    };
    loop {
        let text = b.http.get(b.url("/metrics")).bearer_auth(TOKEN).send().await.unwrap().text().await.unwrap();
        if standby(&text) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "B never stood by for the bot:\n{text}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(sim.sockets_per_bot().get("PEERBOT"), Some(&1), "one socket, A's");

    // A dies without a word: B takes the bot once A's lease has expired.
    let pid = a.server.pid().expect("A runs").to_string();
    assert!(std::process::Command::new("kill").args(["-9", &pid]).status().unwrap().success());
    assert!(sim.wait_connected("PEERBOT", false, Duration::from_secs(5)).await, "A's socket is gone");
    assert!(sim.wait_connected("PEERBOT", true, Duration::from_secs(15)).await, "B takes the bot over");
    let view =
        b.wait_json(&format!("/api/integration/{id}/views/status/data"), |v| v["item"]["state"] == "connected").await;
    assert_eq!(view["item"]["state"], "connected", "B's Status tab: {view}");
    drop(a);
}

#[tokio::test]
async fn an_install_and_an_uninstall_through_one_host_are_followed_by_the_other() {
    let env = [("XPERT_PEER_SYNC_MS", "100")];
    let dir = tempfile::tempdir().unwrap();
    let a = start(dir.path(), &env).await;
    let b = start(dir.path(), &env).await;
    let installed = |v: &serde_json::Value| v.as_array().is_some_and(|a| a.iter().any(|p| p["name"] == "wecom"));
    let (_, before) = b.get("/api/plugins").await;
    assert!(!installed(&before), "{before}");

    a.install_wecom().await;
    let seen = b.wait_json("/api/plugins", installed).await;
    assert!(installed(&seen), "B runs the installation made through A: {seen}");
    // B's installation serves: its routes answer (the plugin's ping needs the admin token).
    let (status, _) = b.get("/api/wecom/ping").await;
    assert_eq!(status, 200);

    let (status, body) = a.call("DELETE", "/api/plugins/wecom", None).await;
    assert!(status == 200 || status == 204, "{status} {body}");
    let after = b.wait_json("/api/plugins", |v| !installed(v)).await;
    assert!(!installed(&after), "B stopped it once A uninstalled it: {after}");
}

//! The long connection end to end: the real plugin library loaded by the TestHost, its
//! supervisor and actors connecting to the WeCom simulator over real sockets on 127.0.0.1, with
//! every protocol timing shortened through the host's config.

mod long_common;
mod plugin_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use host_sdk::contract::ViewData;
use host_sdk::{InstallLevel, Integration, LifecycleEvent, TriggerParams, ViewQuery};
use long_common::*;
use plugin_common::*;
use serde_json::{json, Value};
use wecom_sim::sim::Chat;
use wecom_sim::{FaultSpec, SimConfig, Simulator};

/// How many of `bot`'s sockets ended with a close frame from our side.
fn client_closes(sim: &Simulator, bot: &str) -> usize {
    sim.disconnects()
        .iter()
        .filter(|d| d.bot_id == bot && matches!(d.reason, wecom_sim::DisconnectReason::ClientClose { .. }))
        .count()
}

/// How many `aibot_subscribe` frames for `bot` the simulator received.
fn subscribes(sim: &Simulator, bot: &str) -> usize {
    sim.frames().iter().filter(|f| f.frame["cmd"] == "aibot_subscribe" && f.frame["body"]["bot_id"] == bot).count()
}

#[test]
fn a_published_integration_connects_answers_a_message_with_one_stream_and_welcomes() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOT1", "secret-1");
    let host = fast_host(&sim);
    let l1 = long("l1", "BOT1", "secret-1");
    let inst = installed_and_bound(&host, &l1);
    assert!(rt.block_on(sim.wait_connected("BOT1", true, WAIT)), "publishing starts the connection");
    let item = wait_status(&host, &inst, &l1, |i| i["state"] == "connected" && i["lastPingAt"].is_string());
    assert_eq!(item["ownerInstanceId"], "test-host");
    assert_eq!(item["disabledReason"], Value::Null);
    assert!(item["lastConnectedAt"].is_string());

    sim.send_text("BOT1", "alice", Chat::Single, "hello").unwrap();
    let bubbles =
        rt.block_on(sim.wait_transcript("BOT1", "alice", WAIT, |b| b.iter().any(|b| b.from == "bot" && b.finished)));
    let answer = bubbles.iter().find(|b| b.from == "bot").expect("an answer");
    assert_eq!(answer.kind, "stream");
    assert_eq!(answer.text, "echo: hello");
    assert!(answer.updates >= 2, "a thinking frame first, then the answer: {answer:?}");
    assert_eq!(bubbles.iter().filter(|b| b.from == "bot").count(), 1, "one stream per message: {bubbles:?}");
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());
    assert!(wait_status(&host, &inst, &l1, |i| i["lastCallbackAt"].is_string())["lastCallbackAt"].is_string());

    sim.send_event(wecom_sim::EventBody {
        bot_id: "BOT1".into(),
        user_id: "bob".into(),
        eventtype: "enter_chat".into(),
        ..Default::default()
    })
    .unwrap();
    let bubbles = rt.block_on(sim.wait_transcript("BOT1", "bob", WAIT, |b| b.iter().any(|b| b.kind == "welcome")));
    let welcome = bubbles.iter().find(|b| b.kind == "welcome").unwrap();
    let card = welcome.card.as_ref().expect("the welcome is a card");
    assert!(card["main_title"]["desc"].as_str().unwrap().contains("/new"), "{card}");
    assert_eq!(card["button_list"][0]["text"], "开始新对话", "in the integration's language: {card}");
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn a_kicked_connection_records_displaced_and_never_reconnects_until_reconnect_is_pressed() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTK", "s");
    let host = fast_host(&sim);
    let lk = long("lk", "BOTK", "s");
    let inst = installed_and_bound(&host, &lk);
    wait_status(&host, &inst, &lk, |i| i["state"] == "connected");

    // Another deployment subscribes with the same bot: WeCom tells ours it was displaced.
    let intruder = rt.block_on(async {
        let (mut ws, _) = tokio_tungstenite::connect_async(sim.ws_url()).await.unwrap();
        use futures_util::SinkExt;
        let frame = json!({"cmd": "aibot_subscribe", "headers": {"req_id": "intruder"}, "body": {"bot_id": "BOTK", "secret": "s"}});
        ws.send(tokio_tungstenite::tungstenite::Message::Text(frame.to_string().into())).await.unwrap();
        ws
    });
    let item = wait_status(&host, &inst, &lk, |i| i["disabledReason"] == "displaced");
    assert_eq!(item["state"], "stopped");
    assert!(item["reason"]["en_US"].as_str().unwrap().contains("second deployment"), "{item}");
    let ours = subscribes(&sim, "BOTK") - 1;
    // No kick loop: many reconcile rounds later our side has not subscribed again.
    std::thread::sleep(Duration::from_millis(600));
    assert_eq!(subscribes(&sim, "BOTK") - 1, ours, "the displaced connection must not reconnect on its own");
    drop(intruder);

    // Reconnect is the operator's decision; it subscribes again and says so.
    let view = inst.views[0].view.clone();
    let lk2 = lk.clone();
    let answer = host.block_on(async move { view.action(&lk2, "status", "reconnect", &json!({})).await.unwrap() });
    assert!(answer.success, "{:?}", answer.message);
    assert!(answer.message.en_us.starts_with("Reconnected"), "{:?}", answer.message);
    assert!(subscribes(&sim, "BOTK") - 1 > ours);
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn refused_credentials_end_unhealthy_with_config_invalid_after_their_own_budget() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTA", "right");
    let host = fast_host(&sim);
    let la = long("la", "BOTA", "wrong");
    let inst = installed_and_bound(&host, &la);
    let item = wait_status(&host, &inst, &la, |i| i["state"] == "unhealthy");
    assert_eq!(item["disabledReason"], "config_invalid");
    assert!(item["lastError"].as_str().unwrap().contains("853000"), "{item}");
    assert!(item["reason"]["en_US"].as_str().unwrap().contains("refused the Bot ID or Secret"), "{item}");
    assert_eq!(subscribes(&sim, "BOTA"), 2, "exactly the budget (WECOM_AUTH_FAILURE_LIMIT=2), then no hammering");
    assert!(!item.to_string().contains("wrong"), "the secret never shows");

    // Saving the config (a new generation) lets it try again, and the right secret connects.
    let fixed = long("la", "BOTA", "right");
    host.put_integration(fixed.clone());
    let provider = inst.provider("wecom_long").unwrap().provider.clone();
    let (old, new) = (la.clone(), fixed.clone());
    host.block_on(async move { provider.on_lifecycle(LifecycleEvent::Updated, &new, Some(&old)).await.unwrap() });
    wait_status(&host, &inst, &fixed, |i| i["state"] == "connected");
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn drops_and_dead_links_reconnect_with_backoff() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTD", "s");
    let host = fast_host(&sim);
    let ld = long("ld", "BOTD", "s");
    let inst = installed_and_bound(&host, &ld);
    wait_status(&host, &inst, &ld, |i| i["state"] == "connected");
    let before = subscribes(&sim, "BOTD");
    assert!(sim.drop_connections("BOTD") > 0);
    wait_status(&host, &inst, &ld, |_| subscribes(&sim, "BOTD") > before);
    let item = wait_status(&host, &inst, &ld, |i| i["state"] == "connected");
    assert!(item["lastDisconnectedAt"].is_string(), "{item}");

    // Ping acks withheld: the heartbeat notices the dead link and the actor reconnects.
    let before = subscribes(&sim, "BOTD");
    sim.fault(FaultSpec::WithholdPingAcks { bot_id: "BOTD".into() });
    wait_status(&host, &inst, &ld, |i| i["lastError"].as_str().is_some_and(|e| e.contains("heartbeat")));
    sim.fault(FaultSpec::Clear { bot_id: None });
    wait_status(&host, &inst, &ld, |i| i["state"] == "connected" && subscribes(&sim, "BOTD") > before);
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn unbind_disable_delete_and_uninstall_close_the_socket_with_their_reason() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTS", "s");
    let host = fast_host(&sim);
    let ls = long("ls", "BOTS", "s");
    let inst = installed_and_bound(&host, &ls);
    let trigger = inst.trigger("wecom").unwrap().trigger.clone();
    let provider = inst.provider("wecom_long").unwrap().provider.clone();
    wait_status(&host, &inst, &ls, |i| i["state"] == "connected");

    let t = trigger.clone();
    host.block_on(async move { t.stop(&params("x1", "ls")).await.unwrap() });
    assert!(rt.block_on(sim.wait_connected("BOTS", false, WAIT)), "unpublishing closes the socket");
    assert_eq!(wait_status(&host, &inst, &ls, |i| i["state"] == "stopped")["disabledReason"], "xpert_unbound");

    let t = trigger.clone();
    host.block_on(async move { t.publish(&params("x1", "ls")).await.unwrap() });
    wait_status(&host, &inst, &ls, |i| i["state"] == "connected");
    let disabled = Integration { enabled: false, ..ls.clone() };
    host.put_integration(disabled.clone());
    let (p, d) = (provider.clone(), disabled.clone());
    host.block_on(async move { p.on_lifecycle(LifecycleEvent::Disabled, &d, None).await.unwrap() });
    assert!(rt.block_on(sim.wait_connected("BOTS", false, WAIT)), "disabling closes the socket");
    wait_status(&host, &inst, &disabled, |i| i["disabledReason"] == "integration_disabled");

    host.put_integration(ls.clone());
    let (p, e) = (provider.clone(), ls.clone());
    host.block_on(async move { p.on_lifecycle(LifecycleEvent::Enabled, &e, None).await.unwrap() });
    assert!(rt.block_on(sim.wait_connected("BOTS", true, WAIT)), "enabling starts it again");

    // Deleting closes the socket before the plugin forgets the integration: nothing is left.
    let (p, e) = (provider.clone(), ls.clone());
    host.block_on(async move { p.on_lifecycle(LifecycleEvent::Deleted, &e, None).await.unwrap() });
    assert!(rt.block_on(sim.wait_connected("BOTS", false, WAIT)), "deleting closes the socket");
    let left: Vec<String> = host.kv().snapshot().into_iter().map(|e| e.key).filter(|k| k.ends_with(":ls")).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
    let t = trigger.clone();
    host.block_on(async move { t.publish(&params("x1", "ls")).await.unwrap() });
    assert!(rt.block_on(sim.wait_connected("BOTS", true, WAIT)), "bound again, it connects again");
    let closed_before = client_closes(&sim, "BOTS");
    inst.stop(Duration::from_secs(3)).unwrap();
    assert!(rt.block_on(sim.wait_connected("BOTS", false, WAIT)), "uninstalling closes the socket");
    assert_eq!(client_closes(&sim, "BOTS"), closed_before + 1, "with a clean close frame");
    let leases = host.services().leases;
    let held = host.block_on(async move { leases.current("wecom/wecom:ws:bot:BOTS".into()).await.unwrap() });
    assert!(held.is_none(), "the lease was released on stop");
}

#[test]
fn two_hosts_on_one_store_never_hold_two_sockets_and_reconnect_reaches_the_owner() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOT2", "s");
    let first = fast_host(&sim);
    let l2 = long("l2", "BOT2", "s");
    let a = installed_and_bound(&first, &l2);
    wait_status(&first, &a, &l2, |i| i["state"] == "connected");
    let second = first.sibling("host-b");
    let b = second.install(&load_wecom(), InstallLevel::Tenant).expect("second host installs");
    revive(&second, &b, &l2);
    // The second host's supervisor runs too, but stands by: one socket for the bot.
    let seen_by_b = wait_status(&second, &b, &l2, |i| i["state"] == "connected");
    assert_eq!(seen_by_b["ownerInstanceId"], "test-host", "the Status tab on any instance shows the true owner");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(subscribes(&sim, "BOT2"), 1, "no second subscribe, no kick between our own instances");
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());

    // Reconnect pressed on the instance that does not own the socket reaches the owner.
    let view = b.views[0].view.clone();
    let l = l2.clone();
    let answer = second.block_on(async move { view.action(&l, "status", "reconnect", &json!({})).await.unwrap() });
    assert!(answer.success, "{:?}", answer.message);
    assert_eq!(subscribes(&sim, "BOT2"), 2, "the owner reconnected once");
    // The owner stops (uninstall): the standby host takes the bot over.
    a.stop(Duration::from_secs(3)).unwrap();
    let item = wait_status(&second, &b, &l2, |i| i["state"] == "connected" && i["ownerInstanceId"] == "host-b");
    assert_eq!(item["ownerInstanceId"], "host-b");
    b.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn a_config_change_while_connected_reconnects_with_the_new_credentials() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("OLD", "s1");
    sim.add_bot("NEW", "s2");
    let host = fast_host(&sim);
    let lc = long("lc", "OLD", "s1");
    let inst = installed_and_bound(&host, &lc);
    assert!(rt.block_on(sim.wait_connected("OLD", true, WAIT)));
    let changed = long("lc", "NEW", "s2");
    host.put_integration(changed.clone());
    let provider = inst.provider("wecom_long").unwrap().provider.clone();
    let (old, new) = (lc.clone(), changed.clone());
    host.block_on(async move { provider.on_lifecycle(LifecycleEvent::Updated, &new, Some(&old)).await.unwrap() });
    assert!(rt.block_on(sim.wait_connected("NEW", true, WAIT)), "the new bot is subscribed");
    assert!(rt.block_on(sim.wait_connected("OLD", false, WAIT)), "the old one is closed");
    wait_status(&host, &inst, &changed, |i| i["state"] == "connected" && i["botId"] == "NEW");
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn a_restart_restores_the_connection_unless_its_reason_forbids_it() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTR", "s");
    let host = fast_host(&sim);
    let lr = long("lr", "BOTR", "s");
    let inst = installed_and_bound(&host, &lr);
    assert!(rt.block_on(sim.wait_connected("BOTR", true, WAIT)));
    inst.stop(Duration::from_secs(3)).unwrap();
    assert!(rt.block_on(sim.wait_connected("BOTR", false, WAIT)));
    // The same store, a new installation (a host restart): it connects again by itself.
    let again = host.install(&load_wecom(), InstallLevel::Tenant).unwrap();
    revive(&host, &again, &lr);
    assert!(rt.block_on(sim.wait_connected("BOTR", true, WAIT)), "restored after a restart");
    // A manual disconnect survives the next restart.
    let view = again.views[0].view.clone();
    let l = lr.clone();
    let answer = host.block_on(async move { view.action(&l, "status", "disconnect", &json!({})).await.unwrap() });
    assert!(answer.success && answer.message.en_us.starts_with("Disconnected"), "{:?}", answer.message);
    assert!(!sim.is_connected("BOTR"));
    again.stop(Duration::from_secs(3)).unwrap();
    let third = host.install(&load_wecom(), InstallLevel::Tenant).unwrap();
    revive(&host, &third, &lr);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!sim.is_connected("BOTR"), "a recorded manual disconnect keeps it stopped");
    assert_eq!(status(&host, &third, &lr)["disabledReason"], "manual_disconnect");
    third.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn the_long_connection_test_really_subscribes_and_says_what_wecom_answered() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTT", "right");
    let host = fast_host(&sim);
    let inst = host.install(&load_wecom(), InstallLevel::Tenant).unwrap();
    let provider = inst.provider("wecom_long").unwrap().provider.clone();
    let test = |integration: Integration| {
        let provider = provider.clone();
        host.block_on(async move { provider.test(&integration).await.unwrap() })
    };
    let accepted = test(long("", "BOTT", "right"));
    assert!(accepted.ok && accepted.checked == "connection", "{accepted:?}");
    assert!(accepted.message.en_us.starts_with("WeCom accepted the Bot ID and Secret"), "{:?}", accepted.message);
    assert_eq!(subscribes(&sim, "BOTT"), 1);
    assert!(rt.block_on(sim.wait_connected("BOTT", false, WAIT)), "the test connection was closed at once");

    let rejected = test(long("", "BOTT", "wrong"));
    assert!(!rejected.ok);
    assert_eq!(rejected.message.en_us, "WeCom rejected the Bot ID or Secret (853000).");
    assert!(!format!("{rejected:?}").contains("wrong"), "the secret never shows");

    // A running connection of the bot is never displaced by a test.
    let lt = long("lt", "BOTT", "right");
    host.put_integration(lt.clone());
    host.block_on(async {
        inst.trigger("wecom").unwrap().trigger.publish(&params("x1", "lt")).await.unwrap();
    });
    wait_status(&host, &inst, &lt, |i| i["state"] == "connected");
    let before = subscribes(&sim, "BOTT");
    let skipped = test(long("", "BOTT", "right"));
    assert_eq!(skipped.checked, "skipped");
    assert!(
        skipped.message.en_us.starts_with("Not tried: this bot's connection is running on instance test-host"),
        "{:?}",
        skipped.message
    );
    assert_eq!(subscribes(&sim, "BOTT"), before, "no test subscribe");
    assert!(sim.is_connected("BOTT"));
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn wss_with_the_simulators_ca_as_the_extra_ca_file_connects_and_answers() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig { tls: true, ..SimConfig::default() })).unwrap();
    assert!(sim.ws_url().starts_with("wss://"), "{}", sim.ws_url());
    sim.add_bot("BOTW", "s");
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("sim-ca.pem");
    std::fs::write(&ca, sim.ca_pem().expect("a TLS simulator has a CA")).unwrap();

    // Without the extra CA the certificate is not trusted: the status says why.
    let untrusting = fast_host(&sim);
    let lw = long("lw", "BOTW", "s");
    let inst = installed_and_bound(&untrusting, &lw);
    let item = wait_status(&untrusting, &inst, &lw, |i| i["lastError"].is_string());
    assert_eq!(item["state"], "retrying", "{item}");
    assert!(item["lastError"].as_str().unwrap().contains("cannot reach WeCom at wss://"), "{item}");
    inst.stop(Duration::from_secs(3)).unwrap();

    let trusting = fast_host(&sim);
    trusting.set_config("WECOM_EXTRA_CA_FILE", ca.to_str().unwrap());
    let inst = installed_and_bound(&trusting, &lw);
    wait_status(&trusting, &inst, &lw, |i| i["state"] == "connected");
    sim.send_text("BOTW", "carol", Chat::Single, "over tls").unwrap();
    let bubbles =
        rt.block_on(sim.wait_transcript("BOTW", "carol", WAIT, |b| b.iter().any(|b| b.from == "bot" && b.finished)));
    assert!(bubbles.iter().any(|b| b.text == "echo: over tls"), "{bubbles:?}");
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn lost_acks_end_in_a_dead_link_and_a_reconnect_never_a_hang() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTL", "s");
    let host = fast_host(&sim);
    let ll =
        Integration { options: json!({"botId": "BOTL", "secret": "s", "timeoutMs": 1000}), ..long("ll", "BOTL", "s") };
    let inst = installed_and_bound(&host, &ll);
    wait_status(&host, &inst, &ll, |i| i["state"] == "connected");
    let before = subscribes(&sim, "BOTL");
    // Every ack withheld (pings included), while a user writes: the answer's frames wait for
    // acks that never come, and the heartbeat declares the link dead.
    sim.fault(FaultSpec::WithholdAcks { bot_id: "BOTL".into() });
    sim.send_text("BOTL", "dave", Chat::Single, "anyone?").unwrap();
    let item = wait_status(&host, &inst, &ll, |i| i["lastError"].as_str().is_some_and(|e| e.contains("heartbeat")));
    assert!(matches!(item["state"].as_str(), Some("retrying" | "connecting" | "connected")), "{item}");
    sim.fault(FaultSpec::Clear { bot_id: None });
    wait_status(&host, &inst, &ll, |i| i["state"] == "connected" && subscribes(&sim, "BOTL") > before);
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn the_lease_is_renewed_while_reconnecting_so_no_other_instance_takes_the_bot() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTN", "s");
    let host = fast_host(&sim);
    let ln = long("ln", "BOTN", "s");
    let inst = installed_and_bound(&host, &ln);
    wait_status(&host, &inst, &ln, |i| i["state"] == "connected");
    // WeCom goes away for a while: the owner keeps retrying, and keeps its lease meanwhile.
    sim.fault(FaultSpec::Outage { ms: 60_000, bot_id: None });
    sim.drop_connections("BOTN");
    wait_status(&host, &inst, &ln, |i| i["state"] == "retrying");
    let leases = host.services().leases;
    let current = |leases: &Arc<dyn host_sdk::host::LeaseBackend>| {
        let leases = leases.clone();
        host.block_on(async move { leases.current("wecom/wecom:ws:bot:BOTN".into()).await.unwrap().expect("held") })
    };
    let first = current(&leases);
    // Move the host clock past most of the lease's lifetime several times: each time the owner
    // renews it before it could lapse (a renewal lands within a third of the TTL).
    let mut previous = first.expires_at_ms;
    for _ in 0..4 {
        host.advance_ms(500);
        let deadline = Instant::now() + WAIT;
        loop {
            let expires = current(&leases).expires_at_ms;
            if expires > previous {
                previous = expires;
                break;
            }
            assert!(Instant::now() < deadline, "the lease was not renewed while reconnecting");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
    let held = current(&leases);
    assert_eq!(held.owner, "test-host#test-tenant/ln", "held by this instance for this integration");
    assert_eq!(held.token, first.token, "the same tenure, renewed");
    assert_eq!(status(&host, &inst, &ln)["state"], "retrying");
    sim.fault(FaultSpec::Clear { bot_id: None });
    wait_status(&host, &inst, &ln, |i| i["state"] == "connected");
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn two_integrations_of_one_bot_on_one_instance_hold_one_socket_the_other_stands_by() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("SAME", "s");
    let host = fast_host(&sim);
    let first = long("first", "SAME", "s");
    let inst = installed_and_bound(&host, &first);
    wait_status(&host, &inst, &first, |i| i["state"] == "connected");
    let second = long("second", "SAME", "s");
    host.put_integration(second.clone());
    host.block_on(async {
        inst.trigger("wecom").unwrap().trigger.publish(&params("x2", "second")).await.unwrap();
    });
    let item = wait_status(&host, &inst, &second, |i| i["state"] == "standby");
    assert_eq!(item["ownerInstanceId"], "test-host", "{item}");
    assert!(item["reason"]["en_US"].as_str().unwrap().contains("another integration with the same Bot ID"), "{item}");
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(subscribes(&sim, "SAME"), 1, "one socket for the bot, no kick between our own integrations");
    // The first is unbound: the second takes the bot over.
    let t = inst.trigger("wecom").unwrap().trigger.clone();
    host.block_on(async move { t.stop(&params("x1", "first")).await.unwrap() });
    wait_status(&host, &inst, &second, |i| i["state"] == "connected");
    assert_eq!(status(&host, &inst, &first)["disabledReason"], "xpert_unbound");
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn a_redelivered_message_is_answered_once_and_sessions_continue_until_new_or_timeout() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTC", "s");
    let host = fast_host(&sim);
    // The test moves the host's clock an hour ahead: a lease that outlives the jump keeps the
    // socket (and a message in flight) from being dropped by an expiry the jump fakes.
    host.set_config("WECOM_LEASE_TTL_MS", "36000000");
    let lc = long("lc", "BOTC", "s");
    let inst = installed_and_bound(&host, &lc);
    wait_status(&host, &inst, &lc, |i| i["state"] == "connected");
    let answers = |user: &str| {
        sim.transcript("BOTC", user).into_iter().filter(|b| b.from == "bot" && b.finished).collect::<Vec<_>>()
    };
    let wait_answers = |user: &str, count: usize| {
        rt.block_on(sim.wait_transcript("BOTC", user, WAIT, |b| {
            b.iter().filter(|b| b.from == "bot" && b.finished).count() >= count
        }));
    };

    // WeCom delivers the same message twice (same msgid and req_id): one run, one answer.
    sim.fault(FaultSpec::DuplicateCallbacks { bot_id: "BOTC".into(), count: 1 });
    sim.send_text("BOTC", "erin", Chat::Single, "first").unwrap();
    wait_answers("erin", 1);
    sim.fault(FaultSpec::Clear { bot_id: None });
    // The next message is answered too, so the duplicate had its chance to be handled first.
    sim.send_text("BOTC", "erin", Chat::Single, "second").unwrap();
    wait_answers("erin", 2);
    let inputs: Vec<String> = host.agent().requests().into_iter().map(|r| r.input).collect();
    assert_eq!(inputs, ["first", "second"], "the redelivery started no second run");
    assert_eq!(answers("erin").len(), 2);

    // The second message continued the first one's conversation.
    let conversations: Vec<Option<String>> = host.agent().requests().into_iter().map(|r| r.conversation_id).collect();
    assert_eq!(conversations, [None, Some("conv-1".to_string())]);

    // `/new` starts over and says so; `/new <text>` starts over with that question.
    sim.send_text("BOTC", "erin", Chat::Single, "/new").unwrap();
    wait_answers("erin", 3);
    assert_eq!(
        answers("erin")[2].text,
        "已开始新的对话。",
        "confirmed in the integration's language (Chinese by default)"
    );
    sim.send_text("BOTC", "erin", Chat::Group("GroupA".into()), "@bot /new hello there").unwrap();
    rt.block_on(sim.wait_transcript("BOTC", "GroupA", WAIT, |b| b.iter().any(|b| b.from == "bot" && b.finished)));
    sim.send_text("BOTC", "erin", Chat::Single, "after new").unwrap();
    wait_answers("erin", 4);
    let requests = host.agent().requests();
    let last_two: Vec<(String, Option<String>)> =
        requests.iter().rev().take(2).rev().map(|r| (r.input.clone(), r.conversation_id.clone())).collect();
    assert_eq!(last_two, [("hello there".to_string(), None), ("after new".to_string(), None)], "{requests:?}");

    // Idle past the session timeout (3600 s by default): a new conversation starts.
    sim.send_text("BOTC", "erin", Chat::Single, "still here").unwrap();
    wait_answers("erin", 5);
    assert_eq!(host.agent().requests().last().unwrap().conversation_id.as_deref(), Some("conv-1"));
    host.advance_ms(3_601_000);
    sim.send_text("BOTC", "erin", Chat::Single, "much later").unwrap();
    wait_answers("erin", 6);
    assert_eq!(host.agent().requests().last().unwrap().conversation_id, None, "the session timed out");

    // The Sessions tab lists the sessions with their conversation.
    let view = inst.views[0].view.clone();
    let l = lc.clone();
    let sessions = host.block_on(async move { view.data(&l, "sessions", &ViewQuery::default()).await.unwrap() });
    let ViewData::Table { items, total } = sessions else { panic!("a table") };
    assert_eq!(total, 2, "{items:?}");
    assert!(items
        .iter()
        .any(|s| s["chatId"] == "erin" && s["chatType"] == "single" && s["conversationId"] == "conv-1"));
    assert!(items.iter().any(|s| s["chatId"] == "GroupA" && s["chatType"] == "group"));
    // Searched, sorted and paged by the store.
    let view = inst.views[0].view.clone();
    let l = lc.clone();
    let q = ViewQuery { search: Some("groupa".into()), ..ViewQuery::default() };
    let found = host.block_on(async move { view.data(&l, "sessions", &q).await.unwrap() });
    let ViewData::Table { items, total } = found else { panic!("a table") };
    assert_eq!((total, items[0]["chatId"].as_str()), (1, Some("GroupA")), "{items:?}");
    let view = inst.views[0].view.clone();
    let l = lc.clone();
    let q = ViewQuery {
        page: 2,
        page_size: 1,
        sort_by: Some("chatId".into()),
        sort_direction: Some("asc".into()),
        ..ViewQuery::default()
    };
    let second = host.block_on(async move { view.data(&l, "sessions", &q).await.unwrap() });
    let ViewData::Table { items, total } = second else { panic!("a table") };
    assert_eq!((total, items.len(), items[0]["chatId"].as_str()), (2, 1, Some("erin")), "{items:?}");

    // The tab's reset does what /new does: the next message starts a new conversation.
    sim.send_text("BOTC", "erin", Chat::Single, "continuing").unwrap();
    wait_answers("erin", 7);
    assert_eq!(host.agent().requests().last().unwrap().conversation_id.as_deref(), Some("conv-1"));
    let view = inst.views[0].view.clone();
    let l = lc.clone();
    let reset =
        host.block_on(
            async move { view.action(&l, "sessions", "reset", &json!({"targetId": "erin:erin"})).await.unwrap() },
        );
    assert!(reset.success, "{reset:?}");
    sim.send_text("BOTC", "erin", Chat::Single, "fresh start").unwrap();
    wait_answers("erin", 8);
    assert_eq!(host.agent().requests().last().unwrap().conversation_id, None, "the tab reset the session");
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn a_50_kb_answer_arrives_whole_and_a_run_failing_half_way_closes_its_bubble_with_an_error() {
    use host_sdk::AgentEvent;
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTB", "s");
    let host = fast_host(&sim);
    let long_answer: String = (0..5_000).map(|i| format!("第{i:04}段。")).collect(); // ≈ 55 KB
    assert!(long_answer.len() > 50_000);
    let chunks: Vec<AgentEvent> = long_answer
        .chars()
        .collect::<Vec<_>>()
        .chunks(700)
        .map(|c| AgentEvent::TextDelta(c.iter().collect()))
        .collect();
    host.agent().on_prefix("tell me everything", chunks);
    host.agent().on_prefix(
        "break",
        vec![
            AgentEvent::TextDelta("Half of the answer".into()),
            AgentEvent::Error { message: "the model endpoint is unreachable".into() },
        ],
    );
    let lb = long("lb", "BOTB", "s");
    let inst = installed_and_bound(&host, &lb);
    wait_status(&host, &inst, &lb, |i| i["state"] == "connected");

    sim.send_text("BOTB", "fay", Chat::Single, "tell me everything").unwrap();
    let parts = long_answer.len().div_ceil(20_480);
    let bubbles =
        rt.block_on(sim.wait_transcript("BOTB", "fay", WAIT, |b| {
            b.iter().filter(|b| b.from == "bot" && b.finished).count() >= parts
        }));
    let answer: String = bubbles.iter().filter(|b| b.from == "bot").map(|b| b.text.as_str()).collect();
    assert_eq!(answer, long_answer, "the whole answer, in order, over {} bubbles", bubbles.len() - 1);
    assert!(bubbles.iter().filter(|b| b.from == "bot").all(|b| b.finished && b.text.len() <= 20_480));
    assert!(sim.violations().is_empty(), "{:?}", sim.violations());

    sim.send_text("BOTB", "gus", Chat::Single, "break it").unwrap();
    let bubbles =
        rt.block_on(sim.wait_transcript("BOTB", "gus", WAIT, |b| b.iter().any(|b| b.from == "bot" && b.finished)));
    let closed = bubbles.iter().find(|b| b.from == "bot").unwrap();
    assert!(closed.text.starts_with("Half of the answer"), "what was said stays: {closed:?}");
    assert!(closed.text.contains("数字专家暂时无法回答"), "and a localized error closes it: {closed:?}");
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn messages_within_the_aggregation_window_get_one_run_and_every_one_an_answer() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTG", "s");
    let host = fast_host(&sim);
    let lg = long("lg", "BOTG", "s");
    host.put_integration(lg.clone());
    let inst = host.install(&load_wecom(), InstallLevel::Tenant).unwrap();
    let with_window = TriggerParams {
        xpert_id: "x1".into(),
        config: json!({"enabled": true, "integrationId": "lg", "summaryWindowSeconds": 1}),
    };
    host.block_on(async { inst.trigger("wecom").unwrap().trigger.publish(&with_window).await.unwrap() });
    wait_status(&host, &inst, &lg, |i| i["state"] == "connected");

    for text in ["one", "two", "three"] {
        sim.send_text("BOTG", "hal", Chat::Single, text).unwrap();
    }
    let bubbles = rt.block_on(
        sim.wait_transcript("BOTG", "hal", WAIT, |b| b.iter().filter(|b| b.from == "bot" && b.finished).count() >= 3),
    );
    let inputs: Vec<String> = host.agent().requests().into_iter().map(|r| r.input).collect();
    assert_eq!(inputs, ["one\ntwo\nthree"], "one run for the three messages, in order");
    let answers: Vec<&str> = bubbles.iter().filter(|b| b.from == "bot").map(|b| b.text.as_str()).collect();
    assert_eq!(answers.len(), 3, "every message got an answer: {bubbles:?}");
    assert!(answers.contains(&"echo: one\ntwo\nthree"), "{answers:?}");
    assert_eq!(answers.iter().filter(|a| a.contains("一并回答")).count(), 2, "{answers:?}");
    assert!(bubbles.iter().filter(|b| b.from == "bot").all(|b| b.finished), "none is left on thinking");
    inst.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn an_image_reaches_the_agent_decrypted_and_an_unreadable_one_is_named_to_the_user() {
    use base64::Engine as _;
    let png: Vec<u8> = [b"\x89PNG\r\n\x1a\n".as_slice(), &[7u8; 300]].concat();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTI", "s");
    let host = fast_host(&sim);
    let li = long("li", "BOTI", "s");
    let inst = installed_and_bound(&host, &li);
    wait_status(&host, &inst, &li, |i| i["state"] == "connected");
    sim.send_message(wecom_sim::MessageBody::new("BOTI", "ivy", "").media("image", &png, "pic.png")).unwrap();
    rt.block_on(sim.wait_transcript("BOTI", "ivy", WAIT, |b| b.iter().any(|b| b.from == "bot" && b.finished)));
    let request = host.agent().requests().pop().expect("the agent ran");
    assert_eq!(request.files.len(), 1, "{request:?}");
    let file = &request.files[0];
    assert_eq!((file.mime_type.as_str(), file.name.as_str()), ("image/png", "image-1.png"));
    let encoded = file.url.strip_prefix("data:image/png;base64,").expect("a data URL");
    assert_eq!(base64::engine::general_purpose::STANDARD.decode(encoded).unwrap(), png, "decrypted byte for byte");

    // Media URLs expire (here at once): the text of the answer says which image was unreadable.
    let expiring =
        rt.block_on(Simulator::start(SimConfig { media_ttl: Duration::ZERO, ..SimConfig::default() })).unwrap();
    expiring.add_bot("BOTX", "s");
    let host2 = fast_host(&expiring);
    let lx = long("lx", "BOTX", "s");
    let inst2 = installed_and_bound(&host2, &lx);
    wait_status(&host2, &inst2, &lx, |i| i["state"] == "connected");
    expiring.send_message(wecom_sim::MessageBody::new("BOTX", "jo", "").media("image", &png, "pic.png")).unwrap();
    let bubbles =
        rt.block_on(expiring.wait_transcript("BOTX", "jo", WAIT, |b| b.iter().any(|b| b.from == "bot" && b.finished)));
    let answer = bubbles.iter().find(|b| b.from == "bot").unwrap();
    assert!(answer.text.contains("第 1 张图片无法读取"), "{answer:?}");
    assert!(host2.agent().requests().pop().unwrap().files.is_empty());
    inst.stop(Duration::from_secs(3)).unwrap();
    inst2.stop(Duration::from_secs(3)).unwrap();
}

#[test]
fn an_unreadable_extra_ca_file_is_shown_on_the_status_and_nothing_retries() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    let sim = rt.block_on(Simulator::start(SimConfig::default())).unwrap();
    sim.add_bot("BOTE", "s");
    let host = fast_host(&sim);
    host.set_config("WECOM_EXTRA_CA_FILE", "/nonexistent/ca.pem");
    let le = long("le", "BOTE", "s");
    let inst = installed_and_bound(&host, &le);
    let item = wait_status(&host, &inst, &le, |i| i["state"] == "unhealthy");
    assert_eq!(item["disabledReason"], "config_invalid", "{item}");
    assert!(item["lastError"].as_str().unwrap().contains("WECOM_EXTRA_CA_FILE"), "{item}");
    assert!(item["lastError"].as_str().unwrap().contains("/nonexistent/ca.pem"), "names the file: {item}");
    assert_eq!(subscribes(&sim, "BOTE"), 0, "nothing was tried");
    inst.stop(Duration::from_secs(3)).unwrap();
}

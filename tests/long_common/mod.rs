//! Shared helpers for the tests that run the real plugin's long connection against the WeCom
//! simulator in a TestHost, with every protocol timing shortened through the host's config.
#![allow(dead_code)]

use std::sync::Arc;
use std::time::{Duration, Instant};

use host_sdk::contract::ViewData;
use host_sdk::host::{Installation, TestHost};
use host_sdk::{InstallLevel, Integration, LifecycleEvent, TriggerParams, ViewQuery};
use serde_json::{json, Value};
use wecom_sim::Simulator;

use crate::plugin_common::load_wecom;

/// How long a test waits for something the plugin or the simulator does (generous: CI machines
/// run many tests at once on two cores).
pub const WAIT: Duration = Duration::from_secs(20);

/// A TestHost whose plugin talks to `sim` with test-speed timings.
pub fn fast_host(sim: &Simulator) -> Arc<TestHost> {
    let host = TestHost::new();
    configure(&host, sim);
    host
}

pub fn configure(host: &TestHost, sim: &Simulator) {
    for (key, value) in [
        ("WECOM_WS_URL", sim.ws_url().as_str()),
        ("WECOM_HEARTBEAT_MS", "100"),
        ("WECOM_RECONCILE_MS", "50"),
        ("WECOM_LEASE_TTL_MS", "900"),
        ("WECOM_BACKOFF_BASE_MS", "20"),
        ("WECOM_BACKOFF_MAX_MS", "200"),
        ("WECOM_AUTH_FAILURE_LIMIT", "2"),
        ("WECOM_CONNECT_TIMEOUT_MS", "2000"),
        ("WECOM_STREAM_THROTTLE_MS", "20"),
    ] {
        host.set_config(key, value);
    }
}

pub fn long(id: &str, bot: &str, secret: &str) -> Integration {
    Integration {
        id: id.into(),
        name: id.into(),
        provider: "wecom_long".into(),
        enabled: true,
        options: json!({"botId": bot, "secret": secret, "timeoutMs": 2000}),
    }
}

pub fn params(xpert: &str, integration_id: &str) -> TriggerParams {
    TriggerParams { xpert_id: xpert.into(), config: json!({"enabled": true, "integrationId": integration_id}) }
}

/// Installs the plugin, adds `integration` and publishes a trigger for it.
pub fn installed_and_bound(host: &Arc<TestHost>, integration: &Integration) -> Installation {
    host.put_integration(integration.clone());
    let inst = host.install(&load_wecom(), InstallLevel::Tenant).expect("install");
    host.block_on(async {
        let provider = &inst.provider("wecom_long").unwrap().provider;
        provider.on_lifecycle(LifecycleEvent::Created, integration, None).await.unwrap();
        inst.trigger("wecom").unwrap().trigger.publish(&params("x1", &integration.id)).await.unwrap();
    });
    inst
}

/// What a host does at start for every enabled integration (see `revival` in the host): replay
/// `Enabled` to its provider.
pub fn revive(host: &TestHost, inst: &Installation, integration: &Integration) {
    let provider = inst.provider("wecom_long").unwrap().provider.clone();
    let integration = integration.clone();
    host.block_on(async move { provider.on_lifecycle(LifecycleEvent::Enabled, &integration, None).await.unwrap() });
}

pub fn status(host: &TestHost, inst: &Installation, integration: &Integration) -> Value {
    let view = inst.views[0].view.clone();
    let integration = integration.clone();
    match host.block_on(async move { view.data(&integration, "status", &ViewQuery::default()).await.unwrap() }) {
        ViewData::Stats { item } => item,
        other => panic!("not a stats tab: {other:?}"),
    }
}

/// Reads the Status tab until `done` holds (the owner writes it when things happen).
pub fn wait_status(
    host: &TestHost,
    inst: &Installation,
    integration: &Integration,
    done: impl Fn(&Value) -> bool,
) -> Value {
    let deadline = Instant::now() + WAIT;
    loop {
        let item = status(host, inst, integration);
        if done(&item) {
            return item;
        }
        assert!(Instant::now() < deadline, "status never matched; last: {item}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

//! A panic inside a plugin becomes an error at the boundary; the host process carries on. Proven
//! with the probe fixture, since the shipped WeCom plugin carries no probes (also checked here).

mod plugin_common;

use host_sdk::host::TestHost;
use host_sdk::{ErrorCode, HttpRequest, InstallLevel};
use plugin_common::*;

fn get(path: &str) -> HttpRequest {
    HttpRequest { method: "GET".into(), path: format!("/api{path}"), ..Default::default() }
}

#[test]
fn panics_in_sync_and_async_plugin_calls_become_errors_and_the_host_survives() {
    let host = TestHost::new();
    let inst = host.install(&load_probe(), InstallLevel::Tenant).expect("install");

    // Synchronous entry point: the view extension's `supports`.
    let view = &inst.views[0].view;
    assert!(!view.supports("__panic__"), "a panicking sync call answers the safe default");

    // Asynchronous entry point: a route handler whose future panics while polled.
    let probe = inst.routes.iter().find(|r| r.spec.path == "/probe/panic").expect("probe route").handler.clone();
    let err = host.block_on(async { probe.handle(get("/probe/panic")).await }).unwrap_err();
    assert_eq!(err.code, ErrorCode::PANICKED);
    assert!(err.message.contains("deliberate panic"), "{}", err.message);

    // Again, and then ordinary calls still work: nothing was poisoned.
    assert!(host.block_on(async { probe.handle(get("/probe/panic")).await }).is_err());
    assert!(view.supports("probe"));
    let kv = inst.routes.iter().find(|r| r.spec.path == "/probe/kv").unwrap().handler.clone();
    assert_eq!(host.block_on(async { kv.handle(get("/probe/kv")).await }).unwrap().status, 200);
}

#[test]
fn the_shipped_plugin_registers_exactly_its_routes_and_no_probe() {
    let (_host, inst) = installed(InstallLevel::Tenant);
    let mut routes: Vec<String> = inst.routes.iter().map(|r| format!("{} {}", r.spec.method, r.spec.path)).collect();
    routes.sort();
    assert_eq!(
        routes,
        ["GET /wecom/ping", "GET /wecom/webhook/{integrationId}", "POST /wecom/webhook/{integrationId}"]
    );
    // Its views do not panic on any provider name, including the probe's.
    for provider in ["__panic__", "__panic_probe__", "wecom", ""] {
        let _ = inst.views[0].view.supports(provider);
    }
    // Nothing in the plugin's build can switch probes on: no cargo features, no probe code.
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let cargo: toml::Table = std::fs::read_to_string(root.join("plugin/Cargo.toml")).unwrap().parse().unwrap();
    assert!(cargo.get("features").is_none(), "the plugin has no build features: {:?}", cargo.get("features"));
    let mut stack = vec![root.join("plugin/src")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                stack.push(path);
            } else {
                let text = std::fs::read_to_string(&path).unwrap();
                for needle in ["_probe", "PANIC_PROBES"] {
                    assert!(!text.contains(needle), "{} mentions {needle}", path.display());
                }
            }
        }
    }
}

//! A panic inside the plugin becomes an error at the boundary; the host process carries on.

mod plugin_common;

use host_sdk::host::TestHost;
use host_sdk::{ErrorCode, HttpRequest, InstallLevel};
use plugin_common::*;

#[test]
fn panics_in_sync_and_async_plugin_calls_become_errors_and_the_host_survives() {
    let host = TestHost::new();
    host.set_config("XPERT_PANIC_PROBES", "1");
    let plugin = load_wecom();
    let inst = host.install(&plugin, InstallLevel::Tenant).expect("install");

    // Synchronous entry point: the view extension's `supports`.
    let view = &inst.views[0].view;
    assert!(!view.supports("__panic_probe__"), "a panicking sync call answers the safe default");

    // Asynchronous entry point: a route handler whose future panics while polled.
    let probe = inst.routes.iter().find(|r| r.spec.path == "/wecom/_probe/panic").expect("probe route").handler.clone();
    let err = host.block_on(async { probe.handle(HttpRequest::default()).await }).unwrap_err();
    assert_eq!(err.code, ErrorCode::PANICKED);
    assert!(err.message.contains("deliberate panic"), "{}", err.message);

    // Again, and then ordinary calls still work: nothing was poisoned.
    assert!(host.block_on(async { probe.handle(HttpRequest::default()).await }).is_err());
    let ping = inst.routes.iter().find(|r| r.spec.path == "/wecom/ping").unwrap().handler.clone();
    assert_eq!(host.block_on(async { ping.handle(HttpRequest::default()).await }).unwrap().status, 200);
    assert!(view.supports("wecom"));
}

#[test]
fn without_the_probe_flag_no_panic_route_exists() {
    let (_host, inst) = installed(InstallLevel::Tenant);
    assert!(inst.routes.iter().all(|r| !r.spec.path.contains("_probe")));
}

//! `shutdown` stops the plugin's runtime within its timeout and is idempotent; a stopped plugin
//! refuses new installations with a clear error instead of hanging.

mod plugin_common;

use std::time::{Duration, Instant};

use host_sdk::host::TestHost;
use host_sdk::{ErrorCode, HttpRequest, InstallLevel};
use plugin_common::*;

#[test]
fn shutdown_stops_the_runtime_within_its_timeout() {
    // A private copy of the library: shutting it down must not affect other tests' images.
    let dir = plugin_folder(&manifest_text(), Some(&plugin_library()));
    let plugin = load_from_folder(dir.path()).expect("copy loads");
    let host = TestHost::new();
    let inst = host.install(&plugin, InstallLevel::Tenant).expect("install");
    let ping = inst.routes.iter().find(|r| r.spec.path == "/wecom/ping").unwrap().handler.clone();
    assert_eq!(host.block_on(async { ping.handle(HttpRequest::default()).await }).unwrap().status, 200);

    let timeout = Duration::from_secs(2);
    let started = Instant::now();
    let stopper = std::thread::spawn({
        let plugin = plugin.clone();
        move || plugin.shutdown(timeout)
    });
    stopper.join().expect("shutdown thread").expect("shutdown succeeds");
    assert!(started.elapsed() < timeout * 2, "shutdown took {:?}", started.elapsed());
    plugin.shutdown(timeout).expect("a second shutdown is harmless");

    let err = host.install(&plugin, InstallLevel::Tenant).expect_err("a stopped plugin cannot register");
    assert_eq!(err.code, ErrorCode::SHUTTING_DOWN, "{}", err.message);
}

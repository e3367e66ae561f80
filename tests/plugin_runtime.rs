//! The plugin's runtime is started by the first async call into the plugin, not by loading or
//! registering it: a registered plugin that sees no traffic runs no thread of its own.
//! (Its own test binary: it counts the process's threads by name.)

mod plugin_common;

use host_sdk::host::TestHost;
use host_sdk::{HttpRequest, InstallLevel};
use plugin_common::*;

/// How many threads of this process carry the plugin runtime's name.
fn plugin_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .expect("/proc/self/task")
        .filter_map(|task| std::fs::read_to_string(task.ok()?.path().join("comm")).ok())
        .filter(|name| name.trim() == "wecom-plugin")
        .count()
}

/// Waits (up to 5 s) until `count` threads carry the runtime's name: a new thread names itself
/// once it runs, a moment after the runtime was built.
fn wait_for_plugin_threads(count: usize) -> usize {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let seen = plugin_threads();
        if seen >= count || std::time::Instant::now() > deadline {
            return seen;
        }
        std::thread::yield_now();
    }
}

#[test]
#[cfg(target_os = "linux")]
fn the_runtime_starts_with_the_first_async_call() {
    let plugin = load_wecom();
    let host = TestHost::new();
    let inst = host.install(&plugin, InstallLevel::Tenant).expect("install");
    assert_eq!(plugin_threads(), 0, "load and register start no plugin thread");

    let ping = inst.routes.iter().find(|r| r.spec.path == "/wecom/ping").expect("ping route").handler.clone();
    let answer = host.block_on(async { ping.handle(HttpRequest::default()).await }).expect("ping answers");
    assert_eq!(answer.status, 200);
    assert_eq!(wait_for_plugin_threads(2), 2, "the first async call starts the runtime's two workers");

    plugin.shutdown(std::time::Duration::from_secs(2)).expect("shutdown");
    let answer = host.block_on(async { ping.handle(HttpRequest::default()).await });
    let err = answer.expect_err("a stopped plugin answers no call");
    assert_eq!(err.code, host_sdk::ErrorCode::SHUTTING_DOWN, "{}", err.message);
}

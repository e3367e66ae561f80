//! Shared helpers for the tests that load the real plugin library through the host-sdk loader.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::Arc;

use host_sdk::host::{load_plugin, load_plugin_at, Installation, LoadedPlugin, Manifest, TestHost};
use host_sdk::InstallLevel;

/// The platform file name of a cdylib.
pub fn lib_file(base: &str) -> String {
    format!("{}{}{}", std::env::consts::DLL_PREFIX, base, std::env::consts::DLL_SUFFIX)
}

/// The directory cargo puts the cdylibs of our (dev-)dependencies in: the test executable's own.
pub fn deps_dir() -> PathBuf {
    std::env::current_exe().expect("test executable path").parent().expect("deps dir").to_path_buf()
}

/// The freshly built WeCom plugin library (override with `XPERT_PLUGIN_LIB`).
pub fn plugin_library() -> PathBuf {
    if let Some(path) = std::env::var_os("XPERT_PLUGIN_LIB") {
        return PathBuf::from(path);
    }
    let path = deps_dir().join(lib_file("plugin_wecom"));
    assert!(path.is_file(), "plugin library not built at {}", path.display());
    path
}

/// A fixture library built next to the tests.
pub fn fixture_library(base: &str) -> PathBuf {
    let path = deps_dir().join(lib_file(base));
    assert!(path.is_file(), "fixture library not built at {}", path.display());
    path
}

/// The repository's manifest.toml text.
pub fn manifest_text() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest.toml")).expect("manifest.toml")
}

/// A temporary plugin folder holding `manifest` and, if given, a copy of `library` under the file
/// name the manifest asks for.
pub fn plugin_folder(manifest: &str, library: Option<&Path>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("temp dir");
    std::fs::write(dir.path().join("manifest.toml"), manifest).expect("write manifest");
    if let Some(lib) = library {
        let parsed = Manifest::parse(manifest, Path::new("manifest.toml")).expect("test manifest parses");
        std::fs::copy(lib, dir.path().join(parsed.library_file_name())).expect("copy library");
    }
    dir
}

/// Loads the real plugin library with the repository's manifest.
pub fn load_wecom() -> LoadedPlugin {
    let manifest = Manifest::parse(&manifest_text(), Path::new("manifest.toml")).expect("manifest parses");
    load_plugin_at(manifest, &plugin_library()).expect("the WeCom plugin loads")
}

/// Loads from a folder (manifest + library), as the host does.
pub fn load_from_folder(dir: &Path) -> Result<LoadedPlugin, host_sdk::host::LoadError> {
    load_plugin(dir)
}

/// A TestHost with the plugin installed at `level`.
pub fn installed(level: InstallLevel) -> (Arc<TestHost>, Installation) {
    let host = TestHost::new();
    host.set_config("API_BASE_URL", "https://xpert.example.com");
    // WeCom is a closed loopback port: connections the plugin starts fail fast and retry.
    host.set_config("WECOM_WS_URL", "ws://127.0.0.1:9");
    host.set_config("WECOM_RECONCILE_MS", "50");
    host.set_config("WECOM_BACKOFF_BASE_MS", "50");
    host.set_config("WECOM_BACKOFF_MAX_MS", "500");
    let plugin = load_wecom();
    let installation = host.install(&plugin, level).expect("install succeeds");
    (host, installation)
}

/// Loads the probe fixture (a plugin built on host-sdk whose routes panic, hold leases and stay
/// in flight on request) from a folder with its manifest, as the host would.
pub fn load_probe() -> LoadedPlugin {
    let dir = plugin_folder(&fixture_probe_plugin::manifest(), Some(&fixture_library("fixture_probe_plugin")));
    let plugin = load_plugin(dir.path()).expect("the probe plugin loads");
    // The library stays mapped (never unloaded), so the folder may go.
    drop(dir);
    plugin
}

//! The loader against the real cdylib and against libraries it must refuse, each with one line.

mod plugin_common;

use host_sdk::host::LoadError;
use plugin_common::*;

fn assert_one_line(err: &LoadError) -> String {
    let text = err.to_string();
    assert!(!text.contains('\n'), "refusal must be one line: {text:?}");
    text
}

#[test]
fn manifest_sdk_and_loaded_module_agree_on_the_abi_version() {
    let plugin = load_wecom();
    let manifest_abi: u32 = env!("MANIFEST_ABI_VERSION").parse().unwrap();
    let sdk_source_abi: u32 = env!("SDK_ABI_VERSION").parse().unwrap();
    assert_eq!(manifest_abi, host_sdk::ABI_VERSION);
    assert_eq!(sdk_source_abi, host_sdk::ABI_VERSION);
    assert_eq!(plugin.abi_version(), host_sdk::ABI_VERSION);
    assert_eq!(plugin.manifest.abi_version, host_sdk::ABI_VERSION);
    assert_eq!(plugin.compiled_manifest(), manifest_text(), "the library embeds the manifest on disk");
    assert_eq!(plugin.manifest.level, "tenant");
}

#[test]
fn loads_from_a_plugin_folder_like_the_host_does() {
    let dir = plugin_folder(&manifest_text(), Some(&plugin_library()));
    let plugin = load_from_folder(dir.path()).expect("folder loads");
    assert_eq!(plugin.manifest.name, "wecom");
}

#[test]
fn refuses_another_abi_version_before_opening_the_library() {
    let abi = host_sdk::ABI_VERSION;
    let manifest = manifest_text().replace(&format!("abi_version = {abi}"), &format!("abi_version = {}", abi + 1));
    // The library in the folder is not even a library: it must never be opened.
    let dir = plugin_folder(&manifest, None);
    std::fs::write(dir.path().join(lib_file("plugin_wecom")), b"not a library").unwrap();
    let err = load_from_folder(dir.path()).unwrap_err();
    let text = assert_one_line(&err);
    assert!(
        matches!(err, LoadError::AbiVersion { found, expected, .. } if found == abi + 1 && expected == abi),
        "{text}"
    );
    assert!(text.contains(&format!("abi_version {}", abi + 1)), "{text}");
}

/// The v1 fixture's folder: its manifest (with `abi_version` as given) and its library.
fn v1_folder(manifest_abi: u32) -> tempfile::TempDir {
    let manifest = format!(
        "name = \"wecom\"\nversion = \"0.1.0\"\nabi_version = {manifest_abi}\nlevel = \"tenant\"\nlibrary = \"fixture_v1_plugin\"\n"
    );
    plugin_folder(&manifest, Some(&fixture_library("fixture_v1_plugin")))
}

#[test]
fn refuses_a_v1_plugin_by_its_manifest_in_one_line() {
    let err = load_from_folder(v1_folder(1).path()).unwrap_err();
    let text = assert_one_line(&err);
    assert!(matches!(err, LoadError::AbiVersion { found: 1, .. }), "{text}");
    assert_eq!(
        text,
        format!(
            "plugin wecom: manifest abi_version 1 is not supported by this host (expected {})",
            host_sdk::ABI_VERSION
        )
    );
}

#[test]
fn refuses_a_v1_library_behind_a_v2_manifest_by_its_version_strings() {
    // A manifest edited to claim the current ABI does not make a v1 library loadable: the
    // library's own version strings are checked before its layout.
    let err = load_from_folder(v1_folder(host_sdk::ABI_VERSION).path()).unwrap_err();
    let text = assert_one_line(&err);
    assert!(matches!(err, LoadError::SdkVersion { .. }), "{text}");
    assert!(text.contains("built for ABI 1.0.0") && text.contains(host_sdk::ABI_VERSION_STRING), "{text}");
}

#[test]
fn refuses_a_missing_library() {
    let dir = plugin_folder(&manifest_text(), None);
    let err = load_from_folder(dir.path()).unwrap_err();
    let text = assert_one_line(&err);
    assert!(matches!(err, LoadError::LibraryMissing { .. }), "{text}");
    assert!(text.contains("not found"), "{text}");
}

#[test]
fn refuses_a_missing_or_invalid_manifest() {
    let empty = tempfile::tempdir().unwrap();
    let text = assert_one_line(&load_from_folder(empty.path()).unwrap_err());
    assert!(text.contains("no manifest.toml"), "{text}");

    let dir = plugin_folder("name = \"wecom\"\nabi_version = \"one\"\n", None);
    let text = assert_one_line(&load_from_folder(dir.path()).unwrap_err());
    assert!(text.starts_with("invalid manifest"), "{text}");
}

#[test]
fn refuses_a_library_that_exports_no_plugin() {
    let dir = plugin_folder(&manifest_text(), Some(&fixture_library("fixture_not_a_plugin")));
    let err = load_from_folder(dir.path()).unwrap_err();
    let text = assert_one_line(&err);
    assert!(matches!(err, LoadError::NotAPlugin { .. }), "{text}");
    assert!(text.contains("exports no abi_stable root module"), "{text}");
}

#[test]
fn refuses_a_file_that_is_not_a_shared_library() {
    let dir = plugin_folder(&manifest_text(), None);
    std::fs::write(dir.path().join(lib_file("plugin_wecom")), b"#!/bin/sh\necho hi\n").unwrap();
    let err = load_from_folder(dir.path()).unwrap_err();
    let text = assert_one_line(&err);
    assert!(text.contains("cannot be opened as a shared library"), "{text}");
}

#[test]
fn refuses_a_root_module_with_another_layout() {
    let dir = plugin_folder(&manifest_text(), Some(&fixture_library("fixture_bad_layout_plugin")));
    let err = load_from_folder(dir.path()).unwrap_err();
    let text = assert_one_line(&err);
    assert!(matches!(err, LoadError::Layout { .. }), "{text}");
    assert!(text.contains("ABI layout mismatch"), "{text}");
}

#[test]
fn refuses_a_manifest_that_contradicts_the_compiled_one() {
    let manifest = manifest_text().replace("version = \"0.1.0\"", "version = \"9.9.9\"");
    let dir = plugin_folder(&manifest, Some(&plugin_library()));
    let err = load_from_folder(dir.path()).unwrap_err();
    let text = assert_one_line(&err);
    assert!(matches!(err, LoadError::Inconsistent { .. }), "{text}");
    assert!(text.contains("9.9.9") && text.contains("0.1.0"), "{text}");
}

#[test]
fn the_loaded_library_is_the_one_the_tests_name() {
    let plugin = load_wecom();
    assert_eq!(plugin.library_path, plugin_library());
    match std::env::var_os("XPERT_PLUGIN_LIB") {
        Some(path) => assert_eq!(plugin.library_path, std::path::PathBuf::from(path)),
        None => assert_eq!(plugin.library_path.parent(), Some(deps_dir().as_path()), "found next to the tests"),
    }
}

#[test]
fn xpert_plugin_lib_overrides_where_the_tests_find_the_library() {
    // Runs the test above in a child of this test binary, once with a copy elsewhere and once
    // with a path that does not exist: the child loads exactly what the variable names.
    let run = |library: &std::path::Path| {
        std::process::Command::new(std::env::current_exe().unwrap())
            .args(["the_loaded_library_is_the_one_the_tests_name", "--exact", "--nocapture"])
            .env("XPERT_PLUGIN_LIB", library)
            .output()
            .expect("the test binary runs")
    };
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join(lib_file("plugin_wecom"));
    std::fs::copy(plugin_library(), &copy).unwrap();
    let output = run(&copy);
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    assert!(String::from_utf8_lossy(&output.stdout).contains("1 passed"), "the child ran the test");

    let missing = dir.path().join("elsewhere").join(lib_file("plugin_wecom"));
    let output = run(&missing);
    assert!(!output.status.success(), "a missing override must fail, not fall back");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains(&missing.display().to_string()), "the failure names the path: {stderr}");
}

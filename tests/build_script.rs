//! The root build script refuses a `manifest.toml` that disagrees with host-sdk's ABI version (or
//! the plugin's version, or asks for another install level) with one clear line, and passes the
//! real files. The test runs the build script cargo compiled for this package, in a scratch copy
//! of the three files it reads.

use std::path::{Path, PathBuf};
use std::process::Output;

/// The newest `build-script-build` cargo compiled for this package (`target/<profile>/build/`).
fn build_script() -> PathBuf {
    let exe = std::env::current_exe().expect("test executable");
    let build_dir = exe.parent().and_then(Path::parent).expect("target/<profile>").join("build");
    std::fs::read_dir(&build_dir)
        .expect("target/<profile>/build")
        .filter_map(|entry| {
            let dir = entry.ok()?.path();
            let name = dir.file_name()?.to_str()?;
            let script = dir.join("build-script-build");
            (name.starts_with("xpert-host-") && script.is_file()).then_some(script)
        })
        .max_by_key(|script| std::fs::metadata(script).and_then(|m| m.modified()).ok())
        .expect("cargo built the root build script")
}

/// Runs the build script in a scratch folder holding the real host-sdk/abi.toml and
/// plugin/Cargo.toml and the given manifest.
fn run_with_manifest(manifest: &str) -> Output {
    run_with_files(manifest, None)
}

/// Like [`run_with_manifest`], with `host-sdk/abi.toml` replaced when `abi_file` is given.
fn run_with_files(manifest: &str, abi_file: Option<&str>) -> Output {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = tempfile::tempdir().expect("temp dir");
    for file in ["host-sdk/abi.toml", "plugin/Cargo.toml"] {
        let to = scratch.path().join(file);
        std::fs::create_dir_all(to.parent().unwrap()).unwrap();
        std::fs::copy(root.join(file), to).unwrap();
    }
    std::fs::write(scratch.path().join("manifest.toml"), manifest).unwrap();
    if let Some(abi) = abi_file {
        std::fs::write(scratch.path().join("host-sdk/abi.toml"), abi).unwrap();
    }
    std::process::Command::new(build_script()).current_dir(scratch.path()).output().expect("build script runs")
}

fn real_manifest() -> String {
    std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("manifest.toml")).unwrap()
}

/// Asserts a failure whose stderr is one line mentioning every `needle`.
fn assert_refused(output: &Output, needles: &[&str]) {
    assert!(!output.status.success(), "the build must fail");
    let stderr = String::from_utf8_lossy(&output.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert_eq!(lines.len(), 1, "one clear line: {stderr}");
    for needle in needles {
        assert!(lines[0].contains(needle), "{needle:?} missing from: {}", lines[0]);
    }
}

#[test]
fn the_real_files_pass_and_export_the_versions_to_the_tests() {
    let output = run_with_manifest(&real_manifest());
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let stdout = String::from_utf8_lossy(&output.stdout);
    let abi = host_sdk::ABI_VERSION;
    assert!(stdout.contains(&format!("cargo:rustc-env=MANIFEST_ABI_VERSION={abi}")), "{stdout}");
    assert!(stdout.contains(&format!("cargo:rustc-env=SDK_ABI_VERSION={abi}")), "{stdout}");
}

#[test]
fn a_manifest_with_another_abi_version_fails_the_build() {
    let abi = host_sdk::ABI_VERSION;
    let manifest = real_manifest().replace(&format!("abi_version = {abi}"), &format!("abi_version = {}", abi + 1));
    assert_ne!(manifest, real_manifest(), "the manifest names its abi_version");
    let output = run_with_manifest(&manifest);
    assert_refused(&output, &[&format!("abi_version = {}", abi + 1), &format!("implements abi_version = {abi}")]);
}

#[test]
fn the_sdk_abi_version_is_read_as_data_from_abi_toml() {
    let abi = host_sdk::ABI_VERSION;
    // The real abi.toml has comments and spacing of its own; a reformatted one still parses.
    let reformatted = format!("# moved around\n\n  abi_version   =   {abi}  # the version\n");
    let output = run_with_files(&real_manifest(), Some(&reformatted));
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let output = run_with_files(&real_manifest(), Some(&format!("abi_version = {}", abi + 5)));
    assert_refused(&output, &[&format!("implements abi_version = {}", abi + 5), "host-sdk/abi.toml"]);
    let output = run_with_files(&real_manifest(), Some("abi_version = \"two\""));
    assert_refused(&output, &["host-sdk/abi.toml is invalid"]);
}

#[test]
fn a_manifest_with_another_version_or_level_fails_the_build() {
    let output = run_with_manifest(&real_manifest().replace("version = \"0.1.0\"", "version = \"9.9.9\""));
    assert_refused(&output, &["9.9.9", "plugin/Cargo.toml"]);
    let output = run_with_manifest(&real_manifest().replace("level = \"tenant\"", "level = \"project\""));
    assert_refused(&output, &["project", "tenant"]);
    let output = run_with_manifest("this is = = not toml");
    assert_refused(&output, &["manifest.toml is invalid"]);
}

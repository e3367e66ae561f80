//! Checks at build time that `manifest.toml` declares the ABI version host-sdk implements, so a
//! mismatched manifest can never ship. The version is read from host-sdk's source (no build
//! dependency on host-sdk, which would compile abi_stable a second time) and exported to the
//! tests as `MANIFEST_ABI_VERSION` and `SDK_ABI_VERSION`.

use std::fs;

#[derive(serde::Deserialize)]
struct Manifest {
    name: String,
    version: String,
    abi_version: u32,
    level: String,
}

fn main() {
    println!("cargo:rerun-if-changed=manifest.toml");
    println!("cargo:rerun-if-changed=host-sdk/src/lib.rs");
    println!("cargo:rerun-if-changed=plugin/Cargo.toml");

    let text = fs::read_to_string("manifest.toml").unwrap_or_else(|e| fail(&format!("cannot read manifest.toml: {e}")));
    let manifest: Manifest = toml::from_str(&text).unwrap_or_else(|e: toml::de::Error| {
        // toml's Display spans several lines (a source excerpt); keep the error to one line.
        let place = e.to_string().lines().next().unwrap_or_default().to_string();
        fail(&format!("manifest.toml is invalid: {place}: {}", e.message().trim()))
    });

    let sdk_src = fs::read_to_string("host-sdk/src/lib.rs")
        .unwrap_or_else(|e| fail(&format!("cannot read host-sdk/src/lib.rs: {e}")));
    let sdk_abi = sdk_src
        .lines()
        .find_map(|l| l.trim().strip_prefix("pub const ABI_VERSION: u32 = "))
        .and_then(|rest| rest.trim_end_matches(';').trim().parse::<u32>().ok())
        .unwrap_or_else(|| fail("cannot find `pub const ABI_VERSION: u32 = N;` in host-sdk/src/lib.rs"));

    if manifest.abi_version != sdk_abi {
        fail(&format!(
            "manifest.toml declares abi_version = {} but host-sdk implements ABI_VERSION = {}; update one of them",
            manifest.abi_version, sdk_abi
        ));
    }
    if manifest.level != "tenant" {
        fail(&format!(
            "manifest.toml level is {:?}; the WeCom plugin must be installed at tenant level",
            manifest.level
        ));
    }
    let plugin_toml = fs::read_to_string("plugin/Cargo.toml").unwrap_or_default();
    let plugin_version = plugin_toml
        .lines()
        .find_map(|l| l.trim().strip_prefix("version = \""))
        .map(|v| v.trim_end_matches('"').to_string())
        .unwrap_or_default();
    if plugin_version != manifest.version {
        fail(&format!(
            "manifest.toml version {} differs from plugin/Cargo.toml version {plugin_version}",
            manifest.version
        ));
    }
    println!("cargo:rustc-env=MANIFEST_ABI_VERSION={}", manifest.abi_version);
    println!("cargo:rustc-env=MANIFEST_NAME={}", manifest.name);
    println!("cargo:rustc-env=SDK_ABI_VERSION={sdk_abi}");
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

//! Checks at build time that `manifest.toml` agrees with what it describes, so a mismatched
//! manifest can never ship: its `abi_version` must be host-sdk's (read as data from
//! `host-sdk/abi.toml`, no build dependency on host-sdk, which would compile abi_stable a second
//! time), its `version` the plugin crate's (read from `plugin/Cargo.toml` as TOML), and its level
//! `tenant`. The versions are exported to the tests as `MANIFEST_ABI_VERSION` and `SDK_ABI_VERSION`.

use std::fs;

#[derive(serde::Deserialize)]
struct Manifest {
    name: String,
    version: String,
    abi_version: u32,
    level: String,
}

#[derive(serde::Deserialize)]
struct AbiFile {
    abi_version: u32,
}

#[derive(serde::Deserialize)]
struct CargoToml {
    package: CargoPackage,
}

#[derive(serde::Deserialize)]
struct CargoPackage {
    version: String,
}

/// Reads and parses a TOML file, failing the build with one line naming the file.
fn read_toml<T: serde::de::DeserializeOwned>(path: &str) -> T {
    let text = fs::read_to_string(path).unwrap_or_else(|e| fail(&format!("cannot read {path}: {e}")));
    toml::from_str(&text).unwrap_or_else(|e: toml::de::Error| {
        // toml's Display spans several lines (a source excerpt); keep the error to one line.
        let place = e.to_string().lines().next().unwrap_or_default().to_string();
        fail(&format!("{path} is invalid: {place}: {}", e.message().trim()))
    })
}

fn main() {
    println!("cargo:rerun-if-changed=manifest.toml");
    println!("cargo:rerun-if-changed=host-sdk/abi.toml");
    println!("cargo:rerun-if-changed=plugin/Cargo.toml");

    let manifest: Manifest = read_toml("manifest.toml");
    let sdk: AbiFile = read_toml("host-sdk/abi.toml");
    let plugin: CargoToml = read_toml("plugin/Cargo.toml");

    if manifest.abi_version != sdk.abi_version {
        fail(&format!(
            "manifest.toml declares abi_version = {} but host-sdk implements abi_version = {} (host-sdk/abi.toml); update one of them",
            manifest.abi_version, sdk.abi_version
        ));
    }
    if manifest.level != "tenant" {
        fail(&format!(
            "manifest.toml level is {:?}; the WeCom plugin must be installed at tenant level",
            manifest.level
        ));
    }
    if plugin.package.version != manifest.version {
        fail(&format!(
            "manifest.toml version {} differs from plugin/Cargo.toml version {}",
            manifest.version, plugin.package.version
        ));
    }
    println!("cargo:rustc-env=MANIFEST_ABI_VERSION={}", manifest.abi_version);
    println!("cargo:rustc-env=MANIFEST_NAME={}", manifest.name);
    println!("cargo:rustc-env=SDK_ABI_VERSION={}", sdk.abi_version);
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

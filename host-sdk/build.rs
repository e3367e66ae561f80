//! Reads `abi.toml` (the ABI version as data) and exports it to the crate as `XPERT_ABI_VERSION`,
//! so `ABI_VERSION` and the root module's version strings come from one place.

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AbiFile {
    abi_version: u32,
}

fn main() {
    println!("cargo:rerun-if-changed=abi.toml");
    let text = std::fs::read_to_string("abi.toml").unwrap_or_else(|e| fail(&format!("cannot read abi.toml: {e}")));
    let abi: AbiFile = toml::from_str(&text)
        .unwrap_or_else(|e: toml::de::Error| fail(&format!("abi.toml is invalid: {}", e.message())));
    if abi.abi_version == 0 {
        fail("abi.toml: abi_version must be at least 1");
    }
    println!("cargo:rustc-env=XPERT_ABI_VERSION={}", abi.abi_version);
}

fn fail(message: &str) -> ! {
    eprintln!("error: {message}");
    std::process::exit(1);
}

//! Golden layout test: the whole ABI (v2), as abi_stable sees it, is written out (every type
//! reachable from the root module: name, size, alignment, fields and function signatures) and
//! compared with `tests/golden/abi_v2.txt`. Any layout change fails here first; if it is
//! intended, bump `abi_version` in host-sdk/abi.toml (and the manifest), and regenerate with
//! `UPDATE_GOLDEN=1 cargo test -p host-sdk --test layout_golden`.

use std::collections::{BTreeSet, HashSet};
use std::fmt::Write as _;

use abi_stable::abi_stability::abi_checking::check_layout_compatibility;
use abi_stable::type_layout::{TLData, TypeLayout};
use abi_stable::StableAbi;
use host_sdk::abi::PluginModRef;

/// Walks every layout reachable from `layout`. `visited` holds layout addresses (the same name,
/// e.g. every trait's `VTable`, may stand for different types); `out` holds the rendered lines,
/// so a type seen through several addresses is written once.
fn describe(layout: &'static TypeLayout, visited: &mut HashSet<usize>, out: &mut BTreeSet<String>, depth: usize) {
    if depth > 32 || !visited.insert(layout as *const TypeLayout as usize) {
        return;
    }
    let mut line =
        format!("{}::{} size={} align={}", layout.mod_path(), layout.full_type(), layout.size(), layout.alignment());
    let fields = match layout.data() {
        TLData::Struct { fields } | TLData::Union { fields } => fields.to_vec(),
        TLData::PrefixType(prefix) => prefix.fields.to_vec(),
        _ => Vec::new(),
    };
    for field in fields.iter().chain(layout.phantom_fields().to_vec().iter()) {
        let _ = write!(line, "\n    {}: {}", field.name(), field.full_type());
        for function in field.function_range().iter() {
            let _ = write!(line, " = {function}");
        }
    }
    out.insert(line);
    // Every type this one refers to (fields, pointees, function parameters and returns).
    for get_layout in layout.shared_vars().type_layouts() {
        describe(get_layout(), visited, out, depth + 1);
    }
}

fn render() -> String {
    let mut visited = HashSet::new();
    let mut out = BTreeSet::new();
    describe(<PluginModRef as StableAbi>::LAYOUT, &mut visited, &mut out, 0);
    out.into_iter().collect::<Vec<_>>().join("\n") + "\n"
}

#[test]
fn abi_layout_matches_the_golden_file() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/abi_v2.txt");
    let actual = render();
    if std::env::var_os("UPDATE_GOLDEN").is_some() || !path.exists() {
        std::fs::write(&path, &actual).expect("write golden file");
    }
    let golden = std::fs::read_to_string(&path).expect("golden file");
    assert_eq!(actual, golden, "the ABI layout changed: see this test's doc comment");
}

#[test]
fn the_root_module_is_compatible_with_itself_and_mentions_every_field() {
    let layout = <PluginModRef as StableAbi>::LAYOUT;
    assert!(check_layout_compatibility(layout, layout).is_ok());
    let text = render();
    for field in ["abi_version", "manifest", "register", "shutdown"] {
        assert!(text.contains(&format!("\n    {field}: ")), "root field {field} missing:\n{text}");
    }
    assert!(text.contains("PluginInstallation"), "register returns the installation handle (v2):\n{text}");
    assert!(text.contains("\n    stop: "), "the installation handle has stop:\n{text}");
}

#[test]
fn the_version_strings_follow_the_abi_version_not_the_crate_version() {
    use abi_stable::library::RootModule;
    let version = <PluginModRef as RootModule>::VERSION_STRINGS.version.as_str();
    assert_eq!(version, format!("{}.0.0", host_sdk::ABI_VERSION));
    assert_eq!(version, host_sdk::ABI_VERSION_STRING);
}

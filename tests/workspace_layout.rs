//! The workspace keeps the shape the foundation promises: the crates and files in their places,
//! abi_stable pinned and used only where the ABI lives, the plugin's named stack, and a CI script
//! that runs exactly the test command the README gives a new user.

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(relative: &str) -> String {
    read_path(&root().join(relative))
}

fn read_path(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn cargo_toml(relative: &str) -> toml::Table {
    read(relative).parse().unwrap_or_else(|e| panic!("{relative}: {e}"))
}

/// Every `.rs` file below `dir`.
fn rust_files(dir: &Path) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("dir entry").path();
        if path.is_dir() {
            files.extend(rust_files(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            files.push(path);
        }
    }
    files
}

#[test]
fn crates_and_files_are_where_the_layout_says() {
    for file in ["Cargo.toml", "manifest.toml", "build.rs", "src/main.rs", "README.md", ".ci/run", "tests"] {
        assert!(root().join(file).exists(), "{file} is missing");
    }
    let workspace = cargo_toml("Cargo.toml");
    assert_eq!(workspace["package"]["name"].as_str(), Some("xpert-host"));
    let members = workspace["workspace"]["members"].as_array().expect("workspace members");
    for member in ["host-sdk", "plugin"] {
        assert!(members.iter().any(|m| m.as_str() == Some(member)), "{member} is not a workspace member");
    }
    assert_eq!(cargo_toml("host-sdk/Cargo.toml")["package"]["name"].as_str(), Some("host-sdk"));

    let plugin = cargo_toml("plugin/Cargo.toml");
    assert_eq!(plugin["package"]["name"].as_str(), Some("plugin-wecom"));
    let crate_types: Vec<&str> =
        plugin["lib"]["crate-type"].as_array().expect("crate-type").iter().filter_map(|t| t.as_str()).collect();
    assert_eq!(crate_types, ["cdylib", "rlib"]);
    let deps = plugin["dependencies"].as_table().expect("plugin dependencies");
    for dep in
        ["tokio", "tokio-tungstenite", "serde", "serde_json", "aes", "cbc", "sha1", "base64", "parking_lot", "tracing"]
    {
        assert!(deps.contains_key(dep), "the plugin's stack lacks {dep}");
    }
}

#[test]
fn abi_stable_is_pinned_and_stays_inside_the_abi() {
    let workspace = cargo_toml("Cargo.toml");
    let pinned = &workspace["workspace"]["dependencies"];
    assert_eq!(pinned["abi_stable"].as_str(), Some("=0.11.3"));
    let async_ffi = &pinned["async-ffi"];
    let features = async_ffi["features"].as_array().expect("async-ffi features");
    assert!(features.iter().any(|f| f.as_str() == Some("abi_stable")), "async-ffi must carry abi_stable's types");

    // Crates that name abi_stable take the workspace pin, never a version of their own.
    for manifest in ["host-sdk/Cargo.toml", "plugin/Cargo.toml"] {
        let deps = cargo_toml(manifest)["dependencies"].clone();
        assert_eq!(deps["abi_stable"]["workspace"].as_bool(), Some(true), "{manifest} must use the pin");
    }
    // The host never touches abi_stable (it goes through host_sdk::host), and the plugin only in
    // its FFI edge.
    for file in rust_files(&root().join("src")) {
        assert!(!read_path(&file).contains("abi_stable"), "{} uses abi_stable", file.display());
    }
    let ffi = root().join("plugin/src/ffi");
    for file in rust_files(&root().join("plugin/src")) {
        let uses = read_path(&file).lines().any(|l| l.trim_start().starts_with("use abi_stable"));
        assert!(!uses || file.starts_with(&ffi), "{} uses abi_stable outside plugin/src/ffi", file.display());
    }
}

/// The command in the README's "Run the tests" section.
fn readme_test_command() -> String {
    let readme = read("README.md");
    let section = readme.split("## Run the tests").nth(1).expect("README has a 'Run the tests' section");
    let block = section.split("```").nth(1).expect("a code block in that section");
    let command: Vec<&str> = block.lines().skip(1).map(str::trim).filter(|l| !l.is_empty()).collect();
    assert_eq!(command.len(), 1, "one test command: {command:?}");
    command[0].to_string()
}

#[test]
fn ci_runs_the_readme_test_command_with_fmt_and_clippy() {
    let command = readme_test_command();
    assert_eq!(command, "cargo nextest run --workspace");
    let ci = read(".ci/run");
    let steps: Vec<&str> = ci.lines().map(str::trim).filter(|l| l.starts_with("cargo ")).collect();
    assert!(steps.contains(&command.as_str()), "CI does not run the README's command: {steps:?}");
    assert!(steps.iter().any(|s| s.starts_with("cargo fmt") && s.contains("--check")), "{steps:?}");
    assert!(
        steps.iter().any(|s| s.starts_with("cargo clippy") && s.contains("--all-targets") && s.contains("-D warnings")),
        "{steps:?}"
    );
    // It installs what the tests need itself, on a fresh machine.
    assert!(ci.contains("cargo install --locked cargo-nextest"), "CI must install nextest when missing");
    assert!(ci.contains(".ci/install-chromium.sh"), "CI must install Chromium for the browser tests");
}

/// The top-level module of `src/` a file belongs to (`src/api/x.rs` → `api`), `None` for the crate
/// root (`src/main.rs`), which declares the modules and may name any of them.
fn top_module(src: &Path, file: &Path) -> Option<String> {
    let relative = file.strip_prefix(src).expect("a file below src");
    let first = relative.components().next()?.as_os_str().to_string_lossy().into_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (name != "main").then_some(name)
}

/// The top-level modules a source text names through `crate::` (`use crate::store::…`,
/// `crate::web::router()`, `use crate::{agents::X, store}`), comments left out.
fn crate_references(text: &str) -> Vec<String> {
    let code: String = text.lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n");
    let ident = |s: &str| -> String { s.chars().take_while(|c| c.is_ascii_alphanumeric() || *c == '_').collect() };
    let mut found = Vec::new();
    for (at, _) in code.match_indices("crate::") {
        if code[..at].ends_with(|c: char| c.is_ascii_alphanumeric() || c == '_') {
            continue; // e.g. `my_crate::`
        }
        let rest = &code[at + "crate::".len()..];
        if let Some(group) = rest.strip_prefix('{') {
            // Top-level names of the group: split on commas at brace depth 0.
            let (mut depth, mut start) = (0usize, 0usize);
            for (i, c) in group.char_indices() {
                match c {
                    '{' => depth += 1,
                    '}' if depth == 0 => {
                        found.push(ident(group[start..i].trim()));
                        break;
                    }
                    '}' => depth -= 1,
                    ',' if depth == 0 => {
                        found.push(ident(group[start..i].trim()));
                        start = i + 1;
                    }
                    _ => {}
                }
            }
        } else {
            found.push(ident(rest));
        }
    }
    found.retain(|m| !m.is_empty());
    found
}

/// A cycle in the graph, as the modules along it (first repeated at the end), if there is one.
fn find_cycle(graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        node: &str,
        graph: &std::collections::BTreeMap<String, std::collections::BTreeSet<String>>,
        done: &mut std::collections::BTreeSet<String>,
        path: &mut Vec<String>,
    ) -> Option<Vec<String>> {
        if let Some(at) = path.iter().position(|n| n == node) {
            let mut cycle = path[at..].to_vec();
            cycle.push(node.to_string());
            return Some(cycle);
        }
        if done.contains(node) {
            return None;
        }
        path.push(node.to_string());
        for next in graph.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, graph, done, path) {
                return Some(cycle);
            }
        }
        path.pop();
        done.insert(node.to_string());
        None
    }
    let mut done = std::collections::BTreeSet::new();
    graph.keys().find_map(|start| visit(start, graph, &mut done, &mut Vec::new()))
}

#[test]
fn the_module_graph_finder_sees_grouped_imports_and_cycles() {
    let refs = crate_references(
        "use crate::{agents::X, store::{A, B}, clock};\nlet x = crate::web::router(); // crate::api\n",
    );
    assert_eq!(refs, ["agents", "store", "clock", "web"]);
    let graph = [("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")].iter().fold(
        std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new(),
        |mut g, (f, t)| {
            g.entry(f.to_string()).or_default().insert(t.to_string());
            g
        },
    );
    assert_eq!(find_cycle(&graph), Some(vec!["a".into(), "b".into(), "c".into(), "a".into()]));
}

#[test]
fn the_host_modules_form_no_import_cycle() {
    let src = root().join("src");
    let mut graph = std::collections::BTreeMap::<String, std::collections::BTreeSet<String>>::new();
    for file in rust_files(&src) {
        let Some(from) = top_module(&src, &file) else { continue };
        let entry = graph.entry(from.clone()).or_default();
        for to in crate_references(&read_path(&file)) {
            if to != from {
                entry.insert(to);
            }
        }
    }
    assert!(graph.len() > 3, "the host's modules were found: {graph:?}");
    if let Some(cycle) = find_cycle(&graph) {
        panic!("the host's modules import each other in a cycle: {}\nwhole graph: {graph:?}", cycle.join(" -> "));
    }
}

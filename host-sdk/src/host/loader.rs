//! Loading a plugin library: manifest first, then dlopen, version and layout checks.
//!
//! Every refusal is one clear line ([`LoadError`]'s `Display`); the long abi_stable detail (a
//! layout mismatch prints hundreds of lines) goes to the log at debug level only. Libraries are
//! never unloaded.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use abi_stable::library::{lib_header_from_path, LibraryError};

use super::manifest::{Manifest, ManifestError};
use crate::abi::PluginModRef;
use crate::ABI_VERSION;

/// Why a plugin could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The manifest is missing or invalid.
    #[error(transparent)]
    Manifest(#[from] ManifestError),
    /// The manifest declares another ABI version (refused before dlopen).
    #[error("plugin {name}: manifest abi_version {found} is not supported by this host (expected {expected})")]
    AbiVersion {
        /// Plugin name.
        name: String,
        /// Declared version.
        found: u32,
        /// This host's version.
        expected: u32,
    },
    /// The library file named by the manifest does not exist.
    #[error("plugin {name}: library {} not found", path.display())]
    LibraryMissing {
        /// Plugin name.
        name: String,
        /// Expected path.
        path: PathBuf,
    },
    /// The file is not a loadable library, or exports no plugin root module.
    #[error("plugin {name}: {} is not an Xpert plugin library ({reason})", path.display())]
    NotAPlugin {
        /// Plugin name.
        name: String,
        /// The file.
        path: PathBuf,
        /// Short reason.
        reason: String,
    },
    /// The library was built for another ABI version (its root module's version strings).
    #[error("plugin {name}: the library was built for ABI {library} but this host speaks ABI {host}; rebuild it against host-sdk for ABI {host}")]
    SdkVersion {
        /// Plugin name.
        name: String,
        /// The library's ABI version string.
        library: String,
        /// This host's ABI version string.
        host: String,
    },
    /// The root module's layout differs from this host's (an ABI break).
    #[error("plugin {name}: ABI layout mismatch with this host (rebuild the plugin against host-sdk for ABI {abi}); details at debug level")]
    Layout {
        /// Plugin name.
        name: String,
        /// This host's ABI version string.
        abi: &'static str,
    },
    /// The library loaded but its module contradicts its manifest.
    #[error("plugin {name}: {message}")]
    Inconsistent {
        /// Plugin name.
        name: String,
        /// What disagrees.
        message: String,
    },
}

/// How long each phase of a load took (logged at debug level; the benchmark reports them).
#[derive(Clone, Copy, Debug, Default)]
pub struct LoadTimings {
    /// dlopen and reading the library's abi_stable header.
    pub open: Duration,
    /// Version check, transitive layout check and the root-module constructor.
    pub checks: Duration,
    /// Comparing the compiled-in manifest with the one on disk.
    pub cross_check: Duration,
}

/// A loaded plugin library and its manifest.
#[derive(Clone)]
pub struct LoadedPlugin {
    /// The manifest read from disk.
    pub manifest: Manifest,
    /// The library file.
    pub library_path: PathBuf,
    /// Phase durations of the load.
    pub timings: LoadTimings,
    pub(super) module: PluginModRef,
}

impl std::fmt::Debug for LoadedPlugin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LoadedPlugin")
            .field("manifest", &self.manifest)
            .field("library_path", &self.library_path)
            .finish()
    }
}

/// Loads the plugin in `dir` (its `manifest.toml` and the library it names).
pub fn load_plugin(dir: &Path) -> Result<LoadedPlugin, LoadError> {
    let manifest = Manifest::read_from_dir(dir)?;
    let library = dir.join(manifest.library_file_name());
    load_plugin_at(manifest, &library)
}

/// Loads a library for an already-read manifest (tests use it to point at a freshly built
/// library). Checks, in order: the manifest's ABI version (before dlopen), the file's existence,
/// the exported header, the host-sdk version, the layout, then the module against the manifest.
pub fn load_plugin_at(manifest: Manifest, library: &Path) -> Result<LoadedPlugin, LoadError> {
    let name = manifest.name.clone();
    if manifest.abi_version != ABI_VERSION {
        return Err(LoadError::AbiVersion { name, found: manifest.abi_version, expected: ABI_VERSION });
    }
    if !library.is_file() {
        return Err(LoadError::LibraryMissing { name, path: library.to_path_buf() });
    }
    let started = Instant::now();
    let header = lib_header_from_path(library).map_err(|e| classify(&name, library, e))?;
    let opened = Instant::now();
    let module = header.init_root_module::<PluginModRef>().map_err(|e| classify(&name, library, e))?;
    let checked = Instant::now();

    let module_abi = module.abi_version();
    if module_abi != manifest.abi_version {
        return Err(LoadError::Inconsistent {
            name,
            message: format!("library reports abi_version {module_abi} but its manifest says {}", manifest.abi_version),
        });
    }
    let compiled = (module.manifest())().into_string();
    let compiled = Manifest::parse(&compiled, Path::new("<compiled-in manifest>"))
        .map_err(|e| LoadError::Inconsistent { name: name.clone(), message: e.to_string() })?;
    if compiled.name != manifest.name
        || compiled.version != manifest.version
        || compiled.abi_version != manifest.abi_version
    {
        return Err(LoadError::Inconsistent {
            name,
            message: format!(
                "manifest on disk ({} {} abi {}) differs from the one compiled into the library ({} {} abi {})",
                manifest.name,
                manifest.version,
                manifest.abi_version,
                compiled.name,
                compiled.version,
                compiled.abi_version
            ),
        });
    }
    let timings = LoadTimings { open: opened - started, checks: checked - opened, cross_check: checked.elapsed() };
    tracing::debug!(plugin = %name, ?timings, "plugin loaded");
    Ok(LoadedPlugin { manifest, library_path: library.to_path_buf(), timings, module })
}

fn classify(name: &str, path: &Path, err: LibraryError) -> LoadError {
    let detail = err.to_string();
    tracing::debug!(plugin = name, path = %path.display(), detail = %detail, "plugin load failed");
    let name = name.to_string();
    match err {
        LibraryError::OpenError { .. } => LoadError::NotAPlugin {
            name,
            path: path.to_path_buf(),
            reason: "the file cannot be opened as a shared library".into(),
        },
        LibraryError::GetSymbolError { .. } => LoadError::NotAPlugin {
            name,
            path: path.to_path_buf(),
            reason: "it exports no abi_stable root module".into(),
        },
        LibraryError::InvalidAbiHeader(_) | LibraryError::InvalidCAbi { .. } => LoadError::NotAPlugin {
            name,
            path: path.to_path_buf(),
            reason: "its abi_stable header is incompatible".into(),
        },
        LibraryError::IncompatibleVersionNumber { actual_version, .. } => LoadError::SdkVersion {
            name,
            library: actual_version.to_string(),
            host: crate::ABI_VERSION_STRING.to_string(),
        },
        LibraryError::ParseVersionError(_) => LoadError::SdkVersion {
            name,
            library: "an unreadable version".into(),
            host: crate::ABI_VERSION_STRING.to_string(),
        },
        LibraryError::AbiInstability(_) => LoadError::Layout { name, abi: crate::ABI_VERSION_STRING },
        _ => LoadError::NotAPlugin { name, path: path.to_path_buf(), reason: first_line(&detail) },
    }
}

fn first_line(text: &str) -> String {
    text.lines().map(str::trim).find(|l| !l.is_empty()).unwrap_or("unknown error").to_string()
}

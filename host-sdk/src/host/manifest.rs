//! `manifest.toml`: what a plugin folder declares, read before any code is mapped.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A plugin's manifest.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub struct Manifest {
    /// The plugin's name, e.g. `wecom`.
    pub name: String,
    /// The plugin's version.
    pub version: String,
    /// The ABI it was built for; must equal [`crate::ABI_VERSION`].
    pub abi_version: u32,
    /// The level it is meant to be installed at (`tenant` for WeCom).
    pub level: String,
    /// The library's base name (`plugin_wecom` → `libplugin_wecom.so` on Linux), or a file name
    /// with an extension.
    pub library: String,
    /// A one-line description.
    #[serde(default)]
    pub description: String,
    /// What it provides, e.g. `integration:wecom`, `trigger:wecom`, `view:wecom_integration`.
    #[serde(default)]
    pub capabilities: Vec<String>,
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// There is no `manifest.toml` in the folder.
    #[error("no manifest.toml in {0}")]
    Missing(PathBuf),
    /// It could not be read.
    #[error("cannot read {path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// It is not a valid manifest.
    #[error("invalid manifest {path}: {message}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
}

impl Manifest {
    /// Parses manifest text; `path` is only used in error messages.
    pub fn parse(text: &str, path: &Path) -> Result<Manifest, ManifestError> {
        let manifest: Manifest = toml::from_str(text)
            .map_err(|e| ManifestError::Invalid { path: path.to_path_buf(), message: e.message().to_string() })?;
        if manifest.name.trim().is_empty() {
            return Err(ManifestError::Invalid { path: path.to_path_buf(), message: "name is empty".into() });
        }
        if manifest.library.trim().is_empty() || manifest.library.contains('/') || manifest.library.contains("..") {
            return Err(ManifestError::Invalid {
                path: path.to_path_buf(),
                message: "library must be a plain file name inside the plugin folder".into(),
            });
        }
        Ok(manifest)
    }

    /// Reads `dir/manifest.toml`.
    pub fn read_from_dir(dir: &Path) -> Result<Manifest, ManifestError> {
        let path = dir.join("manifest.toml");
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ManifestError::Missing(dir.to_path_buf()))
            }
            Err(source) => return Err(ManifestError::Io { path, source }),
        };
        Manifest::parse(&text, &path)
    }

    /// The library's file name on this platform (`libNAME.so`, `libNAME.dylib`, `NAME.dll`),
    /// unless `library` already names a file with an extension.
    pub fn library_file_name(&self) -> String {
        if self.library.contains('.') {
            return self.library.clone();
        }
        format!("{}{}{}", std::env::consts::DLL_PREFIX, self.library, std::env::consts::DLL_SUFFIX)
    }
}

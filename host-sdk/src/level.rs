//! Installation levels of a plugin.

use std::fmt;
use std::str::FromStr;

/// The scope at which a plugin is installed. Only a [`InstallLevel::Tenant`] install may register
/// system-integration providers and triggers; lower levels get everything else and a warning.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, abi_stable::StableAbi)]
pub enum InstallLevel {
    /// The whole tenant: the level communication plugins such as WeCom need.
    Tenant = 0,
    /// One organization inside a tenant.
    Organization = 1,
    /// One project.
    Project = 2,
    /// One user's personal space.
    Personal = 3,
}

impl InstallLevel {
    /// Every level, widest first.
    pub const ALL: [InstallLevel; 4] = [Self::Tenant, Self::Organization, Self::Project, Self::Personal];

    /// The lower-case name used in manifests and the HTTP API.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Tenant => "tenant",
            Self::Organization => "organization",
            Self::Project => "project",
            Self::Personal => "personal",
        }
    }

    /// Whether system-integration providers and triggers may be registered at this level.
    pub fn allows_system_integrations(self) -> bool {
        self == Self::Tenant
    }
}

impl fmt::Display for InstallLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for InstallLevel {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|l| l.as_str() == s)
            .ok_or_else(|| format!("unknown install level {s:?}: expected tenant, organization, project or personal"))
    }
}

//! Host configuration: defaults, then an optional TOML config file, then environment variables,
//! then command-line flags. Every variable of the host contract can be set in any of them.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

/// Why the configuration is unusable (printed as one line before exiting non-zero).
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// A value could not be parsed.
    #[error("invalid {key}: {message}")]
    Invalid {
        /// The variable.
        key: &'static str,
        /// What is wrong.
        message: String,
    },
    /// The config file could not be read or parsed.
    #[error("config file {path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// The data directory cannot be created or written.
    #[error("data directory {path} is not writable: {message}")]
    DataDir {
        /// The directory.
        path: String,
        /// The cause.
        message: String,
    },
}

/// The resolved configuration.
#[derive(Clone, Debug)]
pub struct Config {
    /// Where to listen.
    pub listen: SocketAddr,
    /// The data directory (SQLite file, plugins, token).
    pub data_dir: PathBuf,
    /// The plugin directory.
    pub plugin_dir: PathBuf,
    /// Public base URL for callback URLs; `None`: derived from the bound address.
    pub api_base_url: Option<String>,
    /// The admin token, if configured (otherwise generated and stored).
    pub admin_token: Option<String>,
    /// WeCom long-connection endpoint.
    pub wecom_ws_url: String,
    /// Origins a `response_url` may point to.
    pub wecom_api_origins: String,
    /// Long-connection ping interval.
    pub wecom_heartbeat_ms: u64,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// `XPERT_PEER_SYNC_MS` (10 000; 0: never): how often the host looks in the store for
    /// plugin installs and integrations changed through another host sharing it (see
    /// [`crate::revival::follow_peers`]).
    pub peer_sync_ms: u64,
    /// Extra values passed through to plugins as config (see [`PLUGIN_PASSTHROUGH`]).
    pub plugin_config: BTreeMap<String, String>,
    /// `XPERT_DATABASE_URL`: the store on PostgreSQL instead of the SQLite file.
    pub database_url: Option<SecretUrl>,
    /// `XPERT_REDIS_URL`: the plugins' KV and leases on Redis instead of the store.
    pub redis_url: Option<SecretUrl>,
    /// `XPERT_REDIS_PREFIX` (`xpert:`): the prefix of every Redis key, so that several
    /// deployments can share one Redis. Hosts that share bots must use the same one.
    pub redis_prefix: String,
}

/// A connection URL that may carry a password. `Debug` and `Display` show it with the password
/// replaced by `***`; only [`SecretUrl::expose`] gives the real text (to the client library).
#[derive(Clone, PartialEq, Eq)]
pub struct SecretUrl(String);

impl SecretUrl {
    /// Wraps a URL.
    pub fn new(url: impl Into<String>) -> Self {
        SecretUrl(url.into())
    }

    /// The URL itself, password included: for the client library only, never for a log line.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The URL with its password (if any) replaced by `***`.
    pub fn redacted(&self) -> String {
        let Some((scheme, rest)) = self.0.split_once("://") else { return "***".into() };
        let Some(at) = rest.rfind('@') else { return self.0.clone() };
        let (auth, host) = rest.split_at(at);
        match auth.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***{host}"),
            None => self.0.clone(),
        }
    }
}

impl std::fmt::Debug for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

impl std::fmt::Display for SecretUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.redacted())
    }
}

/// Values given on the command line (they win over everything else).
#[derive(Clone, Debug, Default)]
pub struct Overrides {
    /// `--listen`.
    pub listen: Option<String>,
    /// `--data-dir`.
    pub data_dir: Option<PathBuf>,
    /// `--plugin-dir`.
    pub plugin_dir: Option<PathBuf>,
    /// `--config`.
    pub config_file: Option<PathBuf>,
}

fn read_file(path: &Path, required: bool) -> Result<BTreeMap<String, String>, ConfigError> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if !required && matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => {
            return Ok(BTreeMap::new())
        }
        Err(e) => return Err(ConfigError::File { path: path.display().to_string(), message: e.to_string() }),
    };
    let table: toml::Table = toml::from_str(&text)
        .map_err(|e| ConfigError::File { path: path.display().to_string(), message: e.message().to_string() })?;
    let mut values = BTreeMap::new();
    for (k, v) in table {
        let v = match v {
            toml::Value::String(s) => s,
            toml::Value::Integer(i) => i.to_string(),
            toml::Value::Boolean(b) => b.to_string(),
            other => {
                return Err(ConfigError::File {
                    path: path.display().to_string(),
                    message: format!("{k} must be a string or a number, not {}", other.type_str()),
                })
            }
        };
        values.insert(k, v);
    }
    Ok(values)
}

/// Settings the host does not read itself but hands to plugins as config when set: the plugin's
/// log level, the extra CA file, and both connections' timings and limits (each defaults to
/// WeCom's value in the plugin).
pub const PLUGIN_PASSTHROUGH: &[&str] = &[
    "XPERT_PLUGIN_LOG_LEVEL",
    "WECOM_EXTRA_CA_FILE",
    "WECOM_MAX_MISSED_PINGS",
    "WECOM_CONNECT_TIMEOUT_MS",
    "WECOM_LEASE_TTL_MS",
    "WECOM_BACKOFF_BASE_MS",
    "WECOM_BACKOFF_MAX_MS",
    "WECOM_AUTH_FAILURE_LIMIT",
    "WECOM_RECONCILE_MS",
    "WECOM_STREAM_THROTTLE_MS",
    "WECOM_STREAM_LIFETIME_MS",
    "WECOM_AGENT_IDLE_TIMEOUT_MS",
    "WECOM_CONNECT_CONCURRENCY",
    "WECOM_SHORT_STREAM_WINDOW_MS",
    "WECOM_SHORT_STREAM_MARGIN_MS",
    "WECOM_SHORT_PASSIVE_WAIT_MS",
    "WECOM_SHORT_STORE_WAIT_MS",
    "WECOM_SHORT_MAX_BODY_BYTES",
    "WECOM_SHORT_STATUS_FLUSH_MS",
    "WECOM_SHORT_INTEGRATION_CACHE_MS",
    "WECOM_DRAIN_MS",
    "WECOM_INSTANCE_HEARTBEAT_MS",
    "WECOM_INSTANCE_TTL_MS",
    "WECOM_SETTLE_MS",
    "WECOM_HANDOFF_INTERVAL_MS",
    "WECOM_HOLD_BACK_MS",
    "WECOM_TAKEOVER_POLL_MS",
];

impl Config {
    /// Resolves the configuration from `env` (the process environment in production) and the
    /// command line.
    pub fn resolve(env: &dyn Fn(&str) -> Option<String>, cli: &Overrides) -> Result<Config, ConfigError> {
        let env_data_dir = cli.data_dir.clone().or_else(|| env("XPERT_DATA_DIR").map(PathBuf::from));
        let default_file = env_data_dir.clone().unwrap_or_else(|| PathBuf::from("./data")).join("config.toml");
        let file = match &cli.config_file {
            Some(path) => read_file(path, true)?,
            None => read_file(&default_file, false)?,
        };
        let get = |key: &str| env(key).or_else(|| file.get(key).cloned()).filter(|v| !v.trim().is_empty());

        let listen_text = cli.listen.clone().or_else(|| get("XPERT_LISTEN")).unwrap_or_else(|| "127.0.0.1:3000".into());
        let listen: SocketAddr = listen_text.trim().parse().map_err(|_| ConfigError::Invalid {
            key: "XPERT_LISTEN",
            message: format!("{listen_text:?} is not an address such as 127.0.0.1:3000"),
        })?;
        let data_dir = cli
            .data_dir
            .clone()
            .or_else(|| get("XPERT_DATA_DIR").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("./data"));
        let plugin_dir = cli
            .plugin_dir
            .clone()
            .or_else(|| get("XPERT_PLUGIN_DIR").map(PathBuf::from))
            .unwrap_or_else(|| data_dir.join("plugins"));
        let number = |key: &'static str, default: u64| -> Result<u64, ConfigError> {
            match get(key) {
                None => Ok(default),
                Some(v) => v
                    .trim()
                    .parse::<u64>()
                    .map_err(|_| ConfigError::Invalid { key, message: format!("{v:?} is not a whole number") }),
            }
        };
        let wecom_heartbeat_ms = number("WECOM_HEARTBEAT_MS", 30_000)?;
        let max_body_bytes = number("XPERT_MAX_BODY_BYTES", 1024 * 1024)? as usize;
        let peer_sync_ms = number("XPERT_PEER_SYNC_MS", 10_000)?;
        let api_base_url = get("API_BASE_URL").map(|u| u.trim().trim_end_matches('/').to_string());
        if let Some(url) = &api_base_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(ConfigError::Invalid {
                    key: "API_BASE_URL",
                    message: format!("{url:?} must start with http:// or https://"),
                });
            }
        }
        let plugin_config = PLUGIN_PASSTHROUGH.iter().filter_map(|k| get(k).map(|v| (k.to_string(), v))).collect();
        Ok(Config {
            listen,
            data_dir,
            plugin_dir,
            api_base_url,
            admin_token: get("XPERT_ADMIN_TOKEN"),
            wecom_ws_url: get("WECOM_WS_URL").unwrap_or_else(|| "wss://openws.work.weixin.qq.com".into()),
            wecom_api_origins: get("WECOM_API_ORIGINS").unwrap_or_else(|| "https://qyapi.weixin.qq.com".into()),
            wecom_heartbeat_ms,
            max_body_bytes,
            peer_sync_ms,
            plugin_config,
            database_url: get("XPERT_DATABASE_URL").map(|u| SecretUrl::new(u.trim())),
            redis_url: get("XPERT_REDIS_URL").map(|u| SecretUrl::new(u.trim())),
            redis_prefix: get("XPERT_REDIS_PREFIX").unwrap_or_else(|| "xpert:".into()),
        })
    }

    /// Creates the data and plugin directories and proves the data directory is writable.
    pub fn prepare_dirs(&self) -> Result<(), ConfigError> {
        let fail = |path: &Path, e: std::io::Error| ConfigError::DataDir {
            path: path.display().to_string(),
            message: e.to_string(),
        };
        std::fs::create_dir_all(&self.data_dir).map_err(|e| fail(&self.data_dir, e))?;
        let probe = self.data_dir.join(".write-test");
        std::fs::write(&probe, b"ok").map_err(|e| fail(&self.data_dir, e))?;
        let _ = std::fs::remove_file(&probe);
        std::fs::create_dir_all(&self.plugin_dir).map_err(|e| fail(&self.plugin_dir, e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: BTreeMap<String, String> = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        move |k| map.get(k).cloned()
    }

    #[test]
    fn each_passthrough_setting_is_listed_once() {
        let unique: std::collections::BTreeSet<&str> = PLUGIN_PASSTHROUGH.iter().copied().collect();
        assert_eq!(unique.len(), PLUGIN_PASSTHROUGH.len(), "{PLUGIN_PASSTHROUGH:?}");
    }

    #[test]
    fn defaults_follow_the_contract() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("d");
        let cfg =
            Config::resolve(&env_of(&[("XPERT_DATA_DIR", data.to_str().unwrap())]), &Overrides::default()).unwrap();
        assert_eq!(cfg.listen.to_string(), "127.0.0.1:3000");
        assert_eq!(cfg.plugin_dir, data.join("plugins"));
        assert_eq!(cfg.wecom_ws_url, "wss://openws.work.weixin.qq.com");
        assert_eq!(cfg.wecom_heartbeat_ms, 30_000);
    }

    #[test]
    fn file_values_yield_to_environment_and_flags() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("c.toml");
        std::fs::write(
            &file,
            "XPERT_LISTEN = \"127.0.0.1:4000\"\nWECOM_HEARTBEAT_MS = 500\nWECOM_WS_URL = \"ws://file\"\n",
        )
        .unwrap();
        let cli = Overrides { config_file: Some(file), ..Default::default() };
        let cfg = Config::resolve(&env_of(&[("WECOM_WS_URL", "ws://env")]), &cli).unwrap();
        assert_eq!(cfg.listen.port(), 4000);
        assert_eq!(cfg.wecom_heartbeat_ms, 500);
        assert_eq!(cfg.wecom_ws_url, "ws://env");
        let cli = Overrides { listen: Some("127.0.0.1:0".into()), ..cli };
        assert_eq!(Config::resolve(&env_of(&[]), &cli).unwrap().listen.port(), 0);
    }

    #[test]
    fn backend_urls_never_show_their_password() {
        let env = env_of(&[
            ("XPERT_DATABASE_URL", "postgres://app:pg-s3cret@db:5432/xpert"),
            ("XPERT_REDIS_URL", "redis://:redis-s3cret@cache:6379/0"),
        ]);
        let cfg = Config::resolve(&env, &Overrides::default()).unwrap();
        let shown = format!("{cfg:?}");
        assert!(!shown.contains("pg-s3cret") && !shown.contains("redis-s3cret"), "{shown}");
        assert!(shown.contains("postgres://app:***@db:5432/xpert"), "{shown}");
        assert!(shown.contains("redis://:***@cache:6379/0"), "{shown}");
        assert_eq!(cfg.database_url.unwrap().expose(), "postgres://app:pg-s3cret@db:5432/xpert");
        let unset = Config::resolve(&env_of(&[]), &Overrides::default()).unwrap();
        assert!(unset.database_url.is_none() && unset.redis_url.is_none(), "SQLite and no Redis by default");
    }

    #[test]
    fn bad_values_give_one_clear_line() {
        let err = Config::resolve(&env_of(&[("XPERT_LISTEN", "nowhere")]), &Overrides::default()).unwrap_err();
        assert_eq!(err.to_string(), "invalid XPERT_LISTEN: \"nowhere\" is not an address such as 127.0.0.1:3000");
        let err = Config::resolve(&env_of(&[("WECOM_HEARTBEAT_MS", "soon")]), &Overrides::default()).unwrap_err();
        assert!(err.to_string().starts_with("invalid WECOM_HEARTBEAT_MS"));
    }
}

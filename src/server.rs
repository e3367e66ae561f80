//! Start-up (store, plugins, restore of every tenant's installs, revival) and graceful shutdown.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use tokio::net::TcpListener;

use crate::agents::AgentRunner;
use crate::api::{self, AppState, AppStateParts};
use crate::config::Config;
use crate::plugins::{bundled_library, place_bundled, PluginManager, STOP_TIMEOUT};
use crate::services::{service_set, HostCore};
use crate::store::{PgOptions, PgStore, RedisOptions, RedisShared, SharedParts, SqliteStore, Store};

/// The admin token: configured, else stored in the data dir, else generated (and printed once).
fn admin_token(config: &Config) -> Result<String, String> {
    if let Some(token) = &config.admin_token {
        return Ok(token.clone());
    }
    let path = config.data_dir.join("admin_token");
    if let Ok(stored) = std::fs::read_to_string(&path) {
        if !stored.trim().is_empty() {
            return Ok(stored.trim().to_string());
        }
    }
    let token: String = (0..32).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect();
    write_private(&path, &token).map_err(|e| format!("cannot store the admin token in {}: {e}", path.display()))?;
    println!("admin token (shown once, stored in {}): {token}", path.display());
    Ok(token)
}

fn write_private(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

fn instance_id() -> String {
    let host = std::fs::read_to_string("/etc/hostname").map(|h| h.trim().to_string()).unwrap_or_else(|_| "host".into());
    let suffix: String = (0..8).map(|_| format!("{:x}", rand::random::<u8>() % 16)).collect();
    format!("{host}:{}:{suffix}", std::process::id())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {}
        _ = terminate => {}
    }
    tracing::info!("shutdown requested");
}

/// The store: PostgreSQL when `XPERT_DATABASE_URL` is set, else the SQLite file in the data dir.
async fn open_store(config: &Config) -> Result<Arc<dyn Store>, String> {
    match &config.database_url {
        Some(url) => {
            let pg_config = crate::store::postgres::parse_url(url.expose()).map_err(|e| e.to_string())?;
            let pg = PgStore::connect(pg_config, PgOptions::default()).await.map_err(|e| e.to_string())?;
            let schema = pg.schema_version().await.map_err(|e| e.to_string())?;
            tracing::info!(postgres = %pg.target(), schema, "store opened");
            Ok(Arc::new(pg))
        }
        None => {
            let db = config.data_dir.join("xpert.db");
            let sqlite = SqliteStore::open(&db).map_err(|e| e.to_string())?;
            tracing::info!(db = %db.display(), schema = sqlite.schema_version(), "store opened");
            Ok(Arc::new(sqlite))
        }
    }
}

/// The plugins' KV and leases: Redis when `XPERT_REDIS_URL` is set, else the store's tables.
async fn open_shared(config: &Config, store: &Arc<dyn Store>) -> Result<SharedParts, String> {
    match &config.redis_url {
        Some(url) => {
            let options = RedisOptions { prefix: config.redis_prefix.clone(), ..RedisOptions::default() };
            let redis = RedisShared::connect(url.expose(), options).await.map_err(|e| e.to_string())?;
            tracing::info!(redis = %redis.target(), prefix = %config.redis_prefix, "plugin KV and leases on Redis");
            Ok(SharedParts::new(Arc::new(redis)))
        }
        None => Ok(SharedParts::new(Arc::new(crate::store::StoreServices(store.clone())))),
    }
}

/// Runs the server until SIGINT/SIGTERM; with `demo`, also the in-process WeCom simulator and a
/// bot set up through the API (see [`crate::demo`]).
pub async fn run(config: Config, demo: bool) -> Result<(), String> {
    let demo = match demo {
        true => Some(Arc::new(crate::demo::Demo::start().await?)),
        false => None,
    };
    config.prepare_dirs().map_err(|e| e.to_string())?;
    let token = admin_token(&config)?;
    let instance = instance_id();
    let store = open_store(&config).await?;
    let shared = open_shared(&config, &store).await?;
    let listener =
        TcpListener::bind(config.listen).await.map_err(|e| format!("cannot listen on {}: {e}", config.listen))?;
    let addr: SocketAddr = listener.local_addr().map_err(|e| e.to_string())?;
    let base_url = config.api_base_url.clone().unwrap_or_else(|| format!("http://{addr}"));

    let mut plugin_config: BTreeMap<String, String> = config.plugin_config.clone();
    plugin_config.insert("API_BASE_URL".into(), base_url);
    plugin_config.insert("INSTANCE_ID".into(), instance.clone());
    let ws_url = demo.as_ref().map(|d| d.ws_url()).unwrap_or_else(|| config.wecom_ws_url.clone());
    plugin_config.insert("WECOM_WS_URL".into(), ws_url);
    plugin_config.insert("WECOM_API_ORIGINS".into(), config.wecom_api_origins.clone());
    plugin_config.insert("WECOM_HEARTBEAT_MS".into(), config.wecom_heartbeat_ms.to_string());
    let agents = AgentRunner::new(store.clone());
    let services = service_set(Arc::new(HostCore::new(plugin_config)), store.clone(), &shared, agents.clone());

    match place_bundled(&config.plugin_dir, bundled_library()) {
        Ok(Some(dir)) => {
            tracing::info!(dir = %dir.display(), "placed the bundled WeCom plugin (available, not installed)")
        }
        Ok(None) => {}
        Err(e) => tracing::warn!("cannot place the bundled WeCom plugin: {e}"),
    }
    let plugins = Arc::new(PluginManager::scan(&config.plugin_dir, services, tokio::runtime::Handle::current()));
    let restored = plugins.restore(store.as_ref()).await.map_err(|e| e.to_string())?;
    let state = AppState::new(AppStateParts {
        store: store.clone(),
        shared: shared.admin.clone(),
        plugins: plugins.clone(),
        admin_token: Arc::new(token.clone()),
        instance_id: Arc::new(instance.clone()),
        max_body_bytes: config.max_body_bytes,
        agents,
        integration_tenants: Default::default(),
    });
    // What other hosts change from now on is followed; what exists is revived here.
    let known = crate::revival::enabled_integrations(store.as_ref(), &plugins).await.unwrap_or_default();
    crate::revival::revive_all(store.as_ref(), &plugins).await;
    let peers = (config.peer_sync_ms > 0).then(|| {
        let every = std::time::Duration::from_millis(config.peer_sync_ms);
        tokio::spawn(crate::revival::follow_peers(store.clone(), plugins.clone(), every, known))
    });
    tracing::info!(%addr, instance = %instance, restored, "xpert-host started");
    println!("listening on http://{addr}");
    use std::io::Write as _;
    let _ = std::io::stdout().flush();
    if let Some(demo) = demo.clone() {
        let base = format!("http://{addr}");
        tokio::spawn(async move { demo.set_up(&base, &token).await });
    }

    // Answers (a webhook's passive answer above all) leave as they are written, not after the
    // peer acknowledged the previous segment (Nagle).
    use axum::serve::ListenerExt as _;
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    axum::serve(listener, api::router(state))
        .with_graceful_shutdown(shutdown_signal())
        .await
        .map_err(|e| e.to_string())?;

    if let Some(peers) = peers {
        peers.abort();
    }
    let failures = tokio::task::spawn_blocking(move || plugins.shutdown_all(STOP_TIMEOUT)).await.unwrap_or_default();
    for f in failures {
        tracing::warn!("{f}");
    }
    match shared.admin.release_owner(instance).await {
        Ok(n) => tracing::info!(released = n, "leases released"),
        Err(e) => tracing::warn!("{e}"),
    }
    tracing::info!("xpert-host stopped");
    Ok(())
}

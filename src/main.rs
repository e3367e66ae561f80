//! `xpert-host`: the reference host for the Xpert AI WeCom plugin. It loads plugins through
//! host-sdk, stores integrations and Digital Experts in SQLite (or PostgreSQL, with the plugin KV
//! and leases on Redis when configured), runs agents and serves the HTTP
//! API of `../shared/host-api.md` and a web UI.

mod agents;
mod api;
mod clock;
mod config;
mod demo;
mod plugins;
mod revival;
mod server;
mod services;
mod shown;
mod store;
mod web;

use std::path::PathBuf;

use clap::{Parser, Subcommand};

/// The reference host for the Xpert AI WeCom plugin.
#[derive(Parser)]
#[command(
    name = "xpert-host",
    version,
    about,
    long_about = None,
    after_help = "Configuration (environment variables, also keys of the config file): XPERT_LISTEN (127.0.0.1:3000), \
XPERT_DATA_DIR (./data), XPERT_PLUGIN_DIR ($XPERT_DATA_DIR/plugins), API_BASE_URL (http://$XPERT_LISTEN), \
XPERT_ADMIN_TOKEN (generated at first start), WECOM_WS_URL (wss://openws.work.weixin.qq.com), \
WECOM_API_ORIGINS (https://qyapi.weixin.qq.com), WECOM_HEARTBEAT_MS (30000), WECOM_EXTRA_CA_FILE (none: a PEM file of extra CAs the plugin trusts), \
XPERT_PLUGIN_LOG_LEVEL (debug), XPERT_MAX_BODY_BYTES (1048576), \
XPERT_DATABASE_URL (none: SQLite in the data dir; postgres://user[:password]@host:port/database puts the store on PostgreSQL), \
XPERT_REDIS_URL (none: the plugin KV and leases stay in the store; redis://host:port[/db] puts them on Redis), \
XPERT_REDIS_PREFIX (xpert:), \
XPERT_PEER_SYNC_MS (10000: how often installs and integrations changed through other hosts sharing the store are followed; 0: never). \
Logs go to stderr; RUST_LOG sets their levels."
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    /// Address to listen on (XPERT_LISTEN; port 0 picks a free port).
    #[arg(long, global = true)]
    listen: Option<String>,
    /// Data directory (XPERT_DATA_DIR).
    #[arg(long, global = true)]
    data_dir: Option<PathBuf>,
    /// Plugin directory (XPERT_PLUGIN_DIR; default $XPERT_DATA_DIR/plugins).
    #[arg(long, global = true)]
    plugin_dir: Option<PathBuf>,
    /// Config file (TOML with the environment variables' names as keys; default
    /// $XPERT_DATA_DIR/config.toml when present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Demo: run the WeCom simulator in this process and set up a bot answered by an echo
    /// Digital Expert; prints `demo chat: URL` (a chat page) and `demo bot: ID`. Without
    /// --data-dir (or XPERT_DATA_DIR) it uses a fresh temporary data directory.
    #[arg(long, global = true)]
    demo: bool,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the API and the web UI (the default).
    Serve,
}

fn main() {
    let cli = Cli::parse();
    let (Some(Command::Serve) | None) = cli.command;
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env()
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
        )
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .init();
    let data_dir = match (cli.data_dir, cli.demo && std::env::var_os("XPERT_DATA_DIR").is_none()) {
        (Some(dir), _) => Some(dir),
        (None, true) => Some(std::env::temp_dir().join(format!("xpert-demo-{}", std::process::id()))),
        (None, false) => None,
    };
    let overrides =
        config::Overrides { listen: cli.listen, data_dir, plugin_dir: cli.plugin_dir, config_file: cli.config };
    let config = match config::Config::resolve(&|k| std::env::var(k).ok(), &overrides) {
        Ok(c) => c,
        Err(e) => fail(&e.to_string()),
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().thread_name("xpert-host").build() {
        Ok(rt) => rt,
        Err(e) => fail(&format!("cannot start the runtime: {e}")),
    };
    if let Err(e) = runtime.block_on(server::run(config, cli.demo)) {
        fail(&e);
    }
}

fn fail(message: &str) -> ! {
    eprintln!("xpert-host: {message}");
    std::process::exit(2);
}

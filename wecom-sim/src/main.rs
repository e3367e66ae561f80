//! `wecom-sim`: run the simulator from the command line.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand};
use wecom_sim::{AesKeyForm, SimConfig, Simulator};

/// A faithful WeCom smart-bot simulator (long and short connection, faults, chat page).
#[derive(Parser)]
#[command(name = "wecom-sim", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the simulator until Ctrl-C.
    Serve(ServeArgs),
}

#[derive(clap::Args)]
struct ServeArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    listen: SocketAddr,
    /// A long-connection bot as BOT_ID:SECRET (repeatable).
    #[arg(long = "bot", value_name = "BOT_ID:SECRET")]
    bots: Vec<String>,
    /// Delay before each ack, ms.
    #[arg(long, default_value_t = 0)]
    ack_delay_ms: u64,
    /// Stream lifetime from its first frame, seconds (846608 after).
    #[arg(long, default_value_t = 600)]
    stream_lifetime_secs: u64,
    /// Window for welcome and card-update replies, ms.
    #[arg(long, default_value_t = 5000)]
    event_reply_window_ms: u64,
    /// Reply window of message callbacks, seconds.
    #[arg(long, default_value_t = 86400)]
    reply_window_secs: u64,
    /// Delay before a displaced socket is closed, ms.
    #[arg(long, default_value_t = 2000)]
    displaced_close_delay_ms: u64,
    /// Replies + pushes per conversation per minute.
    #[arg(long, default_value_t = 30)]
    rate_per_minute: u32,
    /// Replies + pushes per conversation per hour.
    #[arg(long, default_value_t = 1000)]
    rate_per_hour: u32,
    /// response_url validity, seconds.
    #[arg(long, default_value_t = 3600)]
    response_url_ttl_secs: u64,
    /// Media URL validity, seconds.
    #[arg(long, default_value_t = 300)]
    media_ttl_secs: u64,
    /// Short connection: callback deadline before a retry, ms.
    #[arg(long, default_value_t = 5000)]
    callback_timeout_ms: u64,
    /// Short connection: attempts per callback.
    #[arg(long, default_value_t = 3)]
    callback_attempts: u32,
    /// Short connection: stream-refresh interval, ms.
    #[arg(long, default_value_t = 1000)]
    refresh_interval_ms: u64,
    /// Short connection: refresh window from the user's message, seconds.
    #[arg(long, default_value_t = 360)]
    refresh_window_secs: u64,
    /// Interval of WebSocket-protocol pings sent to bots, ms.
    #[arg(long, default_value_t = 30000)]
    ws_ping_interval_ms: u64,
    /// Close sockets that sent no `ping` command for this long, ms (0: never).
    #[arg(long, default_value_t = 0)]
    idle_timeout_ms: u64,
    /// Drop a socket after this many consecutive WebSocket pings without a pong (0: never).
    #[arg(long, default_value_t = 2)]
    missed_pongs: u32,
    /// A media_id from an upload is valid this long, seconds.
    #[arg(long, default_value_t = 3 * 24 * 3600)]
    media_id_ttl_secs: u64,
    /// Form of the media aeskey in callbacks: 43 characters without `=` (WeCom's) or 44 with.
    #[arg(long, value_enum, default_value_t = AesKeyArg::Unpadded43)]
    aeskey_form: AesKeyArg,
    /// Serve TLS (wss:// and https://) with a CA and certificate generated at start.
    #[arg(long)]
    tls: bool,
    /// With --tls: write the generated CA certificate (PEM) here, for a client's extra-CA file
    /// (e.g. the host's WECOM_EXTRA_CA_FILE).
    #[arg(long, value_name = "PATH", requires = "tls")]
    ca_out: Option<PathBuf>,
    /// With --tls: an extra DNS name or IP for the certificate (repeatable; localhost, 127.0.0.1,
    /// ::1 and the bound IP are always in it).
    #[arg(long = "tls-name", value_name = "NAME", requires = "tls")]
    tls_names: Vec<String>,
}

/// `--aeskey-form`.
#[derive(Clone, Copy, clap::ValueEnum)]
enum AesKeyArg {
    /// 43 characters, no padding (WeCom's form).
    Unpadded43,
    /// 44 characters ending in `=`.
    Padded44,
}

#[tokio::main]
async fn main() {
    let Command::Serve(a) = Cli::parse().command;
    let config = SimConfig {
        ack_delay: Duration::from_millis(a.ack_delay_ms),
        stream_lifetime: Duration::from_secs(a.stream_lifetime_secs),
        event_reply_window: Duration::from_millis(a.event_reply_window_ms),
        reply_window: Duration::from_secs(a.reply_window_secs),
        displaced_close_delay: Duration::from_millis(a.displaced_close_delay_ms),
        rate_per_minute: a.rate_per_minute,
        rate_per_hour: a.rate_per_hour,
        response_url_ttl: Duration::from_secs(a.response_url_ttl_secs),
        media_ttl: Duration::from_secs(a.media_ttl_secs),
        callback_timeout: Duration::from_millis(a.callback_timeout_ms),
        callback_attempts: a.callback_attempts,
        refresh_interval: Duration::from_millis(a.refresh_interval_ms),
        refresh_window: Duration::from_secs(a.refresh_window_secs),
        ws_ping_interval: Duration::from_millis(a.ws_ping_interval_ms),
        idle_timeout: (a.idle_timeout_ms > 0).then(|| Duration::from_millis(a.idle_timeout_ms)),
        missed_pongs_limit: (a.missed_pongs > 0).then_some(a.missed_pongs),
        media_id_ttl: Duration::from_secs(a.media_id_ttl_secs),
        aeskey_form: match a.aeskey_form {
            AesKeyArg::Unpadded43 => AesKeyForm::Unpadded43,
            AesKeyArg::Padded44 => AesKeyForm::Padded44,
        },
        tls: a.tls,
        tls_names: a.tls_names.clone(),
        ..SimConfig::default()
    };
    let sim = match Simulator::start_on(a.listen, config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("wecom-sim: {e}");
            std::process::exit(2);
        }
    };
    for bot in &a.bots {
        let Some((id, secret)) = bot.split_once(':') else {
            eprintln!("wecom-sim: --bot must be BOT_ID:SECRET, got {bot:?}");
            std::process::exit(2);
        };
        sim.add_bot(id, secret);
    }
    if let (Some(path), Some(pem)) = (&a.ca_out, sim.ca_pem()) {
        if let Err(e) = std::fs::write(path, pem) {
            eprintln!("wecom-sim: cannot write the CA to {}: {e}", path.display());
            std::process::exit(2);
        }
    }
    println!("listening on {}", sim.base_url());
    let _ = tokio::signal::ctrl_c().await;
}

//! Load benchmark (bench binary, `harness = false`): the simulator must not be the bottleneck of
//! the plugin's benchmarks. It holds `BOTS` concurrent subscribed bot connections (real sockets on
//! 127.0.0.1) and pushes `CALLBACKS` message callbacks across them as fast as it can.
//!
//! The bots run in a child process (this same binary, role `clients`), so each process stays
//! under the machine's file-descriptor limit; the child reports on stdout when every bot has
//! subscribed and when every callback has arrived. Bounded in count and time.
//!
//! Run: `cargo bench -p wecom-sim --bench sim_load` (env BOTS / CALLBACKS override the sizes).

use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio_tungstenite::tungstenite::Message;
use wecom_sim::{Chat, SimConfig, Simulator};

fn raise_fd_limit(want: u64) -> u64 {
    // SAFETY: plain libc calls on a stack struct.
    unsafe {
        let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) != 0 {
            return 0;
        }
        lim.rlim_cur = want.min(lim.rlim_max);
        libc::setrlimit(libc::RLIMIT_NOFILE, &lim);
        lim.rlim_cur
    }
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// The child: opens every bot connection, subscribes, then counts callbacks.
async fn clients(url: String, bots: usize, expected: u64) {
    let received = Arc::new(AtomicU64::new(0));
    let subscribed = Arc::new(AtomicU64::new(0));
    let gate = Arc::new(tokio::sync::Semaphore::new(256)); // handshakes in flight
    for i in 0..bots {
        let (url, received, subscribed, gate) = (url.clone(), received.clone(), subscribed.clone(), gate.clone());
        tokio::spawn(async move {
            let permit = gate.acquire_owned().await.expect("semaphore");
            let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connect");
            let sub = json!({"cmd": "aibot_subscribe", "headers": {"req_id": "sub"}, "body": {"bot_id": format!("B{i}"), "secret": "S"}});
            ws.send(Message::text(sub.to_string())).await.expect("send");
            while let Some(Ok(msg)) = ws.next().await {
                if matches!(&msg, Message::Text(t) if t.contains("\"sub\"")) {
                    subscribed.fetch_add(1, Ordering::Relaxed);
                    drop(permit);
                    break;
                }
            }
            while let Some(Ok(msg)) = ws.next().await {
                if matches!(msg, Message::Text(_)) {
                    received.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }
    let deadline = Instant::now() + Duration::from_secs(240);
    while subscribed.load(Ordering::Relaxed) < bots as u64 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    println!("ready {}", subscribed.load(Ordering::Relaxed));
    while received.load(Ordering::Relaxed) < expected && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    println!("done {}", received.load(Ordering::Relaxed));
}

#[tokio::main]
async fn main() {
    let bots = env_usize("BOTS", 10_000);
    let callbacks = env_usize("CALLBACKS", 100_000);
    let limit = raise_fd_limit(bots as u64 + 4096);
    assert!(limit >= bots as u64 + 100, "need {} file descriptors per process, have {limit}", bots + 100);
    if let Ok(url) = std::env::var("SIM_LOAD_URL") {
        return clients(url, bots, callbacks as u64).await;
    }

    let sim = Arc::new(Simulator::start(SimConfig::default()).await.expect("simulator"));
    for i in 0..bots {
        sim.add_bot(&format!("B{i}"), "S");
    }
    let started = Instant::now();
    let mut child = tokio::process::Command::new(std::env::current_exe().expect("exe"))
        .env("SIM_LOAD_URL", sim.ws_url())
        .env("BOTS", bots.to_string())
        .env("CALLBACKS", callbacks.to_string())
        .stdout(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .expect("client process");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let ready = lines.next_line().await.expect("read").expect("ready line");
    assert_eq!(ready, format!("ready {bots}"), "every bot subscribed");
    let connect_time = started.elapsed();
    assert_eq!(sim.callbacks_sent(), 0);

    let push_started = Instant::now();
    let producers = 2;
    let per = callbacks / producers;
    let mut handles = Vec::new();
    for p in 0..producers {
        let sim = sim.clone();
        handles.push(tokio::task::spawn_blocking(move || {
            for n in 0..per {
                sim.send_text(&format!("B{}", (p * per + n) % bots), "u", Chat::Single, "load").expect("push");
            }
        }));
    }
    for h in handles {
        h.await.expect("producer");
    }
    let pushed = (per * producers) as u64;
    let done = lines.next_line().await.expect("read").expect("done line");
    let push_time = push_started.elapsed();
    assert_eq!(done, format!("done {pushed}"), "every callback arrived");
    println!("| measurement | result |");
    println!("|---|---|");
    println!("| concurrent subscribed bot connections | {bots} (all open during the push) |");
    println!(
        "| connect + subscribe all | {:.2} s ({:.0} subscribes/s) |",
        connect_time.as_secs_f64(),
        bots as f64 / connect_time.as_secs_f64()
    );
    println!(
        "| callbacks pushed and received | {pushed} in {:.2} s = {:.0} callbacks/s |",
        push_time.as_secs_f64(),
        pushed as f64 / push_time.as_secs_f64()
    );
    let _ = child.kill().await;
}

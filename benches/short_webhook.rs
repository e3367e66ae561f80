//! Short-connection webhook benchmark (a bench binary, `harness = false`): requests per second
//! and p99 on loopback through the real `xpert-host` for (in the order printed)
//!
//! 0. the floor: the same host answering a bare 200 (`GET /api/_bench/floor`);
//! 1. message callbacks, each with a fresh msgid, to an integration with no published trigger:
//!    verify + decrypt + parse + dedup (the msgid taken with the thinking frame, one durable
//!    write) + the encrypted passive answer; the pipeline then seals the stream with its
//!    "not connected" notice in the background (one more write), and that CPU is counted too;
//! 2. stream refresh callbacks of a sealed stream: verify + decrypt + parse + the snapshot read
//!    from the KV store + the encrypted passive answer;
//! 3. a plugin route with no work (`GET /api/wecom/ping`): the floor plus the host's dispatch to
//!    an installation and the call across the ABI, which every webhook call pays as well;
//! 4. refreshes of a stream whose answer is still being written on this host (a published echo
//!    Digital Expert answering `/slow 600`), the common case: answered from the host's memory.
//!
//! Callbacks are signed and encrypted before each round (the client's crypto is not measured).
//! Run: `cargo bench --bench short_webhook`. Rounds are interleaved so machine noise hits the
//! routes alike; medians of the rounds are printed, with the host process's own CPU time per
//! request (from `/proc`, so the client's share of the shared cores is told apart; a round's
//! CPU is counted until the host is idle again).
//! `SHORT_BENCH_ROUTES=0,1` runs only the routes named by their index and `SHORT_BENCH_ROUNDS`
//! sets the rounds (for a profiler).

use std::time::Instant;

use serde_json::json;
use testkit::process::ChildServer;
use wecom_sim::crypto;

const TOKEN: &str = "bench-token";
const WECOM_TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
const AES_KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const CONCURRENCY: usize = 16;
const REQUESTS: usize = 5_000;
/// Of each round's requests, how many go first, unmeasured.
const WARM_UP: usize = 1_000;
/// Rounds per route (`SHORT_BENCH_ROUNDS` overrides it, e.g. to give a profiler time).
const ROUNDS: usize = 9;

/// One prepared request: a GET (the floor) or a signed POST.
#[derive(Clone)]
enum Call {
    Get(String),
    Post(String, String),
}

/// The CPU time the process `pid`'s live threads have run so far, in µs (from each thread's
/// `schedstat`, in nanoseconds: `/proc/<pid>/stat` counts in 10 ms ticks, too coarse for a round).
fn cpu_us(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else { return 0.0 };
    tasks
        .flatten()
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next().and_then(|ns| ns.parse::<f64>().ok()))
        .sum::<f64>()
        / 1e3
}

/// [`cpu_us`] once the host has gone quiet: less than 1 ms of CPU in a 50 ms window (its
/// timers and status flushes cost far less), or after two seconds.
async fn settled_cpu_us(pid: u32) -> f64 {
    let mut last = cpu_us(pid);
    for _ in 0..40 {
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        let now = cpu_us(pid);
        if now - last < 1_000.0 {
            return now;
        }
        last = now;
    }
    last
}

/// Runs the calls over `CONCURRENCY` keep-alive connections; returns (rps, latencies µs).
async fn round(client: &reqwest::Client, calls: Vec<Call>) -> (f64, Vec<f64>) {
    let per_task = calls.len() / CONCURRENCY;
    let mut chunks: Vec<Vec<Call>> = calls.chunks(per_task).map(<[Call]>::to_vec).collect();
    chunks.truncate(CONCURRENCY);
    let started = Instant::now();
    let tasks: Vec<_> = chunks
        .into_iter()
        .map(|chunk| {
            let client = client.clone();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(chunk.len());
                for call in chunk {
                    let t = Instant::now();
                    let resp = match &call {
                        Call::Get(url) => client.get(url).bearer_auth(TOKEN).send().await,
                        Call::Post(url, body) => client.post(url).body(body.clone()).send().await,
                    }
                    .expect("request");
                    assert!(resp.status().is_success(), "{}", resp.status());
                    let body = resp.bytes().await.expect("body");
                    assert!(!body.is_empty(), "an answer");
                    lat.push(t.elapsed().as_secs_f64() * 1e6);
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::new();
    for t in tasks {
        all.extend(t.await.expect("task"));
    }
    (all.len() as f64 / started.elapsed().as_secs_f64(), all)
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)]
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// A signed, encrypted callback POST to `hook` with plaintext `plain`.
fn signed(hook: &str, key: &[u8; 32], plain: &serde_json::Value, n: usize) -> Call {
    let encrypt = crypto::encrypt(key, &plain.to_string());
    let nonce = format!("n{n}");
    let sig = crypto::sign(WECOM_TOKEN, "1700000000", &nonce, &encrypt);
    Call::Post(
        format!("{hook}?msg_signature={sig}&timestamp=1700000000&nonce={nonce}"),
        json!({"encrypt": encrypt}).to_string(),
    )
}

/// Sends one message callback to `hook`; the id of the stream its passive answer opens.
async fn stream_of(client: &reqwest::Client, hook: &str, key: &[u8; 32], message: &serde_json::Value) -> String {
    let Call::Post(url, body) = signed(hook, key, message, 0) else { unreachable!() };
    let answer: serde_json::Value = client.post(url).body(body).send().await.unwrap().json().await.unwrap();
    let reply: serde_json::Value =
        serde_json::from_str(&crypto::decrypt(key, answer["encrypt"].as_str().unwrap(), "").unwrap()).unwrap();
    reply["stream"]["id"].as_str().unwrap().to_string()
}

#[tokio::main]
async fn main() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap().to_string();
    let server = ChildServer::spawn(
        env!("CARGO_BIN_EXE_xpert-host"),
        &[],
        &[
            ("XPERT_DATA_DIR", &data),
            ("XPERT_LISTEN", "127.0.0.1:0"),
            ("XPERT_ADMIN_TOKEN", TOKEN),
            ("RUST_LOG", "warn"),
            // The unbound integration's notice is logged at warn per message; logging is not the
            // path measured here.
            ("XPERT_PLUGIN_LOG_LEVEL", "error"),
        ],
    )
    .await
    .expect("host starts");
    let base = server.base_url();
    let client = reqwest::Client::builder().pool_max_idle_per_host(CONCURRENCY).build().unwrap();
    let install = client
        .post(format!("{base}/api/plugins/install"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "wecom", "level": "tenant"}));
    assert!(install.send().await.unwrap().status().is_success());
    let created: serde_json::Value = client
        .post(format!("{base}/api/integration"))
        .bearer_auth(TOKEN)
        .json(&json!({"name": "bench", "provider": "wecom", "options": {"token": WECOM_TOKEN, "encodingAesKey": AES_KEY}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let hook = format!("{base}/api/wecom/webhook/{id}");
    let key = crypto::aes_key(AES_KEY).unwrap();

    // One message first, so that refreshes find a (sealed) snapshot in the store.
    let first = json!({"msgid": "bench-first", "aibotid": "B", "chattype": "single", "from": {"userid": "u"},
                       "msgtype": "text", "text": {"content": "hello"}});
    let stream_id = stream_of(&client, &hook, &key, &first).await;

    // A second integration bound to a published echo Digital Expert, and a message whose answer
    // streams for ten minutes: its stream stays open (its pipeline writing it on this host) for
    // the whole bench.
    let json_of = |r: reqwest::RequestBuilder| async move {
        let r = r.bearer_auth(TOKEN).send().await.unwrap();
        assert!(r.status().is_success(), "{}", r.status());
        r.json::<serde_json::Value>().await.unwrap()
    };
    let open_id = json_of(client.post(format!("{base}/api/integration")).json(
        &json!({"name": "bench-open", "provider": "wecom", "options": {"token": WECOM_TOKEN, "encodingAesKey": AES_KEY}}),
    ))
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let xpert =
        json_of(client.post(format!("{base}/api/xpert")).json(&json!({"name": "echo", "agent": {"kind": "echo"}})))
            .await["id"]
            .as_str()
            .unwrap()
            .to_string();
    let triggers = json!([{"provider": "wecom", "config": {"enabled": true, "integrationId": open_id}}]);
    json_of(client.put(format!("{base}/api/xpert/{xpert}/triggers")).json(&triggers)).await;
    json_of(client.post(format!("{base}/api/xpert/{xpert}/publish")).json(&json!({}))).await;
    let open_hook = format!("{base}/api/wecom/webhook/{open_id}");
    let slow = json!({"msgid": "bench-open", "aibotid": "B2", "chattype": "single", "from": {"userid": "u"},
                      "msgtype": "text", "text": {"content": "/slow 600"}});
    let open_stream_id = stream_of(&client, &open_hook, &key, &slow).await;

    let mut msg_n = 0usize;
    let mut prepare = |route: usize| -> Vec<Call> {
        (0..REQUESTS)
            .map(|i| match route {
                0 => Call::Get(format!("{base}/api/_bench/floor")),
                3 => Call::Get(format!("{base}/api/wecom/ping")),
                4 => {
                    let plain = json!({"msgid": format!("refresh-open-{i}"), "aibotid": "B2", "chattype": "single",
                        "from": {"userid": "u"}, "msgtype": "stream", "stream": {"id": open_stream_id}});
                    signed(&open_hook, &key, &plain, i)
                }
                1 => {
                    msg_n += 1;
                    let plain = json!({"msgid": format!("bench-{msg_n}"), "aibotid": "B", "chattype": "single",
                        "from": {"userid": format!("u{}", msg_n % 50)}, "msgtype": "text",
                        "text": {"content": "what is the weather like today?"}});
                    signed(&hook, &key, &plain, msg_n)
                }
                _ => {
                    let plain = json!({"msgid": format!("refresh-{i}"), "aibotid": "B", "chattype": "single",
                        "from": {"userid": "u"}, "msgtype": "stream", "stream": {"id": stream_id}});
                    signed(&hook, &key, &plain, i)
                }
            })
            .collect()
    };
    let routes: Vec<usize> = match std::env::var("SHORT_BENCH_ROUTES") {
        Ok(list) => list.split(',').filter_map(|r| r.trim().parse().ok()).filter(|r| *r < 5).collect(),
        Err(_) => (0..5).collect(),
    };
    let pid = server.pid().expect("the host's pid");
    let names = [
        "floor: GET /api/_bench/floor",
        "message callback (verify, decrypt, parse, dedup, passive answer)",
        "stream refresh callback (verify, decrypt, parse, KV read, passive answer)",
        "plugin route with no work: GET /api/wecom/ping",
        "stream refresh callback, stream still being written on this host (from its memory)",
    ];
    for &route in &routes {
        round(&client, prepare(route)).await; // warm-up
    }
    let mut rps: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut lat: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); names.len()];
    let rounds = std::env::var("SHORT_BENCH_ROUNDS").ok().and_then(|r| r.parse().ok()).unwrap_or(ROUNDS);
    for _ in 0..rounds {
        for &route in &routes {
            let mut calls = prepare(route);
            // A short unmeasured burst of the same route first: a round that starts on an idle
            // machine ramps up, which would weigh most on the shortest rounds (the floor's).
            let measured = calls.split_off(WARM_UP);
            round(&client, calls).await;
            let calls = measured;
            let before = cpu_us(pid);
            let (r, l) = round(&client, calls).await;
            // The work a round leaves behind (a pipeline finishing after its passive answer) is
            // the round's too: its CPU is counted until the host is idle again.
            cpu[route].push((settled_cpu_us(pid).await - before) / l.len() as f64);
            rps[route].push(r);
            lat[route].extend(l);
        }
    }
    println!(
        "{CONCURRENCY} keep-alive connections, {} measured requests per round after {WARM_UP} unmeasured, {rounds} interleaved rounds\n",
        REQUESTS - WARM_UP
    );
    println!(
        "| route | requests/s (median of rounds) | p50 | p99 | host CPU per request | cost per request vs floor |"
    );
    println!("|---|---|---|---|---|---|");
    let floor_rps = if rps[0].is_empty() { f64::NAN } else { median(rps[0].clone()) };
    for &i in &routes {
        let mut l = lat[i].clone();
        l.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let r = median(rps[i].clone());
        println!(
            "| {} | {r:.0} | {:.0} µs | {:.0} µs | {:.1} µs | {:.2}× |",
            names[i],
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            median(cpu[i].clone()),
            floor_rps / r
        );
    }
}

//! HTTP benchmark (a bench binary, `harness = false`): requests per second and p99 on loopback
//! for `GET /api/integration/{id}` and for a plugin route that does no work (`GET /api/wecom/ping`,
//! through the plugin's FFI handler), against the same server answering a bare 200
//! (`GET /api/_bench/floor`, authenticated like the others).
//!
//! Run: `cargo bench --bench host_http`. Rounds of the three routes are interleaved so machine
//! noise hits them alike; medians of the rounds are printed.

use std::time::Instant;

use serde_json::json;
use testkit::process::ChildServer;

const TOKEN: &str = "bench-token";
const CONCURRENCY: usize = 16;
const REQUESTS: usize = 8_000;
const ROUNDS: usize = 5;

/// Runs `REQUESTS` GETs over `CONCURRENCY` keep-alive connections; returns (rps, latencies µs).
async fn round(client: &reqwest::Client, url: &str) -> (f64, Vec<f64>) {
    let per_task = REQUESTS / CONCURRENCY;
    let started = Instant::now();
    let tasks: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let client = client.clone();
            let url = url.to_string();
            tokio::spawn(async move {
                let mut lat = Vec::with_capacity(per_task);
                for _ in 0..per_task {
                    let t = Instant::now();
                    let resp = client.get(&url).bearer_auth(TOKEN).send().await.expect("request");
                    assert!(resp.status().is_success(), "{url}: {}", resp.status());
                    let _ = resp.bytes().await.expect("body");
                    lat.push(t.elapsed().as_secs_f64() * 1e6);
                }
                lat
            })
        })
        .collect();
    let mut all = Vec::with_capacity(REQUESTS);
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
        .json(&json!({"name": "bench", "provider": "wecom_long", "options": {"botId": "aibBENCH", "secret": "s"}}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = created["id"].as_str().unwrap().to_string();
    let routes = [
        ("floor: GET /api/_bench/floor", format!("{base}/api/_bench/floor")),
        ("GET /api/integration/{id}", format!("{base}/api/integration/{id}")),
        ("plugin route: GET /api/wecom/ping", format!("{base}/api/wecom/ping")),
    ];
    // Warm-up.
    for (_, url) in &routes {
        round(&client, url).await;
    }
    let mut rps: Vec<Vec<f64>> = vec![Vec::new(); routes.len()];
    let mut lat: Vec<Vec<f64>> = vec![Vec::new(); routes.len()];
    for _ in 0..ROUNDS {
        for (i, (_, url)) in routes.iter().enumerate() {
            let (r, l) = round(&client, url).await;
            rps[i].push(r);
            lat[i].extend(l);
        }
    }
    println!("{CONCURRENCY} keep-alive connections, {REQUESTS} requests per round, {ROUNDS} interleaved rounds\n");
    println!("| route | requests/s (median of rounds) | p50 | p99 | cost per request vs floor |");
    println!("|---|---|---|---|---|");
    let floor_rps = median(rps[0].clone());
    for (i, (name, _)) in routes.iter().enumerate() {
        let mut l = lat[i].clone();
        l.sort_by(|a, b| a.partial_cmp(b).unwrap());
        let r = median(rps[i].clone());
        println!(
            "| {name} | {r:.0} | {:.0} µs | {:.0} µs | {:.2}× |",
            percentile(&l, 0.5),
            percentile(&l, 0.99),
            floor_rps / r
        );
    }
}

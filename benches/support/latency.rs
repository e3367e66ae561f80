//! Callback → first-frame latency, shared by the benches that drive a host with the simulator.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use wecom_sim::sim::Chat;
use wecom_sim::Simulator;

/// The `p` quantile (0..=1) of sorted values (NaN when there are none).
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// Sends `total` text callbacks at 500/s (one every 2 ms), the k-th to bot `bot(k)` from user
/// `{user_prefix}{k}` (a new user each: each pays dedup and a session lookup), and returns the
/// milliseconds from each callback leaving the simulator to its first `aibot_respond_msg` frame
/// (the thinking frame) reaching it, sorted. Gives up after 60 s.
pub async fn first_frame_latencies(
    sim: &Simulator,
    total: usize,
    user_prefix: &str,
    bot: impl Fn(usize) -> String,
) -> Vec<f64> {
    let sent: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let latencies: Arc<Mutex<Vec<f64>>> = Arc::default();
    let start_index = sim.frames().len();
    let watcher = {
        let (sent, latencies) = (sent.clone(), latencies.clone());
        async move {
            let mut index = start_index;
            while latencies.lock().len() < total {
                let fresh = sim.frames_since(index);
                index += fresh.len();
                let now = Instant::now();
                for frame in fresh {
                    if frame.frame["cmd"] == "aibot_respond_msg" {
                        let req_id = frame.frame["headers"]["req_id"].as_str().unwrap_or_default().to_string();
                        if let Some(t0) = sent.lock().remove(&req_id) {
                            latencies.lock().push((now - t0).as_secs_f64() * 1e3);
                        }
                    }
                }
                let _ = sim.wait_until(Duration::from_millis(50), |s| !s.frames_since(index).is_empty()).await;
            }
        }
    };
    let sender = async {
        let mut tick = tokio::time::interval(Duration::from_millis(2));
        for k in 0..total {
            tick.tick().await;
            let t0 = Instant::now();
            if let Ok(req_id) = sim.send_text(&bot(k), &format!("{user_prefix}{k}"), Chat::Single, "ping") {
                sent.lock().insert(req_id, t0);
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(60), futures_util::future::join(watcher, sender)).await;
    let mut all = latencies.lock().clone();
    all.sort_by(|a, b| a.partial_cmp(b).unwrap());
    all
}

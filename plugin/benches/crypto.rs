//! Crypto benchmark (a bench binary, `harness = false`): one 1 KiB callback opened the way the
//! webhook opens it — JSON envelope → signature check → Base64 → AES-256-CBC → unframe → JSON
//! parse — on one core, in operations per CPU-second; and the parts alone.
//!
//! Run: `cargo bench -p plugin-wecom --bench crypto`. In the same run it measures the OpenSSL
//! bound (`openssl speed -evp aes-256-cbc -decrypt -bytes 1056` plus `openssl speed -evp sha1
//! -bytes 1458`: one AES decryption and one SHA-1 per callback) and, when `WECOM_NODE_SDK` names a
//! folder with `node_modules/@wecom/aibot-node-sdk`, the official Node SDK's `WecomCrypto` doing
//! the same work (`benches/node/wecom_crypto.js`), and prints the ratios.

use std::hint::black_box;
use std::time::{Duration, Instant};

use plugin_wecom::crypto;
use plugin_wecom::short::webhook::open_callback;
use serde_json::json;

const TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
const KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";

/// Nanoseconds this thread has run on a CPU (Linux `schedstat`), if readable.
fn cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat").ok()?.split_whitespace().next()?.parse().ok()
}

/// Runs `f` for about `time` after a warm-up; returns operations per second of this thread's CPU
/// time (as `openssl speed` counts its own), or of wall time where CPU time cannot be read. On
/// a shared machine wall time would charge us for other processes' work.
fn rate(time: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..1_000 {
        f();
    }
    let started = Instant::now();
    let cpu_started = cpu_ns();
    let mut n = 0u64;
    while started.elapsed() < time {
        for _ in 0..256 {
            f();
        }
        n += 256;
    }
    match (cpu_started, cpu_ns()) {
        (Some(a), Some(b)) if b > a => n as f64 / ((b - a) as f64 / 1e9),
        _ => n as f64 / started.elapsed().as_secs_f64(),
    }
}

/// Bytes per second of `openssl speed -evp <algo> [-decrypt] -bytes <n>` (its last line, in kB/s).
fn openssl_speed(args: &[&str]) -> Option<f64> {
    let out = std::process::Command::new("openssl").arg("speed").args(["-seconds", "2"]).args(args).output().ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let last = text.lines().last()?;
    let kbs = last.split_whitespace().last()?.trim_end_matches('k').parse::<f64>().ok()?;
    Some(kbs * 1000.0)
}

/// The official Node SDK's rate for the same callback, if it is installed.
fn node_sdk() -> Option<f64> {
    let dir = std::env::var("WECOM_NODE_SDK").ok()?;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../benches/node/wecom_crypto.js");
    let out = std::process::Command::new("node")
        .arg(script)
        .env("WECOM_NODE_SDK", dir)
        .env("BENCH_SECONDS", "2")
        .output()
        .ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().find_map(|l| l.strip_prefix("ops_per_sec ")).and_then(|n| n.trim().parse().ok())
}

fn main() {
    let key = crypto::decode_encoding_aes_key(KEY).unwrap();
    // Prepared once per integration, as the webhook keeps it.
    let prepared = crypto::CallbackKey::new(&key);
    // A text callback of exactly 1,024 bytes of JSON: frame 1,044 bytes, 1,056 with padding.
    let mut callback = json!({"msgid": "CAIQ16HMjQYY/NGagIOAgAMgq4KM0AI=", "aibotid": "AIBOTID", "chattype": "single",
        "from": {"userid": "USERID"}, "response_url": "https://qyapi.weixin.qq.com/cgi-bin/aibot/response?response_code=RC",
        "msgtype": "text", "text": {"content": ""}});
    let fill = 1024 - callback.to_string().len();
    callback["text"]["content"] = json!("x".repeat(fill));
    let plain = callback.to_string();
    assert_eq!(plain.len(), 1024);
    let encrypt = crypto::encrypt(&key, &plain, "");
    let signature = crypto::signature(TOKEN, "1700000000", "1372623149", &encrypt);
    let query = format!("msg_signature={signature}&timestamp=1700000000&nonce=1372623149");
    let body = json!({"encrypt": encrypt}).to_string().into_bytes();
    println!(
        "1 KiB callback: ciphertext {} bytes, Base64 {} characters, signed input {} bytes\n",
        1056,
        encrypt.len(),
        TOKEN.len() + 10 + 10 + encrypt.len()
    );

    let time = Duration::from_secs(3);
    let full = rate(time, || {
        black_box(open_callback(TOKEN, &prepared, black_box(&query), black_box(&body)).unwrap());
    });
    let sig = rate(time, || {
        let checked = crypto::verify_signature(TOKEN, "1700000000", "1372623149", black_box(&encrypt), &signature);
        assert!(black_box(checked).is_ok());
    });
    let dec = rate(time, || {
        black_box(crypto::decrypt(&key, black_box(&encrypt), "").unwrap());
    });
    let enc = rate(time, || {
        black_box(crypto::encrypt(&key, black_box(&plain), ""));
    });
    if std::env::var_os("CRYPTO_PARTS").is_some() {
        let raw = base64_simd::STANDARD.decode_to_vec(&encrypt).unwrap();
        let b64 = rate(time, || {
            black_box(base64_simd::STANDARD.decode_to_vec(black_box(&encrypt)).unwrap());
        });
        let aes = rate(time, || {
            black_box(crypto::decrypt_raw(&key, black_box(&raw)).unwrap());
        });
        let prepared = plugin_wecom::aes_cbc::DecryptKey::new(&key);
        let iv: [u8; 16] = key[..16].try_into().unwrap();
        let mut scratch = raw.clone();
        let cbc = rate(time, || {
            scratch.copy_from_slice(&raw);
            black_box(prepared.decrypt_in_place(&iv, black_box(&mut scratch)));
        });
        let env = rate(time, || {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(&body)).unwrap());
        });
        let js = rate(time, || {
            black_box(serde_json::from_str::<serde_json::Value>(black_box(&plain)).unwrap());
        });
        let typed = rate(time, || {
            black_box(plugin_wecom::protocol::message_json::parse_message_json(black_box(&plain)).unwrap());
        });
        let q = rate(time, || {
            black_box(plugin_wecom::short::envelope::signed_query(black_box(&query)).unwrap());
        });
        println!(
            "parts: base64 {b64:.0}, aes with its key schedule and unframing {aes:.0}, AES-256-CBC alone (prepared key) {cbc:.0}, envelope json {env:.0}, callback json tree {js:.0}, callback typed {typed:.0}, query {q:.0}"
        );
    }
    println!("| operation (one core) | ops/s |");
    println!("|---|---|");
    println!("| open a 1 KiB callback (envelope → signature → Base64 → AES → unframe → JSON) | {full:.0} |");
    println!("| signature check alone (SHA-1 over 1,458 bytes, constant-time compare) | {sig:.0} |");
    println!("| decrypt alone (Base64 → AES-256-CBC 1,056 bytes → unframe) | {dec:.0} |");
    println!("| encrypt a 1 KiB passive answer (frame → AES → Base64) | {enc:.0} |");
    // The comparisons, interleaved with our own measurement in rounds so that machine noise (a
    // shared box) hits them alike; medians of the rounds.
    let median = |mut v: Vec<f64>| -> f64 {
        v.sort_by(|a, b| a.partial_cmp(b).unwrap());
        v[v.len() / 2]
    };
    let (mut ours, mut bounds, mut nodes) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        ours.push(rate(Duration::from_secs(2), || {
            black_box(open_callback(TOKEN, &prepared, black_box(&query), black_box(&body)).unwrap());
        }));
        let aes = openssl_speed(&["-evp", "aes-256-cbc", "-decrypt", "-bytes", "1056"]).map(|b| b / 1056.0);
        let sha = openssl_speed(&["-evp", "sha1", "-bytes", "1458"]).map(|b| b / 1458.0);
        if let (Some(aes), Some(sha)) = (aes, sha) {
            bounds.push(1.0 / (1.0 / aes + 1.0 / sha));
        }
        if let Some(node) = node_sdk() {
            nodes.push(node);
        }
    }
    let ours = median(ours);
    println!("\nInterleaved rounds (median of 3): open a 1 KiB callback {ours:.0}/s");
    if bounds.is_empty() {
        println!("(openssl not found: no bound measured)");
    } else {
        let bound = median(bounds);
        println!("OpenSSL bound (one AES-256-CBC decrypt of 1,056 bytes + one SHA-1 of 1,458 bytes): {bound:.0}/s → {:.1} % of it (target ≥ 50 %)", 100.0 * ours / bound);
    }
    if nodes.is_empty() {
        println!("(WECOM_NODE_SDK not set or node missing: Node SDK not measured)");
    } else {
        let node = median(nodes);
        println!("official Node SDK WecomCrypto: {node:.0}/s → {:.1}× Node (target ≥ 5×)", ours / node);
    }
}

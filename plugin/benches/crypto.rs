//! Crypto benchmark (a bench binary, `harness = false`): one 1 KiB callback opened the way the
//! webhook opens it — JSON envelope → signature check → Base64 → AES-256-CBC → unframe → JSON
//! parse — on one core, in operations per second; and the parts alone.
//!
//! Run: `cargo bench -p plugin-wecom --bench crypto`. Compare with the OpenSSL bound printed by
//! `openssl speed -evp aes-256-cbc -decrypt -bytes 1056` plus `openssl speed -evp sha1 -bytes 1458`.

use std::hint::black_box;
use std::time::{Duration, Instant};

use plugin_wecom::crypto;
use plugin_wecom::short::webhook::open_callback;
use serde_json::json;

const TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
const KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";

/// Runs `f` for about `time` after a warm-up; returns operations per second.
fn rate(time: Duration, mut f: impl FnMut()) -> f64 {
    for _ in 0..1_000 {
        f();
    }
    let started = Instant::now();
    let mut n = 0u64;
    while started.elapsed() < time {
        for _ in 0..256 {
            f();
        }
        n += 256;
    }
    n as f64 / started.elapsed().as_secs_f64()
}

fn main() {
    let key = crypto::decode_encoding_aes_key(KEY).unwrap();
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
        black_box(open_callback(TOKEN, &key, black_box(&query), black_box(&body)).unwrap());
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
        use base64::Engine as _;
        let raw = base64::engine::general_purpose::STANDARD.decode(&encrypt).unwrap();
        let b64 = rate(time, || {
            black_box(base64::engine::general_purpose::STANDARD.decode(black_box(&encrypt)).unwrap());
        });
        let aes = rate(time, || {
            black_box(crypto::decrypt_raw(&key, black_box(&raw)).unwrap());
        });
        let env = rate(time, || {
            black_box(serde_json::from_slice::<serde_json::Value>(black_box(&body)).unwrap());
        });
        let js = rate(time, || {
            black_box(serde_json::from_str::<serde_json::Value>(black_box(&plain)).unwrap());
        });
        let q = rate(time, || {
            black_box(plugin_wecom::short::envelope::signed_query(black_box(&query)).unwrap());
        });
        println!("parts: base64 {b64:.0}, aes {aes:.0}, envelope json {env:.0}, callback json {js:.0}, query {q:.0}");
    }
    println!("| operation (one core) | ops/s |");
    println!("|---|---|");
    println!("| open a 1 KiB callback (envelope → signature → Base64 → AES → unframe → JSON) | {full:.0} |");
    println!("| signature check alone (SHA-1 over 1,458 bytes, constant-time compare) | {sig:.0} |");
    println!("| decrypt alone (Base64 → AES-256-CBC 1,056 bytes → unframe) | {dec:.0} |");
    println!("| encrypt a 1 KiB passive answer (frame → AES → Base64) | {enc:.0} |");
}

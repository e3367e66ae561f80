//! Decrypt + parse of a short-connection callback, fed arbitrary bytes: nothing may panic,
//! whatever the body, the ciphertext or the plaintext inside it.
//!
//! The first byte chooses the path: `0` encrypts the rest as a callback's plaintext (so the
//! fuzzer reaches the parser behind a valid decryption); `1` is a webhook call as the plugin
//! receives it (query string, a newline, the body) through the full open path — signature,
//! envelope, decryption, JSON; anything else treats the input as a body as received (JSON
//! envelope or raw ciphertext).
#![no_main]

use libfuzzer_sys::fuzz_target;
use plugin_wecom::crypto;
use plugin_wecom::protocol::{callback, message_json};
use plugin_wecom::short::webhook;

/// The EncodingAESKey of WeCom's documentation example.
const ENCODING_AES_KEY: &str = "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C";

/// Both parsers on a plaintext; whenever the fast one types a message, the lenient tree parser
/// must type it the same.
fn parse_plaintext(plain: &str) {
    let fast = message_json::parse_message_json(plain);
    if let Ok(body) = serde_json::from_str::<serde_json::Value>(plain) {
        let tree = callback::parse_message(&body);
        if let Some(fast) = fast {
            assert_eq!(Ok(fast), tree, "the fast parser disagrees with the tree parser");
        }
        let _ = callback::parse_event(&body);
    } else {
        assert!(fast.is_none(), "the fast parser typed what is not JSON");
    }
}

fuzz_target!(|data: &[u8]| {
    let key = crypto::decode_encoding_aes_key(ENCODING_AES_KEY).expect("the documented key");
    match data.split_first() {
        Some((0, plain)) => {
            let plain = String::from_utf8_lossy(plain);
            let sealed = crypto::encrypt(&key, &plain, "");
            let opened = crypto::decrypt(&key, &sealed, "").expect("what was sealed opens");
            assert_eq!(opened, plain);
            parse_plaintext(&opened);
        }
        Some((1, call)) => {
            let (query, body) = match call.iter().position(|b| *b == b'\n') {
                Some(at) => (&call[..at], &call[at + 1..]),
                None => (call, &[][..]),
            };
            let query = String::from_utf8_lossy(query);
            let prepared = crypto::CallbackKey::new(&key);
            if let Ok((webhook::OpenedCallback::Tree(tree), _nonce)) =
                webhook::open_callback("QDG6eK", &prepared, &query, body)
            {
                parse_plaintext(&tree.to_string());
            }
        }
        _ => {
            let _ = crypto::decrypt_raw(&key, data);
            if let Ok(text) = std::str::from_utf8(data) {
                if let Ok(plain) = crypto::decrypt(&key, text, "") {
                    parse_plaintext(&plain);
                }
                if let Ok(body) = serde_json::from_str::<serde_json::Value>(text) {
                    if let Some(encrypt) = body.get("encrypt").and_then(|v| v.as_str()) {
                        if let Ok(plain) = crypto::decrypt(&key, encrypt, "") {
                            parse_plaintext(&plain);
                        }
                    }
                }
            }
        }
    }
});

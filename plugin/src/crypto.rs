//! WeCom's callback crypto (WXBizMsgCrypt, JSON flavour) and the EncodingAESKey.
//!
//! - key = Base64(EncodingAESKey + "="), 32 bytes; the 43rd character carries non-zero trailing
//!   bits, so decoding must allow them;
//! - AES-256-CBC with IV = key[0..16], no library padding: PKCS#7 with a **32-byte** block,
//!   stripped by hand;
//! - plaintext = random(16) ‖ u32be(len(msg)) ‖ msg ‖ receiveid (`""` for a smart bot);
//! - signature = hex(SHA1(concat(sorted([token, timestamp, nonce, encrypt])))).

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

type Aes256CbcEnc = cbc::Encryptor<aes::Aes256>;
type Aes256CbcDec = cbc::Decryptor<aes::Aes256>;

/// The PKCS#7 block size WeCom uses.
pub const PAD_BLOCK: usize = 32;

/// A lenient decoder: trailing bits allowed, padding optional.
const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Why a crypto operation failed, with WXBizMsgCrypt's error code where one applies.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The EncodingAESKey is malformed (-40004).
    #[error("{0}")]
    IllegalAesKey(String),
    /// The signature does not match (-40001).
    #[error("signature mismatch")]
    BadSignature,
    /// The ciphertext is not valid Base64 (-40010).
    #[error("ciphertext is not valid base64")]
    Base64,
    /// The ciphertext length or padding is wrong (-40007 / -40008).
    #[error("ciphertext is truncated or its padding is invalid")]
    IllegalBuffer,
    /// The receive id inside the plaintext is not the expected one (-40005).
    #[error("receive id mismatch")]
    ReceiveId,
    /// The message is not UTF-8.
    #[error("decrypted message is not UTF-8")]
    NotUtf8,
}

impl CryptoError {
    /// The WXBizMsgCrypt error code.
    pub fn code(&self) -> i32 {
        match self {
            CryptoError::IllegalAesKey(_) => -40004,
            CryptoError::BadSignature => -40001,
            CryptoError::Base64 => -40010,
            CryptoError::IllegalBuffer => -40008,
            CryptoError::ReceiveId => -40005,
            CryptoError::NotUtf8 => -40008,
        }
    }
}

/// Decodes a 43-character EncodingAESKey into the 32-byte AES key.
pub fn decode_encoding_aes_key(encoding_aes_key: &str) -> Result<[u8; 32], CryptoError> {
    let len = encoding_aes_key.chars().count();
    if len != 43 {
        return Err(CryptoError::IllegalAesKey(format!("encodingAesKey must be exactly 43 characters (got {len})")));
    }
    if !encoding_aes_key.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/') {
        return Err(CryptoError::IllegalAesKey("encodingAesKey may only contain letters, digits, + and /".into()));
    }
    let bytes = LENIENT
        .decode(format!("{encoding_aes_key}="))
        .map_err(|_| CryptoError::IllegalAesKey("encodingAesKey is not decodable base64".into()))?;
    bytes.try_into().map_err(|_| CryptoError::IllegalAesKey("encodingAesKey does not decode to 32 bytes".into()))
}

/// Decodes a media `aeskey` (with or without `=` padding) into a 32-byte key.
pub fn decode_media_key(aeskey: &str) -> Result<[u8; 32], CryptoError> {
    let bytes = LENIENT.decode(aeskey.trim()).map_err(|_| CryptoError::IllegalAesKey("aeskey is not base64".into()))?;
    bytes.try_into().map_err(|_| CryptoError::IllegalAesKey("aeskey does not decode to 32 bytes".into()))
}

/// The message signature over token, timestamp, nonce and the Base64 ciphertext.
pub fn signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    let mut parts = [token, timestamp, nonce, encrypt];
    parts.sort_unstable();
    let mut hasher = Sha1::new();
    for p in parts {
        hasher.update(p.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Checks a signature in constant time.
pub fn verify_signature(
    token: &str,
    timestamp: &str,
    nonce: &str,
    encrypt: &str,
    given: &str,
) -> Result<(), CryptoError> {
    let expected = signature(token, timestamp, nonce, encrypt);
    let given = given.trim().to_ascii_lowercase();
    // The length is public (a SHA-1 hex digest is always 40 characters); the bytes are compared
    // without an early exit, so timing tells an attacker nothing about how much of a guess matched.
    if bool::from(expected.as_bytes().ct_eq(given.as_bytes())) {
        Ok(())
    } else {
        Err(CryptoError::BadSignature)
    }
}

fn pad(mut data: Vec<u8>) -> Vec<u8> {
    let n = PAD_BLOCK - data.len() % PAD_BLOCK;
    data.extend(std::iter::repeat_n(n as u8, n));
    data
}

fn unpad(data: &[u8]) -> Result<&[u8], CryptoError> {
    let n = *data.last().ok_or(CryptoError::IllegalBuffer)? as usize;
    if n == 0 || n > PAD_BLOCK || n > data.len() || !data[data.len() - n..].iter().all(|&b| b as usize == n) {
        return Err(CryptoError::IllegalBuffer);
    }
    Ok(&data[..data.len() - n])
}

/// AES-256-CBC with IV = key[0..16] and 32-byte PKCS#7, no framing (media files).
pub fn encrypt_raw(key: &[u8; 32], plain: &[u8]) -> Vec<u8> {
    let mut buf = pad(plain.to_vec());
    let len = buf.len();
    let enc = Aes256CbcEnc::new(key.into(), key[..16].into());
    // The buffer is a whole number of blocks, so encryption cannot fail.
    let _ = enc.encrypt_padded_mut::<NoPadding>(&mut buf, len);
    buf
}

/// Reverses [`encrypt_raw`].
pub fn decrypt_raw(key: &[u8; 32], cipher: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if cipher.is_empty() || cipher.len() % 16 != 0 {
        return Err(CryptoError::IllegalBuffer);
    }
    let mut buf = cipher.to_vec();
    let dec = Aes256CbcDec::new(key.into(), key[..16].into());
    let plain = dec.decrypt_padded_mut::<NoPadding>(&mut buf).map_err(|_| CryptoError::IllegalBuffer)?;
    Ok(unpad(plain)?.to_vec())
}

/// Encrypts a message with the given 16-byte random prefix; returns the Base64 ciphertext.
pub fn encrypt_with_prefix(key: &[u8; 32], prefix: [u8; 16], msg: &str, receive_id: &str) -> String {
    let mut plain = Vec::with_capacity(20 + msg.len() + receive_id.len());
    plain.extend_from_slice(&prefix);
    plain.extend_from_slice(&(msg.len() as u32).to_be_bytes());
    plain.extend_from_slice(msg.as_bytes());
    plain.extend_from_slice(receive_id.as_bytes());
    STANDARD.encode(encrypt_raw(key, &plain))
}

/// Encrypts a message with a fresh random prefix.
pub fn encrypt(key: &[u8; 32], msg: &str, receive_id: &str) -> String {
    encrypt_with_prefix(key, rand::random(), msg, receive_id)
}

/// Decrypts a Base64 ciphertext and checks the receive id (`""` for a smart bot).
pub fn decrypt(key: &[u8; 32], encrypt: &str, receive_id: &str) -> Result<String, CryptoError> {
    let cipher = STANDARD.decode(encrypt.trim()).map_err(|_| CryptoError::Base64)?;
    let plain = decrypt_raw(key, &cipher)?;
    if plain.len() < 20 {
        return Err(CryptoError::IllegalBuffer);
    }
    let len = u32::from_be_bytes([plain[16], plain[17], plain[18], plain[19]]) as usize;
    let end = 20usize.checked_add(len).filter(|&e| e <= plain.len()).ok_or(CryptoError::IllegalBuffer)?;
    if &plain[end..] != receive_id.as_bytes() {
        return Err(CryptoError::ReceiveId);
    }
    String::from_utf8(plain[20..end].to_vec()).map_err(|_| CryptoError::NotUtf8)
}

#[cfg(test)]
mod tests {
    //! Known answers from wecom-protocol.md §1.8 (the official sample and derived smart-bot
    //! vectors): a round trip alone cannot catch a symmetric mistake such as 16-byte padding.
    use super::*;

    const TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
    const KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";

    fn key() -> [u8; 32] {
        decode_encoding_aes_key(KEY).unwrap()
    }

    #[test]
    fn encoding_aes_key_decodes_despite_non_canonical_trailing_bits() {
        assert_eq!(hex::encode(key()), "eaa91d32babaf274ca76ece72583b5037ed6da8120a64314be4b6d453a2a854b");
    }

    #[test]
    fn official_verify_url_vector() {
        let echostr = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==";
        assert_eq!(signature(TOKEN, "1476416373", "47744683", echostr), "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb");
        assert!(verify_signature(TOKEN, "1476416373", "47744683", echostr, "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb")
            .is_ok());
        assert_eq!(decrypt(&key(), echostr, "ww1436e0e65a779aee").unwrap(), "1288432023552776189");
        assert_eq!(decrypt(&key(), echostr, ""), Err(CryptoError::ReceiveId));
    }

    #[test]
    fn derived_smart_bot_vectors() {
        let prefix: [u8; 16] = *b"0123456789abcdef";
        let echostr = encrypt_with_prefix(&key(), prefix, "1288432023552776189", "");
        assert_eq!(echostr, "scEag1243Fmy/fYz4Ux8D4VyGL33CiZE7jU1zRSmEGdDa8cZHZaZX92v4qThQP5vdPKv/GTtjH8/N6byF0w85w==");
        assert_eq!(signature(TOKEN, "1700000000", "nonce123", &echostr), "d7fe3794f02ebe970e006a79062638ed51f2ec8f");

        let reply = r#"{"msgtype":"stream","stream":{"id":"STREAMID","finish":false,"content":"1"}}"#;
        let prefix: [u8; 16] = std::array::from_fn(|i| i as u8);
        let enc = encrypt_with_prefix(&key(), prefix, reply, "");
        assert_eq!(enc, "v4KnUEEcsXoqbTLvP+jC7kt+RdQlisb6v0WKRCcwHzz8VPLxedwa3ajMPXkExqQinmtK55GsMrnpaxgYQzqRrrkN8Xql5TqQCR+oragIVeBHq5mEh/y9gk+TaDP6iW4PoWwbgWBD4KEAQyFSVayUOBR+AUBajCvfRi9d8m48mMM=");
        assert_eq!(signature(TOKEN, "1476422779", "1597212914", &enc), "6b7af3fcd26bf7f8da7b1694c55ef6118a6727ea");
        assert_eq!(decrypt(&key(), &enc, "").unwrap(), reply, "pad = 32 (a full block) must round-trip");
    }

    #[test]
    fn media_vector() {
        assert_eq!(
            hex::encode(encrypt_raw(&key(), b"hello wecom media")),
            "dae1730ab58805f7bafd68531d0af502f7084c17f9420a1d1535e424adf7e1f3"
        );
    }

    #[test]
    fn bad_input_is_refused_with_its_code() {
        assert_eq!(decrypt(&key(), "not base64!!", "").unwrap_err().code(), -40010);
        let enc = encrypt(&key(), "hello", "");
        let truncated = &enc[..enc.len() - 8];
        assert!(decrypt(&key(), truncated, "").is_err());
        assert_eq!(verify_signature(TOKEN, "1", "2", "3", "deadbeef"), Err(CryptoError::BadSignature));
        assert_eq!(decode_encoding_aes_key("short").unwrap_err().code(), -40004);
        assert!(decode_media_key("c2hvcnQ=").is_err());
    }

    #[test]
    fn signature_check_ignores_case_and_whitespace_but_refuses_one_changed_character() {
        let echostr = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==";
        let check = |given: &str| verify_signature(TOKEN, "1476416373", "47744683", echostr, given);
        assert_eq!(check(" 012BC692D0A58DD4B10F8DFE5C4AC00AE211EBEB\n"), Ok(()));
        // Same length, last character differs: the constant-time comparison must still see it.
        assert_eq!(check("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebec"), Err(CryptoError::BadSignature));
        // A prefix of the right signature is not the right signature.
        assert_eq!(check("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebe"), Err(CryptoError::BadSignature));
        assert_eq!(check(""), Err(CryptoError::BadSignature));
    }

    #[test]
    fn media_keys_decode_with_or_without_padding() {
        let padded = STANDARD.encode(key());
        let unpadded = padded.trim_end_matches('=');
        assert_eq!(decode_media_key(&padded).unwrap(), key());
        assert_eq!(decode_media_key(unpadded).unwrap(), key());
    }
}

//! WeCom's callback crypto, written on the simulator's side independently of the plugin's, so a
//! symmetric mistake cannot hide: SHA-1 signatures over the sorted strings, AES-256-CBC with
//! IV = key[0..16], PKCS#7 with a 32-byte block, and the random(16) ‖ len ‖ msg ‖ receiveid frame.

use aes::cipher::{block_padding::NoPadding, BlockDecryptMut, BlockEncryptMut, KeyIvInit};
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;
use sha1::{Digest, Sha1};

/// Why a crypto step failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The key is not 43 characters of base64 decoding to 32 bytes.
    #[error("EncodingAESKey must be 43 base64 characters decoding to 32 bytes")]
    BadKey,
    /// Not base64.
    #[error("not base64")]
    Base64,
    /// Length or padding is wrong.
    #[error("bad ciphertext length or padding")]
    Padding,
    /// The frame inside is malformed.
    #[error("malformed plaintext frame")]
    Frame,
    /// The receive id differs.
    #[error("receive id mismatch")]
    ReceiveId,
}

const LENIENT: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_decode_allow_trailing_bits(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes a 43-character EncodingAESKey.
pub fn aes_key(encoding_aes_key: &str) -> Result<[u8; 32], CryptoError> {
    if encoding_aes_key.len() != 43 {
        return Err(CryptoError::BadKey);
    }
    let raw = LENIENT.decode(encoding_aes_key).map_err(|_| CryptoError::BadKey)?;
    raw.try_into().map_err(|_| CryptoError::BadKey)
}

/// Base64 of a 32-byte key (the `aeskey` of long-connection media), 44 characters with `=`.
pub fn key_to_base64(key: &[u8; 32]) -> String {
    STANDARD.encode(key)
}

/// The media `aeskey` in the given form: 43 characters without padding, or 44 with it.
pub fn media_key(key: &[u8; 32], form: crate::config::AesKeyForm) -> String {
    match form {
        crate::config::AesKeyForm::Unpadded43 => base64::engine::general_purpose::STANDARD_NO_PAD.encode(key),
        crate::config::AesKeyForm::Padded44 => STANDARD.encode(key),
    }
}

/// Decodes a media `aeskey` in either form (with or without `=`) to its 32 bytes.
pub fn media_key_bytes(aeskey: &str) -> Result<[u8; 32], CryptoError> {
    let raw = LENIENT.decode(aeskey).map_err(|_| CryptoError::Base64)?;
    raw.try_into().map_err(|_| CryptoError::BadKey)
}

/// `hex(sha1(sorted(parts).concat()))`.
pub fn sign(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    let mut v = [token, timestamp, nonce, encrypt];
    v.sort();
    let digest = Sha1::digest(v.concat().as_bytes());
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// AES-256-CBC, IV = key[..16], PKCS#7 padded to 32 bytes; no framing (media files).
pub fn seal(key: &[u8; 32], data: &[u8]) -> Vec<u8> {
    let pad = 32 - data.len() % 32;
    let mut buf = data.to_vec();
    buf.resize(data.len() + pad, pad as u8);
    let n = buf.len();
    cbc::Encryptor::<aes::Aes256>::new(key.into(), key[..16].into())
        .encrypt_padded_mut::<NoPadding>(&mut buf, n)
        .expect("whole blocks")
        .to_vec()
}

/// Reverses [`seal`], checking the padding strictly.
pub fn open(key: &[u8; 32], data: &[u8]) -> Result<Vec<u8>, CryptoError> {
    if data.is_empty() || !data.len().is_multiple_of(16) {
        return Err(CryptoError::Padding);
    }
    let mut buf = data.to_vec();
    let plain = cbc::Decryptor::<aes::Aes256>::new(key.into(), key[..16].into())
        .decrypt_padded_mut::<NoPadding>(&mut buf)
        .map_err(|_| CryptoError::Padding)?;
    let pad = *plain.last().ok_or(CryptoError::Padding)? as usize;
    if !(1..=32).contains(&pad) || pad > plain.len() || plain[plain.len() - pad..].iter().any(|&b| b as usize != pad) {
        return Err(CryptoError::Padding);
    }
    Ok(plain[..plain.len() - pad].to_vec())
}

/// Encrypts `msg` with an explicit 16-byte prefix and receive id; Base64 out.
pub fn encrypt_with(key: &[u8; 32], prefix: &[u8; 16], msg: &str, receive_id: &str) -> String {
    let mut frame = prefix.to_vec();
    frame.extend((msg.len() as u32).to_be_bytes());
    frame.extend(msg.as_bytes());
    frame.extend(receive_id.as_bytes());
    STANDARD.encode(seal(key, &frame))
}

/// Encrypts with a random prefix and the smart-bot receive id `""`.
pub fn encrypt(key: &[u8; 32], msg: &str) -> String {
    encrypt_with(key, &rand::random::<[u8; 16]>(), msg, "")
}

/// Decrypts and checks the receive id.
pub fn decrypt(key: &[u8; 32], b64: &str, receive_id: &str) -> Result<String, CryptoError> {
    let raw = STANDARD.decode(b64).map_err(|_| CryptoError::Base64)?;
    let frame = open(key, &raw)?;
    if frame.len() < 20 {
        return Err(CryptoError::Frame);
    }
    let n = u32::from_be_bytes(frame[16..20].try_into().map_err(|_| CryptoError::Frame)?) as usize;
    let msg = frame.get(20..20 + n).ok_or(CryptoError::Frame)?;
    if &frame[20 + n..] != receive_id.as_bytes() {
        return Err(CryptoError::ReceiveId);
    }
    String::from_utf8(msg.to_vec()).map_err(|_| CryptoError::Frame)
}

#[cfg(test)]
mod tests {
    //! The official and derived known-answer vectors of wecom-protocol.md §1.8.
    use super::*;

    const TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";
    const KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    #[test]
    fn official_sample_key_and_verify_url() {
        let key = aes_key(KEY).unwrap();
        assert_eq!(hex(&key), "eaa91d32babaf274ca76ece72583b5037ed6da8120a64314be4b6d453a2a854b");
        let echostr = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==";
        assert_eq!(sign(TOKEN, "1476416373", "47744683", echostr), "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb");
        assert_eq!(decrypt(&key, echostr, "ww1436e0e65a779aee").unwrap(), "1288432023552776189");
    }

    #[test]
    fn derived_smart_bot_vectors_including_a_full_pad_block() {
        let key = aes_key(KEY).unwrap();
        let echostr = encrypt_with(&key, b"0123456789abcdef", "1288432023552776189", "");
        assert_eq!(echostr, "scEag1243Fmy/fYz4Ux8D4VyGL33CiZE7jU1zRSmEGdDa8cZHZaZX92v4qThQP5vdPKv/GTtjH8/N6byF0w85w==");
        assert_eq!(sign(TOKEN, "1700000000", "nonce123", &echostr), "d7fe3794f02ebe970e006a79062638ed51f2ec8f");
        let reply = r#"{"msgtype":"stream","stream":{"id":"STREAMID","finish":false,"content":"1"}}"#;
        let prefix: [u8; 16] = std::array::from_fn(|i| i as u8);
        let enc = encrypt_with(&key, &prefix, reply, "");
        assert_eq!(enc, "v4KnUEEcsXoqbTLvP+jC7kt+RdQlisb6v0WKRCcwHzz8VPLxedwa3ajMPXkExqQinmtK55GsMrnpaxgYQzqRrrkN8Xql5TqQCR+oragIVeBHq5mEh/y9gk+TaDP6iW4PoWwbgWBD4KEAQyFSVayUOBR+AUBajCvfRi9d8m48mMM=");
        assert_eq!(sign(TOKEN, "1476422779", "1597212914", &enc), "6b7af3fcd26bf7f8da7b1694c55ef6118a6727ea");
        assert_eq!(decrypt(&key, &enc, "").unwrap(), reply);
        assert_eq!(
            hex(&seal(&key, b"hello wecom media")),
            "dae1730ab58805f7bafd68531d0af502f7084c17f9420a1d1535e424adf7e1f3"
        );
    }

    #[test]
    fn tampering_is_detected() {
        let key = aes_key(KEY).unwrap();
        let enc = encrypt(&key, "hi");
        assert_eq!(decrypt(&key, &enc, "corp"), Err(CryptoError::ReceiveId));
        assert!(decrypt(&key, &enc[..enc.len() - 4], "").is_err());
        assert_eq!(aes_key("short"), Err(CryptoError::BadKey));
    }
}

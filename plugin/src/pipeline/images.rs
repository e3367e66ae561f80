//! Images sent to the bot: downloaded with a size cap, decrypted with their per-URL key, their
//! type sniffed from the bytes, and handed to the agent as `data:` URLs.

use base64::Engine as _;
use host_sdk::AgentFile;

use super::event::ImageRef;
use crate::crypto;
use crate::http_client::HttpClient;

/// The largest image accepted (WeCom's own limit for images).
pub const MAX_IMAGE_BYTES: u64 = 10 * 1024 * 1024;

/// Why an image could not be read (secret-free; shown to the user).
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// No HTTP client could be built (TLS settings).
    #[error("downloads are not available ({0})")]
    NoClient(String),
    /// The download failed.
    #[error("the download failed ({0})")]
    Download(String),
    /// The key or the ciphertext was wrong.
    #[error("it could not be decrypted")]
    Decrypt,
    /// Not a known image format.
    #[error("it is not a PNG, JPEG, GIF or WebP image")]
    NotAnImage,
}

/// The MIME type of an image from its first bytes.
pub fn sniff(bytes: &[u8]) -> Option<&'static str> {
    match bytes {
        [0x89, b'P', b'N', b'G', ..] => Some("image/png"),
        [0xFF, 0xD8, 0xFF, ..] => Some("image/jpeg"),
        [b'G', b'I', b'F', b'8', ..] => Some("image/gif"),
        [b'R', b'I', b'F', b'F', _, _, _, _, b'W', b'E', b'B', b'P', ..] => Some("image/webp"),
        _ => None,
    }
}

/// Downloads, decrypts and identifies image number `n` of a message.
pub async fn fetch(client: Result<&HttpClient, String>, image: &ImageRef, n: usize) -> Result<AgentFile, ImageError> {
    let client = client.map_err(ImageError::NoClient)?;
    let download =
        client.download(&image.url, MAX_IMAGE_BYTES).await.map_err(|e| ImageError::Download(e.to_string()))?;
    let bytes = match &image.aeskey {
        Some(aeskey) => {
            let key = crypto::decode_media_key(aeskey).map_err(|_| ImageError::Decrypt)?;
            crypto::decrypt_raw(&key, &download.body).map_err(|_| ImageError::Decrypt)?
        }
        None => download.body,
    };
    let mime = sniff(&bytes).ok_or(ImageError::NotAnImage)?;
    let extension = mime.trim_start_matches("image/");
    Ok(AgentFile {
        url: format!("data:{mime};base64,{}", base64::engine::general_purpose::STANDARD.encode(&bytes)),
        mime_type: mime.to_string(),
        name: format!("image-{n}.{extension}"),
    })
}

#[cfg(test)]
mod tests {
    use super::sniff;

    #[test]
    fn image_types_are_told_by_their_first_bytes() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some("image/png"));
        assert_eq!(sniff(&[0xFF, 0xD8, 0xFF, 0xE0]), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a"), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"%PDF-1.7"), None);
        assert_eq!(sniff(b""), None);
    }
}

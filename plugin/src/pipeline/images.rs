//! Images sent to the bot: downloaded with a size cap, decrypted with their per-URL key, their
//! type sniffed from the bytes, and handed to the agent as `data:` URLs.

use base64::Engine as _;
use host_sdk::AgentFile;

use super::event::{ImageRef, MediaKey};
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

impl ImageError {
    /// The reason in the user's language (the English text keeps the technical detail).
    pub fn user_text(&self, lang: crate::i18n::Lang) -> String {
        match lang {
            crate::i18n::Lang::En => self.to_string(),
            crate::i18n::Lang::Zh => match self {
                ImageError::NoClient(_) => "暂时无法下载图片".into(),
                ImageError::Download(_) => "下载失败（链接可能已过期）".into(),
                ImageError::Decrypt => "无法解密".into(),
                ImageError::NotAnImage => "不是 PNG、JPEG、GIF 或 WebP 图片".into(),
            },
        }
    }
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

/// Downloads, decrypts (with its own key, else `media_key`) and identifies image number `n` of
/// a message.
pub async fn fetch(
    client: Result<&HttpClient, String>,
    image: &ImageRef,
    media_key: Option<&MediaKey>,
    n: usize,
) -> Result<AgentFile, ImageError> {
    let client = client.map_err(ImageError::NoClient)?;
    let download =
        client.download(&image.url, MAX_IMAGE_BYTES).await.map_err(|e| ImageError::Download(e.to_string()))?;
    let bytes = match image.aeskey.as_deref().or(media_key.map(MediaKey::expose)) {
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
    use super::{sniff, ImageError};
    use crate::i18n::Lang;

    #[test]
    fn reasons_are_told_in_the_users_language() {
        let e = ImageError::Download("HTTP 404".into());
        assert_eq!(e.user_text(Lang::En), "the download failed (HTTP 404)");
        assert_eq!(e.user_text(Lang::Zh), "下载失败（链接可能已过期）");
        assert_eq!(ImageError::NotAnImage.user_text(Lang::Zh), "不是 PNG、JPEG、GIF 或 WebP 图片");
    }

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

//! Temporary media upload on the long connection: `aibot_upload_media_init` → chunks →
//! `aibot_upload_media_finish`, with WeCom's limits (512 KiB per decoded chunk, at most 100
//! chunks, `total_size` ≥ 5, per-type size caps, MD5 check, 30-minute sessions bound to the bot).

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use base64::Engine as _;
use md5::{Digest, Md5};
use serde_json::{json, Value};

/// Largest decoded chunk.
pub const MAX_CHUNK: usize = 512 * 1024;
/// Most chunks per upload.
pub const MAX_CHUNKS: u64 = 100;
/// How long an upload session lives.
pub const SESSION_TTL: Duration = Duration::from_secs(30 * 60);
/// The errcode for a refused upload step (undocumented; our choice).
pub const UPLOAD_ERROR: i64 = 40009;

struct Session {
    bot_id: String,
    kind: String,
    filename: String,
    total_size: u64,
    total_chunks: u64,
    md5: Option<String>,
    chunks: BTreeMap<u64, Vec<u8>>,
    created: Instant,
}

/// A finished upload: what a `media_id` stands for.
#[derive(Clone, Debug)]
pub struct Media {
    /// The bot that uploaded it (a media_id is usable only by its bot).
    pub bot_id: String,
    /// `image`, `voice`, `video` or `file`.
    pub kind: String,
    /// The file name given at init (may be empty).
    pub filename: String,
    /// The bytes.
    pub bytes: Vec<u8>,
    /// When the upload finished (a media_id is valid 3 days).
    pub created: Instant,
}

/// Upload sessions and finished media.
#[derive(Default)]
pub struct Uploads {
    sessions: HashMap<String, Session>,
    /// media_id → the finished upload.
    pub media: HashMap<String, Media>,
}

fn type_limit(kind: &str) -> Option<u64> {
    Some(match kind {
        "image" | "video" => 10 * 1024 * 1024,
        "voice" => 2 * 1024 * 1024,
        "file" => 20 * 1024 * 1024,
        _ => return None,
    })
}

type Step = Result<Value, (i64, String)>;

fn refuse(msg: impl Into<String>) -> (i64, String) {
    (UPLOAD_ERROR, msg.into())
}

impl Uploads {
    /// `aibot_upload_media_init`: returns `{upload_id}`.
    pub fn init(&mut self, bot_id: &str, id: String, body: &Value) -> Step {
        let kind = body["type"].as_str().unwrap_or_default().to_string();
        let limit = type_limit(&kind).ok_or_else(|| refuse(format!("unsupported media type {kind:?}")))?;
        let total_size = body["total_size"].as_u64().ok_or_else(|| refuse("total_size is required"))?;
        let total_chunks = body["total_chunks"].as_u64().ok_or_else(|| refuse("total_chunks is required"))?;
        if total_size < 5 || total_size > limit {
            return Err(refuse(format!("total_size must be between 5 and {limit} bytes for {kind}")));
        }
        if total_chunks == 0 || total_chunks > MAX_CHUNKS {
            return Err(refuse("total_chunks must be between 1 and 100"));
        }
        if body["filename"].as_str().is_some_and(|f| f.len() > 256) {
            return Err(refuse("filename is over 256 bytes"));
        }
        self.sessions.insert(
            id.clone(),
            Session {
                bot_id: bot_id.into(),
                kind,
                filename: body["filename"].as_str().unwrap_or_default().to_string(),
                total_size,
                total_chunks,
                md5: body["md5"].as_str().map(str::to_ascii_lowercase),
                chunks: BTreeMap::new(),
                created: Instant::now(),
            },
        );
        Ok(json!({"upload_id": id}))
    }

    fn session(&mut self, bot_id: &str, body: &Value) -> Result<&mut Session, (i64, String)> {
        let id = body["upload_id"].as_str().unwrap_or_default();
        match self.sessions.get_mut(id) {
            Some(s) if s.bot_id == bot_id && s.created.elapsed() <= SESSION_TTL => Ok(s),
            _ => Err(refuse("unknown or expired upload_id")),
        }
    }

    /// `aibot_upload_media_chunk`: idempotent, any order, 0-based index.
    pub fn chunk(&mut self, bot_id: &str, body: &Value) -> Step {
        let session = self.session(bot_id, body)?;
        let index = body["chunk_index"].as_u64().ok_or_else(|| refuse("chunk_index is required"))?;
        if index >= session.total_chunks {
            return Err(refuse(format!("chunk_index {index} is outside 0..{}", session.total_chunks)));
        }
        let data = base64::engine::general_purpose::STANDARD
            .decode(body["base64_data"].as_str().unwrap_or_default())
            .map_err(|_| refuse("base64_data is not base64"))?;
        if data.is_empty() || data.len() > MAX_CHUNK {
            return Err(refuse("a chunk is 1 byte to 512 KiB before base64"));
        }
        session.chunks.insert(index, data);
        Ok(Value::Null)
    }

    /// `aibot_upload_media_finish`: checks completeness, size and MD5; returns the media id.
    pub fn finish(&mut self, bot_id: &str, media_id: String, body: &Value) -> Step {
        let session = self.session(bot_id, body)?;
        if session.chunks.len() as u64 != session.total_chunks {
            return Err(refuse(format!("{} of {} chunks received", session.chunks.len(), session.total_chunks)));
        }
        let bytes: Vec<u8> = session.chunks.values().flatten().copied().collect();
        if bytes.len() as u64 != session.total_size {
            return Err(refuse(format!("received {} bytes, total_size says {}", bytes.len(), session.total_size)));
        }
        if let Some(expected) = &session.md5 {
            let actual: String = Md5::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
            if &actual != expected {
                return Err(refuse("md5 mismatch"));
            }
        }
        let kind = session.kind.clone();
        let media = Media {
            bot_id: session.bot_id.clone(),
            kind: kind.clone(),
            filename: session.filename.clone(),
            bytes,
            created: Instant::now(),
        };
        let id = body["upload_id"].as_str().unwrap_or_default().to_string();
        self.sessions.remove(&id);
        self.media.insert(media_id.clone(), media);
        Ok(json!({"type": kind, "media_id": media_id, "created_at": crate::sim::unix_now().to_string()}))
    }
}

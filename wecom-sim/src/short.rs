//! The short-connection driver: the simulator plays WeCom calling a bot's webhook URL: URL
//! verification, encrypted callbacks with retries, validation of passive replies, and the
//! stream-refresh polling of a passive stream reply.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde::Serialize;
use serde_json::{json, Value};

use crate::crypto;
use crate::server::AppState;
use crate::sim::{Bubble, Chat};

/// A bot in short-connection mode.
#[derive(Clone)]
struct ShortBot {
    callback_url: String,
    token: String,
    key: [u8; 32],
}

/// What happened to one user message sent over the short connection.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ShortOutcome {
    /// The message id (the same on every retry).
    pub msgid: String,
    /// POST attempts made for the message callback.
    pub attempts: u32,
    /// The decrypted passive replies, in order (message callback, then refreshes).
    pub replies: Vec<Value>,
    /// Stream-refresh callbacks sent.
    pub refreshes: u32,
    /// The stream's final text, if the bot answered with a stream.
    pub final_text: Option<String>,
    /// Whether the stream was sealed with `finish:true` within the window.
    pub finished: bool,
}

/// The driver.
pub struct ShortDriver {
    bots: Mutex<HashMap<String, ShortBot>>,
    http: reqwest::Client,
}

/// Percent-encodes everything but unreserved characters (so `+`, `/`, `=` are escaped).
pub fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn nonce() -> String {
    format!("{}", rand::random::<u32>())
}

impl Default for ShortDriver {
    fn default() -> Self {
        ShortDriver { bots: Mutex::new(HashMap::new()), http: reqwest::Client::new() }
    }
}

impl ShortDriver {
    /// Registers a bot's callback URL, Token and EncodingAESKey.
    pub fn register(
        &self,
        bot_id: &str,
        callback_url: &str,
        token: &str,
        encoding_aes_key: &str,
    ) -> Result<(), crypto::CryptoError> {
        let key = crypto::aes_key(encoding_aes_key)?;
        self.bots
            .lock()
            .insert(bot_id.into(), ShortBot { callback_url: callback_url.into(), token: token.into(), key });
        Ok(())
    }

    fn bot(&self, bot_id: &str) -> Result<ShortBot, String> {
        self.bots.lock().get(bot_id).cloned().ok_or_else(|| format!("bot {bot_id} has no short-connection config"))
    }

    fn query(bot: &ShortBot, timestamp: &str, nonce: &str, encrypt: &str, with_echostr: bool) -> String {
        let sig = crypto::sign(&bot.token, timestamp, nonce, encrypt);
        let mut q = format!("msg_signature={sig}&timestamp={timestamp}&nonce={nonce}");
        if with_echostr {
            q.push_str(&format!("&echostr={}", percent_encode(encrypt)));
        }
        q
    }

    /// URL verification: a GET with an encrypted echostr; the plaintext must come back exactly
    /// (status 200, no quotes, no newline) within 1 s.
    pub async fn verify_url(&self, bot_id: &str) -> Result<(), String> {
        let bot = self.bot(bot_id)?;
        let plain = format!("{}", rand::random::<u64>());
        let echostr = crypto::encrypt(&bot.key, &plain);
        let ts = crate::sim::unix_now().to_string();
        let url = format!("{}?{}", bot.callback_url, Self::query(&bot, &ts, &nonce(), &echostr, true));
        let resp = self
            .http
            .get(url)
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .map_err(|e| format!("verification request failed: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        if status != 200 {
            return Err(format!("verification answered HTTP {status}"));
        }
        if body != plain {
            return Err(format!("verification answered {body:?}, expected the exact decrypted echostr"));
        }
        Ok(())
    }

    /// Posts one encrypted callback, retrying (same body) on a timeout or a non-200 status.
    /// Returns the decrypted passive reply (`None` for an empty body) and the attempts made.
    async fn post(
        &self,
        bot: &ShortBot,
        state: &AppState,
        bot_id: &str,
        plain: &Value,
        attempts: u32,
        allowed: &[&str],
    ) -> Result<(Option<Value>, u32), String> {
        let encrypt = crypto::encrypt(&bot.key, &plain.to_string());
        let mut tries = 0;
        while tries < attempts.max(1) {
            tries += 1;
            let ts = crate::sim::unix_now().to_string();
            let nonce = nonce();
            let url = format!("{}?{}", bot.callback_url, Self::query(bot, &ts, &nonce, &encrypt, false));
            let sent = self
                .http
                .post(&url)
                .header("content-type", "application/json")
                .body(json!({"encrypt": encrypt}).to_string())
                .timeout(state.core.config.callback_timeout)
                .send()
                .await;
            let Ok(resp) = sent else { continue };
            if resp.status().as_u16() != 200 {
                continue;
            }
            let body = resp.text().await.unwrap_or_default();
            return Ok((self.check_reply(bot, state, bot_id, &nonce, &body, allowed)?, tries));
        }
        Err(format!("no valid answer after {tries} attempts"))
    }

    fn check_reply(
        &self,
        bot: &ShortBot,
        state: &AppState,
        bot_id: &str,
        nonce: &str,
        body: &str,
        allowed: &[&str],
    ) -> Result<Option<Value>, String> {
        if body.trim().is_empty() {
            return Ok(None);
        }
        let fail = |reason: String| {
            state.core.add_violation(bot_id, "passive_reply", "", -1, &reason);
            Err(reason)
        };
        let Ok(env) = serde_json::from_str::<Value>(body) else {
            return fail("passive reply is not JSON".into());
        };
        let encrypt = env["encrypt"].as_str().unwrap_or_default();
        let timestamp = match &env["timestamp"] {
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.clone(),
            _ => return fail("passive reply lacks timestamp".into()),
        };
        if env["nonce"].as_str() != Some(nonce) {
            return fail("passive reply nonce differs from the callback's".into());
        }
        let sig = env["msgsignature"].as_str().unwrap_or_default();
        if crypto::sign(&bot.token, &timestamp, nonce, encrypt) != sig {
            return fail("passive reply signature mismatch".into());
        }
        let plain = match crypto::decrypt(&bot.key, encrypt, "") {
            Ok(p) => p,
            Err(e) => return fail(format!("passive reply does not decrypt with receiveid \"\": {e}")),
        };
        let Ok(reply) = serde_json::from_str::<Value>(&plain) else {
            return fail("decrypted reply is not JSON".into());
        };
        // A card update (the answer to a template_card_event) names its kind in `response_type`.
        let msgtype = reply["msgtype"].as_str().or(reply["response_type"].as_str()).unwrap_or_default();
        if !allowed.contains(&msgtype) {
            return fail(format!("msgtype {msgtype:?} is not allowed here (allowed: {allowed:?})"));
        }
        if reply["stream"]["content"].as_str().is_some_and(|c| c.len() > crate::sim::CONTENT_LIMIT) {
            return fail("stream content over 20480 bytes".into());
        }
        Ok(Some(reply))
    }

    /// Sends a text message as `user` and follows the bot's passive stream until it finishes or
    /// the refresh window ends.
    pub async fn send_text(
        &self,
        state: &AppState,
        bot_id: &str,
        user: &str,
        chat: &Chat,
        text: &str,
    ) -> Result<ShortOutcome, String> {
        self.send_message(state, bot_id, user, chat, "text", json!({"content": text}), text).await
    }

    /// Sends an image as `user` in a single chat (WeCom sends images only there): the file is
    /// hosted on the media host **encrypted with the bot's EncodingAESKey** (short-connection
    /// media carry no per-URL key, protocol §2.2), and the bot's passive stream is followed.
    pub async fn send_image(
        &self,
        state: &AppState,
        bot_id: &str,
        user: &str,
        bytes: &[u8],
        name: &str,
    ) -> Result<ShortOutcome, String> {
        let bot = self.bot(bot_id)?;
        let url = state.host_media_with_key(bytes, name, &bot.key);
        let shown = format!("[image] {name}");
        self.send_message(state, bot_id, user, &Chat::Single, "image", json!({"url": url}), &shown).await
    }

    /// Posts one callback whose plaintext is `plain` (signed and encrypted for `bot_id`, one
    /// attempt) and returns the HTTP status and the decrypted, validated passive reply (`None`
    /// for an empty body or a non-200 status). Tests use it to replay a callback as WeCom's
    /// retries do, or to send a refresh to a chosen instance.
    pub async fn post_callback(
        &self,
        state: &AppState,
        bot_id: &str,
        plain: &Value,
    ) -> Result<(u16, Option<Value>), String> {
        let bot = self.bot(bot_id)?;
        let encrypt = crypto::encrypt(&bot.key, &plain.to_string());
        let ts = crate::sim::unix_now().to_string();
        let nonce = nonce();
        let url = format!("{}?{}", bot.callback_url, Self::query(&bot, &ts, &nonce, &encrypt, false));
        let resp = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .body(json!({"encrypt": encrypt}).to_string())
            .timeout(state.core.config.callback_timeout)
            .send()
            .await
            .map_err(|e| format!("callback failed: {e}"))?;
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap_or_default();
        if status != 200 {
            return Ok((status, None));
        }
        let allowed = ["stream", "template_card", "stream_with_template_card", "text"];
        let card_event = plain["event"]["eventtype"] == "template_card_event";
        let reply = match plain["msgtype"].as_str() {
            Some("stream") => self.check_reply(&bot, state, bot_id, &nonce, &body, &["stream"])?,
            Some("event") if card_event => {
                let reply = self.check_reply(&bot, state, bot_id, &nonce, &body, &["update_template_card"])?;
                let task_id = &plain["event"]["template_card_event"]["task_id"];
                if let Some(r) = &reply {
                    if &r["template_card"]["task_id"] != task_id {
                        let reason = "a card update must carry the clicked card's task_id".to_string();
                        state.core.add_violation(bot_id, "passive_reply", "", -1, &reason);
                        return Err(reason);
                    }
                }
                reply
            }
            _ => self.check_reply(&bot, state, bot_id, &nonce, &body, &allowed)?,
        };
        Ok((status, reply))
    }

    /// Sends a message of `msgtype` with `payload` as `user` and follows the bot's passive
    /// stream until it finishes or the refresh window ends; `shown` is the user's bubble.
    #[allow(clippy::too_many_arguments)]
    async fn send_message(
        &self,
        state: &AppState,
        bot_id: &str,
        user: &str,
        chat: &Chat,
        msgtype: &str,
        payload: Value,
        shown: &str,
    ) -> Result<ShortOutcome, String> {
        let bot = self.bot(bot_id)?;
        let chat_key = chat.key(user);
        let started = Instant::now();
        let response_url = state.new_response_url(bot_id, &chat_key);
        let body = state.core.message_body(bot_id, user, chat, msgtype, payload, &response_url);
        let msgid = body["msgid"].as_str().unwrap_or_default().to_string();
        state.core.mark_spoken(bot_id, chat, user);
        state.core.add_bubble(
            bot_id,
            &chat_key,
            Bubble {
                from: "user".into(),
                kind: msgtype.into(),
                text: shown.into(),
                finished: true,
                updates: 1,
                ..Default::default()
            },
        );
        let cfg = state.core.config.clone();
        let (reply, attempts) = self
            .post(
                &bot,
                state,
                bot_id,
                &body,
                cfg.callback_attempts,
                &["stream", "template_card", "stream_with_template_card"],
            )
            .await?;
        let mut outcome =
            ShortOutcome { msgid, attempts, replies: Vec::new(), refreshes: 0, final_text: None, finished: false };
        let Some(reply) = reply else { return Ok(outcome) };
        outcome.replies.push(reply.clone());
        // A card in the first reply (template_card, or stream_with_template_card after its stream).
        let mut card = reply["template_card"]
            .is_object()
            .then(|| crate::sim::Core::card_bubble("card", reply["template_card"].clone()));
        let Some(stream_id) = reply["stream"]["id"].as_str().map(str::to_string) else {
            if let Some(card) = card {
                state.core.add_bubble(bot_id, &chat_key, card);
            }
            return Ok(outcome);
        };
        let mut current = reply;
        loop {
            let content = current["stream"]["content"].as_str().unwrap_or_default().to_string();
            let finish = current["stream"]["finish"].as_bool().unwrap_or(false);
            state.core.stream_snapshot(bot_id, &chat_key, &stream_id, &content, finish);
            if let Some(card) = card.take() {
                state.core.add_bubble(bot_id, &chat_key, card);
            }
            outcome.final_text = Some(content);
            if finish {
                outcome.finished = true;
                return Ok(outcome);
            }
            if started.elapsed() >= cfg.refresh_window {
                state.core.add_violation(
                    bot_id,
                    "stream",
                    &stream_id,
                    -1,
                    "stream not finished within the refresh window",
                );
                return Ok(outcome);
            }
            tokio::time::sleep(cfg.refresh_interval).await;
            let mut refresh = json!({"msgid": state.core.id("msg_"), "aibotid": bot_id, "chattype": if matches!(chat, Chat::Single) { "single" } else { "group" },
                "from": {"userid": user}, "msgtype": "stream", "stream": {"id": stream_id}});
            if let Chat::Group(id) = chat {
                refresh["chatid"] = json!(id);
            }
            outcome.refreshes += 1;
            let (next, _) = self.post(&bot, state, bot_id, &refresh, 1, &["stream"]).await?;
            let Some(next) = next else { return Err("an empty answer to a stream refresh".into()) };
            outcome.replies.push(next.clone());
            current = next;
        }
    }
}

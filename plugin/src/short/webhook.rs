//! `POST /wecom/webhook/{integrationId}`: WeCom's callbacks of a `wecom` integration.
//!
//! 1. The integration must exist in this tenant and be a `wecom` one (else 404).
//! 2. The callback must be signed and encrypted: the body within the size limit (413), the
//!    query's `msg_signature`/`timestamp`/`nonce`, the envelope's `encrypt` (JSON, XML
//!    tolerated), the signature checked in constant time, the ciphertext decrypted with receive
//!    id `""`, the plaintext typed. Anything else is refused with a 4xx, one log line naming the
//!    reason (never a secret), a counter on the Status tab, and nothing else changes.
//! 3. A disabled integration gets an empty 200 for new messages and events: WeCom takes it as
//!    delivered and does not retry. Refreshes of streams already running are still answered.
//! 4. A stream refresh is answered from the shared KV store: the stream's snapshot, else its
//!    first frame (the stored passive answer), else, for an unknown stream, `finish:true`. When
//!    the store cannot be read the refresh is refused with 503 (WeCom calls again), never
//!    answered as unknown, which would seal a stream that is still being written.
//! 5. A message or event is taken once per `msgid` (set-if-absent in the shared store): the
//!    pipeline runs in a task of the installation and its first answer becomes the passive
//!    answer, awaited at most `WECOM_SHORT_PASSIVE_WAIT_MS` (well within WeCom's 5 s). The
//!    answer is stored under the stream its `msgid` opens, so every retry gets the same one.
//!    A text message's first answer is known before the pipeline runs (the thinking frame every
//!    answer opens with): the msgid is taken with it in one write, and WeCom gets it at once.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use host_sdk::plugin::RouteImpl;
use host_sdk::{BoxFuture, Error, HttpRequest, HttpResponse, Integration};
use serde_json::Value;
use sha1::{Digest, Sha1};
use tokio::sync::oneshot;

use super::envelope::{self, EnvelopeError};
use super::integrations::IntegrationCache;
use super::reply::{unknown_stream_body, FirstAnswer, LocalStreams, ShortChannel, ShortReply, ShortReplyParams};
use super::status::{self, Refusal};
use super::ShortSettings;
use crate::config::ShortConfig;
use crate::crypto;
use crate::pipeline::{language_of, thinking_text, ChatKind, ImageRef, InboundEvent, InboundKind, MediaKey, Pipeline};
use crate::protocol::callback::{
    parse_event, parse_message, ChatType, Event, MessageCallback, MessageContent, MixedItem,
};
use crate::protocol::command::stream_body;
use crate::protocol::message_json;
use crate::state::PluginState;
use crate::{keys, PROVIDER_SHORT};

/// The value of a callback's passive-answer key while its first delivery is being answered.
const PENDING: &str = "\u{0}pending";
/// How often a retry looks for the first delivery's answer.
const RETRY_POLL: Duration = Duration::from_millis(20);

/// The webhook route of an installation.
pub struct WebhookRoute {
    inner: Arc<Inner>,
}

struct Inner {
    state: Arc<PluginState>,
    settings: Arc<ShortSettings>,
    pipeline: Arc<Pipeline>,
    recorder: Arc<status::Recorder>,
    integrations: Arc<IntegrationCache>,
    /// The streams this instance's pipelines are writing (refreshes of them skip the store).
    local_streams: Arc<LocalStreams>,
    arrivals: AtomicU64,
    prepared: parking_lot::Mutex<std::collections::HashMap<String, Arc<Prepared>>>,
}

impl WebhookRoute {
    /// The route over an installation's state, handing events to `pipeline`; `integrations` is
    /// the cache the provider's lifecycle hooks keep current.
    pub fn new(
        state: Arc<PluginState>,
        settings: Arc<ShortSettings>,
        pipeline: Arc<Pipeline>,
        integrations: Arc<IntegrationCache>,
    ) -> Self {
        let recorder = status::Recorder::new(state.clone(), settings.instance_id.clone(), settings.status_flush);
        WebhookRoute {
            inner: Arc::new(Inner {
                state,
                settings,
                pipeline,
                recorder,
                integrations,
                local_streams: Arc::default(),
                arrivals: AtomicU64::new(0),
                prepared: Default::default(),
            }),
        }
    }
}

impl RouteImpl for WebhookRoute {
    fn handle(&self, request: HttpRequest) -> BoxFuture<'static, Result<HttpResponse, Error>> {
        let inner = self.inner.clone();
        Box::pin(async move { inner.receive(request).await })
    }
}

/// An integration's parsed options and its prepared AES key, cached per integration while its
/// options stay the same: parsing them and expanding the key schedule on every callback was
/// wasted work.
struct Prepared {
    /// The options these were prepared from (a change prepares them again).
    options: Value,
    config: ShortConfig,
    key: crypto::CallbackKey,
}

/// The most integrations whose prepared options are kept.
const PREPARED_CACHE_MAX: usize = 4096;

/// A verified, decrypted callback.
struct Opened {
    prepared: Arc<Prepared>,
    nonce: String,
    callback: OpenedCallback,
}

/// What an opened callback says: a message already typed (the common case, straight from its
/// JSON text), or the JSON tree for the lenient parsers (events and anything unusual).
// Not boxed: an opened callback is moved twice on its way to the pipeline, while a box would be
// one more allocation per callback.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq)]
pub enum OpenedCallback {
    /// A message callback, typed.
    Message(MessageCallback),
    /// A JSON object the fast way did not type.
    Tree(Value),
}

/// The stream id of the answer to `msgid`: derived, so a retry landing on another instance (or
/// answered before the first delivery stored its answer) names the same stream.
pub fn stream_id_for(integration_id: &str, msgid: &str) -> String {
    let digest = Sha1::digest(format!("{integration_id}:{msgid}").as_bytes());
    format!("s{}", &hex::encode(digest)[..24])
}

/// Verifies and opens one callback: the signed query, the envelope's `encrypt`, the signature
/// (constant time), the ciphertext (receive id `""`) and the JSON inside. Returns the callback
/// and the query's nonce (the passive answer must carry it), or why it is refused.
pub fn open_callback(
    token: &str,
    key: &crypto::CallbackKey,
    query: &str,
    body: &[u8],
) -> Result<(OpenedCallback, String), Refusal> {
    let signed = envelope::signed_query(query).map_err(|e| match e {
        EnvelopeError::MalformedQuery => Refusal::MalformedQuery,
        _ => Refusal::Unsigned,
    })?;
    let encrypt = envelope::encrypt_field(body).map_err(|e| match e {
        EnvelopeError::NoEncrypt => Refusal::NoEncrypt,
        _ => Refusal::MalformedBody,
    })?;
    crypto::verify_signature(token, &signed.timestamp, &signed.nonce, &encrypt, &signed.signature)
        .map_err(|_| Refusal::BadSignature)?;
    let opened = crypto::decrypt_with(key, &encrypt, "", |plain| {
        if let Some(message) = message_json::parse_message_json(plain) {
            return Ok(OpenedCallback::Message(message));
        }
        match serde_json::from_str::<Value>(plain) {
            Ok(tree) if tree.is_object() => Ok(OpenedCallback::Tree(tree)),
            _ => Err(Refusal::BadPayload),
        }
    })
    .map_err(|e| {
        tracing::debug!(code = e.code(), "callback does not decrypt: {e}");
        Refusal::DecryptFailed
    })??;
    Ok((opened, signed.nonce.into_owned()))
}

impl Inner {
    async fn receive(&self, request: HttpRequest) -> Result<HttpResponse, Error> {
        let id = request.path_param("integrationId").unwrap_or_default().to_string();
        let integration = self.integrations.get(&self.state, &id).await?.filter(|i| i.provider == PROVIDER_SHORT);
        let Some(integration) = integration else {
            // The id is the caller's: shown cut, so a long one cannot flood the log.
            let shown: String = id.chars().take(64).collect();
            tracing::info!(integration_id = %shown, "WeCom callback for an unknown or non-wecom integration: 404");
            return Ok(HttpResponse::text(404, "unknown integration"));
        };
        match self.open(&integration, &request) {
            Err(refusal) => Ok(self.refuse(&id, refusal).await),
            Ok(opened) => Ok(self.dispatch(&integration, opened).await),
        }
    }

    /// Checks and opens the envelope; the refusal reason when it cannot be trusted.
    fn open(&self, integration: &Integration, request: &HttpRequest) -> Result<Opened, Refusal> {
        if request.body.len() > self.settings.max_body_bytes {
            return Err(Refusal::TooLarge);
        }
        let prepared = self.prepared(integration)?;
        let (callback, nonce) = open_callback(&prepared.config.token, &prepared.key, &request.query, &request.body)?;
        Ok(Opened { prepared, nonce, callback })
    }

    /// The integration's parsed options and prepared key, from the cache while its options are
    /// the ones they were prepared from.
    fn prepared(&self, integration: &Integration) -> Result<Arc<Prepared>, Refusal> {
        if let Some(p) = self.prepared.lock().get(&integration.id).filter(|p| p.options == integration.options) {
            return Ok(p.clone());
        }
        let config = ShortConfig::from_options(&integration.options).map_err(|_| Refusal::ConfigInvalid)?;
        let key = crypto::CallbackKey::new(&config.aes_key);
        let p = Arc::new(Prepared { options: integration.options.clone(), config, key });
        let mut cache = self.prepared.lock();
        if cache.len() >= PREPARED_CACHE_MAX {
            // Deleted integrations leave entries behind; starting over now and then bounds them.
            cache.clear();
        }
        cache.insert(integration.id.clone(), p.clone());
        Ok(p)
    }

    async fn refuse(&self, integration_id: &str, refusal: Refusal) -> HttpResponse {
        tracing::warn!(
            integration_id = %integration_id,
            reason = refusal.code(),
            "WeCom callback refused ({}): {}",
            refusal.code(),
            refusal.describe()
        );
        self.state.metrics.webhook_refusals.with_label_values(&[integration_id, refusal.code()]).inc();
        self.recorder.refused(integration_id, refusal);
        HttpResponse::text(refusal.status(), format!("refused: {}: {}", refusal.code(), refusal.describe()))
    }

    async fn dispatch(&self, integration: &Integration, mut opened: Opened) -> HttpResponse {
        let id = integration.id.as_str();
        let typed = match std::mem::replace(&mut opened.callback, OpenedCallback::Tree(Value::Null)) {
            OpenedCallback::Message(message) => Ok(message),
            OpenedCallback::Tree(tree) if tree.get("msgtype").and_then(Value::as_str) == Some("event") => {
                if !integration.enabled {
                    return self.disabled(id);
                }
                return self.event(integration, opened, &tree).await;
            }
            OpenedCallback::Tree(tree) => parse_message(&tree),
        };
        match typed {
            // A refresh is answered also once the integration is disabled: a stream that was
            // already running goes on to its seal, or WeCom would poll it until its window ends.
            Ok(message) => match &message.content {
                MessageContent::Stream { id: stream_id } => {
                    let stream_id = stream_id.clone();
                    self.refresh(id, &opened, &stream_id).await
                }
                _ if !integration.enabled => self.disabled(id),
                _ => self.message(integration, &opened, message).await,
            },
            Err(_) if !integration.enabled => self.disabled(id),
            Err(e) => {
                tracing::debug!(integration_id = %id, "untyped callback: {e}");
                self.refuse(id, Refusal::BadPayload).await
            }
        }
    }

    /// `call`, a shared-store call on the way to WeCom's answer, given at most `store_wait`.
    async fn within_wait<T>(&self, call: impl std::future::Future<Output = Result<T, Error>>) -> Result<T, Error> {
        let wait = self.settings.store_wait;
        tokio::time::timeout(wait, call).await.unwrap_or_else(|_| {
            Err(Error::new(
                host_sdk::ErrorCode::TIMEOUT,
                format!("the shared store did not answer within {} ms", wait.as_millis()),
            ))
        })
    }

    /// A new message or event for a disabled integration: an empty 200, which WeCom takes as
    /// delivered (it does not retry), and nothing runs.
    fn disabled(&self, integration_id: &str) -> HttpResponse {
        tracing::info!(integration_id = %integration_id, "callback for a disabled integration: acknowledged with an empty answer");
        self.recorder.accepted(integration_id, "disabled");
        HttpResponse::text(200, "")
    }

    /// A passive answer with `plain` (an empty body when `plain` is empty).
    fn passive(&self, opened: &Opened, plain: &str) -> HttpResponse {
        if plain.is_empty() {
            return HttpResponse::text(200, "");
        }
        let now_secs = self.state.host().now_ms().div_euclid(1000);
        let answer = envelope::passive(
            &opened.prepared.config.token,
            &opened.prepared.config.aes_key,
            plain,
            now_secs,
            &opened.nonce,
        );
        HttpResponse::new(200, "application/json; charset=utf-8", answer)
    }

    async fn refresh(&self, integration_id: &str, opened: &Opened, stream_id: &str) -> HttpResponse {
        let stored = if stream_id.is_empty() {
            Ok(None)
        } else {
            self.within_wait(self.snapshot(integration_id, stream_id)).await
        };
        let stored = match stored {
            Ok(stored) => stored,
            Err(e) => {
                // Not "unknown": that answer seals the stream, which may still be written. (The
                // refusal is the one warning line; the store's error is the detail.)
                tracing::debug!(integration_id, error = %e, "reading a stream for a refresh failed");
                return self.refuse(integration_id, Refusal::StoreUnavailable).await;
            }
        };
        self.recorder.accepted(integration_id, "refresh");
        let plain = stored.unwrap_or_else(|| {
            tracing::debug!(integration_id, "refresh of a stream nobody knows: sealed empty");
            unknown_stream_body(stream_id).to_string()
        });
        self.passive(opened, &plain)
    }

    /// The stream's latest frame: from this instance's memory while its pipeline runs here;
    /// else its snapshot once the pipeline wrote a second frame, else the first frame, which is
    /// the stored passive answer (an empty open frame while that is still pending). `None`: no
    /// stream of that id is known; an error: the store could not tell.
    async fn snapshot(&self, integration_id: &str, stream_id: &str) -> Result<Option<String>, Error> {
        if let Some(frame) = self.local_streams.latest(integration_id, stream_id) {
            return Ok(Some(frame.to_string()));
        }
        let kv = self.state.host().kv();
        if let Some(snapshot) = kv.get(&keys::short_stream(integration_id, stream_id)).await? {
            return Ok(Some(snapshot));
        }
        Ok(match kv.get(&keys::short_passive(integration_id, stream_id)).await? {
            Some(first) if first == PENDING => Some(stream_body(stream_id, "", false).to_string()),
            // An empty passive answer opened no stream.
            Some(first) if first.is_empty() => None,
            first => first,
        })
    }

    /// When the user sent it (Unix ms): WeCom's `create_time`, kept within the window before now.
    fn started_ms(&self, create_time: Option<i64>) -> i64 {
        let now = self.state.host().now_ms();
        let window = self.settings.stream_window.as_millis() as i64;
        create_time.map_or(now, |secs| secs.saturating_mul(1000).clamp(now - window, now))
    }

    fn base_event(&self, integration: &Integration, chat_kind: ChatKind, chat_id: &str, sender: &str) -> InboundEvent {
        InboundEvent {
            integration_id: integration.id.clone(),
            chat_kind,
            chat_id: chat_id.to_string(),
            sender_id: sender.to_string(),
            stream_id: String::new(),
            lang: language_of(&integration.options),
            arrival: (self.state.host().now_ms(), self.arrivals.fetch_add(1, Ordering::Relaxed)),
            received: std::time::Instant::now(),
            media_key: None,
            deduplicated: false,
            kind: InboundKind::EnterChat,
        }
    }

    async fn message(&self, integration: &Integration, opened: &Opened, message: MessageCallback) -> HttpResponse {
        let chat_kind = if message.chattype == ChatType::Group { ChatKind::Group } else { ChatKind::Single };
        let mut event = self.base_event(integration, chat_kind, message.chat_key(), &message.from.userid);
        event.stream_id = stream_id_for(&integration.id, &message.msgid);
        // `answer_once` takes the msgid (its passive-answer key) before the pipeline sees it.
        event.deduplicated = true;
        // Short-connection media is encrypted with the EncodingAESKey (protocol §2.2): the
        // event carries it, the images (which may be stored while messages gather) do not.
        event.media_key = Some(MediaKey::new(opened.prepared.config.encoding_aes_key.clone()));
        let image = |url: &str| ImageRef { url: url.to_string(), aeskey: None };
        let msgid = message.msgid.clone();
        event.kind = match &message.content {
            MessageContent::Text { content } | MessageContent::Voice { content } => {
                InboundKind::Text { msgid: msgid.clone(), text: content.clone(), images: Vec::new() }
            }
            MessageContent::Image(media) => {
                InboundKind::Text { msgid: msgid.clone(), text: String::new(), images: vec![image(&media.url)] }
            }
            MessageContent::Mixed(items) => {
                let texts: Vec<&str> = items
                    .iter()
                    .filter_map(|i| match i {
                        MixedItem::Text { content } => Some(content.as_str()),
                        _ => None,
                    })
                    .collect();
                let images = items
                    .iter()
                    .filter_map(|i| match i {
                        MixedItem::Image(media) if !media.url.is_empty() => Some(image(&media.url)),
                        _ => None,
                    })
                    .collect();
                InboundKind::Text { msgid: msgid.clone(), text: texts.join("\n"), images }
            }
            MessageContent::File(_) => InboundKind::Unreadable { msgid: msgid.clone(), msgtype: "file".into() },
            MessageContent::Video(_) => InboundKind::Unreadable { msgid: msgid.clone(), msgtype: "video".into() },
            // Refreshes are answered before the pipeline; one that gets here is not a message.
            MessageContent::Stream { .. } => InboundKind::Other { kind: "message:stream".into() },
            MessageContent::Unknown { msgtype } => {
                InboundKind::Unreadable { msgid: msgid.clone(), msgtype: msgtype.chars().take(32).collect() }
            }
        };
        let params = ShortReplyParams {
            integration_id: integration.id.clone(),
            stream_id: event.stream_id.clone(),
            started_ms: self.started_ms(message.create_time),
            response_url: message.response_url.clone(),
            timeout: Duration::from_millis(opened.prepared.config.timeout_ms),
        };
        // A text message's answer opens with the thinking frame, whatever the pipeline finds
        // next: WeCom gets it at once.
        let opening = matches!(event.kind, InboundKind::Text { .. })
            .then(|| stream_body(&event.stream_id, thinking_text(event.lang), false).to_string());
        self.answer_once(opened, Some(&msgid), event, params, "message", true, opening).await
    }

    async fn event(&self, integration: &Integration, opened: Opened, tree: &Value) -> HttpResponse {
        let id = integration.id.as_str();
        let callback = match parse_event(tree) {
            Ok(c) => c,
            Err(e) => {
                tracing::debug!(integration_id = %id, "untyped event: {e}");
                return self.refuse(id, Refusal::BadPayload).await;
            }
        };
        let kind = match &callback.event {
            Event::EnterChat => InboundKind::EnterChat,
            Event::TemplateCardEvent(card) => {
                InboundKind::CardClick { event_key: card.event_key.clone(), task_id: card.task_id.clone() }
            }
            // Feedback allows only an empty answer; other events need none.
            Event::FeedbackEvent(_) | Event::Disconnected | Event::Unknown(_) => {
                self.recorder.accepted(id, "event");
                return HttpResponse::text(200, "");
            }
        };
        let sender = callback.from.as_ref().map(|f| f.userid.clone()).unwrap_or_default();
        let chat_kind = if callback.chattype == Some(ChatType::Group) { ChatKind::Group } else { ChatKind::Single };
        let chat_id = match chat_kind {
            ChatKind::Group => callback.chatid.clone().unwrap_or_default(),
            ChatKind::Single => sender.clone(),
        };
        let mut event = self.base_event(integration, chat_kind, &chat_id, &sender);
        let msgid = callback.msgid.clone().filter(|m| !m.is_empty());
        event.stream_id = stream_id_for(id, msgid.as_deref().unwrap_or(&format!("event-{}", rand::random::<u64>())));
        event.kind = kind;
        let params = ShortReplyParams {
            integration_id: id.to_string(),
            stream_id: event.stream_id.clone(),
            started_ms: self.started_ms(callback.create_time),
            response_url: callback.response_url.clone(),
            timeout: Duration::from_millis(opened.prepared.config.timeout_ms),
        };
        self.answer_once(&opened, msgid.as_deref(), event, params, "event", false, None).await
    }

    /// Runs the pipeline once per `msgid` and answers every delivery of the callback with the
    /// first answer. `streams`: the answer is a stream (a placeholder frame stands in when the
    /// pipeline is slower than the passive wait). `opening`: the first frame when it is known
    /// before the pipeline runs (a text message's thinking frame): it is taken with the msgid in
    /// one write and answered at once, while the pipeline starts in its own task.
    #[allow(clippy::too_many_arguments)]
    async fn answer_once(
        &self,
        opened: &Opened,
        msgid: Option<&str>,
        event: InboundEvent,
        params: ShortReplyParams,
        kind: &'static str,
        streams: bool,
        opening: Option<String>,
    ) -> HttpResponse {
        let integration_id = params.integration_id.clone();
        let stream_id = params.stream_id.clone();
        let kv = self.state.host().kv();
        let ttl_ms = (self.settings.stream_window + Duration::from_secs(600)).as_millis() as u64;
        // Named by the stream (derived from the msgid): a refresh finds the first frame in it.
        let key = msgid.map(|_| keys::short_passive(&integration_id, &stream_id));
        // What the msgid is taken with: the answer itself when it is known already.
        let taken_with = opening.clone().unwrap_or_else(|| PENDING.to_string());
        // The pipeline's first answer is awaited until this, the msgid's taking included.
        let answer_by = tokio::time::Instant::now() + self.settings.passive_wait;
        if let Some(key) = &key {
            match self.within_wait(kv.set_if_absent(key, &taken_with, ttl_ms)).await {
                Ok(true) => {}
                Ok(false) => {
                    tracing::info!(integration_id = %integration_id, "a retry of a callback already taken: answered as the first delivery was");
                    self.recorder.accepted(&integration_id, "retry");
                    return self.retry(opened, key, &stream_id, streams).await;
                }
                Err(e) => {
                    // Better a rare double answer than a lost message when the store is unavailable.
                    tracing::warn!(integration_id = %integration_id, error = %e, "the dedup store is unavailable: answering anyway");
                }
            }
        }
        self.recorder.accepted(&integration_id, kind);
        let (first, rx) = match &opening {
            Some(body) => (FirstAnswer::Given(body.clone()), None),
            None => {
                let (tx, rx) = oneshot::channel();
                (FirstAnswer::Awaited(tx), Some(rx))
            }
        };
        let reply = ShortChannel(Arc::new(ShortReply::new(
            self.state.clone(),
            self.settings.clone(),
            self.recorder.clone(),
            self.local_streams.clone(),
            params,
            first,
        )));
        let pipeline = self.pipeline.clone();
        if let Err(e) = self.state.scope.spawn(async move { pipeline.handle(event, Arc::new(reply)).await }) {
            // The installation is stopping: let WeCom retry (on another instance, or after restart).
            tracing::warn!(integration_id = %integration_id, error = %e, "callback not taken: the plugin is stopping");
            if let Some(key) = &key {
                let _ = kv.compare_and_delete(key, &taken_with).await;
            }
            return HttpResponse::text(503, "the plugin is stopping; retry later");
        }
        let Some(mut rx) = rx else {
            // The opening is the answer, stored with the msgid.
            return self.passive(opened, &taken_with);
        };
        let waited = match tokio::time::timeout_at(answer_by, &mut rx).await {
            Ok(answer) => Ok(answer.ok()),
            // Too late. An answer sent just before the channel closes counts as given for the
            // pipeline (it stores no snapshot of it), so it is taken, not replaced by a placeholder.
            Err(_) => {
                rx.close();
                rx.try_recv().map(Some).map_err(|_| ())
            }
        };
        let plain = match waited {
            Ok(Some(plain)) => plain,
            // The pipeline finished without answering (feedback, a redelivery it recognised).
            Ok(None) => String::new(),
            Err(()) if streams => {
                tracing::info!(integration_id = %integration_id, "the first frame is late: answering with an empty stream frame");
                let placeholder = stream_body(&stream_id, "", false).to_string();
                if key.is_none() {
                    // No passive answer is stored for refreshes to fall back on: the placeholder
                    // is the snapshot, unless the pipeline has written one meanwhile.
                    let snapshot = keys::short_stream(&integration_id, &stream_id);
                    if let Err(e) = self.within_wait(kv.set_if_absent(&snapshot, &placeholder, ttl_ms)).await {
                        tracing::warn!(integration_id = %integration_id, error = %e, "storing a stream snapshot failed");
                    }
                }
                placeholder
            }
            Err(()) => String::new(),
        };
        if let Some(key) = &key {
            if let Err(e) = self.within_wait(kv.set(key, &plain, ttl_ms)).await {
                tracing::warn!(integration_id = %integration_id, error = %e, "storing the passive answer failed");
            }
        }
        self.passive(opened, &plain)
    }

    /// A retry: the first delivery's answer, once it is stored (waiting at most the passive wait).
    async fn retry(&self, opened: &Opened, key: &str, stream_id: &str, streams: bool) -> HttpResponse {
        let kv = self.state.host().kv();
        let deadline = tokio::time::Instant::now() + self.settings.passive_wait + Duration::from_millis(500);
        loop {
            match self.within_wait(kv.get(key)).await {
                Ok(Some(v)) if v != PENDING => return self.passive(opened, &v),
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "reading a stored passive answer failed");
                    break;
                }
            }
            if tokio::time::Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(RETRY_POLL).await;
        }
        let plain = if streams { stream_body(stream_id, "", false).to_string() } else { String::new() };
        self.passive(opened, &plain)
    }
}

#[cfg(test)]
mod tests {
    use super::stream_id_for;

    #[test]
    fn the_stream_of_a_message_is_named_by_its_integration_and_msgid() {
        let a = stream_id_for("i1", "m1");
        assert_eq!(a, stream_id_for("i1", "m1"), "a retry names the same stream");
        assert_ne!(a, stream_id_for("i2", "m1"));
        assert_ne!(a, stream_id_for("i1", "m2"));
        assert_eq!(a.len(), 25);
    }
}

#[cfg(test)]
mod props {
    //! Stable-toolchain stand-in for a fuzz target (cargo-fuzz needs nightly): arbitrary queries
    //! and bodies, and arbitrary JSON inside correctly signed and encrypted callbacks, go through
    //! the webhook's open and the protocol's parsers without a panic; only signed ones open.
    use proptest::prelude::*;
    use serde_json::Value;

    use super::{open_callback, OpenedCallback};
    use crate::crypto;
    use crate::protocol::callback::{parse_event, parse_message};
    use crate::protocol::message_json::parse_message_json;

    const TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";

    fn json_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            any::<i64>().prop_map(Value::from),
            ".{0,20}".prop_map(Value::String),
            prop::sample::select(vec![
                "text",
                "image",
                "mixed",
                "stream",
                "event",
                "voice",
                "file",
                "enter_chat",
                "template_card_event",
                "feedback_event",
                "single",
                "group"
            ])
            .prop_map(|s| Value::String(s.to_string())),
        ];
        leaf.prop_recursive(4, 32, 6, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
                prop::collection::btree_map(
                    prop::sample::select(vec![
                        "msgid",
                        "msgtype",
                        "from",
                        "userid",
                        "chattype",
                        "chatid",
                        "text",
                        "content",
                        "image",
                        "url",
                        "mixed",
                        "msg_item",
                        "stream",
                        "id",
                        "event",
                        "eventtype",
                        "template_card_event",
                        "event_key",
                        "task_id",
                        "response_url",
                        "create_time",
                        "quote"
                    ])
                    .prop_map(str::to_string),
                    inner,
                    0..6
                )
                .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// Objects shaped like message callbacks (the required fields mostly present, arbitrary
    /// values elsewhere), so that the fast parser often gets as far as typing them.
    fn message_like() -> impl Strategy<Value = Value> {
        (
            json_value(),
            prop::sample::select(vec!["text", "image", "mixed", "stream", "voice", "file", "video", "event", "x"]),
            json_value(),
            json_value(),
            any::<bool>(),
        )
            .prop_map(|(extra, msgtype, content, quote, well_formed)| {
                let mut v = serde_json::json!({"msgid": "m1", "msgtype": msgtype, "from": {"userid": "u"}});
                v[msgtype] =
                    if well_formed { serde_json::json!({"content": "c", "url": "u", "id": "s"}) } else { content };
                if let Value::Object(extra) = extra {
                    for (k, x) in extra {
                        if k != "msgid" && k != "from" && k != "msgtype" {
                            v[k] = x;
                        }
                    }
                }
                if !quote.is_null() {
                    v["quote"] = quote;
                }
                v
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        #[test]
        fn the_fast_message_parser_agrees_with_the_tree_parser(value in message_like()) {
            if let Some(fast) = parse_message_json(&value.to_string()) {
                prop_assert_eq!(Ok(fast), parse_message(&value));
            }
        }

        #[test]
        fn arbitrary_requests_never_panic_and_never_open(query in ".{0,120}", body in prop::collection::vec(any::<u8>(), 0..400)) {
            let key = crypto::CallbackKey::new(&[7u8; 32]);
            prop_assert!(open_callback(TOKEN, &key, &query, &body).is_err());
        }

        #[test]
        fn any_signed_json_is_typed_or_refused_without_a_panic(key in any::<[u8; 32]>(), value in json_value(), nonce in "[0-9]{1,10}") {
            let plain = value.to_string();
            let encrypt = crypto::encrypt(&key, &plain, "");
            let signature = crypto::signature(TOKEN, "1700000000", &nonce, &encrypt);
            let query = format!("msg_signature={signature}&timestamp=1700000000&nonce={nonce}");
            let body = serde_json::json!({"encrypt": encrypt}).to_string();
            match open_callback(TOKEN, &crypto::CallbackKey::new(&key), &query, body.as_bytes()) {
                Ok((OpenedCallback::Tree(callback), got_nonce)) => {
                    prop_assert_eq!(&callback, &value);
                    prop_assert_eq!(got_nonce, nonce);
                    let _ = parse_message(&callback);
                    let _ = parse_event(&callback);
                }
                Ok((OpenedCallback::Message(message), got_nonce)) => {
                    // Typed the fast way: exactly as the tree parser types it.
                    prop_assert_eq!(Ok(message), parse_message(&value));
                    prop_assert_eq!(got_nonce, nonce);
                }
                Err(refusal) => prop_assert!(!value.is_object(), "an object was refused: {:?}", refusal),
            }
        }
    }
}

//! `/api/xpert*`: Digital Experts, their draft triggers, publish (with the triggers' checklist)
//! and unpublish.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use host_sdk::{ChecklistItem, ChecklistLevel, TriggerParams};
use serde::Deserialize;
use serde_json::{json, Value};

use super::integrations::MASK;
use super::{ApiError, ApiResult, AppState, Caller, JsonBody, PathParams};
use crate::clock::now_rfc3339;
use crate::shown;
use crate::store::{TriggerDraft, XpertRecord};

fn masked_agent(agent: &Value) -> Value {
    let mut agent = agent.clone();
    if let Some(key) = agent.get_mut("apiKey") {
        if key.as_str().is_some_and(|k| !k.is_empty()) {
            *key = json!(MASK);
        }
    }
    agent
}

/// The answer shape of a Digital Expert.
fn to_json(r: &XpertRecord) -> Value {
    json!({
        "id": r.id, "name": r.name, "agent": masked_agent(&r.agent), "triggers": r.triggers,
        "published": r.published, "publishedTriggers": r.published_triggers,
        "createdAt": r.created_at, "updatedAt": r.updated_at,
    })
}

fn validate_agent(agent: &Value) -> ApiResult<()> {
    let bad = |key: &str, m: &str, en: &str, zh: &str| {
        Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_AGENT", m).en(en).zh(zh).field(key, en, zh))
    };
    match agent.get("kind").and_then(Value::as_str) {
        Some("echo") => Ok(()),
        Some("openai") => {
            let base = agent.get("baseUrl").and_then(Value::as_str).unwrap_or_default();
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return bad(
                    "baseUrl",
                    "agent.baseUrl must be an http(s) URL of an OpenAI-compatible endpoint",
                    "Base URL must be the http(s) address of an OpenAI-compatible endpoint.",
                    "Base URL 必须是兼容 OpenAI 接口的 http(s) 地址。",
                );
            }
            if agent.get("model").and_then(Value::as_str).unwrap_or_default().trim().is_empty() {
                return bad("model", "agent.model is required", "Model is required.", "模型为必填项。");
            }
            Ok(())
        }
        _ => bad(
            "kind",
            "agent.kind must be \"echo\" or \"openai\"",
            "Choose the agent: echo or an OpenAI-compatible endpoint.",
            "请选择智能体：echo 或兼容 OpenAI 的接口。",
        ),
    }
}

/// Create body.
#[derive(Deserialize)]
pub struct CreateBody {
    name: String,
    agent: Value,
}

/// `POST /api/xpert`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult<Response> {
    if body.name.trim().is_empty() {
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_NAME", "name is required")
            .en("Name is required.")
            .zh("名称为必填项。")
            .field("name", "Name is required.", "名称为必填项。"));
    }
    validate_agent(&body.agent)?;
    let now = now_rfc3339();
    let record = XpertRecord {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: caller.tenant.clone(),
        name: body.name.trim().to_string(),
        agent: body.agent,
        triggers: json!([]),
        published: false,
        published_triggers: json!([]),
        created_at: now.clone(),
        updated_at: now,
    };
    if !state.store.put_xpert(record.clone()).await.map_err(ApiError::storage)? {
        return Err(ApiError::tenant_gone());
    }
    Ok((StatusCode::CREATED, Json(to_json(&record))).into_response())
}

/// `GET /api/xpert`.
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let list = state.store.list_xperts(caller.tenant.clone()).await.map_err(ApiError::storage)?;
    Ok(Json(list.iter().map(to_json).collect::<Vec<_>>()).into_response())
}

/// `GET /api/xpert/triggers`: the trigger descriptors available (for forms).
pub async fn trigger_descriptors(State(state): State<AppState>, caller: Caller) -> Response {
    let list: Vec<Value> = ["wecom"]
        .iter()
        .filter_map(|n| state.plugins.trigger(&caller.tenant, n))
        .map(|t| serde_json::to_value(&t.descriptor).unwrap_or(Value::Null))
        .collect();
    Json(list).into_response()
}

fn xpert_not_found(id: &str) -> ApiError {
    ApiError::not_found("XPERT_NOT_FOUND", format!("Digital Expert {} does not exist", shown::id(id)))
        .en("This Digital Expert does not exist (it may have been deleted).")
        .zh("该数字专家不存在（可能已被删除）。")
}

/// Loads a Digital Expert of the caller's tenant or answers 404 `XPERT_NOT_FOUND` (the same for
/// another tenant's id).
async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<XpertRecord> {
    state
        .store
        .get_xpert(caller.tenant.clone(), id.to_string())
        .await
        .map_err(ApiError::storage)?
        .ok_or_else(|| xpert_not_found(id))
}

/// Saves a Digital Expert of the caller's tenant.
async fn save(state: &AppState, record: XpertRecord) -> ApiResult<()> {
    let id = record.id.clone();
    if state.store.put_xpert(record).await.map_err(ApiError::storage)? {
        Ok(())
    } else {
        Err(xpert_not_found(&id))
    }
}

/// `GET /api/xpert/{id}`.
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    Ok(Json(to_json(&load(&state, &caller, &id).await?)).into_response())
}

/// `PUT /api/xpert/{id}/triggers`.
pub async fn set_triggers(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(triggers): JsonBody<Vec<TriggerDraft>>,
) -> ApiResult<Response> {
    let mut record = load(&state, &caller, &id).await?;
    for t in &triggers {
        if t.provider.trim().is_empty() {
            return Err(ApiError::bad_request("INVALID_TRIGGER", "every trigger needs a provider")
                .zh("每个触发器都必须指定类型。"));
        }
        if !t.config.is_object() {
            return Err(ApiError::bad_request("INVALID_TRIGGER", "a trigger's config must be a JSON object")
                .zh("触发器的配置必须是 JSON 对象。"));
        }
    }
    record.triggers = serde_json::to_value(&triggers).unwrap_or(json!([]));
    record.updated_at = now_rfc3339();
    save(&state, record.clone()).await?;
    Ok(Json(record.triggers).into_response())
}

/// Stops each trigger, logging failures (used by unpublish and republish).
async fn stop_all(state: &AppState, tenant: &str, xpert_id: &str, triggers: &[TriggerDraft]) {
    for t in triggers {
        let Some(trigger) = state.plugins.trigger(tenant, &t.provider) else { continue };
        let params = TriggerParams { xpert_id: xpert_id.to_string(), config: t.config.clone() };
        if let Err(e) = trigger.trigger.stop(&params).await {
            tracing::warn!(xpert_id, trigger = %t.provider, "stopping a trigger failed: {}", e.message);
        }
    }
}

/// `POST /api/xpert/{id}/publish`: every trigger's `validate`, then `publish`.
pub async fn publish(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    let tenant = caller.tenant.as_str();
    let mut record = load(&state, &caller, &id).await?;
    let triggers = TriggerDraft::list(&record.triggers);
    let mut checklist: Vec<ChecklistItem> = Vec::new();
    for t in &triggers {
        match state.plugins.trigger(tenant, &t.provider) {
            None => checklist.push(ChecklistItem {
                code: "TRIGGER_PROVIDER_NOT_FOUND".into(),
                level: ChecklistLevel::Error,
                message: format!(
                    "trigger {:?} is not registered: its plugin must be installed at tenant level",
                    shown::id(&t.provider)
                ),
            }),
            Some(trigger) => {
                let params = TriggerParams { xpert_id: id.clone(), config: t.config.clone() };
                checklist.extend(trigger.trigger.validate(&params).await?);
            }
        }
    }
    if checklist.iter().any(|c| c.level == ChecklistLevel::Error) {
        let mut err = ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "PUBLISH_VALIDATION_FAILED",
            "the Digital Expert cannot be published: see the checklist",
        )
        .en("The Digital Expert cannot be published yet: see the checklist.")
        .zh("数字专家暂时无法发布：请查看检查清单。");
        err.extra = Some(("checklist".into(), in_words(&state, tenant, &id, &triggers, &checklist).await));
        return Err(err);
    }
    // Replace what was published before: stop the old set, then publish the new one.
    let previous = TriggerDraft::list(&record.published_triggers);
    if record.published {
        stop_all(&state, tenant, &id, &previous).await;
    }
    let mut published: Vec<TriggerDraft> = Vec::new();
    for t in &triggers {
        let Some(trigger) = state.plugins.trigger(tenant, &t.provider) else { continue };
        let params = TriggerParams { xpert_id: id.clone(), config: t.config.clone() };
        if let Err(e) = trigger.trigger.publish(&params).await {
            // Lost a race (another expert bound the integration between our validation and our
            // publish): the checklist, validated again now, says who holds it.
            let recheck = trigger.trigger.validate(&params).await.unwrap_or_default();
            // Roll back this round and restore the previous set.
            stop_all(&state, tenant, &id, &published).await;
            if record.published {
                for p in &previous {
                    if let Some(trigger) = state.plugins.trigger(tenant, &p.provider) {
                        let params = TriggerParams { xpert_id: id.clone(), config: p.config.clone() };
                        let _ = trigger.trigger.publish(&params).await;
                    }
                }
            }
            let mut err: ApiError = e.into();
            if recheck.iter().any(|c| c.level == ChecklistLevel::Error) {
                let items = in_words(&state, tenant, &id, &triggers, &recheck).await;
                // The race's loser reads the same words as a checklist refusal, with names.
                if let Some(first) = items.as_array().and_then(|a| a.first()) {
                    let (en, zh) = (first["message"].as_str(), first["localized"]["zh_Hans"].as_str());
                    if let (Some(en), Some(zh)) = (en, zh) {
                        err = err.en(en).zh(zh);
                    }
                }
                err.extra = Some(("checklist".into(), items));
            }
            return Err(err);
        }
        published.push(t.clone());
    }
    record.published = true;
    record.published_triggers = serde_json::to_value(&published).unwrap_or(json!([]));
    record.updated_at = now_rfc3339();
    save(&state, record).await?;
    tracing::info!(tenant, xpert_id = %id, triggers = published.len(), "Digital Expert published");
    Ok(Json(json!({"published": true, "checklist": checklist})).into_response())
}

/// The checklist as people read it: each item keeps its `code` and `level`; its `message` names
/// the integration and the Digital Expert instead of their ids, and `localized` carries it in
/// both languages. Codes this host does not know keep the trigger's own text.
async fn in_words(
    state: &AppState,
    tenant: &str,
    xpert_id: &str,
    triggers: &[TriggerDraft],
    checklist: &[ChecklistItem],
) -> Value {
    let experts = state.store.list_xperts(tenant.to_string()).await.unwrap_or_default();
    let integrations = state.store.list_integrations(tenant.to_string()).await.unwrap_or_default();
    let integration_name = |id: &str| integrations.iter().find(|i| i.id == id).map(|i| i.name.clone());
    // The integration an item is about: the one of a trigger whose id the message mentions, else
    // the only one.
    let ids: Vec<String> = triggers
        .iter()
        .filter_map(|t| t.config.get("integrationId").and_then(Value::as_str).map(str::to_string))
        .filter(|s| !s.is_empty())
        .collect();
    let items: Vec<Value> = checklist
        .iter()
        .map(|c| {
            let about = ids.iter().find(|id| c.message.contains(id.as_str())).or(if ids.len() == 1 {
                ids.first()
            } else {
                None
            });
            let name = about.and_then(|id| integration_name(id));
            let holder = about.and_then(|id| {
                experts.iter().find(|x| {
                    x.id != xpert_id
                        && x.published
                        && TriggerDraft::list(&x.published_triggers)
                            .iter()
                            .any(|t| t.config.get("integrationId").and_then(Value::as_str) == Some(id.as_str()))
                })
            });
            let (en, zh): (String, String) = match c.code.as_str() {
                "TRIGGER_WECOM_INTEGRATION_CONFLICT" => {
                    let n = name.clone().unwrap_or_default();
                    match holder {
                        Some(x) => (
                            format!("The WeCom integration \"{n}\" is already used by the published Digital Expert \"{}\": one integration serves one expert. Unpublish \"{}\" or choose another integration.", x.name, x.name),
                            format!("企业微信集成“{n}”已被已发布的数字专家“{}”使用：一个集成只能服务一个专家。请先取消发布“{}”，或选择其他集成。", x.name, x.name),
                        ),
                        None => (
                            format!("The WeCom integration \"{n}\" is already used by another Digital Expert: one integration serves one expert. Choose another integration."),
                            format!("企业微信集成“{n}”已被另一个数字专家使用：一个集成只能服务一个专家。请选择其他集成。"),
                        ),
                    }
                }
                "TRIGGER_WECOM_INTEGRATION_NOT_FOUND" => (
                    "The WeCom integration this trigger was bound to has been deleted. Choose another integration in the trigger, or remove the trigger.".into(),
                    "该触发器绑定的企业微信集成已被删除。请在触发器中选择其他集成，或移除该触发器。".into(),
                ),
                "TRIGGER_WECOM_INTEGRATION_REQUIRED" => (
                    "Select the WeCom integration this trigger listens to.".into(),
                    "请选择该触发器监听的企业微信集成。".into(),
                ),
                "TRIGGER_WECOM_INTEGRATION_PROVIDER" => (
                    format!("The integration \"{}\" is not a WeCom integration: choose a WeCom one.", name.unwrap_or_default()),
                    format!("集成“{}”不是企业微信集成：请选择企业微信集成。", integrations.iter().find(|i| Some(&i.id) == about).map(|i| i.name.clone()).unwrap_or_default()),
                ),
                "TRIGGER_WECOM_CONFIG_INVALID" => match c.message.split_once(' ') {
                    Some((key, rule)) => {
                        let label = match key {
                            "sessionTimeoutSeconds" => ("Session Timeout (s)".to_string(), "会话超时（秒）".to_string()),
                            "summaryWindowSeconds" => {
                                ("Message Aggregation Window (s)".to_string(), "消息聚合窗口（秒）".to_string())
                            }
                            other => (other.to_string(), other.to_string()),
                        };
                        super::localize::sentence(&label, rule)
                    }
                    None => (c.message.clone(), c.message.clone()),
                },
                "TRIGGER_PROVIDER_NOT_FOUND" => (
                    "This trigger's plugin is not installed at tenant level: install it on the Plugins page, or remove the trigger.".into(),
                    "该触发器所属的插件未以租户级别安装：请在“插件”页面安装，或移除该触发器。".into(),
                ),
                _ => (c.message.clone(), c.message.clone()),
            };
            let level = serde_json::to_value(c.level).unwrap_or(Value::Null);
            json!({"code": c.code, "level": level, "message": en, "localized": {"en_US": en, "zh_Hans": zh}})
        })
        .collect();
    Value::Array(items)
}

/// `DELETE /api/xpert/{id}`: a published Digital Expert is refused (409 `XPERT_PUBLISHED`:
/// unpublish it first, so its triggers stop before it goes); a draft is deleted (204).
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    let record = load(&state, &caller, &id).await?;
    if record.published {
        return Err(ApiError::new(
            StatusCode::CONFLICT,
            "XPERT_PUBLISHED",
            format!("The Digital Expert \"{}\" is published: unpublish it first, then delete it.", record.name),
        )
        .zh(format!("数字专家“{}”已发布：请先取消发布，再删除。", record.name)));
    }
    if !state.store.delete_xpert(caller.tenant.clone(), id.clone()).await.map_err(ApiError::storage)? {
        return Err(xpert_not_found(&id));
    }
    tracing::info!(tenant = %caller.tenant, xpert_id = %id, "Digital Expert deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// `POST /api/xpert/{id}/unpublish`.
pub async fn unpublish(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    let mut record = load(&state, &caller, &id).await?;
    if record.published {
        stop_all(&state, &caller.tenant, &id, &TriggerDraft::list(&record.published_triggers)).await;
    }
    record.published = false;
    record.published_triggers = json!([]);
    record.updated_at = now_rfc3339();
    save(&state, record).await?;
    tracing::info!(tenant = %caller.tenant, xpert_id = %id, "Digital Expert unpublished");
    Ok(Json(json!({"published": false})).into_response())
}

/// Chat body.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChatBody {
    input: String,
    #[serde(default)]
    conversation_id: Option<String>,
}

/// The agent run a "Try it" (or a script) asks of expert `id`.
fn trial_request(id: String, body: ChatBody) -> host_sdk::AgentRequest {
    host_sdk::AgentRequest {
        xpert_id: id,
        conversation_id: body.conversation_id,
        input: body.input,
        ..Default::default()
    }
}

/// `POST /api/xpert/{id}/chat`: runs the expert's agent once and answers with the whole turn
/// (`{conversationId, text, status, error, events}`); for trying an expert from the UI or a script.
pub async fn chat(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<ChatBody>,
) -> ApiResult<Response> {
    load(&state, &caller, &id).await?;
    let request = trial_request(id, body);
    let mut events = state.agents.start(&caller.tenant, request).await?;
    let (mut text, mut conversation_id, mut status, mut error, mut kinds) =
        (String::new(), Value::Null, "success", Value::Null, Vec::new());
    while let Some(ev) = events.recv().await {
        match ev {
            host_sdk::AgentEvent::TextDelta(t) => {
                kinds.push("text");
                text.push_str(&t);
            }
            host_sdk::AgentEvent::Reasoning(_) => kinds.push("reasoning"),
            host_sdk::AgentEvent::ConversationStart { conversation_id: c } => {
                kinds.push("conversation_start");
                conversation_id = json!(c);
            }
            host_sdk::AgentEvent::ConversationEnd { status: s, error: e } => {
                kinds.push("conversation_end");
                status = match s {
                    host_sdk::ConversationStatus::Success => "success",
                    host_sdk::ConversationStatus::Error => "error",
                    host_sdk::ConversationStatus::Interrupted => "interrupted",
                };
                if let Some(e) = e {
                    error = json!(e);
                }
            }
            host_sdk::AgentEvent::Error { message } => {
                kinds.push("error");
                error = json!(message);
            }
            host_sdk::AgentEvent::Done => {
                kinds.push("done");
                break;
            }
            host_sdk::AgentEvent::Unknown => {}
        }
    }
    Ok(Json(
        json!({"conversationId": conversation_id, "text": text, "status": status, "error": error, "events": kinds}),
    )
    .into_response())
}

/// `POST /api/xpert/{id}/chat/stream`: the same run as `chat`, answered as it happens, one JSON
/// object per line (`application/x-ndjson`): `{"type":"conversation","conversationId"}`,
/// `{"type":"text","text"}` for each piece, then `{"type":"end","status","error"}`. The UI's
/// "Try it" panel reads it; closing the request cancels the run.
pub async fn chat_stream(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<ChatBody>,
) -> ApiResult<Response> {
    load(&state, &caller, &id).await?;
    let request = trial_request(id, body);
    let events = state.agents.start(&caller.tenant, request).await?;
    let lines = futures_util::stream::unfold((events, false), |(mut events, finished)| async move {
        if finished {
            return None;
        }
        loop {
            let ev = events.recv().await;
            let (line, last) = match ev {
                None => (json!({"type": "end", "status": "interrupted", "error": Value::Null}), true),
                Some(host_sdk::AgentEvent::TextDelta(t)) => (json!({"type": "text", "text": t}), false),
                Some(host_sdk::AgentEvent::ConversationStart { conversation_id }) => {
                    (json!({"type": "conversation", "conversationId": conversation_id}), false)
                }
                Some(host_sdk::AgentEvent::ConversationEnd { status, error }) => {
                    let status = match status {
                        host_sdk::ConversationStatus::Success => "success",
                        host_sdk::ConversationStatus::Error => "error",
                        host_sdk::ConversationStatus::Interrupted => "interrupted",
                    };
                    (json!({"type": "end", "status": status, "error": error}), true)
                }
                Some(host_sdk::AgentEvent::Error { message }) => {
                    (json!({"type": "end", "status": "error", "error": message}), true)
                }
                Some(host_sdk::AgentEvent::Done) => {
                    (json!({"type": "end", "status": "success", "error": Value::Null}), true)
                }
                Some(_) => continue,
            };
            let mut bytes = line.to_string().into_bytes();
            bytes.push(b'\n');
            return Some((Ok::<_, std::convert::Infallible>(axum::body::Bytes::from(bytes)), (events, last)));
        }
    });
    Ok((
        [
            (axum::http::header::CONTENT_TYPE, "application/x-ndjson; charset=utf-8"),
            (axum::http::header::CACHE_CONTROL, "no-cache"),
        ],
        axum::body::Body::from_stream(lines),
    )
        .into_response())
}

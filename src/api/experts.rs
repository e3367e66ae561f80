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
    let bad = |m: &str| Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_AGENT", m));
    match agent.get("kind").and_then(Value::as_str) {
        Some("echo") => Ok(()),
        Some("openai") => {
            let base = agent.get("baseUrl").and_then(Value::as_str).unwrap_or_default();
            if !(base.starts_with("http://") || base.starts_with("https://")) {
                return bad("agent.baseUrl must be an http(s) URL of an OpenAI-compatible endpoint");
            }
            if agent.get("model").and_then(Value::as_str).unwrap_or_default().trim().is_empty() {
                return bad("agent.model is required");
            }
            Ok(())
        }
        _ => bad("agent.kind must be \"echo\" or \"openai\""),
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
        return Err(ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "INVALID_NAME", "name is required"));
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
            return Err(ApiError::bad_request("INVALID_TRIGGER", "every trigger needs a provider"));
        }
        if !t.config.is_object() {
            return Err(ApiError::bad_request("INVALID_TRIGGER", "a trigger's config must be a JSON object"));
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
        );
        err.extra = Some(("checklist".into(), serde_json::to_value(&checklist).unwrap_or(json!([]))));
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
                err.extra = Some(("checklist".into(), serde_json::to_value(&recheck).unwrap_or(json!([]))));
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

/// `POST /api/xpert/{id}/chat`: runs the expert's agent once and answers with the whole turn
/// (`{conversationId, text, status, error, events}`); for trying an expert from the UI or a script.
pub async fn chat(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<ChatBody>,
) -> ApiResult<Response> {
    load(&state, &caller, &id).await?;
    let request = host_sdk::AgentRequest {
        xpert_id: id,
        conversation_id: body.conversation_id,
        input: body.input,
        ..Default::default()
    };
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

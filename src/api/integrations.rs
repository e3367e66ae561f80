//! `/api/integration*`: integrations, created, changed and deleted through their provider.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use host_sdk::host::RegisteredProvider;
use host_sdk::{Integration, LifecycleEvent};
use serde::Deserialize;
use serde_json::{json, Value};

use super::{localize, ApiError, ApiResult, AppState, Caller, JsonBody, PathParams};
use crate::clock::now_rfc3339;
use crate::shown;
use crate::store::IntegrationRecord;

/// What secrets look like in answers; sent back, it keeps the stored value.
pub const MASK: &str = "******";

/// The secret option keys of a provider (`descriptor.schema.secret`).
pub fn secret_keys(provider: &RegisteredProvider) -> Vec<String> {
    provider.descriptor.schema.secret.clone()
}

fn masked(options: &Value, secrets: &[String]) -> Value {
    let mut options = options.clone();
    if let Value::Object(map) = &mut options {
        for key in secrets {
            if let Some(v) = map.get_mut(key) {
                if !v.is_null() && v.as_str() != Some("") {
                    *v = json!(MASK);
                }
            }
        }
    }
    options
}

/// The answer shape of an integration (secrets masked; all options masked when the provider is
/// unknown, since its secret list is unknown).
pub fn to_json(record: &IntegrationRecord, provider: Option<&RegisteredProvider>) -> Value {
    let options = match provider {
        Some(p) => masked(&record.options, &secret_keys(p)),
        None => match &record.options {
            Value::Object(map) => Value::Object(map.keys().map(|k| (k.clone(), json!(MASK))).collect()),
            other => other.clone(),
        },
    };
    json!({
        "id": record.id, "name": record.name, "provider": record.provider, "enabled": record.enabled,
        "options": options, "createdAt": record.created_at, "updatedAt": record.updated_at,
    })
}

fn provider_not_found(name: &str) -> ApiError {
    // Only WeCom's own providers come from the WeCom plugin: for any other name, say which
    // provider was asked for and that no installed plugin provides it.
    let shown = shown::id(name);
    if matches!(name, "wecom" | "wecom_long") {
        ApiError::not_found(
            "PROVIDER_NOT_FOUND",
            format!(
                "integration provider {shown:?} is not registered: the WeCom plugin must be installed at tenant level (POST /api/plugins/install with level \"tenant\") to provide it"
            ),
        )
        .en(format!(
            "The integration provider \"{shown}\" is not registered: install the WeCom plugin at tenant level (Plugins page)."
        ))
        .zh(format!("集成类型“{shown}”未注册：请在“插件”页面以租户级别安装企业微信插件。"))
    } else {
        ApiError::not_found(
            "PROVIDER_NOT_FOUND",
            format!(
                "integration provider {shown:?} is not provided by any plugin installed at tenant level in this tenant"
            ),
        )
        .en(format!(
            "No plugin installed at tenant level in this tenant provides the integration provider \"{shown}\"."
        ))
        .zh(format!("本租户以租户级别安装的插件中，没有提供集成类型“{shown}”的插件。"))
    }
}

/// `GET /api/integration/providers`.
pub async fn providers(State(state): State<AppState>, caller: Caller) -> Response {
    let list: Vec<Value> = state
        .plugins
        .providers(&caller.tenant)
        .iter()
        .map(|p| serde_json::to_value(&p.descriptor).unwrap_or(Value::Null))
        .collect();
    Json(list).into_response()
}

/// `GET /api/integration` (every integration of the caller's tenant, masked).
pub async fn list(State(state): State<AppState>, caller: Caller) -> ApiResult<Response> {
    let records = state.store.list_integrations(caller.tenant.clone()).await.map_err(ApiError::storage)?;
    let list: Vec<Value> =
        records.iter().map(|r| to_json(r, state.plugins.provider(&caller.tenant, &r.provider).as_ref())).collect();
    Ok(Json(list).into_response())
}

/// Create/update body.
#[derive(Deserialize)]
pub struct IntegrationBody {
    #[serde(default)]
    name: String,
    provider: String,
    #[serde(default)]
    options: Value,
    #[serde(default = "yes")]
    enabled: bool,
}

fn yes() -> bool {
    true
}

async fn notify(
    provider: &RegisteredProvider,
    event: LifecycleEvent,
    record: &IntegrationRecord,
    previous: Option<&IntegrationRecord>,
) {
    let previous = previous.map(IntegrationRecord::to_integration);
    if let Err(e) = provider.provider.on_lifecycle(event, &record.to_integration(), previous.as_ref()).await {
        tracing::warn!(integration_id = %record.id, event = event.as_str(), "lifecycle hook failed: {}", e.message);
    }
}

/// The provider's `validate_config`, its refusal in both languages naming the field.
fn validate(provider: &RegisteredProvider, record: &IntegrationRecord) -> ApiResult<host_sdk::contract::SetupInfo> {
    provider
        .provider
        .validate_config(&record.to_integration())
        .map_err(|e| localize::config_error(e.into(), &provider.descriptor.schema, &record.options))
}

/// `POST /api/integration`.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> ApiResult<Response> {
    let provider =
        state.plugins.provider(&caller.tenant, &body.provider).ok_or_else(|| provider_not_found(&body.provider))?;
    let now = now_rfc3339();
    let record = IntegrationRecord {
        id: uuid::Uuid::new_v4().to_string(),
        tenant_id: caller.tenant.clone(),
        name: if body.name.trim().is_empty() { body.provider.clone() } else { body.name.trim().to_string() },
        provider: body.provider,
        enabled: body.enabled,
        options: body.options,
        created_at: now.clone(),
        updated_at: now,
    };
    let setup = validate(&provider, &record)?;
    if !state.store.put_integration(record.clone()).await.map_err(ApiError::storage)? {
        return Err(ApiError::tenant_gone());
    }
    tracing::info!(tenant = %caller.tenant, integration_id = %record.id, provider = %record.provider, "integration created");
    notify(&provider, LifecycleEvent::Created, &record, None).await;
    if record.enabled {
        notify(&provider, LifecycleEvent::Enabled, &record, None).await;
    }
    let mut answer = to_json(&record, Some(&provider));
    answer["setup"] = json!(setup);
    Ok((StatusCode::CREATED, Json(answer)).into_response())
}

/// 404 `INTEGRATION_NOT_FOUND` (also for another tenant's integration).
fn integration_not_found(id: &str) -> ApiError {
    ApiError::not_found("INTEGRATION_NOT_FOUND", format!("integration {} does not exist", shown::id(id)))
        .en("This integration does not exist (it may have been deleted).")
        .zh("该集成不存在（可能已被删除）。")
}

/// Loads an integration of the caller's tenant or answers 404 `INTEGRATION_NOT_FOUND`, the same
/// for an id of another tenant as for one that does not exist.
pub(super) async fn load(state: &AppState, caller: &Caller, id: &str) -> ApiResult<IntegrationRecord> {
    state
        .store
        .get_integration(caller.tenant.clone(), id.to_string())
        .await
        .map_err(ApiError::storage)?
        .ok_or_else(|| integration_not_found(id))
}

/// `GET /api/integration/{id}`.
pub async fn read(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    let record = load(&state, &caller, &id).await?;
    let provider = state.plugins.provider(&caller.tenant, &record.provider);
    let mut answer = to_json(&record, provider.as_ref());
    if let Some(p) = &provider {
        if let Ok(setup) = p.provider.validate_config(&record.to_integration()) {
            answer["setup"] = json!(setup);
        }
    }
    Ok(Json(answer).into_response())
}

/// `PUT /api/integration/{id}`: a secret sent as `"******"` keeps its stored value.
pub async fn update(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
    JsonBody(body): JsonBody<IntegrationBody>,
) -> ApiResult<Response> {
    let previous = load(&state, &caller, &id).await?;
    let provider =
        state.plugins.provider(&caller.tenant, &body.provider).ok_or_else(|| provider_not_found(&body.provider))?;
    let mut options = body.options;
    if let (Value::Object(new), Value::Object(old)) = (&mut options, &previous.options) {
        for key in secret_keys(&provider) {
            if new.get(&key).and_then(Value::as_str) == Some(MASK) {
                match old.get(&key) {
                    Some(v) if previous.provider == body.provider => {
                        new.insert(key, v.clone());
                    }
                    _ => {
                        new.remove(&key);
                    }
                }
            }
        }
    }
    let record = IntegrationRecord {
        id: previous.id.clone(),
        tenant_id: previous.tenant_id.clone(),
        name: if body.name.trim().is_empty() { previous.name.clone() } else { body.name.trim().to_string() },
        provider: body.provider,
        enabled: body.enabled,
        options,
        created_at: previous.created_at.clone(),
        updated_at: now_rfc3339(),
    };
    let setup = validate(&provider, &record)?;
    if !state.store.put_integration(record.clone()).await.map_err(ApiError::storage)? {
        return Err(integration_not_found(&id));
    }
    if previous.provider != record.provider {
        if let Some(old) = state.plugins.provider(&caller.tenant, &previous.provider) {
            notify(&old, LifecycleEvent::Deleted, &previous, None).await;
        }
        notify(&provider, LifecycleEvent::Created, &record, None).await;
    } else {
        notify(&provider, LifecycleEvent::Updated, &record, Some(&previous)).await;
    }
    if record.enabled != previous.enabled || previous.provider != record.provider {
        let event = if record.enabled { LifecycleEvent::Enabled } else { LifecycleEvent::Disabled };
        notify(&provider, event, &record, Some(&previous)).await;
    }
    let mut answer = to_json(&record, Some(&provider));
    answer["setup"] = json!(setup);
    Ok(Json(answer).into_response())
}

/// `DELETE /api/integration/{id}`.
pub async fn delete(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    let record = load(&state, &caller, &id).await?;
    // Refused while a published Digital Expert serves it: deleting would leave that expert
    // "Published" with a trigger pointing at nothing. The operator unpublishes or rebinds first.
    let users = published_users(&state, &caller.tenant, &id).await?;
    if !users.is_empty() {
        let names: Vec<String> = users.iter().map(|(_, n)| format!("\"{n}\"")).collect();
        let names_zh: Vec<String> = users.iter().map(|(_, n)| format!("“{n}”")).collect();
        let (list, list_zh) = (names.join(", "), names_zh.join("、"));
        let mut err = ApiError::new(
            StatusCode::CONFLICT,
            "INTEGRATION_IN_USE",
            format!(
                "The integration \"{}\" is used by the published Digital Expert {list}. Unpublish {list} or bind its WeCom Trigger to another integration, then delete it.",
                record.name
            ),
        )
        .zh(format!(
            "集成“{}”正被已发布的数字专家{list_zh}使用。请先取消发布{list_zh}，或将其企业微信触发器改绑到其他集成，然后再删除。",
            record.name
        ));
        err.extra = Some((
            "experts".into(),
            Value::Array(users.into_iter().map(|(id, name)| json!({"id": id, "name": name})).collect()),
        ));
        return Err(err);
    }
    if !state.store.delete_integration(caller.tenant.clone(), id.clone()).await.map_err(ApiError::storage)? {
        return Err(integration_not_found(&id));
    }
    state.integration_tenants.forget(&id);
    if let Some(p) = state.plugins.provider(&caller.tenant, &record.provider) {
        notify(&p, LifecycleEvent::Deleted, &record, None).await;
    }
    tracing::info!(tenant = %caller.tenant, integration_id = %record.id, "integration deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// The published Digital Experts of a tenant whose published triggers name this integration:
/// `(id, name)`.
pub(super) async fn published_users(
    state: &AppState,
    tenant: &str,
    integration_id: &str,
) -> ApiResult<Vec<(String, String)>> {
    let experts = state.store.list_xperts(tenant.to_string()).await.map_err(ApiError::storage)?;
    Ok(experts
        .into_iter()
        .filter(|x| {
            x.published
                && crate::store::TriggerDraft::list(&x.published_triggers)
                    .iter()
                    .any(|t| t.config.get("integrationId").and_then(Value::as_str) == Some(integration_id))
        })
        .map(|x| (x.id, x.name))
        .collect())
}

/// Test body.
#[derive(Deserialize)]
pub struct TestBody {
    provider: String,
    #[serde(default)]
    options: Value,
    #[serde(default)]
    id: Option<String>,
}

/// `POST /api/integration/test`.
pub async fn test(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<TestBody>,
) -> ApiResult<Response> {
    let provider =
        state.plugins.provider(&caller.tenant, &body.provider).ok_or_else(|| provider_not_found(&body.provider))?;
    let mut options = body.options;
    // Testing a saved integration: masked secrets mean "the stored value".
    if let Some(id) = body.id.as_deref().filter(|s| !s.is_empty()) {
        if let Ok(stored) = load(&state, &caller, id).await {
            if let (Value::Object(new), Value::Object(old)) = (&mut options, &stored.options) {
                for key in secret_keys(&provider) {
                    if new.get(&key).and_then(Value::as_str) == Some(MASK) {
                        if let Some(v) = old.get(&key) {
                            new.insert(key, v.clone());
                        }
                    }
                }
            }
        }
    }
    let integration = Integration {
        id: body.id.unwrap_or_default(),
        name: String::new(),
        provider: body.provider,
        enabled: true,
        options,
    };
    let answer = provider
        .provider
        .test(&integration)
        .await
        .map_err(|e| localize::config_error(e.into(), &provider.descriptor.schema, &integration.options))?;
    Ok(Json(answer).into_response())
}

//! `/api/tenants*` (admin token only) and `/api/me`. A tenant's token is random, shown once in the
//! answer that creates the tenant, and stored only as its SHA-256 hex hash.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::{ApiError, ApiResult, AppState, Caller, JsonBody, PathParams};
use crate::clock::now_rfc3339;
use crate::store::{TenantRecord, DEFAULT_TENANT};

/// Longest tenant name accepted.
const MAX_NAME_CHARS: usize = 100;

/// The SHA-256 hex hash of a token, as stored and looked up.
pub fn token_hash(token: &str) -> String {
    Sha256::digest(token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// A new random token: 32 bytes from the OS-seeded generator, hex.
fn new_token() -> String {
    let bytes: [u8; 32] = rand::random();
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// `GET /api/me`.
pub async fn me(caller: Caller) -> Response {
    Json(json!({"tenant": {"id": caller.tenant, "name": caller.tenant_name}, "admin": caller.admin})).into_response()
}

/// Create body.
#[derive(Deserialize)]
pub struct CreateBody {
    name: String,
}

/// `POST /api/tenants` (admin): 201 `{id, name, token}`, the only time the token is shown.
pub async fn create(
    axum::extract::State(state): axum::extract::State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<CreateBody>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    let name = body.name.trim().to_string();
    if name.is_empty() || name.chars().count() > MAX_NAME_CHARS {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "INVALID_NAME",
            format!("name is required and at most {MAX_NAME_CHARS} characters"),
        ));
    }
    let token = new_token();
    let tenant = TenantRecord { id: uuid::Uuid::new_v4().to_string(), name, created_at: now_rfc3339() };
    let created = state.store.create_tenant(tenant.clone(), token_hash(&token)).await.map_err(ApiError::storage)?;
    if !created {
        return Err(ApiError::new(StatusCode::CONFLICT, "TENANT_EXISTS", "a tenant with this name exists"));
    }
    tracing::info!(tenant = %tenant.id, "tenant created");
    Ok((StatusCode::CREATED, Json(json!({"id": tenant.id, "name": tenant.name, "token": token}))).into_response())
}

/// `GET /api/tenants` (admin): `[{id, name, createdAt}]`, never tokens.
pub async fn list(axum::extract::State(state): axum::extract::State<AppState>, caller: Caller) -> ApiResult<Response> {
    caller.require_admin()?;
    let tenants = state.store.list_tenants().await.map_err(ApiError::storage)?;
    let list: Vec<_> = tenants.iter().map(|t| json!({"id": t.id, "name": t.name, "createdAt": t.created_at})).collect();
    Ok(Json(list).into_response())
}

/// `DELETE /api/tenants/{id}` (admin; not `default`): stops the tenant's installations, then
/// removes everything it owns.
pub async fn delete(
    axum::extract::State(state): axum::extract::State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    caller.require_admin()?;
    if id == DEFAULT_TENANT {
        return Err(ApiError::new(StatusCode::CONFLICT, "TENANT_PROTECTED", "the tenant default cannot be deleted"));
    }
    let not_found =
        || ApiError::not_found("TENANT_NOT_FOUND", format!("tenant {} does not exist", crate::shown::id(&id)));
    if state.store.get_tenant(id.clone()).await.map_err(ApiError::storage)?.is_none() {
        return Err(not_found());
    }
    if !state
        .plugins
        .delete_tenant(state.store.as_ref(), state.shared.as_ref(), &id)
        .await
        .map_err(ApiError::storage)?
    {
        return Err(not_found());
    }
    tracing::info!(tenant = %id, "tenant deleted");
    Ok(StatusCode::NO_CONTENT.into_response())
}

//! `/api/plugins*`: what the plugin directory holds, what the caller's tenant has installed,
//! installing and uninstalling in that tenant.

use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use host_sdk::InstallLevel;
use serde::Deserialize;

use super::{ApiError, ApiResult, AppState, Caller, JsonBody, PathParams};
use crate::plugins::InstallError;

impl From<InstallError> for ApiError {
    fn from(e: InstallError) -> Self {
        let message = e.to_string();
        match e {
            InstallError::NotAvailable(name) => ApiError::not_found("PLUGIN_NOT_FOUND", message)
                .zh(format!("插件目录中没有插件 {}。", crate::shown::id(&name))),
            InstallError::NotInstalled(name) => ApiError::not_found("PLUGIN_NOT_FOUND", message)
                .zh(format!("本租户未安装插件 {}。", crate::shown::id(&name))),
            InstallError::LoadFailed { name, .. } => {
                ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, "PLUGIN_LOAD_FAILED", message)
                    .zh(format!("插件 {} 无法加载，详情见英文说明或主机日志。", crate::shown::id(&name)))
            }
            InstallError::Downgrade(name) => {
                ApiError::new(StatusCode::CONFLICT, "PLUGIN_INSTALLED_AT_TENANT_LEVEL", message.clone())
                    .en(format!(
                        "{name} is installed at tenant level in this tenant: uninstall it first to install it at a lower level."
                    ))
                    .zh(format!("{name} 已在本租户以租户级别安装：如需以更低级别安装，请先卸载。"))
            }
            InstallError::TenantGone => ApiError::tenant_gone(),
            InstallError::Register(e) => e.into(),
            InstallError::Storage(e) => ApiError::storage(e),
        }
    }
}

/// `GET /api/plugins`: the caller's tenant's installations.
pub async fn installed(State(state): State<AppState>, caller: Caller) -> Response {
    Json(state.plugins.installed_json(&caller.tenant)).into_response()
}

/// `GET /api/plugins/available`.
pub async fn available(State(state): State<AppState>, caller: Caller) -> Response {
    Json(state.plugins.available_json(&caller.tenant)).into_response()
}

/// The install request.
#[derive(Deserialize)]
pub struct InstallRequest {
    name: String,
    #[serde(default = "tenant")]
    level: String,
}

fn tenant() -> String {
    "tenant".into()
}

/// `POST /api/plugins/install`: installs in the caller's tenant (replacing an installation at
/// the same or a lower level; refusing a lower level over a tenant-level one).
pub async fn install(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody<InstallRequest>,
) -> ApiResult<Response> {
    let level: InstallLevel = body.level.parse().map_err(|e: String| ApiError::bad_request("INVALID_LEVEL", e))?;
    let answer = state.plugins.install(state.store.as_ref(), &caller.tenant, &body.name, level).await?;
    if level == InstallLevel::Tenant {
        crate::revival::revive_tenant(state.store.as_ref(), &state.plugins, &caller.tenant).await;
    }
    Ok(Json(answer).into_response())
}

/// `DELETE /api/plugins/{name}`: uninstalls from the caller's tenant (its installation is
/// stopped); 404 when it is not installed there.
pub async fn uninstall(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(name): PathParams<String>,
) -> ApiResult<Response> {
    state.plugins.uninstall(state.store.as_ref(), &caller.tenant, &name).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

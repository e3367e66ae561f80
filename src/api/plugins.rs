//! `/api/plugins*`: what the plugin directory holds, what is installed, and installing.

use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::Json;
use host_sdk::InstallLevel;
use serde::Deserialize;

use super::{ApiError, ApiResult, AppState, JsonBody};

/// `GET /api/plugins`.
pub async fn installed(State(state): State<AppState>) -> Response {
    Json(state.plugins.installed_json()).into_response()
}

/// `GET /api/plugins/available`.
pub async fn available(State(state): State<AppState>) -> Response {
    Json(state.plugins.available_json()).into_response()
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

/// `POST /api/plugins/install`.
pub async fn install(State(state): State<AppState>, JsonBody(body): JsonBody<InstallRequest>) -> ApiResult<Response> {
    let level: InstallLevel = body.level.parse().map_err(|e: String| ApiError::bad_request("INVALID_LEVEL", e))?;
    let answer = state.plugins.install(state.store.as_ref(), &body.name, level).await?;
    if level == InstallLevel::Tenant {
        crate::server::revive(&state).await;
    }
    Ok(Json(answer).into_response())
}

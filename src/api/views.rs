//! `/api/integration/{id}/views*`: the tabs plugins add to the integration detail page.

use axum::extract::{Query, State};
use axum::response::{IntoResponse, Response};
use axum::Json;
use host_sdk::ViewQuery;
use serde::Deserialize;
use serde_json::Value;

use super::integrations::load;
use super::{parse_json, read_body, ApiError, ApiResult, AppState, Caller, PathParams};
use crate::shown;

/// `GET /api/integration/{id}/views`.
pub async fn manifests(
    State(state): State<AppState>,
    caller: Caller,
    PathParams(id): PathParams<String>,
) -> ApiResult<Response> {
    let record = load(&state, &caller, &id).await?;
    let mut tabs = Vec::new();
    for ext in state.plugins.views_for(&caller.tenant, &record.provider) {
        tabs.extend(ext.view.manifests(&record.to_integration()).await?);
    }
    Ok(Json(tabs).into_response())
}

fn view_not_found(view: &str) -> ApiError {
    ApiError::not_found("VIEW_NOT_FOUND", format!("no view {:?} for this integration", shown::id(view)))
}

/// Table query parameters.
#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
pub struct DataQuery {
    page: Option<u32>,
    page_size: Option<u32>,
    search: Option<String>,
    sort_by: Option<String>,
    sort_direction: Option<String>,
}

/// `GET /api/integration/{id}/views/{view}/data`.
pub async fn data(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((id, view)): PathParams<(String, String)>,
    query: Result<Query<DataQuery>, axum::extract::rejection::QueryRejection>,
) -> ApiResult<Response> {
    let Query(q) = query.map_err(|e| ApiError::bad_request("INVALID_QUERY", shown::id(&e.body_text())))?;
    let record = load(&state, &caller, &id).await?;
    let query = ViewQuery {
        page: q.page.unwrap_or(1).max(1),
        page_size: q.page_size.unwrap_or(10).clamp(1, 200),
        search: q.search,
        sort_by: q.sort_by,
        sort_direction: q.sort_direction,
    };
    let mut last_err = view_not_found(&view);
    for ext in state.plugins.views_for(&caller.tenant, &record.provider) {
        match ext.view.data(&record.to_integration(), &view, &query).await {
            Ok(v) => return Ok(Json(v).into_response()),
            Err(e) => last_err = e.into(),
        }
    }
    Err(last_err)
}

/// `POST /api/integration/{id}/views/{view}/actions/{action}`.
pub async fn action(
    State(state): State<AppState>,
    caller: Caller,
    PathParams((id, view, action)): PathParams<(String, String, String)>,
    request: axum::extract::Request,
) -> ApiResult<Response> {
    let bytes = read_body(request.into_body(), state.max_body_bytes).await?;
    let body: Value =
        if bytes.iter().all(u8::is_ascii_whitespace) { serde_json::json!({}) } else { parse_json(&bytes)? };
    let record = load(&state, &caller, &id).await?;
    let mut last_err = view_not_found(&view);
    for ext in state.plugins.views_for(&caller.tenant, &record.provider) {
        match ext.view.action(&record.to_integration(), &view, &action, &body).await {
            Ok(v) => {
                tracing::info!(tenant = %caller.tenant, integration_id = %id, view, action, "view action");
                return Ok(Json(v).into_response());
            }
            Err(e) => last_err = e.into(),
        }
    }
    Err(last_err)
}

//! Plugin routes, mounted under `/api`: the request is handed to the plugin's handler as is
//! (raw query, lower-cased headers, size-limited body) and its answer returned as is.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use host_sdk::HttpRequest;

use super::{read_body, ApiError, ApiResult, AppState};

/// Any `/api/...` request no built-in route took.
pub async fn dispatch(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let below_api = path.strip_prefix("/api").unwrap_or(&path);
    let Some(route) = state.plugins.match_route(&method, below_api) else {
        return Err(ApiError::not_found("NOT_FOUND", format!("no route {method} {path}")));
    };
    let query = request.uri().query().unwrap_or_default().to_string();
    let headers = request
        .headers()
        .iter()
        .filter_map(|(k, v)| v.to_str().ok().map(|v| (k.as_str().to_ascii_lowercase(), v.to_string())))
        .collect();
    let body = read_body(request.into_body(), state.max_body_bytes).await?.to_vec();
    let req = HttpRequest { method, path, query, path_params: route.params, headers, body };
    let resp = route.handler.handle(req).await?;
    let status = StatusCode::from_u16(resp.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut out = Response::new(Body::from(resp.body));
    *out.status_mut() = status;
    for (k, v) in resp.headers {
        if let (Ok(k), Ok(v)) = (HeaderName::try_from(k), HeaderValue::try_from(v)) {
            out.headers_mut().append(k, v);
        }
    }
    Ok(out.into_response())
}

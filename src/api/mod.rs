//! The HTTP API (`../shared/host-api.md`): routes, authentication, body limits, JSON parsing.

mod errors;
mod experts;
mod integrations;
mod plugin_routes;
mod plugins;
mod views;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::json;

pub use errors::{ApiError, ApiResult};
pub use experts::republish_all;
pub use integrations::to_integration;

use crate::plugins::PluginManager;
use crate::store::Store;

/// What every route can reach.
#[derive(Clone)]
pub struct AppState {
    /// The store.
    pub store: Arc<dyn Store>,
    /// Plugins.
    pub plugins: Arc<PluginManager>,
    /// The bearer token.
    pub admin_token: Arc<String>,
    /// This instance's id.
    pub instance_id: Arc<String>,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Runs agents (for `POST /api/xpert/{id}/chat`).
    pub agents: crate::agents::AgentRunner,
}

/// Reads a body up to the limit (413 beyond it).
pub async fn read_body(body: Body, limit: usize) -> ApiResult<Bytes> {
    axum::body::to_bytes(body, limit).await.map_err(|_| {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            "PAYLOAD_TOO_LARGE",
            format!("the request body exceeds {limit} bytes"),
        )
    })
}

/// Parses a JSON body (400 with the parser's message when malformed).
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> ApiResult<T> {
    if bytes.is_empty() {
        return Err(ApiError::bad_request("INVALID_JSON", "the request body must be a JSON document"));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request("INVALID_JSON", format!("malformed JSON body: {e}")))
}

/// A JSON body extractor with the host's limit and error envelope.
pub struct JsonBody<T>(pub T);

impl<T: DeserializeOwned> axum::extract::FromRequest<AppState> for JsonBody<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let bytes = read_body(req.into_body(), state.max_body_bytes).await?;
        parse_json(&bytes).map(JsonBody)
    }
}

fn token_matches(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    let mut diff = a.len() ^ b.len();
    for (x, y) in a.iter().zip(b.iter()) {
        diff |= (x ^ y) as usize;
    }
    diff == 0
}

/// Bearer-token check for every `/api` route except health and public plugin routes.
async fn authenticate(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/api/") || path == "/api/health" {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim);
    if given.is_some_and(|t| token_matches(t, &state.admin_token)) {
        return next.run(request).await;
    }
    let below_api = &path["/api".len()..];
    if state.plugins.match_route(request.method().as_str(), below_api).is_some_and(|r| r.public) {
        return next.run(request).await;
    }
    ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "missing or invalid bearer token").into_response()
}

async fn health(State(state): State<AppState>) -> Response {
    axum::Json(json!({"status": "ok", "instance": *state.instance_id, "version": env!("CARGO_PKG_VERSION")}))
        .into_response()
}

/// The benchmark's floor: an authenticated route that does nothing.
async fn floor() -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json")], "{\"ok\":true}").into_response()
}

async fn not_found() -> ApiError {
    ApiError::not_found("NOT_FOUND", "no such route")
}

/// The whole application: API under `/api`, plugin routes, and the web UI.
pub fn router(state: AppState) -> Router {
    let api = Router::new()
        .route("/api/health", get(health))
        .route("/api/_bench/floor", get(floor))
        .route("/api/plugins", get(plugins::installed))
        .route("/api/plugins/available", get(plugins::available))
        .route("/api/plugins/install", post(plugins::install))
        .route("/api/integration/providers", get(integrations::providers))
        .route("/api/integration", get(integrations::list).post(integrations::create))
        .route("/api/integration/test", post(integrations::test))
        .route("/api/integration/{id}", get(integrations::read).put(integrations::update).delete(integrations::delete))
        .route("/api/integration/{id}/views", get(views::manifests))
        .route("/api/integration/{id}/views/{view}/data", get(views::data))
        .route("/api/integration/{id}/views/{view}/actions/{action}", post(views::action))
        .route("/api/xpert", get(experts::list).post(experts::create))
        .route("/api/xpert/triggers", get(experts::trigger_descriptors))
        .route("/api/xpert/{id}", get(experts::read))
        .route("/api/xpert/{id}/triggers", put(experts::set_triggers))
        .route("/api/xpert/{id}/publish", post(experts::publish))
        .route("/api/xpert/{id}/unpublish", post(experts::unpublish))
        .route("/api/xpert/{id}/chat", post(experts::chat))
        .route("/api/{*rest}", axum::routing::any(plugin_routes::dispatch))
        .fallback(not_found);
    api.with_state(state.clone())
        .merge(crate::web::router())
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
}

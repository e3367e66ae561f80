//! The HTTP API (`../shared/host-api.md`): routes, authentication (the bearer token names the
//! caller's tenant), body and URI limits, JSON parsing, and the error envelope on every error.

mod errors;
mod experts;
mod integrations;
mod localize;
mod metrics;
mod plugin_routes;
mod plugins;
mod tenants;
mod views;

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use axum::Router;
use serde::de::DeserializeOwned;
use serde_json::json;
use subtle::ConstantTimeEq;

pub use errors::{ApiError, ApiResult};

use crate::plugins::PluginManager;
use crate::store::{SharedState, Store, DEFAULT_TENANT};

/// The longest request target (path and query) the host accepts; longer ones get 414.
pub const MAX_URI_BYTES: usize = 8 * 1024;

/// What every route can reach: one shared allocation, so the clone the router and the
/// middleware make of it for every request is a single reference count, not one per field.
#[derive(Clone)]
pub struct AppState(Arc<AppStateParts>);

impl AppState {
    /// The state over its parts.
    pub fn new(parts: AppStateParts) -> AppState {
        AppState(Arc::new(parts))
    }
}

impl std::ops::Deref for AppState {
    type Target = AppStateParts;

    fn deref(&self) -> &AppStateParts {
        &self.0
    }
}

/// The parts of [`AppState`].
pub struct AppStateParts {
    /// The store.
    pub store: Arc<dyn Store>,
    /// The plugins' KV and leases (the store, or Redis).
    pub shared: Arc<dyn SharedState>,
    /// Plugins.
    pub plugins: Arc<PluginManager>,
    /// The admin token (acts in the tenant `default`, and alone may manage tenants).
    pub admin_token: Arc<String>,
    /// This instance's id.
    pub instance_id: Arc<String>,
    /// Largest accepted body.
    pub max_body_bytes: usize,
    /// Runs agents (for `POST /api/xpert/{id}/chat`).
    pub agents: crate::agents::AgentRunner,
    /// Which tenant owns an integration, remembered for public plugin routes.
    pub integration_tenants: Arc<plugin_routes::IntegrationTenants>,
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

/// Who is calling, resolved from the bearer token by [`authenticate`] and put in the request's
/// extensions: every handler acts within `tenant`.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The caller's tenant id.
    pub tenant: String,
    /// The tenant's name.
    pub tenant_name: String,
    /// Whether the caller holds the admin token.
    pub admin: bool,
}

impl Caller {
    /// Refuses (403 with the envelope) a caller without the admin token.
    pub fn require_admin(&self) -> ApiResult<()> {
        if self.admin {
            Ok(())
        } else {
            Err(ApiError::new(StatusCode::FORBIDDEN, "FORBIDDEN", "this route needs the admin token")
                .zh("此操作需要管理员令牌。"))
        }
    }
}

fn unauthorized() -> ApiError {
    ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "missing or invalid bearer token")
        .en("The token is missing or was rejected. Sign in with the admin token or a tenant's token.")
        .zh("令牌缺失或无效。请使用管理员令牌或租户令牌登录。")
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(unauthorized)
    }
}

/// Path parameters with the host's error envelope (400 `INVALID_PATH`, e.g. for a segment that
/// is not UTF-8 once decoded).
pub struct PathParams<T>(pub T);

impl<T: DeserializeOwned + Send, S: Send + Sync> FromRequestParts<S> for PathParams<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(v)) => Ok(PathParams(v)),
            Err(e) => Err(ApiError::bad_request(
                "INVALID_PATH",
                format!("the request path is invalid: {}", crate::shown::id(&e.body_text())),
            )),
        }
    }
}

/// The caller a bearer token names: the admin token (compared in constant time) acts in
/// `default`; a tenant's token is looked up by its SHA-256 hash.
async fn resolve_caller(state: &AppState, token: &str) -> ApiResult<Option<Caller>> {
    if bool::from(token.as_bytes().ct_eq(state.admin_token.as_bytes())) {
        return Ok(Some(Caller { tenant: DEFAULT_TENANT.into(), tenant_name: DEFAULT_TENANT.into(), admin: true }));
    }
    let tenant = state.store.tenant_by_token_hash(tenants::token_hash(token)).await.map_err(ApiError::storage)?;
    Ok(tenant.map(|t| Caller { tenant: t.id, tenant_name: t.name, admin: false }))
}

/// Bearer-token check for every `/api` route except health and public plugin routes; the
/// resolved [`Caller`] goes into the request's extensions.
async fn authenticate(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let path = request.uri().path();
    if !path.starts_with("/api/") || path == "/api/health" {
        return next.run(request).await;
    }
    let given = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string);
    if let Some(token) = given {
        match resolve_caller(&state, &token).await {
            Ok(Some(caller)) => {
                request.extensions_mut().insert(caller);
                return next.run(request).await;
            }
            Ok(None) => {}
            Err(e) => return e.into_response(),
        }
    }
    let below_api = &path["/api".len()..];
    if state.plugins.match_any_route(request.method().as_str(), below_api).is_some_and(|r| r.public) {
        return next.run(request).await;
    }
    unauthorized().into_response()
}

/// Refuses a request target longer than [`MAX_URI_BYTES`] with 414 and the envelope.
async fn limit_uri(request: Request, next: Next) -> Response {
    let length = request.uri().path_and_query().map(|pq| pq.as_str().len()).unwrap_or(0);
    if length > MAX_URI_BYTES {
        return ApiError::new(
            StatusCode::URI_TOO_LONG,
            "URI_TOO_LONG",
            format!("the request path and query exceed {MAX_URI_BYTES} bytes"),
        )
        .into_response();
    }
    next.run(request).await
}

/// A plugin route's answer: marked so [`envelope_errors`] passes it through untouched.
#[derive(Clone, Copy, Debug)]
pub struct PluginAnswer;

/// The safety net for the error envelope: an `/api` error answer that is not JSON (a rejection
/// of axum's own, a 405 on a known route) becomes `{"error":{"code","message"}}` with the same
/// status. Plugin routes' answers (marked [`PluginAnswer`]) pass through untouched.
async fn envelope_errors(request: Request, next: Next) -> Response {
    let is_api = request.uri().path().starts_with("/api/");
    let response = next.run(request).await;
    let status = response.status();
    if !is_api || !(status.is_client_error() || status.is_server_error()) {
        return response;
    }
    if response.extensions().get::<PluginAnswer>().is_some() {
        return response;
    }
    let is_json = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/json"));
    if is_json {
        return response;
    }
    let (code, default_message) = match status {
        StatusCode::BAD_REQUEST => ("BAD_REQUEST", "the request is invalid"),
        StatusCode::NOT_FOUND => ("NOT_FOUND", "no such route"),
        StatusCode::METHOD_NOT_ALLOWED => ("METHOD_NOT_ALLOWED", "this method is not allowed on this route"),
        StatusCode::PAYLOAD_TOO_LARGE => ("PAYLOAD_TOO_LARGE", "the request body is too large"),
        StatusCode::URI_TOO_LONG => ("URI_TOO_LONG", "the request path and query are too long"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ("UNSUPPORTED_MEDIA_TYPE", "the request body's type is not supported"),
        StatusCode::UNPROCESSABLE_ENTITY => ("UNPROCESSABLE_ENTITY", "the request cannot be processed"),
        s if s.is_server_error() => ("INTERNAL_ERROR", "the host failed to answer"),
        _ => ("HTTP_ERROR", "the request failed"),
    };
    let allow = response.headers().get(header::ALLOW).cloned();
    let text = match axum::body::to_bytes(response.into_body(), 4096).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).trim().to_string(),
        Err(_) => String::new(),
    };
    let message = if text.is_empty() { default_message.to_string() } else { crate::shown::id(&text) };
    let mut answer = ApiError::new(status, code, message).into_response();
    if let Some(allow) = allow {
        answer.headers_mut().insert(header::ALLOW, allow);
    }
    answer
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
        .route("/api/plugins/{name}", delete(plugins::uninstall))
        .route("/api/tenants", get(tenants::list).post(tenants::create))
        .route("/api/tenants/{id}", delete(tenants::delete))
        .route("/api/me", get(tenants::me))
        .route("/api/integration/providers", get(integrations::providers))
        .route("/api/integration", get(integrations::list).post(integrations::create))
        .route("/api/integration/test", post(integrations::test))
        .route("/api/integration/{id}", get(integrations::read).put(integrations::update).delete(integrations::delete))
        .route("/api/integration/{id}/views", get(views::manifests))
        .route("/api/integration/{id}/views/{view}/data", get(views::data))
        .route("/api/integration/{id}/views/{view}/actions/{action}", post(views::action))
        .route("/api/xpert", get(experts::list).post(experts::create))
        .route("/api/xpert/triggers", get(experts::trigger_descriptors))
        .route("/api/xpert/{id}", get(experts::read).delete(experts::delete))
        .route("/api/xpert/{id}/triggers", put(experts::set_triggers))
        .route("/api/xpert/{id}/publish", post(experts::publish))
        .route("/api/xpert/{id}/unpublish", post(experts::unpublish))
        .route("/api/xpert/{id}/chat", post(experts::chat))
        .route("/api/xpert/{id}/chat/stream", post(experts::chat_stream))
        .route("/api/{*rest}", axum::routing::any(plugin_routes::dispatch))
        .route("/metrics", get(metrics::serve))
        .fallback(not_found);
    api.with_state(state.clone())
        .merge(crate::web::router())
        .layer(axum::middleware::from_fn_with_state(state, authenticate))
        .layer(axum::middleware::from_fn(envelope_errors))
        .layer(axum::middleware::from_fn(limit_uri))
}

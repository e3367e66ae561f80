//! Plugin routes, mounted under `/api`: the request is handed to the plugin's handler as is
//! (raw query, lower-cased headers, size-limited body) and its answer returned as is.
//!
//! Whose installation serves it: a public route whose path names an `{integrationId}` (the
//! WeCom webhook) is served by the installation of the tenant that owns that integration; any
//! other route by the caller's tenant's installation.

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use host_sdk::HttpRequest;

use super::{read_body, ApiError, ApiResult, AppState, Caller, PluginAnswer};
use crate::shown;
use crate::store::DEFAULT_TENANT;

/// The path parameter that names an integration.
const INTEGRATION_PARAM: &str = "integrationId";

/// Which tenant owns an integration, as found in the store: an integration never moves to
/// another tenant, so a webhook's every call after the first skips the store read. An entry of a
/// deleted integration leads to its former tenant's installation, which finds no integration;
/// one whose tenant (or its plugin) is gone is forgotten by [`dispatch`], which then asks the
/// store again.
#[derive(Default)]
pub struct IntegrationTenants(parking_lot::Mutex<std::collections::HashMap<String, String>>);

/// The most integrations whose tenant is remembered; past it, the map starts over.
const REMEMBERED_TENANTS: usize = 16_384;

impl IntegrationTenants {
    /// The tenant of integration `id`, from memory or the store (absence is not remembered).
    async fn of(&self, store: &dyn crate::store::Store, id: &str) -> ApiResult<Option<String>> {
        if let Some(tenant) = self.0.lock().get(id) {
            return Ok(Some(tenant.clone()));
        }
        let tenant = store.integration_tenant(id.to_string()).await.map_err(ApiError::storage)?;
        if let Some(tenant) = &tenant {
            let mut known = self.0.lock();
            if known.len() >= REMEMBERED_TENANTS {
                known.clear();
            }
            known.insert(id.to_string(), tenant.clone());
        }
        Ok(tenant)
    }

    /// Drops what is remembered of integration `id` (it was deleted, or its owner is gone).
    pub fn forget(&self, id: &str) {
        self.0.lock().remove(id);
    }
}

/// The integration a public plugin route for `path` (below `/api`) names, if any.
fn integration_param(state: &AppState, method: &str, path: &str) -> Option<String> {
    let route = state.plugins.match_any_route(method, path)?;
    let (_, id) = route.params.into_iter().find(|(name, _)| name == INTEGRATION_PARAM).filter(|_| route.public)?;
    Some(id)
}

/// The tenant whose installation serves a request for `path` (below `/api`).
async fn serving_tenant(state: &AppState, caller: Option<&Caller>, method: &str, path: &str) -> ApiResult<String> {
    let route = state.plugins.match_any_route(method, path);
    if let Some(route) = route.filter(|r| r.public) {
        if let Some((_, id)) = route.params.iter().find(|(name, _)| name == INTEGRATION_PARAM) {
            return state.integration_tenants.of(state.store.as_ref(), id).await?.ok_or_else(|| {
                ApiError::not_found("INTEGRATION_NOT_FOUND", format!("integration {} does not exist", shown::id(id)))
            });
        }
        return Ok(caller.map_or_else(|| DEFAULT_TENANT.to_string(), |c| c.tenant.clone()));
    }
    caller
        .map(|c| c.tenant.clone())
        .ok_or_else(|| ApiError::new(StatusCode::UNAUTHORIZED, "UNAUTHORIZED", "missing or invalid bearer token"))
}

/// Any `/api/...` request no built-in route took.
pub async fn dispatch(State(state): State<AppState>, request: Request) -> ApiResult<Response> {
    let method = request.method().as_str().to_string();
    let path = request.uri().path().to_string();
    let below_api = path.strip_prefix("/api").unwrap_or(&path);
    let caller = request.extensions().get::<Caller>().cloned();
    let tenant = serving_tenant(&state, caller.as_ref(), &method, below_api).await?;
    let mut route = state.plugins.match_route(&tenant, &method, below_api);
    if route.is_none() {
        // A remembered owner whose installation is gone (the tenant deleted, or the plugin
        // uninstalled): what the store says now decides.
        if let Some(id) = integration_param(&state, &method, below_api) {
            state.integration_tenants.forget(&id);
            let tenant = serving_tenant(&state, caller.as_ref(), &method, below_api).await?;
            route = state.plugins.match_route(&tenant, &method, below_api);
        }
    }
    let Some(route) = route else {
        return Err(ApiError::not_found("NOT_FOUND", format!("no route {method} {}", shown::id(&path))));
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
    out.extensions_mut().insert(PluginAnswer);
    Ok(out.into_response())
}

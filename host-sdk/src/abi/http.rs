//! HTTP routes: the request/response pair and the handler trait.

use abi_stable::sabi_trait;
use abi_stable::std_types::{RBox, RResult, RString, RVec, Tuple2};
use abi_stable::StableAbi;
use async_ffi::FfiFuture;

use super::FfiError;
use crate::{HttpRequest, HttpResponse, RouteSpec};

/// A header or parameter pair.
pub type FfiPair = Tuple2<RString, RString>;

/// The FFI twin of [`RouteSpec`].
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiRouteSpec {
    /// Upper-case HTTP method.
    pub method: RString,
    /// Path below `/api` with `{name}` parameters.
    pub path: RString,
    /// Whether the route skips the bearer-token check.
    pub public: bool,
}

/// The FFI twin of [`HttpRequest`].
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiHttpRequest {
    /// Upper-case HTTP method.
    pub method: RString,
    /// Full request path.
    pub path: RString,
    /// Raw query string.
    pub query: RString,
    /// Route parameters.
    pub path_params: RVec<FfiPair>,
    /// Headers, names lower-cased.
    pub headers: RVec<FfiPair>,
    /// Body bytes.
    pub body: RVec<u8>,
}

/// The FFI twin of [`HttpResponse`].
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct FfiHttpResponse {
    /// Status code.
    pub status: u16,
    /// Headers.
    pub headers: RVec<FfiPair>,
    /// Body bytes.
    pub body: RVec<u8>,
}

/// Serves one plugin route. Implemented by the plugin, called by the host.
#[sabi_trait]
pub trait HttpHandler: Send + Sync {
    /// Answers one request. The future runs inside the plugin's runtime.
    #[sabi(last_prefix_field)]
    fn handle(&self, request: FfiHttpRequest) -> FfiFuture<RResult<FfiHttpResponse, FfiError>>;
}

/// The owned trait object the host stores for a route.
pub type HttpHandlerBox = HttpHandler_TO<'static, RBox<()>>;

fn pairs_to_ffi(pairs: Vec<(String, String)>) -> RVec<FfiPair> {
    pairs.into_iter().map(|(k, v)| Tuple2(k.into(), v.into())).collect()
}

fn pairs_from_ffi(pairs: RVec<FfiPair>) -> Vec<(String, String)> {
    pairs.into_iter().map(|Tuple2(k, v)| (k.into_string(), v.into_string())).collect()
}

impl From<RouteSpec> for FfiRouteSpec {
    fn from(r: RouteSpec) -> Self {
        FfiRouteSpec { method: r.method.into(), path: r.path.into(), public: r.public }
    }
}

impl From<FfiRouteSpec> for RouteSpec {
    fn from(r: FfiRouteSpec) -> Self {
        RouteSpec { method: r.method.into_string(), path: r.path.into_string(), public: r.public }
    }
}

impl From<HttpRequest> for FfiHttpRequest {
    fn from(r: HttpRequest) -> Self {
        FfiHttpRequest {
            method: r.method.into(),
            path: r.path.into(),
            query: r.query.into(),
            path_params: pairs_to_ffi(r.path_params),
            headers: pairs_to_ffi(r.headers),
            body: r.body.into(),
        }
    }
}

impl From<FfiHttpRequest> for HttpRequest {
    fn from(r: FfiHttpRequest) -> Self {
        HttpRequest {
            method: r.method.into_string(),
            path: r.path.into_string(),
            query: r.query.into_string(),
            path_params: pairs_from_ffi(r.path_params),
            headers: pairs_from_ffi(r.headers),
            body: r.body.into_vec(),
        }
    }
}

impl From<HttpResponse> for FfiHttpResponse {
    fn from(r: HttpResponse) -> Self {
        FfiHttpResponse { status: r.status, headers: pairs_to_ffi(r.headers), body: r.body.into() }
    }
}

impl From<FfiHttpResponse> for HttpResponse {
    fn from(r: FfiHttpResponse) -> Self {
        HttpResponse { status: r.status, headers: pairs_from_ffi(r.headers), body: r.body.into_vec() }
    }
}

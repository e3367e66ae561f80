//! Plain Rust HTTP types for plugin routes.

/// A route a plugin serves under the host's `/api` prefix.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RouteSpec {
    /// The HTTP method, upper case (`GET`, `POST`, …).
    pub method: String,
    /// The path below `/api`, with `{name}` segments for parameters, e.g. `/wecom/webhook/{integrationId}`.
    pub path: String,
    /// Public routes skip the host's bearer-token check (webhooks called by third parties).
    pub public: bool,
}

/// An HTTP request handed to a plugin route.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HttpRequest {
    /// The HTTP method, upper case.
    pub method: String,
    /// The full request path as received, e.g. `/api/wecom/webhook/42`.
    pub path: String,
    /// The raw query string without `?` (still percent-encoded; the plugin decodes it).
    pub query: String,
    /// Values of the route's `{name}` segments.
    pub path_params: Vec<(String, String)>,
    /// Request headers, names lower-cased.
    pub headers: Vec<(String, String)>,
    /// The raw body (already size-limited by the host).
    pub body: Vec<u8>,
}

impl HttpRequest {
    /// The value of a path parameter.
    pub fn path_param(&self, name: &str) -> Option<&str> {
        self.path_params.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    /// The first header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// A plugin route's answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// Response headers.
    pub headers: Vec<(String, String)>,
    /// The body bytes.
    pub body: Vec<u8>,
}

impl HttpResponse {
    /// A response with a status, a content type and a body.
    pub fn new(status: u16, content_type: &str, body: impl Into<Vec<u8>>) -> Self {
        HttpResponse { status, headers: vec![("content-type".into(), content_type.into())], body: body.into() }
    }
    /// `200 text/plain; charset=utf-8`.
    pub fn text(status: u16, body: impl Into<String>) -> Self {
        Self::new(status, "text/plain; charset=utf-8", body.into().into_bytes())
    }
    /// A JSON body with the given status.
    pub fn json(status: u16, value: &serde_json::Value) -> Self {
        Self::new(status, "application/json; charset=utf-8", value.to_string().into_bytes())
    }
}

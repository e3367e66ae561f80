//! The web UI (owned by the UI work): static pages served by the host itself.

/// Routes serving the UI; mounted at `/` by the server.
pub fn router() -> axum::Router {
    axum::Router::new()
}

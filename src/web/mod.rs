//! The web UI: a small single-page app (plain HTML, CSS and JavaScript ES modules, embedded in
//! the binary, no build step) that drives the JSON API of `host-api.md`. Pages: Plugins,
//! Settings → System Integrations (forms rendered from the providers' schemas, and the
//! integration detail page rendering the plugins' tabs), and Digital Experts with the WeCom
//! Trigger.
//!
//! `/` serves the page; `/ui/…` serves the assets listed in [`ASSETS`].

use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

const INDEX: &str = include_str!("assets/index.html");

/// Every asset under `/ui/`: path below `/ui/`, content type, content.
pub const ASSETS: &[(&str, &str, &str)] = &[
    ("style.css", "text/css; charset=utf-8", include_str!("assets/style.css")),
    ("js/app.js", "text/javascript; charset=utf-8", include_str!("assets/js/app.js")),
    ("js/api.js", "text/javascript; charset=utf-8", include_str!("assets/js/api.js")),
    ("js/dom.js", "text/javascript; charset=utf-8", include_str!("assets/js/dom.js")),
    ("js/i18n.js", "text/javascript; charset=utf-8", include_str!("assets/js/i18n.js")),
    ("js/pages/plugins.js", "text/javascript; charset=utf-8", include_str!("assets/js/pages/plugins.js")),
    ("js/pages/integrations.js", "text/javascript; charset=utf-8", include_str!("assets/js/pages/integrations.js")),
    (
        "js/pages/integration-detail.js",
        "text/javascript; charset=utf-8",
        include_str!("assets/js/pages/integration-detail.js"),
    ),
    ("js/pages/experts.js", "text/javascript; charset=utf-8", include_str!("assets/js/pages/experts.js")),
];

/// Routes serving the UI; mounted at `/` by the server.
pub fn router() -> Router {
    Router::new().route("/", get(index)).route("/index.html", get(index)).route("/ui/{*path}", get(asset))
}

async fn index() -> Response {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], INDEX).into_response()
}

async fn asset(Path(path): Path<String>) -> Response {
    match ASSETS.iter().find(|(p, _, _)| *p == path) {
        Some((_, content_type, body)) => {
            ([(header::CONTENT_TYPE, *content_type), (header::CACHE_CONTROL, "no-cache")], *body).into_response()
        }
        None => (StatusCode::NOT_FOUND, [(header::CONTENT_TYPE, "text/plain; charset=utf-8")], "not found\n")
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every module a script imports (`from './x.js'` / `'../x.js'`) is an embedded asset, and so
    /// is every asset the page links.
    #[test]
    fn every_import_is_served() {
        for (path, _, body) in ASSETS {
            let dir = path.rsplit_once('/').map(|(d, _)| d).unwrap_or("");
            for line in body.lines().filter(|l| l.trim_start().starts_with("import ")) {
                let spec = line.split(['\'', '"']).nth(1).expect("import has a quoted specifier");
                let mut parts: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
                for seg in spec.split('/') {
                    match seg {
                        "." => {}
                        ".." => {
                            parts.pop();
                        }
                        s => parts.push(s),
                    }
                }
                let target = parts.join("/");
                assert!(ASSETS.iter().any(|(p, _, _)| *p == target), "{path} imports {spec} ({target}), not embedded");
            }
        }
        for link in ["/ui/style.css", "/ui/js/app.js"] {
            assert!(INDEX.contains(link), "index.html links {link}");
            assert!(ASSETS.iter().any(|(p, _, _)| format!("/ui/{p}") == link));
        }
    }

    /// Both languages define the same UI texts.
    #[test]
    fn both_languages_have_the_same_keys() {
        let i18n = ASSETS.iter().find(|(p, _, _)| *p == "js/i18n.js").unwrap().2;
        let block = |name: &str| -> Vec<String> {
            let start = i18n.find(&format!("  {name}: {{")).expect("language block");
            let body = &i18n[start..];
            let end = body.find("\n  },").expect("end of block");
            let mut keys: Vec<String> = body[..end]
                .split([',', '{', '\n'])
                .filter_map(|s| s.trim().split_once(':').map(|(k, _)| k.trim().to_string()))
                .filter(|k| !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric()))
                .collect();
            keys.sort();
            keys.dedup();
            keys
        };
        assert_eq!(block("en_US"), block("zh_Hans"));
    }
}

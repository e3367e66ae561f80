//! `GET /metrics`: the host's own metrics and every plugin installation's, in the Prometheus
//! text exposition format (0.0.4), behind the admin token. Each installation renders its own
//! registry (labelled with its tenant); the host merges metric families that several
//! installations share, since the format allows each family's `# HELP`/`# TYPE` only once.

use axum::extract::State;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq;

use super::AppState;

/// The Prometheus text format's content type.
const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// One metric family: its header lines and its samples, in order of appearance.
#[derive(Default)]
struct Family {
    help: Option<String>,
    kind: Option<String>,
    samples: Vec<String>,
}

/// The family a `# HELP name …` or `# TYPE name …` line introduces.
fn header_name(line: &str) -> Option<(&str, &str)> {
    let rest = line.strip_prefix("# HELP ").or_else(|| line.strip_prefix("# TYPE "))?;
    let name = rest.split_whitespace().next()?;
    Some((name, &line[..6]))
}

/// Merges texts in the Prometheus text format: families with the same name are written once,
/// with all their samples; families keep the order in which they first appear. A sample belongs
/// to the family whose header precedes it (the format requires that order).
pub fn merge(texts: &[String]) -> String {
    let mut order: Vec<String> = Vec::new();
    let mut families: std::collections::HashMap<String, Family> = std::collections::HashMap::new();
    for text in texts {
        let mut current: Option<String> = None;
        for line in text.lines().map(str::trim_end).filter(|l| !l.is_empty()) {
            if let Some((name, which)) = header_name(line) {
                if !families.contains_key(name) {
                    order.push(name.to_string());
                }
                let family = families.entry(name.to_string()).or_default();
                let slot = if which == "# HELP" { &mut family.help } else { &mut family.kind };
                slot.get_or_insert_with(|| line.to_string());
                current = Some(name.to_string());
            } else if line.starts_with('#') {
                continue;
            } else if let Some(family) = current.as_ref().and_then(|name| families.get_mut(name)) {
                family.samples.push(line.to_string());
            }
        }
    }
    let mut out = String::new();
    for name in order {
        let family = &families[&name];
        for line in family.help.iter().chain(family.kind.iter()).chain(family.samples.iter()) {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// The host's own families: its build and instance, and installations per plugin.
fn host_metrics(state: &AppState) -> String {
    let mut out =
        String::from("# HELP xpert_host_info The host's version and instance id.\n# TYPE xpert_host_info gauge\n");
    out.push_str(&format!(
        "xpert_host_info{{version=\"{}\",instance=\"{}\"}} 1\n",
        env!("CARGO_PKG_VERSION"),
        escape_label(&state.instance_id)
    ));
    out.push_str("# HELP xpert_plugin_installations Plugin installations on this host.\n");
    out.push_str("# TYPE xpert_plugin_installations gauge\n");
    for (plugin, count) in state.plugins.installation_counts() {
        out.push_str(&format!("xpert_plugin_installations{{plugin=\"{}\"}} {count}\n", escape_label(&plugin)));
    }
    out
}

/// A label value with `\`, `"` and newlines escaped as the format requires.
fn escape_label(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

/// `GET /metrics` (admin token required: labels name tenants and integrations).
pub async fn serve(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
        .unwrap_or_default();
    if !bool::from(token.as_bytes().ct_eq(state.admin_token.as_bytes())) || token.is_empty() {
        return (StatusCode::UNAUTHORIZED, [(header::WWW_AUTHENTICATE, "Bearer")], "the admin token is required\n")
            .into_response();
    }
    let plugins = state.clone();
    let texts = tokio::task::spawn_blocking(move || plugins.plugins.metrics_texts()).await.unwrap_or_default();
    let mut all = vec![host_metrics(&state)];
    all.extend(texts);
    (StatusCode::OK, [(header::CONTENT_TYPE, CONTENT_TYPE)], merge(&all)).into_response()
}

#[cfg(test)]
mod tests {
    use super::merge;

    #[test]
    fn families_shared_by_installations_are_written_once_with_all_samples() {
        let a = "# HELP wecom_subscribes_total Accepted subscribes.\n# TYPE wecom_subscribes_total counter\nwecom_subscribes_total{integration=\"i1\",tenant=\"a\"} 1\n".to_string();
        let b = "# HELP wecom_subscribes_total Accepted subscribes.\n# TYPE wecom_subscribes_total counter\nwecom_subscribes_total{integration=\"i2\",tenant=\"b\"} 3\n# HELP other x\n# TYPE other gauge\nother 2\n".to_string();
        let merged = merge(&[a, b]);
        assert_eq!(
            merged,
            "# HELP wecom_subscribes_total Accepted subscribes.\n# TYPE wecom_subscribes_total counter\n\
             wecom_subscribes_total{integration=\"i1\",tenant=\"a\"} 1\n\
             wecom_subscribes_total{integration=\"i2\",tenant=\"b\"} 3\n# HELP other x\n# TYPE other gauge\nother 2\n"
        );
    }
}

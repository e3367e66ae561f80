//! Helpers for the end-to-end tests that start the real `xpert-host` binary.
#![allow(dead_code)]

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use testkit::process::ChildServer;

/// The token every test host uses.
pub const TOKEN: &str = "test-admin-token-7f3a";

/// The official sample EncodingAESKey and Token (wecom-protocol.md §1.8).
pub const AES_KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
/// Token of the sample.
pub const WECOM_TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";

/// A running host and an HTTP client for it.
pub struct Host {
    /// The process.
    pub server: ChildServer,
    /// The client.
    pub http: reqwest::Client,
}

/// Starts the host on a free port with `data_dir` and extra environment.
pub async fn start(data_dir: &Path, extra: &[(&str, &str)]) -> Host {
    let mut envs = vec![
        ("XPERT_DATA_DIR", data_dir.to_str().unwrap()),
        ("XPERT_LISTEN", "127.0.0.1:0"),
        ("XPERT_ADMIN_TOKEN", TOKEN),
        ("RUST_LOG", "info"),
        // Tests never reach WeCom itself: a closed loopback port unless a test brings a simulator.
        ("WECOM_WS_URL", "ws://127.0.0.1:9"),
        ("WECOM_BACKOFF_MAX_MS", "2000"),
    ];
    envs.extend_from_slice(extra);
    let server = ChildServer::spawn(env!("CARGO_BIN_EXE_xpert-host"), &[], &envs).await.expect("host starts");
    Host { server, http: reqwest::Client::new() }
}

impl Host {
    /// `http://ADDR/api…`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.server.base_url(), path)
    }

    /// An authenticated request (admin token) with an optional JSON body; returns status and
    /// JSON (or the text as a JSON string).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_as(TOKEN, method, path, body).await
    }

    /// A request with `token` as the bearer token.
    pub async fn call_as(&self, token: &str, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), self.url(path))
            .bearer_auth(token)
            .timeout(Duration::from_secs(30));
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap_or_default();
        (status, serde_json::from_str(&text).unwrap_or(Value::String(text)))
    }

    /// GET.
    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    /// POST with a JSON body.
    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }

    /// Creates a tenant (admin token); returns its id and its token.
    pub async fn create_tenant(&self, name: &str) -> (String, String) {
        let (status, body) = self.post("/api/tenants", serde_json::json!({"name": name})).await;
        assert_eq!(status, 201, "{body}");
        (body["id"].as_str().unwrap().to_string(), body["token"].as_str().unwrap().to_string())
    }

    /// Installs the WeCom plugin at tenant level in the tenant of `token`.
    pub async fn install_wecom_as(&self, token: &str) {
        let body = serde_json::json!({"name": "wecom", "level": "tenant"});
        let (status, body) = self.call_as(token, "POST", "/api/plugins/install", Some(body)).await;
        assert_eq!(status, 200, "{body}");
    }

    /// GETs `path` until `done` holds for its JSON answer (state that another task of the host
    /// writes, such as a connection's status), for at most 10 s; returns the last answer.
    pub async fn wait_json(&self, path: &str, done: impl Fn(&Value) -> bool) -> Value {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        loop {
            let (_, body) = self.get(path).await;
            if done(&body) || std::time::Instant::now() >= deadline {
                return body;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    /// Installs the WeCom plugin at tenant level.
    pub async fn install_wecom(&self) {
        let (status, body) =
            self.post("/api/plugins/install", serde_json::json!({"name": "wecom", "level": "tenant"})).await;
        assert_eq!(status, 200, "{body}");
    }
}

/// Drops the probe fixture plugin (routes that panic on request) into `data_dir/plugins/probe/`,
/// as an operator would drop a plugin in, before the host starts.
pub fn drop_in_probe_plugin(data_dir: &Path) {
    let folder = data_dir.join("plugins").join("probe");
    std::fs::create_dir_all(&folder).unwrap();
    std::fs::write(folder.join("manifest.toml"), fixture_probe_plugin::manifest()).unwrap();
    let file = format!("{}fixture_probe_plugin{}", std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    let built = std::env::current_exe().unwrap().parent().unwrap().join(&file);
    std::fs::copy(built, folder.join(&file)).unwrap();
}

//! End-to-end: the real host binary, its SQLite file and the real plugin, driven over HTTP
//! through the contract of host-api.md.

mod host_common;

use std::time::Duration;

use host_common::*;
use serde_json::{json, Value};

fn short_options() -> Value {
    json!({"token": WECOM_TOKEN, "encodingAesKey": AES_KEY})
}

/// The derived smart-bot URL-verification vector (wecom-protocol.md §1.8), percent-encoded.
const VERIFY_QUERY: &str = "msg_signature=d7fe3794f02ebe970e006a79062638ed51f2ec8f&timestamp=1700000000&nonce=nonce123&echostr=scEag1243Fmy%2FfYz4Ux8D4VyGL33CiZE7jU1zRSmEGdDa8cZHZaZX92v4qThQP5vdPKv%2FGTtjH8%2FN6byF0w85w%3D%3D";

#[tokio::test]
async fn plugin_install_levels_and_the_provider_gate() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;

    let health: Value = host.http.get(host.url("/api/health")).send().await.unwrap().json().await.unwrap();
    assert_eq!(health["status"], "ok", "health needs no token");

    let resp = host.http.get(host.url("/api/plugins")).send().await.unwrap();
    assert_eq!(resp.status().as_u16(), 401);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["code"], "UNAUTHORIZED");

    let (_, available) = host.get("/api/plugins/available").await;
    assert_eq!(available[0]["name"], "wecom", "the bundled build is dropped in: {available}");
    assert_eq!(available[0]["installed"], false);
    assert_eq!(available[0]["abiVersion"], host_sdk::ABI_VERSION);

    let (status, body) =
        host.post("/api/integration", json!({"name": "s", "provider": "wecom", "options": short_options()})).await;
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "PROVIDER_NOT_FOUND");
    assert!(body["error"]["message"].as_str().unwrap().contains("tenant level"), "{body}");
    let (status, body) = host.post("/api/integration", json!({"name": "x", "provider": "slack", "options": {}})).await;
    assert_eq!((status, body["error"]["code"].as_str()), (404, Some("PROVIDER_NOT_FOUND")));
    let message = body["error"]["message"].as_str().unwrap();
    assert!(message.contains("\"slack\"") && !message.contains("WeCom"), "names the provider asked for: {message}");

    let (status, body) = host.post("/api/plugins/install", json!({"name": "wecom", "level": "organization"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["level"], "organization");
    assert!(
        body["warnings"].as_array().unwrap().iter().any(|w| w.as_str().unwrap().contains("tenant level")),
        "{body}"
    );
    let (_, providers) = host.get("/api/integration/providers").await;
    assert_eq!(providers, json!([]), "no provider below tenant level");

    let (status, _) = host.post("/api/plugins/install", json!({"name": "wecom", "level": "galaxy"})).await;
    assert_eq!(status, 400);

    host.install_wecom().await;
    let (_, providers) = host.get("/api/integration/providers").await;
    let names: Vec<&str> = providers.as_array().unwrap().iter().map(|p| p["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["wecom", "wecom_long"]);
    assert_eq!(providers[1]["label"]["zh_Hans"], "企业微信-长连接");
    let (_, installed) = host.get("/api/plugins").await;
    assert_eq!(installed[0]["level"], "tenant");
    assert_eq!(installed[0]["abiVersion"], host_sdk::ABI_VERSION);
}

#[tokio::test]
async fn integrations_mask_secrets_keep_them_on_update_and_verify_the_webhook() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[("API_BASE_URL", "https://xpert.example.com")]).await;
    host.install_wecom().await;

    let (status, bad) = host
        .post(
            "/api/integration",
            json!({"name": "s", "provider": "wecom", "options": {"token": "t", "encodingAesKey": "short"}}),
        )
        .await;
    assert_eq!(status, 422);
    assert_eq!(bad["error"]["message"], "encodingAesKey must be exactly 43 characters (got 5)");

    let (status, created) =
        host.post("/api/integration", json!({"name": "short", "provider": "wecom", "options": short_options()})).await;
    assert_eq!(status, 201, "{created}");
    let id = created["id"].as_str().unwrap().to_string();
    assert_eq!(created["options"]["token"], "******");
    assert_eq!(created["options"]["encodingAesKey"], "******");
    assert_eq!(created["setup"]["callbackUrl"], format!("https://xpert.example.com/api/wecom/webhook/{id}"));

    let (_, read) = host.get(&format!("/api/integration/{id}")).await;
    assert_eq!(read["options"]["token"], "******");
    assert!(!read.to_string().contains(WECOM_TOKEN) && !read.to_string().contains(AES_KEY));

    // Send the masks back with a new name: the stored secrets must survive, which the webhook's
    // URL verification (signed with the real token, encrypted with the real key) proves.
    let (status, updated) = host
        .call(
            "PUT",
            &format!("/api/integration/{id}"),
            Some(json!({"name": "renamed", "provider": "wecom", "options": {"token": "******", "encodingAesKey": "******"}})),
        )
        .await;
    assert_eq!(status, 200, "{updated}");
    assert_eq!(updated["name"], "renamed");
    let verify = host.http.get(host.url(&format!("/api/wecom/webhook/{id}?{VERIFY_QUERY}"))).send().await.unwrap();
    assert_eq!(verify.status().as_u16(), 200, "public route, no token needed");
    assert_eq!(verify.text().await.unwrap(), "1288432023552776189");
    let probe = host.http.get(host.url(&format!("/api/wecom/webhook/{id}"))).send().await.unwrap();
    assert_eq!(probe.text().await.unwrap(), "success");

    let (status, tested) = host
        .post("/api/integration/test", json!({"provider": "wecom_long", "options": {"botId": "b1", "secret": "s"}}))
        .await;
    assert_eq!(status, 200);
    // The test really subscribes; WeCom is a closed loopback port in this test.
    assert_eq!(tested["ok"], false, "{tested}");
    assert_eq!(tested["checked"], "connection");
    assert!(tested["message"]["en_US"].as_str().unwrap().starts_with("WeCom is unreachable"), "{tested}");
    assert_eq!(tested["setup"]["mode"], "long_connection");
    let (status, _) =
        host.post("/api/integration/test", json!({"provider": "wecom_long", "options": {"botId": "b1"}})).await;
    assert_eq!(status, 422);

    let (_, list) = host.get("/api/integration").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    let (status, _) = host.call("DELETE", &format!("/api/integration/{id}"), None).await;
    assert_eq!(status, 204);
    let (status, gone) = host.get(&format!("/api/integration/{id}")).await;
    assert_eq!(status, 404);
    assert_eq!(gone["error"]["code"], "INTEGRATION_NOT_FOUND");
}

#[tokio::test]
async fn publish_runs_the_trigger_checklist_and_unpublish_frees_the_integration() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    host.install_wecom().await;
    let (_, integration) = host
        .post(
            "/api/integration",
            json!({"name": "bot", "provider": "wecom_long", "options": {"botId": "aib1", "secret": "s3cr3t"}}),
        )
        .await;
    let integration_id = integration["id"].as_str().unwrap().to_string();
    let trigger = json!([{"provider": "wecom", "config": {"enabled": true, "integrationId": integration_id, "sessionTimeoutSeconds": 3600, "summaryWindowSeconds": 0}}]);

    let mut experts = Vec::new();
    for name in ["first", "second"] {
        let (status, x) = host.post("/api/xpert", json!({"name": name, "agent": {"kind": "echo"}})).await;
        assert_eq!(status, 201, "{x}");
        let id = x["id"].as_str().unwrap().to_string();
        let (status, saved) = host.call("PUT", &format!("/api/xpert/{id}/triggers"), Some(trigger.clone())).await;
        assert_eq!(status, 200, "{saved}");
        experts.push(id);
    }
    let (status, ok) = host.post(&format!("/api/xpert/{}/publish", experts[0]), json!({})).await;
    assert_eq!((status, ok["published"].clone()), (200, json!(true)));
    let (status, refused) = host.post(&format!("/api/xpert/{}/publish", experts[1]), json!({})).await;
    assert_eq!(status, 422);
    assert_eq!(refused["error"]["code"], "PUBLISH_VALIDATION_FAILED");
    assert_eq!(refused["checklist"][0]["code"], "TRIGGER_WECOM_INTEGRATION_CONFLICT");
    assert_eq!(refused["checklist"][0]["level"], "error");

    // Two experts publishing one integration at the same time: one wins, and the other — refused
    // by validation or by losing the race in the plugin — gets the checklist that says why.
    let (_, other) = host
        .post(
            "/api/integration",
            json!({"name": "bot2", "provider": "wecom_long", "options": {"botId": "aib2", "secret": "s3cr3t"}}),
        )
        .await;
    let other_id = other["id"].as_str().unwrap().to_string();
    let race_trigger = json!([{"provider": "wecom", "config": {"enabled": true, "integrationId": other_id}}]);
    let mut racers = Vec::new();
    for name in ["racer-a", "racer-b"] {
        let (_, x) = host.post("/api/xpert", json!({"name": name, "agent": {"kind": "echo"}})).await;
        let id = x["id"].as_str().unwrap().to_string();
        host.call("PUT", &format!("/api/xpert/{id}/triggers"), Some(race_trigger.clone())).await;
        racers.push(id);
    }
    let (path_a, path_b) = (format!("/api/xpert/{}/publish", racers[0]), format!("/api/xpert/{}/publish", racers[1]));
    let (a, b) = tokio::join!(host.post(&path_a, json!({})), host.post(&path_b, json!({})));
    let mut outcomes = [a, b];
    outcomes.sort_by_key(|(status, _)| *status);
    assert_eq!(outcomes[0].0, 200, "{outcomes:?}");
    let (status, loser) = &outcomes[1];
    assert!(*status == 409 || *status == 422, "{loser}");
    assert_eq!(loser["checklist"][0]["code"], "TRIGGER_WECOM_INTEGRATION_CONFLICT", "never a bare refusal: {loser}");

    let (_, x) = host.get(&format!("/api/xpert/{}", experts[0])).await;
    assert_eq!(x["published"], true);
    assert_eq!(x["triggers"], trigger);

    // The status view shows the binding took effect: nothing blocks the connection any more, so
    // an instance owns it and tries to connect (WeCom is a closed port in this test).
    let status_path = format!("/api/integration/{integration_id}/views/status/data");
    let status_view = host.wait_json(&status_path, |v| v["item"]["ownerInstanceId"].is_string()).await;
    assert_eq!(status_view["item"]["disabledReason"], Value::Null, "{status_view}");
    assert!(status_view["item"]["ownerInstanceId"].is_string(), "{status_view}");

    let (status, off) = host.post(&format!("/api/xpert/{}/unpublish", experts[0]), json!({})).await;
    assert_eq!((status, off), (200, json!({"published": false})));
    let status_view = host.wait_json(&status_path, |v| v["item"]["disabledReason"] == "xpert_unbound").await;
    assert_eq!(status_view["item"]["disabledReason"], "xpert_unbound", "unpublishing stops it: {status_view}");
    let (status, _) = host.post(&format!("/api/xpert/{}/publish", experts[1]), json!({})).await;
    assert_eq!(status, 200, "the integration is free again");

    let (status, missing) = host.post("/api/xpert/nope/publish", json!({})).await;
    assert_eq!((status, missing["error"]["code"].clone()), (404, json!("XPERT_NOT_FOUND")));
}

#[tokio::test]
async fn views_render_status_and_sessions_with_actions() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    host.install_wecom().await;
    let (_, long) = host
        .post(
            "/api/integration",
            json!({"name": "bot", "provider": "wecom_long", "options": {"botId": "aib9", "secret": "s"}}),
        )
        .await;
    let id = long["id"].as_str().unwrap();
    let (_, tabs) = host.get(&format!("/api/integration/{id}/views")).await;
    let keys: Vec<&str> = tabs.as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["status", "sessions"]);
    assert_eq!(tabs[0]["kind"], "stats");
    assert_eq!(tabs[1]["kind"], "table");

    let (_, data) = host.get(&format!("/api/integration/{id}/views/status/data")).await;
    assert_eq!(data["item"]["botId"], "aib9");
    assert_eq!(data["item"]["connectionMode"], "long_connection");
    let (status, answer) =
        host.post(&format!("/api/integration/{id}/views/status/actions/disconnect"), json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(answer["success"], true);
    assert!(answer["message"]["en_US"].is_string());
    let (_, data) = host.get(&format!("/api/integration/{id}/views/status/data")).await;
    assert_eq!(data["item"]["disabledReason"], "manual_disconnect");

    let (_, sessions) = host
        .get(&format!(
            "/api/integration/{id}/views/sessions/data?page=1&pageSize=5&search=x&sortBy=updatedAt&sortDirection=desc"
        ))
        .await;
    assert_eq!(sessions, json!({"items": [], "total": 0}));
    let (status, err) = host.post(&format!("/api/integration/{id}/views/sessions/actions/reset"), json!({})).await;
    assert_eq!(status, 400, "{err}");
    let (status, _) = host.get(&format!("/api/integration/{id}/views/nope/data")).await;
    assert_eq!(status, 404);
    let (status, _) = host.get(&format!("/api/integration/{id}/views/sessions/data?page=abc")).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn bad_requests_get_clear_errors_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[("XPERT_MAX_BODY_BYTES", "4096")]).await;
    host.install_wecom().await;
    let malformed = host
        .http
        .post(host.url("/api/integration"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{\"provider\": ")
        .send()
        .await
        .unwrap();
    assert_eq!(malformed.status().as_u16(), 400);
    let body: Value = malformed.json().await.unwrap();
    assert_eq!(body["error"]["code"], "INVALID_JSON");
    assert!(body["error"]["message"].as_str().unwrap().starts_with("malformed JSON body"));

    let huge = json!({"provider": "wecom", "options": {"token": "x".repeat(10_000)}});
    let (status, body) = host.post("/api/integration", huge).await;
    assert_eq!(status, 413);
    assert_eq!(body["error"]["code"], "PAYLOAD_TOO_LARGE");

    let (status, body) = host.get("/api/no/such/route").await;
    assert_eq!((status, body["error"]["code"].clone()), (404, json!("NOT_FOUND")));
    let (_, list) = host.get("/api/integration").await;
    assert_eq!(list, json!([]), "nothing was created");
}

#[tokio::test]
async fn a_panicking_plugin_call_is_an_error_and_the_host_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    drop_in_probe_plugin(dir.path());
    let host = start(dir.path(), &[]).await;
    host.install_wecom().await;
    let (status, body) = host.post("/api/plugins/install", json!({"name": "probe", "level": "tenant"})).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = host.get("/api/probe/panic").await;
    assert_eq!(status, 500, "{body}");
    assert_eq!(body["error"]["code"], "PLUGIN_PANICKED");
    let (status, _) = host.get("/api/wecom/ping").await;
    assert_eq!(status, 200);
    let (status, _) = host.get("/api/health").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_restart_keeps_everything_and_logs_hold_no_secret() {
    let dir = tempfile::tempdir().unwrap();
    let secret = "SUPER-SECRET-LONG-CONN-9876";
    let (integration_id, xpert_id) = {
        let mut host = start(dir.path(), &[]).await;
        host.install_wecom().await;
        let (_, integration) = host
            .post(
                "/api/integration",
                json!({"name": "bot", "provider": "wecom_long", "options": {"botId": "aibR", "secret": secret}}),
            )
            .await;
        let integration_id = integration["id"].as_str().unwrap().to_string();
        let (_, x) = host.post("/api/xpert", json!({"name": "x", "agent": {"kind": "echo"}})).await;
        let xpert_id = x["id"].as_str().unwrap().to_string();
        let triggers = json!([{"provider": "wecom", "config": {"enabled": true, "integrationId": integration_id}}]);
        host.call("PUT", &format!("/api/xpert/{xpert_id}/triggers"), Some(triggers)).await;
        let (status, _) = host.post(&format!("/api/xpert/{xpert_id}/publish"), json!({})).await;
        assert_eq!(status, 200);
        let exit = host.server.stop(Duration::from_secs(20)).await.expect("graceful exit");
        assert!(exit.success(), "SIGTERM ends the host cleanly: {exit:?}");
        let output = host.server.output().await;
        assert!(output.contains("xpert-host stopped"), "{output}");
        assert!(output.contains("plugin=\"wecom\""), "plugin events are tagged with the plugin: {output}");
        assert!(!output.contains(secret), "a secret reached the logs");
        (integration_id, xpert_id)
    };
    let host = start(dir.path(), &[]).await;
    let (_, installed) = host.get("/api/plugins").await;
    assert_eq!(installed[0]["level"], "tenant", "installs are restored");
    let (status, integration) = host.get(&format!("/api/integration/{integration_id}")).await;
    assert_eq!(status, 200);
    assert_eq!(integration["options"]["secret"], "******");
    let (_, x) = host.get(&format!("/api/xpert/{xpert_id}")).await;
    assert_eq!(x["published"], true);
    let (_, status_view) = host.get(&format!("/api/integration/{integration_id}/views/status/data")).await;
    assert_ne!(status_view["item"]["disabledReason"], "xpert_unbound", "the binding survived: {status_view}");
    assert!(!host.server.output().await.contains(secret));
}

#[tokio::test]
async fn the_cli_explains_itself_and_refuses_bad_configuration_in_one_line() {
    let bin = env!("CARGO_BIN_EXE_xpert-host");
    let (status, out, _) = testkit::process::run(bin, &["--help"], &[]).await.unwrap();
    assert!(status.success());
    assert!(out.contains("serve") && out.contains("XPERT_LISTEN") && out.contains("WECOM_WS_URL"), "{out}");
    let (status, out, _) = testkit::process::run(bin, &["--version"], &[]).await.unwrap();
    assert!(status.success() && out.starts_with("xpert-host "), "{out}");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    let (status, _, err) =
        testkit::process::run(bin, &[], &[("XPERT_DATA_DIR", data), ("XPERT_LISTEN", "not-an-address")]).await.unwrap();
    assert!(!status.success());
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    assert!(err.contains("invalid XPERT_LISTEN"), "{err}");

    let file = dir.path().join("a-file");
    std::fs::write(&file, "x").unwrap();
    let (status, _, err) = testkit::process::run(
        bin,
        &[],
        &[("XPERT_DATA_DIR", file.join("sub").to_str().unwrap()), ("XPERT_LISTEN", "127.0.0.1:0")],
    )
    .await
    .unwrap();
    assert!(!status.success());
    assert!(err.lines().any(|l| l.contains("data directory") && l.contains("not writable")), "{err}");
}

/// A raw request (admin token); returns status, content type and body text.
async fn raw(host: &Host, method: &str, path: &str) -> (u16, String, String) {
    let resp = host.http.request(method.parse().unwrap(), host.url(path)).bearer_auth(TOKEN).send().await.unwrap();
    let status = resp.status().as_u16();
    let content_type = resp.headers().get("content-type").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    (status, content_type, resp.text().await.unwrap())
}

/// The `{"error":{"code","message"}}` of an answer, or a panic naming what came instead.
fn envelope(what: &str, status: u16, body: &str) -> (String, String) {
    let v: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("{what}: {status} is not JSON: {body:?}"));
    let code = v["error"]["code"].as_str().unwrap_or_else(|| panic!("{what}: no error.code: {v}"));
    let message = v["error"]["message"].as_str().unwrap_or_else(|| panic!("{what}: no error.message: {v}"));
    (code.to_string(), message.to_string())
}

#[tokio::test]
async fn every_error_answer_carries_the_envelope_and_plugin_answers_pass_untouched() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    host.install_wecom().await;
    let (_, created) =
        host.post("/api/integration", json!({"name": "s", "provider": "wecom", "options": short_options()})).await;
    let id = created["id"].as_str().unwrap().to_string();
    let long_path = format!("/api/integration/{}", "a".repeat(9_000));
    let cases: Vec<(&str, String, u16, &str)> = vec![
        ("PATCH", format!("/api/integration/{id}"), 405, "METHOD_NOT_ALLOWED"),
        ("GET", format!("/api/xpert/{id}/publish"), 405, "METHOD_NOT_ALLOWED"),
        ("GET", long_path, 414, "URI_TOO_LONG"),
        ("GET", "/api/integration/%FF".into(), 400, "INVALID_PATH"),
        ("GET", "/api/integration/%FF/views/status/data".into(), 400, "INVALID_PATH"),
        ("GET", format!("/api/integration/{id}/views/sessions/data?page=abc"), 400, "INVALID_QUERY"),
        ("GET", "/api/no/such/route".into(), 404, "NOT_FOUND"),
        ("POST", "/api/xpert".into(), 400, "INVALID_JSON"),
    ];
    for (method, path, status, code) in cases {
        let shown_path = &path[..path.len().min(80)];
        let (got, content_type, body) = raw(&host, method, &path).await;
        assert_eq!(got, status, "{method} {shown_path}: {body}");
        assert!(content_type.starts_with("application/json"), "{method} {shown_path}: {content_type}");
        assert_eq!(envelope(shown_path, got, &body).0, code, "{method} {shown_path}");
    }
    // The 405 still says which methods the route takes.
    let resp = host.http.patch(host.url(&format!("/api/integration/{id}"))).bearer_auth(TOKEN).send().await.unwrap();
    let allow = resp.headers().get("allow").map(|v| v.to_str().unwrap().to_string()).unwrap_or_default();
    assert!(allow.contains("GET") && allow.contains("PUT") && allow.contains("DELETE"), "Allow: {allow:?}");
    // A JSON body of the wrong shape is a JSON rejection too.
    let (status, body) = host.post("/api/integration", json!({"provider": 5})).await;
    assert_eq!((status, body["error"]["code"].clone()), (400, json!("INVALID_JSON")), "{body}");

    // The plugin's own answers, errors included, are passed through as the plugin wrote them.
    let (status, content_type, body) = raw(&host, "GET", &format!("/api/wecom/webhook/{id}")).await;
    assert_eq!((status, body.as_str()), (200, "success"));
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let bad_signature = format!("/api/wecom/webhook/{id}?msg_signature=0&timestamp=1&nonce=n&echostr=e");
    let (status, content_type, body) = raw(&host, "GET", &bad_signature).await;
    assert_eq!((status, body.as_str()), (403, "signature mismatch"), "not re-wrapped");
    assert!(content_type.starts_with("text/plain"), "{content_type}");
}

#[tokio::test]
async fn a_5000_character_id_is_not_echoed_back_in_full() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    host.install_wecom().await;
    let (_, x) = host.post("/api/xpert", json!({"name": "x", "agent": {"kind": "echo"}})).await;
    let xid = x["id"].as_str().unwrap().to_string();
    let long = "q".repeat(5_000);
    for (method, path) in [
        ("GET", format!("/api/integration/{long}")),
        ("DELETE", format!("/api/integration/{long}")),
        ("GET", format!("/api/integration/{long}/views")),
        ("GET", format!("/api/xpert/{long}")),
        ("POST", format!("/api/xpert/{long}/publish")),
        ("GET", format!("/api/xpert/{xid}/{long}")),
        ("GET", format!("/api/wecom/webhook/{long}")),
        ("DELETE", format!("/api/tenants/{long}")),
        ("DELETE", format!("/api/plugins/{long}")),
        ("GET", format!("/api/{long}")),
    ] {
        let (status, _, body) = raw(&host, method, &path).await;
        assert!((400..500).contains(&status), "{method} {}: {status}", &path[..40]);
        let (_, message) = envelope(&path[..40], status, &body);
        assert!(!body.contains(&long[..200]), "{method} {}: the id is echoed back: {}", &path[..40], body.len());
        assert!(message.chars().count() < 400, "{method} {}: {message}", &path[..40]);
    }
    let (status, body) = host.post("/api/plugins/install", json!({"name": long.clone(), "level": "tenant"})).await;
    assert_eq!(status, 404);
    assert!(!body.to_string().contains(&long[..200]), "the plugin name is echoed back");
}

#[tokio::test]
async fn installs_refuse_a_silent_downgrade_uninstall_and_say_why_a_broken_plugin_cannot_install() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("plugins").join("broken");
    std::fs::create_dir_all(&broken).unwrap();
    std::fs::write(
        broken.join("manifest.toml"),
        format!(
            "name = \"broken\"\nversion = \"0.1.0\"\nabi_version = {}\nlevel = \"tenant\"\nlibrary = \"plugin_broken_missing\"\n",
            host_sdk::ABI_VERSION
        ),
    )
    .unwrap();
    let host = start(dir.path(), &[]).await;

    let (_, available) = host.get("/api/plugins/available").await;
    let entry = available.as_array().unwrap().iter().find(|p| p["name"] == "broken").expect("listed").clone();
    let load_error = entry["error"].as_str().expect("its load error").to_string();
    assert!(load_error.contains("not found") && !load_error.contains('\n'), "{load_error}");
    let (status, refused) = host.post("/api/plugins/install", json!({"name": "broken", "level": "tenant"})).await;
    assert_eq!(status, 422, "{refused}");
    assert_eq!(refused["error"]["code"], "PLUGIN_LOAD_FAILED");
    assert!(refused["error"]["message"].as_str().unwrap().contains(&load_error), "{refused}");
    let (status, _) = host.post("/api/plugins/install", json!({"name": "nothing-here", "level": "tenant"})).await;
    assert_eq!(status, 404);

    // At tenant level, a lower level is refused (no silent downgrade); the install is unchanged.
    host.install_wecom().await;
    let (status, refused) = host.post("/api/plugins/install", json!({"name": "wecom", "level": "project"})).await;
    assert_eq!(status, 409, "{refused}");
    assert!(refused["error"]["message"].as_str().unwrap().contains("uninstall"), "{refused}");
    let (_, installed) = host.get("/api/plugins").await;
    assert_eq!(installed[0]["level"], "tenant");

    // Re-installing at the same level replaces the installation and keeps it working.
    let (_, created) =
        host.post("/api/integration", json!({"name": "s", "provider": "wecom", "options": short_options()})).await;
    let id = created["id"].as_str().unwrap().to_string();
    host.install_wecom().await;
    let (_, installed) = host.get("/api/plugins").await;
    assert_eq!(installed.as_array().unwrap().len(), 1, "{installed}");
    let verify = host.http.get(host.url(&format!("/api/wecom/webhook/{id}?{VERIFY_QUERY}"))).send().await.unwrap();
    assert_eq!(verify.text().await.unwrap(), "1288432023552776189");

    // Uninstall: gone from the tenant (routes and providers too), and not restored at restart.
    let (status, _) = host.call("DELETE", "/api/plugins/wecom", None).await;
    assert_eq!(status, 204);
    let (status, again) = host.call("DELETE", "/api/plugins/wecom", None).await;
    assert_eq!((status, again["error"]["code"].clone()), (404, json!("PLUGIN_NOT_FOUND")));
    let (_, installed) = host.get("/api/plugins").await;
    assert_eq!(installed, json!([]));
    let (_, providers) = host.get("/api/integration/providers").await;
    assert_eq!(providers, json!([]));
    let (status, _) = host.get(&format!("/api/wecom/webhook/{id}?{VERIFY_QUERY}")).await;
    assert_eq!(status, 404, "the uninstalled plugin's route is gone");
    let (status, _) = host.post("/api/plugins/install", json!({"name": "wecom", "level": "project"})).await;
    assert_eq!(status, 200, "after uninstalling, a lower level installs");
    let (_, installed) = host.get("/api/plugins").await;
    assert_eq!(installed[0]["level"], "project");
}

//! What the console needs from the API (issue 12), against the real host binary and plugin:
//! every error has a stable code and text in both languages, refusals name fields by their
//! labels, conflicts name the Digital Expert and the integration instead of ids, a dangling
//! trigger says what was deleted, an integration a published expert uses cannot be deleted, a
//! Digital Expert can be deleted once unpublished, "Try it" streams, and the plugin's status
//! data carries words for its codes.

mod host_common;

use host_common::*;
use serde_json::{json, Value};

/// Asserts the error envelope: status, code, and a localized text in both languages, the
/// Chinese one really Chinese; returns the error object.
fn localized_error(status: u16, body: &Value, want_status: u16, code: &str) -> Value {
    assert_eq!(status, want_status, "{body}");
    let err = &body["error"];
    assert_eq!(err["code"], code, "{body}");
    let en = err["localized"]["en_US"].as_str().unwrap_or_default();
    let zh = err["localized"]["zh_Hans"].as_str().unwrap_or_default();
    assert!(!en.is_empty(), "English text: {body}");
    assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "Chinese text: {body}");
    assert!(!en.contains(code) && !zh.contains(code), "words, not the code: {body}");
    err.clone()
}

fn is_uuid_like(s: &str) -> bool {
    s.split(|c: char| !(c.is_ascii_hexdigit() || c == '-')).any(|w| w.len() == 36 && w.matches('-').count() == 4)
}

async fn long_integration(host: &Host, name: &str, bot: &str) -> String {
    let (status, body) = host
        .post(
            "/api/integration",
            json!({"name": name, "provider": "wecom_long", "options": {"botId": bot, "secret": "s3cr3t"}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    body["id"].as_str().unwrap().to_string()
}

async fn expert_bound_to(host: &Host, name: &str, integration: &str) -> String {
    let (status, x) = host.post("/api/xpert", json!({"name": name, "agent": {"kind": "echo"}})).await;
    assert_eq!(status, 201, "{x}");
    let id = x["id"].as_str().unwrap().to_string();
    let trigger = json!([{"provider": "wecom", "config": {"enabled": true, "integrationId": integration}}]);
    let (status, saved) = host.call("PUT", &format!("/api/xpert/{id}/triggers"), Some(trigger)).await;
    assert_eq!(status, 200, "{saved}");
    id
}

#[tokio::test]
async fn errors_carry_a_stable_code_and_text_in_both_languages() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    host.install_wecom().await;

    // A 44-character EncodingAESKey: the field's label (not its key) in both languages, and the
    // field named so a form can mark it; `message` stays the plugin's text for scripts.
    let key44 = format!("{AES_KEY}A");
    let (status, body) = host
        .post(
            "/api/integration",
            json!({"name": "s", "provider": "wecom", "options": {"token": "t", "encodingAesKey": key44}}),
        )
        .await;
    let err = localized_error(status, &body, 422, "INVALID_CONFIG");
    assert_eq!(err["message"], "encodingAesKey must be exactly 43 characters (got 44)");
    assert_eq!(err["localized"]["en_US"], "EncodingAESKey must be exactly 43 characters (got 44).");
    assert_eq!(err["localized"]["zh_Hans"], "EncodingAESKey必须正好为 43 个字符（当前为 44 个）。");
    assert_eq!(err["fields"][0]["key"], "encodingAesKey");
    let (status, body) = host
        .post("/api/integration", json!({"name": "s", "provider": "wecom", "options": {"encodingAesKey": AES_KEY}}))
        .await;
    let err = localized_error(status, &body, 422, "INVALID_CONFIG");
    assert_eq!(err["localized"]["en_US"], "Callback Token is required.", "the label, not `token`");
    assert_eq!(err["localized"]["zh_Hans"], "回调 Token为必填项。");
    assert_eq!(err["fields"][0]["key"], "token");
    // Every option the schema shows to be wrong is named at once, beside the plugin's refusal.
    let (status, body) = host
        .post(
            "/api/integration",
            json!({"name": "s", "provider": "wecom", "options": {"encodingAesKey": key44, "timeoutMs": 5}}),
        )
        .await;
    let err = localized_error(status, &body, 422, "INVALID_CONFIG");
    let keys: Vec<&str> = err["fields"].as_array().unwrap().iter().map(|f| f["key"].as_str().unwrap()).collect();
    assert_eq!(keys, ["token", "encodingAesKey", "timeoutMs"], "{err}");
    for f in err["fields"].as_array().unwrap() {
        assert!(f["message"]["zh_Hans"].as_str().unwrap().chars().any(|c| c > '\u{4e00}'), "{f}");
    }
    // The same through Test.
    let (status, body) =
        host.post("/api/integration/test", json!({"provider": "wecom_long", "options": {"secret": "s"}})).await;
    let err = localized_error(status, &body, 422, "INVALID_CONFIG");
    assert_eq!(err["fields"][0]["key"], "botId");

    // A provider no plugin provides is named, and WeCom (installed) is not blamed.
    let (status, body) = host.post("/api/integration", json!({"name": "x", "provider": "slack", "options": {}})).await;
    let err = localized_error(status, &body, 404, "PROVIDER_NOT_FOUND");
    for text in [&err["message"], &err["localized"]["en_US"], &err["localized"]["zh_Hans"]] {
        let text = text.as_str().unwrap();
        assert!(text.contains("slack"), "{text}");
        assert!(!text.contains("WeCom") && !text.contains("企业微信"), "{text}");
    }

    // Not found, unauthorized, malformed JSON, a missing name: all in both languages.
    let (status, body) = host.get("/api/integration/00000000-0000-0000-0000-000000000000").await;
    localized_error(status, &body, 404, "INTEGRATION_NOT_FOUND");
    let (status, body) = host.call_as("wrong", "GET", "/api/integration", None).await;
    localized_error(status, &body, 401, "UNAUTHORIZED");
    let resp = host
        .http
        .post(host.url("/api/xpert"))
        .bearer_auth(TOKEN)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    localized_error(status, &resp.json().await.unwrap(), 400, "INVALID_JSON");
    let (status, body) = host.post("/api/xpert", json!({"name": " ", "agent": {"kind": "echo"}})).await;
    let err = localized_error(status, &body, 422, "INVALID_NAME");
    assert_eq!(err["fields"][0]["key"], "name");
    let (status, body) =
        host.post("/api/xpert", json!({"name": "o", "agent": {"kind": "openai", "baseUrl": "http://x/v1"}})).await;
    let err = localized_error(status, &body, 422, "INVALID_AGENT");
    assert_eq!(err["fields"][0]["key"], "model");
    let (status, body) = host.call("DELETE", "/api/xpert/nope", None).await;
    localized_error(status, &body, 404, "XPERT_NOT_FOUND");

    // Plugin installs: a downgrade and an unknown plugin, in both languages.
    let (status, body) = host.post("/api/plugins/install", json!({"name": "wecom", "level": "project"})).await;
    let err = localized_error(status, &body, 409, "PLUGIN_INSTALLED_AT_TENANT_LEVEL");
    assert!(err["localized"]["en_US"].as_str().unwrap().contains("uninstall it first"), "{err}");
    let (status, body) = host.call("DELETE", "/api/plugins/nope", None).await;
    localized_error(status, &body, 404, "PLUGIN_NOT_FOUND");
}

#[tokio::test]
async fn conflicts_and_dangling_triggers_name_things_not_ids() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    host.install_wecom().await;
    let integration = long_integration(&host, "Support bot", "aibc1").await;
    let first = expert_bound_to(&host, "Sales helper", &integration).await;
    let second = expert_bound_to(&host, "Night shift", &integration).await;
    let (status, body) = host.post(&format!("/api/xpert/{first}/publish"), json!({})).await;
    assert_eq!(status, 200, "{body}");

    let (status, body) = host.post(&format!("/api/xpert/{second}/publish"), json!({})).await;
    localized_error(status, &body, 422, "PUBLISH_VALIDATION_FAILED");
    let item = &body["checklist"][0];
    assert_eq!(item["code"], "TRIGGER_WECOM_INTEGRATION_CONFLICT");
    for text in [&item["message"], &item["localized"]["en_US"], &item["localized"]["zh_Hans"]] {
        let text = text.as_str().unwrap();
        assert!(text.contains("Support bot") && text.contains("Sales helper"), "names both: {text}");
        assert!(!is_uuid_like(text), "no ids: {text}");
    }

    // Deleting the integration the published expert uses is refused, naming the expert.
    let (status, body) = host.call("DELETE", &format!("/api/integration/{integration}"), None).await;
    let err = localized_error(status, &body, 409, "INTEGRATION_IN_USE");
    for text in [&err["localized"]["en_US"], &err["localized"]["zh_Hans"]] {
        let text = text.as_str().unwrap();
        assert!(text.contains("Sales helper") && text.contains("Support bot"), "{text}");
    }
    assert_eq!(body["experts"], json!([{"id": first, "name": "Sales helper"}]));
    let (status, _) = host.get(&format!("/api/integration/{integration}")).await;
    assert_eq!(status, 200, "still there");

    // Unpublished first, it can go; the other expert's draft trigger now points at nothing, and
    // publishing it says what was deleted and what to do.
    let (status, _) = host.post(&format!("/api/xpert/{first}/unpublish"), json!({})).await;
    assert_eq!(status, 200);
    let (status, body) = host.call("DELETE", &format!("/api/integration/{integration}"), None).await;
    assert_eq!(status, 204, "{body}");
    let (status, body) = host.post(&format!("/api/xpert/{second}/publish"), json!({})).await;
    assert_eq!(status, 422, "{body}");
    let item = &body["checklist"][0];
    assert_eq!(item["code"], "TRIGGER_WECOM_INTEGRATION_NOT_FOUND");
    let en = item["localized"]["en_US"].as_str().unwrap();
    assert!(en.contains("deleted") && en.contains("Choose another integration"), "{en}");
    assert!(!is_uuid_like(en), "{en}");
    assert!(item["localized"]["zh_Hans"].as_str().unwrap().contains("已被删除"), "{item}");
}

#[tokio::test]
async fn a_digital_expert_is_deleted_once_unpublished() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    host.install_wecom().await;
    let integration = long_integration(&host, "Bot", "aibd1").await;
    let id = expert_bound_to(&host, "Short-lived", &integration).await;
    let (status, _) = host.post(&format!("/api/xpert/{id}/publish"), json!({})).await;
    assert_eq!(status, 200);

    let (status, body) = host.call("DELETE", &format!("/api/xpert/{id}"), None).await;
    let err = localized_error(status, &body, 409, "XPERT_PUBLISHED");
    assert!(err["localized"]["en_US"].as_str().unwrap().contains("Short-lived"), "{err}");
    let (_, x) = host.get(&format!("/api/xpert/{id}")).await;
    assert_eq!(x["published"], true, "a refused delete changes nothing");

    host.post(&format!("/api/xpert/{id}/unpublish"), json!({})).await;
    let (status, body) = host.call("DELETE", &format!("/api/xpert/{id}"), None).await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = host.get(&format!("/api/xpert/{id}")).await;
    assert_eq!(status, 404);
    let (_, list) = host.get("/api/xpert").await;
    assert_eq!(list, json!([]));
    // The integration is free again: another expert publishes on it.
    let other = expert_bound_to(&host, "Successor", &integration).await;
    let (status, body) = host.post(&format!("/api/xpert/{other}/publish"), json!({})).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test]
async fn try_it_streams_the_answer_line_by_line() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    let (_, x) = host.post("/api/xpert", json!({"name": "Echo", "agent": {"kind": "echo"}})).await;
    let id = x["id"].as_str().unwrap();
    let resp = host
        .http
        .post(host.url(&format!("/api/xpert/{id}/chat/stream")))
        .bearer_auth(TOKEN)
        .json(&json!({"input": "hello there"}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), 200);
    assert!(resp.headers()["content-type"].to_str().unwrap().starts_with("application/x-ndjson"));
    let text = resp.text().await.unwrap();
    let lines: Vec<Value> = text.lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines[0]["type"], "conversation", "{text}");
    let conversation = lines[0]["conversationId"].as_str().unwrap().to_string();
    let pieces: Vec<&str> = lines.iter().filter(|l| l["type"] == "text").map(|l| l["text"].as_str().unwrap()).collect();
    assert!(pieces.len() > 1, "several pieces, as they were written: {text}");
    assert_eq!(pieces.concat(), "echo: hello there");
    assert_eq!(lines.last().unwrap()["type"], "end");
    assert_eq!(lines.last().unwrap()["status"], "success");

    // The conversation continues; a failing run ends with its error.
    let resp = host
        .http
        .post(host.url(&format!("/api/xpert/{id}/chat/stream")))
        .bearer_auth(TOKEN)
        .json(&json!({"input": "/fail now", "conversationId": conversation}))
        .send()
        .await
        .unwrap();
    let text = resp.text().await.unwrap();
    let last: Value = serde_json::from_str(text.lines().last().unwrap()).unwrap();
    assert_eq!((last["type"].as_str(), last["status"].as_str()), (Some("end"), Some("error")), "{text}");

    let (status, body) = host.post("/api/xpert/nope/chat/stream", json!({"input": "x"})).await;
    localized_error(status, &body, 404, "XPERT_NOT_FOUND");
}

#[tokio::test]
async fn status_data_carries_words_for_its_codes() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    host.install_wecom().await;
    let long = long_integration(&host, "Long", "aibw1").await;
    let (status, created) = host
        .post(
            "/api/integration",
            json!({"name": "Short", "provider": "wecom", "options": {"token": WECOM_TOKEN, "encodingAesKey": AES_KEY}}),
        )
        .await;
    assert_eq!(status, 201);
    let (_, long_read) = host.get(&format!("/api/integration/{long}")).await;
    assert!(
        long_read["setup"]["websocketUrl"].is_string() && long_read["setup"]["webhookUrl"].is_null(),
        "{long_read}"
    );
    let short = created["id"].as_str().unwrap().to_string();

    for (id, mode) in [(&long, "long_connection"), (&short, "short_connection")] {
        let (_, data) = host.get(&format!("/api/integration/{id}/views/status/data")).await;
        let item = &data["item"];
        assert_eq!(item["connectionMode"], mode, "the code stays");
        for key in ["connectionModeText", "stateText"] {
            let zh = item[key]["zh_Hans"].as_str().unwrap_or_default();
            assert!(zh.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c)), "{key}: {item}");
            assert_ne!(item[key]["en_US"], item[key]["zh_Hans"], "{key}");
        }
        // Every field the tab shows is a text in both languages, never a bare code.
        let (_, tabs) = host.get(&format!("/api/integration/{id}/views")).await;
        let status_tab = tabs.as_array().unwrap().iter().find(|t| t["key"] == "status").unwrap();
        for field in status_tab["items"].as_array().unwrap() {
            let key = field["key"].as_str().unwrap();
            let value = &item[key];
            assert!(
                !value.is_string()
                    || ["botId", "ownerInstanceId", "lastError"].contains(&key)
                    || field["type"] != "text",
                "{key} is shown as a bare string: {value}"
            );
        }
    }
    let (_, data) = host.get(&format!("/api/integration/{short}/views/status/data")).await;
    assert_eq!(data["item"]["refusedSummaryText"], json!({"en_US": "none", "zh_Hans": "无"}));
}

//! Tenants, end-to-end: the real host binary, its SQLite file and the real plugin. Two tenants
//! each see only their own installs, integrations and Digital Experts; another tenant's id answers
//! 404 exactly like a missing one; tenant tokens are shown once and stored hashed; the admin
//! token alone manages tenants and acts in `default`; deleting a tenant removes its rows and its
//! plugin KV data; a tenant's webhook is served by that tenant's installation without a token;
//! plugins' conversation sessions live in the host's SQLite table, per tenant, and leave with
//! their integration and their tenant.

mod host_common;

use std::path::Path;
use std::time::Duration;

use host_common::*;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

/// The derived smart-bot URL-verification vector (wecom-protocol.md §1.8), percent-encoded.
const VERIFY_QUERY: &str = "msg_signature=d7fe3794f02ebe970e006a79062638ed51f2ec8f&timestamp=1700000000&nonce=nonce123&echostr=scEag1243Fmy%2FfYz4Ux8D4VyGL33CiZE7jU1zRSmEGdDa8cZHZaZX92v4qThQP5vdPKv%2FGTtjH8%2FN6byF0w85w%3D%3D";

fn db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("xpert.db")).expect("the host's SQLite file opens")
}

/// The embedded store's KV and lease file, beside the store's.
fn kv_db(dir: &Path) -> rusqlite::Connection {
    rusqlite::Connection::open(dir.join("xpert.kv.db")).expect("the host's SQLite KV file opens")
}

fn count(conn: &rusqlite::Connection, sql: &str, param: &str) -> i64 {
    conn.query_row(sql, [param], |r| r.get(0)).unwrap_or_else(|e| panic!("{sql}: {e}"))
}

/// Every byte the host wrote to its data directory (database, WAL, token file, …).
fn data_dir_bytes(dir: &Path) -> Vec<u8> {
    let mut all = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            all.extend(std::fs::read(&path).unwrap());
        }
    }
    all
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[tokio::test]
async fn tokens_are_shown_once_stored_hashed_and_only_the_admin_manages_tenants() {
    let dir = tempfile::tempdir().unwrap();
    let mut host = start(dir.path(), &[]).await;
    let (a_id, a_token) = host.create_tenant("Acme").await;
    let (b_id, b_token) = host.create_tenant("Bolt").await;
    assert_ne!(a_token, b_token);
    assert!(a_token.len() >= 32, "a random token of at least 128 bits: {a_token}");

    let (status, list) = host.get("/api/tenants").await;
    assert_eq!(status, 200);
    let ids: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["default", a_id.as_str(), b_id.as_str()]);
    assert_eq!(list[1]["name"], "Acme");
    assert!(list[1]["createdAt"].is_string());
    assert!(list.as_array().unwrap().iter().all(|t| t.get("token").is_none()), "{list}");
    assert!(!list.to_string().contains(&a_token) && !list.to_string().contains(&b_token));
    let (status, dup) = host.post("/api/tenants", json!({"name": "Acme"})).await;
    assert_eq!((status, dup["error"]["code"].clone()), (409, json!("TENANT_EXISTS")));
    let (status, bad) = host.post("/api/tenants", json!({"name": "  "})).await;
    assert_eq!((status, bad["error"]["code"].clone()), (422, json!("INVALID_NAME")));

    let (_, me) = host.get("/api/me").await;
    assert_eq!(me, json!({"tenant": {"id": "default", "name": "default"}, "admin": true}));
    let (status, me) = host.call_as(&a_token, "GET", "/api/me", None).await;
    assert_eq!(status, 200);
    assert_eq!(me, json!({"tenant": {"id": a_id, "name": "Acme"}, "admin": false}));
    let (status, _) = host.call_as("not-a-token", "GET", "/api/me", None).await;
    assert_eq!(status, 401);

    // A tenant's token on the admin-only routes: 403 with the envelope, and nothing changes.
    for (method, path, body) in [
        ("GET", "/api/tenants".to_string(), None),
        ("POST", "/api/tenants".to_string(), Some(json!({"name": "Sneaky"}))),
        ("DELETE", format!("/api/tenants/{b_id}"), None),
    ] {
        let (status, refused) = host.call_as(&a_token, method, &path, body).await;
        assert_eq!(status, 403, "{method} {path}: {refused}");
        assert_eq!(refused["error"]["code"], "FORBIDDEN");
        assert!(refused["error"]["message"].as_str().unwrap().contains("admin"), "{refused}");
    }
    let (_, list) = host.get("/api/tenants").await;
    assert_eq!(list.as_array().unwrap().len(), 3, "the tenant token changed nothing: {list}");

    // The tokens are stored as their SHA-256 hashes, and nowhere in clear.
    let conn = db(dir.path());
    let stored: String = conn.query_row("SELECT token_hash FROM tenants WHERE id = ?1", [&a_id], |r| r.get(0)).unwrap();
    let expected: String = Sha256::digest(a_token.as_bytes()).iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(stored, expected);
    let written = data_dir_bytes(dir.path());
    assert!(!contains(&written, &a_token) && !contains(&written, &b_token), "a tenant token is stored in clear");
    host.server.stop(Duration::from_secs(20)).await.unwrap();
    let output = host.server.output().await;
    assert!(!output.contains(&a_token) && !output.contains(&b_token), "a tenant token reached the logs");
}

#[tokio::test]
async fn each_tenant_sees_only_its_own_and_another_tenants_ids_answer_404() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    let (_, a) = host.create_tenant("A").await;
    let (_, b) = host.create_tenant("B").await;

    // Installs are per tenant: A's install gives B (and default) nothing.
    host.install_wecom_as(&a).await;
    let (_, installed) = host.call_as(&a, "GET", "/api/plugins", None).await;
    assert_eq!(installed[0]["level"], "tenant", "{installed}");
    for token in [b.as_str(), TOKEN] {
        let (_, installed) = host.call_as(token, "GET", "/api/plugins", None).await;
        assert_eq!(installed, json!([]));
        let (_, providers) = host.call_as(token, "GET", "/api/integration/providers", None).await;
        assert_eq!(providers, json!([]));
        let (_, available) = host.call_as(token, "GET", "/api/plugins/available", None).await;
        assert_eq!(available[0]["installed"], false);
    }
    let long = json!({"name": "bot", "provider": "wecom_long", "options": {"botId": "aibA", "secret": "s"}});
    let (status, refused) = host.call_as(&b, "POST", "/api/integration", Some(long.clone())).await;
    assert_eq!((status, refused["error"]["code"].clone()), (404, json!("PROVIDER_NOT_FOUND")));
    host.install_wecom_as(&b).await;

    // A's integration and published expert.
    let (status, integration) = host.call_as(&a, "POST", "/api/integration", Some(long)).await;
    assert_eq!(status, 201, "{integration}");
    let iid = integration["id"].as_str().unwrap().to_string();
    let (_, x) = host.call_as(&a, "POST", "/api/xpert", Some(json!({"name": "ax", "agent": {"kind": "echo"}}))).await;
    let xid = x["id"].as_str().unwrap().to_string();
    let trigger = json!([{"provider": "wecom", "config": {"enabled": true, "integrationId": iid}}]);
    let (status, _) = host.call_as(&a, "PUT", &format!("/api/xpert/{xid}/triggers"), Some(trigger.clone())).await;
    assert_eq!(status, 200);
    let (status, published) = host.call_as(&a, "POST", &format!("/api/xpert/{xid}/publish"), Some(json!({}))).await;
    assert_eq!(status, 200, "{published}");

    // B lists nothing of A's.
    for (path, what) in [("/api/integration", "integrations"), ("/api/xpert", "experts")] {
        let (_, list) = host.call_as(&b, "GET", path, None).await;
        assert_eq!(list, json!([]), "B sees A's {what}");
        let (_, list) = host.call_as(TOKEN, "GET", path, None).await;
        assert_eq!(list, json!([]), "default sees A's {what}");
        let (_, list) = host.call_as(&a, "GET", path, None).await;
        assert_eq!(list.as_array().unwrap().len(), 1, "A sees its {what}");
    }

    // Every route naming A's ids answers B exactly as a missing id does.
    let put_body = json!({"name": "x", "provider": "wecom_long", "options": {"botId": "aibB", "secret": "t"}});
    let integration_routes = [
        ("GET", "/api/integration/{}", None),
        ("PUT", "/api/integration/{}", Some(put_body)),
        ("DELETE", "/api/integration/{}", None),
        ("GET", "/api/integration/{}/views", None),
        ("GET", "/api/integration/{}/views/status/data", None),
        ("POST", "/api/integration/{}/views/status/actions/disconnect", Some(json!({}))),
    ];
    for (method, pattern, body) in integration_routes {
        let (status, theirs) = host.call_as(&b, method, &pattern.replace("{}", &iid), body.clone()).await;
        let (_, missing) = host.call_as(&b, method, &pattern.replace("{}", "no-such-id"), body).await;
        assert_eq!(status, 404, "{method} {pattern}: {theirs}");
        assert_eq!(theirs["error"]["code"], "INTEGRATION_NOT_FOUND", "{method} {pattern}");
        assert_eq!(
            theirs["error"]["message"].as_str().unwrap().replace(&iid, "ID"),
            missing["error"]["message"].as_str().unwrap().replace("no-such-id", "ID"),
            "no existence oracle"
        );
    }
    let expert_routes = [
        ("GET", "/api/xpert/{}", None),
        ("PUT", "/api/xpert/{}/triggers", Some(json!([]))),
        ("POST", "/api/xpert/{}/publish", Some(json!({}))),
        ("POST", "/api/xpert/{}/unpublish", Some(json!({}))),
        ("POST", "/api/xpert/{}/chat", Some(json!({"input": "hi"}))),
    ];
    for (method, pattern, body) in expert_routes {
        let (status, theirs) = host.call_as(&b, method, &pattern.replace("{}", &xid), body).await;
        assert_eq!((status, theirs["error"]["code"].clone()), (404, json!("XPERT_NOT_FOUND")), "{method} {pattern}");
    }

    // Nothing of A's changed, and its runtime is still bound (the disconnect above was refused).
    let (status, still) = host.call_as(&a, "GET", &format!("/api/integration/{iid}"), None).await;
    assert_eq!((status, still["name"].clone()), (200, json!("bot")));
    let (_, x) = host.call_as(&a, "GET", &format!("/api/xpert/{xid}"), None).await;
    assert_eq!((x["published"].clone(), x["triggers"].clone()), (json!(true), trigger.clone()));
    let (_, view) = host.call_as(&a, "GET", &format!("/api/integration/{iid}/views/status/data"), None).await;
    assert_ne!(view["item"]["disabledReason"], "xpert_unbound", "still bound: {view}");

    // B's plugin installation does not see A's integration either: binding it is refused.
    let (_, bx) = host.call_as(&b, "POST", "/api/xpert", Some(json!({"name": "bx", "agent": {"kind": "echo"}}))).await;
    let bxid = bx["id"].as_str().unwrap().to_string();
    host.call_as(&b, "PUT", &format!("/api/xpert/{bxid}/triggers"), Some(trigger)).await;
    let (status, refused) = host.call_as(&b, "POST", &format!("/api/xpert/{bxid}/publish"), Some(json!({}))).await;
    assert_eq!(status, 422, "B's trigger must not find A's integration: {refused}");
    assert!(!refused.to_string().contains("aibA"), "nothing of A's integration is shown: {refused}");
}

#[tokio::test]
async fn deleting_a_tenant_removes_its_rows_and_kv_data_and_the_admin_still_acts_in_default() {
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    let (b_id, b) = host.create_tenant("B").await;
    host.install_wecom().await;
    host.install_wecom_as(&b).await;
    let long = |bot: &str| json!({"name": bot, "provider": "wecom_long", "options": {"botId": bot, "secret": "s"}});
    let (status, kept) = host.post("/api/integration", long("aibDefault")).await;
    assert_eq!(status, 201, "{kept}");
    let kept_id = kept["id"].as_str().unwrap().to_string();
    let (_, doomed) = host.call_as(&b, "POST", "/api/integration", Some(long("aibB"))).await;
    let doomed_id = doomed["id"].as_str().unwrap().to_string();
    let (_, x) = host.call_as(&b, "POST", "/api/xpert", Some(json!({"name": "bx", "agent": {"kind": "echo"}}))).await;
    let xid = x["id"].as_str().unwrap().to_string();
    let trigger = json!([{"provider": "wecom", "config": {"enabled": true, "integrationId": doomed_id}}]);
    host.call_as(&b, "PUT", &format!("/api/xpert/{xid}/triggers"), Some(trigger)).await;
    let (status, _) = host.call_as(&b, "POST", &format!("/api/xpert/{xid}/publish"), Some(json!({}))).await;
    assert_eq!(status, 200);
    let (_, turn) = host.call_as(&b, "POST", &format!("/api/xpert/{xid}/chat"), Some(json!({"input": "hi"}))).await;
    let conversation = turn["conversationId"].as_str().unwrap().to_string();

    // default binds its integration too, so that both tenants have plugin KV data.
    let (_, dx) = host.post("/api/xpert", json!({"name": "dx", "agent": {"kind": "echo"}})).await;
    let dxid = dx["id"].as_str().unwrap().to_string();
    let trigger = json!([{"provider": "wecom", "config": {"enabled": true, "integrationId": kept_id}}]);
    host.call("PUT", &format!("/api/xpert/{dxid}/triggers"), Some(trigger)).await;
    let (status, _) = host.post(&format!("/api/xpert/{dxid}/publish"), json!({})).await;
    assert_eq!(status, 200);

    let kv_of = |tenant: &str| format!("wecom/{tenant}/%");
    let conn = db(dir.path());
    let kv = kv_db(dir.path());
    let kv_count = "SELECT COUNT(*) FROM plugin_kv WHERE key LIKE ?1";
    assert!(count(&kv, kv_count, &kv_of(&b_id)) > 0, "B's plugin wrote KV data to remove");
    let default_kv = count(&kv, kv_count, &kv_of("default"));
    assert!(default_kv > 0, "default's plugin wrote KV data to keep");
    assert!(count(&conn, "SELECT COUNT(*) FROM messages WHERE conversation_id = ?1", &conversation) > 0);

    // A short-connection webhook of B's, called before the deletion (unsigned: refused by the
    // plugin, 401): the host now remembers which tenant owns the integration, and must not route
    // a later call to the deleted tenant's installation.
    let short = json!({"name": "short", "provider": "wecom",
                       "options": {"token": "tok", "encodingAesKey": "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"}});
    let (status, short) = host.call_as(&b, "POST", "/api/integration", Some(short)).await;
    assert_eq!(status, 201, "{short}");
    let short_hook = host.url(&format!("/api/wecom/webhook/{}", short["id"].as_str().unwrap()));
    let webhook = host.http.post(&short_hook).body("{}").send().await.unwrap();
    assert_eq!(webhook.status().as_u16(), 401, "B's webhook reaches B's plugin while B exists");

    let (status, refused) = host.call("DELETE", "/api/tenants/default", None).await;
    assert_eq!(status, 409, "{refused}");
    assert_eq!(refused["error"]["code"], "TENANT_PROTECTED");
    let (status, _) = host.call_as(&b, "DELETE", &format!("/api/tenants/{b_id}"), None).await;
    assert_eq!(status, 403);
    let (status, _) = host.call("DELETE", &format!("/api/tenants/{b_id}"), None).await;
    assert_eq!(status, 204);
    let (status, again) = host.call("DELETE", &format!("/api/tenants/{b_id}"), None).await;
    assert_eq!((status, again["error"]["code"].clone()), (404, json!("TENANT_NOT_FOUND")));

    let (status, _) = host.call_as(&b, "GET", "/api/me", None).await;
    assert_eq!(status, 401, "the deleted tenant's token no longer works");
    for table in ["integrations", "xperts", "conversations", "plugin_installs"] {
        let sql = format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = ?1");
        assert_eq!(count(&conn, &sql, &b_id), 0, "{table} kept rows of the deleted tenant");
    }
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM messages WHERE conversation_id = ?1", &conversation), 0);
    assert_eq!(count(&kv, kv_count, &kv_of(&b_id)), 0, "the deleted tenant's KV data is gone");
    assert_eq!(count(&conn, "SELECT COUNT(*) FROM tenants WHERE id = ?1", &b_id), 0);
    for hook in [host.url(&format!("/api/wecom/webhook/{doomed_id}")), short_hook] {
        let webhook = host.http.post(&hook).body("{}").send().await.unwrap();
        assert_eq!(webhook.status().as_u16(), 404, "the deleted tenant's webhook is gone");
        let body: Value = webhook.json().await.unwrap();
        assert_eq!(body["error"]["code"], "INTEGRATION_NOT_FOUND", "refused by the host, not by a plugin: {body}");
    }

    // default is untouched and the admin token still acts in it.
    let (_, me) = host.get("/api/me").await;
    assert_eq!(me["tenant"]["id"], "default");
    let (status, kept) = host.get(&format!("/api/integration/{kept_id}")).await;
    assert_eq!((status, kept["name"].clone()), (200, json!("aibDefault")));
    assert!(count(&kv, kv_count, &kv_of("default")) >= default_kv, "default's KV data is kept");
    let (_, installed) = host.get("/api/plugins").await;
    assert_eq!(installed[0]["level"], "tenant");
    let (_, tenants) = host.get("/api/tenants").await;
    assert_eq!(tenants, json!([{"id": "default", "name": "default", "createdAt": tenants[0]["createdAt"]}]));
}

#[tokio::test]
async fn a_tenants_webhook_is_served_by_its_installation_without_a_token_and_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let short =
        json!({"name": "short", "provider": "wecom", "options": {"token": WECOM_TOKEN, "encodingAesKey": AES_KEY}});
    let (b, id) = {
        let mut host = start(dir.path(), &[]).await;
        let (b_id, b) = host.create_tenant("B").await;
        // Only B installs WeCom: the default tenant has no webhook route at all.
        host.install_wecom_as(&b).await;
        let (status, created) = host.call_as(&b, "POST", "/api/integration", Some(short)).await;
        assert_eq!(status, 201, "{created}");
        let id = created["id"].as_str().unwrap().to_string();
        let verify = host.http.get(host.url(&format!("/api/wecom/webhook/{id}?{VERIFY_QUERY}"))).send().await.unwrap();
        assert_eq!(verify.status().as_u16(), 200);
        assert_eq!(verify.text().await.unwrap(), "1288432023552776189");

        // The plugin's log line about it names the tenant and the integration (checked below).
        let bad = format!("/api/wecom/webhook/{id}?msg_signature=0&timestamp=1&nonce=n&echostr=e");
        let refused = host.http.get(host.url(&bad)).send().await.unwrap();
        assert_eq!(refused.status().as_u16(), 403);

        let resp = host.http.get(host.url(&format!("/api/wecom/webhook/nope?{VERIFY_QUERY}"))).send().await.unwrap();
        assert_eq!(resp.status().as_u16(), 404);
        let body: Value = resp.json().await.unwrap();
        assert_eq!(body["error"]["code"], "INTEGRATION_NOT_FOUND", "{body}");
        let exit = host.server.stop(Duration::from_secs(20)).await.unwrap();
        assert!(exit.success());
        // (Read once the host has exited, so every line it wrote is in.)
        let output = host.server.output().await;
        let line = output.lines().find(|l| l.contains("signature mismatch")).unwrap_or_else(|| panic!("{output}"));
        assert!(line.contains(&format!("tenant=\"{b_id}\"")), "{line}");
        assert!(line.contains(&format!("integration=\"{id}\"")), "{line}");
        (b, id)
    };
    let host = start(dir.path(), &[]).await;
    let (_, installed) = host.call_as(&b, "GET", "/api/plugins", None).await;
    assert_eq!(installed[0]["level"], "tenant", "B's install is restored: {installed}");
    let (_, installed) = host.get("/api/plugins").await;
    assert_eq!(installed, json!([]), "and only B's");
    let verify = host.http.get(host.url(&format!("/api/wecom/webhook/{id}?{VERIFY_QUERY}"))).send().await.unwrap();
    assert_eq!(verify.text().await.unwrap(), "1288432023552776189", "served by B's restored installation");
}

/// Whether the lease `key` of the probe plugin is held now (its row's expiry is in the future).
fn lease_held(conn: &rusqlite::Connection, key: &str) -> bool {
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64;
    let expires: i64 = conn
        .query_row("SELECT expires_at FROM plugin_leases WHERE key = ?1", [format!("probe/{key}")], |r| r.get(0))
        .unwrap_or_else(|e| panic!("lease {key}: {e}"));
    expires > now
}

/// The value the probe plugin's installation in `tenant` stored under `key`, if any.
fn probe_kv(conn: &rusqlite::Connection, tenant: &str, key: &str) -> Option<String> {
    conn.query_row("SELECT value FROM plugin_kv WHERE key = ?1", [format!("probe/{tenant}/{key}")], |r| r.get(0)).ok()
}

#[tokio::test]
async fn installations_are_stopped_on_uninstall_reinstall_tenant_deletion_and_shutdown() {
    let dir = tempfile::tempdir().unwrap();
    drop_in_probe_plugin(dir.path());
    let mut host = start(dir.path(), &[]).await;
    let (b_id, b) = host.create_tenant("B").await;
    let conn = kv_db(dir.path());
    let install = json!({"name": "probe", "level": "tenant"});
    // The probe's /probe/hold-lease task holds a lease until its installation stops, then
    // releases it and records `released:<key>` in its tenant's KV.
    let hold = |token: &str, key: &str| {
        let (token, path) = (token.to_string(), format!("/api/probe/hold-lease?key={key}"));
        let host = &host;
        async move {
            let (status, body) = host.call_as(&token, "GET", &path, None).await;
            assert_eq!((status, body), (200, json!("held")));
        }
    };

    // Uninstall stops the installation before answering.
    let (status, body) = host.call_as(&b, "POST", "/api/plugins/install", Some(install.clone())).await;
    assert_eq!(status, 200, "{body}");
    hold(&b, "uninstall").await;
    assert!(lease_held(&conn, "uninstall"));
    let (status, _) = host.call_as(&b, "DELETE", "/api/plugins/probe", None).await;
    assert_eq!(status, 204);
    assert!(!lease_held(&conn, "uninstall"), "uninstall stopped the installation");
    assert_eq!(probe_kv(&conn, &b_id, "released:uninstall").as_deref(), Some("1"));

    // Re-installing stops the old installation; the new one works.
    host.call_as(&b, "POST", "/api/plugins/install", Some(install.clone())).await;
    hold(&b, "reinstall").await;
    let (status, _) = host.call_as(&b, "POST", "/api/plugins/install", Some(install.clone())).await;
    assert_eq!(status, 200);
    assert!(!lease_held(&conn, "reinstall"), "re-install stopped the old installation");
    assert_eq!(probe_kv(&conn, &b_id, "released:reinstall").as_deref(), Some("1"));
    hold(&b, "deleted").await;

    // Deleting the tenant stops its installation (and then removes its KV data).
    let (status, _) = host.call("POST", "/api/plugins/install", Some(install.clone())).await;
    assert_eq!(status, 200);
    hold(TOKEN, "shutdown").await;
    let (status, _) = host.call("DELETE", &format!("/api/tenants/{b_id}"), None).await;
    assert_eq!(status, 204);
    assert!(!lease_held(&conn, "deleted"), "deleting the tenant stopped its installation");
    assert!(lease_held(&conn, "shutdown"), "default's installation runs on");

    // Shutting the host down stops every installation.
    let exit = host.server.stop(Duration::from_secs(20)).await.unwrap();
    assert!(exit.success());
    assert!(!lease_held(&conn, "shutdown"), "shutdown stopped the installation");
    assert_eq!(probe_kv(&conn, "default", "released:shutdown").as_deref(), Some("1"));
}

/// Installs WeCom and the probe plugin in the tenant of `token` and creates a `wecom_long`
/// integration for `bot` there; its id.
async fn with_probe_and_bot(host: &Host, token: &str, bot: &str) -> String {
    host.install_wecom_as(token).await;
    let probe = json!({"name": "probe", "level": "tenant"});
    let (status, _) = host.call_as(token, "POST", "/api/plugins/install", Some(probe)).await;
    assert_eq!(status, 200);
    let body = json!({"name": bot, "provider": "wecom_long", "options": {"botId": bot, "secret": "s"}});
    let (status, created) = host.call_as(token, "POST", "/api/integration", Some(body)).await;
    assert_eq!(status, 201, "{created}");
    created["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_tenants_installation_sees_only_that_tenants_integrations() {
    let dir = tempfile::tempdir().unwrap();
    drop_in_probe_plugin(dir.path());
    let host = start(dir.path(), &[]).await;
    let (_, a) = host.create_tenant("A").await;
    let (_, b) = host.create_tenant("B").await;
    let ids = [with_probe_and_bot(&host, &a, "aibA").await, with_probe_and_bot(&host, &b, "aibB").await];
    let look = |token: &str, id: &str| {
        let path = format!("/api/probe/look?id={id}&provider=wecom_long");
        let token = token.to_string();
        let host = &host;
        async move { host.call_as(&token, "GET", &path, None).await.1 }
    };
    let seen = look(&b, &ids[0]).await;
    assert_eq!(seen["byId"], false, "B's installation reads A's integration: {seen}");
    assert_eq!(seen["listed"], json!([ids[1]]), "B's installation lists only B's: {seen}");
    let seen = look(&a, &ids[0]).await;
    assert_eq!(seen["byId"], true, "{seen}");
    assert_eq!(seen["listed"], json!([ids[0]]), "{seen}");
}

#[tokio::test]
async fn plugin_sessions_live_in_sqlite_per_tenant_and_leave_with_their_integration_and_tenant() {
    let dir = tempfile::tempdir().unwrap();
    drop_in_probe_plugin(dir.path());
    let host = start(dir.path(), &[]).await;
    let (a_id, a) = host.create_tenant("A").await;
    let (b_id, b) = host.create_tenant("B").await;
    let ids = [with_probe_and_bot(&host, &a, "aibA").await, with_probe_and_bot(&host, &b, "aibB").await];
    // The probe plugin drives the sessions service from inside its loaded library.
    let op = |token: &str, query: String| {
        let (token, path) = (token.to_string(), format!("/api/probe/sessions?{query}"));
        let host = &host;
        async move {
            let (status, body) = host.call_as(&token, "GET", &path, None).await;
            assert_eq!(status, 200, "{path}: {body}");
            body
        }
    };
    let put = |integration: &str, key: &str, at: i64| {
        format!("op=put&integration={integration}&key={key}&chatType=single&chat={key}&sender={key}&xpert=x&at={at}")
    };
    for (key, at) in [("alice", 1), ("bob", 3), ("carol", 2)] {
        assert_eq!(op(&a, put(&ids[0], key, at)).await, json!("written"));
    }
    assert_eq!(op(&b, put(&ids[1], "dave", 1)).await, json!("written"));
    // B writing under A's integration id lands in B's tenant, not in A's rows.
    assert_eq!(op(&b, put(&ids[0], "alice", 9)).await, json!("written"));

    let page = op(&a, format!("op=query&integration={}&search=O&sort=updatedAt&desc=1&limit=1", ids[0])).await;
    assert_eq!(page["total"], 2, "bob and carol contain an o: {page}");
    assert_eq!(page["items"][0]["chatId"], "bob", "latest first, one row: {page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    let a_alice = op(&a, format!("op=get&integration={}&key=alice", ids[0])).await;
    assert_eq!(a_alice["updatedAtMs"], 1, "A's alice is untouched by B's write: {a_alice}");

    let conn = db(dir.path());
    let rows = |tenant: &str| count(&conn, "SELECT COUNT(*) FROM sessions WHERE tenant_id = ?1", tenant);
    assert_eq!((rows(&a_id), rows(&b_id)), (3, 2), "one SQLite row per session, keyed by tenant");

    // Deleting A's integration takes its sessions; B's rows (even under that id) stay.
    let (status, _) = host.call_as(&a, "DELETE", &format!("/api/integration/{}", ids[0]), None).await;
    assert_eq!(status, 204);
    assert_eq!((rows(&a_id), rows(&b_id)), (0, 2));
    let page = op(&a, format!("op=query&integration={}&limit=50", ids[0])).await;
    assert_eq!(page, json!({"items": [], "total": 0}));

    // Deleting tenant B takes its sessions.
    let (status, _) = host.call("DELETE", &format!("/api/tenants/{b_id}"), None).await;
    assert_eq!(status, 204);
    assert_eq!(rows(&b_id), 0);
}

//! The web UI in a real headless Chromium against the real host binary and plugin: sign in (a
//! wrong token is sent back to the form), install WeCom below tenant level (warnings, no
//! provider) then at tenant level, create both kinds of integration from their schemas (422
//! message, callback URL), see the plugin's tabs (stats with toolbar actions and confirmation,
//! the sessions table with sorting, search, paging and a row action), create Digital Experts with
//! a WeCom Trigger, publish, see the conflict checklist when a second expert binds the same
//! integration, unpublish; edit with masked secrets, test, the Chinese labels, and delete.
//!
//! Without Chromium the test is skipped, except under CI (`CI` set) where it fails.

mod host_common;

use std::path::PathBuf;
use std::time::Duration;

use host_common::*;
use serde_json::Value;
use testkit::browser::{launch_or_skip, Page};

const WAIT: Duration = Duration::from_secs(20);

/// Waits for `[data-testid=id]` and returns its selector; on timeout the panic shows the page.
async fn testid(page: &Page, id: &str) -> String {
    let selector = format!("[data-testid='{id}']");
    if let Err(e) = page.wait_for(&selector, WAIT).await {
        panic!("{id}: {e}\n--- page ---\n{}", shown(page).await);
    }
    selector
}

/// Waits until the text of `[data-testid=id]` contains `needle`; returns that text.
async fn text_contains(page: &Page, id: &str, needle: &str) -> String {
    let selector = testid(page, id).await;
    let js = format!("(document.querySelector({selector:?})?.textContent || '').includes({needle:?})");
    if let Err(e) = page.wait_until(&js, WAIT).await {
        panic!("{id} should contain {needle:?}: {e}\n--- page ---\n{}", shown(page).await);
    }
    page.text(&selector).await.unwrap()
}

/// Waits until the JavaScript expression is true; on timeout the panic shows the page.
async fn until(page: &Page, js: &str) {
    if let Err(e) = page.wait_until(js, WAIT).await {
        panic!("{e}\n--- page ---\n{}", shown(page).await);
    }
}

/// What the page shows (hash, notice and main), for failure messages.
async fn shown(page: &Page) -> String {
    let text = page.eval("location.hash + '\\n' + document.body.innerText").await;
    text.map(|v| v.as_str().unwrap_or_default().to_string()).unwrap_or_else(|e| e.to_string())
}

/// Navigates to a hash route and waits until the page has rendered it.
async fn open(page: &Page, base: &str, hash: &str) {
    page.goto(&format!("{base}/{hash}")).await.unwrap();
    let ready = "document.getElementById('app').dataset.ready";
    until(page, &format!("{ready} === {hash:?} || {ready}?.startsWith({:?})", format!("{hash}/tab/"))).await;
}

/// Records every request URL the page makes (in `window.__calls`), keeping the real fetch.
const RECORD_FETCH: &str = r#"(() => {
  if (window.__realFetch) return true;
  window.__realFetch = window.fetch;
  window.__calls = [];
  window.fetch = (url, opts = {}) => {
    window.__calls.push({ url: String(url), method: opts.method || 'GET', body: opts.body || null });
    return window.__realFetch(url, opts);
  };
  return true;
})()"#;

/// Answers the sessions table from 25 made-up rows (live sessions need WeCom traffic), honouring
/// page and pageSize, and the row action `reset` with a localized message and `refresh`. The
/// search `slow` is answered (with no rows) only when the test releases it.
const STUB_SESSIONS: &str = r#"(() => {
  const rows = Array.from({ length: 25 }, (_, i) => ({
    id: `s${i + 1}`, chatType: i % 2 ? 'group' : 'single', chatId: `chat-${i + 1}`, senderId: `user-${i + 1}`,
    xpertId: 'x1', conversationId: `conv-${i + 1}`, updatedAt: '2026-11-24T10:00:00Z' }));
  const real = window.fetch;
  window.fetch = (url, opts = {}) => {
    const u = new URL(String(url), location.href);
    const json = (v) => Promise.resolve(new Response(JSON.stringify(v), { headers: { 'Content-Type': 'application/json' } }));
    if (u.pathname.endsWith('/views/sessions/data')) {
      window.__calls.push({ url: String(url), method: 'GET', body: null });
      if (u.searchParams.get('search') === 'slow') {
        // Held until the test calls __releaseSlow(); __slowConsumed turns true once the page
        // has read the body and run everything that follows (a task after its microtasks).
        return new Promise((resolve) => { window.__releaseSlow = () => {
          const r = new Response(JSON.stringify({ items: [], total: 0 }), { headers: { 'Content-Type': 'application/json' } });
          const text = r.text.bind(r);
          r.text = async () => { const body = await text(); setTimeout(() => { window.__slowConsumed = true; }, 0); return body; };
          resolve(r);
        }; });
      }
      const page = Number(u.searchParams.get('page')), size = Number(u.searchParams.get('pageSize'));
      return json({ items: rows.slice((page - 1) * size, page * size), total: rows.length });
    }
    if (u.pathname.endsWith('/views/sessions/actions/reset')) {
      window.__calls.push({ url: String(url), method: opts.method, body: opts.body });
      return json({ success: true, message: { en_US: 'Session reset.', zh_Hans: '会话已重置。' }, refresh: true });
    }
    return real(url, opts);
  };
  return true;
})()"#;

async fn calls_matching(page: &Page, needle: &str) -> Vec<Value> {
    let js = format!("window.__calls.filter((c) => c.url.includes({needle:?}))");
    page.eval(&js).await.unwrap().as_array().cloned().unwrap_or_default()
}

#[tokio::test]
async fn operators_set_up_wecom_through_the_web_ui() {
    let Some(browser) = launch_or_skip().await.expect("chromium starts") else { return };
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    let base = host.server.base_url();
    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let page = browser.open(&base).await.unwrap();

    // Every uncaught error of the page is collected (navigation is by fragment: one document).
    page.eval(
        "window.__errors = []; addEventListener('error', (e) => __errors.push(e.message)); \
         addEventListener('unhandledrejection', (e) => __errors.push(String(e.reason)))",
    )
    .await
    .unwrap();

    // Sign in: a wrong token comes back to the form with a message, the right one gets in.
    page.fill(&testid(&page, "token-input").await, "wrong-token").await.unwrap();
    page.click(&testid(&page, "login-button").await).await.unwrap();
    text_contains(&page, "login-error", "rejected").await;
    assert_eq!(page.eval("localStorage.getItem('xpert.token')").await.unwrap(), Value::Null);
    page.fill(&testid(&page, "token-input").await, TOKEN).await.unwrap();
    page.click(&testid(&page, "login-button").await).await.unwrap();
    // The header says which tenant the token acts in (the admin token: default).
    let badge = text_contains(&page, "tenant-badge", "default").await;
    assert!(badge.starts_with("Tenant"), "{badge}");

    // Plugins: below tenant level the install succeeds with warnings and registers no provider.
    testid(&page, "plugin-wecom").await;
    page.fill(&testid(&page, "level-wecom").await, "project").await.unwrap();
    page.click(&testid(&page, "install-wecom").await).await.unwrap();
    text_contains(&page, "notice-warn", "tenant level").await;
    text_contains(&page, "installed-wecom", "project").await;
    page.screenshot(&shots.join("web-ui-plugins-warnings.png")).await.unwrap();
    open(&page, &base, "#/integrations").await;
    text_contains(&page, "no-providers", "tenant level").await;
    open(&page, &base, "#/integrations/new/wecom").await;
    text_contains(&page, "form-error", "PROVIDER_NOT_FOUND").await;
    assert!(page.text("[data-testid='form-error']").await.unwrap().contains("tenant level"));

    // … and at tenant level it registers them.
    open(&page, &base, "#/plugins").await;
    page.fill(&testid(&page, "level-wecom").await, "tenant").await.unwrap();
    page.click(&testid(&page, "install-wecom").await).await.unwrap();
    text_contains(&page, "notice-ok", "tenant").await;
    text_contains(&page, "installed-wecom", "tenant").await;
    text_contains(&page, "installed-wecom", "wecom_long").await;

    // A short-connection integration from its schema: required marks, secrets as password
    // inputs, the 422 message, then the callback URL after saving.
    open(&page, &base, "#/integrations").await;
    page.click(&testid(&page, "new-wecom").await).await.unwrap();
    let token_input = testid(&page, "opt-token").await;
    assert_eq!(page.eval(&format!("document.querySelector({token_input:?}).type")).await.unwrap(), "password");
    assert!(page.text("label[for='opt-token']").await.unwrap().contains('*'), "required mark");
    assert!(!page.text("label[for='opt-preferLanguage']").await.unwrap().contains('*'));
    page.fill(&token_input, WECOM_TOKEN).await.unwrap();
    page.fill(&testid(&page, "opt-encodingAesKey").await, "too-short").await.unwrap();
    page.click(&testid(&page, "save-integration").await).await.unwrap();
    let error = text_contains(&page, "form-error", "43 characters").await;
    assert!(error.contains("INVALID_CONFIG"), "the code is shown too: {error}");
    page.fill("[data-testid='opt-encodingAesKey']", AES_KEY).await.unwrap();
    page.click("[data-testid='save-integration']").await.unwrap();
    let url = text_contains(&page, "callback-url", "/api/wecom/webhook/").await;
    text_contains(&page, "notice-ok", "Saved").await;
    let short_id = url.rsplit('/').next().unwrap().to_string();
    testid(&page, "tab-sessions").await;

    // A long-connection integration: the WebSocket URL, and the Status and Sessions tabs.
    open(&page, &base, "#/integrations").await;
    page.click(&testid(&page, "new-wecom_long").await).await.unwrap();
    page.fill(&testid(&page, "opt-botId").await, "aibUI1").await.unwrap();
    page.fill(&testid(&page, "opt-secret").await, "ui-secret").await.unwrap();
    page.click("[data-testid='save-integration']").await.unwrap();
    text_contains(&page, "websocket-url", "ws://127.0.0.1:9").await;
    testid(&page, "stats-status").await;
    text_contains(&page, "stat-botId", "aibUI1").await;
    text_contains(&page, "stat-stateText", "Stopped").await;
    text_contains(&page, "stat-reason", "No published Digital Expert uses this integration").await;
    assert!(!shown(&page).await.contains("ui-secret"), "no secret on the page");
    let long_id = page.eval("location.hash.split('/')[2]").await.unwrap().as_str().unwrap().to_string();
    page.screenshot(&shots.join("web-ui-status-tab.png")).await.unwrap();

    // Toolbar actions: the answer's message in the chosen language; a declined confirmation
    // sends nothing.
    page.eval(RECORD_FETCH).await.unwrap();
    page.click(&testid(&page, "action-status-refresh").await).await.unwrap();
    text_contains(&page, "notice-ok", "Status re-read").await;
    page.eval("window.confirm = () => false").await.unwrap();
    page.click(&testid(&page, "action-status-disconnect").await).await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(calls_matching(&page, "/actions/disconnect").await.is_empty(), "declined: no request");
    page.eval("window.confirm = () => true").await.unwrap();
    page.click(&testid(&page, "action-status-disconnect").await).await.unwrap();
    text_contains(&page, "notice-ok", "It was not connected, so nothing was closed").await;
    text_contains(&page, "stat-reason", "Disconnected by an operator").await;
    assert_eq!(calls_matching(&page, "/actions/disconnect").await.len(), 1);

    // The Sessions table: sorting by a header click, search, against the real plugin…
    page.click(&testid(&page, "tab-sessions").await).await.unwrap();
    testid(&page, "table-sessions").await;
    page.click(&testid(&page, "th-sessions-updatedAt").await).await.unwrap();
    until(&page, "window.__calls.some((c) => c.url.includes('sortBy=updatedAt&sortDirection=asc'))").await;
    text_contains(&page, "th-sessions-updatedAt", "▲").await;
    page.click("[data-testid='th-sessions-updatedAt']").await.unwrap();
    until(&page, "window.__calls.some((c) => c.url.includes('sortBy=updatedAt&sortDirection=desc'))").await;
    page.fill(&testid(&page, "search-sessions").await, "chat-7").await.unwrap();
    until(&page, "window.__calls.some((c) => c.url.includes('search=chat-7'))").await;
    text_contains(&page, "page-sessions", "0 rows").await;

    // … and paging and the row action over made-up rows.
    page.eval(STUB_SESSIONS).await.unwrap();
    page.fill("[data-testid='search-sessions']", "").await.unwrap();
    text_contains(&page, "page-sessions", "Page 1 / 3 · 25 rows").await;
    // An answer that arrives after a newer one (a slow request, quick typing) is dropped.
    page.fill("[data-testid='search-sessions']", "slow").await.unwrap();
    until(&page, "typeof window.__releaseSlow === 'function'").await;
    page.eval("document.querySelector(\"[data-testid='table-sessions']\").dataset.before = '1'").await.unwrap();
    page.fill("[data-testid='search-sessions']", "").await.unwrap();
    until(&page, "!document.querySelector(\"[data-testid='table-sessions']\").dataset.before").await; // re-rendered
    text_contains(&page, "page-sessions", "Page 1 / 3 · 25 rows").await;
    page.eval("window.__releaseSlow(), true").await.unwrap();
    until(&page, "window.__slowConsumed === true").await;
    let shown_now = page.text("[data-testid='page-sessions']").await.unwrap();
    assert!(shown_now.contains("Page 1 / 3 · 25 rows"), "the stale answer overwrote the newer one: {shown_now}");
    page.click(&testid(&page, "next-sessions").await).await.unwrap();
    text_contains(&page, "page-sessions", "Page 2 / 3").await;
    testid(&page, "row-sessions-s11").await;
    page.click("[data-testid='row-sessions-s12'] [data-testid='row-action-sessions-reset']").await.unwrap();
    text_contains(&page, "notice-ok", "Session reset.").await;
    let resets = calls_matching(&page, "/actions/reset").await;
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0]["body"], r#"{"targetId":"s12"}"#);
    until(&page, "window.__calls.filter((c) => c.url.includes('/views/sessions/data')).length >= 3").await;
    page.screenshot(&shots.join("web-ui-sessions-tab.png")).await.unwrap();

    // The tabs follow the language.
    page.fill(&testid(&page, "lang").await, "zh_Hans").await.unwrap();
    text_contains(&page, "tab-status", "连接状态").await;
    text_contains(&page, "tab-sessions", "会话").await;
    text_contains(&page, "page-sessions", "共 25 条").await;
    text_contains(&page, "tenant-badge", "租户").await;
    text_contains(&page, "tenant-badge", "default").await;
    page.screenshot(&shots.join("web-ui-sessions-zh.png")).await.unwrap();
    page.fill(&testid(&page, "lang").await, "en_US").await.unwrap();
    text_contains(&page, "tab-status", "Status").await;

    // Two Digital Experts bind the same integration: the first publishes, the second is refused
    // with the checklist, and publishes once the first is unpublished.
    let mut experts = Vec::new();
    for name in ["First expert", "Second expert"] {
        open(&page, &base, "#/experts").await;
        page.fill(&testid(&page, "xpert-name").await, name).await.unwrap();
        page.click(&testid(&page, "create-xpert").await).await.unwrap();
        page.click(&testid(&page, "add-trigger").await).await.unwrap();
        let timeout = testid(&page, "trigger-sessionTimeoutSeconds").await;
        assert_eq!(page.eval(&format!("document.querySelector({timeout:?}).value")).await.unwrap(), "3600");
        let window = testid(&page, "trigger-summaryWindowSeconds").await;
        assert_eq!(page.eval(&format!("document.querySelector({window:?}).value")).await.unwrap(), "0");
        page.fill(&testid(&page, "trigger-integrationId").await, &long_id).await.unwrap();
        page.click(&testid(&page, "publish").await).await.unwrap();
        experts.push(page.eval("location.hash.split('/')[2]").await.unwrap().as_str().unwrap().to_string());
        if experts.len() == 1 {
            text_contains(&page, "xpert-state", "Published").await;
        } else {
            let item =
                text_contains(&page, "check-TRIGGER_WECOM_INTEGRATION_CONFLICT", "TRIGGER_WECOM_INTEGRATION_CONFLICT")
                    .await;
            assert!(item.contains(&long_id), "the message names the integration: {item}");
            text_contains(&page, "checklist", "PUBLISH_VALIDATION_FAILED").await;
            assert_eq!(page.text("[data-testid='xpert-state']").await.unwrap(), "Draft");
            page.screenshot(&shots.join("web-ui-publish-conflict.png")).await.unwrap();
        }
    }
    let (_, first) = host.get(&format!("/api/xpert/{}", experts[0])).await;
    assert_eq!(first["published"], true);
    assert_eq!(first["triggers"][0]["config"]["integrationId"], long_id.as_str());
    assert_eq!(first["triggers"][0]["config"]["sessionTimeoutSeconds"], 3600);
    assert_eq!(first["triggers"][0]["config"]["enabled"], true);
    open(&page, &base, &format!("#/experts/{}", experts[0])).await;
    page.click(&testid(&page, "unpublish").await).await.unwrap();
    text_contains(&page, "xpert-state", "Draft").await;
    open(&page, &base, &format!("#/experts/{}", experts[1])).await;
    page.click(&testid(&page, "publish").await).await.unwrap();
    text_contains(&page, "xpert-state", "Published").await;
    let (_, second) = host.get(&format!("/api/xpert/{}", experts[1])).await;
    assert_eq!(second["published"], true);

    // An OpenAI-compatible agent: the 422 message, then its API key shown only as ******.
    open(&page, &base, "#/experts").await;
    page.fill(&testid(&page, "xpert-name").await, "OpenAI expert").await.unwrap();
    page.fill(&testid(&page, "agent-kind").await, "openai").await.unwrap();
    page.fill(&testid(&page, "agent-model").await, "gpt-test").await.unwrap();
    page.click(&testid(&page, "create-xpert").await).await.unwrap();
    text_contains(&page, "xpert-error", "baseUrl").await;
    page.fill(&testid(&page, "agent-baseUrl").await, "http://127.0.0.1:9/v1").await.unwrap();
    page.fill(&testid(&page, "agent-apiKey").await, "sk-ui-secret").await.unwrap();
    page.click(&testid(&page, "create-xpert").await).await.unwrap();
    text_contains(&page, "xpert-agent", "openai").await;
    text_contains(&page, "xpert-api-key", "******").await;
    assert!(!shown(&page).await.contains("sk-ui-secret"), "no API key on the page");

    // Edit keeps secrets masked (and their values), Test validates, saving renames.
    open(&page, &base, &format!("#/integrations/{short_id}/edit")).await;
    let token_field = testid(&page, "opt-token").await;
    assert_eq!(page.eval(&format!("document.querySelector({token_field:?}).value")).await.unwrap(), "******");
    page.click(&testid(&page, "test-integration").await).await.unwrap();
    text_contains(&page, "test-ok", "Format checked").await;
    text_contains(&page, "callback-url", &short_id).await;
    page.fill("[data-testid='int-name']", "renamed short").await.unwrap();
    page.click("[data-testid='save-integration']").await.unwrap();
    text_contains(&page, "integration-title", "renamed short").await;
    let (_, saved) = host.get(&format!("/api/integration/{short_id}")).await;
    assert_eq!(saved["name"], "renamed short");
    let probe = format!("{base}/api/wecom/webhook/{short_id}?msg_signature=d7fe3794f02ebe970e006a79062638ed51f2ec8f&timestamp=1700000000&nonce=nonce123&echostr=scEag1243Fmy%2FfYz4Ux8D4VyGL33CiZE7jU1zRSmEGdDa8cZHZaZX92v4qThQP5vdPKv%2FGTtjH8%2FN6byF0w85w%3D%3D");
    assert_eq!(
        reqwest::get(probe).await.unwrap().text().await.unwrap(),
        "1288432023552776189",
        "the masked secrets kept their values"
    );

    // The schema's labels in Chinese.
    page.fill(&testid(&page, "lang").await, "zh_Hans").await.unwrap();
    open(&page, &base, "#/integrations/new/wecom").await;
    until(&page, "document.querySelector(\"label[for='opt-token']\")?.textContent.includes('回调 Token')").await;
    text_contains(&page, "form-title", "企业微信-短连接").await;
    page.screenshot(&shots.join("web-ui-form-zh.png")).await.unwrap();
    page.fill(&testid(&page, "lang").await, "en_US").await.unwrap();

    // Delete, confirmed.
    open(&page, &base, "#/integrations").await;
    testid(&page, &format!("integration-row-{short_id}")).await;
    page.eval("window.confirm = () => true").await.unwrap();
    page.click(&testid(&page, &format!("delete-{short_id}")).await).await.unwrap();
    until(&page, &format!("!document.querySelector(\"[data-testid='integration-row-{short_id}']\")")).await;
    let (status, _) = host.get(&format!("/api/integration/{short_id}")).await;
    assert_eq!(status, 404);

    // Signing out forgets the token.
    page.click(&testid(&page, "logout").await).await.unwrap();
    testid(&page, "token-input").await;
    until(&page, "document.querySelector(\"[data-testid='tenant-badge']\").hidden").await;

    // A tenant's token: the badge names that tenant, and its Plugins page has nothing installed.
    let (tenant_id, tenant_token) = host.create_tenant("Acme").await;
    page.fill(&testid(&page, "token-input").await, &tenant_token).await.unwrap();
    page.click(&testid(&page, "login-button").await).await.unwrap();
    let badge = text_contains(&page, "tenant-badge", "Acme").await;
    assert!(!badge.contains("admin"), "{badge}");
    let shown_id =
        page.eval("document.querySelector(\"[data-testid='tenant-badge']\").dataset.tenantId").await.unwrap();
    assert_eq!(shown_id, Value::String(tenant_id));
    open(&page, &base, "#/plugins").await;
    testid(&page, "plugin-wecom").await;
    assert!(page
        .eval("!document.querySelector(\"[data-testid='installed-wecom']\")")
        .await
        .unwrap()
        .as_bool()
        .unwrap());
    // The tenant installs WeCom, then uninstalls it (confirmed); default's install is untouched.
    page.fill(&testid(&page, "level-wecom").await, "tenant").await.unwrap();
    page.click(&testid(&page, "install-wecom").await).await.unwrap();
    text_contains(&page, "installed-wecom", "wecom_long").await;
    page.eval("window.confirm = () => true").await.unwrap();
    page.click(&testid(&page, "uninstall-wecom").await).await.unwrap();
    text_contains(&page, "notice-ok", "Uninstalled wecom").await;
    until(&page, "!document.querySelector(\"[data-testid='installed-wecom']\")").await;
    let (_, theirs) = host.call_as(&tenant_token, "GET", "/api/plugins", None).await;
    assert_eq!(theirs, serde_json::json!([]));
    let (_, defaults) = host.get("/api/plugins").await;
    assert_eq!(defaults[0]["level"], "tenant", "the admin's tenant keeps its install");
    page.click(&testid(&page, "logout").await).await.unwrap();
    testid(&page, "token-input").await;
    assert_eq!(page.eval("localStorage.getItem('xpert.token')").await.unwrap(), Value::Null);

    assert_eq!(page.eval("window.__errors").await.unwrap(), serde_json::json!([]), "no uncaught error in the page");
    for shot in ["web-ui-status-tab.png", "web-ui-sessions-tab.png", "web-ui-publish-conflict.png"] {
        let bytes = std::fs::read(shots.join(shot)).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n", "{shot}");
    }
}

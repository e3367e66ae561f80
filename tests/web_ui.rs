//! The web console in a real headless Chromium against the real host binary and plugin, walked
//! as an operator would (issue 12), once in English on a desktop screen (1400 px) and once in
//! 简体中文 on a phone (390 px); every page is also looked at in the other width.
//!
//! The walk: sign in (an empty and a wrong token are explained), install WeCom below tenant level
//! (warnings, no provider) then at tenant level (a pointer to the next step; Install becomes
//! Uninstall), create both kinds of integration from their schemas (every invalid field marked
//! with its own message in the page's language, a pasted value never cut, the server's refusal on
//! the field it names), copy the callback and WebSocket URLs, see the plugin's tabs in words (no
//! codes), act on them through in-page dialogs, create Digital Experts with a WeCom Trigger,
//! publish, see the conflict checklist naming the integration and the expert, be refused deleting
//! an integration a published expert uses, unpublish (confirmed), see a dangling trigger
//! explained, try an expert (the answer streams), delete an expert, uninstall.
//!
//! On every page: no sideways scrolling of the page, the header's controls on screen, every
//! visible control reachable with Tab and showing its focus, and axe-core (run inside Chromium)
//! finds no serious or critical violation. In Chinese, no English word is left on screen beyond
//! product names. Screenshots go to `target/tmp/` (`web-*.png`).
//!
//! Without Chromium the tests are skipped, except under CI (`CI` set) where they fail. axe-core
//! is required: `.ci/install-axe.sh` installs it (or set `AXE_CORE_JS`).

mod host_common;

use std::path::PathBuf;
use std::time::Duration;

use host_common::*;
use serde_json::{json, Value};
use testkit::browser::{launch_or_skip, Page};

const WAIT: Duration = Duration::from_secs(20);
const DESKTOP: (u32, u32) = (1400, 900);
const PHONE: (u32, u32) = (390, 844);

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

/// Waits until the page shows `hash` rendered (after a click that navigates).
async fn rendered(page: &Page, hash_prefix: &str) {
    let ready = "document.getElementById('app').dataset.ready";
    until(page, &format!("({ready} || '').startsWith({hash_prefix:?})")).await;
}

async fn id_in_hash(page: &Page) -> String {
    page.eval("location.hash.split('/')[2]").await.unwrap().as_str().unwrap().to_string()
}

/// Clicks a dialog's confirm (`yes`) or cancel button, then waits until the dialog is gone.
async fn answer_dialog(page: &Page, yes: bool) {
    testid(page, "dialog").await;
    page.click(&format!("[data-testid='dialog-{}']", if yes { "confirm" } else { "cancel" })).await.unwrap();
    until(page, "!document.querySelector('dialog')").await;
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
/// search `slow` is answered (with no rows) only when the test releases it. `xpertId` is the
/// id in `window.__expertId`, so the table can show its name.
const STUB_SESSIONS: &str = r#"(() => {
  const rows = Array.from({ length: 25 }, (_, i) => ({
    id: `s${i + 1}`, chatType: i % 2 ? 'group' : 'single', chatTypeText: i % 2 ? { en_US: 'Group chat', zh_Hans: '群聊' } : { en_US: 'Direct chat', zh_Hans: '单聊' }, chatId: `chat-${i + 1}`, senderId: `user-${i + 1}`,
    xpertId: window.__expertId || 'x1', conversationId: `conv-${i + 1}`, updatedAt: '2026-11-24T10:00:00Z' }));
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

/// axe-core's source: `AXE_CORE_JS`, else where `.ci/install-axe.sh` puts it. Missing, the test
/// fails saying how to install it (an accessibility check is never skipped silently).
fn axe_source() -> String {
    let path = std::env::var_os("AXE_CORE_JS").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("target/ci-tools/node_modules/axe-core/axe.min.js")
    });
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is missing ({}: {e}): run `bash .ci/install-axe.sh` (CI runs it), or set AXE_CORE_JS to an axe.min.js",
            path.display()
        )
    })
}

/// The checks every page gets, at the page's current width and at `other` width: no sideways
/// scrolling, the header's controls on screen, axe-core without serious or critical violations;
/// a screenshot at each width (`web-<name>-<width>.png`).
struct Checks {
    axe: String,
    shots: PathBuf,
    lang: &'static str,
    width: (u32, u32),
    other: (u32, u32),
}

impl Checks {
    async fn page(&self, page: &Page, name: &str) {
        for (i, size) in [self.width, self.other].into_iter().enumerate() {
            page.set_viewport(size.0, size.1, size.0 < 600).await.unwrap();
            self.layout(page, name, size.0).await;
            self.accessible(page, &format!("{name} at {} px", size.0)).await;
            let file = self.shots.join(format!("web-{}-{name}-{}.png", self.lang, size.0));
            page.screenshot(&file).await.unwrap();
            if i == 1 {
                page.set_viewport(self.width.0, self.width.1, self.width.0 < 600).await.unwrap();
            }
        }
    }

    async fn layout(&self, page: &Page, name: &str, width: u32) {
        let overflow = page
            .eval("[document.documentElement.scrollWidth, window.innerWidth, [...document.querySelectorAll('body *')].filter((e) => { const r = e.getBoundingClientRect(); return r.width && r.right > window.innerWidth + 1 && !e.closest('.table-wrap, dialog'); }).slice(0, 5).map((e) => e.outerHTML.slice(0, 120))]")
            .await
            .unwrap();
        assert!(
            overflow[0].as_f64().unwrap() <= overflow[1].as_f64().unwrap() + 1.0,
            "{name} at {width} px scrolls sideways: {overflow}"
        );
        if overflow[1] != json!(width) {
            let wide = page.eval("[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > 391).slice(0, 8).map((e) => e.tagName + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right) + ' ' + e.outerHTML.slice(0, 80))").await.unwrap();
            panic!("{name}: the viewport is {} px wide, not {width}: {wide}", overflow[1]);
        }
        let signed_in = page.eval("!document.body.classList.contains('signed-out')").await.unwrap() == json!(true);
        let controls = if signed_in { "['#lang', '#logout', 'header nav a:last-child']" } else { "['#lang']" };
        let off = page
            .eval(&format!(
                "(() => {{ const y = window.scrollY; window.scrollTo(0, 0); const off = {controls}.filter((s) => {{ const r = document.querySelector(s).getBoundingClientRect(); return !(r.width > 0 && r.left >= 0 && r.right <= window.innerWidth + 1 && r.top >= 0 && r.bottom <= window.innerHeight); }}); window.scrollTo(0, y); return off; }})()"
            ))
            .await
            .unwrap();
        assert_eq!(off, json!([]), "{name} at {width} px: header controls off screen");
    }

    async fn accessible(&self, page: &Page, label: &str) {
        if page.eval("typeof window.axe === 'object'").await.unwrap() != json!(true) {
            page.eval(&format!("{};true", self.axe)).await.unwrap();
        }
        let found = page
            .eval(
                "axe.run(document, { resultTypes: ['violations'] }).then((r) => r.violations
                   .filter((v) => v.impact === 'serious' || v.impact === 'critical')
                   .map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.slice(0, 4).map((n) => n.target.join(' ') + ' ' + (n.failureSummary || '').slice(0, 200)) })))",
            )
            .await
            .unwrap();
        assert_eq!(found, json!([]), "axe-core: serious or critical violations on {label}");
    }
}

/// Presses Tab through the page (at most 250 times) and returns the visible controls in `main`,
/// the header and open dialogs that were never focused, and those focused without a visible
/// focus indicator.
async fn keyboard_walk(page: &Page) -> (Value, Value) {
    page.eval(
        "window.__reached = new Set(); window.__noRing = new Set(); \
         window.__onFocus = (e) => { const el = e.target; window.__reached.add(el); const s = getComputedStyle(el); \
           if (s.outlineStyle === 'none' || parseFloat(s.outlineWidth) === 0) window.__noRing.add(el); }; \
         document.addEventListener('focusin', window.__onFocus); document.activeElement?.blur(); true",
    )
    .await
    .unwrap();
    for _ in 0..250 {
        page.press("Tab").await.unwrap();
        let done = page
            .eval("(() => { const all = [...document.querySelectorAll('main a[href], main button, main input, main select, main textarea, header a[href], header button, header select')].filter((e) => !e.disabled && e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden' && !e.matches('[role=tab][tabindex=\"-1\"]')); return all.every((e) => window.__reached.has(e)); })()")
            .await
            .unwrap();
        if done == json!(true) {
            break;
        }
    }
    let result = page
        .eval("(() => { const all = [...document.querySelectorAll('main a[href], main button, main input, main select, main textarea, header a[href], header button, header select')].filter((e) => !e.disabled && e.getClientRects().length && getComputedStyle(e).visibility !== 'hidden' && !e.matches('[role=tab][tabindex=\"-1\"]')); document.removeEventListener('focusin', window.__onFocus); return [all.filter((e) => !window.__reached.has(e)).map((e) => e.outerHTML.slice(0, 100)), [...window.__noRing].map((e) => e.outerHTML.slice(0, 100))]; })()")
        .await
        .unwrap();
    (result[0].clone(), result[1].clone())
}

/// English words left on screen (visible text outside code, ids, user input and the language
/// picker), beyond product names and the ASCII names the test gave things.
async fn english_left(page: &Page) -> Value {
    page.eval(
        r#"(() => {
  const allow = /^(WeCom|Xpert|AI|Token|EncodingAESKey|Bot|ID|IDs|Secret|WebSocket|Origin|Base|URL|API|Key|Echo|OpenAI|ABI|wecom|wecom_long|echo|default|https|http|HTTPS|JavaScript|JSON|Webhook|Enter)$/;
  const skip = 'code, [data-copy], #lang, .tenant-badge, .bubble, select, [data-testid=stat-botId], [data-testid=stat-ownerInstanceId], .user-text';
  const words = new Set();
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  while (walker.nextNode()) {
    const el = walker.currentNode.parentElement;
    if (!el || el.closest(skip) || !el.getClientRects().length || el.closest('[hidden]')) continue;
    for (const w of walker.currentNode.textContent.match(/[A-Za-z][A-Za-z_]{2,}/g) || []) if (!allow.test(w) && !/^[A-Z]+(_[A-Z]+)+$/.test(w)) words.add(w); // env variables are names
  }
  return [...words];
})()"#,
    )
    .await
    .unwrap()
}

/// Every visible control is reached with Tab and shows where the focus is.
async fn walk_keyboard(page: &Page, label: &str) {
    let (unreached, no_ring) = keyboard_walk(page).await;
    assert_eq!(unreached, json!([]), "{label}: controls Tab never reaches");
    assert_eq!(no_ring, json!([]), "{label}: focus without a visible ring");
}

async fn no_english(page: &Page, label: &str) {
    let left = english_left(page).await;
    assert_eq!(left, json!([]), "English left on screen in Chinese: {label}\n--- page ---\n{}", shown(page).await);
}

async fn start_page(browser: &testkit::browser::Browser, base: &str, lang: &str, size: (u32, u32)) -> Page {
    let page = browser.open("about:blank").await.unwrap();
    page.set_viewport(size.0, size.1, size.0 < 600).await.unwrap();
    page.goto(&format!("{base}/")).await.unwrap();
    page.eval(&format!("localStorage.setItem('xpert.lang', {lang:?}); true")).await.unwrap();
    page.goto(&format!("{base}/")).await.unwrap();
    // Every uncaught error of the page is collected (navigation is by fragment: one document).
    page.eval(
        "window.__errors = []; addEventListener('error', (e) => __errors.push(e.message)); \
         addEventListener('unhandledrejection', (e) => __errors.push(String(e.reason))); \
         window.confirm = window.alert = window.prompt = () => { __errors.push('a native dialog opened'); return false; }; true",
    )
    .await
    .unwrap();
    page
}

#[tokio::test]
async fn operators_set_up_wecom_through_the_web_ui() {
    let Some(browser) = launch_or_skip().await.expect("chromium starts") else { return };
    let checks = Checks {
        axe: axe_source(),
        shots: PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        lang: "en",
        width: DESKTOP,
        other: PHONE,
    };
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    let base = host.server.base_url();
    let page = start_page(&browser, &base, "en_US", DESKTOP).await;

    // Sign in: an empty token is explained, a wrong one comes back to the form with a message,
    // the right one gets in.
    page.click(&testid(&page, "login-button").await).await.unwrap();
    text_contains(&page, "login-error", "Enter the admin token").await;
    assert_eq!(page.eval("document.activeElement.id").await.unwrap(), "token");
    checks.page(&page, "login").await;
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
    open(&page, &base, "#/integrations").await;
    text_contains(&page, "no-providers", "tenant level").await;
    open(&page, &base, "#/integrations/new/wecom").await;
    text_contains(&page, "form-error", "PROVIDER_NOT_FOUND").await;
    assert!(page.text("[data-testid='form-error']").await.unwrap().contains("tenant level"));

    // … and at tenant level it registers them; Install becomes "Change level" beside Uninstall,
    // and the notice points to the next step (and clears itself later).
    open(&page, &base, "#/plugins").await;
    page.fill(&testid(&page, "level-wecom").await, "tenant").await.unwrap();
    page.click(&testid(&page, "install-wecom").await).await.unwrap();
    text_contains(&page, "notice-ok", "tenant").await;
    text_contains(&page, "installed-wecom", "wecom_long").await;
    text_contains(&page, "next-step", "create a WeCom integration").await;
    text_contains(&page, "install-wecom", "Change level").await;
    testid(&page, "uninstall-available-wecom").await;
    checks.page(&page, "plugins").await;
    let (unreached, no_ring) = keyboard_walk(&page).await;
    assert_eq!(unreached, json!([]), "plugins: controls Tab never reaches");
    assert_eq!(no_ring, json!([]), "plugins: focus without a visible ring");
    page.click("[data-testid='next-step']").await.unwrap();
    rendered(&page, "#/integrations").await;
    until(&page, "!document.querySelector(\"[data-testid='notice-ok']\")").await; // navigation cleared it

    // A short-connection integration: required marks, secrets as password inputs, every invalid
    // field marked with its own message at once, a pasted 44-character key kept whole.
    page.click(&testid(&page, "new-wecom").await).await.unwrap();
    let token_input = testid(&page, "opt-token").await;
    assert_eq!(page.eval(&format!("document.querySelector({token_input:?}).type")).await.unwrap(), "password");
    assert!(page.text("label[for='opt-token']").await.unwrap().contains('*'), "required mark");
    assert!(!page.text("label[for='opt-preferLanguage']").await.unwrap().contains('*'));
    page.fill("[data-testid='int-name']", "").await.unwrap();
    page.fill("[data-testid='opt-timeoutMs']", "5").await.unwrap();
    page.eval(RECORD_FETCH).await.unwrap();
    page.click(&testid(&page, "save-integration").await).await.unwrap();
    text_contains(&page, "form-error", "Check the highlighted fields").await;
    text_contains(&page, "field-error-name", "Name is required").await;
    text_contains(&page, "field-error-token", "Callback Token is required").await;
    text_contains(&page, "field-error-encodingAesKey", "EncodingAESKey is required").await;
    text_contains(&page, "field-error-timeoutMs", "at least 100").await;
    let invalid = page.eval("[...document.querySelectorAll('[aria-invalid=true]')].map((e) => e.id)").await.unwrap();
    assert_eq!(invalid, json!(["int-name", "opt-token", "opt-encodingAesKey", "opt-timeoutMs"]));
    assert!(calls_matching(&page, "/api/integration").await.iter().all(|c| c["method"] != "POST"), "nothing sent");
    page.fill("[data-testid='int-name']", "Short bot").await.unwrap();
    page.fill("[data-testid='opt-timeoutMs']", "").await.unwrap();
    page.fill(&token_input, WECOM_TOKEN).await.unwrap();
    page.eval("document.querySelector(\"[data-testid='opt-encodingAesKey']\").focus()").await.unwrap();
    page.type_text(&format!("{AES_KEY}A")).await.unwrap();
    assert_eq!(
        page.eval("document.querySelector(\"[data-testid='opt-encodingAesKey']\").value.length").await.unwrap(),
        44,
        "a pasted value is never cut"
    );
    page.click("[data-testid='save-integration']").await.unwrap();
    text_contains(&page, "field-error-encodingAesKey", "exactly 43 characters (you entered 44)").await;
    checks.page(&page, "integration-form-errors").await;
    // The server's own refusal lands on the field it names, in words.
    page.fill("[data-testid='opt-encodingAesKey']", &format!("{}!", &AES_KEY[..42])).await.unwrap();
    page.click("[data-testid='save-integration']").await.unwrap();
    let error = text_contains(&page, "form-error", "may only contain letters, digits").await;
    assert!(error.contains("EncodingAESKey may only"), "the label, not the key: {error}");
    text_contains(&page, "field-error-encodingAesKey", "may only contain").await;
    page.fill("[data-testid='opt-encodingAesKey']", AES_KEY).await.unwrap();
    page.click("[data-testid='save-integration']").await.unwrap();
    let url = text_contains(&page, "callback-url", "/api/wecom/webhook/").await;
    text_contains(&page, "notice-ok", "Saved").await;
    let short_id = url.rsplit('/').next().unwrap().to_string();
    testid(&page, "tab-sessions").await;
    assert_eq!(
        page.eval("document.querySelector(\"[data-testid='copy-callback-url']\").dataset.copy").await.unwrap(),
        url
    );
    page.click("[data-testid='copy-callback-url']").await.unwrap();
    text_contains(&page, "notice-ok", "Copied").await;

    // A long-connection integration: the WebSocket URL with its copy button, the Status tab in
    // words (no codes such as long_connection or xpert_unbound).
    open(&page, &base, "#/integrations").await;
    page.click(&testid(&page, "new-wecom_long").await).await.unwrap();
    rendered(&page, "#/integrations/new/wecom_long").await;
    page.fill("[data-testid='int-name']", "Long bot").await.unwrap();
    page.fill(&testid(&page, "opt-botId").await, "aibUI1").await.unwrap();
    page.fill(&testid(&page, "opt-secret").await, "ui-secret").await.unwrap();
    page.click("[data-testid='save-integration']").await.unwrap();
    text_contains(&page, "websocket-url", "ws://127.0.0.1:9").await;
    testid(&page, "copy-websocket-url").await;
    text_contains(&page, "setup-mode", "Long connection (WebSocket)").await;
    testid(&page, "stats-status").await;
    text_contains(&page, "stat-botId", "aibUI1").await;
    text_contains(&page, "stat-connectionModeText", "Long connection").await;
    text_contains(&page, "stat-stateText", "Stopped").await;
    text_contains(&page, "stat-reason", "No published Digital Expert uses this integration").await;
    let tab_text = page.text("[data-testid='tab-content']").await.unwrap();
    for code in ["long_connection", "xpert_unbound", "stopped"] {
        assert!(!tab_text.contains(code), "{code} shown: {tab_text}");
    }
    assert!(!shown(&page).await.contains("ui-secret"), "no secret on the page");
    let long_id = id_in_hash(&page).await;
    checks.page(&page, "status-tab").await;
    // The breadcrumbs start where the navigation says the page is.
    let (crumb, nav) = (page.text(".crumbs a").await.unwrap(), page.text("header nav a.active").await.unwrap());
    assert_eq!(crumb, nav, "breadcrumbs and navigation agree");
    assert_eq!(
        page.eval("document.querySelector('header nav a.active').getAttribute('aria-current')").await.unwrap(),
        "page"
    );

    // Toolbar actions: the answer's message in the chosen language; a declined in-page
    // confirmation sends nothing; Escape declines too, and the focus comes back.
    page.eval(RECORD_FETCH).await.unwrap();
    page.click(&testid(&page, "action-status-refresh").await).await.unwrap();
    text_contains(&page, "notice-ok", "Status re-read").await;
    page.click(&testid(&page, "action-status-disconnect").await).await.unwrap();
    text_contains(&page, "dialog", "It stays disconnected until you press Reconnect").await;
    checks.accessible(&page, "the disconnect dialog").await;
    answer_dialog(&page, false).await;
    page.eval("document.querySelector(\"[data-testid='action-status-disconnect']\").focus()").await.unwrap();
    page.press("Enter").await.unwrap();
    testid(&page, "dialog").await;
    assert_eq!(page.eval("document.activeElement.dataset.testid").await.unwrap(), "dialog-cancel", "the safe choice");
    page.press("Escape").await.unwrap();
    until(&page, "!document.querySelector('dialog')").await;
    assert_eq!(page.eval("document.activeElement.dataset.testid").await.unwrap(), "action-status-disconnect");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(calls_matching(&page, "/actions/disconnect").await.is_empty(), "declined: no request");
    // By keyboard alone: Enter opens, Tab moves to the confirm button, Enter confirms.
    page.press("Enter").await.unwrap();
    testid(&page, "dialog").await;
    page.press("Tab").await.unwrap();
    assert_eq!(page.eval("document.activeElement.dataset.testid").await.unwrap(), "dialog-confirm");
    page.press("Enter").await.unwrap();
    text_contains(&page, "notice-ok", "It was not connected, so nothing was closed").await;
    text_contains(&page, "stat-reason", "Disconnected by an operator").await;
    assert_eq!(calls_matching(&page, "/actions/disconnect").await.len(), 1);
    // The notice clears itself.
    until(&page, "!document.querySelector(\"[data-testid='notice-ok']\")").await;

    // The Sessions table: sorting by a header click (or its button), search, against the real
    // plugin…
    page.click(&testid(&page, "tab-sessions").await).await.unwrap();
    testid(&page, "table-sessions").await;
    page.click(&testid(&page, "th-sessions-updatedAt").await).await.unwrap();
    until(&page, "window.__calls.some((c) => c.url.includes('sortBy=updatedAt&sortDirection=asc'))").await;
    text_contains(&page, "th-sessions-updatedAt", "▲").await;
    page.click("[data-testid='th-sessions-updatedAt'] button").await.unwrap();
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
    text_contains(&page, "dialog", "same as the user sending /new").await;
    answer_dialog(&page, true).await;
    text_contains(&page, "notice-ok", "Session reset.").await;
    let resets = calls_matching(&page, "/actions/reset").await;
    assert_eq!(resets.len(), 1);
    assert_eq!(resets[0]["body"], r#"{"targetId":"s12"}"#);
    until(&page, "window.__calls.filter((c) => c.url.includes('/views/sessions/data')).length >= 3").await;
    checks.page(&page, "sessions-tab").await;
    let (unreached, no_ring) = keyboard_walk(&page).await;
    assert_eq!(unreached, json!([]), "sessions tab: controls Tab never reaches");
    assert_eq!(no_ring, json!([]), "sessions tab: focus without a visible ring");
    // The tab list: one stop for Tab, the arrow keys move between tabs.
    page.eval("document.querySelector(\"[data-testid='tab-sessions']\").focus()").await.unwrap();
    page.press("ArrowLeft").await.unwrap();
    until(&page, "document.activeElement.dataset.testid === 'tab-status' && document.querySelector(\"[data-testid='stats-status']\")").await;
    page.press("ArrowRight").await.unwrap();
    until(&page, "document.activeElement.dataset.testid === 'tab-sessions' && document.querySelector(\"[data-testid='table-sessions']\")").await;

    // Two Digital Experts bind the same integration: the first publishes, the second is refused
    // with the checklist naming the integration and the expert, and publishes once the first is
    // unpublished (confirmed).
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
        let option = page
            .eval(&format!("document.querySelector(\"[data-testid='trigger-integrationId'] option[value='{long_id}']\").textContent"))
            .await
            .unwrap();
        assert_eq!(option, "Long bot (WeCom (Long Connection))", "names, not ids or codes");
        page.fill(&testid(&page, "trigger-integrationId").await, &long_id).await.unwrap();
        page.click(&testid(&page, "publish").await).await.unwrap();
        experts.push(id_in_hash(&page).await);
        if experts.len() == 1 {
            text_contains(&page, "xpert-state", "Published").await;
        } else {
            let item = text_contains(&page, "check-TRIGGER_WECOM_INTEGRATION_CONFLICT", "Long bot").await;
            assert!(item.contains("\"First expert\""), "names the expert: {item}");
            assert!(!item.contains(&long_id) && !item.contains(&experts[0]), "no ids: {item}");
            assert_eq!(page.text("[data-testid='xpert-state']").await.unwrap(), "Draft");
            checks.page(&page, "publish-conflict").await;
        }
    }
    let (_, first) = host.get(&format!("/api/xpert/{}", experts[0])).await;
    assert_eq!(first["published"], true);
    assert_eq!(first["triggers"][0]["config"]["integrationId"], long_id.as_str());

    // Deleting the integration the published expert uses is refused, naming the expert.
    open(&page, &base, &format!("#/integrations/{long_id}")).await;
    page.click(&testid(&page, "delete-integration").await).await.unwrap();
    text_contains(&page, "dialog", "Delete the integration \"Long bot\"?").await;
    answer_dialog(&page, true).await;
    let refusal = text_contains(&page, "notice-error", "First expert").await;
    assert!(refusal.contains("Unpublish"), "{refusal}");
    let (status, _) = host.get(&format!("/api/integration/{long_id}")).await;
    assert_eq!(status, 200);

    open(&page, &base, &format!("#/experts/{}", experts[0])).await;
    page.click(&testid(&page, "unpublish").await).await.unwrap();
    text_contains(&page, "dialog", "Unpublish \"First expert\"?").await;
    answer_dialog(&page, true).await;
    text_contains(&page, "xpert-state", "Draft").await;
    open(&page, &base, &format!("#/experts/{}", experts[1])).await;
    page.click(&testid(&page, "publish").await).await.unwrap();
    text_contains(&page, "xpert-state", "Published").await;

    // Try it: the answer streams into the panel; the conversation goes on.
    page.fill(&testid(&page, "try-input").await, "hello console").await.unwrap();
    page.click(&testid(&page, "try-send").await).await.unwrap();
    text_contains(&page, "try-answer", "echo: hello console").await;
    page.fill("[data-testid='try-input']", "/fail please").await.unwrap();
    page.click("[data-testid='try-send']").await.unwrap();
    text_contains(&page, "try-status", "The run ended with an error").await;
    checks.page(&page, "expert-detail").await;
    let (unreached, no_ring) = keyboard_walk(&page).await;
    assert_eq!(unreached, json!([]), "expert page: controls Tab never reaches");
    assert_eq!(no_ring, json!([]), "expert page: focus without a visible ring");

    // A published expert cannot be deleted (the dialog says to unpublish first); a draft can.
    page.click(&testid(&page, "delete-xpert").await).await.unwrap();
    text_contains(&page, "dialog", "unpublish it first").await;
    answer_dialog(&page, false).await;
    open(&page, &base, "#/experts").await;
    page.click(&testid(&page, &format!("delete-xpert-{}", experts[0])).await).await.unwrap();
    text_contains(&page, "dialog", "Delete the Digital Expert \"First expert\"?").await;
    answer_dialog(&page, true).await;
    text_contains(&page, "notice-ok", "Deleted the Digital Expert \"First expert\"").await;
    until(&page, &format!("!document.querySelector(\"[data-testid='xpert-row-{}']\")", experts[0])).await;
    let (status, _) = host.get(&format!("/api/xpert/{}", experts[0])).await;
    assert_eq!(status, 404);
    checks.page(&page, "experts").await;

    // An OpenAI-compatible agent: both required fields marked at once, then its API key shown
    // only as ******.
    page.fill(&testid(&page, "xpert-name").await, "OpenAI expert").await.unwrap();
    page.fill(&testid(&page, "agent-kind").await, "openai").await.unwrap();
    page.click(&testid(&page, "create-xpert").await).await.unwrap();
    text_contains(&page, "field-error-agent-baseUrl", "Base URL is required").await;
    text_contains(&page, "field-error-agent-model", "Model is required").await;
    page.fill(&testid(&page, "agent-baseUrl").await, "ftp://x").await.unwrap();
    page.fill(&testid(&page, "agent-model").await, "gpt-test").await.unwrap();
    page.click(&testid(&page, "create-xpert").await).await.unwrap();
    text_contains(&page, "field-error-agent-baseUrl", "http(s) address").await;
    page.fill(&testid(&page, "agent-baseUrl").await, "http://127.0.0.1:9/v1").await.unwrap();
    page.fill(&testid(&page, "agent-apiKey").await, "sk-ui-secret").await.unwrap();
    page.click(&testid(&page, "create-xpert").await).await.unwrap();
    text_contains(&page, "xpert-agent", "OpenAI-compatible").await;
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
    let probe = format!("{base}/api/wecom/webhook/{short_id}?msg_signature=d7fe3794f02ebe970e006a79062638ed51f2ec8f&timestamp=1700000000&nonce=nonce123&echostr=scEag1243Fmy%2FfYz4Ux8D4VyGL33CiZE7jU1zRSmEGdDa8cZHZaZX92v4qThQP5vdPKv%2FGTtjH8%2FN6byF0w85w%3D%3D");
    assert_eq!(
        reqwest::get(probe).await.unwrap().text().await.unwrap(),
        "1288432023552776189",
        "the masked secrets kept their values"
    );
    // The short integration's Status tab in words too.
    text_contains(&page, "stat-lastVerificationResultText", "Passed").await;

    // Delete, confirmed in the dialog that names it.
    open(&page, &base, "#/integrations").await;
    testid(&page, &format!("integration-row-{short_id}")).await;
    checks.page(&page, "integrations").await;
    page.click(&testid(&page, &format!("delete-{short_id}")).await).await.unwrap();
    text_contains(&page, "dialog", "Delete the integration \"renamed short\"?").await;
    answer_dialog(&page, true).await;
    until(&page, &format!("!document.querySelector(\"[data-testid='integration-row-{short_id}']\")")).await;
    text_contains(&page, "notice-ok", "Deleted the integration \"renamed short\"").await;
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
    assert_eq!(page.eval("!document.querySelector(\"[data-testid='installed-wecom']\")").await.unwrap(), true);
    // The tenant installs WeCom, then uninstalls it (confirmed); default's install is untouched.
    page.fill(&testid(&page, "level-wecom").await, "tenant").await.unwrap();
    page.click(&testid(&page, "install-wecom").await).await.unwrap();
    text_contains(&page, "installed-wecom", "wecom_long").await;
    page.click(&testid(&page, "uninstall-wecom").await).await.unwrap();
    text_contains(&page, "dialog", "Uninstall wecom?").await;
    answer_dialog(&page, true).await;
    text_contains(&page, "notice-ok", "Uninstalled wecom").await;
    until(&page, "!document.querySelector(\"[data-testid='installed-wecom']\")").await;
    text_contains(&page, "install-wecom", "Install").await;
    let (_, theirs) = host.call_as(&tenant_token, "GET", "/api/plugins", None).await;
    assert_eq!(theirs, json!([]));
    let (_, defaults) = host.get("/api/plugins").await;
    assert_eq!(defaults[0]["level"], "tenant", "the admin's tenant keeps its install");
    page.click(&testid(&page, "logout").await).await.unwrap();
    testid(&page, "token-input").await;
    assert_eq!(page.eval("localStorage.getItem('xpert.token')").await.unwrap(), Value::Null);

    assert_eq!(page.eval("window.__errors").await.unwrap(), json!([]), "no uncaught error, no native dialog");
}

#[tokio::test]
async fn the_console_speaks_chinese_on_a_phone() {
    let Some(browser) = launch_or_skip().await.expect("chromium starts") else { return };
    let checks = Checks {
        axe: axe_source(),
        shots: PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        lang: "zh",
        width: PHONE,
        other: DESKTOP,
    };
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    let base = host.server.base_url();
    let page = start_page(&browser, &base, "zh_Hans", PHONE).await;

    // Sign in: empty, then rejected, both explained in Chinese.
    page.click(&testid(&page, "login-button").await).await.unwrap();
    text_contains(&page, "login-error", "请输入管理员令牌或租户令牌").await;
    no_english(&page, "login").await;
    checks.page(&page, "login").await;
    walk_keyboard(&page, "login").await;
    page.fill(&testid(&page, "token-input").await, "wrong").await.unwrap();
    page.click(&testid(&page, "login-button").await).await.unwrap();
    text_contains(&page, "login-error", "令牌无效").await;
    page.fill(&testid(&page, "token-input").await, TOKEN).await.unwrap();
    page.click(&testid(&page, "login-button").await).await.unwrap();
    text_contains(&page, "tenant-badge", "租户").await;

    // Install at tenant level: the notice and its next step in Chinese.
    page.fill(&testid(&page, "level-wecom").await, "tenant").await.unwrap();
    page.click(&testid(&page, "install-wecom").await).await.unwrap();
    text_contains(&page, "notice-ok", "已在租户级别安装").await;
    text_contains(&page, "next-step", "创建企业微信集成").await;
    no_english(&page, "plugins").await;
    checks.page(&page, "plugins").await;

    // The list and the create form: validation messages in Chinese, fields labelled in Chinese.
    open(&page, &base, "#/integrations").await;
    no_english(&page, "integrations (empty)").await;
    page.click(&testid(&page, "new-wecom").await).await.unwrap();
    rendered(&page, "#/integrations/new/wecom").await;
    page.fill(&testid(&page, "int-name").await, "短连接机器人").await.unwrap();
    page.fill("[data-testid='opt-encodingAesKey']", &format!("{AES_KEY}A")).await.unwrap();
    page.click("[data-testid='save-integration']").await.unwrap();
    text_contains(&page, "field-error-token", "回调 Token为必填项").await;
    text_contains(&page, "field-error-encodingAesKey", "必须正好为 43 个字符（当前为 44 个）").await;
    text_contains(&page, "form-error", "请检查标出的字段").await;
    no_english(&page, "integration form with errors").await;
    checks.page(&page, "integration-form-errors").await;
    walk_keyboard(&page, "integration form").await;
    // A refusal from the server, in Chinese, on its field.
    page.fill("[data-testid='opt-token']", WECOM_TOKEN).await.unwrap();
    page.fill("[data-testid='opt-encodingAesKey']", &format!("{}!", &AES_KEY[..42])).await.unwrap();
    page.click("[data-testid='save-integration']").await.unwrap();
    text_contains(&page, "form-error", "只能包含字母、数字、+ 和 /").await;
    text_contains(&page, "field-error-encodingAesKey", "EncodingAESKey只能包含").await;
    page.fill("[data-testid='opt-encodingAesKey']", AES_KEY).await.unwrap();
    page.click("[data-testid='save-integration']").await.unwrap();
    text_contains(&page, "notice-ok", "已保存").await;
    text_contains(&page, "setup-mode", "短连接（回调地址）").await;
    testid(&page, "stats-status").await;
    text_contains(&page, "stat-connectionModeText", "短连接").await;
    text_contains(&page, "stat-refusedSummaryText", "无").await;
    no_english(&page, "short integration status").await;
    checks.page(&page, "short-status").await;

    // A long connection, its Status tab in Chinese words, and its sessions table scrolling inside
    // itself on the phone.
    open(&page, &base, "#/integrations/new/wecom_long").await;
    page.fill(&testid(&page, "int-name").await, "长连接机器人").await.unwrap();
    page.fill("[data-testid='opt-botId']", "aibZH1").await.unwrap();
    page.fill("[data-testid='opt-secret']", "zh-secret").await.unwrap();
    page.click("[data-testid='save-integration']").await.unwrap();
    text_contains(&page, "stat-stateText", "已停止").await;
    text_contains(&page, "stat-reason", "没有已发布的数字专家使用此集成").await;
    let long_id = id_in_hash(&page).await;
    no_english(&page, "long integration status").await;
    checks.page(&page, "long-status").await;
    page.eval(RECORD_FETCH).await.unwrap();
    page.click(&testid(&page, "action-status-disconnect").await).await.unwrap();
    text_contains(&page, "dialog", "确定断开该机器人").await;
    no_english(&page, "disconnect dialog").await;
    checks.accessible(&page, "the disconnect dialog").await;
    page.screenshot(&checks.shots.join("web-zh-dialog-390.png")).await.unwrap();
    answer_dialog(&page, true).await;
    text_contains(&page, "notice-ok", "已记录").await;

    // Two experts on one integration: the conflict in Chinese names both.
    let mut experts = Vec::new();
    for name in ["销售助手", "夜班助手"] {
        open(&page, &base, "#/experts").await;
        page.fill(&testid(&page, "xpert-name").await, name).await.unwrap();
        page.click(&testid(&page, "create-xpert").await).await.unwrap();
        page.click(&testid(&page, "add-trigger").await).await.unwrap();
        page.fill(&testid(&page, "trigger-integrationId").await, &long_id).await.unwrap();
        page.click(&testid(&page, "publish").await).await.unwrap();
        experts.push(id_in_hash(&page).await);
        if experts.len() == 1 {
            text_contains(&page, "xpert-state", "已发布").await;
            text_contains(&page, "notice-ok", "已发布").await;
        } else {
            let item = text_contains(&page, "check-TRIGGER_WECOM_INTEGRATION_CONFLICT", "长连接机器人").await;
            assert!(item.contains("销售助手"), "{item}");
            no_english(&page, "publish conflict").await;
            checks.page(&page, "publish-conflict").await;
        }
    }

    // The sessions table on the phone: it scrolls inside its frame and names the expert.
    open(&page, &base, &format!("#/integrations/{long_id}/tab/sessions")).await;
    page.eval(&format!("window.__expertId = {:?}; true", experts[0])).await.unwrap();
    page.eval(RECORD_FETCH).await.unwrap();
    page.eval(STUB_SESSIONS).await.unwrap();
    page.click(&testid(&page, "next-sessions").await).await.ok();
    page.fill(&testid(&page, "search-sessions").await, "").await.unwrap();
    text_contains(&page, "page-sessions", "共 25 条").await;
    text_contains(&page, "row-sessions-s1", "销售助手").await;
    text_contains(&page, "row-sessions-s1", "单聊").await;
    let frame = page
        .eval("(() => { const f = document.querySelector(\"[data-testid='table-sessions']\").parentElement; return [f.className, f.scrollWidth > f.clientWidth, getComputedStyle(f).overflowX]; })()")
        .await
        .unwrap();
    assert_eq!(frame, json!(["table-wrap", true, "auto"]), "the table scrolls inside its frame at 390 px");
    checks.page(&page, "sessions").await;

    // Deleting the bound integration: refused in Chinese, naming the expert.
    open(&page, &base, "#/integrations").await;
    page.click(&testid(&page, &format!("delete-{long_id}")).await).await.unwrap();
    text_contains(&page, "dialog", "确定删除集成“长连接机器人”").await;
    answer_dialog(&page, true).await;
    let refusal = text_contains(&page, "notice-error", "销售助手").await;
    assert!(refusal.contains("取消发布"), "{refusal}");
    no_english(&page, "refused delete").await;
    checks.page(&page, "integrations").await;
    walk_keyboard(&page, "integrations").await;

    // Unpublish (confirmed), then the integration can go; the other expert's trigger says what
    // was deleted and what to do.
    open(&page, &base, &format!("#/experts/{}", experts[0])).await;
    page.click(&testid(&page, "unpublish").await).await.unwrap();
    text_contains(&page, "dialog", "确定取消发布“销售助手”").await;
    answer_dialog(&page, true).await;
    text_contains(&page, "xpert-state", "草稿").await;
    open(&page, &base, &format!("#/integrations/{long_id}")).await;
    page.click(&testid(&page, "delete-integration").await).await.unwrap();
    answer_dialog(&page, true).await;
    rendered(&page, "#/integrations").await;
    text_contains(&page, "notice-ok", "已删除集成“长连接机器人”").await;
    open(&page, &base, &format!("#/experts/{}", experts[1])).await;
    text_contains(&page, "trigger-dangling", "该触发器使用的集成已被删除").await;
    let selected = page
        .eval("(() => { const s = document.querySelector(\"[data-testid='trigger-integrationId']\"); return s.options[s.selectedIndex].textContent; })()")
        .await
        .unwrap();
    assert_eq!(selected, "已删除的集成——请另选", "not a bare id");
    page.click(&testid(&page, "publish").await).await.unwrap();
    text_contains(&page, "check-TRIGGER_WECOM_INTEGRATION_NOT_FOUND", "已被删除").await;

    // Try it, in Chinese.
    page.fill(&testid(&page, "try-input").await, "你好").await.unwrap();
    page.click(&testid(&page, "try-send").await).await.unwrap();
    text_contains(&page, "try-answer", "echo: 你好").await;
    no_english(&page, "expert page").await;
    checks.page(&page, "expert-detail").await;

    // Delete both experts (each confirmed).
    for id in &experts {
        open(&page, &base, &format!("#/experts/{id}")).await;
        page.click(&testid(&page, "delete-xpert").await).await.unwrap();
        text_contains(&page, "dialog", "确定删除数字专家").await;
        answer_dialog(&page, true).await;
        rendered(&page, "#/experts").await;
        text_contains(&page, "notice-ok", "已删除数字专家").await;
    }
    let (_, left) = host.get("/api/xpert").await;
    assert_eq!(left, json!([]));
    no_english(&page, "experts").await;
    checks.page(&page, "experts").await;
    walk_keyboard(&page, "experts").await;

    // Switching the language re-renders the page and drops notices written in the other one.
    page.fill(&testid(&page, "lang").await, "en_US").await.unwrap();
    text_contains(&page, "nav-experts", "Digital Experts").await;
    assert_eq!(page.eval("document.getElementById('notice').children.length").await.unwrap(), 0);
    page.fill(&testid(&page, "lang").await, "zh_Hans").await.unwrap();
    text_contains(&page, "nav-experts", "数字专家").await;

    assert_eq!(page.eval("window.__errors").await.unwrap(), json!([]), "no uncaught error, no native dialog");
}

/// The simulator's chat page on a phone: a viewport meta, so it lays out at the phone's width
/// instead of a shrunken desktop page, and nothing wider than the screen.
#[tokio::test]
async fn the_simulator_chat_page_fits_a_phone() {
    let Some(browser) = launch_or_skip().await.expect("chromium starts") else { return };
    let sim = wecom_sim::Simulator::start(wecom_sim::SimConfig::default()).await.unwrap();
    sim.add_bot("aibPHONE", "secret");
    let page = browser.open("about:blank").await.unwrap();
    page.set_viewport(PHONE.0, PHONE.1, true).await.unwrap();
    page.goto(&sim.base_url()).await.unwrap();
    page.wait_for("[data-testid='msg']", WAIT).await.unwrap();
    let layout = page.eval("[window.innerWidth, document.documentElement.scrollWidth, parseFloat(getComputedStyle(document.body).fontSize)]").await.unwrap();
    assert_eq!(layout[0], json!(PHONE.0), "laid out at the phone's width: {layout}");
    assert!(layout[1].as_f64().unwrap() <= PHONE.0 as f64, "no sideways scrolling: {layout}");
    assert!(layout[2].as_f64().unwrap() >= 14.0, "readable text: {layout}");
    let send =
        page.eval("document.querySelector(\"[data-testid='send']\").getBoundingClientRect().right").await.unwrap();
    assert!(send.as_f64().unwrap() <= PHONE.0 as f64, "the send button is on screen");
    page.screenshot(&PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("web-sim-chat-390.png")).await.unwrap();
    let checks = Checks {
        axe: axe_source(),
        shots: PathBuf::from(env!("CARGO_TARGET_TMPDIR")),
        lang: "sim",
        width: PHONE,
        other: DESKTOP,
    };
    checks.accessible(&page, "the simulator's chat page").await;
}

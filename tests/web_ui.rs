//! The web UI in a real headless Chromium against the real host binary and plugin: sign in,
//! install WeCom at tenant level, create both kinds of integration from their schemas, see the
//! plugin's tabs, create a Digital Expert with a WeCom Trigger, publish, and see the conflict
//! checklist when a second expert binds the same integration.

mod host_common;

use std::time::Duration;

use host_common::*;
use testkit::browser::{launch_or_skip, Page};

const WAIT: Duration = Duration::from_secs(20);

async fn testid(page: &Page, id: &str) -> String {
    page.wait_for(&format!("[data-testid='{id}']"), WAIT).await.unwrap_or_else(|e| panic!("{id}: {e}"));
    format!("[data-testid='{id}']")
}

#[tokio::test]
async fn operators_set_up_wecom_through_the_web_ui() {
    let Some(browser) = launch_or_skip().await.expect("chromium starts") else { return };
    let dir = tempfile::tempdir().unwrap();
    let host = start(dir.path(), &[]).await;
    let shots = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR"));
    let page = browser.open(&host.server.base_url()).await.unwrap();

    // Sign in.
    let token = testid(&page, "token-input").await;
    page.fill(&token, TOKEN).await.unwrap();
    page.click(&testid(&page, "login-button").await).await.unwrap();

    // Plugins: install at tenant level.
    page.click(&testid(&page, "install-wecom").await).await.unwrap();
    testid(&page, "installed-wecom").await;
    assert!(page.text("[data-testid='installed-wecom']").await.unwrap().contains("tenant"));

    // A short-connection integration from its schema: the callback URL is shown after saving.
    page.goto(&format!("{}/#/integrations", host.server.base_url())).await.unwrap();
    page.click(&testid(&page, "new-wecom").await).await.unwrap();
    page.fill(&testid(&page, "opt-token").await, WECOM_TOKEN).await.unwrap();
    page.fill(&testid(&page, "opt-encodingAesKey").await, "too-short").await.unwrap();
    page.click(&testid(&page, "save-integration").await).await.unwrap();
    let error = page.text(&testid(&page, "form-error").await).await.unwrap();
    assert!(error.contains("43 characters"), "validation message shown: {error}");
    page.fill("[data-testid='opt-encodingAesKey']", AES_KEY).await.unwrap();
    page.click("[data-testid='save-integration']").await.unwrap();
    let url = page.text(&testid(&page, "callback-url").await).await.unwrap();
    assert!(url.contains("/api/wecom/webhook/"), "{url}");
    testid(&page, "tab-sessions").await;

    // A long-connection integration: its detail page renders the Status and Sessions tabs.
    page.goto(&format!("{}/#/integrations", host.server.base_url())).await.unwrap();
    page.click(&testid(&page, "new-wecom_long").await).await.unwrap();
    page.fill(&testid(&page, "opt-botId").await, "aibUI1").await.unwrap();
    page.fill(&testid(&page, "opt-secret").await, "ui-secret").await.unwrap();
    page.click("[data-testid='save-integration']").await.unwrap();
    testid(&page, "stats-status").await;
    page.wait_until("document.querySelector(\"[data-testid='stat-botId']\").textContent.includes('aibUI1')", WAIT)
        .await
        .unwrap();
    page.wait_until(
        "document.querySelector(\"[data-testid='stat-disabledReason']\").textContent.includes('xpert_unbound')",
        WAIT,
    )
    .await
    .unwrap();
    page.screenshot(&shots.join("web-ui-status-tab.png")).await.unwrap();
    page.click(&testid(&page, "tab-sessions").await).await.unwrap();
    testid(&page, "table-sessions").await;

    let (_, list) = host.get("/api/integration").await;
    let long_id = list.as_array().unwrap().iter().find(|i| i["provider"] == "wecom_long").unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();

    // Two Digital Experts bind the same integration: the first publishes, the second is refused.
    for (name, expect_conflict) in [("First expert", false), ("Second expert", true)] {
        page.goto(&format!("{}/#/experts", host.server.base_url())).await.unwrap();
        page.fill(&testid(&page, "xpert-name").await, name).await.unwrap();
        page.click(&testid(&page, "create-xpert").await).await.unwrap();
        page.click(&testid(&page, "add-trigger").await).await.unwrap();
        page.fill(&testid(&page, "trigger-integration").await, &long_id).await.unwrap();
        page.click(&testid(&page, "publish").await).await.unwrap();
        if expect_conflict {
            testid(&page, "check-TRIGGER_WECOM_INTEGRATION_CONFLICT").await;
            page.screenshot(&shots.join("web-ui-publish-conflict.png")).await.unwrap();
        } else {
            page.wait_until(
                "document.querySelector(\"[data-testid='xpert-state']\")?.textContent === 'Published'",
                WAIT,
            )
            .await
            .unwrap();
        }
    }

    // Edit keeps secrets masked, Test validates, and labels follow the chosen language.
    let (_, list) = host.get("/api/integration").await;
    let short_id =
        list.as_array().unwrap().iter().find(|i| i["provider"] == "wecom").unwrap()["id"].as_str().unwrap().to_string();
    page.goto(&format!("{}/#/integrations/{short_id}/edit", host.server.base_url())).await.unwrap();
    let token_field = testid(&page, "opt-token").await;
    assert_eq!(page.eval(&format!("document.querySelector(\"{token_field}\").value")).await.unwrap(), "******");
    page.click(&testid(&page, "test-integration").await).await.unwrap();
    testid(&page, "test-ok").await;
    page.fill("[data-testid='int-name']", "renamed short").await.unwrap();
    page.click("[data-testid='save-integration']").await.unwrap();
    page.wait_until(
        "document.querySelector(\"[data-testid='integration-title']\")?.textContent.includes('renamed short')",
        WAIT,
    )
    .await
    .unwrap();
    let (_, saved) = host.get(&format!("/api/integration/{short_id}")).await;
    assert_eq!(saved["name"], "renamed short");
    let probe = format!("{}/api/wecom/webhook/{short_id}?msg_signature=d7fe3794f02ebe970e006a79062638ed51f2ec8f&timestamp=1700000000&nonce=nonce123&echostr=scEag1243Fmy%2FfYz4Ux8D4VyGL33CiZE7jU1zRSmEGdDa8cZHZaZX92v4qThQP5vdPKv%2FGTtjH8%2FN6byF0w85w%3D%3D", host.server.base_url());
    assert_eq!(
        reqwest::get(probe).await.unwrap().text().await.unwrap(),
        "1288432023552776189",
        "the masked secrets kept their values"
    );

    page.fill(&testid(&page, "lang").await, "zh_Hans").await.unwrap();
    page.goto(&format!("{}/#/integrations/new/wecom", host.server.base_url())).await.unwrap();
    page.wait_until("document.querySelector(\"label[for='opt-token']\")?.textContent.includes('回调 Token')", WAIT)
        .await
        .unwrap();
    page.fill(&testid(&page, "lang").await, "en_US").await.unwrap();

    // Delete, confirmed.
    page.goto(&format!("{}/#/integrations", host.server.base_url())).await.unwrap();
    testid(&page, &format!("integration-row-{short_id}")).await;
    page.eval("window.confirm = () => true").await.unwrap();
    page.click(&format!("[data-testid='integration-row-{short_id}'] button.danger")).await.unwrap();
    page.wait_until(&format!("!document.querySelector(\"[data-testid='integration-row-{short_id}']\")"), WAIT)
        .await
        .unwrap();
    let (status, _) = host.get(&format!("/api/integration/{short_id}")).await;
    assert_eq!(status, 404);

    let shot = std::fs::read(shots.join("web-ui-publish-conflict.png")).unwrap();
    assert_eq!(&shot[..8], b"\x89PNG\r\n\x1a\n");
}

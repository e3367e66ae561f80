//! What the real plugin registers, and how its providers, trigger, views and routes behave,
//! driven through the loader and the TestHost.

mod plugin_common;

use host_sdk::host::Installation;
use host_sdk::{ErrorCode, HttpRequest, InstallLevel, Integration, LifecycleEvent, LogLevel, TriggerParams, ViewQuery};
use plugin_common::*;
use serde_json::{json, Value};

const KEY: &str = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt";
const TOKEN: &str = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo";

fn integration(id: &str, provider: &str, options: Value) -> Integration {
    Integration { id: id.into(), name: format!("{provider} {id}"), provider: provider.into(), enabled: true, options }
}

fn short(id: &str) -> Integration {
    integration(id, "wecom", json!({"token": TOKEN, "encodingAesKey": KEY}))
}

fn long(id: &str) -> Integration {
    integration(id, "wecom_long", json!({"botId": "aibBOT1", "secret": "LONG-SECRET-VALUE"}))
}

fn params(xpert: &str, integration_id: &str) -> TriggerParams {
    TriggerParams { xpert_id: xpert.into(), config: json!({"enabled": true, "integrationId": integration_id}) }
}

#[test]
fn tenant_install_registers_both_providers_the_trigger_views_and_routes() {
    let (_host, inst) = installed(InstallLevel::Tenant);
    assert!(inst.warnings.is_empty(), "{:?}", inst.warnings);
    let names: Vec<&str> = inst.providers.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["wecom", "wecom_long"]);

    let short = &inst.provider("wecom").unwrap().descriptor;
    assert_eq!(short["label"]["zh_Hans"], "企业微信-短连接");
    assert_eq!(short["label"]["en_US"], "WeCom (Short Connection)");
    assert_eq!(short["webhook"], true);
    assert_eq!(short["helpUrl"], "https://developer.work.weixin.qq.com/document/path/101463");
    assert_eq!(short["schema"]["required"], json!(["token", "encodingAesKey"]));
    assert_eq!(short["schema"]["secret"], json!(["token", "encodingAesKey"]));
    assert!(short["schema"]["properties"].get("xpertId").is_none(), "routing goes through the trigger only");

    let long = &inst.provider("wecom_long").unwrap().descriptor;
    assert_eq!(long["label"]["zh_Hans"], "企业微信-长连接");
    assert_eq!(long["schema"]["required"], json!(["botId", "secret"]));
    assert_eq!(long["schema"]["secret"], json!(["secret"]));
    assert_eq!(long["schema"]["properties"]["botId"]["title"]["en_US"], "Bot ID");

    let trigger = &inst.trigger("wecom").expect("trigger registered").descriptor;
    assert_eq!(trigger["label"]["en_US"], "WeCom Trigger");
    let props = &trigger["configSchema"]["properties"];
    assert_eq!(props["enabled"]["default"], true);
    assert_eq!(props["sessionTimeoutSeconds"]["default"], 3600);
    assert_eq!(props["summaryWindowSeconds"]["default"], 0);
    assert_eq!(trigger["configSchema"]["required"], json!(["enabled", "integrationId"]));

    assert_eq!(inst.views.len(), 1);
    assert!(inst.views[0].view.supports("wecom") && inst.views[0].view.supports("wecom_long"));
    assert!(!inst.views[0].view.supports("slack"));

    let routes: Vec<(String, String, bool)> =
        inst.routes.iter().map(|r| (r.spec.method.clone(), r.spec.path.clone(), r.spec.public)).collect();
    assert!(routes.contains(&("GET".into(), "/wecom/ping".into(), false)));
    assert!(routes.contains(&("GET".into(), "/wecom/webhook/{integrationId}".into(), true)));
}

#[test]
fn lower_levels_register_no_provider_or_trigger_and_say_so() {
    for level in [InstallLevel::Organization, InstallLevel::Project, InstallLevel::Personal] {
        let (_host, inst) = installed(level);
        assert!(inst.providers.is_empty(), "{level}: providers must not be registered");
        assert!(inst.triggers.is_empty(), "{level}: triggers must not be registered");
        assert_eq!(inst.warnings.len(), 3, "{level}: one warning per skipped capability: {:?}", inst.warnings);
        assert!(inst.warnings.iter().all(|w| w.contains("must be installed at tenant level")), "{:?}", inst.warnings);
        assert!(inst.warnings.iter().any(|w| w.contains("\"wecom_long\"")));
    }
}

fn provider_error(inst: &Installation, provider: &str, options: Value) -> (ErrorCode, String) {
    let p = &inst.provider(provider).unwrap().provider;
    let err = p.validate_config(&integration("i1", provider, options)).unwrap_err();
    (err.code, err.message)
}

#[test]
fn config_validation_refuses_bad_options_with_clear_messages() {
    let (_host, inst) = installed(InstallLevel::Tenant);
    let cases = [
        ("wecom", json!({"encodingAesKey": KEY}), "token is required"),
        ("wecom", json!({"token": TOKEN}), "encodingAesKey is required"),
        (
            "wecom",
            json!({"token": TOKEN, "encodingAesKey": "tooShort"}),
            "encodingAesKey must be exactly 43 characters (got 8)",
        ),
        (
            "wecom",
            json!({"token": TOKEN, "encodingAesKey": format!("{}-", &KEY[..42])}),
            "encodingAesKey may only contain letters, digits, + and /",
        ),
        (
            "wecom",
            json!({"token": TOKEN, "encodingAesKey": KEY, "timeoutMs": 500000}),
            "timeoutMs must be a whole number of milliseconds between 100 and 120000",
        ),
        ("wecom_long", json!({"secret": "s"}), "botId is required"),
        ("wecom_long", json!({"botId": "b"}), "secret is required"),
        (
            "wecom_long",
            json!({"botId": "b", "secret": "s", "timeoutMs": 10}),
            "timeoutMs must be a whole number of milliseconds between 1000 and 120000",
        ),
        ("wecom_long", json!("not an object"), "options must be a JSON object"),
    ];
    for (provider, options, expected) in cases {
        let (code, message) = provider_error(&inst, provider, options.clone());
        assert_eq!(code, ErrorCode::INVALID_CONFIG, "{provider} {options}");
        assert_eq!(message, expected, "{provider} {options}");
        assert!(!message.contains(TOKEN) && !message.contains(KEY));
    }
}

#[test]
fn setup_information_gives_the_callback_url_or_the_websocket_url() {
    let (_host, inst) = installed(InstallLevel::Tenant);
    let setup = inst.provider("wecom").unwrap().provider.validate_config(&short("abc-123")).unwrap();
    assert_eq!(setup["callbackUrl"], "https://xpert.example.com/api/wecom/webhook/abc-123");
    assert_eq!(setup["mode"], "webhook");
    let before_save = inst.provider("wecom").unwrap().provider.validate_config(&short("")).unwrap();
    assert_eq!(
        before_save["callbackUrl"],
        "https://xpert.example.com/api/wecom/webhook/<save_and_get_your_integration_id>"
    );

    let setup = inst.provider("wecom_long").unwrap().provider.validate_config(&long("l1")).unwrap();
    assert_eq!(setup["mode"], "long_connection");
    assert_eq!(setup["websocketUrl"], "ws://127.0.0.1:9", "WECOM_WS_URL from the host overrides the default");
}

#[test]
fn trigger_checklist_reports_required_not_found_and_conflict() {
    let (host, inst) = installed(InstallLevel::Tenant);
    host.put_integration(short("s1"));
    let trigger = &inst.trigger("wecom").unwrap().trigger;
    host.block_on(async {
        let codes = |items: Vec<host_sdk::ChecklistItem>| items.into_iter().map(|i| i.code).collect::<Vec<_>>();
        let missing = TriggerParams { xpert_id: "x1".into(), config: json!({"enabled": true}) };
        assert_eq!(codes(trigger.validate(&missing).await.unwrap()), ["TRIGGER_WECOM_INTEGRATION_REQUIRED"]);
        assert_eq!(
            codes(trigger.validate(&params("x1", "nope")).await.unwrap()),
            ["TRIGGER_WECOM_INTEGRATION_NOT_FOUND"]
        );
        assert!(trigger.validate(&params("x1", "s1")).await.unwrap().is_empty());

        trigger.publish(&params("x1", "s1")).await.expect("first expert binds");
        assert!(
            trigger.validate(&params("x1", "s1")).await.unwrap().is_empty(),
            "re-publishing the same expert is fine"
        );
        let conflict = trigger.validate(&params("x2", "s1")).await.unwrap();
        assert_eq!(codes(conflict.clone()), ["TRIGGER_WECOM_INTEGRATION_CONFLICT"]);
        assert!(conflict[0].message.contains("x1"));
        let err = trigger.publish(&params("x2", "s1")).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::CONFLICT);

        trigger.stop(&params("x2", "s1")).await.unwrap();
        assert_eq!(
            codes(trigger.validate(&params("x2", "s1")).await.unwrap()),
            ["TRIGGER_WECOM_INTEGRATION_CONFLICT"],
            "another expert's stop must not unbind"
        );
        trigger.stop(&params("x1", "s1")).await.unwrap();
        assert!(trigger.validate(&params("x2", "s1")).await.unwrap().is_empty(), "stop frees the integration");
    });
}

#[test]
fn views_show_status_for_long_connections_and_sessions_for_both() {
    let (host, inst) = installed(InstallLevel::Tenant);
    let view = &inst.views[0].view;
    let (l1, s1) = (long("l1"), short("s1"));
    host.put_integration(l1.clone());
    host.put_integration(s1.clone());
    host.block_on(async {
        let keys =
            |v: Value| v.as_array().unwrap().iter().map(|t| t["key"].as_str().unwrap().to_string()).collect::<Vec<_>>();
        assert_eq!(keys(view.manifests(&l1).await.unwrap()), ["status", "sessions"]);
        assert_eq!(keys(view.manifests(&s1).await.unwrap()), ["sessions"]);

        let data = view.data(&l1, "status", &ViewQuery::default()).await.unwrap();
        let item = &data["item"];
        for field in [
            "connectionMode",
            "state",
            "botId",
            "ownerInstanceId",
            "lastConnectedAt",
            "lastDisconnectedAt",
            "lastCallbackAt",
            "lastPingAt",
            "lastError",
            "reconnectAttempts",
            "disabledReason",
        ] {
            assert!(item.get(field).is_some(), "status item lacks {field}: {item}");
        }
        assert_eq!(item["connectionMode"], "long_connection");
        assert_eq!(item["botId"], "aibBOT1");
        assert_eq!(item["disabledReason"], "xpert_unbound", "no trigger binds it yet");

        let answer = view.action(&l1, "status", "disconnect", &json!({})).await.unwrap();
        assert_eq!(answer["success"], true);
        assert!(answer["message"]["zh_Hans"].is_string() && answer["message"]["en_US"].is_string());
        let item = view.data(&l1, "status", &ViewQuery::default()).await.unwrap()["item"].clone();
        assert_eq!(item["disabledReason"], "manual_disconnect", "a manual disconnect is remembered");

        let sessions = view.data(&s1, "sessions", &ViewQuery::default()).await.unwrap();
        assert_eq!(sessions, json!({"items": [], "total": 0}));
        let reset = view.action(&s1, "sessions", "reset", &json!({"targetId": "chat:user"})).await.unwrap();
        assert_eq!(reset["success"], false);
        let err = view.action(&s1, "sessions", "reset", &json!({})).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_ARGUMENT);
        assert!(view.data(&s1, "status", &ViewQuery::default()).await.is_err(), "no status tab for short connections");
    });
}

#[test]
fn deleting_an_integration_forgets_its_binding_and_status() {
    let (host, inst) = installed(InstallLevel::Tenant);
    let l1 = long("l1");
    host.put_integration(l1.clone());
    let provider = &inst.provider("wecom_long").unwrap().provider;
    let trigger = &inst.trigger("wecom").unwrap().trigger;
    host.block_on(async {
        trigger.publish(&params("x1", "l1")).await.unwrap();
        provider.on_lifecycle(LifecycleEvent::Created, &l1, None).await.unwrap();
        assert!(host.kv().snapshot().iter().any(|e| e.key.ends_with("status:l1")));
        provider.on_lifecycle(LifecycleEvent::Deleted, &l1, None).await.unwrap();
    });
    let left: Vec<String> = host.kv().snapshot().into_iter().map(|e| e.key).filter(|k| k.contains("l1")).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

fn webhook(inst: &Installation, id: &str, query: &str) -> (u16, String) {
    let route = inst.routes.iter().find(|r| r.spec.path == "/wecom/webhook/{integrationId}").unwrap();
    let req = HttpRequest {
        method: "GET".into(),
        path: format!("/api/wecom/webhook/{id}"),
        query: query.into(),
        path_params: vec![("integrationId".into(), id.into())],
        headers: vec![],
        body: vec![],
    };
    let handler = route.handler.clone();
    let resp = block_on_current(async move { handler.handle(req).await.unwrap() });
    (resp.status, String::from_utf8(resp.body).unwrap())
}

fn block_on_current<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
}

#[test]
fn webhook_url_verification_answers_the_decrypted_echostr() {
    let (host, inst) = installed(InstallLevel::Tenant);
    host.put_integration(short("s1"));
    host.put_integration(long("l1"));
    // The derived smart-bot vector of wecom-protocol.md §1.8, percent-encoded as WeCom sends it.
    let echostr = "scEag1243Fmy%2FfYz4Ux8D4VyGL33CiZE7jU1zRSmEGdDa8cZHZaZX92v4qThQP5vdPKv%2FGTtjH8%2FN6byF0w85w%3D%3D";
    let good = format!(
        "msg_signature=d7fe3794f02ebe970e006a79062638ed51f2ec8f&timestamp=1700000000&nonce=nonce123&echostr={echostr}"
    );
    assert_eq!(webhook(&inst, "s1", &good), (200, "1288432023552776189".into()));
    assert_eq!(webhook(&inst, "s1", ""), (200, "success".into()), "a bare GET is a reachability probe");
    let bad = good.replace("d7fe", "0000");
    assert_eq!(webhook(&inst, "s1", &bad).0, 403);
    assert_eq!(webhook(&inst, "s1", "timestamp=1&nonce=2").0, 400);
    assert_eq!(webhook(&inst, "missing", "").0, 404);
    assert_eq!(webhook(&inst, "l1", "").0, 400, "not a short-connection integration");
}

#[test]
fn plugin_logs_reach_the_host_tagged_and_without_secrets() {
    let (host, inst) = installed(InstallLevel::Tenant);
    let l1 = long("l1");
    host.put_integration(l1.clone());
    host.block_on(async {
        inst.provider("wecom_long").unwrap().provider.on_lifecycle(LifecycleEvent::Created, &l1, None).await.unwrap();
    });
    let logs = host.logs();
    assert!(
        logs.iter().any(|(plugin, r)| plugin == "wecom"
            && r.level == LogLevel::Info
            && r.message.contains("WeCom plugin registered")),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|(_, r)| r.message == "wecom_long lifecycle" && r.fields_json.contains("xpert_unbound")),
        "{logs:?}"
    );
    assert!(logs
        .iter()
        .all(|(_, r)| !r.message.contains("LONG-SECRET-VALUE") && !r.fields_json.contains("LONG-SECRET-VALUE")));
}

#[test]
fn the_ping_route_answers_without_work() {
    let (_host, inst) = installed(InstallLevel::Tenant);
    let ping = inst.routes.iter().find(|r| r.spec.path == "/wecom/ping").unwrap().handler.clone();
    let resp = block_on_current(async move { ping.handle(HttpRequest::default()).await.unwrap() });
    assert_eq!(resp.status, 200);
    let body: Value = serde_json::from_slice(&resp.body).unwrap();
    assert_eq!(body["ok"], true);
}

//! What the real plugin registers, and how its providers, trigger, views and routes behave,
//! driven through the loader and the TestHost.

mod plugin_common;

use host_sdk::contract::{ViewData, ViewManifest};
use host_sdk::host::{Installation, TestHost, TEST_TENANT};
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

    let short = json!(inst.provider("wecom").unwrap().descriptor);
    assert_eq!(short["label"]["zh_Hans"], "企业微信-短连接");
    assert_eq!(short["label"]["en_US"], "WeCom (Short Connection)");
    assert_eq!(short["webhook"], true);
    assert_eq!(short["helpUrl"], "https://developer.work.weixin.qq.com/document/path/101463");
    assert_eq!(short["schema"]["required"], json!(["token", "encodingAesKey"]));
    assert_eq!(short["schema"]["secret"], json!(["token", "encodingAesKey"]));
    assert!(short["schema"]["properties"].get("xpertId").is_none(), "routing goes through the trigger only");

    let long = json!(inst.provider("wecom_long").unwrap().descriptor);
    assert_eq!(long["label"]["zh_Hans"], "企业微信-长连接");
    assert_eq!(long["schema"]["required"], json!(["botId", "secret"]));
    assert_eq!(long["schema"]["secret"], json!(["secret"]));
    assert_eq!(long["schema"]["properties"]["botId"]["title"]["en_US"], "Bot ID");

    let trigger = json!(inst.trigger("wecom").expect("trigger registered").descriptor);
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
    let setup = json!(inst.provider("wecom").unwrap().provider.validate_config(&short("abc-123")).unwrap());
    assert_eq!(setup["callbackUrl"], "https://xpert.example.com/api/wecom/webhook/abc-123");
    assert_eq!(setup["mode"], "webhook");
    let before_save = json!(inst.provider("wecom").unwrap().provider.validate_config(&short("")).unwrap());
    assert_eq!(
        before_save["callbackUrl"],
        "https://xpert.example.com/api/wecom/webhook/<save_and_get_your_integration_id>"
    );

    let setup = json!(inst.provider("wecom_long").unwrap().provider.validate_config(&long("l1")).unwrap());
    assert_eq!(setup["mode"], "long_connection");
    assert_eq!(setup["websocketUrl"], "ws://127.0.0.1:9", "WECOM_WS_URL from the host overrides the default");
    assert!(setup.get("webhookUrl").is_none(), "WeCom calls no webhook in long mode: {setup}");
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

/// The Status tab's item of an integration.
async fn status_item(inst: &Installation, integration: &Integration) -> Value {
    match inst.views[0].view.data(integration, "status", &ViewQuery::default()).await.unwrap() {
        ViewData::Stats { item } => item,
        other => panic!("the status tab is a stats tab: {other:?}"),
    }
}

#[test]
fn views_show_status_and_sessions_for_both_connection_types() {
    let (host, inst) = installed(InstallLevel::Tenant);
    let view = &inst.views[0].view;
    let (l1, s1) = (long("l1"), short("s1"));
    host.put_integration(l1.clone());
    host.put_integration(s1.clone());
    host.block_on(async {
        let keys = |tabs: Vec<ViewManifest>| tabs.into_iter().map(|t| t.key).collect::<Vec<_>>();
        assert_eq!(keys(view.manifests(&l1).await.unwrap()), ["status", "sessions"]);
        assert_eq!(keys(view.manifests(&s1).await.unwrap()), ["status", "sessions"]);

        let item = status_item(&inst, &l1).await;
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
        assert_eq!(item["state"], "stopped", "not a bare idle: {item}");
        assert_eq!(item["disabledReason"], "xpert_unbound", "no trigger binds it yet");
        assert!(item["reason"]["en_US"].as_str().unwrap().contains("publish"), "says why and what to do: {item}");
        assert!(item["reason"]["zh_Hans"].as_str().is_some_and(|t| !t.is_empty()));

        let sessions = view.data(&s1, "sessions", &ViewQuery::default()).await.unwrap();
        assert_eq!(sessions, ViewData::Table { items: vec![], total: 0 });
        let reset = view.action(&s1, "sessions", "reset", &json!({"targetId": "chat:user"})).await.unwrap();
        assert!(!reset.success);
        let err = view.action(&s1, "sessions", "reset", &json!({})).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::INVALID_ARGUMENT);
        // The short connection's Status tab: nothing received yet, and it says so.
        let ViewData::Stats { item } = view.data(&s1, "status", &ViewQuery::default()).await.unwrap() else {
            panic!("the short connection's status tab is a stats tab")
        };
        assert_eq!(item["connectionMode"], "short_connection");
        assert_eq!(item["state"], "unbound", "no trigger binds it yet: {item}");
        assert!(item["lastCallbackAt"].is_null() && item["lastVerificationAt"].is_null(), "{item}");
        assert_eq!((item["acceptedLastHour"].clone(), item["streamsInFlight"].clone()), (json!(0), json!(0)));
        let err = view.action(&s1, "status", "disconnect", &json!({})).await.unwrap_err();
        assert_eq!(err.code, ErrorCode::NOT_FOUND, "no connection to close: {err:?}");
    });
}

#[test]
fn reading_a_view_or_refreshing_it_never_writes() {
    let (host, inst) = installed(InstallLevel::Tenant);
    let l1 = long("l1");
    let s1 = short("s1");
    host.put_integration(l1.clone());
    host.put_integration(s1.clone());
    let view = &inst.views[0].view;
    host.block_on(async {
        // Unbound: no connection runs, so nothing but this test could write.
        view.action(&l1, "status", "disconnect", &json!({})).await.unwrap();
        let before = host.kv().snapshot();
        for _ in 0..3 {
            status_item(&inst, &l1).await;
            view.data(&l1, "sessions", &ViewQuery::default()).await.unwrap();
            view.data(&s1, "status", &ViewQuery::default()).await.unwrap();
            view.action(&s1, "status", "refresh", &json!({})).await.unwrap();
        }
        let refreshed = view.action(&l1, "status", "refresh", &json!({})).await.unwrap();
        assert_eq!(refreshed.message.en_us, "Status re-read.");
        assert_eq!(host.kv().snapshot(), before, "a read model must not write");
    });
}

#[test]
fn disconnect_and_reconnect_say_what_they_recorded_and_what_happened() {
    // WeCom is a closed loopback port here (see `installed`): the owner tries and fails.
    let (host, inst) = installed(InstallLevel::Tenant);
    let l1 = long("l1");
    host.put_integration(l1.clone());
    let view = &inst.views[0].view;
    host.block_on(async {
        let answer = view.action(&l1, "status", "disconnect", &json!({})).await.unwrap();
        assert!(answer.success);
        assert!(answer.message.en_us.starts_with("Recorded"), "{:?}", answer.message);
        assert!(
            answer.message.en_us.contains("It was not connected"),
            "never claims a disconnect: {:?}",
            answer.message
        );
        let item = status_item(&inst, &l1).await;
        assert_eq!(item["disabledReason"], "manual_disconnect", "a manual disconnect is shown as the reason");
        assert_eq!(item["manualDisconnect"], true);

        // A later publish does not silently override the operator's disconnect…
        inst.trigger("wecom").unwrap().trigger.publish(&params("x1", "l1")).await.unwrap();
        assert_eq!(status_item(&inst, &l1).await["disabledReason"], "manual_disconnect");

        // …Reconnect clears it and reports what the owner did: it tried, and why it failed.
        let answer = view.action(&l1, "status", "reconnect", &json!({})).await.unwrap();
        assert!(!answer.success, "nothing connected, so no success is claimed");
        assert!(
            answer.message.en_us.starts_with("Reconnecting: instance test-host could not connect yet"),
            "{:?}",
            answer.message
        );
        assert!(answer.message.en_us.contains("cannot reach WeCom at ws://127.0.0.1:9"), "{:?}", answer.message);
        let item = status_item(&inst, &l1).await;
        assert_eq!(item["state"], "retrying", "{item}");
        assert_eq!(item["manualDisconnect"], false);
        assert!(item["reconnectRequestedAt"].is_string() && item["nextReconnectAt"].is_string(), "{item}");

        // Disconnect while it retries: the owner stops trying, and the answer says so.
        let answer = view.action(&l1, "status", "disconnect", &json!({})).await.unwrap();
        assert!(answer.success);
        assert!(
            answer.message.en_us.starts_with("Disconnected: instance test-host stopped trying to connect"),
            "{:?}",
            answer.message
        );

        // Unbound: Reconnect names that reason instead.
        inst.trigger("wecom").unwrap().trigger.stop(&params("x1", "l1")).await.unwrap();
        let answer = view.action(&l1, "status", "reconnect", &json!({})).await.unwrap();
        assert!(
            answer.message.en_us.contains("No published Digital Expert uses this integration"),
            "{:?}",
            answer.message
        );
        let disabled = Integration { enabled: false, ..l1.clone() };
        assert_eq!(status_item(&inst, &disabled).await["disabledReason"], "integration_disabled");
    });
}

#[test]
fn the_status_tab_trusts_an_observed_status_only_while_its_writer_holds_the_lease() {
    let (host, inst) = installed(InstallLevel::Tenant);
    let l1 = long("l1");
    host.put_integration(l1.clone());
    let leases = host.services().leases;
    host.block_on(async {
        // Unbound here, so this host runs no connection of its own; another instance owns the
        // bot's lease and wrote its status.
        let lease = leases
            .acquire("wecom/wecom:ws:bot:aibBOT1".into(), "instance-b".into(), 60_000)
            .await
            .unwrap()
            .expect("the lease is free");
        let observed = json!({
            "state": "connected", "ownerInstanceId": "instance-b", "leaseOwner": "instance-b", "fenceToken": lease.token,
            "lastConnectedAt": "2026-12-01T10:00:00.000Z", "reconnectAttempts": 0, "writtenAtMs": 1
        });
        let key = format!("wecom/{TEST_TENANT}/status:l1");
        use host_sdk::host::KvBackend;
        host.kv().set(key.clone(), observed.to_string(), 0).await.unwrap();
        let item = status_item(&inst, &l1).await;
        assert_eq!(item["state"], "connected", "{item}");
        assert_eq!(item["ownerInstanceId"], "instance-b");
        assert_eq!(item["lastConnectedAt"], "2026-12-01T10:00:00.000Z");

        // The owner lost its lease: its last word is history, not the present.
        assert!(leases.release(lease).await.unwrap());
        let item = status_item(&inst, &l1).await;
        assert_eq!(item["state"], "stopped", "{item}");
        assert_eq!(item["ownerInstanceId"], Value::Null);
        assert_eq!(item["lastConnectedAt"], "2026-12-01T10:00:00.000Z", "history is kept");
    });
}

#[test]
fn deleting_an_integration_forgets_its_binding_intent_and_status() {
    let (host, inst) = installed(InstallLevel::Tenant);
    let l1 = long("l1");
    host.put_integration(l1.clone());
    let provider = &inst.provider("wecom_long").unwrap().provider;
    let trigger = &inst.trigger("wecom").unwrap().trigger;
    host.block_on(async {
        // Disconnected before it is bound: no connection ever runs, so only hooks and actions
        // could write here.
        inst.views[0].view.action(&l1, "status", "disconnect", &json!({})).await.unwrap();
        trigger.publish(&params("x1", "l1")).await.unwrap();
        let changed = Integration { options: json!({"botId": "aibBOT1", "secret": "NEW-SECRET"}), ..l1.clone() };
        provider.on_lifecycle(LifecycleEvent::Updated, &changed, Some(&l1)).await.unwrap();
        let keys: Vec<String> = host.kv().snapshot().into_iter().map(|e| e.key).collect();
        assert!(keys.iter().any(|k| k.ends_with("binding:l1")), "{keys:?}");
        assert!(keys.iter().any(|k| k.ends_with("desired:l1")), "{keys:?}");
        assert!(!keys.iter().any(|k| k.ends_with("status:l1")), "hooks never write the observed status: {keys:?}");
        provider.on_lifecycle(LifecycleEvent::Deleted, &l1, None).await.unwrap();
    });
    let left: Vec<String> = host.kv().snapshot().into_iter().map(|e| e.key).filter(|k| k.contains("l1")).collect();
    assert!(left.is_empty(), "left behind: {left:?}");
}

#[test]
fn tests_say_what_they_checked() {
    let (host, inst) = installed(InstallLevel::Tenant);
    host.block_on(async {
        // WeCom is a closed port here: the long connection's Test really tries, and says so.
        let long_result = inst.provider("wecom_long").unwrap().provider.test(&long("")).await.unwrap();
        assert!(!long_result.ok);
        assert_eq!(long_result.checked, "connection");
        assert!(
            long_result.message.en_us.starts_with("WeCom is unreachable at ws://127.0.0.1:9"),
            "{:?}",
            long_result.message
        );
        let short_result = inst.provider("wecom").unwrap().provider.test(&short("")).await.unwrap();
        assert_eq!(short_result.checked, "format");
        assert!(short_result.message.en_us.contains("32-byte AES key"), "{:?}", short_result.message);
        let bad = integration("", "wecom_long", json!({"botId": "b"}));
        let err = inst.provider("wecom_long").unwrap().provider.test(&bad).await.unwrap_err();
        assert_eq!((err.code, err.message.as_str()), (ErrorCode::INVALID_CONFIG, "secret is required"));
    });
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
    assert_eq!(webhook(&inst, "l1", "").0, 404, "not a short-connection integration");
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
        logs.iter().any(|l| l.plugin == "wecom"
            && l.tenant == TEST_TENANT
            && l.record.level == LogLevel::Info
            && l.record.message.contains("WeCom plugin registered")),
        "{logs:?}"
    );
    assert!(
        logs.iter().any(|l| l.record.message == "wecom_long lifecycle"
            && l.record.fields_json.contains("\"integration_id\":\"l1\"")),
        "tagged with the integration: {logs:?}"
    );
    assert!(logs.iter().all(|l| l.tenant == TEST_TENANT), "only this installation's records: {logs:?}");
    assert!(logs.iter().all(
        |l| !l.record.message.contains("LONG-SECRET-VALUE") && !l.record.fields_json.contains("LONG-SECRET-VALUE")
    ));
}

#[test]
fn each_installation_logs_to_its_own_host_and_tenant() {
    // Two hosts and three installations in one process: every record reaches the host of the
    // installation that emitted it, tagged with that installation's tenant, and no other.
    let plugin = load_wecom();
    let first = TestHost::new();
    let second = TestHost::new();
    let a = first.install_in(&plugin, InstallLevel::Tenant, "tenant-a").unwrap();
    let b = first.install_in(&plugin, InstallLevel::Tenant, "tenant-b").unwrap();
    let c = second.install_in(&plugin, InstallLevel::Tenant, "tenant-c").unwrap();
    let la = integration("la", "wecom_long", json!({"botId": "botA", "secret": "s"}));
    let lc = integration("lc", "wecom_long", json!({"botId": "botC", "secret": "s"}));
    first.block_on(async {
        a.provider("wecom_long").unwrap().provider.on_lifecycle(LifecycleEvent::Enabled, &la, None).await.unwrap();
    });
    second.block_on(async {
        c.provider("wecom_long").unwrap().provider.on_lifecycle(LifecycleEvent::Enabled, &lc, None).await.unwrap();
    });
    let lifecycle = |host: &TestHost| {
        host.logs()
            .into_iter()
            .filter(|l| l.record.message == "wecom_long lifecycle")
            .map(|l| {
                (l.tenant, serde_json::from_str::<Value>(&l.record.fields_json).unwrap()["integration_id"].clone())
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(lifecycle(&first), [("tenant-a".to_string(), json!("la"))]);
    assert_eq!(lifecycle(&second), [("tenant-c".to_string(), json!("lc"))]);
    let registered = |host: &TestHost| {
        let mut tenants: Vec<String> = host
            .logs()
            .into_iter()
            .filter(|l| l.record.message.contains("WeCom plugin registered"))
            .map(|l| l.tenant)
            .collect();
        tenants.sort();
        tenants
    };
    assert_eq!(registered(&first), ["tenant-a", "tenant-b"]);
    assert_eq!(registered(&second), ["tenant-c"]);
    drop(b);
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

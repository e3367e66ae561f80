//! Installations (ABI v2): each `register` returns a handle whose `stop` ends everything that
//! installation started — tasks, held leases, in-flight calls — within its timeout and nothing
//! of any other installation; and every host service an installation reaches is scoped to its
//! tenant by the host. Driven through the probe fixture and the real WeCom plugin.

mod plugin_common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use host_sdk::host::{Installation, TestHost};
use host_sdk::{ErrorCode, HttpRequest, HttpResponse, InstallLevel, Integration, TriggerParams};
use plugin_common::*;
use serde_json::{json, Value};

fn call(host: &Arc<TestHost>, inst: &Installation, path: &str, query: &str) -> Result<HttpResponse, host_sdk::Error> {
    let handler = inst.routes.iter().find(|r| r.spec.path == path).expect("route").handler.clone();
    let request =
        HttpRequest { method: "GET".into(), path: format!("/api{path}"), query: query.into(), ..Default::default() };
    host.block_on(async move { handler.handle(request).await })
}

fn lease_holder(host: &Arc<TestHost>, key: &str) -> Option<String> {
    let leases = host.services().leases;
    host.block_on(async move { leases.current(format!("probe/{key}")).await.unwrap() }).map(|l| l.owner)
}

#[test]
fn stop_ends_the_installations_tasks_and_releases_its_lease_within_the_timeout() {
    let host = TestHost::new();
    let plugin = load_probe();
    let a = host.install_in(&plugin, InstallLevel::Tenant, "tenant-a").unwrap();
    let b = host.install_in(&plugin, InstallLevel::Tenant, "tenant-b").unwrap();
    assert_eq!(call(&host, &a, "/probe/hold-lease", "key=bot-a").unwrap().status, 200);
    assert_eq!(call(&host, &b, "/probe/hold-lease", "key=bot-b").unwrap().status, 200);
    assert_eq!(lease_holder(&host, "bot-a").as_deref(), Some("probe-tenant-a"));

    let started = Instant::now();
    a.stop(Duration::from_secs(3)).expect("a stops cleanly");
    assert!(started.elapsed() < Duration::from_secs(3), "within the timeout: {:?}", started.elapsed());
    assert_eq!(lease_holder(&host, "bot-a"), None, "the lease was released, not left to expire");
    let released = host.kv().snapshot().into_iter().any(|e| e.key == "probe/tenant-a/released:bot-a");
    assert!(released, "the task cleaned up after being cancelled");

    // Only a's installation stopped: b still holds its lease and answers.
    assert_eq!(lease_holder(&host, "bot-b").as_deref(), Some("probe-tenant-b"));
    assert_eq!(call(&host, &b, "/probe/kv", "key=alive").unwrap().status, 200);

    // a's objects refuse calls from now on; a second stop does nothing.
    let err = call(&host, &a, "/probe/kv", "key=late").unwrap_err();
    assert_eq!(err.code, ErrorCode::SHUTTING_DOWN);
    assert!(!a.views[0].view.supports("probe"), "a stopped installation contributes no views");
    a.stop(Duration::from_secs(1)).expect("stopping twice is harmless");
    b.stop(Duration::from_secs(3)).unwrap();
    assert_eq!(lease_holder(&host, "bot-b"), None);
}

#[test]
fn a_task_that_ignores_cancellation_is_aborted_within_the_timeout() {
    let host = TestHost::new();
    let inst = host.install(&load_probe(), InstallLevel::Tenant).unwrap();
    assert_eq!(call(&host, &inst, "/probe/stubborn", "").unwrap().status, 200);
    let started = Instant::now();
    inst.stop(Duration::from_millis(400)).expect("aborting the stubborn task ends it in time");
    let took = started.elapsed();
    assert!(took >= Duration::from_millis(250), "it waited for the task before aborting it: {took:?}");
    assert!(took < Duration::from_secs(2), "bounded by the timeout: {took:?}");
}

#[test]
fn a_call_in_flight_ends_when_its_installation_stops() {
    let host = TestHost::new();
    let inst = host.install(&load_probe(), InstallLevel::Tenant).unwrap();
    let handler = inst.routes.iter().find(|r| r.spec.path == "/probe/slow").unwrap().handler.clone();
    let (tx, rx) = std::sync::mpsc::channel();
    host.handle().spawn(async move {
        let _ = tx.send(handler.handle(HttpRequest::default()).await);
    });
    // The call is in flight (it sleeps a minute); stop must not wait for it.
    assert!(rx.recv_timeout(Duration::from_millis(100)).is_err(), "still in flight");
    inst.stop(Duration::from_secs(2)).unwrap();
    let answer = rx.recv_timeout(Duration::from_secs(2)).expect("the call ended with the stop");
    assert_eq!(answer.unwrap_err().code, ErrorCode::SHUTTING_DOWN);
}

fn look(host: &Arc<TestHost>, inst: &Installation, id: &str, provider: &str) -> Value {
    let response = call(host, inst, "/probe/look", &format!("id={id}&provider={provider}")).unwrap();
    serde_json::from_slice(&response.body).unwrap()
}

#[test]
fn every_host_service_is_scoped_to_the_installations_tenant() {
    let host = TestHost::new();
    let plugin = load_probe();
    let a = host.install_in(&plugin, InstallLevel::Tenant, "tenant-a").unwrap();
    let b = host.install_in(&plugin, InstallLevel::Tenant, "tenant-b").unwrap();
    let integration = |id: &str| Integration {
        id: id.into(),
        name: id.into(),
        provider: "probe".into(),
        enabled: true,
        options: json!({"secret": "s"}),
    };
    host.put_integration_in("tenant-a", integration("ia"));
    assert_eq!(call(&host, &a, "/probe/kv", "key=a-only").unwrap().status, 200);

    let seen_by_a = look(&host, &a, "ia", "probe");
    assert_eq!(seen_by_a, json!({"byId": true, "listed": ["ia"], "kv": ["a-only"]}));
    let seen_by_b = look(&host, &b, "ia", "probe");
    assert_eq!(seen_by_b, json!({"byId": false, "listed": [], "kv": []}), "B sees nothing of A");

    // Leases are per plugin across tenants: one bot, one holder, whichever tenant asks.
    assert_eq!(call(&host, &a, "/probe/hold-lease", "key=shared-bot").unwrap().status, 200);
    assert_eq!(call(&host, &b, "/probe/hold-lease", "key=shared-bot").unwrap().status, 409);
    a.stop(Duration::from_secs(2)).unwrap();
    b.stop(Duration::from_secs(2)).unwrap();
}

#[test]
fn the_wecom_trigger_of_tenant_b_cannot_bind_an_integration_of_tenant_a() {
    let host = TestHost::new();
    let plugin = load_wecom();
    let a = host.install_in(&plugin, InstallLevel::Tenant, "tenant-a").unwrap();
    let b = host.install_in(&plugin, InstallLevel::Tenant, "tenant-b").unwrap();
    let options = json!({"botId": "aibA", "secret": "s"});
    host.put_integration_in(
        "tenant-a",
        Integration { id: "ia".into(), name: "a".into(), provider: "wecom_long".into(), enabled: true, options },
    );
    let params = TriggerParams { xpert_id: "xb".into(), config: json!({"enabled": true, "integrationId": "ia"}) };
    let (b_checklist, b_publish, a_checklist) = host.block_on(async {
        (
            b.trigger("wecom").unwrap().trigger.validate(&params).await.unwrap(),
            b.trigger("wecom").unwrap().trigger.publish(&params).await,
            a.trigger("wecom").unwrap().trigger.validate(&params).await.unwrap(),
        )
    });
    assert_eq!(b_checklist[0].code, "TRIGGER_WECOM_INTEGRATION_NOT_FOUND", "A's id reads as absent to B");
    assert_eq!(b_publish.unwrap_err().code, ErrorCode::NOT_FOUND);
    assert!(a_checklist.is_empty(), "the same id is fine in its own tenant");
    let keys: Vec<String> = host.kv().snapshot().into_iter().map(|e| e.key).collect();
    assert!(keys.iter().all(|k| !k.starts_with("wecom/tenant-b/binding:")), "B bound nothing: {keys:?}");
    // Direct KV reads of the other namespace are impossible: keys arrive prefixed by the host.
    let kv = host.services().kv;
    let stored = host.block_on(async move { kv.get("wecom/tenant-a/binding:ia".into()).await.unwrap() });
    assert!(stored.is_none(), "validate never writes");
}

/// Calls the probe's sessions route (the probe drives `scope.host().sessions()` from inside the
/// loaded cdylib) and parses its JSON answer.
fn sessions_op(host: &Arc<TestHost>, inst: &Installation, query: &str) -> Result<Value, host_sdk::Error> {
    let response = call(host, inst, "/probe/sessions", query)?;
    assert_eq!(response.status, 200, "{}", String::from_utf8_lossy(&response.body));
    Ok(serde_json::from_slice(&response.body).expect("JSON answer"))
}

#[test]
fn the_sessions_service_crosses_the_real_abi_scoped_to_the_installations_tenant() {
    let host = TestHost::new();
    let plugin = load_probe();
    let a = host.install_in(&plugin, InstallLevel::Tenant, "tenant-a").unwrap();
    let b = host.install_in(&plugin, InstallLevel::Tenant, "tenant-b").unwrap();
    let put = |inst: &Installation, key: &str, chat: &str, sender: &str, at: i64, extra: &str| {
        let query = format!(
            "op=put&integration=i1&key={key}&chatType=group&chat={chat}&sender={sender}&xpert=x1&at={at}{extra}"
        );
        assert_eq!(sessions_op(&host, inst, &query).unwrap(), json!("written"));
    };
    put(&a, "g%1:u1", "g%1", "u1", 1_000, "&conversation=conv-1");
    put(&a, "gx1:u2", "gx1", "u2", 3_000, "");
    put(&a, "gy1:u3", "gy1", "U3", 2_000, "");

    // The record comes back whole (camelCase JSON across the boundary, both ways).
    let got = sessions_op(&host, &a, "op=get&integration=i1&key=g%1:u1").unwrap();
    assert_eq!(
        got,
        json!({"integrationId": "i1", "sessionKey": "g%1:u1", "chatType": "group", "chatId": "g%1", "senderId": "u1",
               "xpertId": "x1", "conversationId": "conv-1", "updatedAtMs": 1_000})
    );

    // Search, sort and paging are the host's: `%` is literal, total counts every match.
    let page = sessions_op(&host, &a, "op=query&integration=i1&search=%&limit=10").unwrap();
    assert_eq!((page["total"].clone(), page["items"][0]["chatId"].clone()), (json!(1), json!("g%1")));
    let page = sessions_op(&host, &a, "op=query&integration=i1&sort=updatedAt&desc=1&offset=1&limit=1").unwrap();
    assert_eq!(page["total"], 3);
    assert_eq!(page["items"].as_array().unwrap().len(), 1);
    assert_eq!(page["items"][0]["sessionKey"], "gy1:u3", "second latest");
    let page = sessions_op(&host, &a, "op=query&integration=i1&search=u3&sort=senderId").unwrap();
    assert_eq!((page["total"].clone(), page["items"][0]["senderId"].clone()), (json!(1), json!("U3")));

    // Tenant B's installation sees none of A's sessions and cannot delete them.
    assert_eq!(sessions_op(&host, &b, "op=get&integration=i1&key=g%1:u1").unwrap(), Value::Null);
    assert_eq!(sessions_op(&host, &b, "op=query&integration=i1&limit=50").unwrap(), json!({"items": [], "total": 0}));
    assert_eq!(sessions_op(&host, &b, "op=delete&integration=i1&key=g%1:u1").unwrap(), json!(false));
    assert_eq!(sessions_op(&host, &b, "op=deleteIntegration&integration=i1").unwrap(), json!(0));
    let tenants: Vec<String> = host.sessions().snapshot().into_iter().map(|(t, _)| t).collect();
    assert_eq!(tenants, ["tenant-a", "tenant-a", "tenant-a"], "every row is stored under A's tenant");

    // A record without a session key is refused by the host, and the error crosses back typed.
    let err = call(&host, &a, "/probe/sessions", "op=put&integration=i1&key=&chat=c").unwrap_err();
    assert_eq!(err.code, ErrorCode::INVALID_ARGUMENT, "{err:?}");

    assert_eq!(sessions_op(&host, &a, "op=delete&integration=i1&key=gx1:u2").unwrap(), json!(true));
    assert_eq!(sessions_op(&host, &a, "op=deleteIntegration&integration=i1").unwrap(), json!(2));
    assert!(host.sessions().snapshot().is_empty());
    a.stop(Duration::from_secs(2)).unwrap();
    b.stop(Duration::from_secs(2)).unwrap();
}

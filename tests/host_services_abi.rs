//! Every host service, called the way the plugin calls it: through the plugin-side client
//! (`host_sdk::plugin::Host`), across the exported FFI objects (`export_host_api`), into the
//! TestHost's in-memory backends. Covers logging, config, the clock, integrations read, the shared
//! KV (TTL, set-if-absent, compare-and-swap, compare-and-delete, prefix scan, tenant namespaces),
//! leases with fencing tokens, conversation sessions (typed records and queries, tenant scoping),
//! and the agent stream (pull, order, cancel on drop).

use std::sync::Arc;
use std::time::{Duration, Instant};

use host_sdk::host::{export_host_api, TestHost};
use host_sdk::plugin::Host;
use host_sdk::{
    AgentEvent, AgentRequest, ConversationStatus, ErrorCode, Integration, LogLevel, LogRecord, SessionQuery,
    SessionRecord, SessionSort,
};

/// The plugin-side client of `tenant`'s host API, over the TestHost's services.
fn client(host: &Arc<TestHost>, tenant: &str) -> Host {
    Host::new(export_host_api(host.services(), host.handle(), "wecom", tenant))
}

/// A current-thread runtime standing in for the plugin side (the host's runtime stays separate).
fn plugin_side() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime")
}

#[test]
fn logging_config_clock_and_integrations_cross_the_boundary() {
    let host = TestHost::new();
    let api = client(&host, "t1");
    host.set_config("WECOM_WS_URL", "ws://127.0.0.1:1");
    assert_eq!(api.config("WECOM_WS_URL").as_deref(), Some("ws://127.0.0.1:1"));
    assert_eq!(api.config("NOT_SET"), None);

    let before = api.now_ms();
    host.advance_ms(1_500);
    assert_eq!(api.now_ms(), before + 1_500, "the plugin reads the host's clock");

    api.log(LogRecord {
        level: LogLevel::Warn,
        target: "plugin_wecom::ws".into(),
        message: "reconnecting".into(),
        fields_json: r#"{"attempt":2}"#.into(),
    });
    let logs = host.logs();
    let logged = logs.last().expect("the record reached the host");
    let record = &logged.record;
    assert_eq!((logged.plugin.as_str(), logged.tenant.as_str()), ("wecom", "t1"), "tagged with plugin and tenant");
    assert_eq!((record.level, record.message.as_str()), (LogLevel::Warn, "reconnecting"));
    assert_eq!(record.fields_json, r#"{"attempt":2}"#);

    let integration = |id: &str, provider: &str| Integration {
        id: id.into(),
        name: format!("bot {id}"),
        provider: provider.into(),
        enabled: true,
        options: serde_json::json!({"botId": format!("aib-{id}"), "secret": "s3cret"}),
    };
    host.put_integration_in("t1", integration("i1", "wecom_long"));
    host.put_integration_in("t1", integration("i2", "wecom"));
    host.put_integration_in("t1", integration("i3", "wecom_long"));
    host.put_integration_in("t2", integration("other", "wecom_long"));
    plugin_side().block_on(async {
        let found = api.integrations().get("i1").await.expect("get").expect("i1 exists");
        assert_eq!(found.options["botId"], "aib-i1", "the plugin sees the options it needs");
        assert_eq!(api.integrations().get("missing").await.expect("get"), None);
        let mut long: Vec<String> =
            api.integrations().list_by_provider("wecom_long").await.expect("list").into_iter().map(|i| i.id).collect();
        long.sort();
        assert_eq!(long, ["i1", "i3"], "another tenant's integration is not listed");
        assert_eq!(api.integrations().get("other").await.expect("get"), None, "another tenant's id reads as absent");
        let t2 = client(&host, "t2");
        assert!(t2.integrations().get("i1").await.expect("get").is_none());
        assert_eq!(t2.integrations().list_by_provider("wecom_long").await.expect("list").len(), 1);
    });
}

#[test]
fn kv_ttl_conditional_writes_scan_and_tenant_namespaces() {
    let host = TestHost::new();
    let (a, b) = (client(&host, "tenant-a"), client(&host, "tenant-b"));
    plugin_side().block_on(async {
        let kv = a.kv();
        // TTL: a value lives until its expiry, then is gone and may be claimed again.
        kv.set("dedup:m1", "1", 1_000).await.unwrap();
        assert!(!kv.set_if_absent("dedup:m1", "2", 1_000).await.unwrap(), "a live key is not absent");
        host.advance_ms(999);
        assert_eq!(kv.get("dedup:m1").await.unwrap().as_deref(), Some("1"));
        host.advance_ms(2);
        assert_eq!(kv.get("dedup:m1").await.unwrap(), None, "expired");
        assert!(kv.set_if_absent("dedup:m1", "2", 0).await.unwrap(), "an expired key is absent");

        // Compare-and-swap and compare-and-delete act only on the expected value.
        kv.set("binding:i1", "trigger-1", 0).await.unwrap();
        assert!(!kv.compare_and_swap("binding:i1", Some("trigger-9"), "trigger-2", 0).await.unwrap());
        assert!(kv.compare_and_swap("binding:i1", Some("trigger-1"), "trigger-2", 0).await.unwrap());
        assert!(!kv.compare_and_swap("binding:i2", Some("x"), "y", 0).await.unwrap(), "absent ≠ expected");
        assert!(kv.compare_and_swap("binding:i2", None, "trigger-3", 0).await.unwrap(), "None means absent");
        assert!(!kv.compare_and_delete("binding:i1", "trigger-1").await.unwrap(), "stale value kept");
        assert_eq!(kv.get("binding:i1").await.unwrap().as_deref(), Some("trigger-2"));
        assert!(kv.compare_and_delete("binding:i1", "trigger-2").await.unwrap());
        assert!(!kv.delete("binding:i1").await.unwrap(), "already gone");

        // Prefix scan pages in key order, within the prefix only.
        for user in ["u3", "u1", "u2", "u4"] {
            kv.set(&format!("session:i1:{user}"), user, 0).await.unwrap();
        }
        kv.set("session:i10:u1", "other integration", 0).await.unwrap();
        let page1 = kv.scan_prefix("session:i1:", "", 3).await.unwrap();
        let keys1: Vec<&str> = page1.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys1, ["session:i1:u1", "session:i1:u2", "session:i1:u3"]);
        let page2 = kv.scan_prefix("session:i1:", keys1[2], 3).await.unwrap();
        assert_eq!(
            page2.iter().map(|e| (e.key.as_str(), e.value.as_str())).collect::<Vec<_>>(),
            [("session:i1:u4", "u4")]
        );

        // Tenants share the store but not their keys: each sees only its own namespace.
        assert_eq!(b.kv().get("binding:i2").await.unwrap(), None);
        b.kv().set("binding:i2", "tenant-b's", 0).await.unwrap();
        assert_eq!(kv.get("binding:i2").await.unwrap().as_deref(), Some("trigger-3"));
        assert!(b.kv().scan_prefix("session:", "", 100).await.unwrap().is_empty());
    });
    let raw: Vec<String> = host.kv().snapshot().into_iter().map(|e| e.key).collect();
    assert!(raw.contains(&"wecom/tenant-a/binding:i2".to_string()), "{raw:?}");
    assert!(raw.contains(&"wecom/tenant-b/binding:i2".to_string()), "{raw:?}");
}

#[test]
fn leases_change_hands_only_after_expiry_and_fence_with_growing_tokens() {
    let host = TestHost::new();
    let (a, b) = (client(&host, "tenant-a"), client(&host, "tenant-b"));
    plugin_side().block_on(async {
        let key = "wecom:ws:bot:aib1";
        let first = a.leases().acquire(key, "instance-1", 10_000).await.unwrap().expect("free lease is granted");
        assert_eq!(first.owner, "instance-1");
        // Leases are per plugin, not per tenant: one bot socket for the whole cluster.
        assert_eq!(b.leases().acquire(key, "instance-2", 10_000).await.unwrap(), None, "held elsewhere");
        assert_eq!(b.leases().current(key).await.unwrap().map(|l| l.owner), Some("instance-1".into()));

        host.advance_ms(5_000);
        let renewed = a.leases().renew(&first, 10_000).await.unwrap().expect("the holder renews");
        assert_eq!(renewed.token, first.token, "renewal keeps the fencing token");
        assert!(renewed.expires_at_ms > first.expires_at_ms);

        host.advance_ms(10_001);
        let second = b.leases().acquire(key, "instance-2", 10_000).await.unwrap().expect("expired lease changes hands");
        assert!(second.token > first.token, "the new holder fences the old one: {} > {}", second.token, first.token);
        assert_eq!(a.leases().renew(&renewed, 10_000).await.unwrap(), None, "a stale holder cannot renew");
        assert!(!a.leases().release(&renewed).await.unwrap(), "nor release someone else's lease");
        assert!(b.leases().release(&second).await.unwrap());
        assert_eq!(a.leases().current(key).await.unwrap(), None);
        let third = a.leases().acquire(key, "instance-1", 10_000).await.unwrap().expect("released lease is free");
        assert!(third.token > second.token);
    });
}

#[test]
fn agent_streams_arrive_in_order_and_dropping_one_cancels_the_run() {
    let host = TestHost::new();
    let api = client(&host, "t1");
    let agent = host.agent().clone();
    agent.on_prefix(
        "hello",
        vec![
            AgentEvent::ConversationStart { conversation_id: "c-9".into() },
            AgentEvent::Reasoning("thinking".into()),
            AgentEvent::TextDelta("你好，".into()),
            AgentEvent::TextDelta("world".into()),
            AgentEvent::ConversationEnd { status: ConversationStatus::Success, error: None },
        ],
    );
    let rt = plugin_side();
    rt.block_on(async {
        let request = AgentRequest {
            xpert_id: "xpert-1".into(),
            conversation_id: Some("c-9".into()),
            input: "hello there".into(),
            options: serde_json::json!({"channel": "wecom"}),
            ..Default::default()
        };
        let mut stream = api.agents().invoke(request).await.expect("invoke");
        let mut events = Vec::new();
        while let Some(ev) = stream.next().await {
            events.push(ev);
        }
        assert_eq!(
            events,
            [
                AgentEvent::ConversationStart { conversation_id: "c-9".into() },
                AgentEvent::Reasoning("thinking".into()),
                AgentEvent::TextDelta("你好，".into()),
                AgentEvent::TextDelta("world".into()),
                AgentEvent::ConversationEnd { status: ConversationStatus::Success, error: None },
                AgentEvent::Done,
            ]
        );
        assert_eq!(stream.next().await, None, "an ended stream stays ended");
    });
    let seen = agent.requests();
    assert_eq!(seen[0].xpert_id, "xpert-1");
    assert_eq!(seen[0].conversation_id.as_deref(), Some("c-9"));
    assert_eq!(seen[0].options["channel"], "wecom");
    assert_eq!(agent.cancelled(), 0, "a stream read to its end is not a cancellation");

    // Dropping the stream mid-run stops the producer on the host side.
    let gate = agent.gate();
    gate.add_permits(1);
    rt.block_on(async {
        let mut stream =
            api.agents().invoke(AgentRequest { input: "hello again".into(), ..Default::default() }).await.unwrap();
        assert_eq!(stream.next().await, Some(AgentEvent::ConversationStart { conversation_id: "c-9".into() }));
        drop(stream);
    });
    gate.add_permits(10); // let the producer try its next send, which finds the receiver gone
    let deadline = Instant::now() + Duration::from_secs(5);
    while agent.cancelled() == 0 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(agent.cancelled(), 1, "the host saw the run cancelled");
}

#[test]
fn sessions_cross_typed_scoped_to_the_tenant_and_queried_in_the_store() {
    let host = TestHost::new();
    let (a, b) = (client(&host, "tenant-a"), client(&host, "tenant-b"));
    let session = |key: &str, chat_type: &str, at: i64| SessionRecord {
        integration_id: "i1".into(),
        session_key: key.into(),
        chat_type: chat_type.into(),
        chat_id: key.split(':').next().unwrap_or_default().into(),
        sender_id: key.split(':').nth(1).unwrap_or_default().into(),
        xpert_id: "xpert-1".into(),
        conversation_id: (chat_type == "group").then(|| format!("conv-{key}")),
        updated_at_ms: at,
    };
    plugin_side().block_on(async {
        let sessions = a.sessions();
        for (key, chat_type, at) in [("u1:u1", "single", 30), ("g_1:u2", "group", 10), ("g21:u3", "group", 20)] {
            sessions.put(&session(key, chat_type, at)).await.unwrap();
        }
        assert_eq!(sessions.get("i1", "g_1:u2").await.unwrap(), Some(session("g_1:u2", "group", 10)));
        assert_eq!(sessions.get("i1", "nope").await.unwrap(), None);

        // Upsert: same key, new values, still one row.
        sessions.put(&session("g_1:u2", "group", 40)).await.unwrap();
        let latest = sessions.query(&SessionQuery::new("i1")).await.unwrap();
        let keys: Vec<&str> = latest.items.iter().map(|r| r.session_key.as_str()).collect();
        assert_eq!((keys, latest.total), (vec!["g_1:u2", "u1:u1", "g21:u3"], 3), "latest first by default");

        let query = SessionQuery {
            search: Some("G_".into()),
            sort_by: SessionSort::ChatId,
            descending: false,
            limit: 0,
            ..SessionQuery::new("i1")
        };
        let page = sessions.query(&query).await.unwrap();
        assert_eq!(page.total, 1, "`_` is literal and the search ignores case: only g_1 matches");
        assert_eq!(page.items.len(), 1, "a limit of 0 is clamped to 1");

        // Tenant B shares the host's store but none of A's rows.
        assert_eq!(b.sessions().get("i1", "u1:u1").await.unwrap(), None);
        assert_eq!(b.sessions().query(&SessionQuery::new("i1")).await.unwrap().total, 0);
        assert!(!b.sessions().delete("i1", "u1:u1").await.unwrap());
        assert_eq!(b.sessions().delete_integration("i1").await.unwrap(), 0);

        // A record without an integration is refused by the host, typed.
        let orphan = SessionRecord { integration_id: String::new(), ..session("x:y", "single", 1) };
        assert_eq!(sessions.put(&orphan).await.unwrap_err().code, ErrorCode::INVALID_ARGUMENT);

        assert!(sessions.delete("i1", "u1:u1").await.unwrap());
        assert_eq!(sessions.delete_integration("i1").await.unwrap(), 2);
        assert_eq!(sessions.query(&SessionQuery::new("i1")).await.unwrap().total, 0);
    });
    // The TestHost drops an integration's sessions when the integration goes, as the host does.
    plugin_side().block_on(async { a.sessions().put(&session("u9:u9", "single", 1)).await.unwrap() });
    assert!(!host.remove_integration_in("tenant-a", "i1"), "no such integration in the directory");
    assert!(host.sessions().snapshot().is_empty(), "its sessions went anyway");
}

//! Conformance checks every host backend must pass, so that the TestHost's in-memory services and
//! a host's persistent ones behave the same for a plugin. Each check starts from an empty backend,
//! uses only the trait, and panics (with what differed) on the first deviation; a host runs each
//! one from its own tests against a fresh instance of its backend.
//!
//! The KV and lease checks (`kv_*`, `leases_*`) take a `prefix` that every key they touch starts
//! with, so that several runs can share one server (a Redis or PostgreSQL used by parallel tests)
//! without seeing each other. Their expiry checks use the backend's own clock: they write with a
//! short TTL and poll, with a deadline, until the entry is gone.

use std::time::{Duration, Instant};

use crate::host::{KvBackend, LeaseBackend, SessionBackend};
use crate::{KvEntry, Lease, SessionPage, SessionQuery, SessionRecord, SessionSort};

/// The integration most checks use.
const I1: &str = "i1";

/// A session of `integration` (helper for the checks; also handy in hosts' own tests).
#[allow(clippy::too_many_arguments)] // one argument per field: a table row reads best flat
pub fn session(
    integration: &str,
    key: &str,
    chat_type: &str,
    chat_id: &str,
    sender_id: &str,
    xpert_id: &str,
    conversation_id: Option<&str>,
    updated_at_ms: i64,
) -> SessionRecord {
    SessionRecord {
        integration_id: integration.into(),
        session_key: key.into(),
        chat_type: chat_type.into(),
        chat_id: chat_id.into(),
        sender_id: sender_id.into(),
        xpert_id: xpert_id.into(),
        conversation_id: conversation_id.map(str::to_string),
        updated_at_ms,
    }
}

/// Five sessions of [`I1`] chosen so that every sort column orders them differently, with ties
/// (broken by session key), a missing conversation id, and the LIKE metacharacters `%`, `_` and
/// `\` in their texts. Returned in key order A…E as the checks name them.
fn fixture() -> [SessionRecord; 5] {
    [
        // A
        session(I1, "alice:alice", "single", "alice", "alice", "x-2", Some("conv-b"), 5_000),
        // B
        session(I1, "g%1:bob", "group", "g%1", "bob", "x-1", None, 1_000),
        // C
        session(I1, "g_1:carol", "group", "g_1", "carol", "x-3", Some("conv-a"), 3_000),
        // D
        session(I1, "gx1:dave", "group", "gx1", "Dave\\", "x-1", Some("conv-c"), 2_000),
        // E
        session(I1, "erin:erin", "single", "erin", "erin", "x-2", None, 4_000),
    ]
}

async fn put_fixture(backend: &dyn SessionBackend, tenant: &str) -> [SessionRecord; 5] {
    let rows = fixture();
    for row in &rows {
        backend.put(tenant.to_string(), row.clone()).await.expect("put");
    }
    rows
}

async fn page(backend: &dyn SessionBackend, tenant: &str, query: SessionQuery) -> SessionPage {
    backend.query(tenant.to_string(), query).await.expect("query")
}

/// The chat ids of a page's rows (each fixture row has its own chat id), for short assertions.
fn chats(page: &SessionPage) -> Vec<&str> {
    page.items.iter().map(|r| r.chat_id.as_str()).collect()
}

fn searching(text: &str) -> SessionQuery {
    SessionQuery {
        search: Some(text.to_string()),
        sort_by: SessionSort::ChatId,
        descending: false,
        limit: 200,
        ..SessionQuery::new(I1)
    }
}

/// Search is an ASCII case-insensitive substring over chat type, chat id, sender id, expert id
/// and conversation id; `%`, `_` and `\` are literal; whitespace around the text is ignored and
/// an empty text filters nothing; `total` counts the matches.
pub async fn sessions_search(backend: &dyn SessionBackend, tenant: &str) {
    put_fixture(backend, tenant).await;
    let cases: &[(&str, &[&str])] = &[
        ("%", &["g%1"]),
        ("_", &["g_1"]),
        ("\\", &["gx1"]),
        ("g%", &["g%1"]),
        ("g_", &["g_1"]),
        ("DAVE", &["gx1"]),
        ("Alice", &["alice"]),
        ("GROUP", &["g%1", "g_1", "gx1"]),
        ("x-2", &["alice", "erin"]),
        ("conv-", &["alice", "g_1", "gx1"]),
        ("CONV-A", &["g_1"]),
        ("  bob  ", &["g%1"]),
        ("", &["alice", "erin", "g%1", "g_1", "gx1"]),
        ("   ", &["alice", "erin", "g%1", "g_1", "gx1"]),
        ("nomatch", &[]),
        ("i1", &[]),
    ];
    for (text, expected) in cases {
        let found = page(backend, tenant, searching(text)).await;
        assert_eq!(chats(&found), *expected, "search {text:?}");
        assert_eq!(found.total, expected.len() as u64, "total for search {text:?}");
    }
    let all = page(backend, tenant, SessionQuery { search: None, ..searching("") }).await;
    assert_eq!(all.total, 5, "no search lists everything");
}

/// Every sort column orders the rows by that column then by session key, ascending; descending
/// is the exact reverse. A missing conversation id sorts first ascending; text compares
/// byte-wise (upper case before lower case).
pub async fn sessions_sort(backend: &dyn SessionBackend, tenant: &str) {
    put_fixture(backend, tenant).await;
    // Ascending orders, by chat id (A alice, B g%1, C g_1, D gx1, E erin).
    let cases: &[(SessionSort, [&str; 5])] = &[
        (SessionSort::UpdatedAt, ["g%1", "gx1", "g_1", "erin", "alice"]),
        (SessionSort::ChatType, ["g%1", "g_1", "gx1", "alice", "erin"]),
        (SessionSort::ChatId, ["alice", "erin", "g%1", "g_1", "gx1"]),
        (SessionSort::SenderId, ["gx1", "alice", "g%1", "g_1", "erin"]),
        (SessionSort::XpertId, ["g%1", "gx1", "alice", "erin", "g_1"]),
        (SessionSort::ConversationId, ["erin", "g%1", "g_1", "alice", "gx1"]),
    ];
    for (sort_by, ascending) in cases {
        let query = SessionQuery { sort_by: *sort_by, descending: false, limit: 200, ..SessionQuery::new(I1) };
        let up = page(backend, tenant, query.clone()).await;
        assert_eq!(chats(&up), ascending, "{sort_by:?} ascending");
        let down = page(backend, tenant, SessionQuery { descending: true, ..query }).await;
        let mut descending = ascending.to_vec();
        descending.reverse();
        assert_eq!(chats(&down), descending, "{sort_by:?} descending");
        assert_eq!((up.total, down.total), (5, 5), "{sort_by:?} total");
    }
}

/// `offset` skips rows after filtering and sorting, `limit` caps the page (clamped to 1..=200),
/// `total` counts every match whatever the page; pages of one query neither overlap nor miss rows.
pub async fn sessions_paging(backend: &dyn SessionBackend, tenant: &str) {
    put_fixture(backend, tenant).await;
    let latest_first = |offset: u32, limit: u32| SessionQuery { offset, limit, ..SessionQuery::new(I1) };
    let expected: &[(u32, u32, &[&str])] = &[
        (0, 2, &["alice", "erin"]),
        (2, 2, &["g_1", "gx1"]),
        (4, 2, &["g%1"]),
        (5, 2, &[]),
        (100, 2, &[]),
        (1, 3, &["erin", "g_1", "gx1"]),
        (0, 0, &["alice"]),
    ];
    for (offset, limit, rows) in expected {
        let got = page(backend, tenant, latest_first(*offset, *limit)).await;
        assert_eq!(chats(&got), *rows, "offset {offset} limit {limit}");
        assert_eq!(got.total, 5, "total at offset {offset} limit {limit}");
    }
    // Search and paging together: total counts the matches, not the page.
    let groups = SessionQuery {
        search: Some("group".into()),
        sort_by: SessionSort::ChatId,
        descending: false,
        offset: 1,
        limit: 1,
        ..SessionQuery::new(I1)
    };
    let got = page(backend, tenant, groups).await;
    assert_eq!((chats(&got), got.total), (vec!["g_1"], 3));

    // The limit is clamped to 200.
    for n in 0..205 {
        let key = format!("k{n:03}");
        let row = session("big", &key, "single", &key, "u", "x", None, n);
        backend.put(tenant.to_string(), row).await.expect("put");
    }
    let huge = page(backend, tenant, SessionQuery { limit: u32::MAX, ..SessionQuery::new("big") }).await;
    assert_eq!((huge.items.len(), huge.total), (200, 205), "limit clamped to 200");
    assert_eq!(huge.items[0].session_key, "k204", "latest first");
    let tail = page(backend, tenant, SessionQuery { offset: 200, limit: 200, ..SessionQuery::new("big") }).await;
    assert_eq!(
        tail.items.iter().map(|r| r.session_key.as_str()).collect::<Vec<_>>(),
        ["k004", "k003", "k002", "k001", "k000"]
    );
}

/// `put` inserts or replaces (by integration and key; every field is replaced, including a
/// conversation id going back to none), `get` reads it back exactly, `delete` removes one row and
/// says whether it existed, `delete_integration` removes exactly one integration's rows and
/// counts them.
pub async fn sessions_upsert_and_delete(backend: &dyn SessionBackend, tenant: &str) {
    let t = || tenant.to_string();
    let [a, b, ..] = put_fixture(backend, tenant).await;
    assert_eq!(backend.get(t(), I1.into(), a.session_key.clone()).await.unwrap(), Some(a.clone()));
    assert_eq!(backend.get(t(), I1.into(), b.session_key.clone()).await.unwrap(), Some(b.clone()), "no conversation");
    assert_eq!(backend.get(t(), I1.into(), "missing".into()).await.unwrap(), None);
    assert_eq!(backend.get(t(), "i2".into(), a.session_key.clone()).await.unwrap(), None, "keys are per integration");

    let replaced = SessionRecord {
        chat_type: "group".into(),
        xpert_id: "x-9".into(),
        conversation_id: None,
        updated_at_ms: 9_000,
        ..a.clone()
    };
    backend.put(t(), replaced.clone()).await.unwrap();
    assert_eq!(backend.get(t(), I1.into(), a.session_key.clone()).await.unwrap(), Some(replaced.clone()));
    let listed = page(backend, tenant, SessionQuery::new(I1)).await;
    assert_eq!(listed.total, 5, "a replacement is not a second row");
    assert_eq!(listed.items[0], replaced, "the replacement is what is listed (latest first)");

    // Same key in another integration: a separate row.
    let other = SessionRecord { integration_id: "i2".into(), ..a.clone() };
    backend.put(t(), other.clone()).await.unwrap();
    assert_eq!(page(backend, tenant, SessionQuery::new("i2")).await.items, std::slice::from_ref(&other));

    assert!(backend.delete(t(), I1.into(), b.session_key.clone()).await.unwrap());
    assert!(!backend.delete(t(), I1.into(), b.session_key.clone()).await.unwrap(), "already gone");
    assert!(!backend.delete(t(), I1.into(), "missing".into()).await.unwrap());
    assert_eq!(backend.get(t(), I1.into(), b.session_key.clone()).await.unwrap(), None);
    assert_eq!(page(backend, tenant, SessionQuery::new(I1)).await.total, 4);

    assert_eq!(backend.delete_integration(t(), I1.into()).await.unwrap(), 4);
    assert_eq!(backend.delete_integration(t(), I1.into()).await.unwrap(), 0);
    assert_eq!(page(backend, tenant, SessionQuery::new(I1)).await, SessionPage::default());
    assert_eq!(backend.get(t(), I1.into(), a.session_key.clone()).await.unwrap(), None);
    assert_eq!(backend.get(t(), "i2".into(), a.session_key.clone()).await.unwrap(), Some(other), "i2 untouched");
}

/// Tenant B never sees, replaces or deletes tenant A's sessions, even with the same integration
/// id and session keys.
pub async fn sessions_tenant_isolation(backend: &dyn SessionBackend, tenant_a: &str, tenant_b: &str) {
    let (a, b) = (|| tenant_a.to_string(), || tenant_b.to_string());
    let rows = put_fixture(backend, tenant_a).await;
    let key = rows[0].session_key.clone();
    assert_eq!(backend.get(b(), I1.into(), key.clone()).await.unwrap(), None);
    assert_eq!(page(backend, tenant_b, SessionQuery::new(I1)).await, SessionPage::default());
    assert_eq!(page(backend, tenant_b, searching("a")).await.total, 0);
    assert!(!backend.delete(b(), I1.into(), key.clone()).await.unwrap());
    assert_eq!(backend.delete_integration(b(), I1.into()).await.unwrap(), 0);

    let theirs = SessionRecord { xpert_id: "tenant-b-expert".into(), ..rows[0].clone() };
    backend.put(b(), theirs.clone()).await.unwrap();
    assert_eq!(backend.get(a(), I1.into(), key.clone()).await.unwrap(), Some(rows[0].clone()), "A's row unchanged");
    assert_eq!(backend.get(b(), I1.into(), key.clone()).await.unwrap(), Some(theirs.clone()));
    assert_eq!(page(backend, tenant_a, SessionQuery::new(I1)).await.total, 5);
    assert_eq!(page(backend, tenant_b, SessionQuery::new(I1)).await.items, [theirs]);

    assert_eq!(backend.delete_integration(a(), I1.into()).await.unwrap(), 5);
    assert_eq!(page(backend, tenant_b, SessionQuery::new(I1)).await.total, 1, "B's row survives A's delete");
}

/// How long an expiry check waits for a TTL'd entry to disappear before it fails.
const EXPIRY_DEADLINE: Duration = Duration::from_secs(15);

/// Polls `check` until it is true or [`EXPIRY_DEADLINE`] passes (then panics with `what`).
async fn eventually<F, Fut>(what: &str, mut check: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + EXPIRY_DEADLINE;
    loop {
        if check().await {
            return;
        }
        assert!(Instant::now() < deadline, "not within {EXPIRY_DEADLINE:?}: {what}");
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

fn keys(entries: &[KvEntry]) -> Vec<&str> {
    entries.iter().map(|e| e.key.as_str()).collect()
}

/// `set` writes and replaces, `get` reads back exactly (empty and multi-byte values included),
/// `delete` removes a live value and says whether there was one.
pub async fn kv_set_get_delete(kv: &dyn KvBackend, prefix: &str) {
    let k = |s: &str| format!("{prefix}{s}");
    assert_eq!(kv.get(k("a")).await.expect("get"), None, "absent at first");
    kv.set(k("a"), "1".into(), 0).await.expect("set");
    assert_eq!(kv.get(k("a")).await.expect("get").as_deref(), Some("1"));
    kv.set(k("a"), "two".into(), 0).await.expect("set");
    assert_eq!(kv.get(k("a")).await.expect("get").as_deref(), Some("two"), "set replaces");
    kv.set(k("empty"), String::new(), 0).await.expect("set");
    assert_eq!(kv.get(k("empty")).await.expect("get").as_deref(), Some(""), "an empty value is a value");
    let text = "会话 \"quoted\" \\ % _ * [x] \n end";
    kv.set(k("text"), text.into(), 0).await.expect("set");
    assert_eq!(kv.get(k("text")).await.expect("get").as_deref(), Some(text), "values come back byte for byte");
    assert!(kv.delete(k("a")).await.expect("delete"));
    assert!(!kv.delete(k("a")).await.expect("delete"), "already gone");
    assert_eq!(kv.get(k("a")).await.expect("get"), None);
    assert!(!kv.delete(k("never")).await.expect("delete"));
    assert_eq!(kv.get(k("empty")).await.expect("get").as_deref(), Some(""), "other keys untouched");
}

/// `set_if_absent` writes only when nothing is live; `compare_and_swap` only when the live value
/// is the expected one (`None`: absent); `compare_and_delete` only deletes the expected value.
pub async fn kv_compare_operations(kv: &dyn KvBackend, prefix: &str) {
    let k = |s: &str| format!("{prefix}{s}");
    assert!(kv.set_if_absent(k("k"), "v1".into(), 0).await.expect("sia"));
    assert!(!kv.set_if_absent(k("k"), "v2".into(), 0).await.expect("sia"), "present: not written");
    assert_eq!(kv.get(k("k")).await.expect("get").as_deref(), Some("v1"));
    assert!(!kv.compare_and_swap(k("k"), None, "v2".into(), 0).await.expect("cas"), "expected absent");
    assert!(!kv.compare_and_swap(k("k"), Some("other".into()), "v2".into(), 0).await.expect("cas"));
    assert_eq!(kv.get(k("k")).await.expect("get").as_deref(), Some("v1"), "failed swaps write nothing");
    assert!(kv.compare_and_swap(k("k"), Some("v1".into()), "v2".into(), 0).await.expect("cas"));
    assert_eq!(kv.get(k("k")).await.expect("get").as_deref(), Some("v2"));
    assert!(!kv.compare_and_delete(k("k"), "v1".into()).await.expect("cad"), "not the live value");
    assert_eq!(kv.get(k("k")).await.expect("get").as_deref(), Some("v2"));
    assert!(kv.compare_and_delete(k("k"), "v2".into()).await.expect("cad"));
    assert_eq!(kv.get(k("k")).await.expect("get"), None);
    assert!(!kv.compare_and_delete(k("k"), "v2".into()).await.expect("cad"), "nothing left to delete");
    assert!(!kv.compare_and_swap(k("k"), Some("v2".into()), "v3".into(), 0).await.expect("cas"));
    assert!(kv.compare_and_swap(k("k"), None, "v3".into(), 0).await.expect("cas"), "absent as expected");
    assert_eq!(kv.get(k("k")).await.expect("get").as_deref(), Some("v3"));
}

/// Of many concurrent `set_if_absent` calls on one key exactly one wins, and of many concurrent
/// `compare_and_swap` calls from the same expected value exactly one wins: the backend decides
/// atomically, never by a read then a write.
pub async fn kv_compare_operations_are_atomic(kv: &dyn KvBackend, prefix: &str) {
    let key = format!("{prefix}race");
    let calls: Vec<_> = (0..16).map(|i| kv.set_if_absent(key.clone(), format!("w{i}"), 0)).collect();
    let won = join_all(calls).await.into_iter().filter(|r| *r.as_ref().expect("sia")).count();
    assert_eq!(won, 1, "exactly one set_if_absent wins");
    let current = kv.get(key.clone()).await.expect("get").expect("the winner's value");
    let calls: Vec<_> =
        (0..16).map(|i| kv.compare_and_swap(key.clone(), Some(current.clone()), format!("s{i}"), 0)).collect();
    let won = join_all(calls).await.into_iter().filter(|r| *r.as_ref().expect("cas")).count();
    assert_eq!(won, 1, "exactly one compare_and_swap from the same value wins");
}

/// Runs the futures concurrently on the runtime and returns their results in order.
async fn join_all<T: Send + 'static>(futures: Vec<crate::BoxFuture<'static, T>>) -> Vec<T> {
    let handles: Vec<_> = futures.into_iter().map(tokio::spawn).collect();
    let mut out = Vec::with_capacity(handles.len());
    for h in handles {
        out.push(h.await.expect("task"));
    }
    out
}

/// `scan_prefix` lists live entries under the prefix in byte-wise key order (digits, upper case,
/// lower case, then multi-byte characters), strictly after `after`, at most `limit`; paging by
/// passing the last key back visits every key once; `%`, `_`, `*`, `?` and `[` in a prefix are
/// literal, and keys of a sibling prefix never show.
pub async fn kv_scan_prefix(kv: &dyn KvBackend, prefix: &str) {
    let k = |s: &str| format!("{prefix}{s}");
    let under = ["s:b", "s:a", "s:c", "s:B", "s:1", "s:~", "s:é", "s:a:deeper"];
    for key in under.iter().chain(&["s;x", "r:a", "s", "t:a"]) {
        kv.set(k(key), format!("value of {key}"), 0).await.expect("set");
    }
    let all = kv.scan_prefix(k("s:"), String::new(), 100).await.expect("scan");
    let expected = ["s:1", "s:B", "s:a", "s:a:deeper", "s:b", "s:c", "s:~", "s:é"].map(&k);
    assert_eq!(keys(&all), expected.iter().map(String::as_str).collect::<Vec<_>>(), "byte-wise key order");
    for e in &all {
        assert_eq!(e.value, format!("value of {}", &e.key[prefix.len()..]), "values belong to their keys");
    }
    let first = kv.scan_prefix(k("s:"), String::new(), 2).await.expect("scan");
    assert_eq!(keys(&first), [k("s:1"), k("s:B")].iter().map(String::as_str).collect::<Vec<_>>());
    let after = kv.scan_prefix(k("s:"), k("s:a"), 2).await.expect("scan");
    assert_eq!(keys(&after), [k("s:a:deeper"), k("s:b")].iter().map(String::as_str).collect::<Vec<_>>());
    let before_prefix = kv.scan_prefix(k("s:"), k("r:z"), 1).await.expect("scan");
    assert_eq!(keys(&before_prefix), [k("s:1").as_str()], "an `after` before the prefix starts at the prefix");
    let past = kv.scan_prefix(k("s:"), k("s:é"), 10).await.expect("scan");
    assert!(past.is_empty(), "nothing after the last key");
    assert!(kv.scan_prefix(k("s:"), String::new(), 0).await.expect("scan").is_empty(), "limit 0: nothing");

    // Paging visits each key exactly once.
    let mut paged = Vec::new();
    let mut cursor = String::new();
    loop {
        let page = kv.scan_prefix(k("s:"), cursor.clone(), 3).await.expect("scan");
        let Some(last) = page.last() else { break };
        cursor = last.key.clone();
        paged.extend(page.into_iter().map(|e| e.key));
    }
    assert_eq!(paged, expected.to_vec(), "pages neither overlap nor miss keys");

    for (key, other) in [("m%", "mx"), ("m_", "my"), ("m*", "mz"), ("m?", "mq"), ("m[", "mb")] {
        kv.set(k(other), "x".into(), 0).await.expect("set");
        assert!(kv.scan_prefix(k(key), String::new(), 10).await.expect("scan").is_empty(), "{key:?} is literal");
        kv.set(k(&format!("{key}1")), "x".into(), 0).await.expect("set");
        let found = kv.scan_prefix(k(key), String::new(), 10).await.expect("scan");
        assert_eq!(keys(&found), [k(&format!("{key}1")).as_str()], "{key:?} finds its own key");
    }
    assert!(kv.delete(k("s:b")).await.expect("delete"));
    let left = kv.scan_prefix(k("s:"), k("s:a:deeper"), 1).await.expect("scan");
    assert_eq!(keys(&left), [k("s:c").as_str()], "a deleted key is not listed");
}

/// A value written with a TTL is readable, then disappears from `get` and from scans once the TTL
/// has passed; an expired key counts as absent for `set_if_absent` and `compare_and_swap` and is
/// not deleted twice; a write without TTL clears an earlier TTL.
pub async fn kv_ttl(kv: &dyn KvBackend, prefix: &str) {
    let k = |s: &str| format!("{prefix}{s}");
    let written = Instant::now();
    kv.set(k("e:long"), "stays".into(), 0).await.expect("set");
    kv.set(k("e:cleared"), "first".into(), 400).await.expect("set");
    kv.set(k("e:cleared"), "kept".into(), 0).await.expect("set");
    assert!(kv.set_if_absent(k("e:short"), "goes".into(), 400).await.expect("sia"));
    assert!(kv.compare_and_swap(k("e:swapped"), None, "goes too".into(), 400).await.expect("cas"));
    let listed = kv.scan_prefix(k("e:"), String::new(), 10).await.expect("scan");
    if written.elapsed() < Duration::from_millis(300) {
        // (Only checkable when this machine was quick enough to scan before the TTL passed.)
        assert_eq!(listed.len(), 4, "live until the TTL passes");
    }
    // Scans alone (no read or write of the expired keys) must stop listing them.
    let live = [k("e:cleared"), k("e:long")];
    eventually("expired keys leave scans; a later write without TTL kept its key", || async {
        let listed = kv.scan_prefix(k("e:"), String::new(), 10).await.expect("scan");
        keys(&listed) == live.iter().map(String::as_str).collect::<Vec<_>>()
    })
    .await;
    let paged = kv.scan_prefix(k("e:"), String::new(), 1).await.expect("scan");
    assert_eq!(keys(&paged), [k("e:cleared").as_str()], "expired keys do not take a page's places");
    assert_eq!(kv.get(k("e:short")).await.expect("get"), None, "expired keys leave get");
    assert_eq!(kv.get(k("e:swapped")).await.expect("get"), None);
    assert!(!kv.delete(k("e:short")).await.expect("delete"), "an expired key is not live");
    assert!(!kv.compare_and_delete(k("e:swapped"), "goes too".into()).await.expect("cad"));
    assert!(!kv.compare_and_swap(k("e:short"), Some("goes".into()), "x".into(), 0).await.expect("cas"));
    assert!(kv.set_if_absent(k("e:short"), "again".into(), 0).await.expect("sia"), "expired counts as absent");
    assert!(kv.compare_and_swap(k("e:swapped"), None, "again".into(), 0).await.expect("cas"));
    assert_eq!(kv.get(k("e:short")).await.expect("get").as_deref(), Some("again"));
    assert_eq!(kv.scan_prefix(k("e:"), String::new(), 10).await.expect("scan").len(), 4);
}

fn lease_of(lease: Option<Lease>, what: &str) -> Lease {
    lease.unwrap_or_else(|| panic!("{what}: expected the lease"))
}

/// `acquire` takes a free lease (token ≥ 1, expiry in the future), refuses another owner while
/// it is held and extends it for its holder with the same token; `renew` and `release` act only
/// with the holder's owner and token; after a release the next holder gets a larger token; keys
/// are independent.
pub async fn leases_acquire_renew_release(leases: &dyn LeaseBackend, prefix: &str, now_ms: i64) {
    let key = format!("{prefix}bot");
    let a = lease_of(leases.acquire(key.clone(), "A".into(), 30_000).await.expect("acquire"), "free lease");
    assert_eq!((a.key.as_str(), a.owner.as_str()), (key.as_str(), "A"));
    assert!(a.token >= 1, "tokens start at 1");
    assert!(a.expires_at_ms > now_ms, "expiry in the future");
    assert_eq!(leases.acquire(key.clone(), "B".into(), 30_000).await.expect("acquire"), None, "held by A");
    let again = lease_of(leases.acquire(key.clone(), "A".into(), 30_000).await.expect("acquire"), "A again");
    assert_eq!(again.token, a.token, "the holder extends with the same token");
    assert_eq!(
        leases.current(key.clone()).await.expect("current").map(|l| (l.owner, l.token)),
        Some(("A".into(), a.token))
    );

    let renewed = lease_of(leases.renew(a.clone(), 30_000).await.expect("renew"), "renew by the holder");
    assert_eq!((renewed.token, renewed.owner.as_str()), (a.token, "A"));
    let forged = Lease { token: a.token + 1, ..a.clone() };
    assert_eq!(leases.renew(forged.clone(), 30_000).await.expect("renew"), None, "another token");
    let impostor = Lease { owner: "B".into(), ..a.clone() };
    assert_eq!(leases.renew(impostor.clone(), 30_000).await.expect("renew"), None, "another owner");
    assert!(!leases.release(impostor).await.expect("release"), "another owner cannot release");
    assert!(!leases.release(forged).await.expect("release"), "another token cannot release");
    assert!(leases.current(key.clone()).await.expect("current").is_some(), "still held");

    assert!(leases.release(a.clone()).await.expect("release"));
    assert!(!leases.release(a.clone()).await.expect("release"), "released once");
    assert_eq!(leases.current(key.clone()).await.expect("current"), None);
    assert_eq!(leases.renew(a.clone(), 30_000).await.expect("renew"), None, "a released lease is not renewed");

    let b = lease_of(leases.acquire(key.clone(), "B".into(), 30_000).await.expect("acquire"), "after release");
    assert!(b.token > a.token, "fencing tokens only grow ({} then {})", a.token, b.token);
    let other = lease_of(
        leases.acquire(format!("{prefix}other"), "A".into(), 30_000).await.expect("acquire"),
        "an independent key",
    );
    assert_eq!(other.owner, "A");
    assert_eq!(leases.current(key.clone()).await.expect("current").map(|l| l.owner), Some("B".into()));
    assert!(leases.release(b).await.expect("release"));
    assert!(leases.release(other).await.expect("release"));
}

/// A lease that is not renewed lapses: `current` stops naming it, its holder can no longer renew
/// or release it, and another owner takes it with a larger token.
pub async fn leases_expire_and_change_hands(leases: &dyn LeaseBackend, prefix: &str) {
    let key = format!("{prefix}lapsing");
    let a = lease_of(leases.acquire(key.clone(), "A".into(), 300).await.expect("acquire"), "free lease");
    eventually("the lease lapses", || async { leases.current(key.clone()).await.expect("current").is_none() }).await;
    assert_eq!(leases.renew(a.clone(), 30_000).await.expect("renew"), None, "a lapsed lease is not renewed");
    assert!(!leases.release(a.clone()).await.expect("release"), "nor released");
    let b = lease_of(leases.acquire(key.clone(), "B".into(), 30_000).await.expect("acquire"), "a lapsed lease");
    assert!(b.token > a.token, "fencing tokens only grow ({} then {})", a.token, b.token);
    assert!(leases.release(b).await.expect("release"));
}

/// Of many owners acquiring one free lease at once exactly one gets it.
pub async fn leases_one_winner_under_contention(leases: &dyn LeaseBackend, prefix: &str) {
    let key = format!("{prefix}contended");
    let calls: Vec<_> = (0..16).map(|i| leases.acquire(key.clone(), format!("owner-{i}"), 30_000)).collect();
    let winners: Vec<Lease> = join_all(calls).await.into_iter().filter_map(|r| r.expect("acquire")).collect();
    assert_eq!(winners.len(), 1, "exactly one owner holds the lease: {winners:?}");
    let current = leases.current(key).await.expect("current").expect("held");
    assert_eq!((current.owner.as_str(), current.token), (winners[0].owner.as_str(), winners[0].token));
}

//! Conformance checks every host backend must pass, so that the TestHost's in-memory services and
//! a host's persistent ones behave the same for a plugin. Each check starts from an empty backend,
//! uses only the trait, and panics (with what differed) on the first deviation; a host runs each
//! one from its own tests against a fresh instance of its backend.

use crate::host::SessionBackend;
use crate::{SessionPage, SessionQuery, SessionRecord, SessionSort};

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

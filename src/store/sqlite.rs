//! The embedded default store: one SQLite file (WAL) with versioned migrations.

use std::path::Path;

use host_sdk::{BoxFuture, Lease, SessionPage, SessionQuery, SessionRecord};
use rusqlite::{params, Connection, OptionalExtension};

use super::sql::{like_contains, session_sort_column, INTEGRATION_COLUMNS, SESSION_COLUMNS, XPERT_COLUMNS};
use super::sqlite_kv::{self, SqliteKv};
use super::{
    InstallRecord, IntegrationRecord, MessageRecord, Store, StoreError, StoreResult, TenantRecord, XpertRecord,
    DEFAULT_TENANT,
};

/// Migrations, applied in order; the applied count is kept in `schema_version`.
const MIGRATIONS: &[&str] = &[
    // v1: everything the reference host keeps.
    r#"
    CREATE TABLE plugin_installs (
        name TEXT NOT NULL, tenant_id TEXT NOT NULL, level TEXT NOT NULL, installed_at TEXT NOT NULL,
        PRIMARY KEY (name, tenant_id));
    CREATE TABLE integrations (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, provider TEXT NOT NULL, enabled INTEGER NOT NULL,
        options TEXT NOT NULL, created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE INDEX integrations_provider ON integrations (provider);
    CREATE TABLE xperts (
        id TEXT PRIMARY KEY, name TEXT NOT NULL, agent TEXT NOT NULL, triggers TEXT NOT NULL,
        published INTEGER NOT NULL, published_triggers TEXT NOT NULL,
        created_at TEXT NOT NULL, updated_at TEXT NOT NULL);
    CREATE TABLE conversations (id TEXT PRIMARY KEY, xpert_id TEXT NOT NULL, created_at TEXT NOT NULL);
    CREATE TABLE messages (
        conversation_id TEXT NOT NULL, seq INTEGER NOT NULL, role TEXT NOT NULL, content TEXT NOT NULL,
        PRIMARY KEY (conversation_id, seq));
    CREATE TABLE plugin_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER);
    CREATE TABLE plugin_leases (
        key TEXT PRIMARY KEY, owner TEXT NOT NULL, token INTEGER NOT NULL, expires_at INTEGER NOT NULL);
    "#,
    // v2: tenants. `default` always exists (the admin token acts in it, and every row from v1
    // belongs to it); a tenant's token is kept only as its SHA-256 hex hash.
    r#"
    CREATE TABLE tenants (
        id TEXT PRIMARY KEY, name TEXT NOT NULL UNIQUE, token_hash TEXT UNIQUE, created_at TEXT NOT NULL);
    INSERT INTO tenants (id, name, token_hash, created_at)
        VALUES ('default', 'default', NULL, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'));
    ALTER TABLE integrations ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE xperts ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
    ALTER TABLE conversations ADD COLUMN tenant_id TEXT NOT NULL DEFAULT 'default';
    CREATE INDEX integrations_tenant ON integrations (tenant_id, provider);
    CREATE INDEX xperts_tenant ON xperts (tenant_id);
    CREATE INDEX conversations_tenant ON conversations (tenant_id);
    "#,
    // v3: conversation sessions of plugins' integrations, queried (search, sort, paging) here
    // rather than loaded whole from the plugin KV. The primary key serves lookups and the
    // per-integration filter; the index serves the default "latest activity first" listing, its
    // session-key tiebreak included, so a page is read in index order without a sort.
    r#"
    CREATE TABLE sessions (
        tenant_id TEXT NOT NULL, integration_id TEXT NOT NULL, session_key TEXT NOT NULL,
        chat_type TEXT NOT NULL, chat_id TEXT NOT NULL, sender_id TEXT NOT NULL, xpert_id TEXT NOT NULL,
        conversation_id TEXT, updated_at_ms INTEGER NOT NULL,
        PRIMARY KEY (tenant_id, integration_id, session_key));
    CREATE INDEX sessions_updated ON sessions (tenant_id, integration_id, updated_at_ms, session_key);
    "#,
    // v4: the plugin KV and the leases move to a file of their own (`sqlite_kv`); their rows are
    // copied there first (`sqlite_kv::move_rows_from_store`, see `SqliteStore::open`).
    r#"
    DROP TABLE plugin_kv;
    DROP TABLE plugin_leases;
    "#,
];

/// The migration that moves the KV and leases out of the store file (index into [`MIGRATIONS`]).
const KV_MOVED: usize = 3;

/// A result already computed (the KV runs on the caller's thread), as the trait's future.
fn ready<T: Send + 'static>(result: StoreResult<T>) -> BoxFuture<'static, StoreResult<T>> {
    Box::pin(std::future::ready(result))
}

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e.to_string())
}

/// What a job leaves to do once its batch is committed: answer its caller — with the commit's
/// error instead of its own result when the commit failed.
type Reply = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// Work for the storage thread: runs its statements with the connection.
type Job = Box<dyn FnOnce(&mut Connection) -> Reply + Send>;

/// Prepared statements kept per connection: more than the store has distinct statements.
pub(super) const STATEMENT_CACHE: usize = 64;

/// The most jobs committed together.
const MAX_BATCH: usize = 256;

/// The SQLite store. Statements run one after another on one thread that owns the connection,
/// fed by a queue: callers never block a runtime thread, and a burst of thousands of statements
/// waits in the queue instead of parking as many blocking-pool threads on a lock (each such
/// thread costs a stack and, with glibc, its own malloc arena). Jobs that queued up meanwhile
/// run in one transaction (group commit), and each caller hears back only after that commit:
/// under load a commit is paid once per batch, not once per statement. Jobs needing their own
/// atomicity use savepoints, which nest inside the batch.
///
/// The plugin KV and the leases live in a file of their own ([`SqliteKv`]) and run on the
/// callers' threads: the one store call before a thinking frame never queues here.
#[derive(Clone)]
pub struct SqliteStore {
    jobs: std::sync::mpsc::Sender<Job>,
    kv: std::sync::Arc<SqliteKv>,
    /// Dropped with the last handle: ends the maintenance thread.
    _maintenance: std::sync::Arc<std::sync::mpsc::Sender<()>>,
}

/// How often the WALs are copied back and expired KV keys swept.
const MAINTAIN_EVERY: std::time::Duration = std::time::Duration::from_secs(1);

/// The most expired KV keys swept per [`MAINTAIN_EVERY`] (a day of 500 new keys a second
/// expires at most that fast).
const SWEEP_PER_TICK: usize = 4096;

/// Every [`MAINTAIN_EVERY`], on a thread of its own: copies both WALs back into their database
/// files on connections of its own (`PASSIVE`: never waiting for a writer), so that no caller's
/// statement stalls on a checkpoint's writes and fsync, and sweeps expired KV keys in small
/// batches. Ends when `stop` hangs up.
fn maintenance_thread(
    path: &Path,
    kv: std::sync::Arc<SqliteKv>,
    stop: std::sync::mpsc::Receiver<()>,
) -> StoreResult<()> {
    let open = |path: &Path| -> StoreResult<Connection> {
        let conn = Connection::open(path).map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        Ok(conn)
    };
    let checkpoints = [open(path)?, open(kv.path())?];
    std::thread::Builder::new()
        .name("sqlite-maintain".into())
        .spawn(move || {
            while let Err(std::sync::mpsc::RecvTimeoutError::Timeout) = stop.recv_timeout(MAINTAIN_EVERY) {
                for conn in &checkpoints {
                    if let Err(e) = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(())) {
                        tracing::warn!(error = %e, "checkpointing a SQLite WAL failed");
                    }
                }
                if let Err(e) = kv.sweep_expired(crate::clock::now_ms(), SWEEP_PER_TICK) {
                    tracing::warn!(error = %e, "sweeping expired KV keys failed");
                }
            }
        })
        .map_err(|e| StoreError::new(format!("cannot start the maintenance thread: {e}")))?;
    Ok(())
}

impl SqliteStore {
    /// Opens (or creates) the database file and its KV file beside it
    /// ([`sqlite_kv::kv_path`]) and applies pending migrations.
    pub fn open(path: &Path) -> StoreResult<SqliteStore> {
        let kv_file = sqlite_kv::kv_path(path);
        let kv = SqliteKv::open(&kv_file)?;
        let conn =
            Connection::open(path).map_err(|e| StoreError::new(format!("cannot open {}: {e}", path.display())))?;
        // Checkpoints run on their own thread (see `checkpoint_thread`), not inside commits.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON; \
             PRAGMA wal_autocheckpoint = 0;",
        )
        .map_err(err)?;
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        // Every statement the store runs stays prepared (the SQL is parsed once, not per call).
        conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
        conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)").map_err(err)?;
        let applied: i64 =
            conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0)).map_err(err)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            if i == KV_MOVED {
                // ATTACH cannot run inside a transaction.
                conn.execute("ATTACH DATABASE ?1 AS kv", [kv_file.to_string_lossy()]).map_err(err)?;
            }
            let tx = conn.unchecked_transaction().map_err(err)?;
            if i == KV_MOVED {
                sqlite_kv::move_rows_from_store(&tx).map_err(err)?;
            }
            tx.execute_batch(sql).map_err(err)?;
            tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [i as i64 + 1]).map_err(err)?;
            tx.commit().map_err(err)?;
            if i == KV_MOVED {
                conn.execute_batch("DETACH DATABASE kv").map_err(err)?;
            }
        }
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("sqlite-store".into())
            .spawn(move || {
                let mut conn = conn;
                // Ends when the last handle on the store is dropped.
                while let Ok(first) = queue.recv() {
                    let mut batch = vec![first];
                    while batch.len() < MAX_BATCH {
                        match queue.try_recv() {
                            Ok(job) => batch.push(job),
                            Err(_) => break,
                        }
                    }
                    run_batch(&mut conn, batch);
                }
            })
            .map_err(|e| StoreError::new(format!("cannot start the storage thread: {e}")))?;
        let (maintenance, stop) = std::sync::mpsc::channel();
        maintenance_thread(path, kv.clone(), stop)?;
        Ok(SqliteStore { jobs, kv, _maintenance: std::sync::Arc::new(maintenance) })
    }

    /// The schema version after migrations.
    pub fn schema_version(&self) -> i64 {
        self.run_blocking(|conn| conn.query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0)))
            .unwrap_or(0)
    }

    /// Queues `job` for the storage thread.
    fn submit(&self, job: Job) -> StoreResult<()> {
        self.jobs.send(job).map_err(|_| StoreError::new("the storage thread has stopped"))
    }

    fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> BoxFuture<'static, StoreResult<T>> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let queued = self.submit(Box::new(move |conn| {
            let result = f(conn).map_err(err);
            Box::new(move |commit_error: Option<&StoreError>| {
                let _ = tx.send(match commit_error {
                    Some(e) => Err(e.clone()),
                    None => result,
                });
            })
        }));
        Box::pin(async move {
            queued?;
            rx.await.map_err(|_| StoreError::new("a storage statement failed unexpectedly"))?
        })
    }

    /// [`SqliteStore::run`] for callers outside the runtime (start-up, tests): waits on this thread.
    fn run_blocking<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Connection) -> Result<T, rusqlite::Error> + Send + 'static,
    ) -> StoreResult<T> {
        let (tx, rx) = std::sync::mpsc::sync_channel(1);
        self.submit(Box::new(move |conn| {
            let result = f(conn).map_err(err);
            Box::new(move |commit_error: Option<&StoreError>| {
                let _ = tx.send(match commit_error {
                    Some(e) => Err(e.clone()),
                    None => result,
                });
            })
        }))?;
        rx.recv().map_err(|_| StoreError::new("a storage statement failed unexpectedly"))?
    }
}

/// Runs `batch` — in one transaction when it holds several jobs — and answers each job's caller
/// after the commit. A job that panics fails its own caller (its answer is dropped), not the
/// store or the rest of its batch.
fn run_batch(conn: &mut Connection, batch: Vec<Job>) {
    let grouped = batch.len() > 1 && conn.execute_batch("BEGIN").is_ok();
    let mut replies = Vec::with_capacity(batch.len());
    for job in batch {
        if let Ok(reply) = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| job(conn))) {
            replies.push(reply);
        }
    }
    let commit_error = if grouped {
        conn.execute_batch("COMMIT").err().map(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            StoreError::new(format!("the batch could not be committed: {e}"))
        })
    } else {
        None
    };
    for reply in replies {
        reply(commit_error.as_ref());
    }
}

fn integration_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IntegrationRecord> {
    let options: String = r.get(4)?;
    Ok(IntegrationRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        provider: r.get(2)?,
        enabled: r.get::<_, i64>(3)? != 0,
        options: serde_json::from_str(&options).unwrap_or(serde_json::Value::Null),
        created_at: r.get(5)?,
        updated_at: r.get(6)?,
        tenant_id: r.get(7)?,
    })
}

fn xpert_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<XpertRecord> {
    let json = |s: String| serde_json::from_str(&s).unwrap_or(serde_json::Value::Null);
    Ok(XpertRecord {
        id: r.get(0)?,
        name: r.get(1)?,
        agent: json(r.get(2)?),
        triggers: json(r.get(3)?),
        published: r.get::<_, i64>(4)? != 0,
        published_triggers: json(r.get(5)?),
        created_at: r.get(6)?,
        updated_at: r.get(7)?,
        tenant_id: r.get(8)?,
    })
}

fn tenant_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<TenantRecord> {
    Ok(TenantRecord { id: r.get(0)?, name: r.get(1)?, created_at: r.get(2)? })
}

fn session_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<SessionRecord> {
    Ok(SessionRecord {
        integration_id: r.get(0)?,
        session_key: r.get(1)?,
        chat_type: r.get(2)?,
        chat_id: r.get(3)?,
        sender_id: r.get(4)?,
        xpert_id: r.get(5)?,
        conversation_id: r.get(6)?,
        updated_at_ms: r.get(7)?,
    })
}

/// The filter of a session query: ?1 tenant, ?2 integration, ?3 the LIKE pattern or NULL.
const SESSION_FILTER: &str = "tenant_id = ?1 AND integration_id = ?2 AND (?3 IS NULL
    OR chat_type LIKE ?3 ESCAPE '\\' OR chat_id LIKE ?3 ESCAPE '\\' OR sender_id LIKE ?3 ESCAPE '\\'
    OR xpert_id LIKE ?3 ESCAPE '\\' OR conversation_id LIKE ?3 ESCAPE '\\')";

impl Store for SqliteStore {
    fn list_tenants(&self) -> BoxFuture<'static, StoreResult<Vec<TenantRecord>>> {
        self.run(|c| {
            let mut stmt =
                c.prepare("SELECT id, name, created_at FROM tenants ORDER BY id != 'default', created_at, id")?;
            let rows = stmt.query_map([], tenant_row)?;
            rows.collect()
        })
    }

    fn get_tenant(&self, id: String) -> BoxFuture<'static, StoreResult<Option<TenantRecord>>> {
        self.run(move |c| {
            c.prepare_cached("SELECT id, name, created_at FROM tenants WHERE id = ?1")?
                .query_row([id], tenant_row)
                .optional()
        })
    }

    fn tenant_by_token_hash(&self, hash: String) -> BoxFuture<'static, StoreResult<Option<TenantRecord>>> {
        self.run(move |c| {
            c.prepare_cached("SELECT id, name, created_at FROM tenants WHERE token_hash = ?1")?
                .query_row([hash], tenant_row)
                .optional()
        })
    }

    fn create_tenant(&self, t: TenantRecord, token_hash: String) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO tenants (id, name, token_hash, created_at) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT DO NOTHING",
            )?
            .execute(params![t.id, t.name, token_hash, t.created_at])
            .map(|n| n > 0)
        })
    }

    fn delete_tenant(&self, id: String) -> BoxFuture<'static, StoreResult<bool>> {
        let kv = self.kv.clone();
        self.run(move |c| {
            if id == DEFAULT_TENANT {
                return Ok(false);
            }
            let tx = c.savepoint()?;
            if tx.execute("DELETE FROM tenants WHERE id = ?1", [&id])? == 0 {
                return Ok(false);
            }
            tx.execute(
                "DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE tenant_id = ?1)",
                [&id],
            )?;
            tx.execute("DELETE FROM conversations WHERE tenant_id = ?1", [&id])?;
            tx.execute("DELETE FROM integrations WHERE tenant_id = ?1", [&id])?;
            tx.execute("DELETE FROM xperts WHERE tenant_id = ?1", [&id])?;
            tx.execute("DELETE FROM plugin_installs WHERE tenant_id = ?1", [&id])?;
            tx.execute("DELETE FROM sessions WHERE tenant_id = ?1", [&id])?;
            tx.commit()?;
            // The tenant's KV keys, in the KV file (a key left by a crash right here is orphaned,
            // not visible: nothing reads a deleted tenant's keys).
            if let Err(e) = kv.delete_tenant_keys(&id) {
                tracing::warn!(tenant = %id, error = %e, "deleting a deleted tenant's KV keys failed");
            }
            Ok(true)
        })
    }

    fn list_installs(&self) -> BoxFuture<'static, StoreResult<Vec<InstallRecord>>> {
        self.run(|c| {
            let mut stmt =
                c.prepare("SELECT name, level, tenant_id, installed_at FROM plugin_installs ORDER BY tenant_id, name")?;
            let rows = stmt.query_map([], |r| {
                Ok(InstallRecord { name: r.get(0)?, level: r.get(1)?, tenant_id: r.get(2)?, installed_at: r.get(3)? })
            })?;
            rows.collect()
        })
    }

    fn save_install(&self, record: InstallRecord) -> BoxFuture<'static, StoreResult<()>> {
        self.run(move |c| {
            c.prepare_cached(
                "INSERT OR REPLACE INTO plugin_installs (name, tenant_id, level, installed_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![record.name, record.tenant_id, record.level, record.installed_at])
            .map(|_| ())
        })
    }

    fn delete_install(&self, tenant: String, name: String) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            c.prepare_cached("DELETE FROM plugin_installs WHERE tenant_id = ?1 AND name = ?2")?
                .execute(params![tenant, name])
                .map(|n| n > 0)
        })
    }

    fn list_integrations(&self, tenant: String) -> BoxFuture<'static, StoreResult<Vec<IntegrationRecord>>> {
        self.run(move |c| {
            let mut stmt = c.prepare(&format!(
                "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE tenant_id = ?1 ORDER BY created_at, id"
            ))?;
            let rows = stmt.query_map([tenant], integration_row)?;
            rows.collect()
        })
    }

    fn get_integration(
        &self,
        tenant: String,
        id: String,
    ) -> BoxFuture<'static, StoreResult<Option<IntegrationRecord>>> {
        self.run(move |c| {
            c.prepare_cached(&format!(
                "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE tenant_id = ?1 AND id = ?2"
            ))?
            .query_row(params![tenant, id], integration_row)
            .optional()
        })
    }

    fn integration_tenant(&self, id: String) -> BoxFuture<'static, StoreResult<Option<String>>> {
        self.run(move |c| {
            c.prepare_cached("SELECT tenant_id FROM integrations WHERE id = ?1")?
                .query_row([id], |r| r.get(0))
                .optional()
        })
    }

    fn put_integration(&self, r: IntegrationRecord) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO integrations ({INTEGRATION_COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8
                     WHERE EXISTS (SELECT 1 FROM tenants WHERE id = ?8)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, provider = excluded.provider,
                       enabled = excluded.enabled, options = excluded.options, created_at = excluded.created_at,
                       updated_at = excluded.updated_at
                     WHERE integrations.tenant_id = excluded.tenant_id"
            ))?
            .execute(params![
                r.id,
                r.name,
                r.provider,
                r.enabled as i64,
                r.options.to_string(),
                r.created_at,
                r.updated_at,
                r.tenant_id
            ])
            .map(|n| n > 0)
        })
    }

    fn delete_integration(&self, tenant: String, id: String) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            let tx = c.savepoint()?;
            let deleted =
                tx.execute("DELETE FROM integrations WHERE tenant_id = ?1 AND id = ?2", params![tenant, id])?;
            // Also when the integration was already gone: a session written after it left is an orphan.
            tx.execute("DELETE FROM sessions WHERE tenant_id = ?1 AND integration_id = ?2", params![tenant, id])?;
            tx.commit()?;
            Ok(deleted > 0)
        })
    }

    fn list_xperts(&self, tenant: String) -> BoxFuture<'static, StoreResult<Vec<XpertRecord>>> {
        self.run(move |c| {
            let mut stmt =
                c.prepare(&format!("SELECT {XPERT_COLUMNS} FROM xperts WHERE tenant_id = ?1 ORDER BY created_at, id"))?;
            let rows = stmt.query_map([tenant], xpert_row)?;
            rows.collect()
        })
    }

    fn get_xpert(&self, tenant: String, id: String) -> BoxFuture<'static, StoreResult<Option<XpertRecord>>> {
        self.run(move |c| {
            c.prepare_cached(&format!("SELECT {XPERT_COLUMNS} FROM xperts WHERE tenant_id = ?1 AND id = ?2"))?
                .query_row(params![tenant, id], xpert_row)
                .optional()
        })
    }

    fn xpert_agent(&self, tenant: String, id: String) -> BoxFuture<'static, StoreResult<Option<serde_json::Value>>> {
        self.run(move |c| {
            c.prepare_cached("SELECT agent FROM xperts WHERE tenant_id = ?1 AND id = ?2")?
                .query_row(params![tenant, id], |r| {
                    Ok(serde_json::from_str(&r.get::<_, String>(0)?).unwrap_or(serde_json::Value::Null))
                })
                .optional()
        })
    }

    fn delete_xpert(&self, tenant: String, id: String) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            c.prepare_cached("DELETE FROM xperts WHERE tenant_id = ?1 AND id = ?2")?
                .execute(params![tenant, id])
                .map(|n| n > 0)
        })
    }

    fn put_xpert(&self, r: XpertRecord) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO xperts ({XPERT_COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
                     WHERE EXISTS (SELECT 1 FROM tenants WHERE id = ?9)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, agent = excluded.agent,
                       triggers = excluded.triggers, published = excluded.published,
                       published_triggers = excluded.published_triggers, created_at = excluded.created_at,
                       updated_at = excluded.updated_at
                     WHERE xperts.tenant_id = excluded.tenant_id"
            ))?
            .execute(params![
                r.id,
                r.name,
                r.agent.to_string(),
                r.triggers.to_string(),
                r.published as i64,
                r.published_triggers.to_string(),
                r.created_at,
                r.updated_at,
                r.tenant_id
            ])
            .map(|n| n > 0)
        })
    }

    fn create_conversation(
        &self,
        tenant: String,
        id: String,
        xpert_id: String,
        now: String,
    ) -> BoxFuture<'static, StoreResult<()>> {
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO conversations (id, xpert_id, created_at, tenant_id) SELECT ?1, ?2, ?3, ?4
                 WHERE EXISTS (SELECT 1 FROM tenants WHERE id = ?4)",
            )?
            .execute(params![id, xpert_id, now, tenant])
            .map(|_| ())
        })
    }

    fn conversation_exists(
        &self,
        tenant: String,
        id: String,
        xpert_id: String,
    ) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            c.prepare_cached("SELECT 1 FROM conversations WHERE tenant_id = ?1 AND id = ?2 AND xpert_id = ?3")?
                .query_row(params![tenant, id, xpert_id], |_| Ok(()))
                .optional()
                .map(|r| r.is_some())
        })
    }

    fn append_message(
        &self,
        tenant: String,
        conversation_id: String,
        m: MessageRecord,
    ) -> BoxFuture<'static, StoreResult<()>> {
        self.run(move |c| {
            c.prepare_cached(
                "INSERT INTO messages (conversation_id, seq, role, content)
                 SELECT ?2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE conversation_id = ?2), ?3, ?4
                 WHERE EXISTS (SELECT 1 FROM conversations WHERE id = ?2 AND tenant_id = ?1)",
            )?
            .execute(params![tenant, conversation_id, m.role, m.content])
            .map(|_| ())
        })
    }

    fn messages(&self, tenant: String, conversation_id: String) -> BoxFuture<'static, StoreResult<Vec<MessageRecord>>> {
        self.run(move |c| {
            let mut stmt = c.prepare(
                "SELECT m.role, m.content FROM messages m JOIN conversations c ON c.id = m.conversation_id
                 WHERE c.tenant_id = ?1 AND m.conversation_id = ?2 ORDER BY m.seq",
            )?;
            let rows = stmt.query_map(params![tenant, conversation_id], |r| {
                Ok(MessageRecord { role: r.get(0)?, content: r.get(1)? })
            })?;
            rows.collect()
        })
    }

    fn session_put(&self, tenant: String, r: SessionRecord) -> BoxFuture<'static, StoreResult<()>> {
        self.run(move |c| {
            c.prepare_cached(&format!(
                "INSERT INTO sessions (tenant_id, {SESSION_COLUMNS}) SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9
                     WHERE EXISTS (SELECT 1 FROM tenants WHERE id = ?1)
                     ON CONFLICT (tenant_id, integration_id, session_key) DO UPDATE SET
                       chat_type = excluded.chat_type, chat_id = excluded.chat_id, sender_id = excluded.sender_id,
                       xpert_id = excluded.xpert_id, conversation_id = excluded.conversation_id,
                       updated_at_ms = excluded.updated_at_ms"
            ))?
            .execute(params![
                tenant,
                r.integration_id,
                r.session_key,
                r.chat_type,
                r.chat_id,
                r.sender_id,
                r.xpert_id,
                r.conversation_id,
                r.updated_at_ms
            ])
            .map(|_| ())
        })
    }

    fn session_get(
        &self,
        tenant: String,
        integration_id: String,
        session_key: String,
    ) -> BoxFuture<'static, StoreResult<Option<SessionRecord>>> {
        self.run(move |c| {
            c.prepare_cached(&format!(
                "SELECT {SESSION_COLUMNS} FROM sessions
                     WHERE tenant_id = ?1 AND integration_id = ?2 AND session_key = ?3"
            ))?
            .query_row(params![tenant, integration_id, session_key], session_row)
            .optional()
        })
    }

    fn session_delete(
        &self,
        tenant: String,
        integration_id: String,
        session_key: String,
    ) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            c.prepare_cached("DELETE FROM sessions WHERE tenant_id = ?1 AND integration_id = ?2 AND session_key = ?3")?
                .execute(params![tenant, integration_id, session_key])
                .map(|n| n > 0)
        })
    }

    fn session_delete_integration(
        &self,
        tenant: String,
        integration_id: String,
    ) -> BoxFuture<'static, StoreResult<u64>> {
        self.run(move |c| {
            c.prepare_cached("DELETE FROM sessions WHERE tenant_id = ?1 AND integration_id = ?2")?
                .execute(params![tenant, integration_id])
                .map(|n| n as u64)
        })
    }

    fn session_query(&self, tenant: String, q: SessionQuery) -> BoxFuture<'static, StoreResult<SessionPage>> {
        self.run(move |c| {
            let pattern = q.needle().map(|n| like_contains(&n));
            let column = session_sort_column(q.sort_by);
            let direction = if q.descending { "DESC" } else { "ASC" };
            // One read transaction: the page and its total come from the same snapshot.
            let tx = c.savepoint()?;
            let total: i64 = tx.query_row(
                &format!("SELECT COUNT(*) FROM sessions WHERE {SESSION_FILTER}"),
                params![tenant, q.integration_id, pattern],
                |r| r.get(0),
            )?;
            let items = {
                let mut stmt = tx.prepare(&format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE {SESSION_FILTER}
                     ORDER BY {column} {direction}, session_key {direction} LIMIT ?4 OFFSET ?5"
                ))?;
                let rows = stmt.query_map(
                    params![tenant, q.integration_id, pattern, q.effective_limit() as i64, q.offset as i64],
                    session_row,
                )?;
                rows.collect::<rusqlite::Result<Vec<_>>>()?
            };
            tx.commit()?;
            Ok(SessionPage { items, total: total as u64 })
        })
    }

    fn kv_get(&self, key: String, now: i64) -> BoxFuture<'static, StoreResult<Option<String>>> {
        self.kv.read(move |c| sqlite_kv::get(c, &key, now))
    }

    fn kv_set(&self, key: String, value: String, expires_at: Option<i64>) -> BoxFuture<'static, StoreResult<()>> {
        self.kv.run(move |c| sqlite_kv::set(c, &key, &value, expires_at))
    }

    fn kv_cas(
        &self,
        key: String,
        expected: Option<String>,
        value: String,
        expires_at: Option<i64>,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<bool>> {
        self.kv.run(move |c| sqlite_kv::compare_and_swap(c, &key, expected.as_deref(), &value, expires_at, now))
    }

    fn kv_delete(&self, key: String, expected: Option<String>, now: i64) -> BoxFuture<'static, StoreResult<bool>> {
        self.kv.run(move |c| sqlite_kv::delete(c, &key, expected.as_deref(), now))
    }

    fn kv_scan(
        &self,
        prefix: String,
        after: String,
        limit: u32,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<Vec<(String, String)>>> {
        self.kv.read(move |c| sqlite_kv::scan(c, &prefix, &after, limit, now))
    }

    fn lease_acquire(
        &self,
        key: String,
        owner: String,
        ttl_ms: u64,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<Option<Lease>>> {
        self.kv.run(move |c| sqlite_kv::lease_acquire(c, &key, &owner, ttl_ms, now))
    }

    fn lease_renew(&self, lease: Lease, ttl_ms: u64, now: i64) -> BoxFuture<'static, StoreResult<Option<Lease>>> {
        self.kv.run(move |c| sqlite_kv::lease_renew(c, lease, ttl_ms, now))
    }

    fn lease_release(&self, lease: Lease, now: i64) -> BoxFuture<'static, StoreResult<bool>> {
        self.kv.run(move |c| sqlite_kv::lease_release(c, &lease, now))
    }

    fn lease_current(&self, key: String, now: i64) -> BoxFuture<'static, StoreResult<Option<Lease>>> {
        self.kv.read(move |c| sqlite_kv::lease_current(c, &key, now))
    }

    fn lease_release_owner(&self, owner: String) -> BoxFuture<'static, StoreResult<usize>> {
        ready(self.kv.lease_release_owner(&owner))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, SqliteStore) {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        (dir, store)
    }

    #[tokio::test]
    async fn migrations_apply_once_and_data_survives_reopening() {
        let (dir, store) = open();
        assert_eq!(store.schema_version(), MIGRATIONS.len() as i64);
        store.kv_set("k".into(), "v".into(), None).await.unwrap();
        drop(store);
        let again = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        assert_eq!(again.schema_version(), MIGRATIONS.len() as i64);
        assert_eq!(again.kv_get("k".into(), 0).await.unwrap().as_deref(), Some("v"));
    }

    #[tokio::test]
    async fn v1_rows_belong_to_the_default_tenant_after_the_v2_migration() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL)").unwrap();
            conn.execute_batch(MIGRATIONS[0]).unwrap();
            conn.execute_batch(
                "INSERT INTO schema_version VALUES (1);
                 INSERT INTO integrations VALUES ('i1', 'n', 'wecom', 1, '{}', 't', 't');
                 INSERT INTO xperts VALUES ('x1', 'n', '{}', '[]', 0, '[]', 't', 't');
                 INSERT INTO conversations VALUES ('c1', 'x1', 't');",
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version(), MIGRATIONS.len() as i64);
        assert_eq!(s.get_integration(DEFAULT_TENANT.into(), "i1".into()).await.unwrap().unwrap().tenant_id, "default");
        assert!(s.get_xpert(DEFAULT_TENANT.into(), "x1".into()).await.unwrap().is_some());
        assert!(s.conversation_exists(DEFAULT_TENANT.into(), "c1".into(), "x1".into()).await.unwrap());
        let tenants = s.list_tenants().await.unwrap();
        assert_eq!(tenants.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), ["default"]);
    }

    #[tokio::test]
    async fn the_default_session_listing_reads_one_integration_in_index_order() {
        let (_dir, s) = open();
        for (search, column) in [(None, "updated_at_ms"), (Some("%x%"), "updated_at_ms"), (None, "chat_id")] {
            let sql = format!(
                "EXPLAIN QUERY PLAN SELECT {SESSION_COLUMNS} FROM sessions WHERE {SESSION_FILTER}
                 ORDER BY {column} DESC, session_key DESC LIMIT 50 OFFSET 0"
            );
            let plan: Vec<String> = s
                .run_blocking(move |conn| {
                    let mut stmt = conn.prepare(&sql)?;
                    let rows = stmt.query_map(params!["t", "i", search], |r| r.get::<_, String>(3))?;
                    rows.collect()
                })
                .unwrap();
            let plan = plan.join(" | ");
            assert!(plan.contains("tenant_id=? AND integration_id=?"), "never a full scan: {plan}");
            if column == "updated_at_ms" {
                assert!(plan.contains("sessions_updated") && !plan.contains("TEMP B-TREE"), "{plan}");
            }
        }
    }

    fn install(i: usize) -> InstallRecord {
        InstallRecord {
            name: format!("p{i:03}"),
            tenant_id: DEFAULT_TENANT.into(),
            level: "tenant".into(),
            installed_at: format!("t{i}"),
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_burst_of_writes_is_committed_in_batches_and_a_panicking_job_fails_alone() {
        let (dir, s) = open();
        let writes: Vec<_> = (0..500).map(|i| s.save_install(install(i))).collect();
        let panicking = s.run(|_| -> Result<(), rusqlite::Error> { panic!("a statement that panics") });
        let after: Vec<_> = (500..600).map(|i| s.save_install(install(i))).collect();
        for w in writes {
            w.await.unwrap();
        }
        let failed = panicking.await.unwrap_err();
        assert!(failed.message.contains("failed unexpectedly"), "{failed}");
        for w in after {
            w.await.unwrap();
        }
        // Every acknowledged write is on disk: a second connection reads them all.
        drop(s);
        let reopened = SqliteStore::open(&dir.path().join("t.db")).unwrap();
        let all = reopened.list_installs().await.unwrap();
        assert_eq!(all.len(), 600);
        assert_eq!((all[599].name.as_str(), all[599].installed_at.as_str()), ("p599", "t599"));
    }

    #[tokio::test]
    async fn kv_rows_and_leases_kept_in_the_store_file_move_to_the_kv_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.db");
        {
            // A store file as version 3 left it, with KV keys and a lease that changed hands.
            let conn = Connection::open(&path).unwrap();
            conn.execute_batch("CREATE TABLE schema_version (version INTEGER NOT NULL)").unwrap();
            for (i, sql) in MIGRATIONS[..KV_MOVED].iter().enumerate() {
                conn.execute_batch(sql).unwrap();
                conn.execute("INSERT INTO schema_version VALUES (?1)", [i as i64 + 1]).unwrap();
            }
            conn.execute_batch(
                "INSERT INTO plugin_kv VALUES ('wecom/default/a', 'kept', NULL);
                 INSERT INTO plugin_kv VALUES ('wecom/default/b', 'expiring', 9999999999999);
                 INSERT INTO plugin_leases VALUES ('bot:B1', 'host-a', 7, 0);",
            )
            .unwrap();
        }
        let s = SqliteStore::open(&path).unwrap();
        assert_eq!(s.schema_version(), MIGRATIONS.len() as i64);
        assert_eq!(s.kv_get("wecom/default/a".into(), 0).await.unwrap().as_deref(), Some("kept"));
        assert_eq!(s.kv_get("wecom/default/b".into(), 0).await.unwrap().as_deref(), Some("expiring"));
        let lease = s.lease_acquire("bot:B1".into(), "host-b".into(), 1000, 1).await.unwrap().expect("expired");
        assert_eq!(lease.token, 8, "the next holder's token is larger than the moved one");
        assert!(dir.path().join("t.kv.db").exists());
        let tables: i64 = s
            .run_blocking(|c| {
                c.prepare_cached("SELECT COUNT(*) FROM sqlite_master WHERE name IN ('plugin_kv', 'plugin_leases')")?
                    .query_row([], |r| r.get(0))
            })
            .unwrap();
        assert_eq!(tables, 0, "the store file no longer has them");
        drop(s);
        let again = SqliteStore::open(&path).unwrap();
        assert_eq!(again.kv_get("wecom/default/a".into(), 0).await.unwrap().as_deref(), Some("kept"));
    }

    #[tokio::test]
    async fn a_kv_write_does_not_wait_for_the_storage_thread() {
        let (_dir, s) = open();
        // Hold the storage thread; the KV still answers.
        let (hold, release) = std::sync::mpsc::channel::<()>();
        let blocked = s.run(move |_| {
            let _ = release.recv();
            Ok(())
        });
        assert!(s.kv_cas("dedup:m1".into(), None, "1".into(), None, 0).await.unwrap());
        assert!(!s.kv_cas("dedup:m1".into(), None, "1".into(), None, 0).await.unwrap());
        hold.send(()).unwrap();
        blocked.await.unwrap();
    }

    #[tokio::test]
    async fn deleting_a_tenant_deletes_its_kv_keys_in_the_kv_file() {
        let (_dir, s) = open();
        let tenant = TenantRecord { id: "t1".into(), name: "one".into(), created_at: "now".into() };
        assert!(s.create_tenant(tenant, "hash".into()).await.unwrap());
        s.kv_set("wecom/t1/x".into(), "v".into(), None).await.unwrap();
        s.kv_set("wecom/default/x".into(), "v".into(), None).await.unwrap();
        assert!(s.delete_tenant("t1".into()).await.unwrap());
        assert_eq!(s.kv_get("wecom/t1/x".into(), 0).await.unwrap(), None);
        assert_eq!(s.kv_get("wecom/default/x".into(), 0).await.unwrap().as_deref(), Some("v"));
    }
}

//! The embedded store's plugin KV and bot leases: a SQLite file of their own beside the store's
//! (`xpert.db` → `xpert.kv.db`), whose statements run on the callers' threads: reads at once,
//! writes in group-committed batches ([`SqliteKv::run`]).
//!
//! Why apart from the store: a message's dedup key is the one store call before its thinking
//! frame. On the store's storage thread it waited behind whatever batch of agent turns and
//! session writes was being committed, plus two thread hand-offs; that wait was the tail of the
//! callback → thinking latency. A KV statement is a point read or write of a few hundred bytes
//! (tens of microseconds), so it runs where it is called, and a file of its own means it never
//! waits for the store's write lock either — what Redis replaces when `XPERT_REDIS_URL` is set
//! is exactly this file. Why batches: one transaction per write under concurrent callbacks had
//! worker threads parking on the connection's lock and paid locks, WAL frames and a commit per
//! statement.
//!
//! Expired keys are swept in small batches by [`SqliteKv::sweep_expired`] (the store's
//! maintenance thread calls it every second), so a day's dedup keys do not stay on disk forever.

use std::path::{Path, PathBuf};

use host_sdk::{BoxFuture, Lease};
use parking_lot::Mutex;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{StoreError, StoreResult};

/// The KV file's migrations, applied in order; the count applied is kept in `schema_version`.
const MIGRATIONS: &[&str] = &[
    // v1: the KV (no index on the expiry: a write would touch one more page for it; the sweep
    // walks the table in rowid order instead) and the leases, whose rows stay after a release so
    // that the next holder's token is larger.
    r#"
    CREATE TABLE plugin_kv (key TEXT PRIMARY KEY, value TEXT NOT NULL, expires_at INTEGER);
    CREATE TABLE plugin_leases (
        key TEXT PRIMARY KEY, owner TEXT NOT NULL, token INTEGER NOT NULL, expires_at INTEGER NOT NULL);
    "#,
];

/// How many batches in a row the caller that leads runs before the KV's own thread takes over.
const LEAD_BATCHES: usize = 4;

/// The most rows the sweep looks at while the lock is held once (well under a millisecond).
const SWEEP_BATCH: usize = 256;

fn err(e: impl std::fmt::Display) -> StoreError {
    StoreError::new(e.to_string())
}

/// The KV file that belongs to the store file at `store_path`.
pub fn kv_path(store_path: &Path) -> PathBuf {
    let mut name = store_path.file_stem().map(|s| s.to_os_string()).unwrap_or_default();
    name.push(".kv.db");
    store_path.with_file_name(name)
}

/// The plugin KV and leases of the embedded store (see the module documentation).
pub struct SqliteKv {
    /// The connection: batches of writes, reads between them, the host's own maintenance.
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Statements waiting for the caller that runs the next batch.
    queue: Mutex<Queue>,
    /// This KV itself, for its own thread.
    me: std::sync::Weak<SqliteKv>,
    /// Wakes the KV's own thread to take the lead over (started at the first hand-off).
    helper: Mutex<Option<std::sync::mpsc::Sender<()>>>,
    /// Where the sweep goes on (a rowid): it walks the table a batch at a time, round and round.
    sweep_from: std::sync::atomic::AtomicI64,
}

/// The statements waiting for a batch, and whether a caller is running batches now.
#[derive(Default)]
struct Queue {
    jobs: Vec<Box<dyn Job>>,
    leading: bool,
}

/// One caller's statements, run inside a batch's transaction.
trait Job: Send {
    /// Runs the statements; what it returns tells the caller the outcome once the batch's
    /// transaction is committed (`None`) or has failed (why).
    fn run(self: Box<Self>, conn: &Connection) -> Finish;
    /// Tells the caller its statements could not run.
    fn fail(self: Box<Self>, error: StoreError);
}

/// Tells a caller the outcome of its statements after the batch's commit.
type Finish = Box<dyn FnOnce(Option<&StoreError>) + Send>;

/// A [`Job`] answering through a oneshot channel.
struct Statements<T, F> {
    f: F,
    answer: tokio::sync::oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Statements<T, F>
where
    T: Send + 'static,
    F: FnOnce(&Connection) -> rusqlite::Result<T> + Send,
{
    fn run(self: Box<Self>, conn: &Connection) -> Finish {
        let Statements { f, answer } = *self;
        let result = f(conn).map_err(err);
        Box::new(move |failed| {
            let _ = answer.send(match failed {
                Some(e) => Err(e.clone()),
                None => result,
            });
        })
    }

    fn fail(self: Box<Self>, error: StoreError) {
        let _ = self.answer.send(Err(error));
    }
}

/// If a batch panics, passes the lead on: to the KV's own thread while statements wait (they
/// would otherwise wait for the next caller), else to the next caller.
struct Leading<'a>(&'a SqliteKv);

impl Drop for Leading<'_> {
    fn drop(&mut self) {
        if !std::thread::panicking() {
            return;
        }
        let waiting = {
            let mut queue = self.0.queue.lock();
            queue.leading = !queue.jobs.is_empty();
            queue.leading
        };
        if waiting {
            self.0.hand_off();
        }
    }
}

impl SqliteKv {
    /// Opens (or creates) the KV file and applies its pending migrations.
    pub fn open(path: &Path) -> StoreResult<std::sync::Arc<SqliteKv>> {
        let conn =
            Connection::open(path).map_err(|e| StoreError::new(format!("cannot open {}: {e}", path.display())))?;
        // Small pages: a KV write changes a row or two, and every page it touches is written to
        // the WAL whole (takes effect when the file is created). Checkpoints run on the store's
        // maintenance thread, never inside a caller's statement. A modest page cache (256 KiB)
        // holds the B-tree's upper levels; SQLite walks all of it at every commit.
        conn.execute_batch(
            "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA wal_autocheckpoint = 0; PRAGMA cache_size = 256;",
        )
        .map_err(err)?;
        conn.set_prepared_statement_cache_capacity(super::sqlite::STATEMENT_CACHE);
        conn.busy_timeout(std::time::Duration::from_secs(5)).map_err(err)?;
        conn.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)").map_err(err)?;
        let applied: i64 =
            conn.query_row("SELECT COALESCE(MAX(version), 0) FROM schema_version", [], |r| r.get(0)).map_err(err)?;
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            let tx = conn.unchecked_transaction().map_err(err)?;
            tx.execute_batch(sql).map_err(err)?;
            tx.execute("INSERT INTO schema_version (version) VALUES (?1)", [i as i64 + 1]).map_err(err)?;
            tx.commit().map_err(err)?;
        }
        Ok(std::sync::Arc::new_cyclic(|me| SqliteKv {
            conn: Mutex::new(conn),
            path: path.to_path_buf(),
            queue: Mutex::default(),
            me: me.clone(),
            helper: Mutex::default(),
            sweep_from: Default::default(),
        }))
    }

    /// Where the file is (the maintenance thread opens its own connection on it).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the connection, on this thread, outside any batch.
    fn with<T>(&self, f: impl FnOnce(&mut Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        f(&mut self.conn.lock()).map_err(err)
    }

    /// Runs `f` in a transaction that holds the write lock from its start: a read-then-write
    /// that started as a reader could not be upgraded once another process had written.
    fn atomically<T>(&self, f: impl FnOnce(&rusqlite::Transaction<'_>) -> rusqlite::Result<T>) -> StoreResult<T> {
        self.with(|c| {
            let tx = c.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let result = f(&tx)?;
            tx.commit()?;
            Ok(result)
        })
    }

    /// Runs `f` (a read: [`get`], [`scan`], [`lease_current`]) at once on this thread, between
    /// batches. (A second, reading connection was tried: SQLite empties a connection's page cache
    /// whenever another one has committed, and those resets cost more than the short waits for
    /// a batch they saved.)
    pub fn read<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> BoxFuture<'static, StoreResult<T>> {
        let result = f(&self.conn.lock()).map_err(err);
        Box::pin(std::future::ready(result))
    }

    /// Runs `f` (one of this module's statement functions) in the next batch: one transaction
    /// that holds the write lock from its start, so a read-then-write is atomic also against
    /// other processes on the file. The answer comes once the batch is committed.
    ///
    /// Group commit on the callers' threads: the caller that finds no batch running runs
    /// batches on its own thread (at most [`LEAD_BATCHES`], then the KV's own thread goes on);
    /// callers arriving meanwhile only queue and wait for their answer (they never block a
    /// thread on the connection). Under load a transaction's locks, WAL frames and commit are
    /// paid once per batch, not per statement.
    pub fn run<T, F>(&self, f: F) -> BoxFuture<'static, StoreResult<T>>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    {
        let (answer, answered) = tokio::sync::oneshot::channel();
        self.enqueue(Box::new(Statements { f, answer }));
        Box::pin(async move {
            answered.await.unwrap_or_else(|_| Err(StoreError::new("a KV statement ended without an answer")))
        })
    }

    /// Queues `job`; when no caller is running batches, this one does: at most [`LEAD_BATCHES`],
    /// then the KV's own thread goes on while jobs wait, so that a runtime worker is never held
    /// for long by others' statements.
    fn enqueue(&self, job: Box<dyn Job>) {
        {
            let mut queue = self.queue.lock();
            queue.jobs.push(job);
            if queue.leading {
                return;
            }
            queue.leading = true;
        }
        if !self.lead(Some(LEAD_BATCHES)) {
            self.hand_off();
        }
    }

    /// Runs batches while jobs wait, at most `max` (`None`: no limit), as the one caller that
    /// leads. True when none waits any more (and the lead is free again); false when `max`
    /// batches ran and jobs still wait (the caller still leads).
    fn lead(&self, max: Option<usize>) -> bool {
        let _leading = Leading(self);
        let mut ran = 0;
        loop {
            let jobs = {
                let mut queue = self.queue.lock();
                if queue.jobs.is_empty() {
                    queue.leading = false;
                    return true;
                }
                if max.is_some_and(|max| ran >= max) {
                    return false;
                }
                std::mem::take(&mut queue.jobs)
            };
            self.run_batch(&self.conn.lock(), jobs);
            ran += 1;
        }
    }

    /// Hands the lead to the KV's own thread (started the first time), which runs batches until
    /// none waits. If that thread cannot be started, this caller goes on itself.
    fn hand_off(&self) {
        let mut helper = self.helper.lock();
        if helper.as_ref().is_some_and(|wake| wake.send(()).is_ok()) {
            return;
        }
        let (wake, woken) = std::sync::mpsc::channel::<()>();
        let me = self.me.clone();
        let started = std::thread::Builder::new().name("sqlite-kv".into()).spawn(move || {
            // Each wake is one hand-off of the lead; the thread ends with the KV (its sender).
            while woken.recv().is_ok() {
                let Some(kv) = me.upgrade() else { return };
                kv.lead(None);
            }
        });
        match started {
            Ok(_) => {
                let _ = wake.send(());
                *helper = Some(wake);
            }
            Err(e) if std::thread::panicking() => {
                // Not while unwinding from a batch: the next caller leads.
                tracing::warn!("cannot start the KV's thread ({e}): the next caller runs the waiting statements");
                self.queue.lock().leading = false;
            }
            Err(e) => {
                drop(helper);
                tracing::warn!("cannot start the KV's thread ({e}): this caller runs the waiting statements");
                self.lead(None);
            }
        }
    }

    /// Runs `jobs` in one transaction and tells each caller its outcome after the commit.
    fn run_batch(&self, conn: &Connection, jobs: Vec<Box<dyn Job>>) {
        if !conn.is_autocommit() {
            // A batch that panicked half-way left its transaction open: undo it, or no batch
            // could ever begin again.
            let _ = conn.execute_batch("ROLLBACK");
        }
        if let Err(e) = conn.execute_batch("BEGIN IMMEDIATE") {
            let e = err(e);
            for job in jobs {
                job.fail(e.clone());
            }
            return;
        }
        let mut finishes = Vec::with_capacity(jobs.len());
        let mut jobs = jobs.into_iter();
        while let Some(job) = jobs.next() {
            finishes.push(job.run(conn));
            if conn.is_autocommit() {
                // A failed statement (a full disk, an I/O error) rolled the whole transaction
                // back: what ran before it is undone, and the rest run one by one.
                let e = StoreError::new("the KV transaction was rolled back after a statement failed");
                for finish in finishes {
                    finish(Some(&e));
                }
                for job in jobs {
                    self.run_batch(conn, vec![job]);
                }
                return;
            }
        }
        match conn.execute_batch("COMMIT") {
            Ok(()) => finishes.into_iter().for_each(|finish| finish(None)),
            Err(e) => {
                let e = err(e);
                let _ = conn.execute_batch("ROLLBACK");
                finishes.into_iter().for_each(|finish| finish(Some(&e)));
            }
        }
    }

    /// Walks up to `max_rows` rows from where the last sweep stopped ([`SWEEP_BATCH`] per lock
    /// hold, so callers get the lock between batches) and deletes the expired ones; how many.
    /// After the last row it starts over from the first, so every expired key goes within a few
    /// rounds (at 4,096 rows a second, a million keys take about four minutes).
    pub fn sweep_expired(&self, now: i64, max_rows: usize) -> StoreResult<usize> {
        use std::sync::atomic::Ordering;
        let (mut walked, mut deleted) = (0, 0);
        while walked < max_rows {
            let from = self.sweep_from.load(Ordering::Relaxed);
            let batch = SWEEP_BATCH.min(max_rows - walked) as i64;
            let (last, rows, gone) = self.atomically(|tx| {
                let (last, rows): (Option<i64>, i64) = tx
                    .prepare_cached(
                        "SELECT MAX(rowid), COUNT(*) FROM
                         (SELECT rowid FROM plugin_kv WHERE rowid > ?1 ORDER BY rowid LIMIT ?2)",
                    )?
                    .query_row(params![from, batch], |r| Ok((r.get(0)?, r.get(1)?)))?;
                let gone = match last {
                    Some(last) => tx
                        .prepare_cached(
                            "DELETE FROM plugin_kv WHERE rowid > ?1 AND rowid <= ?2
                             AND expires_at IS NOT NULL AND expires_at <= ?3",
                        )?
                        .execute(params![from, last, now])?,
                    None => 0,
                };
                Ok((last, rows, gone))
            })?;
            walked += rows as usize;
            deleted += gone;
            match last {
                Some(last) if rows == batch => self.sweep_from.store(last, Ordering::Relaxed),
                // The end of the table: the next batch starts over.
                _ => {
                    self.sweep_from.store(0, Ordering::Relaxed);
                    if from == 0 {
                        break; // the whole table was walked
                    }
                }
            }
        }
        Ok(deleted)
    }

    /// Deletes a tenant's keys (`<plugin>/<tenant>/…`: the segment after the first `/`); how many.
    pub fn delete_tenant_keys(&self, tenant: &str) -> StoreResult<u64> {
        self.with(|c| {
            c.execute(
                "DELETE FROM plugin_kv
                 WHERE instr(key, '/') > 0 AND substr(key, instr(key, '/') + 1, length(?1) + 1) = ?1 || '/'",
                [tenant],
            )
            .map(|n| n as u64)
        })
    }

    /// Releases every live lease of `owner`, including owners named `<owner>#…`; how many.
    pub fn lease_release_owner(&self, owner: &str) -> StoreResult<usize> {
        self.with(|c| {
            c.execute(
                "UPDATE plugin_leases SET expires_at = 0
                 WHERE (owner = ?1 OR substr(owner, 1, length(?1) + 1) = ?1 || '#') AND expires_at > 0",
                [owner],
            )
        })
    }
}

// The statements, each run by [`SqliteKv::run`] inside a batch's transaction.

/// The live value of `key`.
pub fn get(conn: &Connection, key: &str, now: i64) -> rusqlite::Result<Option<String>> {
    live_value(conn, key, now)
}

/// Sets `key` unconditionally.
pub fn set(conn: &Connection, key: &str, value: &str, expires_at: Option<i64>) -> rusqlite::Result<()> {
    conn.prepare_cached("INSERT OR REPLACE INTO plugin_kv (key, value, expires_at) VALUES (?1, ?2, ?3)")?
        .execute(params![key, value, expires_at])
        .map(drop)
}

/// Sets `key` when its live value is `expected` (`None`: absent or expired); whether it did.
pub fn compare_and_swap(
    conn: &Connection,
    key: &str,
    expected: Option<&str>,
    value: &str,
    expires_at: Option<i64>,
    now: i64,
) -> rusqlite::Result<bool> {
    if live_value(conn, key, now)?.as_deref() != expected {
        return Ok(false);
    }
    set(conn, key, value, expires_at)?;
    Ok(true)
}

/// Deletes `key` when it is live (and equals `expected`, when given); whether it did. An
/// expired row of `key` is deleted in any case.
pub fn delete(conn: &Connection, key: &str, expected: Option<&str>, now: i64) -> rusqlite::Result<bool> {
    let matches = match (live_value(conn, key, now)?, expected) {
        (Some(_), None) => true,
        (Some(v), Some(e)) => v == e,
        (None, _) => false,
    };
    if matches {
        conn.prepare_cached("DELETE FROM plugin_kv WHERE key = ?1")?.execute([key])?;
    } else {
        conn.prepare_cached("DELETE FROM plugin_kv WHERE key = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2")?
            .execute(params![key, now])?;
    }
    Ok(matches)
}

/// Live keys under `prefix` after `after`, in key order, at most `limit`.
pub fn scan(
    conn: &Connection,
    prefix: &str,
    after: &str,
    limit: u32,
    now: i64,
) -> rusqlite::Result<Vec<(String, String)>> {
    // Keys under the prefix are >= prefix; comparing with substr keeps it right for any byte.
    let mut stmt = conn.prepare_cached(
        "SELECT key, value FROM plugin_kv
         WHERE key >= ?1 AND substr(key, 1, length(?1)) = ?1 AND key > ?2
           AND (expires_at IS NULL OR expires_at > ?3)
         ORDER BY key LIMIT ?4",
    )?;
    let rows = stmt.query_map(params![prefix, after, now, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
    rows.collect()
}

/// Takes `key` for `owner` when it is free or expired (a larger token than any before) or
/// already `owner`'s (extended, same token); `None` while someone else holds it.
pub fn lease_acquire(
    conn: &Connection,
    key: &str,
    owner: &str,
    ttl_ms: u64,
    now: i64,
) -> rusqlite::Result<Option<Lease>> {
    let held: Option<Lease> = conn
        .prepare_cached("SELECT key, owner, token, expires_at FROM plugin_leases WHERE key = ?1")?
        .query_row([key], lease_row)
        .optional()?;
    let expires = now.saturating_add(ttl_ms.min(i64::MAX as u64) as i64);
    let lease = match held {
        Some(l) if l.expires_at_ms > now && l.owner != owner => return Ok(None),
        Some(l) if l.expires_at_ms > now => Lease { expires_at_ms: expires, ..l },
        Some(l) => Lease { key: key.into(), owner: owner.into(), token: l.token + 1, expires_at_ms: expires },
        None => Lease { key: key.into(), owner: owner.into(), token: 1, expires_at_ms: expires },
    };
    conn.prepare_cached(
        "INSERT OR REPLACE INTO plugin_leases (key, owner, token, expires_at) VALUES (?1, ?2, ?3, ?4)",
    )?
    .execute(params![lease.key, lease.owner, lease.token as i64, lease.expires_at_ms])?;
    Ok(Some(lease))
}

/// Extends a live lease still held under its token; `None` once it expired or changed hands.
pub fn lease_renew(conn: &Connection, lease: Lease, ttl_ms: u64, now: i64) -> rusqlite::Result<Option<Lease>> {
    let expires = now.saturating_add(ttl_ms.min(i64::MAX as u64) as i64);
    let n = conn
        .prepare_cached(
            "UPDATE plugin_leases SET expires_at = ?1
             WHERE key = ?2 AND owner = ?3 AND token = ?4 AND expires_at > ?5",
        )?
        .execute(params![expires, lease.key, lease.owner, lease.token as i64, now])?;
    Ok((n > 0).then_some(Lease { expires_at_ms: expires, ..lease }))
}

/// Ends a live lease held under its token; whether it did. The row (and its token) stays.
pub fn lease_release(conn: &Connection, lease: &Lease, now: i64) -> rusqlite::Result<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE plugin_leases SET expires_at = 0 WHERE key = ?1 AND owner = ?2 AND token = ?3 AND expires_at > ?4",
        )?
        .execute(params![lease.key, lease.owner, lease.token as i64, now])?;
    Ok(n > 0)
}

/// The live lease on `key`.
pub fn lease_current(conn: &Connection, key: &str, now: i64) -> rusqlite::Result<Option<Lease>> {
    conn.prepare_cached("SELECT key, owner, token, expires_at FROM plugin_leases WHERE key = ?1 AND expires_at > ?2")?
        .query_row(params![key, now], lease_row)
        .optional()
}

fn live_value(conn: &Connection, key: &str, now: i64) -> rusqlite::Result<Option<String>> {
    conn.prepare_cached("SELECT value FROM plugin_kv WHERE key = ?1 AND (expires_at IS NULL OR expires_at > ?2)")?
        .query_row(params![key, now], |r| r.get(0))
        .optional()
}

fn lease_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<Lease> {
    Ok(Lease { key: r.get(0)?, owner: r.get(1)?, token: r.get::<_, i64>(2)? as u64, expires_at_ms: r.get(3)? })
}

/// Moves the KV and lease rows that earlier versions kept in the store file (`main`) into the
/// KV file, on the store's connection, inside the caller's transaction; the KV file must be
/// attached as `kv`. Safe to repeat after a crash half-way: keys already moved stay, and a
/// lease keeps the larger of its two tokens.
pub fn move_rows_from_store(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "INSERT OR IGNORE INTO kv.plugin_kv (key, value, expires_at)
             SELECT key, value, expires_at FROM main.plugin_kv;
         INSERT INTO kv.plugin_leases (key, owner, token, expires_at)
             SELECT key, owner, token, expires_at FROM main.plugin_leases WHERE true
             ON CONFLICT (key) DO UPDATE SET owner = excluded.owner, token = excluded.token,
                 expires_at = excluded.expires_at
             WHERE excluded.token > plugin_leases.token;",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn open() -> (tempfile::TempDir, std::sync::Arc<SqliteKv>) {
        let dir = tempfile::tempdir().unwrap();
        let kv = SqliteKv::open(&dir.path().join("t.kv.db")).unwrap();
        (dir, kv)
    }

    #[test]
    fn the_kv_file_sits_beside_the_store_file() {
        assert_eq!(kv_path(Path::new("/data/xpert.db")), Path::new("/data/xpert.kv.db"));
        assert_eq!(kv_path(Path::new("/data/xpert")), Path::new("/data/xpert.kv.db"));
    }

    #[test]
    fn the_kv_file_uses_small_pages() {
        let (_dir, kv) = open();
        let size: i64 = kv.with(|c| c.query_row("PRAGMA page_size", [], |r| r.get(0))).unwrap();
        assert_eq!(size, 1024);
    }

    /// Runs one statement function through the batches, on a runtime of its own.
    fn run<T: Send + 'static>(
        kv: &SqliteKv,
        f: impl FnOnce(&Connection) -> rusqlite::Result<T> + Send + 'static,
    ) -> StoreResult<T> {
        block(kv.run(f))
    }

    /// Waits for `f` on this thread.
    fn block<T>(f: impl std::future::Future<Output = T>) -> T {
        tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(f)
    }

    #[test]
    fn the_sweep_deletes_expired_keys_only_walking_the_table_in_rounds() {
        let (_dir, kv) = open();
        run(&kv, |c| set(c, "later", "v", Some(5_000))).unwrap();
        for i in 0..600 {
            run(&kv, move |c| set(c, &format!("old{i:03}"), "v", Some(1_000))).unwrap();
        }
        run(&kv, |c| set(c, "forever", "v", None)).unwrap();
        assert_eq!(kv.sweep_expired(2_000, 500).unwrap(), 499, "500 rows walked, the first one live");
        assert_eq!(kv.sweep_expired(2_000, 10_000).unwrap(), 101, "the rest, then round to the start");
        assert_eq!(kv.sweep_expired(2_000, 10_000).unwrap(), 0);
        let left = kv.with(|c| c.query_row("SELECT COUNT(*) FROM plugin_kv", [], |r| r.get::<_, i64>(0))).unwrap();
        assert_eq!(left, 2, "the live keys stay");
        assert_eq!(run(&kv, |c| get(c, "later", 2_000)).unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn two_connections_on_one_file_see_one_kv_and_one_lease_holder() {
        // Two host processes on one data directory each open the file: set-if-absent and leases
        // stay atomic across them.
        let (dir, a) = open();
        let b = SqliteKv::open(&dir.path().join("t.kv.db")).unwrap();
        assert!(run(&a, |c| compare_and_swap(c, "dedup:m1", None, "1", None, 0)).unwrap());
        assert!(!run(&b, |c| compare_and_swap(c, "dedup:m1", None, "1", None, 0)).unwrap(), "taken by the other");
        let lease = run(&a, |c| lease_acquire(c, "bot", "host-a", 10_000, 0)).unwrap().expect("free");
        assert_eq!(run(&b, |c| lease_acquire(c, "bot", "host-b", 10_000, 1)).unwrap(), None);
        let held = lease.clone();
        assert!(run(&a, move |c| lease_release(c, &held, 2)).unwrap());
        let taken = run(&b, |c| lease_acquire(c, "bot", "host-b", 10_000, 3)).unwrap().expect("released");
        assert!(taken.token > lease.token, "fencing tokens only grow");
    }

    #[test]
    fn concurrent_callers_share_batches_and_each_gets_its_own_answer() {
        // Eight threads race read-modify-writes on one counter and set-if-absent on shared keys:
        // whichever caller runs a batch, every statement is applied once, in a transaction, and
        // answered to its own caller.
        let (_dir, kv) = open();
        let threads: Vec<_> = (0..8)
            .map(|t| {
                let kv = kv.clone();
                std::thread::spawn(move || {
                    let mut taken = 0;
                    for i in 0..50 {
                        loop {
                            let now = run(&kv, |c| get(c, "counter", 0)).unwrap();
                            let next = now.as_deref().map_or(1, |n| n.parse::<u64>().unwrap() + 1).to_string();
                            if run(&kv, move |c| compare_and_swap(c, "counter", now.as_deref(), &next, None, 0))
                                .unwrap()
                            {
                                break;
                            }
                        }
                        if run(&kv, move |c| compare_and_swap(c, &format!("m{i}"), None, &t.to_string(), None, 0))
                            .unwrap()
                        {
                            taken += 1;
                        }
                    }
                    taken
                })
            })
            .collect();
        let taken: u32 = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(taken, 50, "each key is taken by exactly one caller");
        assert_eq!(run(&kv, |c| get(c, "counter", 0)).unwrap().as_deref(), Some("400"), "no increment lost");
    }

    #[test]
    fn a_statement_that_fails_in_a_batch_fails_alone() {
        // A statement error that leaves the transaction open (here: a table that does not exist)
        // is its caller's only; the batch's other statements commit.
        let (_dir, kv) = open();
        let (answers, failing) = {
            // Queue three jobs behind a batch that is held open, so they run as one batch.
            let conn = kv.conn.lock();
            kv.queue.lock().leading = true;
            let a = kv.run(|c| set(c, "a", "1", None));
            let bad = kv.run(|c| c.execute("INSERT INTO nowhere VALUES (1)", []).map(drop));
            let b = kv.run(|c| set(c, "b", "2", None));
            let jobs = std::mem::take(&mut kv.queue.lock().jobs);
            assert_eq!(jobs.len(), 3, "queued behind the running batch");
            kv.run_batch(&conn, jobs);
            kv.queue.lock().leading = false;
            ((a, b), bad)
        };
        assert!(block(answers.0).is_ok() && block(answers.1).is_ok());
        assert!(block(failing).unwrap_err().message.contains("nowhere"));
        assert_eq!(run(&kv, |c| get(c, "b", 0)).unwrap().as_deref(), Some("2"), "committed");
    }

    #[test]
    fn a_caller_leads_its_share_of_batches_then_the_kvs_own_thread_takes_over() {
        let (_dir, kv) = open();
        // Statements queue while this test holds the lead; the first one queues another while its
        // batch runs, so after one batch a statement still waits.
        kv.queue.lock().leading = true;
        let inner = kv.clone();
        let first = kv.run(move |c| {
            set(c, "a", "1", None)?;
            Ok(inner.run(|c| set(c, "b", "2", None).map(|()| std::thread::current().name().map(str::to_string))))
        });
        assert!(!kv.lead(Some(1)), "one batch ran and a statement still waits");
        kv.hand_off();
        let second = block(first).unwrap();
        let ran_on = block(async { tokio::time::timeout(std::time::Duration::from_secs(5), second).await })
            .expect("the waiting statement ran")
            .unwrap();
        assert_eq!(ran_on.as_deref(), Some("sqlite-kv"), "on the KV's own thread");
        assert_eq!(run(&kv, |c| get(c, "b", 0)).unwrap().as_deref(), Some("2"));
        // The KV's thread frees the lead once it finds the queue empty, just after it answered
        // the last statement: wait for that (no event marks it), within a deadline.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while kv.queue.lock().leading {
            assert!(std::time::Instant::now() < deadline, "the KV's thread never freed the lead");
            std::thread::yield_now();
        }
    }

    #[test]
    fn a_statement_that_panics_leaves_the_kv_usable() {
        let (_dir, kv) = open();
        let inner = kv.clone();
        let (queued_tx, queued) = std::sync::mpsc::channel();
        let panicked = std::thread::spawn(move || {
            let again = inner.clone();
            run(&inner, move |c| {
                set(c, "lost", "1", None)?;
                // Another caller's statement queues behind this batch.
                queued_tx.send(again.run(|c| set(c, "queued", "1", None))).unwrap();
                if true {
                    panic!("a statement function that panics");
                }
                Ok(())
            })
        })
        .join();
        assert!(panicked.is_err(), "the panic reached its caller");
        // The statement that waited behind the panicked batch runs without another caller.
        let waited = queued.recv().unwrap();
        block(async { tokio::time::timeout(std::time::Duration::from_secs(5), waited).await })
            .expect("the waiting statement ran")
            .expect("and succeeded");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while kv.queue.lock().leading {
            assert!(std::time::Instant::now() < deadline, "the lead was never freed");
            std::thread::yield_now();
        }
        run(&kv, |c| set(c, "k", "v", None)).expect("a batch begins again");
        assert_eq!(run(&kv, |c| get(c, "queued", 0)).unwrap().as_deref(), Some("1"));
        assert_eq!(run(&kv, |c| get(c, "lost", 0)).unwrap(), None, "the panicked batch was undone");
        assert_eq!(run(&kv, |c| get(c, "k", 0)).unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn a_batch_that_cannot_take_the_write_lock_fails_its_callers_and_changes_nothing() {
        // Another process holds the write lock past the busy timeout.
        let (dir, kv) = open();
        kv.with(|c| c.busy_timeout(std::time::Duration::from_millis(50))).unwrap();
        let other = Connection::open(dir.path().join("t.kv.db")).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let e = run(&kv, |c| set(c, "k", "v", None)).unwrap_err();
        assert!(e.message.contains("locked"), "{e}");
        other.execute_batch("ROLLBACK").unwrap();
        assert_eq!(run(&kv, |c| get(c, "k", 0)).unwrap(), None);
        assert!(!kv.queue.lock().leading, "the next caller leads again");
    }
}

//! The embedded store's plugin KV and bot leases: a SQLite file of their own beside the store's
//! (`xpert.db` → `xpert.kv.db`), whose statements run on the caller's thread under a mutex.
//!
//! Why apart from the store: a message's dedup key is the one store call before its thinking
//! frame. On the store's storage thread it waited behind whatever batch of agent turns and
//! session writes was being committed, plus two thread hand-offs; that wait was the tail of the
//! callback → thinking latency. A KV statement is a point read or write of a few hundred bytes
//! (tens of microseconds), so it runs where it is called, and a file of its own means it never
//! waits for the store's write lock either — what Redis replaces when `XPERT_REDIS_URL` is set
//! is exactly this file.
//!
//! Expired keys are swept in small batches by [`SqliteKv::sweep_expired`] (the store's
//! maintenance thread calls it every second), so a day's dedup keys do not stay on disk forever.

use std::path::{Path, PathBuf};

use host_sdk::Lease;
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
    conn: Mutex<Connection>,
    path: PathBuf,
    /// Where the sweep goes on (a rowid): it walks the table a batch at a time, round and round.
    sweep_from: std::sync::atomic::AtomicI64,
}

impl SqliteKv {
    /// Opens (or creates) the KV file and applies its pending migrations.
    pub fn open(path: &Path) -> StoreResult<SqliteKv> {
        let conn =
            Connection::open(path).map_err(|e| StoreError::new(format!("cannot open {}: {e}", path.display())))?;
        // Small pages: a KV write changes a row or two, and every page it touches is written to
        // the WAL whole (takes effect when the file is created). Checkpoints run on the store's
        // maintenance thread, never inside a caller's statement.
        conn.execute_batch(
            "PRAGMA page_size = 1024; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; \
             PRAGMA wal_autocheckpoint = 0;",
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
        Ok(SqliteKv { conn: Mutex::new(conn), path: path.to_path_buf(), sweep_from: Default::default() })
    }

    /// Where the file is (the maintenance thread opens its own connection on it).
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the connection, on this thread.
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

    /// The live value of `key`.
    pub fn get(&self, key: &str, now: i64) -> StoreResult<Option<String>> {
        self.with(|c| live_value(c, key, now))
    }

    /// Sets `key` unconditionally.
    pub fn set(&self, key: &str, value: &str, expires_at: Option<i64>) -> StoreResult<()> {
        self.with(|c| {
            c.prepare_cached("INSERT OR REPLACE INTO plugin_kv (key, value, expires_at) VALUES (?1, ?2, ?3)")?
                .execute(params![key, value, expires_at])
                .map(drop)
        })
    }

    /// Sets `key` when its live value is `expected` (`None`: absent or expired); whether it did.
    pub fn compare_and_swap(
        &self,
        key: &str,
        expected: Option<&str>,
        value: &str,
        expires_at: Option<i64>,
        now: i64,
    ) -> StoreResult<bool> {
        self.atomically(|tx| {
            if live_value(tx, key, now)?.as_deref() != expected {
                return Ok(false);
            }
            tx.prepare_cached("INSERT OR REPLACE INTO plugin_kv (key, value, expires_at) VALUES (?1, ?2, ?3)")?
                .execute(params![key, value, expires_at])?;
            Ok(true)
        })
    }

    /// Deletes `key` when it is live (and equals `expected`, when given); whether it did. An
    /// expired row of `key` is deleted in any case.
    pub fn delete(&self, key: &str, expected: Option<&str>, now: i64) -> StoreResult<bool> {
        self.atomically(|tx| {
            let matches = match (live_value(tx, key, now)?, expected) {
                (Some(_), None) => true,
                (Some(v), Some(e)) => v == e,
                (None, _) => false,
            };
            if matches {
                tx.prepare_cached("DELETE FROM plugin_kv WHERE key = ?1")?.execute([key])?;
            } else {
                tx.prepare_cached(
                    "DELETE FROM plugin_kv WHERE key = ?1 AND expires_at IS NOT NULL AND expires_at <= ?2",
                )?
                .execute(params![key, now])?;
            }
            Ok(matches)
        })
    }

    /// Live keys under `prefix` after `after`, in key order, at most `limit`.
    pub fn scan(&self, prefix: &str, after: &str, limit: u32, now: i64) -> StoreResult<Vec<(String, String)>> {
        self.with(|c| {
            // Keys under the prefix are >= prefix; comparing with substr keeps it right for any byte.
            let mut stmt = c.prepare_cached(
                "SELECT key, value FROM plugin_kv
                 WHERE key >= ?1 AND substr(key, 1, length(?1)) = ?1 AND key > ?2
                   AND (expires_at IS NULL OR expires_at > ?3)
                 ORDER BY key LIMIT ?4",
            )?;
            let rows = stmt.query_map(params![prefix, after, now, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))?;
            rows.collect()
        })
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

    /// Takes `key` for `owner` when it is free or expired (a larger token than any before) or
    /// already `owner`'s (extended, same token); `None` while someone else holds it.
    pub fn lease_acquire(&self, key: &str, owner: &str, ttl_ms: u64, now: i64) -> StoreResult<Option<Lease>> {
        self.atomically(|tx| {
            let held: Option<Lease> = tx
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
            tx.prepare_cached(
                "INSERT OR REPLACE INTO plugin_leases (key, owner, token, expires_at) VALUES (?1, ?2, ?3, ?4)",
            )?
            .execute(params![lease.key, lease.owner, lease.token as i64, lease.expires_at_ms])?;
            Ok(Some(lease))
        })
    }

    /// Extends a live lease still held under its token; `None` once it expired or changed hands.
    pub fn lease_renew(&self, lease: Lease, ttl_ms: u64, now: i64) -> StoreResult<Option<Lease>> {
        let expires = now.saturating_add(ttl_ms.min(i64::MAX as u64) as i64);
        let n = self.with(|c| {
            c.prepare_cached(
                "UPDATE plugin_leases SET expires_at = ?1
                 WHERE key = ?2 AND owner = ?3 AND token = ?4 AND expires_at > ?5",
            )?
            .execute(params![expires, lease.key, lease.owner, lease.token as i64, now])
        })?;
        Ok((n > 0).then_some(Lease { expires_at_ms: expires, ..lease }))
    }

    /// Ends a live lease held under its token; whether it did. The row (and its token) stays.
    pub fn lease_release(&self, lease: &Lease, now: i64) -> StoreResult<bool> {
        let n = self.with(|c| {
            c.prepare_cached(
                "UPDATE plugin_leases SET expires_at = 0 WHERE key = ?1 AND owner = ?2 AND token = ?3 AND expires_at > ?4",
            )?
            .execute(params![lease.key, lease.owner, lease.token as i64, now])
        })?;
        Ok(n > 0)
    }

    /// The live lease on `key`.
    pub fn lease_current(&self, key: &str, now: i64) -> StoreResult<Option<Lease>> {
        self.with(|c| {
            c.prepare_cached(
                "SELECT key, owner, token, expires_at FROM plugin_leases WHERE key = ?1 AND expires_at > ?2",
            )?
            .query_row(params![key, now], lease_row)
            .optional()
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

    fn open() -> (tempfile::TempDir, SqliteKv) {
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

    #[test]
    fn the_sweep_deletes_expired_keys_only_walking_the_table_in_rounds() {
        let (_dir, kv) = open();
        kv.set("later", "v", Some(5_000)).unwrap();
        for i in 0..600 {
            kv.set(&format!("old{i:03}"), "v", Some(1_000)).unwrap();
        }
        kv.set("forever", "v", None).unwrap();
        assert_eq!(kv.sweep_expired(2_000, 500).unwrap(), 499, "500 rows walked, the first one live");
        assert_eq!(kv.sweep_expired(2_000, 10_000).unwrap(), 101, "the rest, then round to the start");
        assert_eq!(kv.sweep_expired(2_000, 10_000).unwrap(), 0);
        let left = kv.with(|c| c.query_row("SELECT COUNT(*) FROM plugin_kv", [], |r| r.get::<_, i64>(0))).unwrap();
        assert_eq!(left, 2, "the live keys stay");
        assert_eq!(kv.get("later", 2_000).unwrap().as_deref(), Some("v"));
    }

    #[test]
    fn two_connections_on_one_file_see_one_kv_and_one_lease_holder() {
        // Two host processes on one data directory each open the file: set-if-absent and leases
        // stay atomic across them.
        let (dir, a) = open();
        let b = SqliteKv::open(&dir.path().join("t.kv.db")).unwrap();
        assert!(a.compare_and_swap("dedup:m1", None, "1", None, 0).unwrap());
        assert!(!b.compare_and_swap("dedup:m1", None, "1", None, 0).unwrap(), "taken by the other connection");
        let lease = a.lease_acquire("bot", "host-a", 10_000, 0).unwrap().expect("free");
        assert_eq!(b.lease_acquire("bot", "host-b", 10_000, 1).unwrap(), None);
        assert!(a.lease_release(&lease, 2).unwrap());
        let taken = b.lease_acquire("bot", "host-b", 10_000, 3).unwrap().expect("released");
        assert!(taken.token > lease.token, "fencing tokens only grow");
    }
}

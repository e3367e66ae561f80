//! The store on PostgreSQL (`XPERT_DATABASE_URL=postgres://…`): the same tables and behaviour as
//! the SQLite store, for several hosts sharing one database. Connections come from a small pool
//! that replaces a broken connection by itself; every operation has a deadline, so a lost server
//! fails calls with a clear error instead of hanging them, and the next call after the server is
//! back succeeds.
//!
//! KV expiry and lease times are the caller's clock (the host's), as with SQLite: hosts that
//! share leases through PostgreSQL alone must keep their clocks in step (NTP). With
//! `XPERT_REDIS_URL`, KV and leases use Redis's one clock instead.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use host_sdk::{BoxFuture, Lease, SessionPage, SessionQuery, SessionRecord};
use tokio_postgres::{NoTls, Row};

use super::sql::{like_contains, session_sort_column, INTEGRATION_COLUMNS, SESSION_COLUMNS, XPERT_COLUMNS};
use super::{
    InstallRecord, IntegrationRecord, MessageRecord, Store, StoreError, StoreResult, TenantRecord, XpertRecord,
    DEFAULT_TENANT,
};

/// Text columns compare byte-wise (`COLLATE "C"`), as in SQLite and in the in-memory backends:
/// key order for prefix scans, and the sessions tab's sorts, must not depend on the database's
/// locale.
const CTEXT: &str = "TEXT COLLATE \"C\"";

/// Migrations, applied in order under an advisory lock (several hosts may start at once); the
/// applied count is kept in `schema_version`. v1 is the SQLite store's v3 in one step.
const MIGRATIONS: &[&str] = &[r#"
    CREATE TABLE tenants (
        id CTEXT PRIMARY KEY, name CTEXT NOT NULL UNIQUE, token_hash CTEXT UNIQUE, created_at CTEXT NOT NULL);
    INSERT INTO tenants (id, name, token_hash, created_at)
        VALUES ('default', 'default', NULL, to_char(now() AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'));
    CREATE TABLE plugin_installs (
        name CTEXT NOT NULL, tenant_id CTEXT NOT NULL, level CTEXT NOT NULL, installed_at CTEXT NOT NULL,
        PRIMARY KEY (name, tenant_id));
    CREATE TABLE integrations (
        id CTEXT PRIMARY KEY, tenant_id CTEXT NOT NULL, name CTEXT NOT NULL, provider CTEXT NOT NULL,
        enabled BOOLEAN NOT NULL, options CTEXT NOT NULL, created_at CTEXT NOT NULL, updated_at CTEXT NOT NULL);
    CREATE INDEX integrations_tenant ON integrations (tenant_id, provider);
    CREATE TABLE xperts (
        id CTEXT PRIMARY KEY, tenant_id CTEXT NOT NULL, name CTEXT NOT NULL, agent CTEXT NOT NULL,
        triggers CTEXT NOT NULL, published BOOLEAN NOT NULL, published_triggers CTEXT NOT NULL,
        created_at CTEXT NOT NULL, updated_at CTEXT NOT NULL);
    CREATE INDEX xperts_tenant ON xperts (tenant_id);
    CREATE TABLE conversations (
        id CTEXT PRIMARY KEY, tenant_id CTEXT NOT NULL, xpert_id CTEXT NOT NULL, created_at CTEXT NOT NULL);
    CREATE INDEX conversations_tenant ON conversations (tenant_id);
    CREATE TABLE messages (
        conversation_id CTEXT NOT NULL, seq BIGINT NOT NULL, role CTEXT NOT NULL, content CTEXT NOT NULL,
        PRIMARY KEY (conversation_id, seq));
    CREATE TABLE plugin_kv (key CTEXT PRIMARY KEY, value CTEXT NOT NULL, expires_at BIGINT);
    CREATE TABLE plugin_leases (
        key CTEXT PRIMARY KEY, owner CTEXT NOT NULL, token BIGINT NOT NULL, expires_at BIGINT NOT NULL);
    CREATE TABLE sessions (
        tenant_id CTEXT NOT NULL, integration_id CTEXT NOT NULL, session_key CTEXT NOT NULL,
        chat_type CTEXT NOT NULL, chat_id CTEXT NOT NULL, sender_id CTEXT NOT NULL, xpert_id CTEXT NOT NULL,
        conversation_id CTEXT, updated_at_ms BIGINT NOT NULL,
        PRIMARY KEY (tenant_id, integration_id, session_key));
    CREATE INDEX sessions_updated ON sessions (tenant_id, integration_id, updated_at_ms, session_key);
    "#];

/// The advisory lock key that serializes migrations between hosts starting together.
const MIGRATION_LOCK: i64 = 0x7870_6572_7400_0001;

/// A PostgreSQL failure. Messages name the server as `host:port/database`, never the URL (it may
/// carry a password).
#[derive(Debug, Clone, thiserror::Error)]
pub enum PgError {
    /// `XPERT_DATABASE_URL` could not be parsed.
    #[error("XPERT_DATABASE_URL is not a valid PostgreSQL URL (postgres://user@host:port/database): {0}")]
    InvalidUrl(String),
    /// The server cannot be reached, or the connection was lost.
    #[error("PostgreSQL at {target} is unavailable: {message}")]
    Unavailable {
        /// `host:port/database`.
        target: String,
        /// What happened.
        message: String,
    },
    /// The server refused a statement.
    #[error("PostgreSQL at {target}: {message}")]
    Statement {
        /// `host:port/database`.
        target: String,
        /// The server's message.
        message: String,
    },
}

impl From<PgError> for StoreError {
    fn from(e: PgError) -> Self {
        match e {
            PgError::Unavailable { .. } => StoreError::unavailable(e.to_string()),
            _ => StoreError::new(e.to_string()),
        }
    }
}

/// `host:port/database` of a config: what errors and logs may name.
pub fn describe(config: &tokio_postgres::Config) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".into());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or(config.get_user().unwrap_or("postgres")))
}

/// Parses a `postgres://` URL (or key=value string) without echoing it in the error.
pub fn parse_url(url: &str) -> Result<tokio_postgres::Config, PgError> {
    url.parse::<tokio_postgres::Config>().map_err(|e| {
        // The parser's message names the offending part, never the password's value; keep only
        // its first line to be safe.
        let message = e.to_string();
        let redacted = match url_password(url) {
            Some(pw) if !pw.is_empty() => message.replace(pw, "***"),
            _ => message,
        };
        PgError::InvalidUrl(redacted)
    })
}

/// The password of a `scheme://user:password@…` URL, if any.
fn url_password(url: &str) -> Option<&str> {
    let rest = url.split_once("://")?.1;
    let auth = rest.split('@').next().filter(|_| rest.contains('@'))?;
    auth.split_once(':').map(|(_, pw)| pw)
}

/// Tunables of the PostgreSQL store.
#[derive(Clone, Debug)]
pub struct PgOptions {
    /// Most connections held at once.
    pub max_connections: usize,
    /// How long one operation (waiting for a connection included) may take before it fails.
    pub op_timeout: Duration,
    /// How long connecting may take.
    pub connect_timeout: Duration,
}

impl Default for PgOptions {
    fn default() -> Self {
        PgOptions { max_connections: 16, op_timeout: Duration::from_secs(10), connect_timeout: Duration::from_secs(5) }
    }
}

/// The PostgreSQL store: a pool of connections, each replaced when it breaks.
#[derive(Clone)]
pub struct PgStore {
    pool: Pool,
    target: String,
    op_timeout: Duration,
}

type PgResult<T> = Result<T, tokio_postgres::Error>;

impl PgStore {
    /// Connects with `config` and applies pending migrations (under an advisory lock, so that
    /// hosts starting together migrate once).
    pub async fn connect(mut config: tokio_postgres::Config, options: PgOptions) -> Result<PgStore, PgError> {
        let target = describe(&config);
        config.connect_timeout(options.connect_timeout);
        config.keepalives(true);
        config.keepalives_idle(Duration::from_secs(30));
        if config.get_application_name().is_none() {
            config.application_name("xpert-host");
        }
        let manager = Manager::from_config(config, NoTls, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(options.max_connections)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(options.op_timeout))
            .create_timeout(Some(options.connect_timeout))
            .recycle_timeout(Some(options.connect_timeout))
            .build()
            .map_err(|e| PgError::Unavailable { target: target.clone(), message: e.to_string() })?;
        let store = PgStore { pool, target, op_timeout: options.op_timeout };
        store.migrate().await?;
        Ok(store)
    }

    /// `host:port/database` (no credentials).
    pub fn target(&self) -> &str {
        &self.target
    }

    async fn migrate(&self) -> Result<(), PgError> {
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(|e| self.classify(e))?;
        tx.query_one("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK]).await.map_err(|e| self.classify(e))?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL)")
            .await
            .map_err(|e| self.classify(e))?;
        let applied: i64 = tx
            .query_one("SELECT COALESCE(MAX(version), 0) FROM schema_version", &[])
            .await
            .map_err(|e| self.classify(e))?
            .get(0);
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(applied as usize) {
            tx.batch_execute(&sql.replace("CTEXT", CTEXT)).await.map_err(|e| self.classify(e))?;
            tx.execute("INSERT INTO schema_version (version) VALUES ($1)", &[&(i as i64 + 1)])
                .await
                .map_err(|e| self.classify(e))?;
        }
        tx.commit().await.map_err(|e| self.classify(e))
    }

    /// The schema version after migrations.
    pub async fn schema_version(&self) -> StoreResult<i64> {
        self.run(|c| {
            Box::pin(async move { c.query_one("SELECT MAX(version) FROM schema_version", &[]).await?.try_get(0) })
        })
        .await
    }

    async fn client(&self) -> Result<deadpool_postgres::Object, PgError> {
        self.pool.get().await.map_err(|e| {
            let message = match e {
                deadpool_postgres::PoolError::Timeout(_) => "no connection could be made in time".to_string(),
                deadpool_postgres::PoolError::Backend(e) => return self.classify(e),
                other => other.to_string(),
            };
            PgError::Unavailable { target: self.target.clone(), message }
        })
    }

    fn classify(&self, e: tokio_postgres::Error) -> PgError {
        let target = self.target.clone();
        match e.as_db_error() {
            Some(db) => PgError::Statement { target, message: format!("{}: {}", db.code().code(), db.message()) },
            None => {
                let message = match std::error::Error::source(&e) {
                    Some(cause) => format!("{e}: {cause}"),
                    None => e.to_string(),
                };
                PgError::Unavailable { target, message }
            }
        }
    }

    /// Runs `f` with a pooled connection, within the operation deadline.
    fn run<T, F>(&self, f: F) -> BoxFuture<'static, StoreResult<T>>
    where
        T: Send + 'static,
        F: for<'c> FnOnce(&'c mut deadpool_postgres::Object) -> BoxFuture<'c, PgResult<T>> + Send + 'static,
    {
        let this = self.clone();
        Box::pin(async move {
            let deadline = tokio::time::Instant::now() + this.op_timeout;
            let silent = || PgError::Unavailable {
                target: this.target.clone(),
                message: format!("no answer within {:?}", this.op_timeout),
            };
            let mut client = match tokio::time::timeout_at(deadline, this.client()).await {
                Ok(client) => client?,
                Err(_) => return Err(silent().into()),
            };
            let outcome = tokio::time::timeout_at(deadline, f(&mut client)).await;
            let result = match outcome {
                Ok(result) => result.map_err(|e| this.classify(e)),
                Err(_) => Err(silent()),
            };
            if matches!(result, Err(PgError::Unavailable { .. })) {
                // A broken or silent connection never goes back to the pool: it is closed, and
                // the next call gets a new one.
                drop(deadpool_postgres::Object::take(client));
            }
            result.map_err(StoreError::from)
        })
    }
}

fn integration_row(r: &Row) -> PgResult<IntegrationRecord> {
    let options: String = r.try_get(4)?;
    Ok(IntegrationRecord {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        provider: r.try_get(2)?,
        enabled: r.try_get(3)?,
        options: serde_json::from_str(&options).unwrap_or(serde_json::Value::Null),
        created_at: r.try_get(5)?,
        updated_at: r.try_get(6)?,
        tenant_id: r.try_get(7)?,
    })
}

fn xpert_row(r: &Row) -> PgResult<XpertRecord> {
    let json = |s: String| serde_json::from_str(&s).unwrap_or(serde_json::Value::Null);
    Ok(XpertRecord {
        id: r.try_get(0)?,
        name: r.try_get(1)?,
        agent: json(r.try_get(2)?),
        triggers: json(r.try_get(3)?),
        published: r.try_get(4)?,
        published_triggers: json(r.try_get(5)?),
        created_at: r.try_get(6)?,
        updated_at: r.try_get(7)?,
        tenant_id: r.try_get(8)?,
    })
}

fn tenant_row(r: &Row) -> PgResult<TenantRecord> {
    Ok(TenantRecord { id: r.try_get(0)?, name: r.try_get(1)?, created_at: r.try_get(2)? })
}

fn lease_row(r: &Row) -> PgResult<Lease> {
    Ok(Lease {
        key: r.try_get(0)?,
        owner: r.try_get(1)?,
        token: r.try_get::<_, i64>(2)? as u64,
        expires_at_ms: r.try_get(3)?,
    })
}

fn session_row(r: &Row) -> PgResult<SessionRecord> {
    Ok(SessionRecord {
        integration_id: r.try_get(0)?,
        session_key: r.try_get(1)?,
        chat_type: r.try_get(2)?,
        chat_id: r.try_get(3)?,
        sender_id: r.try_get(4)?,
        xpert_id: r.try_get(5)?,
        conversation_id: r.try_get(6)?,
        updated_at_ms: r.try_get(7)?,
    })
}

fn rows<T>(rows: Vec<Row>, f: fn(&Row) -> PgResult<T>) -> PgResult<Vec<T>> {
    rows.iter().map(f).collect()
}

/// The filter of a session query: $1 tenant, $2 integration, $3 the pattern or NULL. `ILIKE` on
/// `"C"`-collated text folds ASCII case only, as SQLite's `LIKE` does.
const SESSION_FILTER: &str = "tenant_id = $1 AND integration_id = $2 AND ($3::text IS NULL
    OR chat_type ILIKE $3 ESCAPE '\\' OR chat_id ILIKE $3 ESCAPE '\\' OR sender_id ILIKE $3 ESCAPE '\\'
    OR xpert_id ILIKE $3 ESCAPE '\\' OR conversation_id ILIKE $3 ESCAPE '\\')";

/// The smallest string greater than every string that starts with `prefix`, in code point order
/// (which is UTF-8 byte order, hence `"C"` collation order); `None` when there is none.
fn prefix_successor(prefix: &str) -> Option<String> {
    let mut chars: Vec<char> = prefix.chars().collect();
    while let Some(last) = chars.pop() {
        let next = match last as u32 {
            0xD7FF => Some('\u{E000}'),
            n => char::from_u32(n + 1),
        };
        if let Some(next) = next {
            chars.push(next);
            return Some(chars.into_iter().collect());
        }
    }
    None
}

/// `expires_at` of a live KV row at `$now`.
fn live(now: &str) -> String {
    format!("(expires_at IS NULL OR expires_at > {now})")
}

impl Store for PgStore {
    fn list_tenants(&self) -> BoxFuture<'static, StoreResult<Vec<TenantRecord>>> {
        self.run(|c| {
            Box::pin(async move {
                let r = c
                    .query("SELECT id, name, created_at FROM tenants ORDER BY id <> 'default', created_at, id", &[])
                    .await?;
                rows(r, tenant_row)
            })
        })
    }

    fn get_tenant(&self, id: String) -> BoxFuture<'static, StoreResult<Option<TenantRecord>>> {
        self.run(move |c| {
            Box::pin(async move {
                c.query_opt("SELECT id, name, created_at FROM tenants WHERE id = $1", &[&id])
                    .await?
                    .as_ref()
                    .map(tenant_row)
                    .transpose()
            })
        })
    }

    fn tenant_by_token_hash(&self, hash: String) -> BoxFuture<'static, StoreResult<Option<TenantRecord>>> {
        self.run(move |c| {
            Box::pin(async move {
                c.query_opt("SELECT id, name, created_at FROM tenants WHERE token_hash = $1", &[&hash])
                    .await?
                    .as_ref()
                    .map(tenant_row)
                    .transpose()
            })
        })
    }

    fn create_tenant(&self, t: TenantRecord, token_hash: String) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            Box::pin(async move {
                let n = c
                    .execute(
                        "INSERT INTO tenants (id, name, token_hash, created_at) VALUES ($1, $2, $3, $4)
                         ON CONFLICT DO NOTHING",
                        &[&t.id, &t.name, &token_hash, &t.created_at],
                    )
                    .await?;
                Ok(n > 0)
            })
        })
    }

    fn delete_tenant(&self, id: String) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            Box::pin(async move {
                if id == DEFAULT_TENANT {
                    return Ok(false);
                }
                let tx = c.transaction().await?;
                if tx.execute("DELETE FROM tenants WHERE id = $1", &[&id]).await? == 0 {
                    return Ok(false);
                }
                tx.execute(
                    "DELETE FROM messages WHERE conversation_id IN (SELECT id FROM conversations WHERE tenant_id = $1)",
                    &[&id],
                )
                .await?;
                for table in ["conversations", "integrations", "xperts", "plugin_installs", "sessions"] {
                    tx.execute(&format!("DELETE FROM {table} WHERE tenant_id = $1"), &[&id]).await?;
                }
                // KV keys are `<plugin>/<tenant>/…`: the segment after the first `/` names the tenant.
                tx.execute(
                    "DELETE FROM plugin_kv
                     WHERE strpos(key, '/') > 0 AND substr(key, strpos(key, '/') + 1, length($1) + 1) = $1 || '/'",
                    &[&id],
                )
                .await?;
                tx.commit().await?;
                Ok(true)
            })
        })
    }

    fn list_installs(&self) -> BoxFuture<'static, StoreResult<Vec<InstallRecord>>> {
        self.run(|c| {
            Box::pin(async move {
                let r = c
                    .query(
                        "SELECT name, level, tenant_id, installed_at FROM plugin_installs ORDER BY tenant_id, name",
                        &[],
                    )
                    .await?;
                r.iter()
                    .map(|r| {
                        Ok(InstallRecord {
                            name: r.try_get(0)?,
                            level: r.try_get(1)?,
                            tenant_id: r.try_get(2)?,
                            installed_at: r.try_get(3)?,
                        })
                    })
                    .collect()
            })
        })
    }

    fn save_install(&self, r: InstallRecord) -> BoxFuture<'static, StoreResult<()>> {
        self.run(move |c| {
            Box::pin(async move {
                c.execute(
                    "INSERT INTO plugin_installs (name, tenant_id, level, installed_at) VALUES ($1, $2, $3, $4)
                     ON CONFLICT (name, tenant_id) DO UPDATE SET level = excluded.level,
                       installed_at = excluded.installed_at",
                    &[&r.name, &r.tenant_id, &r.level, &r.installed_at],
                )
                .await?;
                Ok(())
            })
        })
    }

    fn delete_install(&self, tenant: String, name: String) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            Box::pin(async move {
                let n = c
                    .execute("DELETE FROM plugin_installs WHERE tenant_id = $1 AND name = $2", &[&tenant, &name])
                    .await?;
                Ok(n > 0)
            })
        })
    }

    fn list_integrations(&self, tenant: String) -> BoxFuture<'static, StoreResult<Vec<IntegrationRecord>>> {
        self.run(move |c| {
            Box::pin(async move {
                let sql = format!(
                    "SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE tenant_id = $1 ORDER BY created_at, id"
                );
                rows(c.query(&sql, &[&tenant]).await?, integration_row)
            })
        })
    }

    fn get_integration(
        &self,
        tenant: String,
        id: String,
    ) -> BoxFuture<'static, StoreResult<Option<IntegrationRecord>>> {
        self.run(move |c| {
            Box::pin(async move {
                let sql = format!("SELECT {INTEGRATION_COLUMNS} FROM integrations WHERE tenant_id = $1 AND id = $2");
                c.query_opt(&sql, &[&tenant, &id]).await?.as_ref().map(integration_row).transpose()
            })
        })
    }

    fn integration_tenant(&self, id: String) -> BoxFuture<'static, StoreResult<Option<String>>> {
        self.run(move |c| {
            Box::pin(async move {
                c.query_opt("SELECT tenant_id FROM integrations WHERE id = $1", &[&id])
                    .await?
                    .map(|r| r.try_get(0))
                    .transpose()
            })
        })
    }

    fn put_integration(&self, r: IntegrationRecord) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            Box::pin(async move {
                let sql = format!(
                    "INSERT INTO integrations ({INTEGRATION_COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, $7, $8
                     WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $8)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, provider = excluded.provider,
                       enabled = excluded.enabled, options = excluded.options, created_at = excluded.created_at,
                       updated_at = excluded.updated_at
                     WHERE integrations.tenant_id = excluded.tenant_id"
                );
                let options = r.options.to_string();
                let n = c
                    .execute(
                        &sql,
                        &[
                            &r.id,
                            &r.name,
                            &r.provider,
                            &r.enabled,
                            &options,
                            &r.created_at,
                            &r.updated_at,
                            &r.tenant_id,
                        ],
                    )
                    .await?;
                Ok(n > 0)
            })
        })
    }

    fn delete_integration(&self, tenant: String, id: String) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            Box::pin(async move {
                let tx = c.transaction().await?;
                let deleted =
                    tx.execute("DELETE FROM integrations WHERE tenant_id = $1 AND id = $2", &[&tenant, &id]).await?;
                // Also when the integration was already gone: a session written after it left is an orphan.
                tx.execute("DELETE FROM sessions WHERE tenant_id = $1 AND integration_id = $2", &[&tenant, &id])
                    .await?;
                tx.commit().await?;
                Ok(deleted > 0)
            })
        })
    }

    fn list_xperts(&self, tenant: String) -> BoxFuture<'static, StoreResult<Vec<XpertRecord>>> {
        self.run(move |c| {
            Box::pin(async move {
                let sql = format!("SELECT {XPERT_COLUMNS} FROM xperts WHERE tenant_id = $1 ORDER BY created_at, id");
                rows(c.query(&sql, &[&tenant]).await?, xpert_row)
            })
        })
    }

    fn get_xpert(&self, tenant: String, id: String) -> BoxFuture<'static, StoreResult<Option<XpertRecord>>> {
        self.run(move |c| {
            Box::pin(async move {
                let sql = format!("SELECT {XPERT_COLUMNS} FROM xperts WHERE tenant_id = $1 AND id = $2");
                c.query_opt(&sql, &[&tenant, &id]).await?.as_ref().map(xpert_row).transpose()
            })
        })
    }

    fn xpert_agent(&self, tenant: String, id: String) -> BoxFuture<'static, StoreResult<Option<serde_json::Value>>> {
        self.run(move |c| {
            Box::pin(async move {
                let row =
                    c.query_opt("SELECT agent FROM xperts WHERE tenant_id = $1 AND id = $2", &[&tenant, &id]).await?;
                row.map(|r| {
                    r.try_get::<_, String>(0).map(|a| serde_json::from_str(&a).unwrap_or(serde_json::Value::Null))
                })
                .transpose()
            })
        })
    }

    fn delete_xpert(&self, tenant: String, id: String) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            Box::pin(async move {
                let n = c.execute("DELETE FROM xperts WHERE tenant_id = $1 AND id = $2", &[&tenant, &id]).await?;
                Ok(n > 0)
            })
        })
    }

    fn put_xpert(&self, r: XpertRecord) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            Box::pin(async move {
                let sql = format!(
                    "INSERT INTO xperts ({XPERT_COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
                     WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $9)
                     ON CONFLICT (id) DO UPDATE SET name = excluded.name, agent = excluded.agent,
                       triggers = excluded.triggers, published = excluded.published,
                       published_triggers = excluded.published_triggers, created_at = excluded.created_at,
                       updated_at = excluded.updated_at
                     WHERE xperts.tenant_id = excluded.tenant_id"
                );
                let (agent, triggers, published_triggers) =
                    (r.agent.to_string(), r.triggers.to_string(), r.published_triggers.to_string());
                let n = c
                    .execute(
                        &sql,
                        &[
                            &r.id,
                            &r.name,
                            &agent,
                            &triggers,
                            &r.published,
                            &published_triggers,
                            &r.created_at,
                            &r.updated_at,
                            &r.tenant_id,
                        ],
                    )
                    .await?;
                Ok(n > 0)
            })
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
            Box::pin(async move {
                c.execute(
                    "INSERT INTO conversations (id, xpert_id, created_at, tenant_id) SELECT $1, $2, $3, $4
                     WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $4)",
                    &[&id, &xpert_id, &now, &tenant],
                )
                .await?;
                Ok(())
            })
        })
    }

    fn conversation_exists(
        &self,
        tenant: String,
        id: String,
        xpert_id: String,
    ) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            Box::pin(async move {
                let row = c
                    .query_opt(
                        "SELECT 1 FROM conversations WHERE tenant_id = $1 AND id = $2 AND xpert_id = $3",
                        &[&tenant, &id, &xpert_id],
                    )
                    .await?;
                Ok(row.is_some())
            })
        })
    }

    fn append_message(
        &self,
        tenant: String,
        conversation_id: String,
        m: MessageRecord,
    ) -> BoxFuture<'static, StoreResult<()>> {
        self.run(move |c| {
            Box::pin(async move {
                let tx = c.transaction().await?;
                // Locking the conversation orders concurrent appends (SQLite's single writer does
                // the same), so two hosts never pick the same sequence number.
                let owned = tx
                    .query_opt(
                        "SELECT 1 FROM conversations WHERE id = $1 AND tenant_id = $2 FOR UPDATE",
                        &[&conversation_id, &tenant],
                    )
                    .await?;
                if owned.is_none() {
                    return Ok(());
                }
                tx.execute(
                    "INSERT INTO messages (conversation_id, seq, role, content)
                     SELECT $1, (SELECT COALESCE(MAX(seq), 0) + 1 FROM messages WHERE conversation_id = $1), $2, $3",
                    &[&conversation_id, &m.role, &m.content],
                )
                .await?;
                tx.commit().await
            })
        })
    }

    fn messages(&self, tenant: String, conversation_id: String) -> BoxFuture<'static, StoreResult<Vec<MessageRecord>>> {
        self.run(move |c| {
            Box::pin(async move {
                let r = c
                    .query(
                        "SELECT m.role, m.content FROM messages m JOIN conversations c ON c.id = m.conversation_id
                         WHERE c.tenant_id = $1 AND m.conversation_id = $2 ORDER BY m.seq",
                        &[&tenant, &conversation_id],
                    )
                    .await?;
                r.iter().map(|r| Ok(MessageRecord { role: r.try_get(0)?, content: r.try_get(1)? })).collect()
            })
        })
    }

    fn session_put(&self, tenant: String, r: SessionRecord) -> BoxFuture<'static, StoreResult<()>> {
        self.run(move |c| {
            Box::pin(async move {
                let sql = format!(
                    "INSERT INTO sessions (tenant_id, {SESSION_COLUMNS}) SELECT $1, $2, $3, $4, $5, $6, $7, $8, $9
                     WHERE EXISTS (SELECT 1 FROM tenants WHERE id = $1)
                     ON CONFLICT (tenant_id, integration_id, session_key) DO UPDATE SET
                       chat_type = excluded.chat_type, chat_id = excluded.chat_id, sender_id = excluded.sender_id,
                       xpert_id = excluded.xpert_id, conversation_id = excluded.conversation_id,
                       updated_at_ms = excluded.updated_at_ms"
                );
                c.execute(
                    &sql,
                    &[
                        &tenant,
                        &r.integration_id,
                        &r.session_key,
                        &r.chat_type,
                        &r.chat_id,
                        &r.sender_id,
                        &r.xpert_id,
                        &r.conversation_id,
                        &r.updated_at_ms,
                    ],
                )
                .await?;
                Ok(())
            })
        })
    }

    fn session_get(
        &self,
        tenant: String,
        integration_id: String,
        session_key: String,
    ) -> BoxFuture<'static, StoreResult<Option<SessionRecord>>> {
        self.run(move |c| {
            Box::pin(async move {
                let sql = format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions
                     WHERE tenant_id = $1 AND integration_id = $2 AND session_key = $3"
                );
                c.query_opt(&sql, &[&tenant, &integration_id, &session_key])
                    .await?
                    .as_ref()
                    .map(session_row)
                    .transpose()
            })
        })
    }

    fn session_delete(
        &self,
        tenant: String,
        integration_id: String,
        session_key: String,
    ) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            Box::pin(async move {
                let n = c
                    .execute(
                        "DELETE FROM sessions WHERE tenant_id = $1 AND integration_id = $2 AND session_key = $3",
                        &[&tenant, &integration_id, &session_key],
                    )
                    .await?;
                Ok(n > 0)
            })
        })
    }

    fn session_delete_integration(
        &self,
        tenant: String,
        integration_id: String,
    ) -> BoxFuture<'static, StoreResult<u64>> {
        self.run(move |c| {
            Box::pin(async move {
                c.execute(
                    "DELETE FROM sessions WHERE tenant_id = $1 AND integration_id = $2",
                    &[&tenant, &integration_id],
                )
                .await
            })
        })
    }

    fn session_query(&self, tenant: String, q: SessionQuery) -> BoxFuture<'static, StoreResult<SessionPage>> {
        self.run(move |c| {
            Box::pin(async move {
                let pattern = q.needle().map(|n| like_contains(&n));
                let column = session_sort_column(q.sort_by);
                // A missing conversation id sorts first ascending (as in SQLite), last descending.
                let (direction, nulls) = if q.descending { ("DESC", "NULLS LAST") } else { ("ASC", "NULLS FIRST") };
                // One snapshot for the page and its total.
                let tx = c
                    .build_transaction()
                    .isolation_level(tokio_postgres::IsolationLevel::RepeatableRead)
                    .read_only(true)
                    .start()
                    .await?;
                let total: i64 = tx
                    .query_one(
                        &format!("SELECT COUNT(*) FROM sessions WHERE {SESSION_FILTER}"),
                        &[&tenant, &q.integration_id, &pattern],
                    )
                    .await?
                    .try_get(0)?;
                let sql = format!(
                    "SELECT {SESSION_COLUMNS} FROM sessions WHERE {SESSION_FILTER}
                     ORDER BY {column} {direction} {nulls}, session_key {direction} LIMIT $4 OFFSET $5"
                );
                let (limit, offset) = (q.effective_limit() as i64, q.offset as i64);
                let items =
                    rows(tx.query(&sql, &[&tenant, &q.integration_id, &pattern, &limit, &offset]).await?, session_row)?;
                tx.commit().await?;
                Ok(SessionPage { items, total: total as u64 })
            })
        })
    }

    fn kv_get(&self, key: String, now: i64) -> BoxFuture<'static, StoreResult<Option<String>>> {
        self.run(move |c| {
            Box::pin(async move {
                let sql = format!("SELECT value FROM plugin_kv WHERE key = $1 AND {}", live("$2"));
                c.query_opt(&sql, &[&key, &now]).await?.map(|r| r.try_get(0)).transpose()
            })
        })
    }

    fn kv_set(&self, key: String, value: String, expires_at: Option<i64>) -> BoxFuture<'static, StoreResult<()>> {
        self.run(move |c| {
            Box::pin(async move {
                c.execute(
                    "INSERT INTO plugin_kv (key, value, expires_at) VALUES ($1, $2, $3)
                     ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at",
                    &[&key, &value, &expires_at],
                )
                .await?;
                Ok(())
            })
        })
    }

    fn kv_cas(
        &self,
        key: String,
        expected: Option<String>,
        value: String,
        expires_at: Option<i64>,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            Box::pin(async move {
                // One statement each way: the row lock of the insert-or-update (or update)
                // decides, never a read followed by a write.
                let n = match expected {
                    None => {
                        c.execute(
                            "INSERT INTO plugin_kv (key, value, expires_at) VALUES ($1, $2, $3)
                             ON CONFLICT (key) DO UPDATE SET value = excluded.value, expires_at = excluded.expires_at
                             WHERE plugin_kv.expires_at IS NOT NULL AND plugin_kv.expires_at <= $4",
                            &[&key, &value, &expires_at, &now],
                        )
                        .await?
                    }
                    Some(expected) => {
                        let sql = format!(
                            "UPDATE plugin_kv SET value = $2, expires_at = $3 WHERE key = $1 AND value = $4 AND {}",
                            live("$5")
                        );
                        c.execute(&sql, &[&key, &value, &expires_at, &expected, &now]).await?
                    }
                };
                Ok(n > 0)
            })
        })
    }

    fn kv_delete(&self, key: String, expected: Option<String>, now: i64) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            Box::pin(async move {
                // Deletes the live row when it matches, and an expired row in any case; answers
                // whether a live matching row was among them.
                let sql = format!(
                    "DELETE FROM plugin_kv WHERE key = $1 AND (NOT {live} OR $2::text IS NULL OR value = $2)
                     RETURNING {live} AS was_live",
                    live = live("$3")
                );
                let deleted = c.query_opt(&sql, &[&key, &expected, &now]).await?;
                Ok(match deleted {
                    Some(row) => row.try_get::<_, bool>(0)?,
                    None => false,
                })
            })
        })
    }

    fn kv_scan(
        &self,
        prefix: String,
        after: String,
        limit: u32,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<Vec<(String, String)>>> {
        self.run(move |c| {
            Box::pin(async move {
                // `prefix <= key < successor` bounds the index range (so a scan never walks the
                // keys after the prefix); `starts_with` keeps every character literal.
                let upper = prefix_successor(&prefix);
                let sql = format!(
                    "SELECT key, value FROM plugin_kv
                     WHERE key >= $1 AND ($5::text IS NULL OR key < $5) AND starts_with(key, $1) AND key > $2
                       AND {}
                     ORDER BY key LIMIT $4",
                    live("$3")
                );
                let r = c.query(&sql, &[&prefix, &after, &now, &(limit as i64), &upper]).await?;
                r.iter().map(|r| Ok((r.try_get(0)?, r.try_get(1)?))).collect()
            })
        })
    }

    fn lease_acquire(
        &self,
        key: String,
        owner: String,
        ttl_ms: u64,
        now: i64,
    ) -> BoxFuture<'static, StoreResult<Option<Lease>>> {
        self.run(move |c| {
            Box::pin(async move {
                let expires = now.saturating_add(ttl_ms.min(i64::MAX as u64) as i64);
                // One statement: a free (or lapsed) lease is taken with the next token, the
                // holder's own is extended with its token, anyone else's is left alone.
                let row = c
                    .query_opt(
                        "INSERT INTO plugin_leases AS l (key, owner, token, expires_at) VALUES ($1, $2, 1, $3)
                         ON CONFLICT (key) DO UPDATE SET
                           token = CASE WHEN l.expires_at > $4 THEN l.token ELSE l.token + 1 END,
                           owner = excluded.owner, expires_at = excluded.expires_at
                         WHERE l.expires_at <= $4 OR l.owner = excluded.owner
                         RETURNING key, owner, token, expires_at",
                        &[&key, &owner, &expires, &now],
                    )
                    .await?;
                row.as_ref().map(lease_row).transpose()
            })
        })
    }

    fn lease_renew(&self, lease: Lease, ttl_ms: u64, now: i64) -> BoxFuture<'static, StoreResult<Option<Lease>>> {
        self.run(move |c| {
            Box::pin(async move {
                let expires = now.saturating_add(ttl_ms.min(i64::MAX as u64) as i64);
                let n = c
                    .execute(
                        "UPDATE plugin_leases SET expires_at = $1
                         WHERE key = $2 AND owner = $3 AND token = $4 AND expires_at > $5",
                        &[&expires, &lease.key, &lease.owner, &(lease.token as i64), &now],
                    )
                    .await?;
                Ok((n > 0).then_some(Lease { expires_at_ms: expires, ..lease }))
            })
        })
    }

    fn lease_release(&self, lease: Lease, now: i64) -> BoxFuture<'static, StoreResult<bool>> {
        self.run(move |c| {
            Box::pin(async move {
                // Keep the row (and its token) so the next holder gets a larger token.
                let n = c
                    .execute(
                        "UPDATE plugin_leases SET expires_at = 0
                         WHERE key = $1 AND owner = $2 AND token = $3 AND expires_at > $4",
                        &[&lease.key, &lease.owner, &(lease.token as i64), &now],
                    )
                    .await?;
                Ok(n > 0)
            })
        })
    }

    fn lease_current(&self, key: String, now: i64) -> BoxFuture<'static, StoreResult<Option<Lease>>> {
        self.run(move |c| {
            Box::pin(async move {
                c.query_opt(
                    "SELECT key, owner, token, expires_at FROM plugin_leases WHERE key = $1 AND expires_at > $2",
                    &[&key, &now],
                )
                .await?
                .as_ref()
                .map(lease_row)
                .transpose()
            })
        })
    }

    fn lease_release_owner(&self, owner: String) -> BoxFuture<'static, StoreResult<usize>> {
        self.run(move |c| {
            Box::pin(async move {
                // A plugin may qualify its owner names (`<instance>#<what holds it>`): those are
                // the instance's too.
                let n = c
                    .execute(
                        "UPDATE plugin_leases SET expires_at = 0
                         WHERE (owner = $1 OR starts_with(owner, $1 || '#')) AND expires_at > 0",
                        &[&owner],
                    )
                    .await?;
                Ok(n as usize)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn migrations_apply_once_when_several_hosts_start_together() {
        // Reachability and the skip rule first.
        let Some(pg) = super::super::conformance::servers::postgres().await else { return };
        let schema = format!("{}_fresh", pg.schema);
        let config = super::super::conformance::servers::database_config();
        let (admin, connection) = config.connect(NoTls).await.expect("connect");
        tokio::spawn(connection);
        admin.batch_execute(&format!("CREATE SCHEMA {schema}")).await.expect("schema");
        let mut fresh = config.clone();
        fresh.options(format!("-c search_path={schema}"));
        let starts: Vec<_> =
            (0..3).map(|_| tokio::spawn(PgStore::connect(fresh.clone(), PgOptions::default()))).collect();
        let mut stores = Vec::new();
        for start in starts {
            stores.push(start.await.expect("task").expect("every host starts"));
        }
        for store in &stores {
            assert_eq!(store.schema_version().await.expect("version"), MIGRATIONS.len() as i64);
        }
        let rows: i64 =
            admin.query_one(&format!("SELECT COUNT(*) FROM {schema}.schema_version"), &[]).await.expect("count").get(0);
        assert_eq!(rows, MIGRATIONS.len() as i64, "each migration recorded once");
        let tenants = stores[0].list_tenants().await.expect("tenants");
        assert_eq!(tenants.iter().map(|t| t.id.as_str()).collect::<Vec<_>>(), [DEFAULT_TENANT], "seeded once");
        drop(stores);
        admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).await.expect("drop");
        pg.drop_schema().await;
    }

    #[test]
    fn the_prefix_successor_bounds_exactly_the_keys_under_the_prefix() {
        assert_eq!(prefix_successor("p:").as_deref(), Some("p;"));
        assert_eq!(prefix_successor("wecom/t/").as_deref(), Some("wecom/t0"));
        assert_eq!(prefix_successor("a\u{D7FF}").as_deref(), Some("a\u{E000}"));
        assert_eq!(prefix_successor("a\u{10FFFF}").as_deref(), Some("b"));
        assert_eq!(prefix_successor("\u{10FFFF}"), None);
        assert_eq!(prefix_successor(""), None);
        let upper = prefix_successor("p:é").unwrap();
        for under in ["p:é", "p:éa", "p:é\u{10FFFF}"] {
            assert!(under.as_bytes() < upper.as_bytes(), "{under:?}");
        }
        assert!("p:ê".as_bytes() >= upper.as_bytes());
    }

    #[test]
    fn errors_and_descriptions_never_carry_the_password() {
        let config = parse_url("postgres://app:s3cret-pw@db.example:6543/xpert").unwrap();
        assert_eq!(describe(&config), "db.example:6543/xpert");
        let bad = parse_url("postgres://app:s3cret-pw@db.example:notaport/xpert").unwrap_err().to_string();
        assert!(!bad.contains("s3cret-pw"), "{bad}");
        assert!(bad.contains("XPERT_DATABASE_URL"), "{bad}");
    }
}

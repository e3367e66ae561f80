//! The plugin KV and the leases on Redis (`XPERT_REDIS_URL=redis://…`), for several hosts. Every
//! operation is one Lua script, so Redis decides it atomically (never a read in the host followed
//! by a write), and every script reads Redis's own clock (`TIME`), so all hosts agree on when a
//! value or a lease expires.
//!
//! Layout, under a key prefix `P` (default `xpert:`):
//! - `P kv:v` — hash: key → value;
//! - `P kv:i` — sorted set, every score 0: the keys in byte order, so a prefix scan is a
//!   `ZRANGEBYLEX` range that pages with `after` + `limit`;
//! - `P kv:e` — sorted set: TTL'd keys scored by their expiry (Unix ms). A key is live while it
//!   has no expiry or its expiry is later than now; writes purge a bounded batch of expired keys
//!   from all three, and reads and scans skip (and purge) the expired ones they meet;
//! - `P ls:o`, `P ls:t`, `P ls:x` — hashes: lease key → owner, fencing token, expiry (Unix ms).
//!   A released or lapsed lease keeps its token, so the next holder's is larger;
//! - `P ls:w` — sorted set, every score 0: `owner NUL key` for each key's last owner, so that
//!   releasing an instance's leases at shutdown reads a lex range, not every lease.
//!
//! Scripts touch only the keys they are given, all under one prefix: with a hash tag in the prefix
//! (`{xpert}:`) they all live in one slot, as a Redis Cluster would require.
//!
//! The connection manager reconnects by itself after a lost connection; calls made meanwhile
//! fail with [`RedisStoreError::Unavailable`].

use std::sync::Arc;
use std::time::Duration;

use host_sdk::host::{KvBackend, LeaseBackend};
use host_sdk::{BoxFuture, Error, KvEntry, Lease};
use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::Script;

use super::{SharedState, StoreError, StoreResult};

/// A Redis failure. Messages name the server as `host:port/db`, never the URL (it may carry a
/// password).
#[derive(Debug, Clone, thiserror::Error)]
pub enum RedisStoreError {
    /// `XPERT_REDIS_URL` could not be parsed.
    #[error("XPERT_REDIS_URL is not a valid Redis URL (redis://[user:password@]host:port[/db])")]
    InvalidUrl,
    /// `rediss://`: this build has no TLS client for Redis.
    #[error("XPERT_REDIS_URL asks for TLS (rediss://), which this build does not include: use redis:// on a trusted network")]
    TlsUnsupported,
    /// The server cannot be reached, or the connection was lost (the client reconnects).
    #[error("Redis at {target} is unavailable: {message}")]
    Unavailable {
        /// `host:port/db`.
        target: String,
        /// What happened.
        message: String,
    },
    /// The server refused a command.
    #[error("Redis at {target}: {message}")]
    Command {
        /// `host:port/db`.
        target: String,
        /// The server's message.
        message: String,
    },
}

impl From<RedisStoreError> for StoreError {
    fn from(e: RedisStoreError) -> Self {
        match e {
            RedisStoreError::Unavailable { .. } => StoreError::unavailable(e.to_string()),
            _ => StoreError::new(e.to_string()),
        }
    }
}

impl From<RedisStoreError> for Error {
    fn from(e: RedisStoreError) -> Self {
        match e {
            RedisStoreError::Unavailable { .. } => Error::unavailable(e.to_string()),
            _ => Error::internal(e.to_string()),
        }
    }
}

/// Tunables of the Redis backend.
#[derive(Clone, Debug)]
pub struct RedisOptions {
    /// Prefix of every key this host writes (several deployments can share one Redis).
    pub prefix: String,
    /// How long one call may wait for its answer.
    pub response_timeout: Duration,
    /// How long one connection attempt may take.
    pub connect_timeout: Duration,
    /// How often an idle connection is checked (`PING`), so that a lost one is re-established
    /// in the background rather than by the next call (which would fail).
    pub keepalive: Duration,
}

impl Default for RedisOptions {
    fn default() -> Self {
        RedisOptions {
            prefix: "xpert:".into(),
            response_timeout: Duration::from_secs(5),
            connect_timeout: Duration::from_secs(3),
            keepalive: Duration::from_secs(1),
        }
    }
}

/// Shared Lua: Redis's clock in ms, purging of expired keys, and the live value of a key.
/// KEYS: 1 values hash, 2 lex index, 3 expiry index.
const KV_LIB: &str = r#"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function forget(k)
  redis.call('HDEL', KEYS[1], k)
  redis.call('ZREM', KEYS[2], k)
  redis.call('ZREM', KEYS[3], k)
end
local function purge(now)
  local dead = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', now, 'LIMIT', 0, 64)
  for _, k in ipairs(dead) do forget(k) end
end
local function live(k, now)
  local v = redis.call('HGET', KEYS[1], k)
  if not v then return false end
  local e = redis.call('ZSCORE', KEYS[3], k)
  if e and tonumber(e) <= now then
    forget(k)
    return false
  end
  return v
end
local function write(k, v, ttl, now)
  redis.call('HSET', KEYS[1], k, v)
  redis.call('ZADD', KEYS[2], 0, k)
  if ttl > 0 then
    redis.call('ZADD', KEYS[3], now + ttl, k)
  else
    redis.call('ZREM', KEYS[3], k)
  end
end
"#;

/// ARGV: key → value or nil.
const KV_GET: &str = r#"
local v = live(ARGV[1], now_ms())
if v then return v end
return nil
"#;

/// ARGV: key, value, ttl_ms.
const KV_SET: &str = r#"
local now = now_ms()
purge(now)
write(ARGV[1], ARGV[2], tonumber(ARGV[3]), now)
return 1
"#;

/// ARGV: key, value, ttl_ms, has_expected (0/1), expected → 1 when written.
const KV_CAS: &str = r#"
local now = now_ms()
purge(now)
local cur = live(ARGV[1], now)
if ARGV[4] == '1' then
  if cur ~= ARGV[5] then return 0 end
else
  if cur then return 0 end
end
write(ARGV[1], ARGV[2], tonumber(ARGV[3]), now)
return 1
"#;

/// ARGV: key, has_expected (0/1), expected → 1 when a live (matching) value was deleted.
const KV_DELETE: &str = r#"
local now = now_ms()
purge(now)
local cur = live(ARGV[1], now)
if not cur then return 0 end
if ARGV[2] == '1' and cur ~= ARGV[3] then return 0 end
forget(ARGV[1])
return 1
"#;

/// ARGV: min and max lex bounds, limit → flat list key, value, key, value…
const KV_SCAN: &str = r#"
local now = now_ms()
local limit = tonumber(ARGV[3])
local out = {}
local min = ARGV[1]
local found = 0
while found < limit do
  local batch = redis.call('ZRANGEBYLEX', KEYS[2], min, ARGV[2], 'LIMIT', 0, limit - found + 16)
  if #batch == 0 then break end
  for _, k in ipairs(batch) do
    local v = live(k, now)
    if v then
      out[#out + 1] = k
      out[#out + 1] = v
      found = found + 1
      if found >= limit then break end
    end
  end
  min = '(' .. batch[#batch]
end
return out
"#;

/// ARGV: keys to delete (tenant deletion) → how many were there.
const KV_FORGET: &str = r#"
local n = 0
for _, k in ipairs(ARGV) do
  if redis.call('HEXISTS', KEYS[1], k) == 1 then n = n + 1 end
  forget(k)
end
return n
"#;

/// Shared Lua for leases. KEYS: 1 owners, 2 tokens, 3 expiries, 4 the owner index.
const LEASE_LIB: &str = r#"
local function now_ms()
  local t = redis.call('TIME')
  return tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local function held(k, now)
  local x = tonumber(redis.call('HGET', KEYS[3], k) or '0')
  return x > now, x
end
"#;

/// ARGV: key, owner, ttl_ms → {token, expires} or nil when another owner holds it.
const LEASE_ACQUIRE: &str = r#"
local now = now_ms()
local k, owner, ttl = ARGV[1], ARGV[2], tonumber(ARGV[3])
local is_held = held(k, now)
local token = tonumber(redis.call('HGET', KEYS[2], k) or '0')
if is_held then
  if redis.call('HGET', KEYS[1], k) ~= owner then return nil end
else
  token = token + 1
  local previous = redis.call('HGET', KEYS[1], k)
  if previous then redis.call('ZREM', KEYS[4], previous .. '\0' .. k) end
  redis.call('ZADD', KEYS[4], 0, owner .. '\0' .. k)
  redis.call('HSET', KEYS[1], k, owner)
  redis.call('HSET', KEYS[2], k, token)
end
redis.call('HSET', KEYS[3], k, now + ttl)
return {token, now + ttl}
"#;

/// ARGV: key, owner, token, ttl_ms → new expiry, or nil when the lease was lost.
const LEASE_RENEW: &str = r#"
local now = now_ms()
local k = ARGV[1]
local is_held = held(k, now)
if not is_held or redis.call('HGET', KEYS[1], k) ~= ARGV[2] or redis.call('HGET', KEYS[2], k) ~= ARGV[3] then
  return nil
end
redis.call('HSET', KEYS[3], k, now + tonumber(ARGV[4]))
return now + tonumber(ARGV[4])
"#;

/// ARGV: key, owner, token → 1 when released.
const LEASE_RELEASE: &str = r#"
local now = now_ms()
local k = ARGV[1]
local is_held = held(k, now)
if not is_held or redis.call('HGET', KEYS[1], k) ~= ARGV[2] or redis.call('HGET', KEYS[2], k) ~= ARGV[3] then
  return 0
end
redis.call('HSET', KEYS[3], k, 0)
return 1
"#;

/// ARGV: key → {owner, token, expires} or nil.
const LEASE_CURRENT: &str = r#"
local now = now_ms()
local k = ARGV[1]
local is_held, x = held(k, now)
if not is_held then return nil end
return {redis.call('HGET', KEYS[1], k), tonumber(redis.call('HGET', KEYS[2], k)), x}
"#;

/// ARGV: min and max lex bounds of `owner NUL`…, then of `owner #`… → how many live leases of
/// the owner (or of `<owner>#…`) were released.
const LEASE_RELEASE_OWNER: &str = r#"
local now = now_ms()
local n = 0
for range = 0, 1 do
  local members = redis.call('ZRANGEBYLEX', KEYS[4], ARGV[1 + 2 * range], ARGV[2 + 2 * range])
  for _, m in ipairs(members) do
    local cut = string.find(m, '\0', 1, true)
    local o, k = string.sub(m, 1, cut - 1), string.sub(m, cut + 1)
    local is_held = held(k, now)
    if is_held and redis.call('HGET', KEYS[1], k) == o then
      redis.call('HSET', KEYS[3], k, 0)
      n = n + 1
    end
  end
end
return n
"#;

struct Scripts {
    kv_get: Script,
    kv_set: Script,
    kv_cas: Script,
    kv_delete: Script,
    kv_scan: Script,
    kv_forget: Script,
    lease_acquire: Script,
    lease_renew: Script,
    lease_release: Script,
    lease_current: Script,
    lease_release_owner: Script,
}

impl Scripts {
    fn new() -> Self {
        let kv = |body: &str| Script::new(&format!("{KV_LIB}{body}"));
        let lease = |body: &str| Script::new(&format!("{LEASE_LIB}{body}"));
        Scripts {
            kv_get: kv(KV_GET),
            kv_set: kv(KV_SET),
            kv_cas: kv(KV_CAS),
            kv_delete: kv(KV_DELETE),
            kv_scan: kv(KV_SCAN),
            kv_forget: kv(KV_FORGET),
            lease_acquire: lease(LEASE_ACQUIRE),
            lease_renew: lease(LEASE_RENEW),
            lease_release: lease(LEASE_RELEASE),
            lease_current: lease(LEASE_CURRENT),
            lease_release_owner: lease(LEASE_RELEASE_OWNER),
        }
    }
}

/// The KV and leases on Redis. Cheap to clone. Expiries, a lease's `expires_at_ms` included, are
/// on Redis's clock (one clock for every host); a holder should count its lease lost at its last
/// successful renewal plus the TTL minus a margin, by its own clock.
#[derive(Clone)]
pub struct RedisShared {
    /// The keep-alive task runs while a clone of this lives.
    _alive: Arc<()>,
    conn: ConnectionManager,
    target: Arc<str>,
    kv_keys: Arc<[String]>,
    lease_keys: Arc<[String]>,
    scripts: Arc<Scripts>,
}

/// `host:port/db` of a Redis URL (no credentials), or `None` when it is not one.
pub fn describe(url: &str) -> Option<String> {
    let info: redis::ConnectionInfo = redis::IntoConnectionInfo::into_connection_info(url).ok()?;
    Some(format!("{}/{}", info.addr(), info.redis_settings().db()))
}

impl RedisShared {
    /// Connects (failing when Redis cannot be reached now) with a client that reconnects by
    /// itself later.
    pub async fn connect(url: &str, options: RedisOptions) -> Result<RedisShared, RedisStoreError> {
        if url.trim_start().to_ascii_lowercase().starts_with("rediss://") {
            return Err(RedisStoreError::TlsUnsupported);
        }
        let target = describe(url).ok_or(RedisStoreError::InvalidUrl)?;
        let client = redis::Client::open(url).map_err(|_| RedisStoreError::InvalidUrl)?;
        let config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(options.connect_timeout))
            .set_response_timeout(Some(options.response_timeout))
            .set_number_of_retries(2)
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500));
        let conn = ConnectionManager::new_with_config(client, config).await.map_err(|e| classify(&target, e))?;
        let alive = Arc::new(());
        keep_connected(conn.clone(), Arc::downgrade(&alive), options.keepalive);
        let p = &options.prefix;
        Ok(RedisShared {
            _alive: alive,
            conn,
            target: target.into(),
            kv_keys: Arc::from([format!("{p}kv:v"), format!("{p}kv:i"), format!("{p}kv:e")]),
            lease_keys: Arc::from([format!("{p}ls:o"), format!("{p}ls:t"), format!("{p}ls:x"), format!("{p}ls:w")]),
            scripts: Arc::new(Scripts::new()),
        })
    }

    /// `host:port/db` (no credentials).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Runs one script with `keys` (the KV's or the leases') and `args`.
    fn invoke<T: redis::FromRedisValue + Send + 'static>(
        &self,
        pick: fn(&Scripts) -> &Script,
        keys: Arc<[String]>,
        args: Vec<Vec<u8>>,
    ) -> BoxFuture<'static, Result<T, RedisStoreError>> {
        let scripts = self.scripts.clone();
        let mut conn = self.conn.clone();
        let target = self.target.clone();
        Box::pin(async move {
            let mut call = pick(&scripts).prepare_invoke();
            for k in keys.iter() {
                call.key(k);
            }
            for a in &args {
                call.arg(a.as_slice());
            }
            call.invoke_async(&mut conn).await.map_err(|e| classify(&target, e))
        })
    }

    fn kv<T: redis::FromRedisValue + Send + 'static>(
        &self,
        script: fn(&Scripts) -> &Script,
        args: Vec<Vec<u8>>,
    ) -> BoxFuture<'static, Result<T, Error>> {
        let f = self.invoke::<T>(script, self.kv_keys.clone(), args);
        Box::pin(async move { f.await.map_err(Error::from) })
    }

    fn lease<T: redis::FromRedisValue + Send + 'static>(
        &self,
        script: fn(&Scripts) -> &Script,
        args: Vec<Vec<u8>>,
    ) -> BoxFuture<'static, Result<T, Error>> {
        let f = self.invoke::<T>(script, self.lease_keys.clone(), args);
        Box::pin(async move { f.await.map_err(Error::from) })
    }
}

/// Pings through `conn` every `period` until the backend is dropped: the connection manager
/// reconnects when a call fails, so a lost connection is found and replaced by this task, not by
/// a plugin's next call.
fn keep_connected(conn: ConnectionManager, alive: std::sync::Weak<()>, period: Duration) {
    tokio::spawn(async move {
        let mut conn = conn;
        loop {
            tokio::time::sleep(period).await;
            if alive.strong_count() == 0 {
                return;
            }
            let _: Result<String, _> = redis::cmd("PING").query_async(&mut conn).await;
        }
    });
}

fn classify(target: &str, e: redis::RedisError) -> RedisStoreError {
    let target = target.to_string();
    if e.is_io_error() || e.is_timeout() || e.is_connection_dropped() || e.is_connection_refusal() {
        RedisStoreError::Unavailable { target, message: e.to_string() }
    } else {
        RedisStoreError::Command { target, message: e.to_string() }
    }
}

fn arg(s: impl Into<String>) -> Vec<u8> {
    s.into().into_bytes()
}

fn flag(b: bool) -> Vec<u8> {
    if b {
        b"1".to_vec()
    } else {
        b"0".to_vec()
    }
}

/// The `ZRANGEBYLEX` bounds of "keys under `prefix`, strictly after `after`". Keys are UTF-8, so
/// no key contains the byte 0xFF: `prefix` + 0xFF bounds the range from above.
fn scan_bounds(prefix: &str, after: &str) -> (Vec<u8>, Vec<u8>) {
    let min = if after.is_empty() || after.as_bytes() < prefix.as_bytes() {
        if prefix.is_empty() {
            b"-".to_vec()
        } else {
            [b"[", prefix.as_bytes()].concat()
        }
    } else {
        [b"(", after.as_bytes()].concat()
    };
    let max = if prefix.is_empty() { b"+".to_vec() } else { [b"[", prefix.as_bytes(), &[0xFF]].concat() };
    (min, max)
}

impl KvBackend for RedisShared {
    fn get(&self, key: String) -> BoxFuture<'static, Result<Option<String>, Error>> {
        self.kv(|s| &s.kv_get, vec![arg(key)])
    }
    fn set(&self, key: String, value: String, ttl_ms: u64) -> BoxFuture<'static, Result<(), Error>> {
        let f = self.kv::<i64>(|s| &s.kv_set, vec![arg(key), arg(value), arg(ttl_ms.to_string())]);
        Box::pin(async move { f.await.map(|_| ()) })
    }
    fn set_if_absent(&self, key: String, value: String, ttl_ms: u64) -> BoxFuture<'static, Result<bool, Error>> {
        self.kv(|s| &s.kv_cas, vec![arg(key), arg(value), arg(ttl_ms.to_string()), flag(false), Vec::new()])
    }
    fn compare_and_swap(
        &self,
        key: String,
        expected: Option<String>,
        value: String,
        ttl_ms: u64,
    ) -> BoxFuture<'static, Result<bool, Error>> {
        let has = expected.is_some();
        let args = vec![arg(key), arg(value), arg(ttl_ms.to_string()), flag(has), arg(expected.unwrap_or_default())];
        self.kv(|s| &s.kv_cas, args)
    }
    fn delete(&self, key: String) -> BoxFuture<'static, Result<bool, Error>> {
        self.kv(|s| &s.kv_delete, vec![arg(key), flag(false), Vec::new()])
    }
    fn compare_and_delete(&self, key: String, expected: String) -> BoxFuture<'static, Result<bool, Error>> {
        self.kv(|s| &s.kv_delete, vec![arg(key), flag(true), arg(expected)])
    }
    fn scan_prefix(
        &self,
        prefix: String,
        after: String,
        limit: u32,
    ) -> BoxFuture<'static, Result<Vec<KvEntry>, Error>> {
        if limit == 0 {
            return Box::pin(async { Ok(Vec::new()) });
        }
        let (min, max) = scan_bounds(&prefix, &after);
        let f = self.kv::<Vec<(String, String)>>(|s| &s.kv_scan, vec![min, max, arg(limit.to_string())]);
        Box::pin(async move { Ok(f.await?.into_iter().map(|(key, value)| KvEntry { key, value }).collect()) })
    }
}

impl LeaseBackend for RedisShared {
    fn acquire(&self, key: String, owner: String, ttl_ms: u64) -> BoxFuture<'static, Result<Option<Lease>, Error>> {
        let f = self.lease::<Option<(u64, i64)>>(
            |s| &s.lease_acquire,
            vec![arg(key.clone()), arg(owner.clone()), arg(ttl_ms.to_string())],
        );
        Box::pin(async move { Ok(f.await?.map(|(token, expires_at_ms)| Lease { key, owner, token, expires_at_ms })) })
    }
    fn renew(&self, lease: Lease, ttl_ms: u64) -> BoxFuture<'static, Result<Option<Lease>, Error>> {
        let args = vec![
            arg(lease.key.clone()),
            arg(lease.owner.clone()),
            arg(lease.token.to_string()),
            arg(ttl_ms.to_string()),
        ];
        let f = self.lease::<Option<i64>>(|s| &s.lease_renew, args);
        Box::pin(async move { Ok(f.await?.map(|expires_at_ms| Lease { expires_at_ms, ..lease })) })
    }
    fn release(&self, lease: Lease) -> BoxFuture<'static, Result<bool, Error>> {
        let args = vec![arg(lease.key), arg(lease.owner), arg(lease.token.to_string())];
        self.lease(|s| &s.lease_release, args)
    }
    fn current(&self, key: String) -> BoxFuture<'static, Result<Option<Lease>, Error>> {
        let f = self.lease::<Option<(String, u64, i64)>>(|s| &s.lease_current, vec![arg(key.clone())]);
        Box::pin(
            async move { Ok(f.await?.map(|(owner, token, expires_at_ms)| Lease { key, owner, token, expires_at_ms })) },
        )
    }
}

impl SharedState for RedisShared {
    fn release_owner(&self, owner: String) -> BoxFuture<'static, StoreResult<usize>> {
        let range = |separator: u8| {
            let from = [b"[", owner.as_bytes(), &[separator]].concat();
            let to = [b"[", owner.as_bytes(), &[separator, 0xFF]].concat();
            [from, to]
        };
        let [a, b] = range(0);
        let [c, d] = range(b'#');
        let f = self.invoke::<usize>(|s| &s.lease_release_owner, self.lease_keys.clone(), vec![a, b, c, d]);
        Box::pin(async move { f.await.map_err(StoreError::from) })
    }

    fn delete_tenant_keys(&self, tenant: String) -> BoxFuture<'static, StoreResult<u64>> {
        // Walk the key index in pages (no long-running script), pick `<plugin>/<tenant>/…`, and
        // forget those in batches.
        let this = self.clone();
        Box::pin(async move {
            let mut conn = this.conn.clone();
            let needle = format!("/{tenant}/");
            let mut min = b"-".to_vec();
            let mut deleted = 0u64;
            loop {
                let page: Vec<String> = redis::cmd("ZRANGEBYLEX")
                    .arg(&this.kv_keys[1])
                    .arg(min.as_slice())
                    .arg("+")
                    .arg("LIMIT")
                    .arg(0)
                    .arg(500)
                    .query_async(&mut conn)
                    .await
                    .map_err(|e| StoreError::from(classify(&this.target, e)))?;
                let Some(last) = page.last() else { break };
                min = [b"(", last.as_bytes()].concat();
                let doomed: Vec<Vec<u8>> = page
                    .iter()
                    .filter(|k| k.find('/').is_some_and(|i| k[i..].starts_with(&needle)))
                    .map(|k| arg(k.clone()))
                    .collect();
                if !doomed.is_empty() {
                    deleted += this.invoke::<u64>(|s| &s.kv_forget, this.kv_keys.clone(), doomed).await?;
                }
                if page.len() < 500 {
                    break;
                }
            }
            Ok(deleted)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_and_errors_never_carry_the_password() {
        assert_eq!(describe("redis://:s3cret-pw@cache.example:6380/2").as_deref(), Some("cache.example:6380/2"));
        assert_eq!(describe("redis://user:s3cret-pw@cache.example").as_deref(), Some("cache.example:6379/0"));
        assert_eq!(describe("http://nope"), None);
        assert!(!RedisStoreError::InvalidUrl.to_string().contains("s3cret"));
    }

    #[tokio::test]
    async fn a_tls_url_is_refused_with_a_clear_reason() {
        let refused = RedisShared::connect("rediss://:s3cret@cache.example:6380", RedisOptions::default()).await;
        let message = refused.err().expect("no TLS client").to_string();
        assert!(message.contains("rediss://") && !message.contains("s3cret"), "{message}");
    }

    #[test]
    fn scan_bounds_cover_exactly_the_prefix_after_the_cursor() {
        assert_eq!(scan_bounds("p:", ""), (b"[p:".to_vec(), [b"[p:".as_slice(), &[0xFF]].concat()));
        assert_eq!(scan_bounds("p:", "p:b").0, b"(p:b".to_vec());
        assert_eq!(scan_bounds("p:", "a").0, b"[p:".to_vec(), "a cursor before the prefix starts at it");
        assert_eq!(scan_bounds("", ""), (b"-".to_vec(), b"+".to_vec()));
    }
}

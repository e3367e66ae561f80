#!/usr/bin/env bash
# Makes sure the servers the backend conformance tests need are up: PostgreSQL on 127.0.0.1:5432
# (trust auth, database `test`) and Redis on 127.0.0.1:6379. This kind of machine starts both
# before a session; when one has stopped, start it the way the machine does, then check again and
# say clearly which one is missing.
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

if ! pg_up; then
  echo "PostgreSQL is not answering on 127.0.0.1:5432: starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start || true
fi
if ! redis_up; then
  echo "Redis is not answering on 127.0.0.1:6379: starting it"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log || true
fi

for _ in $(seq 1 30); do
  if pg_up && redis_up; then
    break
  fi
  sleep 1
done
pg_up || { echo "PostgreSQL is missing: the PostgreSQL backend tests cannot run" >&2; exit 1; }
redis_up || { echo "Redis is missing: the Redis backend tests cannot run" >&2; exit 1; }
psql -h 127.0.0.1 -U postgres -d test -qAtc 'SELECT 1' >/dev/null \
  || { echo "PostgreSQL answers but the database 'test' is not usable by user postgres" >&2; exit 1; }
echo "PostgreSQL and Redis are up"

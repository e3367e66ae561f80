#!/usr/bin/env bash
# Makes sure the PostgreSQL and Redis that the backend tests use are up on this machine: checks
# each, starts it with this machine kind's own command when it is down, waits (bounded) until it
# answers, and fails with one line naming the missing server otherwise. Idempotent.
# Tests read XPERT_TEST_DATABASE_URL (postgres://postgres@127.0.0.1:5432/test) and
# XPERT_TEST_REDIS_URL (redis://127.0.0.1:6379); set XPERT_SKIP_SERVER_TESTS=1 to skip them instead.
set -euo pipefail

pg_up() { pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

wait_for() { # name, check function
  for _ in $(seq 1 100); do
    if "$2"; then return 0; fi
    sleep 0.1
  done
  echo "$1 did not come up within 10 s" >&2
  return 1
}

if ! command -v pg_isready >/dev/null || ! command -v redis-cli >/dev/null; then
  echo "PostgreSQL or Redis client tools are missing (pg_isready, redis-cli): this machine kind has no servers" >&2
  exit 1
fi

if ! pg_up; then
  echo "PostgreSQL is down on 127.0.0.1:5432: starting it"
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | sort -V | tail -1)" main start
  wait_for "PostgreSQL on 127.0.0.1:5432" pg_up
fi
if ! psql -h 127.0.0.1 -U postgres -d test -Atqc 'SELECT 1' >/dev/null 2>&1; then
  echo "PostgreSQL answers on 127.0.0.1:5432 but the database test is not usable by postgres (trust auth)" >&2
  exit 1
fi

if ! redis_up; then
  echo "Redis is down on 127.0.0.1:6379: starting it"
  mkdir -p /var/lib/redis /var/log/redis
  redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_for "Redis on 127.0.0.1:6379" redis_up
fi

echo "PostgreSQL $(psql -h 127.0.0.1 -U postgres -d test -Atqc 'SHOW server_version') and Redis $(redis-cli -h 127.0.0.1 -p 6379 info server | sed -n 's/^redis_version:\(.*\)\r$/\1/p') are up"
